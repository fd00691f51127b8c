// Package sigtest signs images as their publishers do, for tests: keyless
// through a Sigstore of its own (sigstore-go's virtual Fulcio, Rekor and
// TSA), or with a key; as Sigstore bundles (cosign v3) or as cosign's older
// simple-signing layers; and attaches what it signs to a registry, by the
// referrers API, its tag fallback, or cosign's .sig and .att tags.
package sigtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"google.golang.org/protobuf/encoding/protojson"
)

// T is what sigtest needs of a test: T, or a testscript's T.
type T interface {
	Fatal(args ...any)
}

// helper marks the caller a helper where t can.
func helper(t T) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
}

// GitHub is the OIDC issuer of GitHub Actions' tokens.
const GitHub = "https://token.actions.githubusercontent.com"

// SignPredicate is the predicate type of cosign v3's image signature.
const SignPredicate = "https://sigstore.dev/cosign/sign/v1"

// Sigstore is a Fulcio, Rekor and TSA of the test's own.
type Sigstore struct {
	t  T
	vs *ca.VirtualSigstore
}

// NewSigstore starts a Sigstore.
func NewSigstore(t T) *Sigstore {
	helper(t)
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	return &Sigstore{t: t, vs: vs}
}

// TrustedRoot is the Sigstore's trusted_root.json.
func (s *Sigstore) TrustedRoot() []byte {
	helper(s.t)
	// The virtual logs keep their IDs as hex text; a trusted root holds
	// the raw bytes.
	fix := func(in map[string]*root.TransparencyLog) map[string]*root.TransparencyLog {
		out := map[string]*root.TransparencyLog{}
		for id, l := range in {
			c := *l
			raw, err := hex.DecodeString(id)
			if err != nil {
				s.t.Fatal(err)
			}
			c.ID = raw
			if c.BaseURL == "" || c.BaseURL == "test" {
				c.BaseURL = "https://ctlog.localhost"
			}
			out[id] = &c
		}
		return out
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, s.vs.FulcioCertificateAuthorities(), fix(s.vs.CTLogs()), s.vs.TimestampingAuthorities(), fix(s.vs.RekorLogs()))
	if err != nil {
		s.t.Fatal(err)
	}
	data, err := tr.MarshalJSON()
	if err != nil {
		s.t.Fatal(err)
	}
	return data
}

// WriteTrustedRoot writes the trusted root into dir and returns its path.
func (s *Sigstore) WriteTrustedRoot(dir string) string {
	p := filepath.Join(dir, "trusted_root.json")
	if err := os.WriteFile(p, s.TrustedRoot(), 0o644); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// Statement is an in-toto statement about digest.
func Statement(digest v1.Hash, predicateType string, predicate any) []byte {
	if predicate == nil {
		predicate = map[string]any{}
	}
	b, _ := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": "image", "digest": map[string]string{"sha256": digest.Hex}}},
		"predicateType": predicateType,
		"predicate":     predicate,
	})
	return b
}

// Provenance is a SLSA v1 provenance predicate naming a source repository
// and commit.
func Provenance(repo, commit string) map[string]any {
	return map[string]any{
		"buildDefinition": map[string]any{
			"buildType": "https://actions.github.io/buildtypes/workflow/v1",
			"resolvedDependencies": []any{map[string]any{
				"uri":    "git+" + repo + "@refs/heads/main",
				"digest": map[string]string{"gitCommit": commit},
			}},
		},
	}
}

// Bundle is a cosign v3 Sigstore bundle: a DSSE envelope of statement,
// signed by identity (issued by issuer), logged with an inclusion proof.
func (s *Sigstore) Bundle(identity, issuer string, statement []byte) []byte {
	helper(s.t)
	e, err := s.vs.AttestAtTime(identity, issuer, statement, time.Now().Add(5*time.Minute), true)
	if err != nil {
		s.t.Fatal(err)
	}
	vc, _ := e.VerificationContent()
	sc, _ := e.SignatureContent()
	entries, _ := e.TlogEntries()
	return bundleJSON(s.t, &protobundle.VerificationMaterial{
		Content:     &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: vc.Certificate().Raw}},
		TlogEntries: s.protoEntries(entries),
	}, sc.EnvelopeContent().RawEnvelope())
}

