package rewrite

import (
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// GitLab CI: .gitlab-ci.yml and the local files it includes. image: (a
// string, or .name) and services: (strings, or .name) at the top level,
// under default:, and in every job (hidden .templates too).

const (
	KindGitLabImage   Kind = "gitlabImage"   // image:
	KindGitLabService Kind = "gitlabService" // services[]
)

// gitlabKeywords are top-level keys that are not jobs.
var gitlabKeywords = map[string]bool{
	"default": true, "include": true, "stages": true, "variables": true, "workflow": true,
	"image": true, "services": true, "cache": true, "before_script": true, "after_script": true, "spec": true,
}

func isGitLab(n fileName, c *Context) bool {
	if n.lower == ".gitlab-ci.yml" || n.lower == ".gitlab-ci.yaml" {
		return true
	}
	return c != nil && c.gitlab[n.path] && n.yaml
}

func (w *yamlWalk) gitlab(root *yaml.Node) {
	w.gitlabJob(root)
	_, def := w.field(root, "default")
	w.gitlabJob(def)
	for _, kv := range w.pairs(root) {
		if !gitlabKeywords[kv[0].Value] {
			if job := deref(kv[1]); job != nil && job.Kind == yaml.MappingNode {
				w.gitlabJob(job)
			}
		}
	}
}

// gitlabJob scans the image and services of a job (or of default:).
func (w *yamlWalk) gitlabJob(job *yaml.Node) {
	if deref(job) == nil || !w.once(job) {
		return
	}
	_, img := w.field(job, "image")
	w.gitlabSite(nameOf(w, img), KindGitLabImage)
	_, services := w.field(job, "services")
	for _, sv := range items(services, yaml.SequenceNode) {
		w.gitlabSite(nameOf(w, sv), KindGitLabService)
	}
}

// gitlabSite adds the site of v, once however many jobs merge it.
func (w *yamlWalk) gitlabSite(v *yaml.Node, kind Kind) {
	if t := deref(v); t != nil && w.once(t) {
		w.add(w.site(v, kind))
	}
}

// nameOf is v, or its name: when v is a mapping ({name: image, entrypoint: ...}).
func nameOf(w *yamlWalk, v *yaml.Node) *yaml.Node {
	if t := deref(v); t != nil && t.Kind == yaml.MappingNode {
		_, n := w.field(t, "name")
		return n
	}
	return v
}
