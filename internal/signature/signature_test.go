package signature_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/pinbot/pinbot/internal/registrytest"
	"github.com/pinbot/pinbot/internal/resolve"
	"github.com/pinbot/pinbot/internal/signature"
	"github.com/pinbot/pinbot/internal/signature/sigtest"
	"github.com/sigstore/sigstore-go/pkg/root"
)

const (
	release  = "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0"
	release2 = "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v2.0.0"
	intruder = "https://github.com/evil/fork/.github/workflows/release.yml@refs/heads/main"
)

// env is a registry, a resolver that reads it as docker.io's mirror, and
// a Sigstore of the test's own whose trusted root the checker reads as
// trusted_root.json.
type env struct {
	reg *registrytest.Registry
	res *resolve.Resolver
	ss  *sigtest.Sigstore
	tm  root.TrustedMaterial
}

func newEnv(t *testing.T, referrers bool) *env {
	t.Helper()
	reg := registrytest.StartWith(registrytest.Options{Referrers: referrers})
	t.Cleanup(reg.Close)
	res, err := resolve.New(resolve.Options{
		Mirrors:  []resolve.Mirror{{From: "docker.io", To: reg.Host + "/" + registrytest.Prefix + "/docker.io"}},
		Insecure: []string{reg.Host},
		Keychain: authn.NewMultiKeychain(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ss := sigtest.NewSigstore(t)
	tm, err := root.NewTrustedRootFromJSON(ss.TrustedRoot())
	if err != nil {
		t.Fatal(err)
	}
	return &env{reg: reg, res: res, ss: ss, tm: tm}
}

// image pushes generation gen of acme/app:<tag> and returns its digest as
// pinbot names it (docker.io/acme/app@…) and as the registry holds it.
func (e *env) image(t *testing.T, tag string, gen int, platforms ...string) (canon, stored name.Digest) {
	t.Helper()
	ref := "acme/app:" + tag
	var d string
	var err error
	if len(platforms) > 0 {
		d, err = e.reg.PushPlatforms(ref, gen, platforms...)
	} else {
		d, err = e.reg.Push(ref, gen)
	}
	if err != nil {
		t.Fatal(err)
	}
	target, err := e.reg.Target(ref)
	if err != nil {
		t.Fatal(err)
	}
	canon, err = name.NewDigest("docker.io/acme/app@" + d)
	if err != nil {
		t.Fatal(err)
	}
	return canon, target.Context().Digest(d)
}

func hash(d name.Digest) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: strings.TrimPrefix(d.DigestStr(), "sha256:")}
}

func (e *env) checker(p signature.Policy, keys ...signature.Key) *signature.Checker {
	return signature.New(p, e.res, keys, func() (root.TrustedMaterial, error) { return e.tm, nil })
}

func keyless(subjectRE string) signature.Rule {
	return signature.Rule{Images: []string{"acme/*"}, Keyless: &signature.Keyless{Issuer: sigtest.GitHub, SubjectRegExp: subjectRE}}
}

var spellings = []string{"acme/app", "docker.io/acme/app"}

func judge(t *testing.T, c *signature.Checker, d name.Digest, old *name.Digest, platforms ...v1.Platform) signature.Verdict {
	t.Helper()
	return c.Judge(context.Background(), []signature.Request{{Spellings: spellings, Digest: d, Old: old, Platforms: platforms}})[0]
}

func wantPass(t *testing.T, v signature.Verdict) {
	t.Helper()
	if v.Problem != "" || v.Status != signature.StatusSigned {
		t.Fatalf("want a signed digest that meets the policy, got %+v", v)
	}
}

func wantProblem(t *testing.T, v signature.Verdict, want string) {
	t.Helper()
	if !strings.Contains(v.Problem, want) {
		t.Fatalf("problem %q, want it to say %q (verdict %+v)", v.Problem, want, v)
	}
}

// A cosign v3 bundle, found by the referrers API and by its tag fallback,
// meets a keyless rule that names its workflow, and no other.
func TestKeylessBundle(t *testing.T) {
	for _, referrers := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers API", false: "tag fallback"}[referrers], func(t *testing.T) {
			e := newEnv(t, referrers)
			d, stored := e.image(t, "v1", 1)
			sigtest.AttachBundle(t, stored, e.ss.SignatureBundle(release, sigtest.GitHub, hash(d)))

			v := judge(t, e.checker(signature.Policy{Rules: []signature.Rule{keyless(`https://github\.com/acme/app/\.github/workflows/release\.yml@refs/tags/v.*`)}}), d, nil)
			wantPass(t, v)
			s := v.Signers[0]
			if s.Subject != release || s.Issuer != sigtest.GitHub || !s.Logged || s.Time.IsZero() || s.Format != signature.FormatBundle || s.PredicateType != "" {
				t.Errorf("signer %+v", s)
			}

			v = judge(t, e.checker(signature.Policy{Rules: []signature.Rule{keyless(`https://github\.com/acme/other/.*`)}}), d, nil)
			wantProblem(t, v, "not signed by ~https://github\\.com/acme/other/.* (issuer "+sigtest.GitHub+"); it is signed by https://github.com/acme/app/.github/workflows/release.yml")
			// The expression is matched against the whole subject.
			v = judge(t, e.checker(signature.Policy{Rules: []signature.Rule{keyless(`https://github\.com/acme/app`)}}), d, nil)
			wantProblem(t, v, "not signed by")
		})
	}
}

