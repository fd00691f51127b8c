package rewrite

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// quick parses documents written in the plain subset of YAML that most
// manifests and values files are written in, several times faster than the
// general parser, into the nodes the general parser builds from them: the
// same kinds, styles, tags, values, lines and columns (comments are not
// kept: no scanner reads them). Anything outside the subset (anchors,
// aliases, tags, block scalars, multi-line or escaped scalars, quoted keys,
// merge keys, flow collections over several lines, directives, tabs, empty
// documents) makes it give up, and the file is parsed by the general
// parser from its start. It never decides that a file is not YAML: only
// the general parser does. FuzzQuick holds it to that parser's answers.
//
// The subset: block mappings with plain keys; block sequences, their items
// on the dash's line or below it; plain, single- and double-quoted scalars
// on one line; flow collections on one line; comments; "---" between
// documents.
type quick struct {
	lines []qline // the lines that hold something, comments excluded
	i     int     // the line being read
	depth int
	slab  []yaml.Node
}

// qline is one line that holds something: its number, the spaces before
// it, and the rest (a line break's CR removed).
type qline struct {
	num    int
	indent int
	text   []byte
}

// giveUp ends a quick parse from deep inside it.
type giveUp struct{}

// maxQuickDepth bounds the nesting the quick parser follows.
const maxQuickDepth = 100

// newQuick indexes data's lines, or returns nil if data holds a character
// the subset leaves to the general parser.
func newQuick(data []byte) *quick {
	if !plainText(data) {
		return nil
	}
	q := &quick{}
	num := 0
	for len(data) > 0 {
		num++
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		indent := 0
		for indent < len(line) && line[indent] == ' ' {
			indent++
		}
		text := line[indent:]
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		q.lines = append(q.lines, qline{num: num, indent: indent, text: text})
	}
	return q
}

// plainText reports whether data is UTF-8 with no byte order mark, tab,
// control character, or character YAML reads as a line break besides LF
// and CRLF, and nothing the general parser would refuse as unprintable.
func plainText(data []byte) bool {
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\n':
			case c == '\r':
				if i+1 >= len(data) || data[i+1] != '\n' {
					return false
				}
			case c < 0x20 || c == 0x7f:
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			return false
		case r < 0xA0, r == 0x2028, r == 0x2029, r == 0xFEFF:
			return false
		case r >= 0xD800 && r < 0xE000, r == 0xFFFE, r == 0xFFFF:
			return false
		}
		i += n
	}
	return true
}

// next is the next document: doc and true; nil and true at the end; false
// when the rest is outside the subset.
func (q *quick) next() (doc *yaml.Node, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, give := r.(giveUp); !give {
				panic(r)
			}
			doc, ok = nil, false
		}
	}()
	if q.i >= len(q.lines) {
		return nil, true
	}
	l := &q.lines[q.i]
	doc = &yaml.Node{Kind: yaml.DocumentNode, Line: l.num, Column: l.indent + 1}
	if q.marker() {
		q.i++
		if q.i >= len(q.lines) || q.marker() {
			q.fail() // an empty document
		}
	}
	doc.Content = []*yaml.Node{q.node()}
	if q.i < len(q.lines) && !q.marker() {
		q.fail()
	}
	return doc, true
}

func (q *quick) fail() { panic(giveUp{}) }

// marker reports whether the line is "---" (with a comment, or none); it
// gives up on the other document markers and directives.
func (q *quick) marker() bool {
	l := &q.lines[q.i]
	if l.indent != 0 {
		return false
	}
	t := l.text
	switch {
	case t[0] == '%':
		q.fail()
	case bytes.HasPrefix(t, []byte("---")) && (len(t) == 3 || t[3] == ' '):
		rest := bytes.TrimLeft(t[3:], " ")
		if len(rest) > 0 && rest[0] != '#' {
			q.fail() // content on the marker's line
		}
		return true
	case bytes.HasPrefix(t, []byte("...")) && (len(t) == 3 || t[3] == ' '):
		q.fail()
	}
	return false
}

