package pin

import (
	"strings"
	"sync"

	"github.com/pinbot/pinbot/internal/imageref"
	"github.com/pinbot/pinbot/internal/rewrite"
)

// soon writes, while the registries still answer other tags, each file
// whose tags are all answered and that no later stage can change: a file
// whose tags carry no digest yet or still answer the digest written (a
// moved tag is the cooldown's, the evidence's), no chart's file, with no
// action and no container that pulls Always, in a run that neither
// verifies digests, nor checks their platforms, nor enforces a signature
// policy. The run's wall time is then
// the network's and the last file's splice, not the network's and every
// file's. Such a file goes through the sink as the others do; its entries
// are made later, from the same answers.
type soon struct {
	r       *run
	e       *early
	mu      sync.Mutex
	done    map[string]bool       // tags answered (canonical names)
	waiting map[string][]*fileRun // files waiting on each tag
	pending map[*fileRun]int      // tags each file still waits on
	tags    map[*fileRun][]string // each tracked file's tags, by site
	wg      sync.WaitGroup
	sem     chan struct{}
}

// startSoon starts writing early, when the run allows it (nil: it does
// not).
func (r *run) startSoon(e *early) *soon {
	o := r.opts
	if e == nil || o.Sink == nil || o.Edits || o.Offline || o.Verify || len(o.Platforms) > 0 || o.enforcing() {
		return nil
	}
	s := &soon{r: r, e: e, done: map[string]bool{}, waiting: map[string][]*fileRun{}, pending: map[*fileRun]int{},
		tags: map[*fileRun][]string{}, sem: make(chan struct{}, sinkJobs)}
	e.answered = s.answered
	return s
}

// track waits for the tags of file fr, when it is one soon may write.
func (s *soon) track(fr *fileRun) {
	if s == nil {
		return
	}
	if !s.r.settlesEarly(fr) {
		return
	}
	tags, ok := tagsOf(fr)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tags[fr] = tags
	for _, t := range tags {
		if t != "" && !s.done[t] {
			s.waiting[t] = append(s.waiting[t], fr)
			s.pending[fr]++
		}
	}
	if s.pending[fr] == 0 {
		s.dispatch(fr)
	}
}

// soonMaxBytes bounds the files written early: writing early gains on many
// small files; a large one is written with the rest, as its new bytes and
// edits would otherwise be held beside the run's other work (see
// BenchmarkManyDocuments).
const soonMaxBytes = 1 << 20

// settlesEarly tells a file soon may write (and an offline run settle as
// it is scanned): one with a site to pin and none that a later stage may
// change.
func (r *run) settlesEarly(fr *fileRun) bool {
	f := fr.file
	if f == nil || isChartFile(f) || len(f.Data) > soonMaxBytes || len(f.Uses) > 0 && r.opts.Actions != ActionsOff && r.opts.Actions != "" {
		return false
	}
	any := false
	for j, site := range f.Sites {
		p := &fr.plans[j]
		if p.key == "" || p.skip != "" {
			continue
		}
		if p.key != site.Written || site.Ref.Follows() == "" || site.PullPolicy == string(rewrite.PolicyAlways) ||
			strings.HasPrefix(string(site.Kind), "helm") || site.TagSlot() {
			return false
		}
		any = true
	}
	return any
}

// tagsOf is the tag each of fr's sites follows, as the registries are
// asked it ("" for a site left alone); false when one cannot be asked.
func tagsOf(fr *fileRun) ([]string, bool) {
	tags := make([]string, len(fr.file.Sites))
	for j, site := range fr.file.Sites {
		if p := &fr.plans[j]; p.key == "" || p.skip != "" {
			continue
		}
		t, err := site.Ref.Canonical()
		if err != nil {
			return nil, false
		}
		tags[j] = t.Name()
	}
	return tags, true
}

// answered is told each tag as its answer arrives.
func (s *soon) answered(tag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done[tag] = true
	for _, fr := range s.waiting[tag] {
		if s.pending[fr]--; s.pending[fr] == 0 {
			s.dispatch(fr)
		}
	}
	delete(s.waiting, tag)
}

// dispatch writes fr in the background; s.mu is held.
func (s *soon) dispatch(fr *fileRun) {
	tags := s.tags[fr]
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.sem <- struct{}{}
		defer func() { <-s.sem }()
		if s.r.ctx.Err() == nil {
			s.write(fr, tags)
		}
	}()
}

// write splices fr with the answers to its tags and hands it to the sink;
// a file with a tag that failed is left to the run's own stages.
func (s *soon) write(fr *fileRun, tags []string) {
	digests := make([]string, len(tags))
	for j, t := range tags {
		if t == "" {
			continue
		}
		s.e.mu.Lock()
		res := s.e.answers[t]
		s.e.mu.Unlock()
		if res.Err != nil || !imageref.ValidDigest(res.Digest) {
			return
		}
		if d := fr.file.Sites[j].Ref.Digest; d != "" && d != res.Digest {
			return // a tag that moved: the cooldown, the evidence, the vanished digest are the run's
		}
		digests[j] = fr.plans[j].carry(res.Digest)
	}
	// the same splice and hand-over as the run's own, with these digests;
	// once written (or found unchanged), its bytes go, but a GitOps
	// resource's, which judging the charts reads
	fr.early = true
	s.r.spliceWith(fr, func(j int) string { return digests[j] })
	if fr.edits != nil {
		c := Change{Path: fr.file.Path, Old: fr.file.Data, Mode: fr.mode}
		s.r.handOver(fr, &c)
		fr.change = &c
	}
	if (fr.change == nil || fr.change.Err == nil) && !fr.deploys {
		fr.file.Data = nil
	}
}

// wait returns once every file dispatched is written.
func (s *soon) wait() {
	if s != nil {
		s.wg.Wait()
	}
}

// settleOffline splices fr as soon as it is scanned, in a run that asks no
// registry: each site carries the digest written, if any (see
// refInfo.settle), which no later stage changes, so the file is settled,
// and its bytes go, as soon writes a file (a GitOps resource's stay).
func (r *run) settleOffline(fr *fileRun) {
	if !r.opts.Offline {
		return
	}
	if !r.settlesEarly(fr) {
		return
	}
	fr.early = true
	r.spliceWith(fr, func(j int) string {
		if p := &fr.plans[j]; p.key != "" && p.skip == "" && fr.file.Sites[j].Ref.Digest != "" {
			return p.carry(fr.file.Sites[j].Ref.Digest)
		}
		return ""
	})
	if !fr.deploys {
		fr.file.Data = nil
	}
}
