package pin

import (
	"context"
	"errors"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/pinbot/pinbot/internal/report"
	"github.com/pinbot/pinbot/internal/signature"
)

// Signatures judges digests by who signed them (see signature.Checker).
type Signatures interface {
	Mode() signature.Mode
	// Names tells whether a rule of the policy names an image.
	Names(spellings []string) bool
	Judge(ctx context.Context, reqs []signature.Request) []signature.Verdict
}

// enforcing tells a run whose signature policy may refuse a digest: no
// file may then be written before every digest is judged.
func (o *Options) enforcing() bool {
	return o.Signatures != nil && o.Signatures.Mode() == signature.ModeEnforce
}

// judgeSignatures judges the signatures of the digests the run is about to
// write: with no mode set, the moved tags' and those of images a rule
// names; with a mode set, every one (and with SignaturesKept, those kept
// too). Enforce refuses a digest that does not meet the policy: that
// reference fails, and its sites keep their bytes.
func (r *run) judgeSignatures() {
	sig := r.opts.Signatures
	mode := sig.Mode()
	if mode == signature.ModeOff {
		return
	}
	var reqs []signature.Request
	var asked []*refInfo
	for _, ri := range r.refs {
		if ri.err != nil || ri.digest == "" || ri.held {
			continue
		}
		spellings := ri.ref.Spellings()
		written := ri.digest != ri.ref.Digest
		bump := written && ri.ref.Digest != "" && !ri.vanished
		switch {
		case written && (mode != signature.ModeDefault || bump || sig.Names(spellings)):
		case !written && r.opts.SignaturesKept && (mode != signature.ModeDefault || sig.Names(spellings)):
		default:
			continue
		}
		// by repository: a digest pinned alone, with no tag, is judged too
		repo := ri.ref.Repository()
		d, err := name.NewDigest(repo + "@" + ri.digest)
		if err != nil {
			continue
		}
		req := signature.Request{Spellings: spellings, Digest: d, Platforms: r.opts.Platforms}
		if bump {
			if old, err := name.NewDigest(repo + "@" + ri.ref.Digest); err == nil {
				req.Old = &old
			}
		}
		reqs = append(reqs, req)
		asked = append(asked, ri)
	}
	if len(reqs) == 0 {
		return
	}
	for i, v := range sig.Judge(r.ctx, reqs) {
		ri := asked[i]
		ri.signature = reportSignature(v)
		if v.Problem != "" && mode == signature.ModeEnforce {
			ri.signature.Refused = true
			ri.err = errors.New("refused by the signature policy: " + v.Problem)
			ri.refused, ri.digest = ri.digest, "" // its sites keep their bytes
		}
	}
}

// reportSignature is a verdict as the report shows it.
func reportSignature(v signature.Verdict) *report.Signature {
	out := &report.Signature{Status: string(v.Status), Rule: v.Rule, Continuity: v.Continuity, Problem: v.Problem, Notes: v.Notes, PerPlatform: v.PerPlatform}
	for _, s := range v.Signers {
		rs := report.Signer{Identity: s.Subject, Issuer: s.Issuer, PredicateType: s.PredicateType, SourceRepository: s.SourceRepository, SourceCommit: s.SourceCommit, Format: string(s.Format)}
		if s.Key != "" {
			rs.Identity = "key " + s.Key
		}
		if !s.Time.IsZero() {
			t := s.Time
			rs.Time = &t
		}
		out.Signers = append(out.Signers, rs)
	}
	return out
}
