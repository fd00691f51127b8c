package pin

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/pinbot/pinbot/internal/checkout"
	"github.com/pinbot/pinbot/internal/render"
	"github.com/pinbot/pinbot/internal/resolve"
	"github.com/pinbot/pinbot/internal/rewrite"
)

// streamResolver answers as anyResolver does, tag by tag as they arrive,
// and tells what it has been asked.
type streamResolver struct {
	anyResolver
	mu    sync.Mutex
	asked map[string]int
	got   chan string // each tag as it arrives
}

func (s *streamResolver) ResolveEach(_ context.Context, tags <-chan name.Tag, fn func(string, resolve.Result)) {
	for t := range tags {
		s.mu.Lock()
		s.asked[t.Name()]++
		s.mu.Unlock()
		s.got <- t.Name()
		fn(t.Name(), resolve.Result{Digest: digestOf(t.Name())})
	}
}

// firstRender holds the first render of the run (which comes after the
// scan, before anything of a chart is asked) until the resolver has been
// asked the manifest's tag, and keeps what had been asked by then.
type firstRender struct {
	render.InProcess
	once   sync.Once
	sr     *streamResolver
	before map[string]bool
	waited bool
}

func (f *firstRender) Render(ctx context.Context, files render.Files, values []byte) (map[string]string, error) {
	f.once.Do(func() {
		f.before = map[string]bool{}
		timeout := time.After(10 * time.Second)
		for !f.before["example.com/plain:1.0"] {
			select {
			case tag := <-f.sr.got:
				f.before[tag] = true
			case <-timeout:
				return
			}
		}
		f.waited = true
	})
	return f.InProcess.Render(ctx, files, values)
}

// TestResolvingStartsWithTheScan: a resolver that takes tags as they come
// is asked while the files are scanned, each tag once, and the run's
// outcome is the batch resolver's to the byte; a chart's values are asked
// only once its render has said what they make.
func TestResolvingStartsWithTheScan(t *testing.T) {
	root := t.TempDir()
	copyTree(t, "testdata/charts", filepath.Join(root, "charts"))
	manifest := "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: a\n    image: example.com/plain:1.0\n  - name: b\n    image: example.com/plain:1.0\n"
	writeFile(t, root, "k8s/pod.yaml", manifest)
	run := func(res Resolver, rd Renderer) string {
		co, err := checkout.Open(root, false)
		if err != nil {
			t.Fatal(err)
		}
		defer co.Close()
		out, err := Run(context.Background(), co, res, Options{Renderer: rd})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(out)
		return string(b)
	}
	batch := run(anyResolver{}, nil)
	sr := &streamResolver{asked: map[string]int{}, got: make(chan string, 1000)}
	fr := &firstRender{sr: sr}
	streamed := run(sr, fr)
	if streamed != batch {
		t.Errorf("the streamed run differs from the batch run:\n%s\n%s", streamed, batch)
	}
	if !fr.waited {
		t.Fatalf("the manifest's tag was not asked before the charts were rendered: asked %v by then", fr.before)
	}
	for tag := range fr.before {
		if tag != "example.com/plain:1.0" {
			t.Errorf("%s, a chart's value, was asked before the chart was judged", tag)
		}
	}
	if len(sr.asked) < 3 {
		t.Fatalf("asked %v: the charts' images were not asked", sr.asked)
	}
	for tag, n := range sr.asked {
		if n != 1 {
			t.Errorf("%s asked %d times", tag, n)
		}
	}
}

