package pin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/pinbot/pinbot/internal/imageref"
	"github.com/pinbot/pinbot/internal/report"
	"github.com/pinbot/pinbot/internal/resolve"
	"github.com/pinbot/pinbot/internal/rewrite"
	"github.com/pinbot/pinbot/internal/safetext"
)

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
	// held: the tag moved to moved, first seen at firstSeen, less than the
	// cooldown ago; the digest written stays until eligible.
	held                bool
	evidence            *report.Evidence  // a moved tag's old and new image
	signature           *report.Signature // who signed the digest to carry
	refused             string            // the digest the signature policy refused
	moved               string
	firstSeen, eligible time.Time
	// answered: the tag's answer is in res (or none will come).
	answered bool
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

// check asks whether every digest already written still exists (one HEAD
// each), then, when platforms or verification are asked for, inspects the
// digest each reference is to carry (one GET each).
func check(ctx context.Context, c Resolver, refs map[string]*refInfo, opts Options) {
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
func entry(file string, s *rewrite.Site, p *sitePlan, ri *refInfo, note rewrite.PolicyNote, opts Options) report.Entry {
	e := report.Entry{File: file, Line: s.Line, Column: s.Column, Kind: string(s.Kind), Ref: s.Written, Note: p.noted()}
	if s.AppVersion && e.Note == "" {
		e.Note = NoteAppVersion
	}
	switch {
	case p.skip != "" || ri == nil:
		e.Status, e.Reason = report.Skipped, p.skip
		return e
	case p.failed() != nil:
		e.Image, e.Tag, e.OldDigest = ri.image, ri.ref.Follows(), s.Ref.Digest
		e.Status, e.Error = report.Failed, p.failed().Error()
		return e
	}
	r := ri.res
	e.Image, e.Tag, e.OldDigest = ri.image, ri.ref.Follows(), s.Ref.Digest
	e.Via, e.Missing, e.Cached = r.Via, ri.missing, r.Cached && !opts.Offline
	switch {
	case opts.Offline && s.Ref.Digest == "":
		e.Status = report.Unpinned
		return e
	case opts.Offline:
		e.Status, e.Digest = report.Unverified, s.Ref.Digest
	case ri.err != nil:
		e.Status, e.Error, e.Vanished, e.Signature = report.Failed, ri.err.Error(), ri.vanished, ri.signature
		e.Digest = ri.refused
		return e
	case ri.vanished:
		e.Status, e.Digest, e.Vanished = report.Vanished, ri.digest, true
	case ri.held:
		first, eligible := ri.firstSeen, ri.eligible
		e.Status, e.Digest, e.FirstSeen, e.Eligible = report.Held, ri.moved, &first, &eligible
		e.Pinned = ri.ref.WithDigest(ri.moved)
		return e
	case s.Ref.Follows() == "":
		e.Status, e.Digest, e.Reason = report.Current, s.Ref.Digest, ReasonDigestOnly
	case ri.digest == s.Ref.Digest:
		e.Status, e.Digest = report.Current, ri.digest
	case s.Ref.Digest != "":
		e.Status, e.Digest, e.Evidence = report.Updated, ri.digest, ri.evidence
	default:
		e.Status, e.Digest = report.Pinned, ri.digest
	}
	e.Pinned, e.Signature = ri.pinned, ri.signature
	e.PullPolicy = policyText(note, s.PullPolicy, opts.PullPolicy)
	if p.keepAlways {
		e.PullPolicy = NoteKeptAlways
	}
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
