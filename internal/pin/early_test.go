package pin

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/pinbot/pinbot/internal/checkout"
	"github.com/pinbot/pinbot/internal/render"
	"github.com/pinbot/pinbot/internal/resolve"
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
