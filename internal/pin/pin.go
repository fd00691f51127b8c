// Package pin is pinbot's pipeline, shared by "pinbot pin" and "pinbot pr":
// scan a checkout for image sites, resolve each unique tag once, plan the
// edits and splice them into the original bytes. The stages overlap: a tag
// is asked as soon as a file naming it is scanned, and a file is spliced as
// soon as every reference it names is settled. It writes nothing itself:
// the caller gets each changed file's old and new bytes and a report, and
// may take each change as it comes (Options.Sink) to write it while the
// rest of the run waits on registries.
package pin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/pinbot/pinbot/internal/checkout"
	"github.com/pinbot/pinbot/internal/imageref"
	"github.com/pinbot/pinbot/internal/progress"
	"github.com/pinbot/pinbot/internal/report"
	"github.com/pinbot/pinbot/internal/resolve"
	"github.com/pinbot/pinbot/internal/rewrite"
	"github.com/pinbot/pinbot/internal/safetext"
)

// Resolver resolves tags to digests, keyed by canonical name (tag.Name()).
type Resolver interface {
	Resolve(ctx context.Context, tags []name.Tag) map[string]resolve.Result
}

// Filter selects files and leaves images alone.
type Filter interface {
	checkout.Filter
	Ignored(r imageref.Ref) bool
}

// Options configure a run.
type Options struct {
	// Paths are slash paths relative to the checkout's root; none means ".".
	Paths      []string
	Filter     Filter
	PullPolicy rewrite.PullPolicy
	// Offline asks no registry: references without a digest are reported
	// unpinned, and nothing is rewritten.
	Offline bool
	// Jobs bounds the files read and parsed at once; default GOMAXPROCS.
	Jobs int
	// Platforms every digest written or kept must cover (one GET of the
	// manifest each); none: no check.
	Platforms []v1.Platform
	// Verify reads each digest written and checks its bytes hash to it.
	Verify bool
	// Progress counts the files scanned as the run goes; nil: not counted.
	Progress *progress.Tracker
	// Sink, when set, takes each changed file as soon as every reference
	// it names is settled, while the run goes on (several at once); its
	// error is the change's Err. A run that is stopped hands over no more.
	Sink func(Change) error
}

// Change is a file whose bytes the run changes.
type Change struct {
	Path     string
	Old, New []byte
	Mode     fs.FileMode
	// Err is why the sink failed to take the change; nil without a sink.
	Err error
}

// Result is a run's outcome.
type Result struct {
	Report  *report.Report
	Changes []Change
}

// SoftMemoryLimit is the heap size past which pinbot's garbage collector
// works harder rather than let the heap double (GOMEMLIMIT overrides it). A
// scan holds one document at a time, but the report of a file naming an
// image 450,000 times is itself large: without the limit the collector's
// headroom alone can double the peak.
const SoftMemoryLimit = 320 << 20

// GCPercent is the collector's pace (GOGC overrides it): a run allocates
// many short-lived values per file while it keeps little, so at Go's
// default of 100 the collector runs every few megabytes read, and a
// quarter of the processor goes to it and to the write barriers it turns
// on. Under SoftMemoryLimit the heap cannot outgrow the limit for it.
const GCPercent = 400

// TuneGC sets the soft memory limit and the collector's pace, each unless
// its environment variable (GOMEMLIMIT, GOGC) sets it, and returns a
// function that puts back what it changed.
func TuneGC() (undo func()) {
	var undos []func()
	if os.Getenv("GOMEMLIMIT") == "" {
		was := debug.SetMemoryLimit(SoftMemoryLimit)
		undos = append(undos, func() { debug.SetMemoryLimit(was) })
	}
	if os.Getenv("GOGC") == "" {
		was := debug.SetGCPercent(GCPercent)
		undos = append(undos, func() { debug.SetGCPercent(was) })
	}
	return func() {
		for _, u := range undos {
			u()
		}
	}
}

// ReasonConfigIgnored is the skip reason for images listed in the config's ignore.
const ReasonConfigIgnored = "listed under ignore in the configuration"

// NoteAppVersion marks a Helm image whose tag is the chart's appVersion.
const NoteAppVersion = "the tag is Chart.yaml's appVersion"

