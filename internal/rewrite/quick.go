package rewrite

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// quick parses documents written in the plain subset of YAML that most
// manifests and values files are written in, several times faster than the
// general parser, into the nodes the general parser builds from them: the
// same kinds, styles, tags, values, lines and columns (comments are not
// kept: no scanner reads them). Anything outside the subset (anchors,
// aliases, tags, folded block scalars, multi-line or escaped quoted
// scalars, quoted keys, merge keys, flow collections over several lines,
// directives, tabs, empty documents) makes it give up, and the file is
// parsed by the general parser from its start. It never decides that a
// file is not YAML: only the general parser does. FuzzQuick holds it to
// that parser's answers.
//
// The subset: block mappings with plain keys; block sequences, their items
// on the dash's line or below it; plain, single- and double-quoted scalars
// on one line; plain scalars going on over more lines; literal block
// scalars without an indentation indicator; flow collections on one line;
// comments; "---" between documents.
type quick struct {
	src    string  // the file's text, copied once: scalar values are slices of it
	starts []int   // where each line of src starts
	lines  []qline // the lines that hold something, comments excluded
	i      int     // the line being read
	ascii  bool    // src is ASCII: a column is a byte count
	depth  int
	// Nodes and the pointers of Content slices come from blocks, reused
	// from file to file (release): a file's nodes die together.
	nodes blocks[yaml.Node]
	ptrs  blocks[*yaml.Node]
	stack []*yaml.Node // the items of the collections being read
}

// qline is one line that holds something: its number, the spaces before
// it, and the rest (a line break's CR removed), which starts at src[off].
type qline struct {
	num    int
	indent int
	off    int
	text   []byte
}

// giveUp ends a quick parse from deep inside it.
type giveUp struct{}

// maxQuickDepth bounds the nesting the quick parser follows.
const maxQuickDepth = 100

// newQuick indexes data's lines, which start at the given offsets (a
// source's index), or returns nil if data holds a character the subset
// leaves to the general parser.
func newQuick(data []byte, starts []int) *quick {
	ok, ascii := plainASCII(data)
	if !ok {
		return nil
	}
	q := quicks.Get().(*quick)
	q.ascii = ascii
	q.src, q.starts = string(data), starts
	q.nodes.pool, q.ptrs.pool = &nodeBlocks, &ptrBlocks
	if cap(q.lines) < len(starts) {
		q.lines = make([]qline, 0, len(starts))
	}
	for k, start := range starts {
		end := len(data)
		if k+1 < len(starts) {
			end = starts[k+1] - 1 // the LF
		}
		line := data[start:end]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		indent := 0
		for indent < len(line) && line[indent] == ' ' {
			indent++
		}
		text := line[indent:]
		if len(text) > 0 && text[0] != '#' {
			q.lines = append(q.lines, qline{num: k + 1, indent: indent, off: start + indent, text: text})
		}
	}
	return q
}

// quicks hold parsers let go (release) for the next file to take, with
// their line index and stack.
var quicks = sync.Pool{New: func() any { return new(quick) }}

// str is text[a:b] of line l as a string, without a copy.
func (q *quick) str(l *qline, a, b int) string { return q.src[l.off+a : l.off+b] }

// plainText reports whether data is UTF-8 with no byte order mark, tab,
// control character, or character YAML reads as a line break besides LF
// and CRLF, and nothing the general parser would refuse as unprintable.
// Eight bytes at a time are taken at once when each is printable ASCII or
// LF; any other byte is looked at alone.
func plainText(data []byte) bool {
	ok, _ := plainASCII(data)
	return ok
}

// plainASCII is plainText, and whether data is all ASCII besides.
func plainASCII(data []byte) (ok, ascii bool) {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	ascii = true
	for i := 0; i < len(data); {
		if i+8 <= len(data) {
			w := binary.LittleEndian.Uint64(data[i:])
			high := ((w&(0x7f*ones) + ones) | w) & highs   // 0x7f and up
			low := ^((w | highs) - 0x20*ones) & highs &^ w // below 0x20
			lf := w ^ 0x0a*ones
			lf = ^((lf&(0x7f*ones) + 0x7f*ones) | lf) & highs // LF
			if high|low&^lf == 0 {
				i += 8
				continue
			}
		}
		if data[i] >= utf8.RuneSelf {
			ascii = false
		}
		n, ok := plainRune(data, i)
		if !ok {
			return false, false
		}
		i += n
	}
	return true, ascii
}