// more reports whether line q.i exists and belongs to the current document.
func (q *quick) more() bool { return q.i < len(q.lines) && !q.marker() }

// node reads the block collection starting on line q.i; its indentation
// is the line's.
func (q *quick) node() *yaml.Node {
	q.depth++
	if q.depth > maxQuickDepth {
		q.fail()
	}
	defer func() { q.depth-- }()
	l := &q.lines[q.i]
	switch {
	case dash(l.text):
		return q.sequence(l.indent)
	case keyEnd(l.text) >= 0:
		return q.mapping(l.indent)
	}
	q.fail() // a scalar on a line of its own
	return nil
}

// dash reports whether text starts a block sequence item.
func dash(text []byte) bool {
	return text[0] == '-' && (len(text) == 1 || text[1] == ' ')
}

// keyEnd is the index of the colon ending a plain key at the start of
// text, or -1 when text is not "key:" or "key: ...".
func keyEnd(text []byte) int {
	for i := 0; i < len(text); i++ {
		if text[i] == ':' && (i+1 == len(text) || text[i+1] == ' ') {
			return i
		}
	}
	return -1
}

// column is the 1-based column of text[off] on line l, in characters.
func (l *qline) column(off int) int {
	return l.indent + utf8.RuneCount(l.text[:off]) + 1
}

func (q *quick) sequence(indent int) *yaml.Node {
	l := &q.lines[q.i]
	seq := q.alloc()
	*seq = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: l.num, Column: indent + 1}
	for q.more() && q.lines[q.i].indent == indent && dash(q.lines[q.i].text) {
		l := &q.lines[q.i]
		rest := l.text[1:]
		k := 0
		for k < len(rest) && rest[k] == ' ' {
			k++
		}
		var item *yaml.Node
		switch {
		case k == len(rest) || rest[k] == '#': // the item is the block below
			q.i++
			if !q.more() || q.lines[q.i].indent <= indent {
				q.fail() // an empty item
			}
			item = q.node()
		default:
			// The item starts on the dash's line: read the rest of the
			// line as a line of its own, indented to where it starts.
			l.indent, l.text = indent+1+k, rest[k:]
			switch {
			case dash(l.text):
				q.fail()
			case keyEnd(l.text) >= 0:
				item = q.node()
			default:
				item = q.inline(l, 0)
				q.i++
				q.noContinuation(indent)
			}
		}
		seq.Content = append(seq.Content, item)
	}
	return seq
}

func (q *quick) mapping(indent int) *yaml.Node {
	l := &q.lines[q.i]
	m := q.alloc()
	*m = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: l.num, Column: indent + 1}
	for q.more() && q.lines[q.i].indent == indent && !dash(q.lines[q.i].text) {
		l := &q.lines[q.i]
		end := keyEnd(l.text)
		if end < 0 {
			q.fail()
		}
		key := q.plainKey(l, end)
		v := end + 1
		for v < len(l.text) && l.text[v] == ' ' {
			v++
		}
		var val *yaml.Node
		if v == len(l.text) || l.text[v] == '#' { // the value is the block below
			line, col := l.num, l.column(end+1) // where an empty one is placed
			q.i++
			n := &q.lines[min(q.i, len(q.lines)-1)]
			switch {
			case !q.more(): // an empty value at the document's end
				val = q.alloc()
				*val = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: line, Column: col}
			case n.indent > indent:
				val = q.node()
			case n.indent == indent && dash(n.text):
				val = q.sequence(indent)
			default: // an empty value: null, placed just past the colon
				val = q.alloc()
				*val = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: line, Column: col}
			}
		} else {
			val = q.inline(l, v)
			q.i++
			q.noContinuation(indent)
		}
		m.Content = append(m.Content, key, val)
	}
	return m
}

// noContinuation gives up when the line after a scalar is indented past
// the collection holding it: it would continue the scalar.
func (q *quick) noContinuation(indent int) {
	if q.more() && q.lines[q.i].indent > indent {
		q.fail()
	}
}

