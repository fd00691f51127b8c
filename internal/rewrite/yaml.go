package rewrite

import (
	"bytes"
	"context"
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

// A scan's budget: the steps (nodes and mapping entries visited) a file may
// cost per byte before it is given up as too complex, plus a floor for tiny
// files. Every node is visited once however many aliases reach it, so an
// honest file costs a few steps per node; only a crafted one gets near this.
const (
	stepsPerByte = 16
	stepsFloor   = 1 << 16
)

// walkAbort carries what ends a walk from deep inside it: a file over its
// budget (ErrTooComplex) or a cancelled context.
type walkAbort struct{ err error }

// scanYAML decodes the file's documents one at a time, hands each to the
// scanner of the file's format and lets it go: memory follows the largest
// document, not the file.
func (f *File) scanYAML(ctx context.Context) (err error) {
	w := &yamlWalk{f: f, ctx: ctx, budget: stepsFloor + stepsPerByte*len(f.Data)}
	defer func() {
		if r := recover(); r != nil {
			a, ok := r.(walkAbort)
			if !ok {
				panic(r)
			}
			f.Sites = nil
			err = a.err
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(f.Data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			f.Sites = nil
			return parseError(err, f.Data)
		}
		if err := w.document(&doc); err != nil {
			return err
		}
	}
}

// document hands one document to the scanner of the file's format.
func (w *yamlWalk) document(doc *yaml.Node) error {
	w.keys = nil
	if err := duplicateKeys(doc, 0, &w.keys); err != nil {
		w.f.Sites = nil
		return err
	}
	if len(doc.Content) == 0 {
		return nil
	}
	w.seen = map[*yaml.Node]bool{} // aliases never cross documents
	root := deref(doc.Content[0])
	if root == nil || root.Kind != yaml.MappingNode {
		return nil
	}
	if fd := finderOf(w.f.Format); fd != nil && fd.walk != nil {
		fd.walk(w, root)
	}
	return nil
}

// duplicateKeys rejects a mapping that names a key twice: Kubernetes and
// compose refuse such a file, and which value counts is anyone's guess. It
// records the keys that carry an anchor: an alias may make one a value.
func duplicateKeys(n *yaml.Node, depth int, anchoredKeys *map[*yaml.Node]bool) error {
	if n == nil || depth > 1000 {
		return nil
	}
	if n.Kind == yaml.MappingNode {
		seen := map[string]int{} // the keys so far, and their lines
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if !plainKey(k) {
				continue
			}
			if k.Anchor != "" {
				if *anchoredKeys == nil {
					*anchoredKeys = map[*yaml.Node]bool{}
				}
				(*anchoredKeys)[k] = true
			}
			if first, dup := seen[k.Value]; dup {
				return &ParseError{Line: k.Line, Msg: fmt.Sprintf("mapping key %q already defined at line %d", k.Value, first)}
			}
			seen[k.Value] = k.Line
		}
	}
	for _, c := range n.Content {
		if err := duplicateKeys(c, depth+1, anchoredKeys); err != nil {
			return err
		}
	}
	return nil
}

// plainKey reports whether mapping key k is a scalar that is no merge key:
// one that duplicateKeys compares.
func plainKey(k *yaml.Node) bool { return k.Kind == yaml.ScalarNode && k.Tag != "!!merge" }

type yamlWalk struct {
	f      *File
	ctx    context.Context
	seen   map[*yaml.Node]bool // collections already scanned (reached again through an alias)
	keys   map[*yaml.Node]bool // mapping keys with an anchor
	steps  int
	budget int
}

// ErrTooComplex is a file whose scan would cost more than its budget: a web
// of aliases or merge keys built to make a walk explode.
var ErrTooComplex = errors.New("too complex to scan: aliases or merge keys reach more nodes than the file's budget allows")

// tick counts one step of the walk, and ends the walk when the budget is
// spent or the context is done.
func (w *yamlWalk) tick() {
	w.steps++
	if w.steps > w.budget {
		panic(walkAbort{&ParseError{Msg: ErrTooComplex.Error(), Err: ErrTooComplex}})
	}
	if w.steps&1023 == 0 && w.ctx != nil {
		if err := w.ctx.Err(); err != nil {
			panic(walkAbort{err})
		}
	}
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// mergeSources are the mappings m merges ("<<: *base", "<<: [*a, *b]"), in
// order of precedence.
func mergeSources(m *yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn := m.Content[i]
		if kn.Kind == yaml.ScalarNode && kn.Tag == "!!merge" {
			mv := deref(m.Content[i+1])
			if mv != nil && mv.Kind == yaml.SequenceNode {
				out = append(out, mv.Content...)
			} else {
				out = append(out, mv)
			}
		}
	}
	return out
}

// hasMerge reports whether mapping m has a merge key.
func hasMerge(m *yaml.Node) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			return true
		}
	}
	return false
}

