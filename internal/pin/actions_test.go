package pin

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/pinbot/pinbot/internal/actions"
	"github.com/pinbot/pinbot/internal/actions/actionstest"
	"github.com/pinbot/pinbot/internal/checkout"
	"github.com/pinbot/pinbot/internal/report"
)

// actionsWorld is a fake GitHub serving real git repositories: checkout's
// v4 (annotated v4.2.2 beside it), a tool whose v1 branch moves, the SLSA
// generator, and a fork's commit served under changed-files' name.
type actionsWorld struct {
	s                          *actionstest.Server
	checkout, setup, v41, slsa string
	evil, cfOld, toolV1        string
	toolRepo                   *actionstest.Repo
}

func newActionsWorld(t *testing.T) *actionsWorld {
	w := &actionsWorld{s: actionstest.New(t)}
	co := w.s.Repo("actions/checkout")
	w.v41 = co.Commit("v4.1.0")
	co.Tag("v4.1.0", w.v41)
	w.checkout = co.Commit("v4.2.2")
	co.AnnotatedTag("v4.2.2", w.checkout)
	co.Tag("v4", w.checkout)
	setup := w.s.Repo("actions/setup-go")
	w.setup = setup.Commit("v5.0.0")
	setup.AnnotatedTag("v5", w.setup)
	w.toolRepo = w.s.Repo("owner/tool")
	w.toolV1 = w.toolRepo.Commit("one")
	w.toolRepo.Branch("v1", w.toolV1)
	slsa := w.s.Repo("slsa-framework/slsa-github-generator")
	w.slsa = slsa.Commit("v2.0.0")
	slsa.Tag("v2.0.0", w.slsa)
	cf := w.s.Repo("tj/changed-files")
	w.cfOld = cf.Commit("v45.0.6")
	cf.Tag("v45.0.6", w.cfOld)
	w.evil = cf.ForkCommit("print the secrets")
	return w
}

func (w *actionsWorld) resolver() *actions.Resolver {
	c := github.NewClient(nil)
	u, _ := url.Parse(w.s.URL + "/")
	c.BaseURL = u
	return actions.New(c)
}

