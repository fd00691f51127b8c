package rewrite

import (
	"strings"
	"testing"
)

const sha1 = "1111111111111111111111111111111111111111"

// TestUses: every written form of a "uses:" is found, and pinning it to a
// commit changes its ref and its version comment alone.
func TestUses(t *testing.T) {
	in := `name: ci
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: "actions/setup-go@v5"   # set up Go
      - uses: 'github/codeql-action/init@v3'
      - {uses: actions/cache@v4, with: {path: x}}
      - uses: actions/upload-artifact@` + sha1 + ` # v4.3.1
      - uses: docker/build-push-action@` + sha1 + ` # ratchet:docker/build-push-action@v6
      - uses: owner/tool@` + sha1 + ` # tag=v1.2.3
      - uses: ./local/action
      - uses: owner/${{ matrix.repo }}@v1
      - uses: owner/norefs
      - uses: owner/empty@
      - uses: docker://alpine:3.19
      - uses: owner/ignored@v1 # pinbot:ignore
      - uses: owner/excluded@v1 # ratchet:exclude
  call:
    uses: org/workflows/.github/workflows/release.yml@main
`
	f, err := Scan(".github/workflows/ci.yml", FormatWorkflow, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	type use struct{ written, repo, path, ref, comment, skip string }
	wants := []use{
		{"actions/checkout@v4", "actions/checkout", "", "v4", "", ""},
		{"actions/setup-go@v5", "actions/setup-go", "", "v5", "", ""},
		{"github/codeql-action/init@v3", "github/codeql-action", "init", "v3", "", ""},
		{"actions/cache@v4", "actions/cache", "", "v4", "", ""},
		{"actions/upload-artifact@" + sha1, "actions/upload-artifact", "", sha1, "v4.3.1", ""},
		{"docker/build-push-action@" + sha1, "docker/build-push-action", "", sha1, "v6", ""},
		{"owner/tool@" + sha1, "owner/tool", "", sha1, "v1.2.3", ""},
		{"./local/action", "", "", "", "", ReasonLocalAction},
		{"owner/${{ matrix.repo }}@v1", "", "", "", "", ReasonVariable},
		{"owner/norefs", "", "", "", "", ReasonUsesNoRef},
		{"owner/empty@", "", "", "", "", ReasonUsesEmpty},
		{"owner/ignored@v1", "owner/ignored", "", "v1", "", ReasonIgnored},
		{"owner/excluded@v1", "owner/excluded", "", "v1", "", "ratchet:exclude: left as its author asked"},
		{"org/workflows/.github/workflows/release.yml@main", "org/workflows", ".github/workflows/release.yml", "main", "", ""},
	}
	if len(f.Uses) != len(wants) {
		for _, u := range f.Uses {
			t.Logf("%+v", *u)
		}
		t.Fatalf("%d uses, want %d", len(f.Uses), len(wants))
	}
	for i, w := range wants {
		u := f.Uses[i]
		if u.Written != w.written || u.Repo != w.repo || u.Path != w.path || u.Ref != w.ref || u.Comment != w.comment || u.Skip != w.skip {
			t.Errorf("use %d: %+v, want %+v", i, *u, w)
		}
	}
	if f.Uses[len(f.Uses)-1].Kind != UseReusable || f.Uses[0].Kind != UseStep {
		t.Errorf("kinds: %s, %s", f.Uses[0].Kind, f.Uses[len(f.Uses)-1].Kind)
	}
	if len(f.Sites) != 1 || f.Sites[0].Written != "alpine:3.19" {
		t.Errorf("the docker:// image: %v", f.Sites)
	}

	const sha2 = "2222222222222222222222222222222222222222"
	var edits []Edit
	for _, u := range f.Uses {
		if u.Skip == "" {
			edits = append(edits, u.UseEdits(sha2, u.Tracks())...)
		}
	}
	// a pinned use whose tracked ref moved: the SHA alone changes
	out, err := Apply([]byte(in), edits)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer(
		"actions/checkout@v4\n", "actions/checkout@"+sha2+" # v4\n",
		`"actions/setup-go@v5"   # set up Go`, `"actions/setup-go@`+sha2+`"   # v5 # set up Go`,
		`'github/codeql-action/init@v3'`, `'github/codeql-action/init@`+sha2+`' # v3`,
		"{uses: actions/cache@v4, with: {path: x}}", "{uses: actions/cache@"+sha2+", with: {path: x}} # v4",
		"upload-artifact@"+sha1, "upload-artifact@"+sha2,
		"build-push-action@"+sha1, "build-push-action@"+sha2,
		"tool@"+sha1, "tool@"+sha2,
		"release.yml@main\n", "release.yml@"+sha2+" # main\n",
	).Replace(in)
	if string(out) != want {
		t.Errorf("pinned:\n%s\nwant:\n%s", out, want)
	}
	// pinned again: nothing to do
	again, err := Scan(".github/workflows/ci.yml", FormatWorkflow, out)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range again.Uses {
		if u.Skip != "" {
			continue
		}
		if e := u.UseEdits(sha2, u.Tracks()); len(e) != 0 {
			t.Errorf("%s: pinned again: %v", u.Written, e)
		}
		if u.Tracks() == "" {
			t.Errorf("%s tracks nothing", u.Written)
		}
	}
	// a tracked ref that changes: the comment follows, in its style
	u := again.Uses[5] // ratchet
	e := u.UseEdits(sha1, "v7")
	out2, _ := Apply(out, e)
	if !strings.Contains(string(out2), "build-push-action@"+sha1+" # ratchet:docker/build-push-action@v7\n") {
		t.Errorf("ratchet comment: %s", out2)
	}
}

// TestUsesRefsGitHubCannotBeAsked: a ref or a comment that would step out
// of the repository's path in GitHub's API (../../user) is never read as a
// ref to ask; nor an owner or repository named "." or "..".
func TestUsesRefsGitHubCannotBeAsked(t *testing.T) {
	in := "jobs:\n  a:\n    steps:\n" +
		"      - uses: o/r@../../../../user\n" +
		"      - uses: ../r@v1\n" +
		"      - uses: o/..@v1\n" +
		"      - uses: o/r@" + sha1 + " # ../../user\n" +
		"      - uses: o/r@" + sha1 + " # ratchet:o/r@../../user\n" +
		"      - uses: o/r@refs//heads\n" +
		"      - uses: o/r@v1.lock\n"
	f, err := Scan(".github/workflows/a.yml", FormatWorkflow, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Uses) != 7 {
		t.Fatalf("%d uses", len(f.Uses))
	}
	for _, k := range []int{0, 2, 5, 6} {
		if f.Uses[k].Skip != ReasonUsesForm {
			t.Errorf("%s: %q", f.Uses[k].Written, f.Uses[k].Skip)
		}
	}
	if f.Uses[1].Skip == "" {
		t.Errorf("%s is pinned", f.Uses[1].Written)
	}
	for _, k := range []int{3, 4} {
		if u := f.Uses[k]; u.Skip != "" || u.Tracks() != "" {
			t.Errorf("%s: tracks %q (skip %q)", u.Written, u.Tracks(), u.Skip)
		}
	}
}

// TestUsesThroughAnAlias: a uses: that is an alias is pinned where its
// anchor holds the value, once for all its aliases.
func TestUsesThroughAnAlias(t *testing.T) {
	in := "jobs:\n  a:\n    steps:\n      - uses: &co actions/checkout@v4\n  b:\n    steps:\n      - uses: *co\n"
	f, err := Scan(".github/workflows/a.yml", FormatWorkflow, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Uses) != 2 || f.Uses[1].Skip != "" || f.Uses[1].Repo != "actions/checkout" {
		t.Fatalf("uses: %+v", f.Uses)
	}
	var edits []Edit
	for _, u := range f.Uses {
		edits = append(edits, u.UseEdits(sha1, u.Tracks())...)
	}
	out, err := Apply([]byte(in), edits)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(in, "&co actions/checkout@v4\n", "&co actions/checkout@"+sha1+" # v4\n", 1); string(out) != want {
		t.Errorf("got %q\nwant %q", out, want)
	}
}

// TestUsesInCompositeActionAndCRLF: a composite action's steps are read,
// and a CRLF file keeps its line breaks.
func TestUsesInCompositeActionAndCRLF(t *testing.T) {
	in := "runs:\r\n  using: composite\r\n  steps:\r\n    - uses: actions/setup-node@v4\r\n      with: {node-version: 20}\r\n"
	f, err := Scan("action.yml", FormatAction, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Uses) != 1 || f.Uses[0].Repo != "actions/setup-node" {
		t.Fatalf("uses: %v", f.Uses)
	}
	out, err := Apply([]byte(in), f.Uses[0].UseEdits(sha1, "v4"))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(in, "setup-node@v4\r\n", "setup-node@"+sha1+" # v4\r\n", 1); string(out) != want {
		t.Errorf("got %q\nwant %q", out, want)
	}
}

// FuzzUses: whatever a workflow holds, pinning its uses changes nothing
// but their refs and version comments: the file still parses as the same
// YAML but for those values, each use then names the commit and tracks the
// ref it was given, and pinning again changes nothing.
func FuzzUses(f *testing.F) {
	f.Add("jobs:\n  a:\n    steps:\n      - uses: actions/checkout@v4\n      - {uses: a/b@v1, with: {x: 1}} # note\n")
	f.Add("jobs:\n  a:\n    uses: o/r/.github/workflows/w.yml@main # ratchet:o/r/.github/workflows/w.yml@main\n")
	f.Add("jobs:\n  a:\n    steps:\n      - uses: 'x/y@" + sha1 + "' # v1.2.3\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		file, err := Scan(".github/workflows/f.yml", FormatWorkflow, []byte(in))
		if err != nil {
			return
		}
		const sha = "3333333333333333333333333333333333333333"
		var edits []Edit
		want := map[int]string{} // by use: the ref tracked
		for k, u := range file.Uses {
			if u.Skip == "" && u.Tracks() != "" {
				edits = append(edits, u.UseEdits(sha, u.Tracks())...)
				want[k] = u.Tracks()
			}
		}
		out, err := Apply([]byte(in), edits)
		if err != nil {
			t.Fatalf("%v", err)
		}
		again, err := Scan(".github/workflows/f.yml", FormatWorkflow, out)
		if err != nil {
			t.Fatalf("the pinned file does not parse: %v\n%q", err, out)
		}
		if len(again.Uses) != len(file.Uses) {
			t.Fatalf("%d uses became %d:\n%q", len(file.Uses), len(again.Uses), out)
		}
		for k, ref := range want {
			u := again.Uses[k]
			if u.Ref != sha || u.Tracks() != ref {
				t.Fatalf("use %d: %q tracks %q, want %s tracking %q:\n%q", k, u.Written, u.Tracks(), sha, ref, out)
			}
			if e := u.UseEdits(sha, ref); len(e) != 0 {
				t.Fatalf("pinned again: %v", e)
			}
		}
	})
}