// SignatureBundle is cosign v3's signature of digest by identity.
func (s *Sigstore) SignatureBundle(identity, issuer string, digest v1.Hash) []byte {
	return s.Bundle(identity, issuer, Statement(digest, SignPredicate, nil))
}

// protoEntries are entries as a bundle holds them, each with the log's
// promise (its signed entry timestamp) beside its inclusion proof, as
// Rekor's answers carry both.
func (s *Sigstore) protoEntries(entries []*tlog.Entry) []*protorekor.TransparencyLogEntry {
	var out []*protorekor.TransparencyLogEntry
	for _, e := range entries {
		tle := e.TransparencyLogEntry()
		tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: s.promise(tle)}
		var kind struct {
			Kind       string `json:"kind"`
			APIVersion string `json:"apiVersion"`
		}
		_ = json.Unmarshal(tle.GetCanonicalizedBody(), &kind)
		tle.KindVersion = &protorekor.KindVersion{Kind: kind.Kind, Version: kind.APIVersion}
		out = append(out, tle)
	}
	return out
}

// promise is the log's signed entry timestamp for tle.
func (s *Sigstore) promise(tle *protorekor.TransparencyLogEntry) []byte {
	helper(s.t)
	set, err := s.vs.RekorSignPayload(tlog.RekorPayload{
		Body:           base64.StdEncoding.EncodeToString(tle.GetCanonicalizedBody()),
		IntegratedTime: tle.GetIntegratedTime(),
		LogIndex:       tle.GetLogIndex(),
		LogID:          hex.EncodeToString(tle.GetLogId().GetKeyId()),
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return set
}

func bundleJSON(t T, vm *protobundle.VerificationMaterial, env *dsse.Envelope) []byte {
	helper(t)
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var sigs []*protodsse.Signature
	for _, s := range env.Signatures {
		raw, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, &protodsse.Signature{Sig: raw, Keyid: s.KeyID})
	}
	pb := &protobundle.Bundle{
		MediaType:            "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: vm,
		Content:              &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{Payload: payload, PayloadType: env.PayloadType, Signatures: sigs}},
	}
	if _, err := bundle.NewBundle(pb); err != nil {
		t.Fatal("the bundle made is not valid: ", err)
	}
	out, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Layer is one layer of a cosign .sig or .att manifest.
type Layer struct {
	MediaType   types.MediaType
	Data        []byte
	Annotations map[string]string
}

// SimpleSigning is cosign's payload for a signature of digest in repo.
func SimpleSigning(repo string, digest v1.Hash) []byte {
	b, _ := json.Marshal(map[string]any{
		"critical": map[string]any{
			"identity": map[string]string{"docker-reference": repo},
			"image":    map[string]string{"docker-manifest-digest": digest.String()},
			"type":     "cosign container image signature",
		},
		"optional": nil,
	})
	return b
}

// Legacy is cosign's older keyless signature of payload (SimpleSigning):
// a layer with its signature, certificate and log entry as annotations.
func (s *Sigstore) Legacy(identity, issuer string, payload []byte) Layer {
	helper(s.t)
	cert, priv, err := s.vs.GenerateLeafCert(identity, issuer)
	if err != nil {
		s.t.Fatal(err)
	}
	sig := sign(s.t, priv.(*ecdsa.PrivateKey), payload)
	certPEM, err := cryptoutils.MarshalCertificateToPEM(cert)
	if err != nil {
		s.t.Fatal(err)
	}
	ann := map[string]string{
		"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(sig),
		"dev.sigstore.cosign/certificate":    string(certPEM),
		"dev.sigstore.cosign/bundle":         s.logged(payload, sig, certPEM),
	}
	return Layer{MediaType: "application/vnd.dev.cosign.simplesigning.v1+json", Data: payload, Annotations: ann}
}

// logged enters a hashedrekord of payload's signature into the log, and
// returns cosign's bundle annotation for it.
func (s *Sigstore) logged(payload, sig, pubPEM []byte) string {
	helper(s.t)
	sum := sha256.Sum256(payload)
	body, _ := json.Marshal(map[string]any{
		"apiVersion": "0.0.1",
		"kind":       "hashedrekord",
		"spec": map[string]any{
			"data": map[string]any{"hash": map[string]string{"algorithm": "sha256", "value": hex.EncodeToString(sum[:])}},
			"signature": map[string]any{
				"content":   base64.StdEncoding.EncodeToString(sig),
				"publicKey": map[string]string{"content": base64.StdEncoding.EncodeToString(pubPEM)},
			},
		},
	})
	logID, err := s.vs.RekorLogID()
	if err != nil {
		s.t.Fatal(err)
	}
	integrated := time.Now().Add(5 * time.Minute).Unix()
	p := tlog.RekorPayload{Body: base64.StdEncoding.EncodeToString(body), IntegratedTime: integrated, LogIndex: 1001, LogID: logID}
	set, err := s.vs.RekorSignPayload(p)
	if err != nil {
		s.t.Fatal(err)
	}
	out, _ := json.Marshal(map[string]any{
		"SignedEntryTimestamp": set,
		"Payload":              map[string]any{"body": body, "integratedTime": integrated, "logIndex": 1001, "logID": logID},
	})
	return string(out)
}

func sign(t T, priv *ecdsa.PrivateKey, payload []byte) []byte {
	helper(t)
	sum := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, priv, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// Key is a publisher's signing key.
type Key struct {
	t    T
	priv *ecdsa.PrivateKey
}

// NewKey makes a key.
func NewKey(t T) *Key {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &Key{t: t, priv: priv}
}

// PublicPEM is the key's public half, as cosign.pub holds it.
func (k *Key) PublicPEM() []byte {
	der, err := x509.MarshalPKIXPublicKey(k.priv.Public())
	if err != nil {
		k.t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// Write writes the public key into dir as name and returns its path.
func (k *Key) Write(dir, file string) string {
	p := filepath.Join(dir, file)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		k.t.Fatal(err)
	}
	if err := os.WriteFile(p, k.PublicPEM(), 0o644); err != nil {
		k.t.Fatal(err)
	}
	return p
}

// Legacy is cosign's key signature of payload; logged in log's Rekor
// unless log is nil (cosign sign --tlog-upload=false).
func (k *Key) Legacy(payload []byte, log *Sigstore) Layer {
	sig := sign(k.t, k.priv, payload)
	ann := map[string]string{"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(sig)}
	if log != nil {
		ann["dev.sigstore.cosign/bundle"] = log.logged(payload, sig, k.PublicPEM())
	}
	return Layer{MediaType: "application/vnd.dev.cosign.simplesigning.v1+json", Data: payload, Annotations: ann}
}

// Bundle is a key-signed Sigstore bundle of statement, with no log entry.
func (k *Key) Bundle(statement []byte) []byte {
	pae := dsse.PAE("application/vnd.in-toto+json", statement)
	sig := sign(k.t, k.priv, pae)
	env := &dsse.Envelope{PayloadType: "application/vnd.in-toto+json", Payload: base64.StdEncoding.EncodeToString(statement),
		Signatures: []dsse.Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}}}
	return bundleJSON(k.t, &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: ""}},
	}, env)
}