// ReasonDigestOnly says why a reference pinned by digest alone is never renewed.
const ReasonDigestOnly = "pinned by digest alone: no tag to follow"

type scanned struct {
	file   *rewrite.File
	mode   fs.FileMode
	warn   *report.Warning   // not understood (not YAML, say): left alone
	unread *report.FileError // not read at all: the run fails
}

// Run scans, resolves and plans. Per-reference failures are in the report;
// an error means the run itself could not proceed.
func Run(ctx context.Context, co *checkout.Checkout, res Resolver, opts Options) (*Result, error) {
	paths := opts.Paths
	if len(paths) == 0 {
		paths = []string{"."}
	}
	if opts.PullPolicy == "" {
		opts.PullPolicy = rewrite.PolicyIfNotPresent
	}
	var filter checkout.Filter
	if opts.Filter != nil {
		filter = opts.Filter
	}
	listing, err := co.Walk(paths, filter, "Chart.yaml")
	if err != nil {
		return nil, err
	}
	files := listing.Files
	cx := rewrite.NewContext(withCharts(co, listing), func(p string) ([]byte, error) {
		data, _, err := co.ReadFile(p)
		return data, err
	})
	var candidates []string
	var formats []rewrite.Format
	for _, f := range files {
		if format := cx.Detect(f); format != rewrite.FormatNone {
			candidates = append(candidates, f)
			formats = append(formats, format)
		}
	}
	opts.Progress.AddFiles(len(candidates))

	// The references each file names are learnt as it is scanned, their
	// tags asked at once (while the scan goes on) when the resolver takes
	// them so; each file is spliced, and handed to the sink, as soon as
	// every reference it names is settled.
	_, checking := res.(Checker)
	scans := make([]scanned, len(candidates))
	sp := newSplicer(ctx, scans, checking, opts)
	var tags []name.Tag
	ask := func(t []name.Tag) { tags = append(tags, t...) }
	var tagc chan name.Tag
	resolving := make(chan struct{})
	if rm, ok := res.(eachResolver); ok && !opts.Offline {
		tagc = make(chan name.Tag, 64)
		ask = func(t []name.Tag) {
			for _, t := range t {
				tagc <- t
			}
		}
		go func() {
			defer close(resolving)
			rm.ResolveEach(ctx, tagc, sp.resolved)
		}()
	}
	var askMu sync.Mutex
	err = scanAll(ctx, co, cx, candidates, formats, scans, opts.Jobs, opts.Progress, func(i int) {
		if f := scans[i].file; f != nil {
			t, now := sp.add(i, f)
			if len(t) > 0 {
				askMu.Lock()
				ask(t)
				askMu.Unlock()
			}
			if now {
				sp.splice(i)
			}
		}
	})
	if tagc != nil {
		close(tagc)
		<-resolving
	} else if len(tags) > 0 && err == nil {
		for key, r := range res.Resolve(ctx, tags) {
			sp.resolved(key, r)
		}
	}
	if err != nil {
		sp.finish()
		return nil, err
	}

	rep := &report.Report{Files: len(candidates), Offline: opts.Offline}
	for _, s := range scans {
		switch {
		case s.warn != nil:
			rep.Warnings = append(rep.Warnings, *s.warn)
		case s.unread != nil:
			rep.Unread = append(rep.Unread, *s.unread)
		}
	}
	if c, ok := res.(Checker); ok && !opts.Offline && ctx.Err() == nil {
		check(ctx, c, sp.unsettled(), opts)
	}
	sp.finish()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s, ok := res.(interface{ Stats() resolve.Stats }); ok && !opts.Offline {
		st := s.Stats()
		rep.Requests = &st
	}

	nchanges := 0
	for _, c := range sp.changes {
		if c != nil {
			nchanges++
		}
	}
	out := &Result{Report: rep}
	if nchanges > 0 {
		out.Changes = make([]Change, 0, nchanges)
	}
	for i := range scans {
		s := &scans[i]
		if s.file == nil {
			continue
		}
		if err := sp.errs[i]; err != nil {
			// conflicting edits: a bug or a file shape pinbot misread; leave the file
			rep.Warnings = append(rep.Warnings, report.Warning{File: s.file.Path, Message: "not rewritten: " + err.Error()})
			continue
		}
		if c := sp.changes[i]; c != nil {
			out.Changes = append(out.Changes, *c)
			switch {
			case c.Err != nil:
				rep.Errors = append(rep.Errors, report.FileError{File: c.Path, Error: writeError(c.Err)})
			default:
				rep.Changed = append(rep.Changed, c.Path)
			}
		}
	}
	rep.Entries = concat(sp.entries)
	for i := range scans {
		scans[i].file, sp.entries[i] = nil, nil
	}
	rep.Sort()
	return out, nil
}