func (w *actionsWorld) run(t *testing.T, root string, mode ActionsMode, opts Options) *Result {
	t.Helper()
	co, err := checkout.Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	opts.Actions, opts.ActionResolver, opts.ActionsByTag, opts.ActionsWeb = mode, w.resolver(), DefaultActionsByTag, "https://github.com"
	opts.Sink = func(c Change) error { return co.WriteFile(c.Path, c.Old, c.New) }
	out, err := Run(context.Background(), co, anyResolver{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func entryOf(t *testing.T, rep *report.Report, ref string) report.Entry {
	t.Helper()
	for _, e := range rep.Entries {
		if e.Ref == ref {
			return e
		}
	}
	t.Fatalf("no entry for %s", ref)
	return report.Entry{}
}

// TestActionsPinned: a workflow's and a composite action's uses are pinned
// to the commits their refs name, the ref kept as the comment; nothing else
// changes; a second run asks only conditional requests and changes
// nothing; a moved ref is renewed; the SLSA generator keeps its tag.
func TestActionsPinned(t *testing.T) {
	w := newActionsWorld(t)
	root := t.TempDir()
	wf := `on: push
jobs:
  build:
    runs-on: ubuntu-latest
    container: golang:1.22
    steps:
      - uses: actions/checkout@v4   # fetch the code
      - {uses: actions/setup-go@v5, with: {go-version: "1.22"}}
      - uses: owner/tool@v1
  provenance:
    uses: slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@v2.0.0
`
	writeFile(t, root, ".github/workflows/ci.yml", wf)
	action := "runs:\n  using: composite\n  steps:\n    - uses: \"actions/checkout@v4.1.0\"\n"
	writeFile(t, root, "tools/act/action.yml", action)

	out := w.run(t, root, ActionsPin, Options{})
	got, _ := os.ReadFile(filepath.Join(root, ".github/workflows/ci.yml"))
	want := strings.NewReplacer(
		"actions/checkout@v4   # fetch the code", "actions/checkout@"+w.checkout+"   # v4 # fetch the code",
		"{uses: actions/setup-go@v5, with: {go-version: \"1.22\"}}", "{uses: actions/setup-go@"+w.setup+", with: {go-version: \"1.22\"}} # v5",
		"owner/tool@v1\n", "owner/tool@"+w.toolV1+" # v1\n",
		"golang:1.22", "golang:1.22@"+digestOf("index.docker.io/library/golang:1.22"),
	).Replace(wf)
	if string(got) != want {
		t.Errorf("the workflow:\n%s\nwant:\n%s", got, want)
	}
	got, _ = os.ReadFile(filepath.Join(root, "tools/act/action.yml"))
	if want := strings.Replace(action, "checkout@v4.1.0\"", "checkout@"+w.v41+"\" # v4.1.0", 1); string(got) != want {
		t.Errorf("the composite action:\n%s\nwant:\n%s", got, want)
	}
	if e := entryOf(t, out.Report, "actions/checkout@v4"); e.Status != report.Pinned || e.Note != "v4 = v4.2.2" || e.Digest != w.checkout {
		t.Errorf("checkout: %+v", e)
	}
	if e := entryOf(t, out.Report, "slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@v2.0.0"); e.Status != report.Skipped || e.Reason != ReasonActionByTag {
		t.Errorf("the SLSA generator: %+v", e)
	}

	// again: conditional requests only, and nothing to do
	before := w.s.Requests
	beforeCond := w.s.Conditional
	out = w.run(t, root, ActionsPin, Options{})
	if len(out.Changes) != 0 {
		t.Errorf("the second run changed %v", out.Changes)
	}
	if asked, cond := w.s.Requests-before, w.s.Conditional-beforeCond; asked != 4 || cond != asked {
		t.Errorf("the second run asked %d requests, %d conditional: want 4, all conditional (paths %v)", asked, cond, w.s.Paths[before:])
	}
	if rq := out.Report.Requests; rq == nil || rq.GitHub != 4 || rq.GitHubConditional != 4 || rq.GitHubNotModified != 4 {
		t.Errorf("the report's count of GitHub's requests: %+v", rq)
	}

	// the v1 branch moves: renewed, the comment kept
	moved := w.toolRepo.Commit("two")
	w.toolRepo.Branch("v1", moved)
	out = w.run(t, root, ActionsPin, Options{})
	got, _ = os.ReadFile(filepath.Join(root, ".github/workflows/ci.yml"))
	if !strings.Contains(string(got), "owner/tool@"+moved+" # v1\n") {
		t.Errorf("the moved branch was not followed:\n%s", got)
	}
	e := entryOf(t, out.Report, "owner/tool@"+w.toolV1)
	if e.Status != report.Updated || e.OldDigest != w.toolV1 || e.Compare != "https://github.com/owner/tool/compare/"+w.toolV1+"..."+moved {
		t.Errorf("the move: %+v", e)
	}
	if _, ok := out.Report.FirstSeen["action:owner/tool@v1@"+moved]; !ok {
		t.Errorf("the move's first sighting is not kept: %v", out.Report.FirstSeen)
	}
}

// TestActionsCooldown: a moved ref is held until it has been seen for
// MinAge, as an image's tag is.
func TestActionsCooldown(t *testing.T) {
	w := newActionsWorld(t)
	root := t.TempDir()
	wf := "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: owner/tool@" + w.toolV1 + " # v1\n"
	writeFile(t, root, ".github/workflows/a.yml", wf)
	moved := w.toolRepo.Commit("two")
	w.toolRepo.Branch("v1", moved)
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	out := w.run(t, root, ActionsPin, Options{MinAge: 72 * time.Hour, Now: func() time.Time { return now }})
	if e := entryOf(t, out.Report, "owner/tool@"+w.toolV1); e.Status != report.Held || e.Digest != moved {
		t.Errorf("held: %+v", e)
	}
	if len(out.Changes) != 0 {
		t.Errorf("a held move was written")
	}
	later := now.Add(73 * time.Hour)
	out = w.run(t, root, ActionsPin, Options{MinAge: 72 * time.Hour, Now: func() time.Time { return later }, FirstSeen: out.Report.FirstSeen})
	if e := entryOf(t, out.Report, "owner/tool@"+w.toolV1); e.Status != report.Updated {
		t.Errorf("after the cooldown: %+v", e)
	}
}

// TestActionsLies: an impostor commit (a fork's, served under the parent's
// name) and a version comment that does not name its commit fail, each on
// its line, and neither is written; a commit pinned alone that a release
// reaches passes.
func TestActionsLies(t *testing.T) {
	w := newActionsWorld(t)
	root := t.TempDir()
	wf := "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n" +
		"      - uses: tj/changed-files@" + w.evil + "\n" +
		"      - uses: actions/checkout@" + w.v41 + " # v4.2.2\n" +
		"      - uses: tj/changed-files@" + w.cfOld + "\n" +
		"      - uses: actions/checkout@" + w.evil[:39] + "0 # v4\n"
	for _, mode := range []ActionsMode{ActionsCheck, ActionsPin} {
		writeFile(t, root, ".github/workflows/a.yml", wf)
		out := w.run(t, root, mode, Options{})
		got, _ := os.ReadFile(filepath.Join(root, ".github/workflows/a.yml"))
		if mode == ActionsCheck && string(got) != wf {
			t.Errorf("check wrote:\n%s", got)
		}
		if e := entryOf(t, out.Report, "tj/changed-files@"+w.evil); e.Status != report.Failed || !strings.Contains(e.Error, "impostor") {
			t.Errorf("%s: the impostor: %+v", mode, e)
		}
		if e := entryOf(t, out.Report, "actions/checkout@"+w.v41); e.Status != report.Failed || !strings.Contains(e.Error, "the comment says v4.2.2") {
			t.Errorf("%s: the lying comment: %+v", mode, e)
		}
		if e := entryOf(t, out.Report, "tj/changed-files@"+w.cfOld); e.Status != report.Current || e.Reason != ReasonActionSHAOnly {
			t.Errorf("%s: a release's commit: %+v", mode, e)
		}
		if !out.Report.Failed() {
			t.Errorf("%s: the run does not fail", mode)
		}
		if !strings.Contains(string(got), "actions/checkout@"+w.v41+" # v4.2.2\n") || !strings.Contains(string(got), "changed-files@"+w.evil+"\n") {
			t.Errorf("%s: a lie was rewritten:\n%s", mode, got)
		}
		// a commit beside a ref that is meant to move (v4) is renewed: the
		// ref names another commit now
		if e := entryOf(t, out.Report, "actions/checkout@"+w.evil[:39]+"0"); mode == ActionsPin && e.Status != report.Updated || mode == ActionsCheck && e.Status != report.Updated {
			t.Errorf("%s: a moved v4: %+v", mode, e)
		}
	}
}

// TestActionsRateLimit: when GitHub's rate limit is reached, every action
// fails with the reset time and none is written; the images still are.
func TestActionsRateLimit(t *testing.T) {
	w := newActionsWorld(t)
	root := t.TempDir()
	wf := "on: push\njobs:\n  a:\n    runs-on: x\n    container: golang:1.22\n    steps:\n      - uses: actions/checkout@v4\n      - uses: actions/setup-go@v5\n"
	writeFile(t, root, ".github/workflows/a.yml", wf)
	w.s.Remaining = 1
	out := w.run(t, root, ActionsPin, Options{})
	got, _ := os.ReadFile(filepath.Join(root, ".github/workflows/a.yml"))
	if strings.Contains(string(got), "actions/checkout@v4\n") == false || !strings.Contains(string(got), "golang:1.22@sha256:") {
		t.Errorf("want the image pinned and no action:\n%s", got)
	}
	for _, ref := range []string{"actions/checkout@v4", "actions/setup-go@v5"} {
		e := entryOf(t, out.Report, ref)
		var rl *actions.ErrRateLimited
		if e.Status != report.Failed || !strings.Contains(e.Error, "2030-01-01") {
			t.Errorf("%s: %+v (%v)", ref, e, errors.As(nil, &rl))
		}
	}
}
