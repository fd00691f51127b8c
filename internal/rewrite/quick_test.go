package rewrite

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// quickAll parses all of data with the quick parser.
func quickAll(data []byte) ([]*yaml.Node, bool) {
	q := newQuick(data, newSource(data).lines)
	if q == nil {
		return nil, false
	}
	var docs []*yaml.Node
	for {
		doc, ok := q.next()
		if !ok {
			return nil, false
		}
		if doc == nil {
			return docs, true
		}
		docs = append(docs, doc)
	}
}

// generalAll parses all of data with the general parser, keeping the
// documents that hold something.
func generalAll(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(doc.Content) > 0 {
			docs = append(docs, &doc)
		}
	}
}

// sameNodes reports where two trees differ in what a scan reads.
func sameNodes(path string, q, g *yaml.Node) error {
	if q.Kind != g.Kind || q.Style != g.Style || q.Tag != g.Tag || q.Value != g.Value ||
		q.Line != g.Line || q.Column != g.Column || q.Anchor != g.Anchor || len(q.Content) != len(g.Content) {
		return fmt.Errorf("%s: quick {kind %v style %v tag %q value %q at %d:%d, %d children}, general {kind %v style %v tag %q value %q at %d:%d, %d children}",
			path, q.Kind, q.Style, q.Tag, q.Value, q.Line, q.Column, len(q.Content), g.Kind, g.Style, g.Tag, g.Value, g.Line, g.Column, len(g.Content))
	}
	for i := range q.Content {
		if err := sameNodes(fmt.Sprintf("%s/%d", path, i), q.Content[i], g.Content[i]); err != nil {
			return err
		}
	}
	return nil
}

// agree checks that whatever the quick parser takes, the general parser
// takes too, into the same nodes; it reports whether the quick one took it.
func agree(t testing.TB, data []byte) bool {
	t.Helper()
	qdocs, ok := quickAll(data)
	if !ok {
		return false
	}
	gdocs, err := generalAll(data)
	if err != nil {
		t.Fatalf("the quick parser took what the general one refuses (%v):\n%q", err, data)
	}
	if len(qdocs) != len(gdocs) {
		t.Fatalf("%d documents, the general parser finds %d:\n%q", len(qdocs), len(gdocs), data)
	}
	for i := range qdocs {
		if err := sameNodes(fmt.Sprint(i), qdocs[i], gdocs[i]); err != nil {
			t.Fatalf("%v\n%q", err, data)
		}
	}
	return true
}

