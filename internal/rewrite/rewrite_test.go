package rewrite

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

func TestDetect(t *testing.T) {
	for p, want := range map[string]Format{
		"Dockerfile":                         FormatDockerfile,
		"build/Containerfile":                FormatDockerfile,
		"Dockerfile.prod":                    FormatDockerfile,
		"api.Dockerfile":                     FormatDockerfile,
		"Dockerfile.dockerignore":            FormatNone,
		"dockerfile.go":                      FormatNone,
		"kustomization.yaml":                 FormatKustomization,
		"overlays/prod/Kustomization":        FormatKustomization,
		".github/workflows/ci.yml":           FormatWorkflow,
		"sub/.github/workflows/ci.yaml":      FormatWorkflow,
		".github/dependabot.yml":             FormatManifest,
		"action.yml":                         FormatAction,
		"compose.yaml":                       FormatCompose,
		"docker-compose.override.yml":        FormatCompose,
		"compose.prod.yaml":                  FormatCompose,
		"deploy/app.yaml":                    FormatManifest,
		"README.md":                          FormatNone,
		"charts/x/templates/deployment.tmpl": FormatNone,
	} {
		if got := Detect(p); got != want {
			t.Errorf("Detect(%q) = %v, want %v", p, got, want)
		}
	}
}

func rewriteString(t *testing.T, name, in string) string {
	t.Helper()
	out, _ := pin(t, name, []byte(in), PolicyIfNotPresent)
	return string(out)
}

func TestNoFinalNewline(t *testing.T) {
	for _, eol := range []string{"\n", "\r\n"} {
		in := strings.ReplaceAll("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: nginx:1.25", "\n", eol)
		d := fakeDigest("index.docker.io/library/nginx:1.25")
		want := strings.ReplaceAll("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: nginx:1.25@"+d+"\n    imagePullPolicy: IfNotPresent", "\n", eol)
		if got := rewriteString(t, "pod.yaml", in); got != want {
			t.Errorf("got %q\nwant %q", got, want)
		}
	}
}

func TestLoneCarriageReturns(t *testing.T) {
	in := "apiVersion: v1\rkind: Pod\rspec:\r  containers:\r  - image: nginx:1.25\r    name: a\r"
	d := fakeDigest("index.docker.io/library/nginx:1.25")
	want := "apiVersion: v1\rkind: Pod\rspec:\r  containers:\r  - image: nginx:1.25@" + d + "\r    imagePullPolicy: IfNotPresent\r    name: a\r"
	if got := rewriteString(t, "pod.yaml", in); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestFlowMappingOverLines(t *testing.T) {
	in := "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: a,\n    image: 'nginx:1.25',\n    args: [x]}]\n"
	d := fakeDigest("index.docker.io/library/nginx:1.25")
	want := "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: a,\n    image: 'nginx:1.25@" + d + "', imagePullPolicy: IfNotPresent,\n    args: [x]}]\n"
	if got := rewriteString(t, "pod.yaml", in); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	for name, tc := range map[string]struct {
		in   string
		line int
	}{
		"helm.yaml": {"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  {{- range .Values.containers }}\n  - image: {{ .image }}\n  {{- end }}\n", 5},
		// the line at fault, not the block it breaks (yaml.v3 names the line before that)
		"typo.yaml":   {"apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n   image: nginx\n", 6},
		"dupe.yaml":   {"apiVersion: v1\nkind: Pod\nkind: Pod\n", 3},
		"Dockerfile":  {"FROM nginx\nRUN <<EOF\necho\n", 2},
		"compose.yml": {"services:\n  a:\n    image: [nginx\n", 3},
		"flow.yaml":   {"apiVersion: v1\nkind: Pod\nspec:\n  containers: [{image: a}\n  volumes: []\n", 4},
	} {
		_, err := Scan(name, Detect(name), []byte(tc.in))
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%s: err = %v, want a *ParseError", name, err)
			continue
		}
		if pe.Line != tc.line {
			t.Errorf("%s: error %q names line %d, want %d", name, pe, pe.Line, tc.line)
		}
	}
}