// plainRune reports the length of the character at data[i], and whether
// plainText takes it.
func plainRune(data []byte, i int) (int, bool) {
	c := data[i]
	if c < utf8.RuneSelf {
		if !printable[c] && (c != '\r' || i+1 >= len(data) || data[i+1] != '\n') {
			return 1, false
		}
		return 1, true
	}
	r, n := utf8.DecodeRune(data[i:])
	switch {
	case r == utf8.RuneError && n <= 1:
		return n, false
	case r < 0xA0, r == 0x2028, r == 0x2029, r == 0xFEFF:
		return n, false
	case r >= 0xD800 && r < 0xE000, r == 0xFFFE, r == 0xFFFF:
		return n, false
	}
	return n, true
}

// printable marks the ASCII characters plainText takes as they are.
var printable = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	t['\n'] = true
	return t
}()

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
	doc = q.alloc()
	*doc = yaml.Node{Kind: yaml.DocumentNode, Line: l.num, Column: l.indent + 1}
	if q.marker() {
		q.i++
		if q.i >= len(q.lines) || q.marker() {
			q.fail() // an empty document
		}
	}
	base := len(q.stack)
	q.stack = append(q.stack, q.node())
	doc.Content = q.content(base)
	if q.i < len(q.lines) && !q.marker() {
		q.fail()
	}
	return doc, true
}

// each hands fn the documents one at a time, each let go once fn returns.
// It reports false when the quick parser gave up (the documents handed
// over so far are to be read again by the general parser), and stops at
// fn's first error.
func (q *quick) each(fn func(doc *yaml.Node) error) (taken bool, err error) {
	for {
		doc, ok := q.next()
		switch {
		case !ok:
			return false, nil
		case doc == nil:
			return true, nil
		}
		if err := fn(doc); err != nil {
			return true, err
		}
		q.recycle()
	}
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
// column is the 1-based character column of text[off] of line l.
func (q *quick) column(l *qline, off int) int {
	if q.ascii {
		return l.indent + off + 1
	}
	return l.indent + utf8.RuneCount(l.text[:off]) + 1
}

func (q *quick) sequence(indent int) *yaml.Node {
	l := &q.lines[q.i]
	seq := q.alloc()
	*seq = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: l.num, Column: indent + 1}
	base := len(q.stack)
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
			l.indent, l.off, l.text = indent+1+k, l.off+1+k, rest[k:]
			switch {
			case dash(l.text):
				q.fail()
			case keyEnd(l.text) >= 0:
				item = q.node()
			default:
				item = q.inline(l, 0, indent)
				q.i++
				q.noContinuation(indent)
			}
		}
		q.stack = append(q.stack, item)
	}
	seq.Content = q.content(base)
	return seq
}

func (q *quick) mapping(indent int) *yaml.Node {
	l := &q.lines[q.i]
	m := q.alloc()
	*m = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: l.num, Column: indent + 1}
	base := len(q.stack)
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
			line, col := l.num, q.column(l, end+1) // where an empty one is placed
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
			val = q.inline(l, v, indent)
			q.i++
			q.noContinuation(indent)
		}
		q.stack = append(q.stack, key, val)
	}
	m.Content = q.pairs(base)
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
	if len(k) == 0 || len(k) > 1000 || k[len(k)-1] == ' ' || commentAt(k) >= 0 ||
		!plainStart(k) {
		q.fail()
	}
	return q.scalar(q.str(l, 0, end), 0, l.num, q.column(l, 0))
}

// commentAt is the index of the first " #" in text, or -1.
func commentAt(text []byte) int {
	for i := 1; i < len(text); {
		j := bytes.IndexByte(text[i:], '#')
		if j < 0 {
			return -1
		}
		if i += j; text[i-1] == ' ' {
			return i - 1
		}
		i++
	}
	return -1
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
	tag := "!!str"
	if style == 0 {
		tag = tagOf(value)
	}
	n := q.alloc()
	*n = yaml.Node{Kind: yaml.ScalarNode, Style: style, Tag: tag, Value: value, Line: line, Column: col}
	return n
}

