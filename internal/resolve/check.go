package resolve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// What a digest stands for: whether the registry still has it, which
// platforms it covers, and whether its bytes are the digest's.

// ErrVanished is a digest the registry no longer has.
var ErrVanished = errors.New("the pinned digest no longer exists upstream: new nodes cannot pull it")

// Stats counts the registry requests a Resolver made, by kind.
type Stats struct {
	TagHeads     int64 `json:"tagHeads"`               // HEAD of a tag's manifest
	DigestHeads  int64 `json:"digestHeads,omitempty"`  // HEAD by digest: does it still exist?
	ManifestGets int64 `json:"manifestGets,omitempty"` // GET of a manifest (a refused HEAD, platforms, --verify)
	BlobGets     int64 `json:"blobGets,omitempty"`     // GET of an image's config (its platform)
	Pings        int64 `json:"pings,omitempty"`        // GET /v2/: how a registry authenticates
	// SignatureGets are the GETs of a digest's signatures: its referrers,
	// cosign's tags, their manifests and blobs.
	SignatureGets int64 `json:"signatureGets,omitempty"`
	// SignatureHeads are the HEADs of cosign's tags (.sig, .att): is there
	// one to read?
	SignatureHeads int64 `json:"signatureHeads,omitempty"`
}

type counters struct {
	tagHeads, digestHeads, manifestGets, blobGets, signatureGets, signatureHeads atomic.Int64
}

// Stats is what the Resolver has asked so far.
func (r *Resolver) Stats() Stats {
	return Stats{r.count.tagHeads.Load(), r.count.digestHeads.Load(), r.count.manifestGets.Load(), r.count.blobGets.Load(), r.https.pings.Load(), r.count.signatureGets.Load(), r.count.signatureHeads.Load()}
}

// digestTarget is where digest d is asked for: through the longest matching
// mirror, over plain HTTP only where allowed.
func (r *Resolver) digestTarget(d name.Digest) (name.Digest, error) {
	t, err := r.Target(d.Context().Tag("latest"))
	if err != nil {
		return name.Digest{}, err
	}
	var opts []name.Option
	if r.insecure[t.RegistryStr()] {
		opts = append(opts, name.Insecure)
	}
	return name.NewDigest(t.Context().Name()+"@"+d.DigestStr(), opts...)
}

// each runs f for every index in [0, n), as many at once as the slots for
// registry host(i) and in all allow, each with a context that bounds it to
// the timeout, and gives up on what has not started once ctx is done.
func (r *Resolver) each(ctx context.Context, n int, host func(i int) string, f func(ctx context.Context, i int)) {
	g := r.group(ctx)
	for i := 0; i < n; i++ {
		g.Go(host(i), func(ctx context.Context, err error) {
			if err == nil {
				f(ctx, i)
			}
		})
	}
	g.Wait()
}

// requests is a group of registry requests, each run in its own goroutine
// once the slots for its registry and in all allow.
type requests struct {
	r   *Resolver
	ctx context.Context
	wg  sync.WaitGroup
}

func (r *Resolver) group(ctx context.Context) *requests { return &requests{r: r, ctx: ctx} }

// Go runs f(ctx, nil) holding a slot for a request to host, where ctx
// bounds the whole of f, retries and their pauses included, to the
// resolver's timeout; or f with the context's error, holding none, when
// the context ends first.
func (g *requests) Go(host string, f func(ctx context.Context, err error)) {
	g.r.opts.Progress.AddRefs(1)
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := g.r.hold(g.ctx, host, func(ctx context.Context) error { f(ctx, nil); return nil }); err != nil {
			f(g.ctx, err)
		}
	}()
}

// hold runs f holding a slot for a request to host (counted in flight),
// with ctx bounding the whole of f to the resolver's timeout; the
// context's error, f not run, when it ends before a slot is free.
func (r *Resolver) hold(ctx context.Context, host string, f func(ctx context.Context) error) error {
	release, err := r.acquire(ctx, host)
	if err != nil {
		return err
	}
	defer release()
	done := r.opts.Progress.Start(host)
	defer done()
	ctx, cancel := context.WithTimeoutCause(ctx, r.opts.Timeout, &budgetError{r.opts.Timeout})
	defer cancel()
	return f(ctx)
}

// Wait waits for every f to return.
func (g *requests) Wait() { g.wg.Wait() }