// quickTaken are files in the subset: each must be taken, as the general
// parser reads it.
var quickTaken = []string{
	"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels: {app: web, tier: \"front\"}\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n      - name: c\n        image: nginx:1.25\n        ports:\n        - containerPort: 80\n        resources: {limits: {cpu: 100m}}\n        args: [\"--a\", '--b', c]\n",
	"# a comment\n---\na: 1 # trailing\nb:\n- x\n- y\nc:\n  - 'it''s'\n  - \"q\"\n---\nd: {}\ne: []\nf: ~\ng:\nh: true\n",
	"a:\r\n  b: c\r\n",
	"list:\n-\n  a: 1\n- b: 2\n  c: 3\n- plain text here\n",
	"pods: {containers: [{image: r1:1}, {image: 'ghcr.io/x/y:2'}]}\n",
	"k: v:w\nurl: http://example.com/a#frag\nnum: 0x1F\nf: 1.5\nd: 2001-12-14\n",
	"  indented: root\n  other: 2\n",
	"a:\n",
	"b: Yes\nc: ~\nd: .5\ne: -1\nf: +1\ng: .inf\nh: NULL\ni: o\nj: é\n",
	"a:\nb: # c\n---\nc:\n",
	"ünïcode: välue\nk: 日本語 # comment\nimage: nginx:1.25\n",
	"a: |\n  text\n",
	"a: |-\n  line one\n\n    indented # not a comment\n  # nor this\n\nb: |+\n  kept\n\n  \n---\nc: | # comment\n  x: {y}\r\n  'q' \"r\"\nd: 1\n",
	"script:\n- |\n  echo a\n  echo b\n- |-\n   last\n- plain\n",
	"- key: |\n   text\n  other: |+\n    end\n",
	"a: |\n  no final newline",
	"a: |+\n  x\n\n",
	"a: |-\n  x\n\n\nb: 1\n",
	"a: one\n  two\n",
	"a: trailing spaces  \n  then more  \n",
	"description: A long line\n  that goes on and on\n\n  and a new paragraph,\n    deeper   \n\n\n  3 lines down\nb: 1\n",
	"- first item\n  continued\n- k: v\n  w: x y\n   z\n",
	"a: \"esc\\n\"\n",
	"e: \"\\0\\a\\b\\t\\n\\v\\f\\r\\e\\ \\\"\\'\\\\\\N\\_\\L\\P\\x41\\u00e9\\U0001F600\" # all of them\n",
	"description: 'Refresh indicates if the latest revision should\n  be used on retry instead (default: false)'\ntype: boolean\n",
	"d: \"first\n  second   \n\n\n   fourth\\\n  joined\\\n\n  after a blank\"\ne: 'it''s\n\n  ''quoted'''\n",
	"- \"in a\n   sequence\"\n- k: 'and a\n    map'\n  l: 1\n",
	"a: \"a line: that looks # like\n  - more: keys\n  # and a comment\n  b\"\nc: 2\n",
	"a: \"\\x41\\u00E9\"\nb: {c: \"\\t\"}\n",
	"a: \"multi\n  line\"\n",
	"a: one\n  - two\n",
	"description: Whether to pass credentials\n  (Helm's --pass-credentials) to all domains\n  /var/run/x, [not a list], {nor a map}, *nor an alias\n  'quotes' \"too\"\n\n  # a comment ends it\nb: 1\n",
	"a: plain\n  # comment\nb: |\n  x\n",
}

// quickRefused are files outside the subset: each must be left to the
// general parser.
var quickRefused = []string{
	"a: &x 1\nb: *x\n",
	"a: !!str 1\n",
	"a: >\n  text\n",
	"a: |2\n  text\n",
	"a: |\n\n  text\n",
	"a: |\n  text\n      \n",
	"a: |\nb: 1\n",
	"a: |\n",
	"a: |x\n  text\n",
	"a: |#c\n  text\n",
	"a: |\n    text\n  more\n",
	"- key: |\n  text\n",
	"a: one\n  # comment\n  two\n",
	"a: one\n  two: three\n",
	"a: one\n  two #c\n",
	"a: one # c\n  two\n",
	"- one\n two:\n",
	"\"quoted key\": 1\n",
	"<<: {a: 1}\n",
	"a: <<\n",
	"a: [<<]\n",
	"a: [1,\n  2]\n",
	"%YAML 1.2\n---\na: 1\n",
	"a:\tb\n",
	"a: 1\n---\n",
	"---\n---\na: 1\n",
	"\ufeffa: 1\n",
	"a: 1\rb: 2\n",
	"a: b: c\n",
	"a: - b\n",
	"- - a\n",
	"just a scalar\n",
	"a: 1\n...\n",
	"--- a: 1\n",
	"? complex\n: key\n",
	"a: [b: c]\n",
	"a: {b}\n",
	"a: [1, 2,]\n",
	"a: {b: c}d\n",
	"a: 'x'#c\n",
	"a: \"x\ny\"\n",
	"a:\n  b: \"x\n  y\"\n",
	"a: \"\\q\"\n",
	"a: \"\\uD800\"\n",
	"a: \"\\x4\"\n",
	"a: \"never closed\n",
	"a: \"x\n  y\" z\n",
	"a: [\"x\n  y\"]\n",
	"a: 'x\n  #y'\n",
	"a: \"x\n---\ny\"\n",
	"a: plain\n  more: keys\n",
	"a: plain\n  and # a comment\n",
	"a: plain\n  # comment\n  more\n",
}