// tagOf is the tag the general parser gives plain scalar v. The common
// cases are answered here: a string starting with a letter, a decimal
// integer, a string that holds a character no number or timestamp has,
// and the words of the resolver's table. The rest are asked of the
// general parser's resolver.
func tagOf(v string) string {
	if plainString(v) {
		return "!!str"
	}
	switch c := v[0]; {
	case (c == '-' || c == '+') && len(v) > 1 && v[1] == '.':
		// "-.inf" and its kin: the resolver's table
	case '0' <= c && c <= '9' || c == '-' || c == '+':
		digits := true
		for i := 0; i < len(v); i++ {
			if b := v[i]; b < '0' || b > '9' {
				if !numeric[b] {
					return "!!str"
				}
				digits = false
			}
		}
		if digits && len(v) <= 18 && (c != '0' || len(v) == 1) {
			return "!!int"
		}
	case c < utf8.RuneSelf && strings.IndexByte("yYnNtTfFoO~", c) >= 0:
		switch v {
		case "true", "True", "TRUE", "false", "False", "FALSE":
			return "!!bool"
		case "~", "null", "Null", "NULL":
			return "!!null"
		}
		return "!!str"
	}
	return (&yaml.Node{Kind: yaml.ScalarNode, Value: v}).ShortTag()
}

// numeric marks the characters a number or a timestamp may hold, in any
// of the forms the general parser's resolver reads.
var numeric = func() (t [256]bool) {
	for _, c := range "0123456789abcdefABCDEFxXoObB_+-.:tTzZ " {
		t[c] = true
	}
	return t
}()

// plainString reports whether a plain scalar is surely a string: it starts
// with a character that starts no number, boolean, null or other keyword
// of the general parser's (whose table marks the rest).
func plainString(v string) bool {
	c := v[0]
	return c >= utf8.RuneSelf || ('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') && !strings.ContainsRune("yYnNtTfFoO", rune(c))
}

// Blocks of nodes and of Content pointers are reused from file to file: a
// file's nodes die together when its scan ends, and a large file's
// documents come and go one at a time.
const (
	nodeBlock = 256
	ptrBlock  = 1024
)

var (
	nodeBlocks = sync.Pool{New: func() any { b := make([]yaml.Node, 0, nodeBlock); return &b }}
	ptrBlocks  = sync.Pool{New: func() any { b := make([]*yaml.Node, 0, ptrBlock); return &b }}
)

// blocks hands out elements from blocks taken from a pool, the last one
// being filled.
type blocks[T any] struct {
	pool *sync.Pool
	held []*[]T
	cur  []T // the filled part of the last block
}

// take is n elements in a row, n no more than a block holds.
func (b *blocks[T]) take(n int) []T {
	if len(b.cur)+n > cap(b.cur) {
		p := b.pool.Get().(*[]T)
		b.held = append(b.held, p)
		b.cur = (*p)[:0]
	}
	s := b.cur[len(b.cur) : len(b.cur)+n : len(b.cur)+n]
	b.cur = b.cur[:len(b.cur)+n]
	return s
}

// recycle takes back every element handed out, cleared (they held the
// file's text), keeping the first block for what comes next.
func (b *blocks[T]) recycle() {
	for i, p := range b.held {
		used := (*p)[:cap(*p)]
		if i == len(b.held)-1 {
			used = b.cur
		}
		clear(used)
		if i > 0 {
			b.pool.Put(p)
		}
	}
	if len(b.held) > 0 {
		b.held, b.cur = b.held[:1], (*b.held[0])[:0]
	}
}

// release hands every block back to the pool.
func (b *blocks[T]) release() {
	b.recycle()
	for _, p := range b.held {
		b.pool.Put(p)
	}
	b.held, b.cur = nil, nil
}

// alloc is a new node, taken from a block.
func (q *quick) alloc() *yaml.Node { return &q.nodes.take(1)[0] }

// content moves the items stacked since base into a Content slice of
// their own.
func (q *quick) content(base int) []*yaml.Node {
	items := q.stack[base:]
	q.stack = q.stack[:base]
	n := len(items)
	if n == 0 {
		return nil
	}
	if n > ptrBlock/4 { // too many for a block: a slice of their own
		return append([]*yaml.Node(nil), items...)
	}
	c := q.ptrs.take(n)
	copy(c, items)
	return c
}

// pairs is content for a mapping: the general parser is left to tell a
// key named twice, which the walk then refuses (duplicateKeys). The quick
// parser's keys are plain scalars, with no anchor, no merge key.
func (q *quick) pairs(base int) []*yaml.Node {
	var keys smallMap[string, struct{}]
	items := q.stack[base:]
	for i := 0; i < len(items); i += 2 {
		if _, dup := keys.get(items[i].Value); dup {
			q.fail()
		}
		keys.put(items[i].Value, struct{}{})
	}
	return q.content(base)
}