// plainKey is the key text[:end] of line l, if it is a plain scalar the
// subset takes.
func (q *quick) plainKey(l *qline, end int) *yaml.Node {
	k := l.text[:end]
	if len(k) == 0 || len(k) > 1000 || k[len(k)-1] == ' ' || bytes.Contains(k, []byte(" #")) ||
		!plainStart(k) {
		q.fail()
	}
	return q.scalar(string(k), 0, l.num, l.column(0))
}

// plainStart reports whether a plain scalar may start as text does.
func plainStart(text []byte) bool {
	switch text[0] {
	case '-', '?', ':':
		return len(text) > 1 && text[1] != ' ' && text[1] != ',' && text[1] != '[' && text[1] != ']' && text[1] != '{' && text[1] != '}'
	case ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`':
		return false
	}
	return true
}

// scalar is a scalar node, tagged as the general parser tags it.
func (q *quick) scalar(value string, style yaml.Style, line, col int) *yaml.Node {
	if style == 0 && value == "<<" {
		q.fail() // a merge key, wherever it stands
	}
	n := q.alloc()
	*n = yaml.Node{Kind: yaml.ScalarNode, Style: style, Value: value, Line: line, Column: col}
	if style == 0 && !plainString(value) {
		n.Tag = n.ShortTag()
	} else {
		n.Tag = "!!str"
	}
	return n
}

// plainString reports whether a plain scalar is surely a string: it starts
// with a character that starts no number, boolean, null or other keyword
// of the general parser's (whose table marks the rest).
func plainString(v string) bool {
	c := v[0]
	return c >= utf8.RuneSelf || ('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') && !strings.ContainsRune("yYnNtTfFoO", rune(c))
}

// alloc is a new node, taken from a block of them: a file's nodes die
// together.
func (q *quick) alloc() *yaml.Node {
	if len(q.slab) == cap(q.slab) {
		// About two nodes a line, in blocks of at most 256: a large file's
		// documents come and go one at a time.
		q.slab = make([]yaml.Node, 0, min(2*(len(q.lines)-q.i)+2, 256))
	}
	q.slab = q.slab[:len(q.slab)+1]
	return &q.slab[len(q.slab)-1]
}

// inline reads the value starting at text[off] of line l, which must end
// the line (bar a comment).
func (q *quick) inline(l *qline, off int) *yaml.Node {
	var n *yaml.Node
	var end int
	switch c := l.text[off]; c {
	case '[', '{':
		n, end = q.flow(l, off)
	case '"', '\'':
		n, end = q.quoted(l, off)
	default:
		if !plainStart(l.text[off:]) {
			q.fail()
		}
		end = len(l.text)
		if i := bytes.Index(l.text[off:], []byte(" #")); i >= 0 {
			end = off + i
		}
		v := bytes.TrimRight(l.text[off:end], " ")
		if bytes.Contains(v, []byte(": ")) || v[len(v)-1] == ':' {
			q.fail()
		}
		return q.scalar(string(v), 0, l.num, l.column(off))
	}
	rest := bytes.TrimLeft(l.text[end:], " ")
	if len(rest) > 0 && (rest[0] != '#' || end == len(l.text)-len(rest)) {
		q.fail() // more after the value, or a comment not set off by a space
	}
	return n
}

// quoted reads the quoted scalar at text[off] of line l, closed on the
// same line, and returns it with the index past its closing quote.
func (q *quick) quoted(l *qline, off int) (*yaml.Node, int) {
	t := l.text
	quote := t[off]
	var v []byte
	i := off + 1
	for ; ; i++ {
		if i >= len(t) {
			q.fail() // continued on the next line
		}
		c := t[i]
		if quote == '"' && c == '\\' {
			q.fail() // escapes are left to the general parser
		}
		if c != quote {
			v = append(v, c)
			continue
		}
		if quote == '\'' && i+1 < len(t) && t[i+1] == '\'' {
			v = append(v, '\'')
			i++
			continue
		}
		break
	}
	style := yaml.DoubleQuotedStyle
	if quote == '\'' {
		style = yaml.SingleQuotedStyle
	}
	return q.scalar(string(v), style, l.num, l.column(off)), i + 1
}

// flow reads the flow collection at text[off] of line l, closed on the
// same line, and returns it with the index past its closing bracket.
func (q *quick) flow(l *qline, off int) (*yaml.Node, int) {
	q.depth++
	if q.depth > maxQuickDepth {
		q.fail()
	}
	defer func() { q.depth-- }()
	t := l.text
	open := t[off]
	n := q.alloc()
	*n = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle, Line: l.num, Column: l.column(off)}
	closer := byte(']')
	if open == '{' {
		n.Kind, n.Tag, closer = yaml.MappingNode, "!!map", '}'
	}
	i := skipSpaces(t, off+1)
	if i < len(t) && t[i] == closer {
		return n, i + 1
	}
	for {
		if open == '{' {
			key, j, colon := q.flowItem(l, i, false)
			if !colon {
				q.fail() // a key without a value
			}
			val, k, colon := q.flowItem(l, skipSpaces(t, j+2), true)
			if colon {
				q.fail()
			}
			n.Content = append(n.Content, key, val)
			i = k
		} else {
			item, j, colon := q.flowItem(l, i, true)
			if colon {
				q.fail() // a pair in a sequence
			}
			n.Content = append(n.Content, item)
			i = j
		}
		i = skipSpaces(t, i)
		if i >= len(t) {
			q.fail() // continued on the next line
		}
		switch t[i] {
		case closer:
			return n, i + 1
		case ',':
			i = skipSpaces(t, i+1)
			if i >= len(t) || t[i] == closer {
				q.fail() // a trailing comma, or more on the next line
			}
		default:
			q.fail()
		}
	}
}

// flowItem reads a scalar (or, when nested is true, a flow collection) at
// text[i] of line l inside a flow collection. It returns the index past
// it, and whether ": " follows it at once.
func (q *quick) flowItem(l *qline, i int, nested bool) (*yaml.Node, int, bool) {
	t := l.text
	if i >= len(t) {
		q.fail()
	}
	var n *yaml.Node
	var end int
	switch t[i] {
	case '[', '{':
		if !nested {
			q.fail()
		}
		n, end = q.flow(l, i)
	case '"', '\'':
		n, end = q.quoted(l, i)
	default:
		if !plainStart(t[i:]) || t[i] == ':' || t[i] == '?' {
			q.fail()
		}
		// A plain scalar ends at a flow indicator or ": "; a colon
		// followed by anything else but a flow indicator is part of it.
		end = i
	scan:
		for ; end < len(t); end++ {
			switch t[end] {
			case ',', '[', ']', '{', '}':
				break scan
			case ':':
				if end+1 == len(t) || t[end+1] == ' ' {
					break scan
				}
				if bytes.IndexByte([]byte(",?[]{}"), t[end+1]) >= 0 {
					q.fail()
				}
			default:
				if !flowSafe(t[end]) {
					q.fail() // a comment, or a character the subset leaves alone
				}
			}
		}
		v := bytes.TrimRight(t[i:end], " ")
		if len(v) == 0 || (len(v) != end-i && end < len(t) && t[end] == ':') {
			q.fail()
		}
		n = q.scalar(string(v), 0, l.num, l.column(i))
	}
	colon := end+1 < len(t) && t[end] == ':' && t[end+1] == ' '
	return n, end, colon
}

// flowSafe reports whether c may stand in a plain scalar of a flow
// collection in the subset.
func flowSafe(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c >= utf8.RuneSelf ||
		strings.IndexByte(" -_./=+~@$%()<>;", c) >= 0
}

func skipSpaces(t []byte, i int) int {
	for i < len(t) && t[i] == ' ' {
		i++
	}
	return i
}