// concat is the files' entries one after another; the entries of the one
// file that has any, as they are (a large file's are not held twice).
func concat(files [][]report.Entry) []report.Entry {
	n, with := 0, 0 // entries, and files with any
	var last []report.Entry
	for _, es := range files {
		if len(es) > 0 {
			n, with, last = n+len(es), with+1, es
		}
	}
	if with == 1 {
		return last
	}
	out := make([]report.Entry, 0, n)
	for _, es := range files {
		out = append(out, es...)
	}
	return out
}

// sameSite finds, among a file's entries so far, one for the same place,
// kind and reference as e. Sites come sorted by position, so only the last
// entries can match.
func sameSite(entries []report.Entry, e report.Entry) int {
	for i := len(entries) - 1; i >= 0; i-- {
		x := &entries[i]
		if x.Line != e.Line || x.Column != e.Column {
			return -1
		}
		if x.Kind == e.Kind && x.Ref == e.Ref {
			return i
		}
	}
	return -1
}

// refInfo is what a run knows of one reference as written: the image as
// people say it, the canonical tag it follows, the registry's answer, and
// its pinned spelling (shared by every site naming it).
type refInfo struct {
	image  string
	canon  string
	ref    imageref.Ref
	res    resolve.Result
	pinned string // ref with the digest it carries, once settled
	// digest is what the sites naming the reference carry after the run:
	// the tag's digest, or the digest written; "" leaves them as they are.
	digest string
	// vanished: the digest written no longer exists upstream.
	vanished bool
	// answered: the tag's answer is in res (or none will come); settled:
	// digest is final (see splicer).
	answered, settled bool
	// err is why the reference failed; missing are the platforms its
	// digest does not cover.
	err     error
	missing []string
}

// settle decides, from the tag's answer alone, the digest the reference is
// to carry.
func (ri *refInfo) settle(offline bool) {
	switch {
	case offline || ri.ref.Follows() == "":
		ri.digest = ri.ref.Digest
	case ri.res.Err != nil:
		ri.err = ri.res.Err
	case ri.res.Digest == "":
		ri.err = errors.New("not resolved")
	case !imageref.ValidDigest(ri.res.Digest):
		// whatever answered, only a well-formed digest is ever written
		ri.err = fmt.Errorf("not a sha256 digest: %s", safetext.Term(ri.res.Digest))
	default:
		ri.digest = ri.res.Digest
	}
}

// asksExists tells whether the digest written must be shown to exist: a
// digest whose tag has just resolved to it plainly does.
func (ri *refInfo) asksExists() bool {
	return ri.ref.Digest != "" && (ri.ref.Follows() == "" || ri.res.Digest != ri.ref.Digest)
}

// Checker is a Resolver that can also tell whether digests still exist, and
// inspect them (platforms, bytes).
type Checker interface {
	Exists(ctx context.Context, digests []name.Digest) map[string]error
	Inspect(ctx context.Context, subjects []resolve.Subject, opts resolve.InspectOptions) map[string]resolve.Inspection
}

