package rewrite

import (
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

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

const dockerScheme = "docker://"

// uses scans a step's "uses: docker://image".
func (w *yamlWalk) uses(step *yaml.Node, kind Kind) {
	_, u := w.field(step, "uses")
	if t := deref(u); t != nil && t.Kind == yaml.ScalarNode && strings.HasPrefix(t.Value, dockerScheme) {
		w.add(w.siteText(u, kind, dockerScheme))
	}
}

// workflow scans a GitHub Actions workflow: jobs.*.container (a string or
// .image), jobs.*.services.*.image and steps[].uses: docker://.
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
			_, img := w.field(sv[1], "image")
			w.add(w.site(img, KindWorkflowService))
		}
		_, steps := w.field(job, "steps")
		for _, st := range items(steps, yaml.SequenceNode) {
			w.uses(st, KindWorkflowStep)
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
	}
}

// kustomization scans images[]: an entry with newTag resolves (newName or
// name):newTag and keeps the digest in its digest field.
func (w *yamlWalk) kustomization(root *yaml.Node) {
	_, images := w.field(root, "images")
	for _, e := range items(images, yaml.SequenceNode) {
		if !w.once(e) {
			continue
		}
		e = deref(e)
		nameK, nameV := w.field(e, "name")
		tagK, tagV := w.field(e, "newTag")
		if nameK == nil {
			continue
		}
		repo := w.str(e, "newName")
		if repo == "" {
			repo = deref(nameV).Value
		}
		t := deref(tagV)
		if tagK == nil || t == nil || t.Kind != yaml.ScalarNode || t.Value == "" {
			s := &Site{Kind: KindKustomize, Written: repo, Line: nameV.Line, Column: nameV.Column}
			s.skip(ReasonNoNewTag)
			w.add(s)
			continue
		}
		s := &Site{Kind: KindKustomize, Written: repo + ":" + t.Value, Line: t.Line, Column: t.Column}
		digestK, digestV := w.field(e, "digest")
		if d := deref(digestV); digestK != nil && d != nil && d.Value != "" {
			s.Written += "@" + d.Value
		}
		if w.f.src.ignored(nameK.Line) || w.f.src.ignored(t.Line) {
			s.skip(ReasonIgnored)
		}
		s.parse(w.f)
		w.add(s)
		if !s.Pinnable() {
			continue
		}
		k := &kustEntry{flow: e.Style&yaml.FlowStyle != 0}
		ok := true
		switch {
		case digestK != nil:
			k.hasDigest = true
			if digestV.Kind != yaml.ScalarNode || digestV.Value == "" {
				ok = false
				break
			}
			var err error
			k.digest, _, err = w.f.locate(digestV)
			ok = err == nil
		case k.flow:
			k.after, ok = w.f.valueEnd(tagV)
		default:
			k.lineEnd, k.eol, k.indent, ok = w.blockSlot(tagK, tagV)
		}
		if !ok {
			s.skip(ReasonUneditable)
			continue
		}
		s.kustomize = k
	}
}
