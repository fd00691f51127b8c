package rewrite

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Reasons a site is left alone.
const (
	ReasonVariable   = "built from a variable or template"
	ReasonIgnored    = "marked # pinbot:ignore"
	ReasonBuild      = "names the image its service builds (build:)"
	ReasonNoNewTag   = "no newTag: the tag comes from the manifests"
	ReasonUneditable = "written in a form pinbot does not edit in place"
	ReasonScratch    = "scratch is no image"
)

// scanYAML decodes every document of the file and hands each to the scanner
// of the file's format.
func (f *File) scanYAML() error {
	dec := yaml.NewDecoder(bytes.NewReader(f.Data))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return parseError(err)
		}
		if err := duplicateKeys(&doc, 0); err != nil {
			return err
		}
		docs = append(docs, &doc)
	}
	w := &yamlWalk{f: f, seen: map[*yaml.Node]bool{}}
	for _, doc := range docs {
		if len(doc.Content) == 0 {
			continue
		}
		root := deref(doc.Content[0])
		if root == nil || root.Kind != yaml.MappingNode {
			continue
		}
		switch f.Format {
		case FormatCompose:
			w.compose(root)
		case FormatWorkflow:
			w.workflow(root)
		case FormatAction:
			w.action(root)
		case FormatKustomization:
			w.kustomization(root)
		default:
			w.object(root)
		}
	}
	return nil
}

// duplicateKeys rejects a mapping that names a key twice: Kubernetes and
// compose refuse such a file, and which value counts is anyone's guess.
func duplicateKeys(n *yaml.Node, depth int) error {
	if n == nil || depth > 1000 {
		return nil
	}
	if n.Kind == yaml.MappingNode {
		seen := make(map[string]int, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				continue
			}
			if first, dup := seen[k.Value]; dup {
				return &ParseError{Line: k.Line, Msg: fmt.Sprintf("mapping key %q already defined at line %d", k.Value, first)}
			}
			seen[k.Value] = k.Line
		}
	}
	for _, c := range n.Content {
		if err := duplicateKeys(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

type yamlWalk struct {
	f    *File
	seen map[*yaml.Node]bool // mappings already scanned (reached again through an alias)
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// field finds key in mapping m, then in the mappings it merges ("<<: *base").
func field(m *yaml.Node, key string) (k, v *yaml.Node) {
	m = deref(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn := m.Content[i]
		switch {
		case kn.Value == key && kn.Kind == yaml.ScalarNode:
			return kn, m.Content[i+1]
		case kn.Value == "<<" && kn.Kind == yaml.ScalarNode && kn.Tag == "!!merge":
			mv := deref(m.Content[i+1])
			if mv != nil && mv.Kind == yaml.SequenceNode {
				merges = append(merges, mv.Content...)
			} else {
				merges = append(merges, mv)
			}
		}
	}
	for _, mm := range merges {
		if k, v := field(mm, key); k != nil {
			return k, v
		}
	}
	return nil, nil
}

// str is the value of a plain string scalar field, or "".
func str(m *yaml.Node, key string) string {
	_, v := field(m, key)
	v = deref(v)
	if v == nil || v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
		return ""
	}
	return v.Value
}

func items(n *yaml.Node, kind yaml.Kind) []*yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != kind {
		return nil
	}
	return n.Content
}

// pairs are the key/value pairs of a mapping, merged ones included.
func pairs(m *yaml.Node) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	seen := map[string]bool{}
	var walk func(m *yaml.Node, depth int)
	walk = func(m *yaml.Node, depth int) {
		m = deref(m)
		if m == nil || m.Kind != yaml.MappingNode || depth > 10 {
			return
		}
		var merges []*yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			k := m.Content[i]
			if k.Tag == "!!merge" {
				mv := deref(m.Content[i+1])
				if mv != nil && mv.Kind == yaml.SequenceNode {
					merges = append(merges, mv.Content...)
				} else {
					merges = append(merges, mv)
				}
				continue
			}
			if !seen[k.Value] {
				seen[k.Value] = true
				out = append(out, [2]*yaml.Node{k, m.Content[i+1]})
			}
		}
		for _, mm := range merges {
			walk(mm, depth+1)
		}
	}
	walk(m, 0)
	return out
}

