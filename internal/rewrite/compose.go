package rewrite

import (
	"regexp"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// composeTopLevel are the keys of a compose file that are not services in
// the version 1 layout (services at the top level).
var composeTopLevel = map[string]bool{
	"version": true, "name": true, "services": true, "networks": true, "volumes": true,
	"configs": true, "secrets": true, "include": true, "models": true,
}

// compose scans services.*.image of a compose file, or, in the version 1
// layout (no services: key), the services at the top level.
func (w *yamlWalk) compose(root *yaml.Node) {
	services := root
	if k, s := w.field(root, "services"); k != nil {
		services = s
	}
	for _, kv := range w.pairs(services) {
		if services == root && (composeTopLevel[kv[0].Value] || strings.HasPrefix(kv[0].Value, "x-")) {
			continue
		}
		svc := kv[1]
		_, img := w.field(svc, "image")
		s := w.composeImage(img)
		if s == nil {
			continue
		}
		if k, _ := w.field(svc, "build"); k != nil {
			s.skip(ReasonBuild)
		}
		w.add(s)
	}
}

// defaultRE is "${VAR:-default}" or "${VAR-default}": the default, when
// it holds no variable of its own, is a reference to pin inside it.
var defaultRE = regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^${}]+)\}$`)

// composeImage is the site of a service's image: the whole value, or the
// default inside a variable with one.
func (w *yamlWalk) composeImage(v *yaml.Node) *Site {
	t := deref(v)
	if t != nil && t.Kind == yaml.ScalarNode && t.Tag == "!!str" {
		if m := defaultRE.FindStringSubmatchIndex(t.Value); m != nil {
			return w.siteSub(v, KindCompose, m[2], m[3])
		}
	}
	return w.site(v, KindCompose)
}