// check asks whether every digest already written still exists (one HEAD
// each), then, when platforms or verification are asked for, inspects the
// digest each reference is to carry (one GET each).
func check(ctx context.Context, c Checker, refs map[string]*refInfo, opts Options) {
	digestName := func(ri *refInfo, d string) (name.Digest, bool) {
		n, err := name.NewDigest(ri.ref.Name + "@" + d)
		return n, err == nil
	}
	// A digest whose tag has just resolved to it plainly exists: only the
	// others are asked about.
	asked := map[*refInfo]name.Digest{}
	var pinned []name.Digest
	for _, ri := range refs {
		if ri.asksExists() {
			if d, ok := digestName(ri, ri.ref.Digest); ok {
				asked[ri] = d
				pinned = append(pinned, d)
			}
		}
	}
	if len(pinned) > 0 {
		exists := c.Exists(ctx, pinned)
		for ri, d := range asked {
			switch err := exists[d.String()]; {
			case errors.Is(err, resolve.ErrVanished):
				ri.vanished = true
				if ri.ref.Follows() == "" {
					ri.digest, ri.err = "", errors.New(resolve.ErrVanished.Error()+"; pinned by digest alone, there is no tag to follow: pin a tag that exists")
				}
			case err != nil && ri.err == nil:
				ri.digest, ri.err = "", fmt.Errorf("checking that the pinned digest still exists: %w", err)
			}
		}
	}
	if len(opts.Platforms) == 0 && !opts.Verify {
		return
	}
	// Each digest to carry is read: a digest written as its tag was
	// resolved (so --verify sees what the tag's answer stands for), one
	// kept by the digest itself.
	subject := func(ri *refInfo) (resolve.Subject, bool) {
		if ri.digest != ri.ref.Digest && ri.canon != "" {
			if t, err := name.NewTag(ri.canon); err == nil {
				return resolve.Subject{Ref: t, Digest: ri.digest}, true
			}
		}
		d, ok := digestName(ri, ri.digest)
		return resolve.Subject{Ref: d, Digest: ri.digest}, ok
	}
	read := map[*refInfo]resolve.Subject{}
	var subjects []resolve.Subject
	for _, ri := range refs {
		if ri.digest == "" || (len(opts.Platforms) == 0 && ri.digest == ri.ref.Digest) {
			continue // --verify alone checks only the digests written
		}
		if sub, ok := subject(ri); ok {
			read[ri] = sub
			subjects = append(subjects, sub)
		}
	}
	found := c.Inspect(ctx, subjects, resolve.InspectOptions{Platforms: opts.Platforms, Verify: opts.Verify})
	for ri, sub := range read {
		switch in := found[sub.Key()]; {
		case in.Err != nil:
			ri.digest, ri.err = "", in.Err
		case len(in.Missing) > 0:
			ri.missing = in.Missing
			has := "none"
			if len(in.Has) > 0 {
				has = strings.Join(in.Has, ", ")
			}
			ri.err = fmt.Errorf("%s does not cover %s (it has %s)", report.ShortDigest(ri.digest), strings.Join(in.Missing, ", "), has)
			ri.digest = ""
		}
	}
}

// entry reports one site, given what the run knows of its reference.
func entry(file string, s *rewrite.Site, ri *refInfo, note rewrite.PolicyNote, opts Options) report.Entry {
	e := report.Entry{File: file, Line: s.Line, Column: s.Column, Kind: string(s.Kind), Ref: s.Written}
	if s.AppVersion {
		e.Note = NoteAppVersion
	}
	if !s.Pinnable() || ri == nil {
		e.Status, e.Reason = report.Skipped, s.Skip
		return e
	}
	r := ri.res
	e.Image, e.Tag, e.OldDigest = ri.image, s.Ref.Follows(), s.Ref.Digest
	e.Via, e.Missing, e.Cached = r.Via, ri.missing, r.Cached && !opts.Offline
	switch {
	case opts.Offline && s.Ref.Digest == "":
		e.Status = report.Unpinned
		return e
	case opts.Offline:
		e.Status, e.Digest = report.Unverified, s.Ref.Digest
	case ri.err != nil:
		e.Status, e.Error, e.Vanished = report.Failed, ri.err.Error(), ri.vanished
		return e
	case ri.vanished:
		e.Status, e.Digest, e.Vanished = report.Vanished, ri.digest, true
	case s.Ref.Follows() == "":
		e.Status, e.Digest, e.Reason = report.Current, s.Ref.Digest, ReasonDigestOnly
	case ri.digest == s.Ref.Digest:
		e.Status, e.Digest = report.Current, ri.digest
	case s.Ref.Digest != "":
		e.Status, e.Digest = report.Updated, ri.digest
	default:
		e.Status, e.Digest = report.Pinned, ri.digest
	}
	e.Pinned = ri.pinned
	e.PullPolicy = policyText(note, s.PullPolicy, opts.PullPolicy)
	return e
}