// TestFilesWrittenAsTheirTagsAnswer: with a sink, a file of first pins is
// handed over as soon as its tags are answered, before the run has even
// rendered its charts; a file the later stages may change (a digest
// already written, a chart's values) waits for them; and what ends on disk
// and in the report is what the run makes without writing early.
func TestFilesWrittenAsTheirTagsAnswer(t *testing.T) {
	build := func() string {
		root := t.TempDir()
		copyTree(t, "testdata/charts", filepath.Join(root, "charts"))
		writeFile(t, root, "k8s/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: a\n    image: example.com/plain:1.0\n")
		writeFile(t, root, "k8s/pinned.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: b}\nspec:\n  containers:\n  - name: b\n    image: example.com/old:1.0@sha256:"+strings.Repeat("1", 64)+"\n")
		return root
	}
	run := func(root string, res Resolver, rd Renderer, sink func(Change) error) *Result {
		co, err := checkout.Open(root, false)
		if err != nil {
			t.Fatal(err)
		}
		defer co.Close()
		now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
		out, err := Run(context.Background(), co, res, Options{Renderer: rd, Now: func() time.Time { return now }, Sink: func(c Change) error {
			if err := sink(c); err != nil {
				return err
			}
			return co.WriteFile(c.Path, c.Old, c.New)
		}})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// the files as a run makes them when nothing is written early: a
	// resolver that answers whole batches only
	plain := build()
	want := run(plain, anyResolver{}, nil, func(Change) error { return nil })

	root := build()
	var mu sync.Mutex
	rendering := false
	var before []string // handed over before the first render
	wrote := make(chan bool, 1)
	fr := &renderFlag{flag: func() {
		// the first render comes after the scan: by then the file of
		// first pins is written, or soon will be, if it is written early
		select {
		case <-wrote:
		case <-time.After(10 * time.Second):
		}
		mu.Lock()
		rendering = true
		mu.Unlock()
	}}
	sr := &streamResolver{asked: map[string]int{}, got: make(chan string, 1000)}
	wait := &firstRender{sr: sr}
	fr.next = wait
	got := run(root, sr, fr, func(c Change) error {
		mu.Lock()
		defer mu.Unlock()
		if !rendering {
			before = append(before, c.Path)
		}
		if c.Path == "k8s/pod.yaml" {
			wrote <- true
		}
		return nil
	})
	if strings.Join(before, " ") != "k8s/pod.yaml" {
		t.Errorf("handed over before the charts were rendered: %v, want the file of first pins alone", before)
	}
	for _, p := range []string{"k8s/pod.yaml", "k8s/pinned.yaml", "charts/collector/values.yaml", "charts/db/values.yaml"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
		a, _ := os.ReadFile(filepath.Join(plain, p))
		b, _ := os.ReadFile(filepath.Join(root, p))
		if string(a) != string(b) {
			t.Errorf("%s differs:\n%s\nwant:\n%s", p, b, a)
		}
	}
	strip := func(r *Result) string {
		r.Report.Requests = nil
		for k := range r.Changes {
			r.Changes[k].Old, r.Changes[k].New = nil, nil
		}
		slices.SortFunc(r.Changes, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
		b, _ := json.Marshal(r)
		return string(b)
	}
	if a, b := strip(want), strip(got); a != b {
		t.Errorf("the report differs:\n%s\nwant:\n%s", b, a)
	}
}

// renderFlag tells the first render, then renders as next does.
type renderFlag struct {
	flag func()
	once sync.Once
	next *firstRender
}

func (r *renderFlag) Render(ctx context.Context, files render.Files, values []byte) (map[string]string, error) {
	r.once.Do(r.flag)
	return r.next.Render(ctx, files, values)
}

func (r *renderFlag) RenderAt(ctx context.Context, files render.Files, values []byte, kube string) (map[string]string, error) {
	r.once.Do(r.flag)
	return r.next.RenderAt(ctx, files, values, kube)
}

// A file whose pinned tags still answer the digests written is settled as
// its last tag answers, unchanged, and its bytes go (a GitOps resource's
// stay: judging the charts reads them); one whose tag moved is left to the
// run's own stages (the cooldown, the evidence, a vanished digest are
// theirs).
func TestSoonSettlesFilesStillCurrent(t *testing.T) {
	var handed []string
	r := &run{ctx: context.Background(), refs: map[string]*refInfo{}, opts: Options{
		PullPolicy: "IfNotPresent",
		Sink:       func(c Change) error { handed = append(handed, c.Path); return nil },
	}}
	pod := func(image string) []byte {
		return []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: a\n    image: " + image + "\n    imagePullPolicy: IfNotPresent\n")
	}
	current := "example.com/current:1.0@" + digestOf("example.com/current:1.0")
	moved := "example.com/moved:1.0@sha256:" + strings.Repeat("1", 64)
	app := "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec: {source: {path: charts/a}}\n---\n"
	for _, f := range []struct{ path, data string }{
		{"current.yaml", string(pod(current))}, {"moved.yaml", string(pod(moved))}, {"app.yaml", app + string(pod(current))},
	} {
		file, err := rewrite.ScanIn(context.Background(), nil, f.path, rewrite.FormatManifest, []byte(f.data))
		if err != nil {
			t.Fatal(err)
		}
		r.files = append(r.files, &fileRun{scanned: scanned{file: file}, deploys: mayDeploy(file)})
		r.plan(len(r.files) - 1)
	}
	e := &early{sent: map[string]bool{}, answers: map[string]resolve.Result{}}
	s := r.startSoon(e)
	for _, fr := range r.files {
		s.track(fr)
	}
	for _, tag := range []string{"example.com/current:1.0", "example.com/moved:1.0"} {
		e.mu.Lock()
		e.answers[tag] = resolve.Result{Digest: digestOf(tag)}
		e.mu.Unlock()
		s.answered(tag)
	}
	s.wait()
	cur, mov := r.files[0], r.files[1]
	if !cur.early || cur.file.Data != nil || cur.change != nil || cur.err != nil {
		t.Errorf("current.yaml: early %v, bytes kept %v, change %v, err %v; want settled, unchanged, its bytes gone",
			cur.early, cur.file.Data != nil, cur.change, cur.err)
	}
	if mov.early || mov.file.Data == nil {
		t.Errorf("moved.yaml: early %v, bytes kept %v; want it left to the run", mov.early, mov.file.Data != nil)
	}
	if gitops := r.files[2]; !gitops.early || gitops.file.Data == nil {
		t.Errorf("app.yaml: early %v, bytes kept %v; want settled, its bytes kept for judging the charts", gitops.early, gitops.file.Data != nil)
	}
	if len(handed) != 0 {
		t.Errorf("handed over %v; want nothing (no file changes)", handed)
	}
}

// Offline, a file is settled as soon as it is scanned: each site keeps the
// digest written, which nothing later changes, so its splice is made then
// and its bytes go; a GitOps resource keeps its bytes for the charts.
func TestOfflineSettlesFilesAsScanned(t *testing.T) {
	r := &run{ctx: context.Background(), refs: map[string]*refInfo{}, opts: Options{Offline: true, PullPolicy: "IfNotPresent"}}
	files := map[string]string{
		"pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: a\n    image: example.com/a:1.0@" + digestOf("example.com/a:1.0") + "\n  - name: b\n    image: example.com/b:1.0\n",
		"app.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec: {source: {path: charts/a}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: a\n    image: example.com/a:1.0\n",
	}
	for _, p := range []string{"pod.yaml", "app.yaml"} {
		file, err := rewrite.ScanIn(context.Background(), nil, p, rewrite.FormatManifest, []byte(files[p]))
		if err != nil {
			t.Fatal(err)
		}
		fr := &fileRun{scanned: scanned{file: file}, deploys: mayDeploy(file)}
		r.files = append(r.files, fr)
		r.plan(len(r.files) - 1)
		r.settleOffline(fr)
	}
	pod, app := r.files[0], r.files[1]
	if !pod.early || pod.file.Data != nil || pod.err != nil || len(pod.notes) != 2 || pod.edits != nil {
		t.Errorf("pod.yaml: early %v, bytes kept %v, err %v, notes %d, edits %d; want settled with a note a site and no edit, its bytes gone",
			pod.early, pod.file.Data != nil, pod.err, len(pod.notes), len(pod.edits))
	}
	if !app.early || app.file.Data == nil {
		t.Errorf("app.yaml: early %v, bytes kept %v; want settled, its bytes kept for the charts", app.early, app.file.Data != nil)
	}
}
