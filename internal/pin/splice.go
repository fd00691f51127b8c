package pin

import (
	"context"
	"errors"
	"io/fs"
	"runtime"
	"slices"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/pinbot/pinbot/internal/checkout"
	"github.com/pinbot/pinbot/internal/report"
	"github.com/pinbot/pinbot/internal/resolve"
	"github.com/pinbot/pinbot/internal/rewrite"
)

// eachResolver resolves tags as they are found, handing each answer over
// as soon as it is known.
type eachResolver interface {
	ResolveEach(ctx context.Context, tags <-chan name.Tag, fn func(key string, res resolve.Result))
}

// sinkJobs bounds the files spliced and handed to a sink at once: a sink
// writes, so it waits on the disk more than on the processor.
const sinkJobs = 16

// splicer learns each file's references as the scan finds them, and
// splices each file as soon as every reference it names is settled, a
// bounded pool at a time, handing each change to the sink: a file naming
// images that resolved early is written while the rest of the run still
// waits on registries.
//
// A reference is settled when the digest its sites are to carry is known
// for good: when its tag has answered and nothing about it is left to
// check, or else after the checks.
type splicer struct {
	ctx      context.Context
	scans    []scanned
	opts     Options
	checking bool // a Checker runs after the tags resolve

	mu      sync.Mutex
	refs    map[string]*refInfo       // by reference as written
	byCanon map[string][]*refInfo     // the references following each tag asked
	answers map[string]resolve.Result // the answers so far, by tag
	users   map[*refInfo][]int        // the files naming each unsettled reference
	pending []int                     // by file: the unsettled references it names
	ready   chan int                  // files whose references are all settled
	wg      sync.WaitGroup

	// By file: what is known of the reference each site names (nil for a
	// site not pinned), written by add; then, each written by the one
	// worker splicing it, the change and the report's entries.
	infos   [][]*refInfo
	changes []*Change
	entries [][]report.Entry
	errs    []error
}

func newSplicer(ctx context.Context, scans []scanned, checking bool, opts Options) *splicer {
	sp := &splicer{
		ctx: ctx, scans: scans, opts: opts, checking: checking && !opts.Offline,
		refs:    map[string]*refInfo{},
		byCanon: map[string][]*refInfo{},
		answers: map[string]resolve.Result{},
		users:   map[*refInfo][]int{},
		pending: make([]int, len(scans)),
		ready:   make(chan int, len(scans)),
		changes: make([]*Change, len(scans)),
		entries: make([][]report.Entry, len(scans)),
		infos:   make([][]*refInfo, len(scans)),
		errs:    make([]error, len(scans)),
	}
	workers := runtime.GOMAXPROCS(0)
	if opts.Sink != nil {
		workers = sinkJobs
	}
	for w := 0; w < workers; w++ {
		sp.wg.Add(1)
		go func() {
			defer sp.wg.Done()
			for i := range sp.ready {
				sp.splice(i)
			}
		}()
	}
	return sp
}

// add learns the references file i names (sites the configuration ignores
// are marked skipped), and returns the tags not asked before. Work is per
// unique reference as written, not per site: a file may name one image
// thousands of times. If nothing it names is left unsettled, the file is
// ready now: with no sink, now reports it so the caller splices it at once
// (its bytes still in cache, no hand-over to another goroutine); with a
// sink, it is queued for the pool, which may wait on the disk.
func (sp *splicer) add(i int, f *rewrite.File) (ask []name.Tag, now bool) {
	// The file is this worker's own: its sites are marked and its
	// references gathered, each once, without the lock.
	for _, site := range f.Sites {
		if site.Pinnable() && sp.opts.Filter != nil && sp.opts.Filter.Ignored(site.Ref) {
			site.Skip = ReasonConfigIgnored
		}
	}
	named, at := fileRefs(f.Sites)

	// The references no file named before are made ready without the lock
	// too (parsing a name is the slow part), then taken in unless another
	// file was quicker.
	sp.mu.Lock()
	var fresh []*rewrite.Site
	for _, site := range named {
		if sp.refs[site.Written] == nil {
			fresh = append(fresh, site)
		}
	}
	sp.mu.Unlock()
	made := make([]*refInfo, len(fresh))
	tags := make([]name.Tag, len(fresh))
	for k, site := range fresh {
		made[k] = &refInfo{image: site.Ref.Familiar(), ref: site.Ref}
		if t, err := site.Ref.Canonical(); err == nil && !sp.opts.Offline {
			made[k].canon, tags[k] = t.Name(), t
		}
	}

	sp.mu.Lock()
	defer sp.mu.Unlock()
	for k, site := range fresh {
		if sp.refs[site.Written] != nil {
			continue
		}
		ri := made[k]
		sp.refs[site.Written] = ri
		if ri.canon == "" { // nothing to ask: settled now
			sp.answer(ri, resolve.Result{})
			continue
		}
		if len(sp.byCanon[ri.canon]) == 0 {
			ask = append(ask, tags[k])
		}
		sp.byCanon[ri.canon] = append(sp.byCanon[ri.canon], ri)
		if res, ok := sp.answers[ri.canon]; ok {
			sp.answer(ri, res)
		}
	}
	pending := 0
	known := make([]*refInfo, len(named))
	for k, site := range named {
		ri := sp.refs[site.Written]
		known[k] = ri
		if !ri.settled {
			pending++
			sp.users[ri] = append(sp.users[ri], i)
		}
	}
	infos := make([]*refInfo, len(f.Sites))
	for j, k := range at {
		if k >= 0 {
			infos[j] = known[k]
		}
	}
	sp.infos[i] = infos
	sp.pending[i] = pending
	if pending == 0 {
		if sp.opts.Sink == nil {
			return ask, true
		}
		sp.ready <- i
	}
	return ask, false
}

