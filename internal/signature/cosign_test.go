//go:build cosign

// Signatures made by the real cosign CLI, which the other tests never see:
// run by .ci/cosign-acceptance, which builds cosign and sets $COSIGN.

package signature_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/pinbot/pinbot/internal/signature"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// cosign runs the cosign binary at $COSIGN in dir.
func cosign(t *testing.T, dir string, args ...string) {
	t.Helper()
	bin := os.Getenv("COSIGN")
	if bin == "" {
		t.Fatal("$COSIGN names no cosign binary: run .ci/cosign-acceptance")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=", "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Key signatures and attestations made by cosign (no transparency log:
// there is no network here), in the bundle format of cosign v3 and in the
// older .sig and .att layers, on a registry with the referrers API and on
// one without: each is verified with the key, and its signer named; an
// image cosign did not sign is refused; a key cosign did not sign with
// verifies nothing.
func TestCosignCLI(t *testing.T) {
	for _, referrers := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers API", false: "tag fallback"}[referrers], func(t *testing.T) {
			e := newEnv(t, referrers)
			dir := t.TempDir()
			cosign(t, dir, "generate-key-pair")
			pub, err := os.ReadFile(filepath.Join(dir, "cosign.pub"))
			if err != nil {
				t.Fatal(err)
			}
			key, err := signature.ParseKey("cosign.pub", pub)
			if err != nil {
				t.Fatal(err)
			}
			pred := filepath.Join(dir, "provenance.json")
			if err := os.WriteFile(pred, []byte(`{"buildDefinition":{"resolvedDependencies":[{"uri":"git+https://github.com/acme/app@refs/heads/main","digest":{"gitCommit":"0123456789abcdef0123456789abcdef01234567"}}]}}`), 0o644); err != nil {
				t.Fatal(err)
			}
			common := []string{"--key", "cosign.key", "--tlog-upload=false", "--use-signing-config=false", "--allow-http-registry", "-y"}
			images := map[string]name.Digest{}
			for i, tag := range []string{"bundle", "legacy", "unsigned"} {
				canon, stored := e.image(t, tag, i+1)
				images[tag] = canon
				switch tag {
				case "bundle":
					cosign(t, dir, append(append([]string{"sign"}, common...), "--new-bundle-format=true", stored.String())...)
					cosign(t, dir, append(append([]string{"attest"}, common...), "--new-bundle-format=true", "--type", "slsaprovenance1", "--predicate", pred, stored.String())...)
				case "legacy":
					cosign(t, dir, append(append([]string{"sign"}, common...), "--new-bundle-format=false", stored.String())...)
					cosign(t, dir, append(append([]string{"attest"}, common...), "--new-bundle-format=false", "--type", "slsaprovenance1", "--predicate", pred, stored.String())...)
				}
			}
			off := false
			rule := signature.Rule{Images: []string{"acme/*"}, Key: "cosign.pub", TLog: &off,
				Attestation: &signature.Attestation{PredicateType: "https://slsa.dev/provenance/v1", SourceRepository: "https://github.com/acme/app"}}
			c := signature.New(signature.Policy{Mode: signature.ModeEnforce, Rules: []signature.Rule{rule}}, e.res, []signature.Key{key},
				func() (root.TrustedMaterial, error) { return e.tm, nil })
			for tag, want := range map[string]signature.Format{"bundle": signature.FormatBundle, "legacy": signature.FormatSig} {
				v := c.Judge(context.Background(), []signature.Request{{Spellings: spellings, Digest: images[tag]}})[0]
				wantPass(t, v)
				var signed, attested bool
				for _, s := range v.Signers {
					signed = signed || s.PredicateType == "" && s.Key == "cosign.pub" && s.Format == want
					attested = attested || s.PredicateType == "https://slsa.dev/provenance/v1" && s.SourceCommit == "0123456789abcdef0123456789abcdef01234567"
				}
				if !signed || !attested {
					t.Errorf("%s: signers %+v", tag, v.Signers)
				}
			}
			wantProblem(t, judge(t, c, images["unsigned"], nil), "not signed by key cosign.pub; it is unsigned")

			stranger, err := signature.ParseKey("stranger.pub", []byte(strangerPEM(t)))
			if err != nil {
				t.Fatal(err)
			}
			c = signature.New(signature.Policy{Rules: []signature.Rule{{Images: []string{"acme/*"}, Key: "stranger.pub", TLog: &off}}}, e.res, []signature.Key{stranger},
				func() (root.TrustedMaterial, error) { return e.tm, nil })
			wantProblem(t, judge(t, c, images["legacy"], nil), "signed with a key the policy does not know")
		})
	}
}

// strangerPEM is a public key cosign signed nothing with.
func strangerPEM(t *testing.T) string {
	dir := t.TempDir()
	cosign(t, dir, "generate-key-pair")
	pub, err := os.ReadFile(filepath.Join(dir, "cosign.pub"))
	if err != nil {
		t.Fatal(err)
	}
	return string(pub)
}
