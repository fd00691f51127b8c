package rewrite

import (
	"bytes"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// GitOps resources carry Helm values (and kustomize image overrides) for
// the charts they deploy: Argo CD Applications and ApplicationSets, Flux
// HelmReleases. Their values are read with the rules of chart values.

const (
	KindArgoKustomize Kind = "argoKustomizeImage" // Argo CD spec.source.kustomize.images[]
)

// gitops scans an object of a GitOps kind, and reports whether it was one.
func (w *yamlWalk) gitops(root *yaml.Node, apiVersion, kind string) bool {
	g := group(apiVersion)
	switch {
	case g == "argoproj.io" && kind == "Application":
		_, spec := w.field(root, "spec")
		w.argoSources(spec)
	case g == "argoproj.io" && kind == "ApplicationSet":
		_, spec := w.field(root, "spec")
		_, tmpl := w.field(spec, "template")
		_, tspec := w.field(tmpl, "spec")
		w.argoSources(tspec)
	case g == "helm.toolkit.fluxcd.io" && kind == "HelmRelease":
		_, spec := w.field(root, "spec")
		if _, v := w.field(spec, "values"); deref(v) != nil && deref(v).Kind == yaml.MappingNode {
			w.values(v, nil)
		}
	default:
		return false
	}
	return true
}

// argoSources scans spec.source and spec.sources[] of an Argo CD
// Application (or an ApplicationSet's template).
func (w *yamlWalk) argoSources(spec *yaml.Node) {
	var sources []*yaml.Node
	if _, s := w.field(spec, "source"); s != nil {
		sources = append(sources, s)
	}
	_, list := w.field(spec, "sources")
	sources = append(sources, items(list, yaml.SequenceNode)...)
	for _, src := range sources {
		if !w.once(src) {
			continue
		}
		_, helm := w.field(src, "helm")
		if _, vo := w.field(helm, "valuesObject"); deref(vo) != nil && deref(vo).Kind == yaml.MappingNode {
			w.values(vo, nil)
		}
		if _, vs := w.field(helm, "values"); vs != nil {
			w.embedded(vs, func(sub *yamlWalk, root *yaml.Node) { sub.values(root, nil) })
		}
		_, kust := w.field(src, "kustomize")
		_, images := w.field(kust, "images")
		for _, img := range items(images, yaml.SequenceNode) {
			w.argoImage(img)
		}
	}
}

// argoImage is one kustomize.images entry: "[name=]newName[:tag][@digest]";
// the reference is what follows "=".
func (w *yamlWalk) argoImage(v *yaml.Node) {
	t := deref(v)
	if t == nil || t.Kind != yaml.ScalarNode || t.Tag != "!!str" || t.Value == "" {
		return
	}
	prefix := ""
	if i := strings.IndexByte(t.Value, '='); i >= 0 {
		prefix = t.Value[:i+1]
	}
	w.add(w.siteText(v, KindArgoKustomize, prefix))
}

// embedded scans a YAML document held in a literal block scalar (Argo CD's
// helm.values: |) with scan, and splices its sites into the string's lines:
// each line of the string is a line of the file, indented.
func (w *yamlWalk) embedded(v *yaml.Node, scan func(sub *yamlWalk, root *yaml.Node)) {
	t := deref(v)
	if t == nil || t.Kind != yaml.ScalarNode || t.Tag != "!!str" || strings.TrimSpace(t.Value) == "" {
		return
	}
	bm, ok := w.blockLines(v)
	sub := &File{Path: w.f.Path, Format: w.f.Format, Data: []byte(t.Value), cx: w.f.cx, parsed: w.f.parsed}
	sub.src = newSource(sub.Data)
	sw := &yamlWalk{f: sub, ctx: w.ctx, budget: w.budget - w.steps}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(sub.Data)).Decode(&doc); err != nil || len(doc.Content) == 0 {
		return // not YAML: a template, say; Argo CD would say so
	}
	root := deref(doc.Content[0])
	if root == nil || root.Kind != yaml.MappingNode {
		return
	}
	if duplicateKeys(&doc, 0, &sw.keys) != nil {
		return
	}
	scan(sw, root)
	w.steps += sw.steps
	for _, s := range sub.Sites {
		if !ok || !bm.translate(s, w.f) {
			s.Line, s.Column = t.Line, t.Column
			s.ref, s.container, s.digestKey = span{}, nil, nil
			s.skip(ReasonUneditable + ": a YAML document in a string that is not a literal block")
		}
		if w.f.src.ignored(s.Line) {
			s.skip(ReasonIgnored)
		}
		w.add(s)
	}
}

// blockMap maps the lines of a literal block scalar's value to the file's.
type blockMap struct {
	first  int // the file's line of the value's line 1
	indent int // bytes of indentation stripped from each line
	sub    *source
}

// blockLines checks that v is a literal block scalar whose value is the
// file's lines below the indicator with one indentation stripped.
func (w *yamlWalk) blockLines(v *yaml.Node) (*blockMap, bool) {
	if v.Kind != yaml.ScalarNode || v.Style&yaml.LiteralStyle == 0 {
		return nil, false
	}
	src := w.f.src
	value := strings.Split(strings.TrimRight(v.Value, "\n"), "\n")
	bm := &blockMap{first: v.Line + 1, indent: -1, sub: newSource([]byte(v.Value))}
	for i, want := range value {
		got := string(src.text(bm.first + i))
		if want == "" {
			if strings.TrimSpace(got) != "" {
				return nil, false
			}
			continue
		}
		if bm.indent < 0 {
			bm.indent = len(got) - len(strings.TrimLeft(got, " "))
		}
		if len(got) < bm.indent || strings.TrimLeft(got[:bm.indent], " ") != "" || got[bm.indent:] != want {
			return nil, false
		}
	}
	return bm, bm.indent > 0
}

// offset maps an offset of the value to the file's.
func (bm *blockMap) offset(off int, f *File) (int, bool) {
	line := bm.sub.lineOf(off)
	col := off - bm.sub.lines()[line-1]
	if line-1+bm.first > len(f.src.lines()) {
		return 0, false
	}
	return f.src.lines()[bm.first+line-2] + bm.indent + col, true
}

// translate moves a site found in the value into the file: its spans. A
// site that would add a field is not moved (false).
func (bm *blockMap) translate(s *Site, f *File) bool {
	ok := true
	mapSpan := func(sp *span) {
		if !sp.valid {
			return
		}
		start, ok1 := bm.offset(sp.start, f)
		end, ok2 := bm.offset(sp.end, f)
		ok = ok && ok1 && ok2
		sp.start, sp.end = start, end
	}
	mapSpan(&s.ref)
	if c := s.container; c != nil {
		if !c.hasPolicy {
			return false // a field added inside a string: not done
		}
		mapSpan(&c.policy)
	}
	if k := s.digestKey; k != nil {
		if !k.hasDigest {
			return false
		}
		mapSpan(&k.digest)
	}
	if !ok {
		return false
	}
	anchor := s.ref.start
	if !s.ref.valid {
		line := bm.first + s.Line - 1
		s.Line, s.Column = line, s.Column+bm.indent
		return true
	}
	s.Line, s.Column = f.src.lineOf(anchor), f.src.columnOf(anchor)
	return true
}