func TestApply(t *testing.T) {
	data := []byte("0123456789")
	out, err := Apply(data, []Edit{{5, 5, "b"}, {2, 4, "X"}, {5, 5, "c"}, {2, 4, "X"}, {10, 10, "!"}})
	if err != nil || string(out) != "01X4bc56789!" {
		t.Errorf("Apply = %q, %v", out, err)
	}
	if _, err := Apply(data, []Edit{{2, 6, "X"}, {4, 8, "Y"}}); err == nil {
		t.Error("overlapping edits were applied")
	}
	if _, err := Apply(data, []Edit{{8, 12, "X"}}); err == nil {
		t.Error("an edit past the end was applied")
	}
}

func TestSourceOffsets(t *testing.T) {
	s := newSource([]byte("\ufeffab\r\nçd\re\u2028f\n"))
	for _, tc := range []struct{ line, col, off int }{
		{1, 1, 3}, {1, 2, 4}, {2, 1, 7}, {2, 2, 9}, {3, 1, 11}, {4, 1, 15},
	} {
		if off, ok := s.offset(tc.line, tc.col); !ok || off != tc.off {
			t.Errorf("offset(%d,%d) = %d, %v; want %d", tc.line, tc.col, off, ok, tc.off)
		}
		if l := s.lineOf(tc.off); l != tc.line {
			t.Errorf("lineOf(%d) = %d, want %d", tc.off, l, tc.line)
		}
		if c := s.columnOf(tc.off); c != tc.col {
			t.Errorf("columnOf(%d) = %d, want %d", tc.off, c, tc.col)
		}
	}
	if _, ok := s.offset(1, 9); ok {
		t.Error("a column past the line's end was accepted")
	}
	// Every place of texts mixing ASCII lines (the fast path) with others,
	// against a character-at-a-time walk.
	for _, text := range []string{"ab\ncd\r\nef", "a\u2028b\nçé\nxy\x85z", "\ufeffk: v\n  - x\n", "abc", "a\rb\r\n\n"} {
		s := newSource([]byte(text))
		for line := 0; line <= len(s.lines())+1; line++ {
			for col := 0; col <= len(text)+2; col++ {
				want, wantOK := -1, false
				if line >= 1 && line <= len(s.lines()) && col >= 1 {
					want, wantOK = s.lines()[line-1], true
					for c := 1; c < col; c++ {
						if want >= len(s.data) || breakLen(s.data, want) > 0 {
							want, wantOK = -1, false
							break
						}
						_, w := utf8.DecodeRune(s.data[want:])
						want += w
					}
				}
				got, ok := s.offset(line, col)
				if ok != wantOK || (ok && got != want) {
					t.Errorf("%q: offset(%d,%d) = %d, %v; want %d, %v", text, line, col, got, ok, want, wantOK)
				}
			}
		}
	}
}

func TestUneditableFormsAreSkipped(t *testing.T) {
	in := "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: >-\n      nginx:1.25\n  - name: b\n    image: \"ngin\\x78:1.25\"\n"
	f, err := Scan("pod.yaml", FormatManifest, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Sites) != 2 {
		t.Fatalf("sites = %s", describeSites(f.Sites))
	}
	for _, s := range f.Sites {
		if !strings.HasPrefix(s.Skip, ReasonUneditable) {
			t.Errorf("%s: skip = %q, want %q", s.Written, s.Skip, ReasonUneditable)
		}
	}
	if got := rewriteString(t, "pod.yaml", in); got != in {
		t.Errorf("an uneditable file changed:\n%s", got)
	}
}

// lineStarts is a source's line index computed the plain way: after every
// LF, CRLF, lone CR, NEL, LS and PS, past a leading byte order mark.
func lineStarts(data []byte) []int {
	start := 0
	if bytes.HasPrefix(data, bom) {
		start = len(bom)
	}
	starts := []int{start}
	for i := start; i < len(data); {
		switch {
		case bytes.HasPrefix(data[i:], []byte("\r\n")):
			i += 2
		case data[i] == '\n' || data[i] == '\r':
			i++
		case bytes.HasPrefix(data[i:], []byte("\u0085")), bytes.HasPrefix(data[i:], []byte("\u2028")), bytes.HasPrefix(data[i:], []byte("\u2029")):
			i += len(string([]rune(string(data[i:]))[0]))
		default:
			i++
			continue
		}
		starts = append(starts, i)
	}
	return starts
}