// raw is a manifest pushed as its bytes.
type raw struct {
	b  []byte
	mt types.MediaType
}

func (r raw) RawManifest() ([]byte, error)        { return r.b, nil }
func (r raw) MediaType() (types.MediaType, error) { return r.mt, nil }

// emptyJSON is OCI's empty descriptor's content.
var emptyJSON = []byte("{}")

func push(t T, repo name.Repository, blobs ...[]byte) {
	helper(t)
	for _, b := range blobs {
		if err := remote.WriteLayer(repo, static.NewLayer(b, types.MediaType("application/octet-stream"))); err != nil {
			t.Fatal(err)
		}
	}
}

func descriptor(mt types.MediaType, b []byte, ann map[string]string) v1.Descriptor {
	h, n, _ := v1.SHA256(bytesReader(b))
	return v1.Descriptor{MediaType: mt, Digest: h, Size: n, Annotations: ann}
}

// AttachBundle attaches a Sigstore bundle to subject as cosign v3 does: a
// manifest naming subject, found by the referrers API (or, where the
// registry has none, its tag fallback, which the push updates).
func AttachBundle(t T, subject name.Digest, bundleJSON []byte) v1.Hash {
	helper(t)
	const bt = "application/vnd.dev.sigstore.bundle.v0.3+json"
	push(t, subject.Context(), bundleJSON, emptyJSON)
	sub, err := remote.Head(subject)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     types.OCIManifestSchema1,
		"artifactType":  bt,
		"config":        descriptor("application/vnd.oci.empty.v1+json", emptyJSON, nil),
		"layers":        []v1.Descriptor{descriptor(bt, bundleJSON, nil)},
		"subject":       v1.Descriptor{MediaType: sub.MediaType, Digest: sub.Digest, Size: sub.Size},
		"annotations":   map[string]string{"dev.sigstore.bundle.content": "dsse-envelope"},
	}
	b, _ := json.Marshal(m)
	h, _, _ := v1.SHA256(bytesReader(b))
	if err := remote.Put(subject.Context().Digest(h.String()), raw{b, types.OCIManifestSchema1}); err != nil {
		t.Fatal(err)
	}
	return h
}

