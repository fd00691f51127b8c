package pin

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/pinbot/pinbot/internal/checkout"
	"github.com/pinbot/pinbot/internal/config"
	"github.com/pinbot/pinbot/internal/report"
	"github.com/pinbot/pinbot/internal/resolve"
	"github.com/pinbot/pinbot/internal/rewrite"
)

const (
	d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

// noChecks answers that every digest exists and covers what is asked.
type noChecks struct{}

func (noChecks) Exists(context.Context, []name.Digest) map[string]error { return nil }
func (noChecks) Inspect(context.Context, []resolve.Subject, resolve.InspectOptions) map[string]resolve.Inspection {
	return nil
}
func (noChecks) Stats() resolve.Stats                                { return resolve.Stats{} }
func (noChecks) Private(context.Context, []name.Tag) map[string]bool { return nil }
func (noChecks) Facts(context.Context, []name.Digest) map[string]resolve.Facts {
	return nil
}

// fakeResolver answers from a table and records every call.
type fakeResolver struct {
	noChecks
	mu     sync.Mutex
	table  map[string]resolve.Result // canonical name -> result
	calls  [][]string
	asked  map[string]int
	called bool
}

func (f *fakeResolver) Resolve(_ context.Context, tags []name.Tag) map[string]resolve.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.called = true
	if f.asked == nil {
		f.asked = map[string]int{}
	}
	out := map[string]resolve.Result{}
	var names []string
	for _, t := range tags {
		names = append(names, t.Name())
		if _, dup := out[t.Name()]; dup {
			continue
		}
		f.asked[t.Name()]++
		r, ok := f.table[t.Name()]
		if !ok {
			r = resolve.Result{Err: errors.New("not found")}
		}
		out[t.Name()] = r
	}
	f.calls = append(f.calls, names)
	return out
}

func tree(t *testing.T, files map[string]string) *checkout.Checkout {
	t.Helper()
	root := t.TempDir()
	for rel, data := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	co, err := checkout.Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { co.Close() })
	return co
}

const pod = `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: a
    image: nginx:1.25
  - name: b
    image: docker.io/library/nginx:1.25
  - name: c
    image: redis:7@` + d1 + `
  - name: d
    image: alpine@` + d1 + `
  - name: e
    image: postgres:16
  - name: f
    image: quay.io/acme/gone:v1
`

func TestRunStatusesAndOneQuestionPerUniqueTag(t *testing.T) {
	co := tree(t, map[string]string{
		"pod.yaml":     pod,
		"compose.yaml": "services:\n  web:\n    image: nginx:1.25\n",
		"README.md":    "image: nginx:1.25\n",
	})
	res := &fakeResolver{table: map[string]resolve.Result{
		"index.docker.io/library/nginx:1.25":  {Digest: d1},
		"index.docker.io/library/redis:7":     {Digest: d2},
		"index.docker.io/library/postgres:16": {Digest: d2},
	}}
	m, _ := config.NewMatcher(nil, nil, []string{"postgres"})
	out, err := Run(context.Background(), co, res, Options{Filter: m})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.calls) != 1 {
		t.Fatalf("%d calls to the resolver, want one batch", len(res.calls))
	}
	for n, c := range res.asked {
		if c != 1 {
			t.Errorf("%s asked %d times", n, c)
		}
	}
	if _, ok := res.asked["index.docker.io/library/alpine:latest"]; ok {
		t.Error("a reference pinned by digest alone was resolved")
	}
	got := map[string]string{}
	for _, e := range out.Report.Entries {
		got[e.Location()] = string(e.Status) + " " + e.Reason + e.Error
	}
	want := map[string]string{
		"compose.yaml:3": "pinned ",
		"pod.yaml:7":     "pinned ",
		"pod.yaml:9":     "pinned ",
		"pod.yaml:11":    "updated ",
		"pod.yaml:13":    "current " + ReasonDigestOnly,
		"pod.yaml:15":    "skipped " + ReasonConfigIgnored,
		"pod.yaml:17":    "failed not found",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("entries %v", got)
	}
	if out.Report.Files != 2 {
		t.Errorf("%d files scanned, want 2 (README.md is no candidate)", out.Report.Files)
	}
	var changed []string
	for _, c := range out.Changes {
		changed = append(changed, c.Path)
		if c.Mode.Perm() != 0o640 {
			t.Errorf("%s: mode %v, want the file's 0640", c.Path, c.Mode)
		}
		if strings.Contains(string(c.New), "gone:v1@") {
			t.Errorf("%s: a failed reference was rewritten", c.Path)
		}
	}
	sort.Strings(changed)
	if strings.Join(changed, ",") != "compose.yaml,pod.yaml" {
		t.Errorf("changes %v", changed)
	}
	pinned := 0
	for _, e := range out.Report.Entries {
		if e.Status == report.Pinned && e.PullPolicy == "added IfNotPresent" {
			pinned++
		}
	}
	if pinned != 2 {
		t.Errorf("%d pinned containers got a pull policy, want 2", pinned)
	}
}