func TestQuickSubset(t *testing.T) {
	for _, in := range quickTaken {
		if !agree(t, []byte(in)) {
			t.Errorf("not taken:\n%q", in)
		}
	}
	for _, in := range quickRefused {
		if agree(t, []byte(in)) {
			t.Errorf("taken, though outside the subset:\n%q", in)
		}
	}
}

// TestQuickAgreesOnTestdata holds the quick parser to the general one on
// every YAML file in the repository's test data, and checks that it takes
// most of them (it is there to be used).
func TestQuickAgreesOnTestdata(t *testing.T) {
	taken, total := 0, 0
	err := filepath.WalkDir("../..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "fuzz") {
			return filepath.SkipDir
		}
		if ext := filepath.Ext(p); d.IsDir() || (ext != ".yaml" && ext != ".yml") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if _, err := generalAll(data); err != nil {
			return nil // not YAML: nothing to agree on
		}
		total++
		if agree(t, data) {
			taken++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the quick parser took %d of %d YAML files", taken, total)
	if total < 20 || taken*3 < total {
		t.Errorf("the quick parser took %d of %d YAML files", taken, total)
	}
}

func FuzzQuick(f *testing.F) {
	for _, in := range append(append([]string{}, quickTaken...), quickRefused...) {
		f.Add([]byte(in))
	}
	f.Add([]byte(strings.Repeat("- a: [1, {b: c}]\n  d: 'e'\n", 3)))
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := newSource(data).lines, lineStarts(data); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: lines %v, want %v", data, got, want)
		}
		agree(t, data)
	})
}

// TestQuickGivesUpMidFile: a file whose second document is outside the
// subset is scanned by the general parser from its start, and each site is
// found once, where it is.
func TestQuickGivesUpMidFile(t *testing.T) {
	in := "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: a:1\n---\napiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: &b b:1\n  - image: c:1\n"
	if _, ok := quickAll([]byte(in)); ok {
		t.Fatal("the quick parser took an anchor")
	}
	f, err := Scan("pods.yaml", FormatManifest, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range f.Sites {
		got = append(got, fmt.Sprintf("%d:%s", s.Line, s.Written))
	}
	if want := "5:a:1 11:b:1 12:c:1"; strings.Join(got, " ") != want {
		t.Errorf("sites %v, want %s", got, want)
	}
}

// TestTagOf holds tagOf to the general parser's resolver: on the values
// manifests are full of, on the edges of its table, and on every short
// string over the characters numbers, timestamps and its words are made of.
func TestTagOf(t *testing.T) {
	values := []string{
		"nginx", "8000", "0", "00", "012", "019", "0x1F", "0o17", "0b101", "-0b1", "-0o7", "1_000",
		"1e3", "1.5", "-1", "+1", "-", "+", "123456789012345678", "1234567890123456789",
		"99999999999999999999", "18446744073709551615", "100m", "1Gi", "8080/TCP", "0.5Gi", "true",
		"True", "TRUE", "tRUE", "false", "null", "Null", "NULL", "~", "Yes", "yes", "on", "Off", "n", "y",
		".5", ".inf", "-.inf", "+.Inf", ".NaN", "0.", "1.", "2024-01-02", "2024-1-2 3:4:5",
		"2001-12-14t21:59:43.10-05:00", "2001-12-14T21:59:43Z", "2001-12-14 21:59:43.10 -5",
		"1:20", "1 2", "0x", "0xg", "1e", "1e+5", "ünï", "-image", "3.14.15", "v1",
	}
	alphabet := "019+-._:eExXoObBtTzZ ~aymNlu"
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		if prefix != "" {
			values = append(values, prefix)
		}
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			gen(prefix+string(c), n-1)
		}
	}
	gen("", 4)
	for _, v := range values {
		want := (&yaml.Node{Kind: yaml.ScalarNode, Value: v}).ShortTag()
		if got := tagOf(v); got != want {
			t.Errorf("tagOf(%q) = %s, the general parser says %s", v, got, want)
		}
	}
}

