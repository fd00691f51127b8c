package rewrite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

var update = flag.Bool("update", false, "rewrite the want and sites sections of testdata/golden/*.txtar")

// fakeDigest is the digest the golden tests' registry serves for a tag:
// derived from the canonical name, so every case agrees.
func fakeDigest(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func fakeResolve(s *Site) string {
	if s.Ref.Follows() == "" { // pinned by digest alone: it keeps its digest
		return s.Ref.Digest
	}
	ref := s.Ref
	if moved := s.MovedTag(); moved != "" {
		ref.Tag, ref.Digest = moved, ""
	}
	c, err := ref.Canonical()
	if err != nil {
		return ""
	}
	if strings.Contains(c.Name(), "unresolvable") { // stands for a registry failure
		return ""
	}
	if s.TagSlot() { // the tag (here appVersion's, as no chart renders it) with the digest
		return ref.Tag + "@" + fakeDigest(c.Name())
	}
	return fakeDigest(c.Name())
}

// goldenCase is one testdata/golden/*.txtar: the archive comment holds
// "key: value" options (policy), then sections
//
//	-- <file name> --   the input, whose name decides the format
//	-- want --          the file after pinning
//	-- sites --         every site found: line:column kind written [skip: reason]
type goldenCase struct {
	path    string
	ar      *txtar.Archive
	name    string // the input's file name
	input   []byte
	want    []byte
	sites   string
	policy  PullPolicy
	context map[string][]byte // other files of the checkout (context: a b)
	cx      *Context
}

func loadGolden(t *testing.T, path string) *goldenCase {
	t.Helper()
	ar, err := txtar.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	gc := &goldenCase{path: path, ar: ar, policy: PolicyIfNotPresent}
	gc.context = map[string][]byte{}
	isContext := map[string]bool{}
	for _, line := range strings.Split(string(ar.Comment), "\n") {
		if v, ok := strings.CutPrefix(line, "policy: "); ok {
			if gc.policy, err = ParsePullPolicy(strings.TrimSpace(v)); err != nil {
				t.Fatal(err)
			}
		}
		if v, ok := strings.CutPrefix(line, "context: "); ok {
			for _, f := range strings.Fields(v) {
				isContext[f] = true
			}
		}
	}
	for _, f := range ar.Files {
		switch {
		case f.Name == "want":
			gc.want = f.Data
		case f.Name == "sites":
			gc.sites = string(f.Data)
		case isContext[f.Name]:
			gc.context[f.Name] = f.Data
		default:
			gc.name, gc.input = f.Name, f.Data
		}
	}
	if gc.name == "" {
		t.Fatalf("%s: no input file", path)
	}
	files := []string{gc.name}
	for name := range gc.context {
		files = append(files, name)
	}
	gc.cx = NewContext(files, func(p string) ([]byte, error) {
		if d, ok := gc.context[p]; ok {
			return d, nil
		}
		return nil, os.ErrNotExist
	})
	return gc
}

func describeSites(sites []*Site) string {
	var b strings.Builder
	for _, s := range sites {
		fmt.Fprintf(&b, "%d:%d %s %s", s.Line, s.Column, s.Kind, s.Written)
		if s.PullPolicy != "" {
			fmt.Fprintf(&b, " policy=%s", s.PullPolicy)
		}
		if s.Skip != "" {
			fmt.Fprintf(&b, " [skip: %s]", s.Skip)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func pin(t *testing.T, name string, data []byte, pol PullPolicy) ([]byte, *File) {
	t.Helper()
	return pinIn(t, nil, name, data, pol)
}

func pinIn(t *testing.T, cx *Context, name string, data []byte, pol PullPolicy) ([]byte, *File) {
	t.Helper()
	f, err := ScanIn(context.Background(), cx, name, cx.Detect(name), data)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	out, _, err := f.Rewrite(fakeResolve, pol)
	if err != nil {
		t.Fatalf("Rewrite: %v", err)
	}
	return out, f
}

// variants are the same case with other line endings and a byte order mark:
// every golden case must hold for all of them.
var variants = []struct {
	name string
	conv func([]byte) []byte
}{
	{"lf", func(b []byte) []byte { return b }},
	{"crlf", func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) }},
	{"bom-crlf", func(b []byte) []byte {
		return append([]byte("\ufeff"), bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))...)
	}},
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			gc := loadGolden(t, path)
			out, f := pinIn(t, gc.cx, gc.name, gc.input, gc.policy)
			sites := describeSites(f.Sites)
			if *update {
				for i := range gc.ar.Files {
					switch gc.ar.Files[i].Name {
					case "want":
						gc.ar.Files[i].Data = out
					case "sites":
						gc.ar.Files[i].Data = []byte(sites)
					}
				}
				if err := os.WriteFile(path, txtar.Format(gc.ar), 0o644); err != nil {
					t.Fatal(err)
				}
				// the checks below hold the new want to the same rules
				gc.want, gc.sites = out, sites
			}
			if sites != gc.sites {
				t.Errorf("sites:\n%s\nwant:\n%s", sites, gc.sites)
			}
			for _, v := range variants {
				in, want := v.conv(gc.input), v.conv(gc.want)
				got, _ := pinIn(t, gc.cx, gc.name, in, gc.policy)
				if !bytes.Equal(got, want) {
					t.Errorf("%s: got\n%s\nwant\n%s", v.name, got, want)
					continue
				}
				again, _ := pinIn(t, gc.cx, gc.name, got, gc.policy)
				if !bytes.Equal(again, got) {
					t.Errorf("%s: a second run changed the file again:\n%s", v.name, again)
				}
				checkOnlyImageLines(t, in, got)
				switch gc.cx.Detect(gc.name).Kind() {
				case "YAML":
					checkSameTree(t, in, got)
				case "JSON":
					if json.Valid(in) && !json.Valid(got) {
						t.Errorf("%s: valid JSON in, invalid JSON out:\n%s", v.name, got)
					}
				}
			}
		})
	}
}