// cosign's older signatures: the simple-signing layer on the .sig tag,
// keyless with its certificate and log entry, or by key, logged or not.
func TestLegacySignatures(t *testing.T) {
	e := newEnv(t, false)
	d, stored := e.image(t, "v1", 1)
	payload := sigtest.SimpleSigning("docker.io/acme/app", hash(d))
	sigtest.AttachCosign(t, stored, ".sig", e.ss.Legacy(release, sigtest.GitHub, payload))
	v := judge(t, e.checker(signature.Policy{Rules: []signature.Rule{keyless(`https://github\.com/acme/app/.*`)}}), d, nil)
	wantPass(t, v)
	if s := v.Signers[0]; s.Subject != release || s.Format != signature.FormatSig || !s.Logged {
		t.Errorf("signer %+v", s)
	}

	k := sigtest.NewKey(t)
	key, err := signature.ParseKey("cosign.pub", k.PublicPEM())
	if err != nil {
		t.Fatal(err)
	}
	logged, lstored := e.image(t, "v2", 2)
	sigtest.AttachCosign(t, lstored, ".sig", k.Legacy(sigtest.SimpleSigning("docker.io/acme/app", hash(logged)), e.ss))
	unlogged, ustored := e.image(t, "v3", 3)
	sigtest.AttachCosign(t, ustored, ".sig", k.Legacy(sigtest.SimpleSigning("docker.io/acme/app", hash(unlogged)), nil))

	byKey := signature.Rule{Images: []string{"docker.io/acme/**"}, Key: "cosign.pub"}
	c := e.checker(signature.Policy{Rules: []signature.Rule{byKey}}, key)
	v = judge(t, c, logged, nil)
	wantPass(t, v)
	if s := v.Signers[0]; s.Key != "cosign.pub" || !s.Logged || s.Subject != "" {
		t.Errorf("signer %+v", s)
	}
	wantProblem(t, judge(t, c, unlogged, nil), "without a transparency-log entry, which the rule requires")
	off := false
	byKey.TLog = &off
	wantPass(t, judge(t, e.checker(signature.Policy{Rules: []signature.Rule{byKey}}, key), unlogged, nil))

	// A key the policy does not know verifies nothing.
	other, err := signature.ParseKey("other.pub", sigtest.NewKey(t).PublicPEM())
	if err != nil {
		t.Fatal(err)
	}
	v = judge(t, e.checker(signature.Policy{Rules: []signature.Rule{{Images: []string{"acme/app"}, Key: "other.pub"}}}, other), logged, nil)
	wantProblem(t, v, "not signed by key other.pub; it carries a signature that does not verify: cosign .sig (sha256-")
	if v.Status != signature.StatusInvalid || !strings.Contains(strings.Join(v.Notes, "\n"), "signed with a key the policy does not know") {
		t.Errorf("verdict %+v", v)
	}
}