// TestQuickLetsDocumentsGo: each document's nodes are taken back once it
// is handed over, so a file of many documents holds one document's blocks.
func TestQuickLetsDocumentsGo(t *testing.T) {
	var sb strings.Builder
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&sb, "---\napiVersion: v1\nkind: Pod\nspec: {containers: [{name: c, image: r%d:1}]}\n", i)
	}
	data := []byte(sb.String())
	q := newQuick(data, newSource(data).lines)
	defer q.release()
	var prev *yaml.Node
	n := 0
	taken, err := q.each(func(doc *yaml.Node) error {
		if prev != nil && doc != prev {
			t.Fatalf("document %d: not built where the one before was, which was let go", n)
		}
		if len(q.nodes.held) > 1 || len(q.ptrs.held) > 1 {
			t.Fatalf("document %d: %d node blocks and %d pointer blocks held", n, len(q.nodes.held), len(q.ptrs.held))
		}
		if got := doc.Content[0].Content[5].Content[1].Content[0].Content[3].Value; got != fmt.Sprintf("r%d:1", n) {
			t.Fatalf("document %d: image %q", n, got)
		}
		prev = doc
		n++
		return nil
	})
	if !taken || err != nil || n != 2000 {
		t.Errorf("taken %v, %v, %d documents", taken, err, n)
	}
}

// plainTextByByte is plainText one character at a time, as it was before
// it took eight bytes at once: the reference TestPlainText holds it to.
func plainTextByByte(data []byte) bool {
	for i := 0; i < len(data); {
		n, ok := plainRune(data, i)
		if !ok {
			return false
		}
		i += n
	}
	return true
}

func TestPlainText(t *testing.T) {
	// Every byte value at every place of a 17-byte text of printable
	// characters and line breaks (so both the eight-byte path and the
	// byte-at-a-time tail see it), then two-byte pairs (CRLF, the lead
	// bytes of multi-byte characters) at the places that straddle words.
	base := []byte("key: value\nab: c\n")
	check := func(data []byte) {
		t.Helper()
		if got, want := plainText(data), plainTextByByte(data); got != want {
			t.Fatalf("plainText(%q) = %v, want %v", data, got, want)
		}
	}
	taken := 0
	for at := range base {
		for c := 0; c < 256; c++ {
			data := bytes.Clone(base)
			data[at] = byte(c)
			check(data)
			if plainText(data) {
				taken++
			}
		}
	}
	if taken < 95*len(base) { // each printable character at each place, at least
		t.Fatalf("only %d one-byte variants taken", taken)
	}
	for _, pair := range []string{"\r\n", "\r\r", "\n\r", "é", "\u2028", "\uFEFF", "\u00A0", "\x85", "\xc2\x85", "\xed\xa0\x80", "\xef\xbf\xbe"} {
		for at := 0; at+len(pair) <= 24; at++ {
			data := append(bytes.Repeat([]byte("x"), 24), pair...)
			copy(data[at:], pair)
			check(data)
		}
	}
	// random texts, mostly printable
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 200000; n++ {
		data := make([]byte, rng.IntN(40))
		for i := range data {
			switch r := rng.IntN(100); {
			case r < 80:
				data[i] = byte(0x20 + rng.IntN(0x5f))
			case r < 90:
				data[i] = '\n'
			default:
				data[i] = byte(rng.IntN(256))
			}
		}
		check(data)
	}
}

func TestCommentAt(t *testing.T) {
	for _, s := range []string{"", "#", " #", "a #b", "a#b #c", "##", "a ## b", "key", "a: b # c", "#x #", "é #"} {
		if got, want := commentAt([]byte(s)), bytes.Index([]byte(s), []byte(" #")); got != want {
			t.Errorf("commentAt(%q) = %d, want %d", s, got, want)
		}
	}
	for _, c := range []struct {
		s         string
		ok, ascii bool
	}{{"a: b\n", true, true}, {"a: é\n", true, false}, {"0123456789abcdé\n", true, false}, {"a\tb", false, false}, {"", true, true}} {
		if ok, ascii := plainASCII([]byte(c.s)); ok != c.ok || ascii != c.ascii {
			t.Errorf("plainASCII(%q) = %v, %v", c.s, ok, ascii)
		}
	}
}