// hostOf is the registry a reference is asked of (through its mirror).
func (r *Resolver) hostOf(ref name.Reference) string {
	if t, err := r.Target(ref.Context().Tag("latest")); err == nil {
		return t.RegistryStr()
	}
	return ref.Context().RegistryStr()
}

// Exists asks, with one HEAD each, whether the registry still has each
// digest (deduplicated). The result, by d.String(), is nil when it does,
// ErrVanished when it answers that it has no such manifest, and the error
// otherwise.
func (r *Resolver) Exists(ctx context.Context, digests []name.Digest) map[string]error {
	uniq := dedupe(digests)
	out := make(map[string]error, len(uniq))
	var mu sync.Mutex
	r.each(ctx, len(uniq), func(i int) string { return r.hostOf(uniq[i]) }, func(ctx context.Context, i int) {
		d := uniq[i]
		err := r.exists(ctx, d)
		mu.Lock()
		out[d.String()] = err
		mu.Unlock()
	})
	for _, d := range uniq {
		if _, ok := out[d.String()]; !ok {
			out[d.String()] = ctx.Err()
		}
	}
	return out
}

func (r *Resolver) exists(ctx context.Context, d name.Digest) error {
	target, err := r.digestTarget(d)
	if err != nil {
		return err
	}
	r.count.digestHeads.Add(1)
	r.log.Debug("asking whether a digest exists", "ref", target.String())
	start := time.Now()
	_, err = r.puller.Head(ctx, target)
	r.log.Debug("asked whether a digest exists", "ref", target.String(), "err", err, "took", time.Since(start).Round(time.Millisecond))
	switch {
	case err == nil:
		return nil
	case isNotFound(err):
		return ErrVanished
	}
	return quoted(explainDigest(err, target))
}

func explainDigest(err error, target name.Reference) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized:
			return fmt.Errorf("unauthorized at %s: log in (docker login %s) or, for ghcr.io, set GITHUB_TOKEN", target.Context().Name(), target.Context().RegistryStr())
		case http.StatusForbidden:
			return fmt.Errorf("access to %s denied: the credentials in use may not pull it", target.Context().Name())
		}
	}
	return err
}

// InspectOptions say what Inspect checks of a digest.
type InspectOptions struct {
	// Platforms each digest must cover; none: no check.
	Platforms []v1.Platform
	// Verify checks that the manifest's bytes hash to the digest.
	Verify bool
}

// Inspection is what Inspect found of one digest.
type Inspection struct {
	// Missing are the required platforms the digest does not cover.
	Missing []string
	// Has are the platforms it does cover.
	Has []string
	// Err is a failure to inspect, or, with Verify, bytes that are not
	// the digest's.
	Err error
}

// ErrDigestMismatch is a manifest whose bytes do not hash to the digest
// the registry gave for it.
var ErrDigestMismatch = errors.New("the manifest's bytes do not hash to its digest")

// Subject is what Inspect reads: the manifest Ref names (a tag, as it was
// resolved, or a digest), whose bytes must hash to Digest.
type Subject struct {
	Ref    name.Reference
	Digest string
}

// Key identifies a subject in Inspect's answer.
func (s Subject) Key() string { return s.Ref.Name() + "|" + s.Digest }

// Inspect reads each subject's manifest (one GET; for a single-platform
// image with platforms asked for, one more for its config) and checks it as
// opts say. The answer is by Subject.Key.
func (r *Resolver) Inspect(ctx context.Context, subjects []Subject, opts InspectOptions) map[string]Inspection {
	seen := map[string]bool{}
	var uniq []Subject
	for _, s := range subjects {
		if !seen[s.Key()] {
			seen[s.Key()] = true
			uniq = append(uniq, s)
		}
	}
	out := make(map[string]Inspection, len(uniq))
	var mu sync.Mutex
	r.each(ctx, len(uniq), func(i int) string { return r.hostOf(uniq[i].Ref) }, func(ctx context.Context, i int) {
		res := r.inspect(ctx, uniq[i], opts)
		mu.Lock()
		out[uniq[i].Key()] = res
		mu.Unlock()
	})
	for _, s := range uniq {
		if _, ok := out[s.Key()]; !ok {
			out[s.Key()] = Inspection{Err: ctx.Err()}
		}
	}
	return out
}

