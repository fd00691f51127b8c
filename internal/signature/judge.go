package signature

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// Request is one digest to judge.
type Request struct {
	// Spellings are the ways people write the image's repository, which a
	// rule's globs match.
	Spellings []string
	// Digest is the digest to write (or, for --check, the one written).
	Digest name.Digest
	// Old is the digest it replaces (a moved tag's): its signer must sign
	// the new one too, unless a rule names the image. Nil for a first pin.
	Old *name.Digest
	// Platforms are those the run requires of an index that is not signed
	// as a whole; none: every platform it lists.
	Platforms []v1.Platform
}

// Status sums up what a digest's signatures are.
type Status string

const (
	StatusSigned   Status = "signed"   // at least one signature verified
	StatusUnsigned Status = "unsigned" // none found
	StatusInvalid  Status = "invalid"  // some found, none verified
	StatusUnknown  Status = "unknown"  // the registry could not be read
)

// Verdict is what a digest's signatures show, and whether the policy is met.
type Verdict struct {
	Status  Status   `json:"status"`
	Signers []Signer `json:"signers,omitempty"`
	// Rule is the signer the policy's rule for the image names.
	Rule string `json:"rule,omitempty"`
	// Continuity is who signed the digest replaced, when no rule names
	// the image: the new digest must be signed by the same.
	Continuity []string `json:"continuity,omitempty"`
	// Problem is why the policy is not met; "" when it is. In enforce
	// mode the digest is refused for it.
	Problem string `json:"problem,omitempty"`
	// Notes are signatures that did not verify and what could not be
	// read, with the reason.
	Notes []string `json:"notes,omitempty"`
	// PerPlatform: the index is unsigned, and each platform's manifest
	// that the run requires is signed instead.
	PerPlatform int `json:"perPlatform,omitempty"`
}

// MaxPlatforms is the most platform manifests of an unsigned index read.
const MaxPlatforms = 32

// Checker judges digests against a policy. It reads each digest's
// signatures once per run, whichever requests name it.
type Checker struct {
	policy Policy
	reg    Registry
	v      verifier
	jobs   int

	mu   sync.Mutex
	seen map[string]*found
}

// found is one digest's signatures, read once.
type found struct {
	once    sync.Once
	signers []Signer
	invalid []string // why each signature found did not verify
	notes   []string // what could not be read
}

// Trusted loads the trusted root the first time a keyless signature (or a
// key signature's log entry) needs it.
type Trusted func() (root.TrustedMaterial, error)

// New makes a Checker. keys are the policy's public keys; trusted loads
// the trusted root.
func New(policy Policy, reg Registry, keys []Key, trusted Trusted) *Checker {
	return &Checker{policy: policy, reg: reg, v: verifier{trusted: sync.OnceValues(trusted), keys: keys}, jobs: 32, seen: map[string]*found{}}
}

// Mode is the policy's mode.
func (c *Checker) Mode() Mode { return c.policy.Mode }

// Names tells whether a rule names an image, by its spellings.
func (c *Checker) Names(spellings []string) bool { return c.policy.RuleFor(spellings) != nil }