// fileRefs is the first pinnable site naming each reference as written,
// and, site by site, the index among them of the reference it names (-1
// for a site not pinned).
func fileRefs(sites []*rewrite.Site) (named []*rewrite.Site, at []int) {
	const few = 16 // looked through; more are looked up
	at = make([]int, len(sites))
	var index map[string]int
	for j, site := range sites {
		at[j] = -1
		if !site.Pinnable() {
			continue
		}
		k := -1
		if index != nil {
			if n, ok := index[site.Written]; ok {
				k = n
			}
		} else {
			k = slices.IndexFunc(named, func(s *rewrite.Site) bool { return s.Written == site.Written })
		}
		if k < 0 {
			k = len(named)
			named = append(named, site)
			switch {
			case index != nil:
				index[site.Written] = k
			case len(named) > few:
				index = make(map[string]int, 2*len(named))
				for n, s := range named {
					index[s.Written] = n
				}
			}
		}
		at[j] = k
	}
	return named, at
}

// resolved takes a tag's answer; it may be called from several goroutines.
func (sp *splicer) resolved(key string, res resolve.Result) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.answers[key] = res
	for _, ri := range sp.byCanon[key] {
		sp.answer(ri, res)
	}
}

// answer gives a reference its tag's answer, and settles it unless checks
// are still to come. Called with mu held.
func (sp *splicer) answer(ri *refInfo, res resolve.Result) {
	if ri.answered {
		return
	}
	ri.res, ri.answered = res, true
	ri.settle(sp.opts.Offline)
	if !sp.toCheck(ri) {
		sp.settled(ri)
	}
}

// toCheck tells whether a reference whose tag has answered still awaits the
// checks: its digest written must be shown to exist, or the digest it is to
// carry inspected.
func (sp *splicer) toCheck(ri *refInfo) bool {
	return sp.checking && (ri.asksExists() || len(sp.opts.Platforms) > 0 || sp.opts.Verify)
}

// settled marks a reference settled, and queues the files left waiting on
// nothing else. Called with mu held.
func (sp *splicer) settled(ri *refInfo) {
	if ri.settled {
		return
	}
	ri.settled = true
	ri.pinned = ri.ref.WithDigest(ri.digest) // spelt once for every site naming it
	for _, i := range sp.users[ri] {
		if sp.pending[i]--; sp.pending[i] == 0 {
			sp.ready <- i
		}
	}
	delete(sp.users, ri)
}

// unsettled are the references the checks are to look at, every one
// answered (a tag that never had an answer has failed). Called once the
// scan and the tags are done.
func (sp *splicer) unsettled() map[string]*refInfo {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	out := map[string]*refInfo{}
	for k, ri := range sp.refs {
		if !ri.answered {
			sp.answer(ri, resolve.Result{})
		}
		if !ri.settled {
			out[k] = ri
		}
	}
	return out
}

// finish settles every reference left and waits for the last file.
func (sp *splicer) finish() {
	sp.mu.Lock()
	for _, ri := range sp.refs {
		sp.answer(ri, resolve.Result{}) // a tag never answered has failed
		sp.settled(ri)
	}
	close(sp.ready)
	sp.mu.Unlock()
	sp.wg.Wait()
}

// splice rewrites file i with the digests its references settled on,
// reports its sites, and hands the change to the sink unless the run is
// being stopped.
func (sp *splicer) splice(i int) {
	if sp.ctx.Err() != nil {
		return
	}
	s := &sp.scans[i]
	f := s.file
	// The digest each site is to carry: the registry's answer for the tag
	// it follows, or, for a reference pinned by digest alone (and offline),
	// its own. A failure ("") leaves the site as it is, pull policy included.
	// Every reference the file names is settled: what is known of it no
	// longer changes.
	infos := sp.infos[i]
	sp.infos[i] = nil
	digestAt := func(j int) string {
		if ri := infos[j]; ri != nil {
			return ri.digest
		}
		return ""
	}
	updated, notes, err := f.RewriteEach(digestAt, sp.opts.PullPolicy)
	sp.entries[i] = sp.report(f, infos, notes)
	if err != nil {
		sp.errs[i] = err
		return
	}
	if sp.opts.Offline || string(updated) == string(f.Data) {
		return
	}
	c := &Change{Path: f.Path, Old: f.Data, New: updated, Mode: s.mode}
	if sp.opts.Sink != nil {
		c.Err = sp.opts.Sink(*c)
	}
	sp.changes[i] = c
}

// report is a file's entries, a site each (one value reached through
// aliases is one entry), given what is known of the reference each site
// names and the pull-policy notes of the rewrite (none if it failed). The
// sites are let go as they are reported: memory goes from sites to
// entries, not to both.
func (sp *splicer) report(f *rewrite.File, infos []*refInfo, notes []rewrite.PolicyNote) []report.Entry {
	out := make([]report.Entry, 0, len(f.Sites))
	for j, site := range f.Sites {
		var note rewrite.PolicyNote
		if notes != nil {
			note = notes[j]
		}
		e := entry(f.Path, site, infos[j], note, sp.opts)
		if k := sameSite(out, e); k >= 0 {
			if p := &out[k].PullPolicy; *p == "" {
				*p = e.PullPolicy
			}
		} else {
			out = append(out, e)
		}
		f.Sites[j] = nil
	}
	return out
}

// writeError says why a change could not be written, without the root's
// path.
func writeError(err error) string {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case errors.Is(err, checkout.ErrChanged):
		return checkout.ErrChanged.Error()
	}
	return err.Error()
}
