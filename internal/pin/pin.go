// Package pin is pinbot's pipeline, shared by "pinbot pin" and "pinbot pr",
// in named stages: list the checkout's files, scan them for image sites and
// plan what each site is to follow (asking the registries for each tag as
// it is found), judge the sites of Helm charts by rendering them, resolve
// what is left, check the digests, splice the edits into the original
// bytes, prove each chart's edits by rendering it again, and hand the
// changes over. Each file's journey is one record (fileRun) the stages
// fill in. It writes nothing itself: the caller gets each changed file's
// old and new bytes and a report, and may take the changes through
// Options.Sink.
package pin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/pinbot/pinbot/internal/built"
	"github.com/pinbot/pinbot/internal/checkout"
	"github.com/pinbot/pinbot/internal/imageref"
	"github.com/pinbot/pinbot/internal/progress"
	"github.com/pinbot/pinbot/internal/render"
	"github.com/pinbot/pinbot/internal/report"
	"github.com/pinbot/pinbot/internal/resolve"
	"github.com/pinbot/pinbot/internal/rewrite"
	"github.com/pinbot/pinbot/internal/safetext"
)

// Resolver is what the run asks of registries: each tag's digest (by
// canonical name, tag.Name()), whether digests still exist, what they
// cover, and how many requests that took.
type Resolver interface {
	Resolve(ctx context.Context, tags []name.Tag) map[string]resolve.Result
	Exists(ctx context.Context, digests []name.Digest) map[string]error
	Inspect(ctx context.Context, subjects []resolve.Subject, opts resolve.InspectOptions) map[string]resolve.Inspection
	// Private tells the tags (by canonical name) of images that are
	// refused without credentials.
	Private(ctx context.Context, tags []name.Tag) map[string]bool
	// Facts reads what each digest stands for (see resolve.Facts).
	Facts(ctx context.Context, digests []name.Digest) map[string]resolve.Facts
	Stats() resolve.Stats
}

// Renderer renders a chart (see render.Render).
type Renderer interface {
	Render(ctx context.Context, files render.Files, values []byte) (map[string]string, error)
	// RenderAt renders as if the cluster ran Kubernetes kube.
	RenderAt(ctx context.Context, files render.Files, values []byte, kube string) (map[string]string, error)
}

// Filter selects files and leaves images alone.
type Filter interface {
	checkout.Filter
	Ignored(r imageref.Ref) bool
	// IgnoredChart tells a chart (its directory) that the run need not
	// judge: one it cannot judge does not fail the run.
	IgnoredChart(dir string) bool
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
	// MinAge is the cooldown: a tag that moved is proposed at its new
	// digest only once pinbot has seen it there for this long (by
	// FirstSeen, and Now). A first pin and a vanished digest are never held.
	MinAge time.Duration
	// FirstSeen is when earlier runs first saw each move (canonical tag
	// "@" digest); the run's Report.FirstSeen is what the next run needs.
	FirstSeen map[string]time.Time
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Evidence reads, for each moved tag, what its old and new digest
	// stand for (GETs of manifests and configs, for moved tags alone).
	Evidence bool
	// Renderer renders charts as "helm template" does; nil: in this
	// process. The CLI renders in a render.Sandbox: a chart's templates
	// are code. One with a Warm method is warmed as soon as the run finds
	// a chart.
	Renderer Renderer
	// Edits: each change carries its edits (Change.Edits), for a diff,
	// and not its new bytes (New is nil).
	Edits bool
	// Actions is what the run does with the actions and reusable
	// workflows that workflows name by ref; "" is ActionsOff.
	Actions ActionsMode
	// ActionResolver asks GitHub about them; nil (or Offline): nothing is
	// asked, and none is written.
	ActionResolver ActionResolver
	// ActionsByTag are globs of actions (owner/repo[/path]) left on their
	// tag (see DefaultActionsByTag).
	ActionsByTag []string
	// ActionsWeb is GitHub's web address, for compare links
	// (https://github.com); "": none.
	ActionsWeb string
	// Signatures judges who signed the digests the run writes (see
	// judgeSignatures); nil: none is judged.
	Signatures Signatures
	// SignaturesKept judges the digests already written too (pin --check
	// with a signature mode set).
	SignaturesKept bool
	// Sink, when set, takes each changed file once the run has settled
	// and proved every change (several at once); its error is the
	// change's Err. A change's new bytes are made for the sink and dropped
	// once it has taken them (Change.New is nil after), so a run holds
	// only the files being written. A file that no later stage can change
	// (tags with no digest yet or still answering the one written, no
	// chart's, no action, no container pulling Always, neither Verify nor
	// Platforms nor an enforced signature policy) is handed over as soon
	// as its tags are answered, while the registries answer the others,
	// and its bytes go. A run that is stopped hands over nothing more.
	Sink func(Change) error
}