// Judge judges each request (several at once; the registry bounds its own
// requests); the verdicts are in the requests' order.
func (c *Checker) Judge(ctx context.Context, reqs []Request) []Verdict {
	out := make([]Verdict, len(reqs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(c.jobs, len(reqs)) {
		wg.Go(func() {
			for i := range next {
				out[i] = c.judge(ctx, reqs[i])
			}
		})
	}
	for i := range reqs {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// signatures reads and verifies d's signatures, once.
func (c *Checker) signatures(ctx context.Context, d name.Digest) *found {
	c.mu.Lock()
	f := c.seen[d.String()]
	if f == nil {
		f = &found{}
		c.seen[d.String()] = f
	}
	c.mu.Unlock()
	f.once.Do(func() {
		got := discover(ctx, c.reg, d)
		f.notes = got.notes
		for _, cand := range got.candidates {
			s, err := c.v.check(cand, d)
			if err != nil {
				f.invalid = append(f.invalid, fmt.Sprintf("%s (%s): %v", cand.format, shortWhere(cand.where), err))
				continue
			}
			f.signers = append(f.signers, s)
		}
	})
	return f
}

// shortWhere is where a signature was found, short: a manifest's digest,
// or a cosign tag (sha256-0123456789ab….sig).
func shortWhere(w string) string {
	if strings.HasPrefix(w, "sha256:") {
		return shortDigest(w)
	}
	if len(w) > 28 && strings.HasPrefix(w, "sha256-") {
		return w[:19] + "…" + w[len(w)-4:]
	}
	return w
}

// judge judges one request.
func (c *Checker) judge(ctx context.Context, req Request) Verdict {
	f := c.signatures(ctx, req.Digest)
	v := verdictOf(f)
	rule := c.policy.RuleFor(req.Spellings)
	if rule != nil {
		v.Rule = rule.String()
	} else if req.Old != nil {
		oldFound := c.signatures(ctx, *req.Old)
		old := oldFound.signers
		if len(old) == 0 && len(oldFound.notes) > 0 {
			// who signed before is unknown: continuity cannot be shown
			v.Problem = "the signatures of the digest it replaces could not be read (" + oldFound.notes[0] + "): whether its signer signed this one is not shown"
			return v
		}
		if len(old) == 0 {
			// A publisher that signs each platform signs them all alike:
			// one platform tells who signed the digest replaced.
			pp := c.perPlatform(ctx, *req.Old, req.Platforms, 1, func(*found) string { return "" })
			if pp != nil && len(pp.failed) == 0 {
				old = pp.signers
			}
		}
		v.Continuity = identities(old)
	}
	problem := c.meets(rule, v.Continuity, f)
	if problem != "" {
		// An index unsigned as a whole may be signed platform by platform.
		pp := c.perPlatform(ctx, req.Digest, req.Platforms, MaxPlatforms, func(g *found) string { return c.meets(rule, v.Continuity, g) })
		if pp != nil && len(pp.failed) == 0 {
			v.Status, v.Signers, v.PerPlatform = StatusSigned, pp.signers, pp.n
			return v
		}
		if pp != nil && len(v.Signers) == 0 {
			problem += " (nor is every platform: " + strings.Join(pp.failed, "; ") + ")"
		}
	}
	v.Problem = problem
	return v
}

func verdictOf(f *found) Verdict {
	v := Verdict{Signers: f.signers, Notes: append(append([]string(nil), f.invalid...), f.notes...)}
	switch {
	case len(f.signers) > 0:
		v.Status = StatusSigned
	case len(f.invalid) > 0:
		v.Status = StatusInvalid
	case len(f.notes) > 0:
		v.Status = StatusUnknown
	default:
		v.Status = StatusUnsigned
	}
	return v
}

// meets says why a digest's signatures do not meet the rule, or the
// continuity of the signers before it; "" when they do.
func (c *Checker) meets(rule *Rule, continuity []string, f *found) string {
	switch {
	case rule != nil:
		return ruleProblem(rule, f)
	case len(continuity) > 0:
		for _, s := range f.signers {
			if slices.Contains(continuity, s.Identity()) {
				return ""
			}
		}
		return "the digest it replaces was signed by " + strings.Join(continuity, ", ") + "; this one " + describe(f)
	case len(f.signers) == 0 && len(f.invalid) > 0:
		return "signature invalid: it " + describe(f)
	}
	return ""
}

// ruleProblem says why f's signatures do not meet rule; "" when they do.
func ruleProblem(rule *Rule, f *found) string {
	signed := false
	for _, s := range f.signers {
		if s.PredicateType == "" && rule.matches(s) {
			signed = true
		}
	}
	if !signed {
		for _, s := range f.signers {
			if s.Key == rule.Key && rule.Key != "" && !s.Logged && rule.logged() {
				return "signed by " + rule.String() + " without a transparency-log entry, which the rule requires (tlog: false accepts it)"
			}
		}
		return "not signed by " + rule.String() + "; it " + describe(f)
	}
	a := rule.Attestation
	if a == nil {
		return ""
	}
	for _, s := range f.signers {
		if s.PredicateType == a.PredicateType && rule.matches(s) && (a.SourceRepository == "" || sameRepository(s.SourceRepository, a.SourceRepository)) {
			return ""
		}
	}
	if a.SourceRepository != "" {
		return "no " + a.PredicateType + " attestation by " + rule.String() + " naming " + a.SourceRepository
	}
	return "no " + a.PredicateType + " attestation by " + rule.String()
}

// describe says what a digest's signatures show, after "it" or "this
// one": who signed; or that those found do not verify, and why; or that
// none is there, or could be read.
func describe(f *found) string {
	switch ids := identities(f.signers); {
	case len(ids) > 0:
		return "is signed by " + strings.Join(ids, ", ")
	case len(f.invalid) == 1:
		return "carries a signature that does not verify: " + f.invalid[0]
	case len(f.invalid) > 1:
		return fmt.Sprintf("carries %d signatures that do not verify, the first: %s", len(f.invalid), f.invalid[0])
	case len(f.notes) > 0:
		return "is unsigned, as far as could be read: " + f.notes[0]
	}
	return "is unsigned"
}

func sameRepository(got, want string) bool {
	norm := func(s string) string {
		s = strings.TrimSuffix(strings.TrimPrefix(s, "git+"), ".git")
		return strings.ToLower(strings.TrimSuffix(s, "/"))
	}
	return got != "" && norm(got) == norm(want)
}

// identities are the signers' identities, once each, sorted.
func identities(signers []Signer) []string {
	var out []string
	for _, s := range signers {
		out = append(out, s.Identity())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// platforms is an index judged platform by platform.
type platforms struct {
	signers []Signer // those every platform's signers share
	n       int      // the platforms judged
	failed  []string // "platform: why", for each that did not pass
}

// perPlatform judges an index platform by platform: each manifest the run
// requires (or every one it lists; at most limit) must be signed and pass
// ok. Nil when d is no index, or lists no platform to judge.
func (c *Checker) perPlatform(ctx context.Context, d name.Digest, want []v1.Platform, limit int, ok func(*found) string) *platforms {
	children, err := c.reg.Index(ctx, d)
	if err != nil || len(children) == 0 {
		return nil
	}
	var picked []v1.Descriptor
	for _, m := range children {
		if m.Platform == nil || m.Platform.OS == "unknown" {
			continue // attestations
		}
		if len(want) == 0 || slices.ContainsFunc(want, func(p v1.Platform) bool { return m.Platform.Satisfies(p) }) {
			picked = append(picked, m)
		}
	}
	if len(picked) == 0 || len(picked) > MaxPlatforms {
		return nil
	}
	picked = picked[:min(len(picked), limit)]
	out := &platforms{n: len(picked)}
	var shared []string
	for i, m := range picked {
		g := c.signatures(ctx, d.Context().Digest(m.Digest.String()))
		why := "unsigned"
		if len(g.signers) > 0 {
			why = ok(g)
		}
		if why != "" {
			out.failed = append(out.failed, m.Platform.String()+": "+why)
			continue
		}
		ids := identities(g.signers)
		if i == 0 || out.signers == nil {
			shared, out.signers = ids, g.signers
		} else {
			shared = slices.DeleteFunc(shared, func(id string) bool { return !slices.Contains(ids, id) })
		}
	}
	out.signers = slices.DeleteFunc(slices.Clone(out.signers), func(s Signer) bool { return !slices.Contains(shared, s.Identity()) })
	return out
}