// A key-signed bundle made without a log entry meets a key rule that
// accepts that.
func TestKeyBundle(t *testing.T) {
	e := newEnv(t, true)
	d, stored := e.image(t, "v1", 1)
	k := sigtest.NewKey(t)
	key, _ := signature.ParseKey("cosign.pub", k.PublicPEM())
	sigtest.AttachBundle(t, stored, k.Bundle(sigtest.Statement(hash(d), sigtest.SignPredicate, nil)))
	off := false
	v := judge(t, e.checker(signature.Policy{Rules: []signature.Rule{{Images: []string{"acme/app"}, Key: "cosign.pub", TLog: &off}}}, key), d, nil)
	wantPass(t, v)
	if v.Signers[0].Logged {
		t.Errorf("signer %+v: no log entry was made", v.Signers[0])
	}
}

// Continuity: a moved tag of an image no rule names must be signed by
// whoever signed the digest it replaces. The workflow's ref changes with
// every release; the workflow may not.
func TestContinuity(t *testing.T) {
	e := newEnv(t, true)
	old, oldStored := e.image(t, "v1", 1)
	sigtest.AttachBundle(t, oldStored, e.ss.SignatureBundle(release, sigtest.GitHub, hash(old)))
	c := e.checker(signature.Policy{})

	same, sameStored := e.image(t, "v1", 2)
	sigtest.AttachBundle(t, sameStored, e.ss.SignatureBundle(release2, sigtest.GitHub, hash(same)))
	v := judge(t, c, same, &old)
	wantPass(t, v)
	if len(v.Continuity) != 1 || !strings.HasPrefix(v.Continuity[0], "https://github.com/acme/app/.github/workflows/release.yml (issuer") {
		t.Errorf("continuity %q", v.Continuity)
	}

	unsigned, _ := e.image(t, "v1", 3)
	v = judge(t, c, unsigned, &old)
	wantProblem(t, v, "the digest it replaces was signed by https://github.com/acme/app/.github/workflows/release.yml (issuer "+sigtest.GitHub+"); this one is unsigned")
	if v.Status != signature.StatusUnsigned {
		t.Errorf("status %s", v.Status)
	}

	other, otherStored := e.image(t, "v1", 4)
	sigtest.AttachBundle(t, otherStored, e.ss.SignatureBundle(intruder, sigtest.GitHub, hash(other)))
	wantProblem(t, judge(t, c, other, &old), "this one is signed by https://github.com/evil/fork/.github/workflows/release.yml")

	// A first pin, and a bump from an unsigned digest, ask nothing of the
	// signer.
	if v := judge(t, c, other, nil); v.Problem != "" {
		t.Errorf("first pin: %+v", v)
	}
	if v := judge(t, c, same, &unsigned); v.Problem != "" {
		t.Errorf("from unsigned: %+v", v)
	}
	// A rule that names the image decides instead.
	c = e.checker(signature.Policy{Rules: []signature.Rule{keyless(`https://github\.com/evil/.*`)}})
	wantPass(t, judge(t, c, other, &old))
}

// A signature copied from another digest is invalid, whatever its format.
func TestCopiedSignature(t *testing.T) {
	e := newEnv(t, true)
	a, _ := e.image(t, "a", 1)
	b, bStored := e.image(t, "b", 2)
	sigtest.AttachCosign(t, bStored, ".sig", e.ss.Legacy(release, sigtest.GitHub, sigtest.SimpleSigning("docker.io/acme/app", hash(a))))
	sigtest.AttachBundle(t, bStored, e.ss.SignatureBundle(release, sigtest.GitHub, hash(a)))
	for _, p := range []signature.Policy{{}, {Rules: []signature.Rule{keyless(`.*`)}}} {
		v := judge(t, e.checker(p), b, nil)
		if v.Status != signature.StatusInvalid || len(v.Signers) != 0 || v.Problem == "" {
			t.Fatalf("verdict %+v", v)
		}
		notes := strings.Join(v.Notes, "\n")
		if !strings.Contains(notes, "a signature of "+a.DigestStr()[:19]+", not of this digest") || !strings.Contains(notes, "bundle (") {
			t.Errorf("notes:\n%s", notes)
		}
	}
}