func (r *Resolver) inspect(ctx context.Context, s Subject, opts InspectOptions) Inspection {
	var target name.Reference
	var err error
	switch ref := s.Ref.(type) {
	case name.Tag:
		target, err = r.Target(ref)
	case name.Digest:
		target, err = r.digestTarget(ref)
	default:
		err = fmt.Errorf("%s: neither a tag nor a digest", s.Ref)
	}
	if err != nil {
		return Inspection{Err: err}
	}
	r.count.manifestGets.Add(1)
	r.log.Debug("reading a manifest", "ref", target.String())
	start := time.Now()
	desc, err := r.puller.Get(ctx, target)
	r.log.Debug("read a manifest", "ref", target.String(), "err", err, "took", time.Since(start).Round(time.Millisecond))
	if err != nil {
		if strings.Contains(err.Error(), "does not match requested digest") {
			return Inspection{Err: fmt.Errorf("%w: %s served a manifest for %s that hashes to another digest: the registry, or a proxy before it, does not serve what it claims", ErrDigestMismatch, target.Context().RegistryStr(), s.Digest)}
		}
		return Inspection{Err: quoted(explainDigest(err, target))}
	}
	if opts.Verify {
		sum := sha256.Sum256(desc.Manifest)
		if got := "sha256:" + hex.EncodeToString(sum[:]); got != s.Digest {
			return Inspection{Err: fmt.Errorf("%w: %s answered %s for %s, but serves a manifest whose sha256 is %s: the registry, or a proxy before it, does not serve what it claims",
				ErrDigestMismatch, target.Context().RegistryStr(), s.Digest, s.Ref, got)}
		}
	}
	if len(opts.Platforms) == 0 {
		return Inspection{}
	}
	var has []v1.Platform
	var children []v1.Descriptor // an index's, by platform
	if desc.MediaType.IsIndex() {
		idx, err := v1.ParseIndexManifest(strings.NewReader(string(desc.Manifest)))
		if err != nil {
			return Inspection{Err: quoted(err)}
		}
		for _, m := range idx.Manifests {
			if m.Platform != nil && m.Platform.OS != "unknown" { // attestations say "unknown"
				has = append(has, *m.Platform)
				children = append(children, m)
			}
		}
	} else {
		img, err := desc.Image()
		if err != nil {
			return Inspection{Err: quoted(err)}
		}
		r.count.blobGets.Add(1)
		cf, err := img.ConfigFile()
		if err != nil {
			return Inspection{Err: quoted(fmt.Errorf("reading the image's config: %w", err))}
		}
		if p := cf.Platform(); p != nil {
			has = append(has, *p)
		}
	}
	var res Inspection
	for _, p := range has {
		res.Has = append(res.Has, p.String())
	}
	sort.Strings(res.Has)
	// An index's platform is covered only when its manifest can be
	// pulled: one HEAD of the child's digest, once each.
	pullable := map[v1.Hash]bool{}
	exists := func(d v1.Hash) (bool, error) {
		if ok, asked := pullable[d]; asked {
			return ok, nil
		}
		child := target.Context().Digest(d.String())
		r.count.digestHeads.Add(1)
		r.log.Debug("asking whether a platform's manifest exists", "ref", child.String())
		_, err := r.puller.Head(ctx, child)
		var te *transport.Error
		switch {
		case err == nil:
			pullable[d] = true
		case errors.As(err, &te) && te.StatusCode == http.StatusNotFound:
			pullable[d] = false
		default:
			return false, quoted(explainDigest(err, child))
		}
		return pullable[d], nil
	}
	for _, want := range opts.Platforms {
		ok := false
		if children == nil {
			for _, p := range has {
				ok = ok || p.Satisfies(want)
			}
		}
		for _, c := range children {
			if ok || !c.Platform.Satisfies(want) {
				continue
			}
			var err error
			if ok, err = exists(c.Digest); err != nil {
				return Inspection{Err: err}
			}
		}
		if !ok {
			res.Missing = append(res.Missing, want.String())
		}
	}
	if len(res.Missing) > 0 && children != nil {
		// what it has is what can be pulled
		res.Has = res.Has[:0]
		for _, c := range children {
			if pullable[c.Digest] || !asked(pullable, c.Digest) {
				res.Has = append(res.Has, c.Platform.String())
			}
		}
		sort.Strings(res.Has)
	}
	return res
}

func asked(m map[v1.Hash]bool, d v1.Hash) bool { _, ok := m[d]; return ok }

func dedupe(digests []name.Digest) []name.Digest {
	seen := map[string]bool{}
	var out []name.Digest
	for _, d := range digests {
		if !seen[d.String()] {
			seen[d.String()] = true
			out = append(out, d)
		}
	}
	return out
}
