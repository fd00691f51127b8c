package config

import (
	"time"

	"github.com/pinbot/pinbot/internal/signature"
)

// The trust boundary. Some settings decide which servers answer, over which
// transport, how much is read, how long a moved tag is held, and who must
// sign the digests written: the operator decides them (flags, the Action's
// inputs, a configuration file from outside the checkout). A checkout,
// which a pull request can change, may add mirrors and insecure registries
// of its own only for the resolver to judge as a checkout's, and its size
// bound, cooldown and signature policy count only where the operator said
// nothing; with --base-config, those settings are read as the base
// revision holds them, so a pull request cannot change them for its own
// run.

// Sources are where a run's settings come from.
type Sources struct {
	// File is the configuration file read (nil: none).
	File *Config
	// InCheckout tells a file of the checkout; one from outside it is the
	// operator's.
	InCheckout bool
	// Base is the checkout's file as the base revision holds it
	// (--base-config); nil without.
	Base *Config
	// The operator's flags; nil or empty when not given.
	Mirrors, Insecure []string // SRC=DST; HOST
	MaxFileSize       *int64
	MinAge            *time.Duration
}

// Serving is each setting the operator decides, as the trust boundary
// settles it.
type Serving struct {
	// Mirrors and Insecure are the operator's: the flags, then a file from
	// outside the checkout.
	Mirrors, Insecure []string
	// CheckoutMirrors and CheckoutInsecure are the checkout's, which the
	// resolver holds to what a checkout may ask (see resolve.Options).
	CheckoutMirrors, CheckoutInsecure []string
	MaxFileSize                       int64 // 0: the default
	MinAge                            time.Duration
	// Signatures is the signature policy (nil: none), and SignaturesAt
	// where the files it names (keys, a trusted root) are read.
	Signatures   *signature.Policy
	SignaturesAt PolicyAt
}

// PolicyAt is where a signature policy's files are read: beside the file
// that holds the policy.
type PolicyAt int

const (
	// AtOperator: a file outside the checkout, the operator's; its
	// files are read from the file system.
	AtOperator PolicyAt = iota
	// AtCheckout: the checkout's own file; its files are read from the
	// checkout (never through a link out of it).
	AtCheckout
	// AtBase: the checkout's file as the base revision holds it
	// (--base-config); its files are read from that revision.
	AtBase
)

// Serving settles the settings the operator decides.
func (s Sources) Serving() Serving {
	file := s.File
	if file == nil {
		file = &Config{}
	}
	if s.InCheckout && s.Base != nil {
		file = s.Base // a pull request cannot change them for its own run
	}
	out := Serving{
		Mirrors:     append([]string(nil), s.Mirrors...),
		Insecure:    append([]string(nil), s.Insecure...),
		MaxFileSize: file.MaxFileSize,
		MinAge:      file.MinAge,
		Signatures:  file.Signatures,
	}
	switch {
	case !s.InCheckout:
		out.SignaturesAt = AtOperator
	case s.Base != nil:
		out.SignaturesAt = AtBase
	default:
		out.SignaturesAt = AtCheckout
	}
	if s.InCheckout {
		out.CheckoutMirrors, out.CheckoutInsecure = file.MirrorList(), file.InsecureRegistries
	} else {
		out.Mirrors = append(out.Mirrors, file.MirrorList()...)
		out.Insecure = append(out.Insecure, file.InsecureRegistries...)
	}
	if s.MaxFileSize != nil {
		out.MaxFileSize = *s.MaxFileSize
	}
	if s.MinAge != nil {
		out.MinAge = *s.MinAge
	}
	return out
}

// Overridden names the settings the operator decides that the checkout's
// file, as this revision holds it, changes from the base revision's: they
// are not used, and the run says so.
func (s Sources) Overridden() []string {
	if !s.InCheckout || s.Base == nil || s.File == nil {
		return nil
	}
	return ServingChanges(s.Base, s.File)
}