// An index's own signature covers its platforms; an index signed platform
// by platform passes when every platform the run requires is signed.
func TestPerPlatform(t *testing.T) {
	e := newEnv(t, true)
	d, stored := e.image(t, "multi", 1, "linux/amd64", "linux/arm64")
	children, err := e.res.Index(context.Background(), d)
	if err != nil || len(children) != 2 {
		t.Fatalf("index: %v %v", children, err)
	}
	rule := signature.Policy{Rules: []signature.Rule{keyless(`https://github\.com/acme/app/.*`)}}
	wantProblem(t, judge(t, e.checker(rule), d, nil), "not signed by")

	var arm v1.Platform
	for _, m := range children {
		if m.Platform.Architecture == "amd64" {
			child := stored.Context().Digest(m.Digest.String())
			sigtest.AttachBundle(t, child, e.ss.SignatureBundle(release, sigtest.GitHub, m.Digest))
		} else {
			arm = *m.Platform
		}
	}
	v := judge(t, e.checker(rule), d, nil)
	wantProblem(t, v, "nor is every platform: linux/arm64: unsigned")
	amd := v1.Platform{OS: "linux", Architecture: "amd64"}
	v = judge(t, e.checker(rule), d, nil, amd)
	wantPass(t, v)
	if v.PerPlatform != 1 {
		t.Errorf("per platform %d, want 1", v.PerPlatform)
	}
	for _, m := range children {
		if m.Platform.Architecture != "amd64" {
			sigtest.AttachBundle(t, stored.Context().Digest(m.Digest.String()), e.ss.SignatureBundle(release, sigtest.GitHub, m.Digest))
		}
	}
	v = judge(t, e.checker(rule), d, nil)
	wantPass(t, v)
	if v.PerPlatform != 2 {
		t.Errorf("per platform %d, want 2 (%v)", v.PerPlatform, arm)
	}
}

// A rule may require an attestation, by the same signer, naming the source
// repository: in a bundle, or on cosign's .att tag.
func TestAttestation(t *testing.T) {
	const slsa = "https://slsa.dev/provenance/v1"
	e := newEnv(t, true)
	rule := keyless(`https://github\.com/acme/app/.*`)
	rule.Attestation = &signature.Attestation{PredicateType: slsa, SourceRepository: "https://github.com/acme/app"}
	p := signature.Policy{Rules: []signature.Rule{rule}}

	d, stored := e.image(t, "v1", 1)
	sigtest.AttachBundle(t, stored, e.ss.SignatureBundle(release, sigtest.GitHub, hash(d)))
	wantProblem(t, judge(t, e.checker(p), d, nil), "no "+slsa+" attestation by")
	sigtest.AttachBundle(t, stored, e.ss.Bundle(release, sigtest.GitHub, sigtest.Statement(hash(d), slsa, sigtest.Provenance("https://github.com/acme/app", "0123456789abcdef0123456789abcdef01234567"))))
	v := judge(t, e.checker(p), d, nil)
	wantPass(t, v)
	var att *signature.Signer
	for i := range v.Signers {
		if v.Signers[i].PredicateType == slsa {
			att = &v.Signers[i]
		}
	}
	if att == nil || att.SourceRepository != "https://github.com/acme/app" || att.SourceCommit != "0123456789abcdef0123456789abcdef01234567" {
		t.Fatalf("attestation %+v", att)
	}

	// Provenance naming another repository does not do.
	x, xStored := e.image(t, "v2", 2)
	sigtest.AttachBundle(t, xStored, e.ss.SignatureBundle(release, sigtest.GitHub, hash(x)))
	sigtest.AttachCosign(t, xStored, ".att", e.ss.DSSE(release, sigtest.GitHub, sigtest.Statement(hash(x), slsa, sigtest.Provenance("https://github.com/evil/fork", "ff"))))
	v = judge(t, e.checker(p), x, nil)
	wantProblem(t, v, "attestation by ~https://github\\.com/acme/app/.* (issuer "+sigtest.GitHub+") naming https://github.com/acme/app")
	found := false
	for _, s := range v.Signers {
		found = found || s.Format == signature.FormatAtt && s.SourceRepository == "https://github.com/evil/fork"
	}
	if !found {
		t.Errorf("the .att attestation was not read: %+v\n%s", v.Signers, strings.Join(v.Notes, "\n"))
	}
}