// recycle takes back the nodes of the documents read so far once none of
// them is used any more: memory follows the largest document, not the
// file.
func (q *quick) recycle() {
	q.nodes.recycle()
	q.ptrs.recycle()
}

// release hands every block back once the file is read.
func (q *quick) release() {
	q.nodes.release()
	q.ptrs.release()
	clear(q.lines)
	clear(q.stack[:cap(q.stack)])
	*q = quick{lines: q.lines[:0], stack: q.stack[:0]}
	quicks.Put(q)
}

// inline reads the value starting at text[off] of line l, which must end
// the line (bar a comment), or be a literal block scalar, in a block
// collection indented by parent. It leaves q.i on the value's last line.
func (q *quick) inline(l *qline, off, parent int) *yaml.Node {
	var n *yaml.Node
	var end int
	switch c := l.text[off]; c {
	case '|':
		return q.literal(l, off, parent)
	case '[', '{':
		n, end = q.flow(l, off)
	case '"', '\'':
		n, end, l = q.quoted(l, off, parent)
	default:
		if !plainStart(l.text[off:]) {
			q.fail()
		}
		end = len(l.text)
		comment := false
		if i := commentAt(l.text[off:]); i >= 0 {
			end, comment = off+i, true
		}
		for end > off && l.text[end-1] == ' ' {
			end--
		}
		v := l.text[off:end]
		if bytes.Contains(v, []byte(": ")) || v[len(v)-1] == ':' {
			q.fail()
		}
		value := q.str(l, off, end)
		if !comment { // the scalar may go on
			value = q.plainLines(l, value, parent)
		}
		return q.scalar(value, 0, l.num, q.column(l, off))
	}
	rest := bytes.TrimLeft(l.text[end:], " ")
	if len(rest) > 0 && (rest[0] != '#' || end == len(l.text)-len(rest)) {
		q.fail() // more after the value, or a comment not set off by a space
	}
	return n
}

// literal reads the literal block scalar whose header, "|", "|-" or "|+"
// (no indentation indicator), is at text[off] of line l, in a block
// collection indented by parent. Its content starts on the next line, more
// indented than parent, which sets its indentation; blank lines may follow
// content but not precede it, and hold no spaces past the indentation. It
// leaves q.i on the last line that holds content.
func (q *quick) literal(l *qline, off, parent int) *yaml.Node {
	t := l.text
	i := off + 1
	chomp := byte(0) // clip
	if i < len(t) && (t[i] == '-' || t[i] == '+') {
		chomp = t[i]
		i++
	}
	if j := skipSpaces(t, i); j < len(t) && (t[j] != '#' || j == i) {
		q.fail() // an indentation indicator, or more after the header
	}
	var b strings.Builder
	ind := 0
	lastContent := -1 // index of the last line holding content
	blanks := 0       // blank lines since it
	k := l.num        // the line after the header (l.num is 1-based)
	for ; k < len(q.starts); k++ {
		line := q.raw(k)
		sp := 0
		for sp < len(line) && line[sp] == ' ' {
			sp++
		}
		if sp == len(line) { // blank
			if ind == 0 || sp > ind {
				q.fail() // before the content, or spaces that are content
			}
			blanks++
			continue
		}
		if ind == 0 {
			if sp <= parent {
				q.fail() // no content: an empty scalar
			}
			ind = sp
		} else if sp < ind {
			break
		}
		if lastContent >= 0 {
			b.WriteByte('\n')
			for ; blanks > 0; blanks-- {
				b.WriteByte('\n')
			}
		}
		b.WriteString(line[ind:])
		lastContent, blanks = k, 0
	}
	if ind == 0 {
		q.fail() // nothing follows the header
	}
	// The line breaks after the content: a line has one unless it ends the
	// file.
	breaks := 0
	for j := lastContent; j <= lastContent+blanks && j+1 < len(q.starts); j++ {
		breaks++
	}
	switch {
	case chomp == '-':
	case chomp == '+':
		b.WriteString(strings.Repeat("\n", breaks))
	case breaks > 0:
		b.WriteByte('\n')
	}
	for q.i+1 < len(q.lines) && q.lines[q.i+1].num <= lastContent+1 {
		q.i++
	}
	n := q.alloc()
	*n = yaml.Node{Kind: yaml.ScalarNode, Style: yaml.LiteralStyle, Tag: "!!str", Value: b.String(), Line: l.num, Column: q.column(l, off)}
	return n
}