func TestSourceLines(t *testing.T) {
	for _, in := range []string{
		"", "a", "a\n", "\n\n", "a\nb", "a\r\nb\r\n", "a\rb", "\r", "\r\r\n", "a\u0085b\u2028c\u2029d",
		"\ufeff", "\ufeffa\nb", "\xc2\n\xe2\x80\n\xe2\x80\xa8", "é\nà\r\n€", "x\xc2", "x\xe2\x80",
	} {
		if got, want := newSource([]byte(in)).lines(), lineStarts([]byte(in)); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: lines %v, want %v", in, got, want)
		}
	}
}

// TestDuplicateKeys: a mapping naming a key twice is refused, with the
// line of each, whether it has a few keys or many; merge keys may repeat.
func TestDuplicateKeys(t *testing.T) {
	var many strings.Builder
	many.WriteString("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: nginx:1\n")
	many.WriteString("metadata:\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&many, "  k%d: v\n", i)
	}
	many.WriteString("  k7: again\n")
	for _, tc := range []struct {
		name, in string
		line     int // 0: accepted
		msg      string
	}{
		{"few", "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: nginx:1\n    name: b\n", 7, `mapping key "name" already defined at line 5`},
		{"flow", "apiVersion: v1\nkind: Pod\nspec: {containers: [{image: a:1, image: b:1}]}\n", 3, `mapping key "image" already defined at line 3`},
		{"many", many.String(), 48, `mapping key "k7" already defined at line 15`},
		{"second document", "kind: A\n---\napiVersion: v1\nkind: Pod\nkind: Pod\n", 5, `mapping key "kind" already defined at line 4`},
		{"merge keys", "base: &b {x: 1}\nother: &o {y: 2}\nm:\n  <<: *b\n  <<: *o\n", 0, ""},
		{"same key in two mappings", "a: {k: 1}\nb: {k: 1}\n", 0, ""},
	} {
		_, err := Scan("pod.yaml", FormatManifest, []byte(tc.in))
		var pe *ParseError
		switch {
		case tc.line == 0 && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.line == 0:
		case !errors.As(err, &pe) || pe.Line != tc.line || pe.Msg != tc.msg:
			t.Errorf("%s: %v, want line %d: %s", tc.name, err, tc.line, tc.msg)
		}
	}
}

// TestParsedOnce: a reference is parsed once for the run; once the run's
// cache is full, once per file.
func TestParsedOnce(t *testing.T) {
	in := "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - {name: a, image: 'nginx:1.25'}\n  - {name: b, image: nginx:1.25}\n  - {name: c, image: 'nginx:1.25@sha256:bad'}\n"
	check := func(wantOwn int) {
		t.Helper()
		f, err := Scan("pod.yaml", FormatManifest, []byte(in))
		if err != nil {
			t.Fatal(err)
		}
		a, b, c := f.Sites[0], f.Sites[1], f.Sites[2]
		if a.Ref != b.Ref || a.Ref.Name != "nginx" || a.Ref.Tag != "1.25" || a.Skip != "" || b.Skip != "" {
			t.Errorf("sites %+v and %+v", a, b)
		}
		if !strings.Contains(c.Skip, "not sha256") {
			t.Errorf("a bad digest: skip %q", c.Skip)
		}
		if len(f.parsed) != wantOwn {
			t.Errorf("the file parsed %d references itself, want %d", len(f.parsed), wantOwn)
		}
	}
	defer parsedCount.Store(parsedCount.Load())
	parsedCount.Store(0)
	check(0)
	parsedCount.Store(maxParsed)
	parsedRefs.Delete("nginx:1.25")
	parsedRefs.Delete("nginx:1.25@sha256:bad")
	check(2)
}

