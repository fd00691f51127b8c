package rewrite

import (
	"bytes"
	"regexp"
)

// Helm chart templates are Go templates, not YAML until rendered: they are
// read line by line, and only a line that holds a complete literal
// reference ("image: busybox:1.36") is a site. Every other byte of the file
// is left alone.

func isHelmTemplate(n fileName, c *Context) bool {
	_, ok := c.templateChart(n.path)
	return ok
}

// templateImageRE is an "image:" key at the start of a line (perhaps a
// sequence item), and its value.
var templateImageRE = regexp.MustCompile(`^[ \t]*(?:-[ \t]+)?"?image"?:[ \t]+(\S.*)$`)

func (f *File) scanTemplate() error {
	inComment := false
	for line := 1; line <= len(f.src.lines()); line++ {
		text := f.src.text(line)
		// {{/* a template comment */}} spread over lines holds no sites
		if inComment {
			if bytes.Contains(text, []byte("*/")) {
				inComment = false
			}
			continue
		}
		if i := bytes.Index(text, []byte("{{/*")); i >= 0 && !bytes.Contains(text[i:], []byte("*/")) {
			inComment = true
		}
		if i := bytes.Index(text, []byte("{{- /*")); i >= 0 && !bytes.Contains(text[i:], []byte("*/")) {
			inComment = true
		}
		m := templateImageRE.FindSubmatchIndex(text)
		if m == nil || bytes.HasPrefix(bytes.TrimLeft(text, " \t"), []byte("#")) {
			continue
		}
		base := f.src.lines()[line-1]
		start, end := m[2], m[3]
		val := text[start:end]
		s := &Site{Kind: KindHelmTemplate, Line: line, Column: f.src.columnOf(base + start)}
		if bytes.Contains(val, []byte("{{")) {
			s.Written = string(bytes.TrimSpace(val))
			s.skip(ReasonVariable)
			f.Sites = append(f.Sites, s)
			continue
		}
		sp, ok := templateScalar(val)
		if !ok {
			continue // a flow or block value, an anchor: not a literal reference
		}
		s.Written = string(val[sp.start:sp.end])
		s.ref = span{start: base + start + sp.start, end: base + start + sp.end, valid: true}
		s.Column = f.src.columnOf(s.ref.start)
		if f.src.ignored(line) {
			s.skip(ReasonIgnored)
		}
		s.parse(f)
		f.Sites = append(f.Sites, s)
	}
	return nil
}

// templateScalar finds a scalar's content in a line's value: inside quotes,
// or plain up to a comment. It fails for anything but a one-line string.
func templateScalar(v []byte) (span, bool) {
	switch v[0] {
	case '"', '\'':
		end := bytes.IndexByte(v[1:], v[0])
		if end < 0 || (v[0] == '"' && bytes.IndexByte(v[1:1+end], '\\') >= 0) {
			return span{}, false
		}
		rest := bytes.TrimSpace(v[end+2:])
		if len(rest) > 0 && rest[0] != '#' {
			return span{}, false
		}
		return span{start: 1, end: 1 + end, valid: true}, end > 0
	case '{', '[', '|', '>', '&', '*', '!', '%', '@', '`':
		return span{}, false
	}
	end := len(v)
	if i := bytes.Index(v, []byte(" #")); i >= 0 {
		end = i
	}
	for end > 0 && (v[end-1] == ' ' || v[end-1] == '\t') {
		end--
	}
	if bytes.ContainsAny(v[:end], " \t") || end == 0 {
		return span{}, false
	}
	return span{start: 0, end: end, valid: true}, true
}
