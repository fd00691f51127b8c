package pin

import (
	"context"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/pinbot/pinbot/internal/resolve"
)

// StreamResolver is a Resolver that takes tags as they are found, and
// answers each as soon as it knows (see resolve.Resolver.ResolveEach): the
// run then asks while it scans, and its wall time is the network's rather
// than the scan's plus the network's.
type StreamResolver interface {
	ResolveEach(ctx context.Context, tags <-chan name.Tag, fn func(key string, res resolve.Result))
}

// early asks the registries for the tags a scan finds as it finds them,
// once each. Only references that are their own sites' (not a chart's
// values, which a render may show to be something else, or nothing) are
// asked before the scan ends, so no request is wasted. A nil *early asks
// nothing.
type early struct {
	tags    chan name.Tag
	mu      sync.Mutex
	sent    map[string]bool
	answers map[string]resolve.Result
	done    chan struct{}
	// answered, when set, is told each tag as its answer is kept
	answered func(tag string)
}

// startResolving starts asking, unless the run is offline or its resolver
// answers only whole batches (then it returns nil).
func (r *run) startResolving() *early {
	sr, ok := r.res.(StreamResolver)
	if !ok || r.opts.Offline {
		return nil
	}
	e := &early{tags: make(chan name.Tag, 1024), sent: map[string]bool{}, answers: map[string]resolve.Result{}, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		sr.ResolveEach(r.ctx, e.tags, func(key string, res resolve.Result) {
			e.mu.Lock()
			e.answers[key] = res
			tell := e.answered
			e.mu.Unlock()
			if tell != nil {
				tell(key)
			}
		})
	}()
	return e
}

// ask sends the tags file i's plans follow that were not sent yet.
func (e *early) ask(r *run, i int) {
	fr := r.files[i]
	if e == nil || fr.file == nil {
		return
	}
	f := fr.file
	for j, p := range fr.plans {
		site := f.Sites[j]
		if p.key == "" || p.skip != "" || strings.HasPrefix(string(site.Kind), "helm") {
			continue
		}
		t, err := site.Ref.Canonical()
		if err != nil {
			continue
		}
		e.mu.Lock()
		sent := e.sent[t.Name()]
		e.sent[t.Name()] = true
		e.mu.Unlock()
		if !sent {
			e.tags <- t
		}
	}
}

// asked tells a tag (canonical name) already sent.
func (e *early) asked(key string) bool {
	if e == nil {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sent[key]
}

// finish sends the tags still to ask, waits for every answer, and returns
// them all; nil from a nil *early.
func (e *early) finish(tags []name.Tag) map[string]resolve.Result {
	if e == nil {
		return nil
	}
	for _, t := range tags {
		e.tags <- t
	}
	close(e.tags)
	<-e.done
	return e.answers
}

// stop ends the asking of a run that stops.
func (e *early) stop() {
	if e != nil {
		close(e.tags)
		<-e.done
	}
}