// Change is a file whose bytes the run changes.
type Change struct {
	Path     string
	Old, New []byte
	Mode     fs.FileMode
	// Edits make New of Old (with Options.Edits): what a diff shows.
	Edits []rewrite.Edit
	// Err is why the sink failed to take the change; nil without a sink.
	// A change the sink took has no bytes left (Old and New are nil),
	// but a chart's.
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

// LimitMemory sets the soft memory limit unless GOMEMLIMIT does, and
// returns a function that puts back what it changed.
func LimitMemory() (undo func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	was := debug.SetMemoryLimit(SoftMemoryLimit)
	return func() { debug.SetMemoryLimit(was) }
}

// ReasonConfigIgnored is the skip reason for images listed in the config's ignore.
const ReasonConfigIgnored = "listed under ignore in the configuration"

// NoteAppVersion marks a Helm image whose tag is the chart's appVersion.
const NoteAppVersion = "the tag is Chart.yaml's appVersion"

// ReasonNeverPull says why a container that never pulls is left alone.
const ReasonNeverPull = "imagePullPolicy: Never: the node runs the image it was given (kind load, ctr import), whose digest need not be the registry's"

// ReasonDigestOnly says why a reference pinned by digest alone is never renewed.
const ReasonDigestOnly = "pinned by digest alone: no tag to follow"

// fileRun is one file's journey through a run, each stage filling in its
// part: what the scan found (or why the file is left), what each site is to
// follow, and what splicing made of it. Charts, built images and the
// cooldown read and write it too.
type fileRun struct {
	scanned
	plans []sitePlan // by site
	// spliced are the bytes after splicing, kept for a chart's files,
	// which its render proves (nil: unchanged, not spliced, or made when
	// written)
	spliced []byte
	edits   []rewrite.Edit       // the edits that change it; nil: unchanged
	notes   []rewrite.PolicyNote // by site: what happened to its pull policy
	err     error                // splicing failed: the file is left as it is
	inChart bool                 // its bytes are rendered to prove them
	uses    []usePlan            // by rewrite.File.Uses
	// early: written while the registries still answered (see soon);
	// change is what the sink made of it (nil: nothing to change)
	early  bool
	change *Change
	// deploys: it may hold an Argo CD Application or a Flux HelmRelease
	// (see mayDeploy), whose bytes judging the charts reads; told as it is
	// scanned, so that no file's bytes are read after they may have gone
	deploys bool
}

// path is the file's path, "" when the scan found it none of pinbot's.
func (fr *fileRun) path() string {
	if fr.file == nil {
		return ""
	}
	return fr.file.Path
}

type scanned struct {
	file   *rewrite.File
	mode   fs.FileMode
	warn   *report.Warning   // not understood (not YAML, say): left alone
	unread *report.FileError // not read at all: the run fails
}

// buildFiles are the names of the build files looked for beyond the
// files listed (built.IsBuildFile reads more spellings among those).
var buildFiles = []string{"skaffold.yaml", "skaffold.yml", "Tiltfile", "compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}

// sinkJobs bounds the changes handed to a sink at once: a sink writes, so
// it waits on the disk more than on the processor.
const sinkJobs = 16

// sitePlan is what the run decided for one site, apart from the site
// itself: the reference it follows (key into the run's references), or why
// it is left alone, and how its digest is written.
type sitePlan struct {
	key  string // the reference to resolve, as written or as rendered; "" when not pinned
	skip string // why the site is left alone
	bare bool   // its digest key takes bare hex
	// hidden: a value found by its form alone that no render shows as an
	// image; it was never an image, and is not reported
	hidden bool
	// keepAlways: its container pulls Always, and its image is private:
	// the pull may be the cluster's credential check.
	keepAlways bool
	// more is what only a chart's sites have: a file naming an image
	// 450,000 times has as many plans, each kept small
	*planMore
}

// planMore is the part of a site's plan that charts decide.
type planMore struct {
	note string // more to say of it in the report
	// tag is the tag written with the digest ("tag@digest") where the
	// site takes its tag from the chart's appVersion
	tag string
	// fail is why the run refused to write the site's change after all
	// (a chart whose render did not prove it).
	fail error
}

// more gives the plan's chart part, made when first asked.
func (p *sitePlan) more() *planMore {
	if p.planMore == nil {
		p.planMore = &planMore{}
	}
	return p.planMore
}

// failed is why the run refused the site's change after all; nil if it did not.
func (p *sitePlan) failed() error {
	if p.planMore == nil {
		return nil
	}
	return p.fail
}

// noted is more to say of the site in the report.
func (p *sitePlan) noted() string {
	if p.planMore == nil {
		return ""
	}
	return p.note
}

// run is one pass of the pipeline.
type run struct {
	ctx    context.Context
	co     *checkout.Checkout
	res    Resolver
	opts   Options
	cx     *rewrite.Context
	files  []*fileRun          // in the order listed
	refs   map[string]*refInfo // by plan key
	charts []*chartJudge
	built  *built.Set // the images the repository builds

	gitOpsOnce sync.Once
	gitOps     []gitOpsObject // see gitOpsObjects
}

// Run scans, plans, resolves, splices and proves, and hands the changes to
// the sink. Per-reference failures are in the report; an error means the
// run itself could not proceed.
func Run(ctx context.Context, co *checkout.Checkout, res Resolver, opts Options) (*Result, error) {
	if opts.PullPolicy == "" {
		opts.PullPolicy = rewrite.PolicyIfNotPresent
	}
	if opts.Renderer == nil {
		opts.Renderer = render.InProcess{}
	}
	r := &run{ctx: ctx, co: co, res: res, opts: opts, refs: map[string]*refInfo{}}
	candidates, err := r.list()
	if err != nil {
		return nil, err
	}
	charts := len(r.cx.Charts()) > 0
	if w, ok := opts.Renderer.(interface{ Warm() }); ok && charts {
		w.Warm() // its workers start while the files are scanned
	}
	early := r.startResolving()
	soon := r.startSoon(early)
	err = scanAll(ctx, co, r.cx, candidates.files, candidates.formats, r.files, opts.Jobs, opts.Progress, func(i int) {
		if f := r.files[i].file; f != nil && charts {
			r.files[i].deploys = mayDeploy(f) // read only to judge a chart
		}
		r.plan(i)
		early.ask(r, i)
		soon.track(r.files[i])
		r.settleOffline(r.files[i])
	})
	if err != nil {
		early.stop()
		soon.wait()
		return nil, err
	}
	r.judgeCharts()
	r.resolve(early)
	soon.wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !opts.Offline {
		check(ctx, res, r.refs, opts)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	firstSeen := r.cooldown()
	for k, t := range r.judgeActions() {
		firstSeen[k] = t
	}
	if opts.Evidence && !opts.Offline {
		r.evidence()
	}
	if opts.Signatures != nil && !opts.Offline {
		r.judgeSignatures()
	}
	for _, ri := range r.refs {
		ri.pinned = ri.ref.WithDigest(ri.digest)
	}
	r.privateAlways()
	r.spliceAll(nil)
	r.proveCharts()
	changes := r.write()
	rep := r.report(changes)
	rep.FirstSeen = firstSeen
	rep.Charts = r.chartReport(rep)
	return &Result{Report: rep, Changes: changes}, ctx.Err()
}

type candidates struct {
	files   []string
	formats []rewrite.Format
}

// list walks the paths and detects each file's format.
func (r *run) list() (*candidates, error) {
	paths := r.opts.Paths
	if len(paths) == 0 {
		paths = []string{"."}
	}
	var filter checkout.Filter
	if r.opts.Filter != nil {
		filter = r.opts.Filter
	}
	listing, err := r.co.Walk(paths, filter, append([]string{"Chart.yaml"}, buildFiles...)...)
	if err != nil {
		return nil, err
	}
	// The images the repository builds: from the build files the walk saw,
	// listed or not, and those at the root, wherever the walk went.
	builds := append(append([]string(nil), listing.Files...), listing.Also...)
	for _, f := range buildFiles {
		if fi, err := r.co.Lstat(f); err == nil && fi.Mode().IsRegular() {
			builds = append(builds, f)
		}
	}
	if workflows, err := r.co.ReadTree(".github/workflows"); err == nil {
		for f := range workflows {
			if !strings.Contains(f, "/") {
				builds = append(builds, ".github/workflows/"+f)
			}
		}
	}
	slices.Sort(builds)
	r.built = built.Learn(slices.Compact(builds), func(p string) ([]byte, error) {
		data, _, err := r.co.ReadFile(p)
		return data, err
	})
	r.cx = rewrite.NewContext(withCharts(r.co, listing), func(p string) ([]byte, error) {
		data, _, err := r.co.ReadFile(p)
		return data, err
	})
	c := &candidates{}
	for _, f := range listing.Files {
		if format := r.cx.Detect(f); format != rewrite.FormatNone {
			c.files = append(c.files, f)
			c.formats = append(c.formats, format)
		}
	}
	r.opts.Progress.AddFiles(len(c.files))
	r.files = make([]*fileRun, len(c.files))
	for i := range r.files {
		r.files[i] = &fileRun{}
	}
	return c, nil
}

// plan decides, site by site, the reference each site of file i follows,
// or why it is left alone (its own reason, or the configuration's ignore
// list).
func (r *run) plan(i int) {
	s := r.files[i]
	if s.file == nil {
		return
	}
	plans := make([]sitePlan, len(s.file.Sites))
	for j, site := range s.file.Sites {
		p := &plans[j]
		where, builtHere := r.built.Builds(s.file.Path, site.Written, site.Ref)
		switch {
		case !site.Pinnable():
			p.skip = site.Skip
		case r.opts.Filter != nil && r.opts.Filter.Ignored(site.Ref):
			p.skip = ReasonConfigIgnored
		case site.PullPolicy == "Never":
			p.skip = ReasonNeverPull
		case builtHere:
			p.skip = built.Reason(where)
		default:
			p.key, p.bare = site.Written, site.BareDigest()
		}
	}
	s.plans = plans
}

// resolve asks each unique tag once (those the scan asked already, not
// again), and settles every reference on the digest its sites are to carry.
func (r *run) resolve(early *early) {
	var tags []name.Tag
	asked := map[string]bool{}
	for _, fr := range r.files {
		for j := range fr.plans {
			p := &fr.plans[j]
			if p.key == "" || p.skip != "" || r.refs[p.key] != nil {
				continue
			}
			ref := fr.file.Sites[j].Ref
			if p.key != fr.file.Sites[j].Written {
				var err error
				if ref, err = imageref.Parse(p.key); err != nil {
					p.key, p.skip = "", "renders as "+safetext.Term(p.key)+", which is not a reference pinbot pins"
					continue
				}
			}
			ri := &refInfo{image: ref.Familiar(), ref: ref}
			if t, err := ref.Canonical(); err == nil && !r.opts.Offline {
				ri.canon = t.Name()
				if !asked[ri.canon] && !early.asked(ri.canon) {
					asked[ri.canon] = true
					tags = append(tags, t)
				}
			}
			r.refs[p.key] = ri
		}
	}
	answers := early.finish(tags)
	if answers == nil && len(tags) > 0 {
		answers = r.res.Resolve(r.ctx, tags)
	}
	for _, ri := range r.refs {
		if ri.canon != "" {
			ri.res = answers[ri.canon]
		}
		ri.answered = true
		ri.settle(r.opts.Offline)
	}
}

// cooldown holds back each tag that moved to a digest first seen less than
// MinAge ago: it keeps the digest written. It returns when every move seen
// now was first seen (moves no longer seen are forgotten). A first pin
// and a vanished digest are never held: the first is no move, the second
// is broken already. A tag that moves again starts the clock anew.
func (r *run) cooldown() map[string]time.Time {
	now := time.Now
	if r.opts.Now != nil {
		now = r.opts.Now
	}
	t := now().UTC().Truncate(time.Second)
	seen := map[string]time.Time{}
	for _, ri := range r.refs {
		if ri.canon == "" || ri.ref.Digest == "" || ri.digest == "" || ri.digest == ri.ref.Digest || ri.vanished || ri.err != nil {
			continue
		}
		key := ri.canon + "@" + ri.digest
		first, ok := r.opts.FirstSeen[key]
		if !ok || first.After(t) {
			first = t // first seen now (a time to come is no sighting)
		}
		seen[key] = first
		if r.opts.MinAge > 0 && t.Sub(first) < r.opts.MinAge {
			ri.held, ri.moved, ri.firstSeen, ri.eligible = true, ri.digest, first, first.Add(r.opts.MinAge)
			ri.digest = ri.ref.Digest
		}
	}
	return seen
}

// evidence reads what the old and the new digest of each moved tag stand
// for, for the reviewer.
func (r *run) evidence() {
	var digests []name.Digest
	var moved []*refInfo
	for _, ri := range r.refs {
		if ri.ref.Digest == "" || ri.digest == "" || ri.digest == ri.ref.Digest || ri.vanished || ri.held || ri.err != nil {
			continue
		}
		oldD, err1 := name.NewDigest(ri.ref.Name + "@" + ri.ref.Digest)
		newD, err2 := name.NewDigest(ri.ref.Name + "@" + ri.digest)
		if err1 != nil || err2 != nil {
			continue
		}
		digests = append(digests, oldD, newD)
		moved = append(moved, ri)
	}
	if len(moved) == 0 {
		return
	}
	facts := r.res.Facts(r.ctx, digests)
	for k, ri := range moved {
		o, n := facts[digests[2*k].String()], facts[digests[2*k+1].String()]
		if errors.Is(n.Err, resolve.ErrManifestUnknown) {
			// the tag moved again, or the digest was deleted, since the
			// HEAD: a digest the registry says it does not have is never
			// proposed
			ri.err = fmt.Errorf("the tag points at %s, which the registry then says it does not have (MANIFEST_UNKNOWN): the tag moved again or the digest was deleted; not proposed", report.ShortDigest(ri.digest))
			ri.digest = ""
			continue
		}
		if o.Err != nil || n.Err != nil {
			continue // no evidence is no failure
		}
		ri.evidence = &report.Evidence{Old: reportFacts(o), New: reportFacts(n)}
	}
}

func reportFacts(f resolve.Facts) report.Facts {
	out := report.Facts{Platforms: f.Platforms, Size: f.Size, Source: f.Source, Revision: f.Revision, TooLarge: f.TooLarge}
	if !f.Created.IsZero() {
		t := f.Created
		out.Created = &t
	}
	return out
}

// privateAlways finds the containers that pull Always an image that is
// private (refused without credentials): Always stays on them, as the pull
// may be the cluster's only credential check (a tenant without pull
// secrets could otherwise start an image another tenant's pod left on the
// node).
func (r *run) privateAlways() {
	if r.opts.Offline || r.opts.PullPolicy != rewrite.PolicyIfNotPresent {
		return
	}
	var tags []name.Tag
	seen := map[string]bool{}
	for _, fr := range r.files {
		for j := range fr.plans {
			p := &fr.plans[j]
			ri := r.refs[p.key]
			if p.skip != "" || ri == nil || ri.digest == "" || ri.canon == "" || fr.file.Sites[j].PullPolicy != string(rewrite.PolicyAlways) || seen[ri.canon] {
				continue
			}
			seen[ri.canon] = true
			if t, err := name.NewTag(ri.canon); err == nil {
				tags = append(tags, t)
			}
		}
	}
	if len(tags) == 0 {
		return
	}
	private := r.res.Private(r.ctx, tags)
	for _, fr := range r.files {
		for j := range fr.plans {
			p := &fr.plans[j]
			if ri := r.refs[p.key]; p.skip == "" && ri != nil && private[ri.canon] && fr.file.Sites[j].PullPolicy == string(rewrite.PolicyAlways) {
				p.keepAlways = true
			}
		}
	}
}

// NoteKeptAlways is the pull policy note of a private image pulled Always.
const NoteKeptAlways = "kept Always (a private image: the pull checks credentials)"

// digestAt is the digest a site with plan p is to carry ("" leaves it as it
// is), in the form its place takes.
func (r *run) digestAt(p *sitePlan) string {
	if p.skip != "" || p.failed() != nil || p.key == "" {
		return ""
	}
	ri := r.refs[p.key]
	if ri == nil || ri.digest == "" {
		return ""
	}
	return p.carry(ri.digest)
}

// carry is digest as site plan p writes it: bare hex in a digest key that
// takes it, after the tag appVersion gives where it has one.
func (p *sitePlan) carry(digest string) string {
	if p.bare {
		return strings.TrimPrefix(digest, "sha256:")
	}
	if p.planMore != nil && p.tag != "" {
		return p.tag + "@" + digest
	}
	return digest
}

// spliceAll rewrites the files (only those in only, when it is not nil)
// with the digests their sites settled on, a few at once.
func (r *run) spliceAll(only map[*fileRun]bool) {
	parallel(len(r.files), 0, func(i int) {
		if fr := r.files[i]; fr.file != nil && !fr.early && (only == nil || only[fr]) {
			r.splice(fr)
		}
	})
}

// splice makes a file's edits with the digests its sites settled on (see
// spliceWith); an unchanged file's bytes go, as nothing reads them again.
func (r *run) splice(fr *fileRun) {
	r.spliceWith(fr, func(j int) string { return r.digestAt(&fr.plans[j]) })
	if !fr.inChart && fr.edits == nil {
		fr.file.Data = nil
	}
}

// spliceWith makes a file's edits, site j carrying digestAt(j) ("" leaves
// it as it is), with its actions' and pull policies', and its new bytes
// when a chart's render is to prove them.
func (r *run) spliceWith(fr *fileRun, digestAt func(j int) string) {
	f := fr.file
	edits, notes := f.EditSites(digestAt, r.policyOf(fr))
	edits = append(edits, r.useEdits(fr)...)
	fr.spliced, fr.edits, fr.notes = nil, nil, notes
	var out []byte
	changes, edits, err := rewrite.Changes(f.Data, edits)
	if err == nil && changes && fr.inChart {
		out, err = rewrite.Apply(f.Data, edits)
	}
	if err != nil {
		err = fmt.Errorf("%s: %w", f.Path, err)
	}
	fr.err = err
	if err == nil && !r.opts.Offline && changes {
		fr.spliced, fr.edits = out, edits
	}
	if !fr.inChart {
		f.Settle() // a chart's files are spliced again when its render refuses a value
	}
}

// policyOf is the pull policy each of fr's sites is given: --pull-policy,
// but where its container pulls Always to check credentials.
func (r *run) policyOf(fr *fileRun) func(j int) rewrite.PullPolicy {
	return func(j int) rewrite.PullPolicy {
		if fr.plans[j].keepAlways {
			return rewrite.PolicyKeep
		}
		return r.opts.PullPolicy
	}
}

// handOver gives fr's change c to the sink, its new bytes made for it (a
// chart's kept ones, or made from its edits) and dropped after; once it is
// written, its old bytes and edits go too. The file's own bytes go when
// the run no longer reads them (see write).
func (r *run) handOver(fr *fileRun, c *Change) {
	w := *c
	if w.New = fr.spliced; w.New == nil {
		w.New, _ = rewrite.Apply(c.Old, fr.edits) // checked when spliced
	}
	c.Err = r.opts.Sink(w)
	if c.Err == nil && !fr.inChart {
		c.Old, fr.edits = nil, nil
	}
}

// write hands each change to the sink, a few at once, and returns them.
func (r *run) write() []Change {
	var changes []Change
	var from []*fileRun // the file of each change
	var early []Change  // written as soon as their tags were answered
	for _, fr := range r.files {
		if fr.early {
			if fr.change != nil {
				early = append(early, *fr.change)
			}
			if fr.change == nil || fr.change.Err == nil {
				fr.file.Data = nil // written, or unchanged: nothing reads its bytes again
			}
		}
		if fr.edits != nil && fr.err == nil && !fr.early {
			c := Change{Path: fr.file.Path, Old: fr.file.Data, Mode: fr.mode}
			if r.opts.Edits {
				c.Edits = fr.edits
			}
			changes, from = append(changes, c), append(from, fr)
		}
	}
	// the new bytes: kept for a chart's files, made for the others
	newBytes := func(k int) []byte {
		if out := from[k].spliced; out != nil {
			return out
		}
		out, _ := rewrite.Apply(changes[k].Old, from[k].edits) // checked when spliced
		return out
	}
	if r.opts.Sink == nil || r.ctx.Err() != nil {
		if !r.opts.Edits {
			for k := range changes {
				changes[k].New = newBytes(k)
			}
		}
		return append(early, changes...)
	}
	sem := make(chan struct{}, sinkJobs)
	var wg sync.WaitGroup
	for k := range changes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if r.ctx.Err() == nil {
				r.handOver(from[k], &changes[k])
			}
		}()
	}
	wg.Wait()
	for k, c := range changes {
		if c.Err == nil && !from[k].inChart {
			from[k].file.Data = nil // written: nothing reads its bytes again
		}
	}
	return append(early, changes...)
}

// report puts the run's report together.
func (r *run) report(changes []Change) *report.Report {
	rep := &report.Report{Offline: r.opts.Offline}
	sites := 0
	for _, fr := range r.files {
		if fr.file != nil || fr.warn != nil || fr.unread != nil {
			rep.Files++ // not a file whose bytes showed it is none of pinbot's
		}
		if fr.file != nil {
			sites += len(fr.file.Sites) + len(fr.uses)
		}
	}
	if !r.opts.Offline {
		st := r.res.Stats()
		rep.Requests = &report.Requests{TagHeads: st.TagHeads, DigestHeads: st.DigestHeads, ManifestGets: st.ManifestGets, BlobGets: st.BlobGets, Pings: st.Pings, SignatureGets: st.SignatureGets, SignatureHeads: st.SignatureHeads}
		if ar := r.opts.ActionResolver; ar != nil && r.opts.Actions != ActionsOff {
			gs := ar.Stats()
			rep.Requests.GitHub, rep.Requests.GitHubConditional, rep.Requests.GitHubNotModified = int64(gs.Requests), int64(gs.Conditional), int64(gs.NotModified)
		}
	}
	changed := map[string]*Change{}
	for k := range changes {
		changed[changes[k].Path] = &changes[k]
	}
	rep.Entries = make([]report.Entry, 0, sites) // one a site at most: never grown by copying
	for _, fr := range r.files {
		r.reportFile(rep, fr, changed[fr.path()])
	}
	rep.Sort()
	return rep
}

// reportFile adds what the run did to one file to the report.
func (r *run) reportFile(rep *report.Report, fr *fileRun, c *Change) {
	switch {
	case fr.warn != nil:
		rep.Warnings = append(rep.Warnings, *fr.warn)
	case fr.unread != nil:
		rep.Unread = append(rep.Unread, *fr.unread)
	}
	f := fr.file
	if f == nil {
		return
	}
	if fr.err != nil {
		// conflicting edits: a bug or a file shape pinbot misread; leave the file
		rep.Warnings = append(rep.Warnings, report.Warning{File: f.Path, Message: "not rewritten: " + fr.err.Error()})
	}
	if c != nil {
		if c.Err != nil {
			rep.Errors = append(rep.Errors, report.FileError{File: c.Path, Error: writeError(c.Err)})
		} else {
			rep.Changed = append(rep.Changed, c.Path)
		}
	}
	first := len(rep.Entries) // the file's entries start here
	for j, site := range f.Sites {
		f.Sites[j] = nil // its entry takes its place: the sites go as the entries grow
		var note rewrite.PolicyNote
		if fr.notes != nil && fr.err == nil {
			note = fr.notes[j]
		}
		p := &fr.plans[j]
		if p.hidden {
			continue
		}
		e := entry(f.Path, site, p, r.refs[p.key], note, r.opts)
		if k := sameSite(rep.Entries[first:], e); k >= 0 {
			if p := &rep.Entries[first+k].PullPolicy; *p == "" {
				*p = e.PullPolicy
			}
		} else {
			rep.Entries = append(rep.Entries, e)
		}
	}
	for k, u := range f.Uses {
		if k < len(fr.uses) {
			rep.Entries = append(rep.Entries, r.useEntry(f.Path, u, &fr.uses[k]))
		}
	}
	// the file's sites and plans are in its entries now: let them go,
	// so the report of a file naming an image 450,000 times does not
	// hold both
	f.Sites, fr.plans, fr.notes = nil, nil, nil
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