// policyText says what happened to a container's imagePullPolicy, in the
// few spellings there are (shared, not built anew for every site).
func policyText(note rewrite.PolicyNote, was string, want rewrite.PullPolicy) string {
	switch note {
	case rewrite.PolicyAdded:
		if want == rewrite.PolicyIfNotPresent {
			return "added IfNotPresent"
		}
		return "added " + string(want)
	case rewrite.PolicyChanged:
		switch {
		case was == "Always" && want == rewrite.PolicyIfNotPresent:
			return "Always -> IfNotPresent"
		case was == "IfNotPresent" && want == rewrite.PolicyAlways:
			return "IfNotPresent -> Always"
		}
		return was + " -> " + string(want)
	case rewrite.PolicyKept:
		if was == "Never" {
			return "kept Never"
		}
		return "kept " + was
	}
	return ""
}

// scanAll reads and parses files (in the formats detected) into out with a
// bounded pool, calling done(i) as each file i is scanned. Workers take the
// next file from a counter, not from a goroutine handing files out.
func scanAll(ctx context.Context, co *checkout.Checkout, cx *rewrite.Context, files []string, formats []rewrite.Format, out []scanned, jobs int, pt *progress.Tracker, done func(i int)) error {
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < jobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(files) {
					return
				}
				out[i] = scanOne(ctx, co, cx, files[i], formats[i])
				done(i)
				pt.FileDone()
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

func scanOne(ctx context.Context, co *checkout.Checkout, cx *rewrite.Context, p string, format rewrite.Format) scanned {
	data, mode, err := co.ReadFile(p)
	if err != nil {
		return scanned{unread: &report.FileError{File: p, Error: readError(err)}}
	}
	f, err := rewrite.ScanIn(ctx, cx, p, format, data)
	if err != nil {
		var pe *rewrite.ParseError
		switch {
		case errors.Is(err, rewrite.ErrTooComplex):
			// pinbot cannot see what the file names: a gate must not pass it
			return scanned{unread: &report.FileError{File: p, Error: err.Error()}}
		case errors.As(err, &pe):
			return scanned{warn: &report.Warning{File: p, Line: pe.Line, Message: "not valid " + format.Kind() + ", left as it is: " + pe.Msg,
				MayNameImages: rewrite.MayNameImages(format, data)}}
		}
		return scanned{unread: &report.FileError{File: p, Error: err.Error()}}
	}
	return scanned{file: f, mode: mode}
}

// withCharts is the listed files with what a chart's values need beyond
// them: the Chart.yaml and templates of every chart that holds a listed
// file (when a values file is named alone, or its Chart.yaml is ignored).
// A directory the walk read is known to hold a Chart.yaml or not; the others
// are looked in.
func withCharts(co *checkout.Checkout, l *checkout.Listing) []string {
	files := l.Files
	listed := make(map[string]bool, len(files))
	for _, f := range files {
		listed[f] = true
	}
	charts := make(map[string]bool, len(l.Also)) // the charts' directories the walk saw
	for _, f := range l.Also {
		charts[path.Dir(f)] = true
	}
	dirs := map[string]bool{}
	last := ""
	for _, f := range files {
		d := path.Dir(f)
		if d == last { // sorted files mostly follow others of their directory
			continue
		}
		last = d
		for ; ; d = path.Dir(d) {
			if dirs[d] {
				break
			}
			dirs[d] = true
			if d == "." {
				break
			}
		}
	}
	out := files
	for d := range dirs {
		chart := path.Join(d, "Chart.yaml")
		switch {
		case listed[chart]:
			continue
		case l.Dirs[d]:
			if !charts[d] {
				continue
			}
		default:
			if _, _, err := co.ReadFile(chart); err != nil {
				continue
			}
		}
		more, err := co.Files([]string{d}, nil)
		if err != nil {
			continue
		}
		for _, m := range more {
			if !listed[m] && (path.Base(m) == "Chart.yaml" || strings.Contains(m, "/templates/")) {
				listed[m] = true
				out = append(out, m)
			}
		}
	}
	return out
}

// readError says why a file could not be read, without the root's path.
func readError(err error) string {
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case errors.As(err, &pe):
		return pe.Err.Error()
	}
	return err.Error()
}