// What cannot be verified is "invalid" with its reason: never a crash,
// never a pass.
func TestBadSignatures(t *testing.T) {
	e := newEnv(t, true)
	rule := signature.Policy{Rules: []signature.Rule{keyless(`.*`)}}
	d, stored := e.image(t, "v1", 1)

	// A chain to a root the policy does not trust.
	stranger := sigtest.NewSigstore(t)
	sigtest.AttachBundle(t, stored, stranger.SignatureBundle(release, sigtest.GitHub, hash(d)))
	// A malformed bundle, and a layer past the bound.
	sigtest.AttachBundle(t, stored, []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","content":`))
	big := sigtest.SimpleSigning("docker.io/acme/app", hash(d))
	big = append(big, []byte(strings.Repeat(" ", signature.MaxArtifact))...)
	sigtest.AttachCosign(t, stored, ".sig", sigtest.Layer{MediaType: "application/vnd.dev.cosign.simplesigning.v1+json", Data: big})
	// An attestation envelope that is not JSON.
	sigtest.AttachCosign(t, stored, ".att", sigtest.Layer{MediaType: "application/vnd.dsse.envelope.v1+json", Data: []byte("not json")})

	v := judge(t, e.checker(rule), d, nil)
	if v.Status != signature.StatusInvalid || v.Problem == "" || len(v.Signers) != 0 {
		t.Fatalf("verdict %+v", v)
	}
	notes := strings.Join(v.Notes, "\n")
	for _, want := range []string{"failed to verify", "malformed bundle", "too large", "malformed DSSE envelope"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes do not say %q:\n%s", want, notes)
		}
	}

	// Thousands of referrers: a bounded number read, and said.
	many, mstored := e.image(t, "v2", 2)
	for range signature.MaxReferrers + 2 {
		sigtest.AttachBundle(t, mstored, stranger.SignatureBundle(release, sigtest.GitHub, hash(many)))
	}
	v = judge(t, e.checker(rule), many, nil)
	if !strings.Contains(strings.Join(v.Notes, "\n"), "more than 16 Sigstore bundles among the referrers") || v.Problem == "" {
		t.Errorf("verdict %+v", v)
	}
}

// Judging a signed digest costs a few GETs, and a digest judged twice in a
// run is read once.
func TestRequests(t *testing.T) {
	e := newEnv(t, true)
	d, stored := e.image(t, "v1", 1)
	sigtest.AttachBundle(t, stored, e.ss.SignatureBundle(release, sigtest.GitHub, hash(d)))
	c := e.checker(signature.Policy{Rules: []signature.Rule{keyless(`.*`)}})
	before := e.res.Stats()
	vs := c.Judge(context.Background(), []signature.Request{{Spellings: spellings, Digest: d}, {Spellings: spellings, Digest: d}})
	wantPass(t, vs[0])
	wantPass(t, vs[1])
	// GETs of the referrers, the bundle's manifest and blob; HEADs of the
	// .sig and .att tags, which are not there
	after := e.res.Stats()
	if gets, heads := after.SignatureGets-before.SignatureGets, after.SignatureHeads-before.SignatureHeads; gets != 3 || heads != 2 {
		t.Errorf("%d signature GETs and %d HEADs, want 3 and 2", gets, heads)
	}
}

