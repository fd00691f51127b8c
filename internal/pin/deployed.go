package pin

import (
	"bytes"
	"errors"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/pinbot/pinbot/internal/rewrite"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// A chart is judged under the configuration that deploys it: an Argo CD
// Application or a Flux HelmRelease of the checkout whose source is the
// chart's own directory is one more values set, its values as it gives
// them to Helm (Argo CD: helm.valueFiles, values, valuesObject and
// parameters, in that order; Flux: the chart's valuesFiles, then values).

// deployment is a values set a GitOps resource of the checkout deploys a
// chart with.
type deployment struct {
	name   string // "Application deploy/app.yaml:3"
	values map[string]any
}

// deployments finds the GitOps resources of the checkout that deploy the
// chart in directory dir (files: the chart's, by path in the chart).
func (r *run) deployments(dir string, files map[string][]byte) []deployment {
	var out []deployment
	for _, o := range r.gitOpsObjects() {
		out = append(out, deploymentsOf(o.obj, dir, files, o.at)...)
	}
	return out
}

// gitOpsObject is an Argo CD Application or a Flux HelmRelease of the
// checkout, and where it is ("deploy/app.yaml:3").
type gitOpsObject struct {
	obj map[string]any
	at  string
}

// mayDeploy tells a manifest that may hold an Argo CD Application or a Flux
// HelmRelease: the only files, beside the charts' own, whose bytes judging
// the charts reads after the scan.
func mayDeploy(f *rewrite.File) bool {
	d := f.Data
	return f.Format == rewrite.FormatManifest && bytes.Contains(d, []byte("kind:")) &&
		(bytes.Contains(d, []byte("argoproj.io")) || bytes.Contains(d, []byte("helm.toolkit.fluxcd.io"))) &&
		(bytes.Contains(d, []byte("Application")) || bytes.Contains(d, []byte("HelmRelease")))
}

// gitOpsObjects are the checkout's Argo CD Applications and Flux
// HelmReleases, read once for every chart of the run (a repository's
// install manifests, CRDs included, name argoproj.io many times over).
func (r *run) gitOpsObjects() []gitOpsObject {
	r.gitOpsOnce.Do(func() {
		for _, fr := range r.files {
			f := fr.file
			if f == nil || !fr.deploys {
				continue
			}
			d := yaml.NewDecoder(bytes.NewReader(f.Data))
			for {
				var doc yaml.Node
				err := d.Decode(&doc)
				if errors.Is(err, io.EOF) || err != nil {
					break
				}
				var head struct {
					Kind string `yaml:"kind"`
				}
				if doc.Decode(&head) != nil || (head.Kind != "Application" && head.Kind != "HelmRelease") {
					continue
				}
				var obj map[string]any
				if doc.Decode(&obj) != nil {
					continue
				}
				line := 1
				if len(doc.Content) > 0 {
					line = doc.Content[0].Line
				}
				r.gitOps = append(r.gitOps, gitOpsObject{obj, f.Path + ":" + strconv.Itoa(line)})
			}
		}
	})
	return r.gitOps
}

// deploymentsOf are the values sets one object deploys chart dir with.
func deploymentsOf(obj map[string]any, dir string, files map[string][]byte, at string) []deployment {
	kind, _ := obj["kind"].(string)
	api, _ := obj["apiVersion"].(string)
	spec, _ := obj["spec"].(map[string]any)
	var out []deployment
	switch {
	case kind == "Application" && strings.HasPrefix(api, "argoproj.io/"):
		var sources []any
		if s, ok := spec["source"].(map[string]any); ok {
			sources = append(sources, s)
		}
		if ss, ok := spec["sources"].([]any); ok {
			sources = append(sources, ss...)
		}
		for _, s := range sources {
			src, _ := s.(map[string]any)
			if p, _ := src["path"].(string); src == nil || src["chart"] != nil || cleanDir(p) != dir {
				continue
			}
			helm, _ := src["helm"].(map[string]any)
			vals := map[string]any{}
			if vfs, ok := helm["valueFiles"].([]any); ok {
				for _, vf := range vfs {
					name, _ := vf.(string)
					if name == "" || strings.HasPrefix(name, "$") || strings.Contains(name, "://") {
						continue
					}
					merge(vals, loadValues(files[path.Clean(name)]))
				}
			}
			if s, ok := helm["values"].(string); ok {
				merge(vals, loadValues([]byte(s)))
			}
			if m, ok := helm["valuesObject"].(map[string]any); ok {
				merge(vals, m)
			}
			if ps, ok := helm["parameters"].([]any); ok {
				for _, p := range ps {
					pm, _ := p.(map[string]any)
					name, _ := pm["name"].(string)
					value, _ := pm["value"].(string)
					if name != "" && !strings.ContainsAny(name, "[]\\") {
						set(vals, strings.Split(name, "."), setValue(value))
					}
				}
			}
			out = append(out, deployment{name: "Application " + at, values: vals})
		}
	case kind == "HelmRelease" && strings.HasPrefix(api, "helm.toolkit.fluxcd.io/"):
		ch, _ := spec["chart"].(map[string]any)
		cs, _ := ch["spec"].(map[string]any)
		name, _ := cs["chart"].(string)
		ref, _ := cs["sourceRef"].(map[string]any)
		if k, _ := ref["kind"].(string); k != "GitRepository" || cleanDir(name) != dir {
			return nil
		}
		vals := map[string]any{}
		if vfs, ok := cs["valuesFiles"].([]any); ok {
			for _, vf := range vfs {
				if name, _ := vf.(string); name != "" {
					// chart-relative or repository-relative, as Flux reads it
					name = strings.TrimPrefix(path.Clean(name), dir+"/")
					merge(vals, loadValues(files[name]))
				}
			}
		}
		if m, ok := spec["values"].(map[string]any); ok {
			merge(vals, m)
		}
		out = append(out, deployment{name: "HelmRelease " + at, values: vals})
	}
	return out
}

// cleanDir is a chart path as written in a GitOps resource ("./charts/app/")
// as pinbot names directories ("charts/app").
func cleanDir(p string) string {
	if p == "" {
		return "\x00" // no path is no directory
	}
	return path.Clean(strings.TrimPrefix(p, "./"))
}

// merge lays src over dst as Helm does values files: maps merge, the rest
// is replaced.
func merge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// setValue reads a --set value as Helm does its plainest forms: true,
// false and integers are not strings.
func setValue(s string) any {
	if b, err := strconv.ParseBool(s); err == nil && (s == "true" || s == "false") {
		return b
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	return s
}

// set sets the value at keys, making the maps on the way (helm --set).
func set(m map[string]any, keys []string, value any) {
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = value
}
