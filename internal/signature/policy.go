// Package signature checks who signed a digest before pinbot writes it.
//
// It finds a digest's signatures and attestations in the registry (the OCI
// 1.1 referrers API, its tag fallback, and cosign's sha256-<hex>.sig and
// .att tags), verifies each with sigstore-go (Sigstore bundles, and cosign's
// older simple-signing layers with their annotations), and judges what
// verified against the operator's policy: a rule naming the image, or, for
// a moved tag no rule names, the signer of the digest being replaced.
package signature

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Mode is what a run does with signatures.
type Mode string

const (
	// ModeDefault audits the bumps (moved tags) and the images a rule
	// names: first pinning a repository stays one request per reference.
	ModeDefault Mode = ""
	// ModeOff verifies nothing.
	ModeOff Mode = "off"
	// ModeAudit verifies every digest written and reports; it refuses none.
	ModeAudit Mode = "audit"
	// ModeEnforce verifies every digest written and refuses one that fails
	// its rule, breaks its signer's continuity, or carries only signatures
	// that do not verify.
	ModeEnforce Mode = "enforce"
)

// Modes are the modes a user may name.
var Modes = []string{string(ModeOff), string(ModeAudit), string(ModeEnforce)}

// ParseMode reads a mode as a user writes it.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case ModeOff, ModeAudit, ModeEnforce:
		return m, nil
	}
	return "", fmt.Errorf("signature mode %q: want off, audit or enforce", s)
}

// Policy is the operator's word on signatures (.pinbot.yaml's signatures:).
type Policy struct {
	Mode Mode `yaml:"mode" json:"mode,omitempty"`
	// TrustedRoot is a trusted_root.json (private Sigstore, air-gapped
	// use), relative to the configuration file; "": Sigstore's public-good
	// root, as sigstore-go's TUF client fetches it.
	TrustedRoot string `yaml:"trustedRoot" json:"trustedRoot,omitempty"`
	Rules       []Rule `yaml:"rules" json:"rules,omitempty"`
}

// Rule names who must sign the images its globs match.
type Rule struct {
	// Images are globs of repositories, in any spelling a user writes
	// (nginx, docker.io/library/nginx, ghcr.io/org/*).
	Images []string `yaml:"images" json:"images"`
	// Keyless is a Fulcio identity; Key a public key file (PEM), relative
	// to the configuration file. One of the two.
	Keyless *Keyless `yaml:"keyless" json:"keyless,omitempty"`
	Key     string   `yaml:"key" json:"key,omitempty"`
	// TLog false accepts key signatures made without a transparency-log
	// entry; by default one is required.
	TLog *bool `yaml:"tlog" json:"tlog,omitempty"`
	// Attestation, when set, must be present too, made by the same signer.
	Attestation *Attestation `yaml:"attestation" json:"attestation,omitempty"`
}

// Keyless is a certificate identity: the OIDC issuer and the subject, exact
// or a regular expression matched against the whole subject.
type Keyless struct {
	Issuer        string `yaml:"issuer" json:"issuer"`
	Subject       string `yaml:"subject" json:"subject,omitempty"`
	SubjectRegExp string `yaml:"subjectRegExp" json:"subjectRegExp,omitempty"`
}

// Attestation is an in-toto attestation a rule requires.
type Attestation struct {
	// PredicateType, as in https://slsa.dev/provenance/v1.
	PredicateType string `yaml:"predicateType" json:"predicateType"`
	// SourceRepository, when set, is the repository the provenance (or the
	// signing certificate) must name, as in https://github.com/org/repo.
	SourceRepository string `yaml:"sourceRepository" json:"sourceRepository,omitempty"`
}

// Validate says what is wrong with p, naming the rule (from 1).
func (p *Policy) Validate() error {
	if p.Mode != ModeDefault {
		if _, err := ParseMode(string(p.Mode)); err != nil {
			return err
		}
	}
	for i, r := range p.Rules {
		if err := r.validate(); err != nil {
			return fmt.Errorf("rule %d: %w", i+1, err)
		}
	}
	return nil
}

func (r *Rule) validate() error {
	if len(r.Images) == 0 {
		return fmt.Errorf("images: want at least one glob")
	}
	for _, g := range r.Images {
		if !doublestar.ValidatePattern(g) {
			return fmt.Errorf("images: %q is not a valid glob", g)
		}
	}
	if r.TLog != nil && !*r.TLog && r.Keyless != nil {
		return fmt.Errorf("tlog: false is for key signatures; a keyless certificate is short-lived and needs the log's time")
	}
	switch {
	case r.Keyless == nil && r.Key == "":
		return fmt.Errorf("want keyless: {issuer, subject} or key: FILE")
	case r.Keyless != nil && r.Key != "":
		return fmt.Errorf("keyless and key: want one of the two")
	case r.Keyless != nil:
		k := r.Keyless
		if k.Issuer == "" {
			return fmt.Errorf("keyless: want issuer (as in https://token.actions.githubusercontent.com)")
		}
		if (k.Subject == "") == (k.SubjectRegExp == "") {
			return fmt.Errorf("keyless: want subject or subjectRegExp, one of the two")
		}
		if k.SubjectRegExp != "" {
			if _, err := regexp.Compile(k.SubjectRegExp); err != nil {
				return fmt.Errorf("keyless: subjectRegExp: %v", err)
			}
		}
	}
	if a := r.Attestation; a != nil && a.PredicateType == "" {
		return fmt.Errorf("attestation: want predicateType (as in https://slsa.dev/provenance/v1)")
	}
	return nil
}

// RuleFor is the first rule whose globs match one of the spellings of an
// image's repository; nil when none does.
func (p *Policy) RuleFor(spellings []string) *Rule {
	if p == nil {
		return nil
	}
	for i := range p.Rules {
		for _, g := range p.Rules[i].Images {
			for _, s := range spellings {
				if ok, _ := doublestar.Match(g, s); ok {
					return &p.Rules[i]
				}
			}
		}
	}
	return nil
}

// logged tells whether the rule wants a transparency-log entry.
func (r *Rule) logged() bool { return r.TLog == nil || *r.TLog }

// String names the rule's signer, for a reason.
func (r *Rule) String() string {
	if r.Keyless != nil {
		s := r.Keyless.Subject
		if s == "" {
			s = "~" + r.Keyless.SubjectRegExp
		}
		return s + " (issuer " + r.Keyless.Issuer + ")"
	}
	return "key " + r.Key
}

// matches tells whether a verified signer is who the rule names.
func (r *Rule) matches(s Signer) bool {
	switch {
	case r.Keyless != nil:
		if s.Issuer != r.Keyless.Issuer {
			return false
		}
		if r.Keyless.Subject != "" {
			return s.Subject == r.Keyless.Subject
		}
		ok, _ := regexp.MatchString("^(?:"+r.Keyless.SubjectRegExp+")$", s.Subject)
		return ok
	default:
		return s.Key == r.Key && (s.Logged || !r.logged())
	}
}
