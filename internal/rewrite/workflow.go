package rewrite

import (
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

const dockerScheme = "docker://"

// uses scans a step's "uses: docker://image".
func (w *yamlWalk) uses(step *yaml.Node, kind Kind) {
	_, u := w.field(step, "uses")
	if t := deref(u); t != nil && t.Kind == yaml.ScalarNode && strings.HasPrefix(t.Value, dockerScheme) {
		w.add(w.siteText(u, kind, dockerScheme))
	}
}

// workflow scans a GitHub Actions workflow: jobs.*.container (a string or
// .image), jobs.*.services.* (a string or .image) and steps[].uses: docker://
// for images; jobs.*.uses and steps[].uses naming a repository's action or
// workflow by ref.
func (w *yamlWalk) workflow(root *yaml.Node) {
	_, jobs := w.field(root, "jobs")
	for _, kv := range w.pairs(jobs) {
		job := kv[1]
		_, c := w.field(job, "container")
		if t := deref(c); t != nil && t.Kind == yaml.MappingNode {
			_, c = w.field(t, "image")
		}
		w.add(w.site(c, KindWorkflowContainer))
		_, services := w.field(job, "services")
		for _, sv := range w.pairs(services) {
			img := sv[1] // services.<name>: <image>, or .image
			if t := deref(img); t == nil || t.Kind != yaml.ScalarNode {
				_, img = w.field(sv[1], "image")
			}
			w.add(w.site(img, KindWorkflowService))
		}
		w.usesOf(job, UseReusable)
		_, steps := w.field(job, "steps")
		for _, st := range items(steps, yaml.SequenceNode) {
			w.uses(st, KindWorkflowStep)
			w.usesOf(st, UseStep)
		}
	}
}

// action scans a GitHub Action's metadata: runs.image: docker://image and
// the steps of a composite action.
func (w *yamlWalk) action(root *yaml.Node) {
	_, runs := w.field(root, "runs")
	_, img := w.field(runs, "image")
	if t := deref(img); t != nil && t.Kind == yaml.ScalarNode && strings.HasPrefix(t.Value, dockerScheme) {
		w.add(w.siteText(img, KindAction, dockerScheme))
	}
	_, steps := w.field(runs, "steps")
	for _, st := range items(steps, yaml.SequenceNode) {
		w.uses(st, KindWorkflowStep)
		w.usesOf(st, UseStep)
	}
}
