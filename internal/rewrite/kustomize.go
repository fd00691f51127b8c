package rewrite

import "sigs.k8s.io/kustomize/kyaml/yaml"

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
