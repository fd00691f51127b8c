package rewrite

import "sigs.k8s.io/kustomize/kyaml/yaml"

// compose scans services.*.image of a compose file.
func (w *yamlWalk) compose(root *yaml.Node) {
	_, services := w.field(root, "services")
	for _, kv := range w.pairs(services) {
		svc := kv[1]
		_, img := w.field(svc, "image")
		s := w.site(img, KindCompose)
		if s == nil {
			continue
		}
		if k, _ := w.field(svc, "build"); k != nil {
			s.skip(ReasonBuild)
		}
		w.add(s)
	}
}