func TestRunOfflineAsksNoRegistry(t *testing.T) {
	co := tree(t, map[string]string{"pod.yaml": pod})
	res := &fakeResolver{}
	out, err := Run(context.Background(), co, res, Options{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.called {
		t.Error("the resolver was called offline")
	}
	if len(out.Changes) != 0 {
		t.Errorf("offline run changed %d files", len(out.Changes))
	}
	c := out.Report.Counts()
	if c[report.Unpinned] != 4 || c[report.Unverified] != 2 || c[report.Current] != 0 {
		t.Errorf("counts %v, want 4 unpinned and 2 unverified: offline, nothing is known to be current", c)
	}
	// The pull policy needs no registry: the pinned containers without one
	// are work offline as they are online.
	policy := 0
	for _, e := range out.Report.Work() {
		if e.Status == report.Unverified && e.PullPolicy == "added IfNotPresent" {
			policy++
		}
	}
	if policy != 2 {
		t.Errorf("%d pinned containers need a pull policy offline, want 2", policy)
	}
}

// TestOfflineGateChecksPullPolicy: image@sha256 with Always fails the
// offline gate exactly as it fails the online one.
func TestOfflineGateChecksPullPolicy(t *testing.T) {
	src := "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: nginx@" + d1 + "\n    imagePullPolicy: Always\n"
	for _, offline := range []bool{true, false} {
		co := tree(t, map[string]string{"pod.yaml": src})
		out, err := Run(context.Background(), co, &fakeResolver{}, Options{Offline: offline})
		if err != nil {
			t.Fatal(err)
		}
		work := out.Report.Work()
		if len(work) != 1 || work[0].PullPolicy != "Always -> IfNotPresent" {
			t.Errorf("offline=%v: work %+v, want the pull policy", offline, work)
		}
		if offline && len(out.Changes) != 0 {
			t.Error("an offline run changed a file")
		}
	}
}

// TestFailedReferenceLeftAlone: a pinned reference that could not be
// resolved keeps its bytes, pull policy included, and the report says
// nothing changed for it; every byte that does change is reported.
func TestFailedReferenceLeftAlone(t *testing.T) {
	src := "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: quay.io/acme/gone:v1@" + d1 + "\n  - name: b\n    image: quay.io/acme/gone:v2\n    imagePullPolicy: Always\n"
	co := tree(t, map[string]string{"pod.yaml": src})
	out, err := Run(context.Background(), co, &fakeResolver{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Changes) != 0 {
		t.Errorf("a file with only failed references changed:\n%s", out.Changes[0].New)
	}
	for _, e := range out.Report.Entries {
		if e.Status != report.Failed || e.PullPolicy != "" || e.Changes() {
			t.Errorf("entry %+v: want failed and unchanged", e)
		}
	}
}

func TestRunLeavesUnparseableFilesAndWarns(t *testing.T) {
	bad := "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  {{- range . }}\n  - image: x\n"
	co := tree(t, map[string]string{"bad.yaml": bad, "pod.yaml": pod})
	res := &fakeResolver{table: map[string]resolve.Result{"index.docker.io/library/nginx:1.25": {Digest: d1}}}
	out, err := Run(context.Background(), co, res, Options{PullPolicy: rewrite.PolicyKeep})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Report.Warnings) != 1 || out.Report.Warnings[0].File != "bad.yaml" || out.Report.Warnings[0].Line != 5 {
		t.Errorf("warnings %+v", out.Report.Warnings)
	}
	for _, c := range out.Changes {
		if c.Path == "bad.yaml" {
			t.Error("an unparseable file was changed")
		}
		if strings.Contains(string(c.New), "imagePullPolicy") {
			t.Error("--pull-policy keep added a policy")
		}
	}
}

func TestRunCancelled(t *testing.T) {
	co := tree(t, map[string]string{"pod.yaml": pod})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, co, &fakeResolver{}, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}
