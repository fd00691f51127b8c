package signature

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	sigsig "github.com/sigstore/sigstore/pkg/signature"
)

// Signer is one verified signature or attestation of a digest.
type Signer struct {
	// Issuer and Subject are a keyless certificate's identity (the OIDC
	// issuer, and the workflow or e-mail address it vouched for).
	Issuer  string `json:"issuer,omitempty"`
	Subject string `json:"subject,omitempty"`
	// Key is the policy's key file that verified a key signature.
	Key string `json:"key,omitempty"`
	// Logged: a transparency-log entry verified; Time is when the log
	// took it.
	Logged bool      `json:"logged,omitempty"`
	Time   time.Time `json:"time,omitzero"`
	// PredicateType is an attestation's in-toto predicate type; "" for a
	// signature.
	PredicateType string `json:"predicateType,omitempty"`
	// SourceRepository and SourceCommit are what the certificate (or the
	// provenance) says the image was built from.
	SourceRepository string `json:"sourceRepository,omitempty"`
	SourceCommit     string `json:"sourceCommit,omitempty"`
	Format           Format `json:"format"`
}

// Identity is who signed, as continuity compares it: the key, or the
// issuer and subject with the subject's git ref (@refs/tags/v1.2.3, which
// changes with every release) left out.
func (s Signer) Identity() string {
	if s.Key != "" {
		return "key " + s.Key
	}
	subject := s.Subject
	if i := strings.Index(subject, "@refs/"); i > 0 {
		subject = subject[:i]
	}
	return subject + " (issuer " + s.Issuer + ")"
}

// signPredicate is the predicate type of cosign's own image signature in a
// bundle: a signature, not an attestation.
const signPredicate = "https://sigstore.dev/cosign/sign/v1"

// Key is a public key the policy knows.
type Key struct {
	Name string // the file it came from, as the policy names it
	pub  crypto.PublicKey
}

// ParseKey reads a PEM public key.
func ParseKey(name string, pemBytes []byte) (Key, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return Key{}, fmt.Errorf("key %s: %w", name, err)
	}
	if _, err := sigsig.LoadVerifier(pub, crypto.SHA256); err != nil {
		return Key{}, fmt.Errorf("key %s: %w", name, err)
	}
	return Key{Name: name, pub: pub}, nil
}

// material is the trusted material that verifies with k alone.
func (k Key) material() root.TrustedMaterial {
	v, _ := sigsig.LoadVerifier(k.pub, crypto.SHA256) // checked by ParseKey
	return root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
		return root.NewExpiringKey(v, time.Time{}, time.Time{}), nil
	})
}

// verifier verifies candidates: keyless ones against the trusted root,
// key ones against the policy's keys.
type verifier struct {
	trusted func() (root.TrustedMaterial, error)
	keys    []Key
}

// errUnknownKey is a key signature no key of the policy verifies.
var errUnknownKey = errors.New("signed with a key the policy does not know")

// check verifies one candidate as a signature of d.
func (v *verifier) check(c candidate, d name.Digest) (Signer, error) {
	if c.err != nil {
		return Signer{}, c.err
	}
	want, err := hex.DecodeString(strings.TrimPrefix(d.DigestStr(), "sha256:"))
	if err != nil || len(want) != sha256.Size {
		return Signer{}, fmt.Errorf("digest %s: want sha256", d.DigestStr())
	}
	var entity verify.SignedEntity
	artifact := verify.WithArtifactDigest("sha256", want)
	switch c.format {
	case FormatBundle:
		entity = c.bundle
	case FormatSig:
		if err := signsDigest(c.payload, d.DigestStr()); err != nil {
			return Signer{}, err
		}
		if entity, err = legacy(c, nil); err != nil {
			return Signer{}, err
		}
		artifact = verify.WithArtifact(bytes.NewReader(c.payload))
	case FormatAtt:
		var env dsse.Envelope
		if err := json.Unmarshal(c.payload, &env); err != nil || len(env.Signatures) == 0 {
			return Signer{}, errors.New("malformed DSSE envelope")
		}
		if entity, err = legacy(c, &env); err != nil {
			return Signer{}, err
		}
	}
	content, err := entity.VerificationContent()
	if err != nil {
		return Signer{}, err
	}
	entries, _ := entity.TlogEntries()
	var s Signer
	if content.Certificate() != nil {
		s, err = v.keyless(entity, artifact)
	} else {
		s, err = v.keyed(entity, artifact, len(entries) > 0)
	}
	if err != nil {
		return Signer{}, err
	}
	s.Format = c.format
	return s, nil
}

