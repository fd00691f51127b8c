package pin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/pinbot/pinbot/internal/report"
	"github.com/pinbot/pinbot/internal/resolve"
	"github.com/pinbot/pinbot/internal/rewrite"
)

// streamResolver answers tags as they arrive, except those in hold, which
// it answers once release is closed (or after a long wait, noted).
type streamResolver struct {
	table   map[string]string // canonical name -> digest
	hold    map[string]bool
	release chan struct{}

	mu       sync.Mutex
	events   []string // "asked X", "answered X", "exists X", in order
	timedOut bool
}

func (s *streamResolver) note(e string) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
}

func (s *streamResolver) Resolve(context.Context, []name.Tag) map[string]resolve.Result {
	panic("a resolver that streams is not asked for a map")
}

func (s *streamResolver) ResolveEach(ctx context.Context, tags <-chan name.Tag, fn func(string, resolve.Result)) {
	var wg sync.WaitGroup
	for t := range tags {
		key := t.Name()
		s.note("asked " + key)
		answer := func() {
			s.note("answered " + key)
			fn(key, resolve.Result{Digest: s.table[key]})
		}
		if !s.hold[key] {
			answer()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-s.release:
			case <-time.After(10 * time.Second):
				s.mu.Lock()
				s.timedOut = true
				s.mu.Unlock()
			}
			answer()
		}()
	}
	wg.Wait()
}

func (s *streamResolver) Exists(_ context.Context, ds []name.Digest) map[string]error {
	out := map[string]error{}
	for _, d := range ds {
		s.note("exists " + d.String())
		out[d.String()] = resolve.ErrVanished
	}
	return out
}

func (s *streamResolver) Inspect(context.Context, []resolve.Subject, resolve.InspectOptions) map[string]resolve.Inspection {
	return nil
}