var (
	digestRE    = regexp.MustCompile(`@?sha256:[0-9a-f]{64}`)
	addedLineRE = regexp.MustCompile(`^\s*(imagePullPolicy: (IfNotPresent|Always)|digest: sha256:[0-9a-f]{64}|tag: "[A-Za-z0-9_.-]+@sha256:[0-9a-f]{64}" # pinbot:appVersion=\S+)\r?$`)
	// a tag pinbot took from appVersion, written with its digest (in
	// place of "", null, ~ or nothing), and its mark at the line's end
	appVersionMarkEndRE = regexp.MustCompile(` # pinbot:appVersion=\S+(\r?)$`)
	appVersionTagRE     = regexp.MustCompile(`^(\s*tag:)(?: ?"[A-Za-z0-9_.-]*"| null| ~)?`)
)

// checkOnlyImageLines: every changed line differs only by a digest (or a
// policy value), and every added line is an imagePullPolicy or digest field.
func checkOnlyImageLines(t *testing.T, before, after []byte) {
	t.Helper()
	a := strings.Split(string(before), "\n")
	b := strings.Split(string(after), "\n")
	i := 0
	for _, line := range b {
		if i < len(a) && norm(a[i]) == norm(line) {
			i++
			continue
		}
		if !addedLineRE.MatchString(line) {
			t.Errorf("line %q is neither an original line with a digest nor an added field", line)
		}
	}
	if i != len(a) {
		t.Errorf("original line %d (%q) is missing from the output", i+1, a[i])
	}
}

var addedInStringRE = regexp.MustCompile(`(?m)^[ \t]*(digest: sha256:[0-9a-f]{64}|imagePullPolicy: IfNotPresent)\n`)

var flowDigestRE = regexp.MustCompile(`, digest: sha256:[0-9a-f]{64}`)

func norm(line string) string {
	line = flowDigestRE.ReplaceAllString(line, "")
	line = digestRE.ReplaceAllString(line, "")
	line = appVersionMarkEndRE.ReplaceAllString(line, "$1")
	line = appVersionTagRE.ReplaceAllString(line, "$1")
	line = strings.ReplaceAll(line, ", imagePullPolicy: IfNotPresent", "")
	line = strings.ReplaceAll(line, ", imagePullPolicy: Always", "")
	line = strings.ReplaceAll(line, `, "imagePullPolicy": "IfNotPresent"`, "")
	line = strings.ReplaceAll(line, `, "imagePullPolicy": "Always"`, "")
	line = strings.ReplaceAll(line, "IfNotPresent", "Always")
	return line
}

// checkSameTree: the YAML means the same before and after, but for digests,
// imagePullPolicy and kustomize digest fields.
func checkSameTree(t *testing.T, before, after []byte) {
	t.Helper()
	load := func(b []byte) []any {
		var docs []any
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var v any
			if err := dec.Decode(&v); err != nil {
				break
			}
			docs = append(docs, scrub(v))
		}
		return docs
	}
	if a, b := load(before), load(after); !reflect.DeepEqual(a, b) {
		t.Errorf("the YAML changed beyond digests and pull policies:\nbefore %v\nafter  %v", a, b)
	}
}

func scrub(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			// a Helm map's tag may gain the one appVersion gives (or move with it)
			if k == "imagePullPolicy" || k == "digest" || k == "pullPolicy" || k == "tag" {
				continue
			}
			out[k] = scrub(e)
		}
		return out
	case map[any]any:
		out := map[any]any{}
		for k, e := range x {
			if k == "imagePullPolicy" || k == "digest" {
				continue
			}
			out[k] = scrub(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = scrub(e)
		}
		return out
	case string:
		// a YAML document in a string (Argo CD's helm.values) changes as a file does
		x = addedInStringRE.ReplaceAllString(x, "")
		x = strings.ReplaceAll(x, "IfNotPresent", "Always")
		return digestRE.ReplaceAllString(x, "")
	}
	return v
}