// AttachCosign writes cosign's sha256-<hex>.sig (or .att, by suffix) tag
// of subject with layers.
func AttachCosign(t T, subject name.Digest, suffix string, layers ...Layer) {
	helper(t)
	cfg := []byte(`{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}`)
	push(t, subject.Context(), cfg)
	var descs []v1.Descriptor
	for _, l := range layers {
		push(t, subject.Context(), l.Data)
		descs = append(descs, descriptor(l.MediaType, l.Data, l.Annotations))
	}
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     types.OCIManifestSchema1,
		"config":        descriptor(types.OCIConfigJSON, cfg, nil),
		"layers":        descs,
	}
	b, _ := json.Marshal(m)
	tag := subject.Context().Tag("sha256-" + subject.DigestStr()[len("sha256:"):] + suffix)
	if err := remote.Put(tag, raw{b, types.OCIManifestSchema1}); err != nil {
		t.Fatal(err)
	}
}

// DSSE is cosign's older attestation layer: a DSSE envelope of statement
// signed by identity, with its certificate and log entry as annotations.
func (s *Sigstore) DSSE(identity, issuer string, statement []byte) Layer {
	helper(s.t)
	e, err := s.vs.Attest(identity, issuer, statement)
	if err != nil {
		s.t.Fatal(err)
	}
	vc, _ := e.VerificationContent()
	sc, _ := e.SignatureContent()
	entries, _ := e.TlogEntries()
	env, _ := json.Marshal(sc.EnvelopeContent().RawEnvelope())
	certPEM, _ := cryptoutils.MarshalCertificateToPEM(vc.Certificate())
	tle := entries[0].TransparencyLogEntry()
	ann := map[string]string{
		"dev.sigstore.cosign/certificate": string(certPEM),
		"dev.sigstore.cosign/bundle": mustJSON(map[string]any{
			"SignedEntryTimestamp": s.promise(tle),
			"Payload": map[string]any{
				"body": tle.GetCanonicalizedBody(), "integratedTime": tle.GetIntegratedTime(),
				"logIndex": tle.GetLogIndex(), "logID": hex.EncodeToString(tle.GetLogId().GetKeyId()),
			},
		}),
	}
	return Layer{MediaType: "application/vnd.dsse.envelope.v1+json", Data: env, Annotations: ann}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return string(b)
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