// plainLines is plain scalar first (line l's value) with the lines that
// continue it: those below, more indented than parent, folded as YAML
// folds them (a line break is a space, blank lines are line breaks). A
// continuation line must hold neither ": " nor " #"; a comment line ends
// the scalar. It leaves q.i on the last line.
func (q *quick) plainLines(l *qline, first string, parent int) string {
	var b strings.Builder
	last, blanks := l.num-1, 0 // the last line taken (0-based), blank lines since
	for k := l.num; k < len(q.starts); k++ {
		line := q.raw(k)
		sp := 0
		for sp < len(line) && line[sp] == ' ' {
			sp++
		}
		if sp == len(line) {
			blanks++
			continue
		}
		if sp <= parent {
			break
		}
		text := strings.TrimRight(line[sp:], " ")
		if text[0] == '#' {
			break // a comment ends the scalar
		}
		if strings.Contains(text, ": ") || strings.Contains(text, " #") || text[len(text)-1] == ':' {
			q.fail()
		}
		if b.Len() == 0 {
			b.WriteString(first)
		}
		if blanks == 0 {
			b.WriteByte(' ')
		}
		for ; blanks > 0; blanks-- {
			b.WriteByte('\n')
		}
		b.WriteString(text)
		last = k
	}
	if b.Len() == 0 {
		return first
	}
	for q.i+1 < len(q.lines) && q.lines[q.i+1].num <= last+1 {
		q.i++
	}
	return b.String()
}

// raw is line k (0-based) of the file, without its line break.
func (q *quick) raw(k int) string {
	end := len(q.src)
	if k+1 < len(q.starts) {
		end = q.starts[k+1] - 1
	}
	line := q.src[q.starts[k]:end]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line
}