// locate finds a scalar's characters in the file: the content span, inside
// any quotes, and the offset just past the scalar (past a closing quote).
func (f *File) locate(n *yaml.Node) (sp span, after int, err error) {
	off, ok := f.src.offset(n.Line, n.Column)
	if !ok {
		return span{}, 0, fmt.Errorf("position %d:%d is outside the file", n.Line, n.Column)
	}
	d := f.src.data
	// An anchor or a tag comes before the scalar itself: &img !!str nginx
	for off < len(d) && (d[off] == '&' || d[off] == '!') {
		for off < len(d) && !isSpace(d[off]) {
			off++
		}
		for off < len(d) && (isSpace(d[off]) || d[off] == '\n' || d[off] == '\r') {
			off++
		}
	}
	v := n.Value
	switch {
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return span{}, 0, errors.New("a block scalar")
	case n.Style&yaml.SingleQuotedStyle != 0:
		text := strings.ReplaceAll(v, "'", "''")
		end := off + 1 + len(text)
		if off >= len(d) || d[off] != '\'' || end >= len(d) || string(d[off+1:end]) != text || d[end] != '\'' {
			return span{}, 0, errors.New("a quoted scalar spread over lines")
		}
		return span{start: off + 1, end: end, valid: true}, end + 1, nil
	case n.Style&yaml.DoubleQuotedStyle != 0:
		end := off + 1 + len(v)
		if strings.ContainsAny(v, "\"\\") || off >= len(d) || d[off] != '"' || end >= len(d) || string(d[off+1:end]) != v || d[end] != '"' {
			return span{}, 0, errors.New("a quoted scalar with escapes or spread over lines")
		}
		return span{start: off + 1, end: end, valid: true}, end + 1, nil
	default:
		end := off + len(v)
		if end > len(d) || string(d[off:end]) != v {
			return span{}, 0, errors.New("a plain scalar spread over lines")
		}
		return span{start: off, end: end, valid: true}, end, nil
	}
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' }

// valueEnd is the offset just past value node v as written where it stands:
// past the alias name for "*img", else past the scalar.
func (f *File) valueEnd(v *yaml.Node) (int, bool) {
	if v.Kind == yaml.AliasNode {
		off, ok := f.src.offset(v.Line, v.Column)
		if !ok || off >= len(f.src.data) || f.src.data[off] != '*' {
			return 0, false
		}
		end := off + 1 + len(v.Value)
		return end, end <= len(f.src.data) && string(f.src.data[off+1:end]) == v.Value
	}
	_, after, err := f.locate(v)
	return after, err == nil
}

// site makes the site for scalar value node v (perhaps an alias). It returns
// nil when v is no string at all.
func (w *yamlWalk) site(v *yaml.Node, kind Kind) *Site {
	return w.siteText(v, kind, "")
}

// siteText is site for a value that starts with prefix ("docker://").
func (w *yamlWalk) siteText(v *yaml.Node, kind Kind, prefix string) *Site {
	t := deref(v)
	if t == nil || t.Kind != yaml.ScalarNode || t.Value == "" || t.Tag == "!!null" {
		return nil
	}
	s := &Site{Kind: kind, Written: strings.TrimPrefix(t.Value, prefix), Line: t.Line, Column: t.Column}
	if t.Tag != "!!str" {
		s.skip("not a string (YAML reads it as " + strings.TrimPrefix(t.Tag, "!!") + ")")
		return s
	}
	sp, _, err := w.f.locate(t)
	if err != nil {
		s.skip(ReasonUneditable + ": " + err.Error())
	} else {
		sp.start += len(prefix)
		s.ref = sp
		s.Line, s.Column = w.f.src.lineOf(sp.start), w.f.src.columnOf(sp.start)
	}
	if w.f.src.ignored(s.Line) || (v.Kind == yaml.AliasNode && w.f.src.ignored(v.Line)) {
		s.skip(ReasonIgnored)
	}
	s.parse()
	return s
}

func (w *yamlWalk) add(s *Site) {
	if s != nil {
		w.f.Sites = append(w.f.Sites, s)
	}
}

// once reports whether mapping m is seen for the first time.
func (w *yamlWalk) once(m *yaml.Node) bool {
	m = deref(m)
	if m == nil || w.seen[m] {
		return false
	}
	w.seen[m] = true
	return true
}

// blockSlot computes where a new key goes in a block mapping: on the line
// after value node v, indented like key node k.
func (w *yamlWalk) blockSlot(k, v *yaml.Node) (lineEnd int, eol, indent string, ok bool) {
	end, ok := w.f.valueEnd(v)
	if !ok {
		return 0, "", "", false
	}
	lineEnd, eol = w.f.src.lineEnd(end)
	kOff, ok := w.f.src.offset(k.Line, k.Column)
	if !ok {
		return 0, "", "", false
	}
	lineStart := w.f.src.lines[k.Line-1]
	var b strings.Builder
	for _, c := range w.f.src.data[lineStart:kOff] {
		if c == '\t' {
			b.WriteByte('\t')
		} else if c < 0x80 || c >= 0xC0 { // one column per character
			b.WriteByte(' ')
		}
	}
	return lineEnd, eol, b.String(), true
}
