package signature

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/pinbot/pinbot/internal/signature/sigtest"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// FuzzCheck feeds what a registry may answer (a bundle, a cosign payload
// with its annotations) to the verifier, seeded with real signatures of
// another digest: nothing crashes, and nothing verifies as this digest.
func FuzzCheck(f *testing.F) {
	ss := sigtest.NewSigstore(f)
	tm, err := root.NewTrustedRootFromJSON(ss.TrustedRoot())
	if err != nil {
		f.Fatal(err)
	}
	key := sigtest.NewKey(f)
	k, err := ParseKey("k.pub", key.PublicPEM())
	if err != nil {
		f.Fatal(err)
	}
	other := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}
	this, err := name.NewDigest("example.com/app@sha256:" + strings.Repeat("b", 64))
	if err != nil {
		f.Fatal(err)
	}
	payload := sigtest.SimpleSigning("example.com/app", other)
	legacy := ss.Legacy("https://github.com/a/b/.github/workflows/r.yml@refs/tags/v1", sigtest.GitHub, payload)
	keyed := key.Legacy(payload, ss)
	ann := func(l sigtest.Layer, k string) string { return l.Annotations[k] }
	f.Add(uint8(0), ss.SignatureBundle("https://github.com/a/b/.github/workflows/r.yml@refs/tags/v1", sigtest.GitHub, other), "", "", "")
	f.Add(uint8(0), key.Bundle(sigtest.Statement(other, sigtest.SignPredicate, nil)), "", "", "")
	f.Add(uint8(1), payload, ann(legacy, annSignature), ann(legacy, annCertificate), ann(legacy, annBundle))
	f.Add(uint8(1), payload, ann(keyed, annSignature), "", ann(keyed, annBundle))
	f.Add(uint8(2), ss.DSSE("x@example.com", sigtest.GitHub, sigtest.Statement(other, "https://slsa.dev/provenance/v1", nil)).Data, "", "", "")

	v := &verifier{trusted: func() (root.TrustedMaterial, error) { return tm, nil }, keys: []Key{k}}
	// the seeds verify as the digest they sign: the fuzzing starts from
	// signatures that hold
	signed, _ := name.NewDigest("example.com/app@" + other.String())
	for _, l := range []sigtest.Layer{legacy, keyed} {
		if _, err := v.check(candidate{format: FormatSig, payload: l.Data, ann: l.Annotations}, signed); err != nil {
			f.Fatalf("a seed does not verify as the digest it signs: %v", err)
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte, sig, cert, logged string) {
		c := candidate{where: "fuzz", payload: data, ann: map[string]string{annSignature: sig, annCertificate: cert, annBundle: logged}}
		switch kind % 3 {
		case 0:
			var b bundle.Bundle
			if err := b.UnmarshalJSON(data); err != nil {
				return
			}
			c.format, c.bundle = FormatBundle, &b
		case 1:
			c.format = FormatSig
		case 2:
			c.format = FormatAtt
		}
		if s, err := v.check(c, this); err == nil {
			t.Fatalf("verified as %s: %+v", this, s)
		}
	})
}