func TestWalkOnce(t *testing.T) {
	w := &yamlWalk{seen: map[*yaml.Node]bool{}}
	nodes := make([]*yaml.Node, 20)
	for i := range nodes {
		nodes[i] = &yaml.Node{Kind: yaml.MappingNode}
	}
	alias := &yaml.Node{Kind: yaml.AliasNode, Alias: nodes[3]}
	for round := 0; round < 2; round++ {
		for n := 1; n <= len(nodes); n++ { // the first n, each twice
			for i, m := range nodes[:n] {
				if got, want := w.once(m), i == n-1 && round == 0; got != want {
					t.Fatalf("round %d, %d nodes: once(node %d) = %v", round, n, i, got)
				}
			}
		}
		if w.once(alias) || w.once(nil) {
			t.Fatal("an alias to a node seen, or nil, was new")
		}
	}
	w.seen = map[*yaml.Node]bool{} // a new document
	if !w.once(nodes[0]) || !w.once(alias) {
		t.Error("a new document remembered the last one's nodes")
	}
}

// TestDockerfileFlagsEndAtTheFirstArgument: "--from=" and "--mount=" are
// flags only before an instruction's first argument; after it they are a
// file's name or a word of a command, and never rewritten.
func TestDockerfileFlagsEndAtTheFirstArgument(t *testing.T) {
	in := "FROM golang:1.22 AS build\n" +
		"COPY --from=nginx:1.25 /etc/nginx /x\n" +
		"COPY --chown=1 src --from=redis:7 /y\n" +
		"COPY --from=memcached:1 a --from=memcached:1 /z\n" +
		"RUN --mount=type=cache,from=alpine:3,target=/c make\n" +
		"RUN buildah build --mount=type=cache,from=busybox:1,target=/d .\n"
	f, err := Scan("Dockerfile", FormatDockerfile, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range f.Sites {
		got = append(got, fmt.Sprintf("%d:%s", s.Line, s.Written))
	}
	if want := "1:golang:1.22 2:nginx:1.25 4:memcached:1 5:alpine:3"; strings.Join(got, " ") != want {
		t.Errorf("sites %v, want %s", got, want)
	}
	out, _, err := f.Rewrite(func(*Site) string { return "sha256:" + strings.Repeat("a", 64) }, PolicyKeep)
	if err != nil {
		t.Fatal(err)
	}
	for _, kept := range []string{"src --from=redis:7 /y", "a --from=memcached:1 /z", "buildah build --mount=type=cache,from=busybox:1,target=/d ."} {
		if !strings.Contains(string(out), kept) {
			t.Errorf("%q was rewritten:\n%s", kept, out)
		}
	}
}

func TestMayNameImages(t *testing.T) {
	for _, tc := range []struct {
		format Format
		data   string
		want   bool
	}{
		{FormatManifest, "kind: Pod\nspec:\n  containers:\n  - name: a\n\timage: nginx:1.25\n", true},
		{FormatManifest, "{\"spec\": {\"image\": \"x\"", true},
		{FormatHelmValues, "app:\n  repository: nginx\n tag: 1\n", true},
		{FormatCompose, "services: {a: {imageName: x}", true},
		{FormatDevcontainer, "{\"image\": " + "[[[", true},
		{FormatManifest, "kind: ConfigMap\ndata:\n  a: b\n\tc: d\n", false},
		{FormatManifest, "description: an image of the world\n", false},
		{FormatDockerfile, "# syntax=x\nfrom alpine\n", true},
		{FormatDockerfile, "RUN echo FROM\n", false},
	} {
		if got := MayNameImages(tc.format, []byte(tc.data)); got != tc.want {
			t.Errorf("%v %q: %v, want %v", tc.format, tc.data, got, tc.want)
		}
	}
}

// A scanned file keeps no line index (a tree of many thousand files would
// keep them all until its edits), and an edit that needs one makes it again.
func TestScanDropsTheLineIndex(t *testing.T) {
	in := "FROM alpine:3.20\nRUN true\nFROM nginx:1.25 AS web\n"
	f, err := Scan("Dockerfile", FormatDockerfile, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if f.src.index != nil {
		t.Error("the scan kept its line index")
	}
	if len(f.Sites) != 2 || f.Sites[1].Line != 3 {
		t.Fatalf("sites = %s", describeSites(f.Sites))
	}
	if got, want := f.src.lineOf(len(in)-3), 3; got != want {
		t.Errorf("lineOf after the drop = %d, want %d", got, want)
	}
}