// The policy's errors name the rule and what is wrong.
func TestPolicyValidate(t *testing.T) {
	off := false
	for _, tc := range []struct {
		p    signature.Policy
		want string
	}{
		{signature.Policy{Mode: "strict"}, `signature mode "strict"`},
		{signature.Policy{Rules: []signature.Rule{{Key: "k.pub"}}}, "rule 1: images"},
		{signature.Policy{Rules: []signature.Rule{{Images: []string{"a"}}}}, "rule 1: want keyless"},
		{signature.Policy{Rules: []signature.Rule{{Images: []string{"a"}, Key: "k", Keyless: &signature.Keyless{Issuer: "i", Subject: "s"}}}}, "want one of the two"},
		{signature.Policy{Rules: []signature.Rule{{Images: []string{"a"}, Keyless: &signature.Keyless{Subject: "s"}}}}, "want issuer"},
		{signature.Policy{Rules: []signature.Rule{{Images: []string{"a"}, Keyless: &signature.Keyless{Issuer: "i", SubjectRegExp: "("}}}}, "subjectRegExp"},
		{signature.Policy{Rules: []signature.Rule{{Images: []string{"a"}, Keyless: &signature.Keyless{Issuer: "i", Subject: "s"}, TLog: &off}}}, "tlog: false is for key"},
		{signature.Policy{Rules: []signature.Rule{{Images: []string{"a["}, Key: "k"}}}, "not a valid glob"},
	} {
		err := tc.p.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.p, err, tc.want)
		}
	}
	if err := (&signature.Policy{Mode: signature.ModeEnforce, Rules: []signature.Rule{keyless(".*")}}).Validate(); err != nil {
		t.Error(err)
	}
}

// Verdicts are plain data for the JSON report.
func TestVerdictJSON(t *testing.T) {
	b, err := json.Marshal(signature.Verdict{Status: signature.StatusUnsigned})
	if err != nil || string(b) != `{"status":"unsigned"}` {
		t.Errorf("%s %v", b, err)
	}
}

// On a bearer registry, judging asks no token of its own: the resolver's
// puller, and the token it holds for the repository, serve the lookups.
func TestRequestsBearer(t *testing.T) {
	reg := registrytest.StartWith(registrytest.Options{Auth: registrytest.Bearer})
	defer reg.Close()
	d, err := reg.Push("acme/app:v1", 1)
	if err != nil {
		t.Fatal(err)
	}
	reg.ResetCounts()
	res, err := resolve.New(resolve.Options{
		Mirrors:  []resolve.Mirror{{From: "docker.io", To: reg.Host + "/" + registrytest.Prefix + "/docker.io"}},
		Insecure: []string{reg.Host}, Keychain: authn.NewMultiKeychain(),
	})
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("acme/app:v1")
	if got := res.Resolve(context.Background(), []name.Tag{tag})[tag.Name()]; got.Digest != d {
		t.Fatalf("resolved %+v", got)
	}
	digest, _ := name.NewDigest("docker.io/acme/app@" + d)
	c := signature.New(signature.Policy{}, res, nil, func() (root.TrustedMaterial, error) { return nil, nil })
	if v := c.Judge(context.Background(), []signature.Request{{Spellings: spellings, Digest: digest}})[0]; v.Status != signature.StatusUnsigned {
		t.Fatalf("verdict %+v", v)
	}
	for scope, n := range reg.Counts().Tokens {
		if n != 1 {
			t.Errorf("%d tokens for %s, want 1", n, scope)
		}
	}
	if c := reg.Counts(); c.Pings != 1 {
		t.Errorf("%d pings, want 1", c.Pings)
	}
}

// A digest replaced whose signatures cannot be read leaves continuity
// unshown: a problem, never a pass.
func TestContinuityUnread(t *testing.T) {
	e := newEnv(t, true)
	old, _ := e.image(t, "v1", 1)
	d, _ := e.image(t, "v1", 2)
	broken := brokenReferrers{e.res}
	c := signature.New(signature.Policy{}, broken, nil, func() (root.TrustedMaterial, error) { return e.tm, nil })
	v := c.Judge(context.Background(), []signature.Request{{Spellings: spellings, Digest: d, Old: &old}})[0]
	wantProblem(t, v, "the signatures of the digest it replaces could not be read (referrers: the registry is down)")
}

// brokenReferrers answers every referrers request with an error.
type brokenReferrers struct{ *resolve.Resolver }

func (brokenReferrers) Referrers(context.Context, name.Digest) ([]v1.Descriptor, error) {
	return nil, errors.New("the registry is down")
}