// quoted reads the quoted scalar at text[off] of line l, and returns it
// with the line it closes on and the index past its closing quote there.
// One with escapes, or going on past the line in a block collection
// indented by parent (>= 0), is read by quotedLines.
func (q *quick) quoted(l *qline, off, parent int) (*yaml.Node, int, *qline) {
	t := l.text
	quote := t[off]
	var v []byte  // the value, once an escaped quote makes it differ from the text
	doubled := -1 // where the first doubled quote is
	i := off + 1
	for ; ; i++ {
		if i >= len(t) || quote == '"' && t[i] == '\\' { // goes on, or an escape
			return q.quotedLines(l, off, parent)
		}
		c := t[i]
		if c != quote {
			if doubled >= 0 {
				v = append(v, c)
			}
			continue
		}
		if quote == '\'' && i+1 < len(t) && t[i+1] == '\'' {
			if doubled < 0 {
				doubled = i
				v = append(v, t[off+1:i]...)
			}
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
	value := q.str(l, off+1, i)
	if doubled >= 0 {
		value = string(v)
	}
	return q.scalar(value, style, l.num, q.column(l, off)), i + 1, l
}

// quotedLines reads the quoted scalar at text[off] of line l as the general
// parser does: escapes decoded, and, when parent >= 0 (a value of a block
// collection indented by parent), lines folded as it goes on over them,
// each indented past parent. It returns the scalar, the line it closes
// on (leaving q.i there) and the index past the closing quote in that
// line's text. With parent < 0 it goes on past no line.
func (q *quick) quotedLines(l *qline, off, parent int) (*yaml.Node, int, *qline) {
	quote := l.text[off]
	single := quote == '\''
	k := l.num - 1 // the raw line, 0-based
	line := q.raw(k)
	i := l.off - q.starts[k] + off + 1
	var b []byte
	next := func() { // onto the next raw line
		k++
		if parent < 0 || k >= len(q.starts) {
			q.fail() // a flow collection's, or never closed
		}
		line, i = q.raw(k), 0
	}
	for {
		// the characters up to a space or the line's end
		escapedBreak := false
	run:
		for i < len(line) && line[i] != ' ' {
			c := line[i]
			switch {
			case single && c == '\'' && i+1 < len(line) && line[i+1] == '\'':
				b = append(b, '\'')
				i += 2
			case c == quote:
				break run
			case !single && c == '\\' && i+1 == len(line):
				escapedBreak = true
				break run
			case !single && c == '\\':
				var n int
				b, n = unescape(b, line[i+1:])
				if n == 0 {
					q.fail() // an escape the general parser refuses
				}
				i += 1 + n
			default:
				b = append(b, c)
				i++
			}
		}
		if i < len(line) && line[i] == quote {
			break
		}
		// spaces and line breaks, folded as the general parser folds them
		spaces, breaks, broke := 0, 0, escapedBreak
		if escapedBreak { // the break itself is taken away
			next()
		}
		for {
			if i < len(line) && line[i] == ' ' {
				if !broke {
					spaces++
				}
				i++
				continue
			}
			if i < len(line) {
				break
			}
			if broke {
				breaks++
			} else {
				broke, spaces = true, 0
			}
			next()
		}
		if broke && (i <= parent || i == 0) {
			q.fail() // a line not indented past the collection's
		}
		switch {
		case !broke:
			for ; spaces > 0; spaces-- {
				b = append(b, ' ')
			}
		case breaks == 0 && !escapedBreak:
			b = append(b, ' ')
		default:
			for ; breaks > 0; breaks-- {
				b = append(b, '\n')
			}
		}
	}
	// q.i onto the closing line, which must hold more than a comment
	closing := l
	if k+1 != l.num {
		for q.i < len(q.lines) && q.lines[q.i].num < k+1 {
			q.i++
		}
		if q.i >= len(q.lines) || q.lines[q.i].num != k+1 {
			q.fail()
		}
		closing = &q.lines[q.i]
	}
	style := yaml.DoubleQuotedStyle
	if single {
		style = yaml.SingleQuotedStyle
	}
	n := q.alloc()
	*n = yaml.Node{Kind: yaml.ScalarNode, Style: style, Tag: "!!str", Value: string(b), Line: l.num, Column: q.column(l, off)}
	return n, i + 1 - (closing.off - q.starts[k]), closing
}

// escapes are the one-character escape sequences of double-quoted scalars
// (after the backslash), and what each stands for.
var escapes = map[byte]rune{
	'0': 0, 'a': '\a', 'b': '\b', 't': '\t', 'n': '\n', 'v': '\v', 'f': '\f', 'r': '\r', 'e': 0x1b,
	' ': ' ', '"': '"', '\'': '\'', '\\': '\\', 'N': 0x85, '_': 0xA0, 'L': 0x2028, 'P': 0x2029,
}

// unescape appends the character the escape sequence at the start of text
// (after its backslash) stands for, as the general parser reads it, and
// tells its length; 0 for one it refuses.
func unescape(b []byte, text string) ([]byte, int) {
	if len(text) == 0 {
		return b, 0
	}
	if r, ok := escapes[text[0]]; ok {
		return utf8.AppendRune(b, r), 1
	}
	size := 0
	switch text[0] {
	case 'x':
		size = 2
	case 'u':
		size = 4
	case 'U':
		size = 8
	default:
		return b, 0
	}
	if len(text) < 1+size {
		return b, 0
	}
	v, err := strconv.ParseUint(text[1:1+size], 16, 32)
	if err != nil || strings.ContainsAny(text[1:1+size], "+-_") || (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF {
		return b, 0
	}
	return utf8.AppendRune(b, rune(v)), 1 + size
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
	*n = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle, Line: l.num, Column: q.column(l, off)}
	closer := byte(']')
	if open == '{' {
		n.Kind, n.Tag, closer = yaml.MappingNode, "!!map", '}'
	}
	i := skipSpaces(t, off+1)
	if i < len(t) && t[i] == closer {
		return n, i + 1
	}
	base := len(q.stack)
	for {
		if open == '{' {
			key, j, colon := q.flowItem(l, i, false)
			if !colon || j-i > 1000 {
				q.fail() // a key without a value, or one too long for the general parser
			}
			val, k, colon := q.flowItem(l, skipSpaces(t, j+2), true)
			if colon {
				q.fail()
			}
			q.stack = append(q.stack, key, val)
			i = k
		} else {
			item, j, colon := q.flowItem(l, i, true)
			if colon {
				q.fail() // a pair in a sequence
			}
			q.stack = append(q.stack, item)
			i = j
		}
		i = skipSpaces(t, i)
		if i >= len(t) {
			q.fail() // continued on the next line
		}
		switch t[i] {
		case closer:
			if n.Kind == yaml.MappingNode {
				n.Content = q.pairs(base)
			} else {
				n.Content = q.content(base)
			}
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
		n, end, _ = q.quoted(l, i, -1) // closed on the line: a flow collection's goes on over none
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
		e := end
		for e > i && t[e-1] == ' ' {
			e--
		}
		if e == i || (e != end && end < len(t) && t[end] == ':') {
			q.fail()
		}
		n = q.scalar(q.str(l, i, e), 0, l.num, q.column(l, i))
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