// commentStart finds the comment after a use's value past what may follow
// it on the line: quoted scalars (with their escapes) hide a "#", a quote
// inside a plain scalar opens nothing.
func TestCommentStart(t *testing.T) {
	for _, c := range []struct {
		rest string
		want int
	}{
		{" # v1\n", 1},
		{"\n", -1},
		{", with: {x: 1}} # note\n", 16},
		{",0000\"} # 0\n", 8},
		{",0 \"} # 0\n", 6},
		{", k: 'a # b'} # v1\n", 14},
		{", k: 'it''s # x'} # v1\n", 18},
		{", k: \"a\\\" # b\"} # v1\n", 16},
		{", k: \"# b\"}#x\n", 11}, // right after a flow collection, as parsers read it
		{"} #c\n", 2},
		{",00:\"} # 0\n", 7},              // a colon inside a plain scalar
		{", \"k\":\"a # b\"} # v1\n", 15}, // a JSON-like key's colon
	} {
		if got := commentStart([]byte(c.rest)); got != c.want {
			t.Errorf("%q: %d, want %d", c.rest, got, c.want)
		}
	}
}

// A version comment followed by words of its own ("# v4 the checkout")
// that comes to track a ref that does not look like a version (a branch)
// is written so that it reads as that ref again: "# main # the checkout";
// and a Renovate "tag=" comment keeps its prefix out of the ref tracked.
func TestUsesCommentWithWordsAfterIt(t *testing.T) {
	for _, c := range []struct{ in, ref, want string }{
		{"      - uses: o/r@main # v4 the checkout\n", "main", "      - uses: o/r@" + sha1 + " # main # the checkout\n"},
		{"      - uses: o/r@v5 # v4 the checkout\n", "v5", "      - uses: o/r@" + sha1 + " # v5 the checkout\n"},
		{"      - uses: o/r@" + sha1 + " # tag=main\n", "main", "      - uses: o/r@" + sha1 + " # tag=main\n"},
	} {
		in := "jobs:\n  a:\n    steps:\n" + c.in
		f, err := Scan(".github/workflows/ci.yml", FormatWorkflow, []byte(in))
		if err != nil || len(f.Uses) != 1 {
			t.Fatalf("%q: %v, %d uses", c.in, err, len(f.Uses))
		}
		if got := f.Uses[0].Tracks(); got != c.ref {
			t.Errorf("%q tracks %q, want %q", c.in, got, c.ref)
		}
		out, err := Apply([]byte(in), f.Uses[0].UseEdits(sha1, c.ref))
		if err != nil {
			t.Fatal(err)
		}
		if want := "jobs:\n  a:\n    steps:\n" + c.want; string(out) != want {
			t.Errorf("%q pinned:\n%q\nwant:\n%q", c.in, out, want)
		}
		again, err := Scan(".github/workflows/ci.yml", FormatWorkflow, out)
		if err != nil || len(again.Uses) != 1 || again.Uses[0].Tracks() != c.ref || len(again.Uses[0].UseEdits(sha1, c.ref)) != 0 {
			t.Errorf("%q read again: %v; want it tracking %q, nothing more to do", out, err, c.ref)
		}
	}
}