// mappings are m and the mappings it merges, transitively, each once, in
// order of precedence (depth first, as YAML's merge key orders them).
func (w *yamlWalk) mappings(m *yaml.Node) []*yaml.Node {
	m = deref(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	out := []*yaml.Node{m}
	if !hasMerge(m) { // the common case
		return out
	}
	visited := map[*yaml.Node]bool{m: true}
	var walk func(m *yaml.Node)
	walk = func(m *yaml.Node) {
		for _, mm := range mergeSources(m) {
			w.tick()
			mm = deref(mm)
			if mm == nil || mm.Kind != yaml.MappingNode || visited[mm] {
				continue
			}
			visited[mm] = true
			out = append(out, mm)
			walk(mm)
		}
	}
	walk(m)
	return out
}

// field finds key in mapping m, then in the mappings it merges. The
// mapping's own keys come first, and are read once.
func (w *yamlWalk) field(m *yaml.Node, key string) (k, v *yaml.Node) {
	m = deref(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	merges := false
	for i := 0; i+1 < len(m.Content); i += 2 {
		w.tick()
		kn := m.Content[i]
		if kn.Kind != yaml.ScalarNode {
			continue
		}
		if kn.Tag == "!!merge" {
			merges = true
		} else if kn.Value == key {
			return kn, m.Content[i+1]
		}
	}
	if !merges {
		return nil, nil
	}
	for _, mm := range w.mappings(m)[1:] {
		for i := 0; i+1 < len(mm.Content); i += 2 {
			w.tick()
			kn := mm.Content[i]
			if kn.Value == key && kn.Kind == yaml.ScalarNode && kn.Tag != "!!merge" {
				return kn, mm.Content[i+1]
			}
		}
	}
	return nil, nil
}

// enter is n (through its aliases) when it is a mapping or a sequence the
// walk has not been in yet; else nil. Every walk of values goes through it,
// so a node is visited once however many aliases lead to it.
func (w *yamlWalk) enter(n *yaml.Node) *yaml.Node {
	w.tick()
	n = deref(n)
	if n == nil || (n.Kind != yaml.MappingNode && n.Kind != yaml.SequenceNode) || !w.once(n) {
		return nil
	}
	return n
}

// stringValue is v (through its aliases) when it is a string scalar.
func stringValue(v *yaml.Node) *yaml.Node {
	if t := deref(v); t != nil && t.Kind == yaml.ScalarNode && t.Tag == "!!str" {
		return t
	}
	return nil
}

// str is the value of a plain string scalar field, or "".
func (w *yamlWalk) str(m *yaml.Node, key string) string {
	_, v := w.field(m, key)
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

// pairs are the key/value pairs of a mapping, merged ones included; a key
// counts once, with the value that takes precedence.
func (w *yamlWalk) pairs(m *yaml.Node) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	var seen map[string]bool
	ms := w.mappings(m)
	for _, mm := range ms {
		for i := 0; i+1 < len(mm.Content); i += 2 {
			w.tick()
			k := mm.Content[i]
			if k.Tag == "!!merge" {
				continue
			}
			if len(ms) > 1 {
				if seen == nil {
					seen = map[string]bool{}
				}
				if seen[k.Value] {
					continue
				}
				seen[k.Value] = true
			}
			out = append(out, [2]*yaml.Node{k, mm.Content[i+1]})
		}
	}
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
	if !strings.HasPrefix(t.Value, prefix) {
		prefix = ""
	}
	return w.siteSub(v, kind, len(prefix), len(t.Value))
}

// siteSub is site for the part [start, end) of a value (the default inside
// "${VAR:-default}").
func (w *yamlWalk) siteSub(v *yaml.Node, kind Kind, start, end int) *Site {
	t := deref(v)
	if t == nil || t.Kind != yaml.ScalarNode || t.Value == "" || t.Tag == "!!null" {
		return nil
	}
	prefix := t.Value[:start]
	s := &Site{Kind: kind, Written: t.Value[start:end], Line: t.Line, Column: t.Column}
	if w.keys[t] {
		s.skip(ReasonUneditable + ": the alias names a mapping key")
		s.parse(w.f)
		return s
	}
	if t.Tag != "!!str" {
		s.skip("not a string (YAML reads it as " + strings.TrimPrefix(t.Tag, "!!") + ")")
		return s
	}
	sp, _, err := w.f.locate(t)
	if err != nil {
		s.skip(ReasonUneditable + ": " + err.Error())
	} else {
		sp.start += len(prefix)
		sp.end = sp.start + end - start
		s.ref = sp
		s.Line, s.Column = w.f.src.lineOf(sp.start), w.f.src.columnOf(sp.start)
	}
	if w.f.src.ignored(s.Line) || (v.Kind == yaml.AliasNode && w.f.src.ignored(v.Line)) {
		s.skip(ReasonIgnored)
	}
	s.parse(w.f)
	return s
}

func (w *yamlWalk) add(s *Site) {
	if s != nil {
		if w.f.Sites == nil {
			w.f.Sites = make([]*Site, 0, 4)
		}
		w.f.Sites = append(w.f.Sites, s)
	}
}

// once reports whether mapping m is seen for the first time.
func (w *yamlWalk) once(m *yaml.Node) bool {
	m = deref(m)
	if m == nil {
		return false
	}
	if w.seen[m] {
		return false
	}
	if w.seen == nil {
		w.seen = map[*yaml.Node]bool{}
	}
	w.seen[m] = true
	return true
}

// blockSlot computes where a new key goes in a block mapping: on the line
// after value node v, indented like key node k.
// spaces is the indentation blockSlot gives most keys, sliced.
const spaces = "                                                                "

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
	lineStart := w.f.src.lines()[k.Line-1]
	if n := kOff - lineStart; n <= len(spaces) && asciiLine(w.f.src.data[lineStart:kOff]) && !bytes.ContainsRune(w.f.src.data[lineStart:kOff], '\t') {
		return lineEnd, eol, spaces[:n], true // as many spaces as characters: shared
	}
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