func TestSinkTakesEachFileOnceItsReferencesSettle(t *testing.T) {
	co := tree(t, map[string]string{
		"a.yaml":    podOf("a:1"),
		"both.yaml": podOf("a:1", "b:1"),
		"b.yaml":    podOf("b:1"),
		"c.yaml":    podOf("c:1@" + d1), // its tag has moved: the digest written is checked first
	})
	res := &streamResolver{
		table:   map[string]string{"index.docker.io/library/a:1": d1, "index.docker.io/library/b:1": d2, "index.docker.io/library/c:1": d2},
		hold:    map[string]bool{"index.docker.io/library/b:1": true},
		release: make(chan struct{}),
	}
	var mu sync.Mutex
	var sunk []string
	sinkErr := errors.New("disk full")
	out, err := Run(context.Background(), co, res, Options{Jobs: 1, Sink: func(c Change) error {
		res.note("sink " + c.Path)
		mu.Lock()
		defer mu.Unlock()
		sunk = append(sunk, c.Path)
		switch c.Path {
		case "a.yaml":
			close(res.release) // b:1 answers only once a.yaml is written
		case "both.yaml":
			return sinkErr
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.timedOut {
		t.Fatalf("a.yaml was not handed over before b:1 answered: %v", res.events)
	}
	slices.Sort(sunk)
	if want := []string{"a.yaml", "b.yaml", "both.yaml", "c.yaml"}; !slices.Equal(sunk, want) {
		t.Fatalf("sunk %v, want %v", sunk, want)
	}
	at := func(e string) int {
		i := slices.Index(res.events, e)
		if i < 0 {
			t.Fatalf("no %q in %v", e, res.events)
		}
		return i
	}
	if at("sink c.yaml") < at("exists c@"+d1) {
		t.Errorf("c.yaml was written before its old digest was checked: %v", res.events)
	}
	if at("sink both.yaml") < at("answered index.docker.io/library/b:1") {
		t.Errorf("both.yaml was written before b:1 answered: %v", res.events)
	}

	rep := out.Report
	if want := []string{"a.yaml", "b.yaml", "c.yaml"}; !slices.Equal(rep.Changed, want) {
		t.Errorf("changed %v, want %v", rep.Changed, want)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].File != "both.yaml" || rep.Errors[0].Error != "disk full" {
		t.Errorf("errors %+v", rep.Errors)
	}
	if len(out.Changes) != 4 {
		t.Fatalf("%d changes", len(out.Changes))
	}
	for _, c := range out.Changes {
		if (c.Err != nil) != (c.Path == "both.yaml") {
			t.Errorf("%s: err %v", c.Path, c.Err)
		}
	}
	for _, e := range rep.Entries {
		if e.File == "c.yaml" && (e.Status != report.Vanished || e.Digest != d2) {
			t.Errorf("c.yaml: %+v", e)
		}
	}
}

func TestStoppedRunHandsOverNothingMore(t *testing.T) {
	co := tree(t, map[string]string{"a.yaml": podOf("a:1"), "b.yaml": podOf("b:1")})
	ctx, cancel := context.WithCancel(context.Background())
	res := &streamResolver{
		table:   map[string]string{"index.docker.io/library/a:1": d1, "index.docker.io/library/b:1": d2},
		hold:    map[string]bool{"index.docker.io/library/b:1": true},
		release: make(chan struct{}),
	}
	var sunk []string
	var mu sync.Mutex
	_, err := Run(ctx, co, res, Options{Jobs: 1, Sink: func(c Change) error {
		mu.Lock()
		defer mu.Unlock()
		sunk = append(sunk, c.Path)
		cancel() // the run is stopped as a.yaml is written
		close(res.release)
		return nil
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	if !slices.Equal(sunk, []string{"a.yaml"}) {
		t.Fatalf("sunk %v", sunk)
	}
}

// podOf is a Pod with one container per image.
func podOf(images ...string) string {
	s := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
	for i, im := range images {
		s += "  - name: c" + string(rune('a'+i)) + "\n    image: " + im + "\n"
	}
	return s
}

// TestFileRefs: each reference a file names once, in the order first
// named, skipped sites left out, with few references and with many; and
// each site's reference found among them.
func TestFileRefs(t *testing.T) {
	for _, unique := range []int{1, 5, 16, 17, 40} {
		var sites []*rewrite.Site
		var want []string
		for round := 0; round < 3; round++ {
			for k := 0; k < unique; k++ {
				w := fmt.Sprintf("img%d:1", k)
				sites = append(sites, &rewrite.Site{Written: w})
				if round == 0 {
					want = append(want, w)
				}
			}
		}
		sites = append([]*rewrite.Site{{Written: "skipped:1", Skip: "a reason"}}, sites...)
		var got []string
		named, at := fileRefs(sites)
		for _, s := range named {
			got = append(got, s.Written)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%d unique: %v", unique, got)
		}
		// and each site the index of its reference among them
		for j, k := range at {
			switch {
			case sites[j].Skip != "":
				if k != -1 {
					t.Errorf("%d unique: a skipped site has index %d", unique, k)
				}
			case k < 0 || named[k].Written != sites[j].Written:
				t.Fatalf("%d unique: site %d (%s) has index %d", unique, j, sites[j].Written, k)
			}
		}
	}
}

// TestFilesRacingForNewReferences: files scanned at once, all naming the
// same references none named before, ask each tag once, and every file
// is spliced with every digest.
func TestFilesRacingForNewReferences(t *testing.T) {
	files := map[string]string{}
	for i := 0; i < 64; i++ {
		files[fmt.Sprintf("f%02d.yaml", i)] = podOf("a:1", "b:1", "c:1", fmt.Sprintf("own%d:1", i))
	}
	co := tree(t, files)
	res := &streamResolver{table: map[string]string{
		"index.docker.io/library/a:1": d1, "index.docker.io/library/b:1": d2, "index.docker.io/library/c:1": d1,
	}}
	for i := 0; i < 64; i++ {
		res.table[fmt.Sprintf("index.docker.io/library/own%d:1", i)] = d2
	}
	out, err := Run(context.Background(), co, res, Options{Jobs: 8})
	if err != nil {
		t.Fatal(err)
	}
	asked := map[string]int{}
	for _, e := range res.events {
		if k, ok := strings.CutPrefix(e, "asked "); ok {
			asked[k]++
		}
	}
	for k, n := range asked {
		if n != 1 {
			t.Errorf("%s asked %d times", k, n)
		}
	}
	if len(asked) != 67 || len(out.Changes) != 64 || out.Report.Counts()["pinned"] != 4*64 {
		t.Errorf("%d tags asked, %d files changed, %v", len(asked), len(out.Changes), out.Report.Counts())
	}
}