// keyless verifies a certificate-signed entity against the trusted root:
// its chain, its log entry and the time the log took it.
func (v *verifier) keyless(entity verify.SignedEntity, artifact verify.ArtifactPolicyOption) (Signer, error) {
	tm, err := v.trusted()
	if err != nil {
		return Signer{}, fmt.Errorf("trusted root: %w", err)
	}
	sv, err := verify.NewVerifier(tm, verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
	if err != nil {
		return Signer{}, err
	}
	res, err := sv.Verify(entity, verify.NewPolicy(artifact, verify.WithoutIdentitiesUnsafe()))
	if err != nil {
		return Signer{}, err
	}
	s := signerOf(res)
	if cert := res.Signature.Certificate; cert != nil {
		s.Issuer, s.Subject = cert.Issuer, cert.SubjectAlternativeName
		s.SourceRepository, s.SourceCommit = cert.SourceRepositoryURI, cert.SourceRepositoryDigest
	}
	if s.Issuer == "" {
		return Signer{}, errors.New("the certificate names no OIDC issuer")
	}
	if s.SourceRepository == "" {
		s.SourceRepository, s.SourceCommit = provenanceSource(res)
	}
	return s, nil
}

// keyed verifies a key-signed entity with each key the policy knows; its
// log entry, where it has one, against the trusted root.
func (v *verifier) keyed(entity verify.SignedEntity, artifact verify.ArtifactPolicyOption, logged bool) (Signer, error) {
	var tm root.TrustedMaterial
	if logged {
		var err error
		if tm, err = v.trusted(); err != nil {
			return Signer{}, fmt.Errorf("trusted root (for the log entry): %w", err)
		}
	}
	var last error
	for _, k := range v.keys {
		var sv *verify.Verifier
		var err error
		if logged {
			sv, err = verify.NewVerifier(root.TrustedMaterialCollection{tm, k.material()}, verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
		} else {
			sv, err = verify.NewVerifier(k.material(), verify.WithNoObserverTimestamps())
		}
		if err != nil {
			return Signer{}, err
		}
		res, err := sv.Verify(entity, verify.NewPolicy(artifact, verify.WithKey()))
		if err != nil {
			last = err
			continue
		}
		s := signerOf(res)
		s.Key = k.Name
		s.SourceRepository, s.SourceCommit = provenanceSource(res)
		return s, nil
	}
	if last != nil && !isKeyMismatch(last) {
		return Signer{}, fmt.Errorf("%w, or one that does not verify: %v", errUnknownKey, last)
	}
	return Signer{}, errUnknownKey
}

// isKeyMismatch tells a signature, or a log entry, that names another key
// than the one tried from any other failure (a bad log entry, another
// digest).
func isKeyMismatch(err error) bool {
	s := err.Error()
	return strings.Contains(s, "failed to verify signature") || strings.Contains(s, "transparency log certificate does not match")
}

// signerOf is what a verification result says of its signer, but the
// identity: the log's time and an attestation's predicate type.
func signerOf(res *verify.VerificationResult) Signer {
	var s Signer
	for _, ts := range res.VerifiedTimestamps {
		if ts.Type == "Tlog" {
			s.Logged = true
			if s.Time.IsZero() || ts.Timestamp.Before(s.Time) {
				s.Time = ts.Timestamp.UTC()
			}
		}
	}
	if res.Statement != nil && res.Statement.PredicateType != signPredicate {
		s.PredicateType = res.Statement.PredicateType
	}
	return s
}

// provenanceSource reads the source repository and commit a SLSA
// provenance names (v1: the first resolved dependency; v0.2: the
// invocation's config source).
func provenanceSource(res *verify.VerificationResult) (repo, commit string) {
	if res.Statement == nil || res.Statement.Predicate == nil {
		return "", ""
	}
	raw, err := res.Statement.Predicate.MarshalJSON()
	if err != nil {
		return "", ""
	}
	var p struct {
		BuildDefinition struct {
			ResolvedDependencies []struct {
				URI    string            `json:"uri"`
				Digest map[string]string `json:"digest"`
			} `json:"resolvedDependencies"`
		} `json:"buildDefinition"`
		Invocation struct {
			ConfigSource struct {
				URI    string            `json:"uri"`
				Digest map[string]string `json:"digest"`
			} `json:"configSource"`
		} `json:"invocation"`
	}
	if json.Unmarshal(raw, &p) != nil {
		return "", ""
	}
	uri, digest := p.Invocation.ConfigSource.URI, p.Invocation.ConfigSource.Digest
	if deps := p.BuildDefinition.ResolvedDependencies; len(deps) > 0 {
		uri, digest = deps[0].URI, deps[0].Digest
	}
	uri = strings.TrimPrefix(uri, "git+")
	if i := strings.Index(uri, "@"); i > 0 {
		uri = uri[:i]
	}
	commit = digest["gitCommit"]
	if commit == "" {
		commit = digest["sha1"]
	}
	return uri, commit
}

// signsDigest checks that a simple-signing payload names digest.
func signsDigest(payload []byte, digest string) error {
	var p struct {
		Critical struct {
			Image struct {
				Digest string `json:"docker-manifest-digest"`
			} `json:"image"`
		} `json:"critical"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return errors.New("malformed simple-signing payload")
	}
	if p.Critical.Image.Digest != digest {
		return fmt.Errorf("a signature of %s, not of this digest", shortDigest(p.Critical.Image.Digest))
	}
	return nil
}

func shortDigest(d string) string {
	if len(d) > 19 && strings.HasPrefix(d, "sha256:") {
		return d[:19]
	}
	if d == "" {
		return "no digest"
	}
	return fmt.Sprintf("%.40q", d)
}

// legacyEntity is a cosign signature kept as a layer with annotations, in
// the shape sigstore-go verifies: a message signature over the payload, or
// a DSSE envelope; its certificate or a key; its log entry with the log's
// promise (a v0.1 bundle's content).
type legacyEntity struct {
	cert    *x509.Certificate
	content verify.SignatureContent
	entries []*tlog.Entry
}

func (e *legacyEntity) HasInclusionPromise() bool { return len(e.entries) > 0 }
func (e *legacyEntity) HasInclusionProof() bool   { return false }
func (e *legacyEntity) SignatureContent() (verify.SignatureContent, error) {
	return e.content, nil
}
func (e *legacyEntity) Timestamps() ([][]byte, error)       { return nil, nil }
func (e *legacyEntity) TlogEntries() ([]*tlog.Entry, error) { return e.entries, nil }
func (e *legacyEntity) Version() (string, error)            { return "v0.1", nil }
func (e *legacyEntity) VerificationContent() (verify.VerificationContent, error) {
	if e.cert != nil {
		return bundle.NewCertificate(e.cert), nil
	}
	return &bundle.PublicKey{}, nil
}

// legacy reads a cosign layer's annotations into an entity: env is the
// DSSE envelope of an attestation, nil for a simple signature.
func legacy(c candidate, env *dsse.Envelope) (*legacyEntity, error) {
	e := &legacyEntity{}
	if env != nil {
		e.content = &bundle.Envelope{Envelope: env}
	} else {
		sig, err := base64.StdEncoding.DecodeString(c.ann[annSignature])
		if err != nil || len(sig) == 0 {
			return nil, errors.New("no signature in its " + annSignature + " annotation")
		}
		sum := sha256.Sum256(c.payload)
		e.content = bundle.NewMessageSignature(sum[:], "SHA2_256", sig)
	}
	if pemCert := c.ann[annCertificate]; pemCert != "" {
		certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(pemCert))
		if err != nil || len(certs) == 0 {
			return nil, errors.New("malformed certificate annotation")
		}
		e.cert = certs[0]
	}
	if raw := c.ann[annBundle]; raw != "" {
		entry, err := rekorEntry(raw)
		if err != nil {
			return nil, err
		}
		e.entries = []*tlog.Entry{entry}
	}
	return e, nil
}

// rekorEntry reads cosign's bundle annotation: the log entry with its
// signed entry timestamp (the log's promise to include it).
func rekorEntry(raw string) (*tlog.Entry, error) {
	var b struct {
		SignedEntryTimestamp []byte
		Payload              struct {
			Body           []byte `json:"body"`
			IntegratedTime int64  `json:"integratedTime"`
			LogIndex       int64  `json:"logIndex"`
			LogID          string `json:"logID"`
		}
	}
	if err := json.Unmarshal([]byte(raw), &b); err != nil {
		return nil, errors.New("malformed log entry annotation (" + annBundle + ")")
	}
	logID, err := hex.DecodeString(b.Payload.LogID)
	if err != nil {
		return nil, errors.New("malformed log ID in the log entry annotation")
	}
	var kind struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(b.Payload.Body, &kind); err != nil {
		return nil, errors.New("malformed log entry body in the log entry annotation")
	}
	entry, err := tlog.NewTlogEntry(&protorekor.TransparencyLogEntry{
		LogIndex:          b.Payload.LogIndex,
		LogId:             &protocommon.LogId{KeyId: logID},
		KindVersion:       &protorekor.KindVersion{Kind: kind.Kind, Version: kind.APIVersion},
		IntegratedTime:    b.Payload.IntegratedTime,
		InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: b.SignedEntryTimestamp},
		CanonicalizedBody: b.Payload.Body,
	})
	if err != nil {
		return nil, fmt.Errorf("log entry annotation: %w", err)
	}
	return entry, nil
}
