package rewrite

import (
	"github.com/pinbot/pinbot/internal/imageref"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// ReasonNewNameTag is a kustomization images[] entry whose newName names a
// tag or digest: kustomize wants those in newTag and digest.
const ReasonNewNameTag = "newName carries a tag or digest: kustomize reads them from newTag and digest"

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
		if r, err := imageref.Parse(w.str(e, "newName")); err == nil && (r.Tag != "" || r.Digest != "") {
			s := &Site{Kind: KindKustomize, Written: repo, Line: nameV.Line, Column: nameV.Column}
			s.skip(ReasonNewNameTag)
			w.add(s)
			continue
		}
		if tagK == nil || t == nil || t.Kind != yaml.ScalarNode || t.Value == "" {
			s := &Site{Kind: KindKustomize, Written: repo, Line: nameV.Line, Column: nameV.Column}
			if d := w.str(e, "digest"); d != "" {
				// pinned by digest alone: nothing to follow, nothing to renew
				s.Written += "@" + d
				s.parse(w.f)
			} else {
				s.skip(ReasonNoNewTag)
			}
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
		k := &digestKey{flow: e.Style&yaml.FlowStyle != 0}
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
		s.digestKey = k
	}
	// helmCharts[].valuesInline: values for the charts kustomize inflates
	_, charts := w.field(root, "helmCharts")
	for _, c := range items(charts, yaml.SequenceNode) {
		if _, vi := w.field(c, "valuesInline"); deref(vi) != nil && deref(vi).Kind == yaml.MappingNode {
			w.values(vi, nil)
		}
	}
}
