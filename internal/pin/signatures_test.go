package pin

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/pinbot/pinbot/internal/registrytest"
	"github.com/pinbot/pinbot/internal/report"
	"github.com/pinbot/pinbot/internal/resolve"
	"github.com/pinbot/pinbot/internal/signature"
	"github.com/pinbot/pinbot/internal/signature/sigtest"
	"github.com/sigstore/sigstore-go/pkg/root"
)

const (
	releaseID  = "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1"
	intruderID = "https://github.com/mallory/app/.github/workflows/release.yml@refs/heads/main"
)

// signedWorld is a registry holding, as docker.io's mirror:
//   - acme/app:v1, signed by acme's release workflow (a rule names it);
//   - acme/tool:v1, unsigned;
//   - acme/lib:v1, which moved from a digest acme signed (written in the
//     file) to one mallory signed;
//   - acme/db:v1, which moved from a signed digest to one signed by the
//     same workflow at another tag.
type signedWorld struct {
	reg      *registrytest.Registry
	res      *resolve.Resolver
	ss       *sigtest.Sigstore
	tm       root.TrustedMaterial
	libOld   string
	dbOld    string
	manifest string
}

func newSignedWorld(t *testing.T) *signedWorld {
	t.Helper()
	w := &signedWorld{reg: registrytest.StartWith(registrytest.Options{Referrers: true}), ss: sigtest.NewSigstore(t)}
	t.Cleanup(w.reg.Close)
	var err error
	if w.tm, err = root.NewTrustedRootFromJSON(w.ss.TrustedRoot()); err != nil {
		t.Fatal(err)
	}
	w.res, err = resolve.New(resolve.Options{
		Mirrors:  []resolve.Mirror{{From: "docker.io", To: w.reg.Host + "/" + registrytest.Prefix + "/docker.io"}},
		Insecure: []string{w.reg.Host}, Keychain: authn.NewMultiKeychain(),
	})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(ref string, gen int, who string) string {
		d, err := w.reg.Push(ref, gen)
		if err != nil {
			t.Fatal(err)
		}
		if who != "" {
			target, _ := w.reg.Target(ref)
			h, _ := v1.NewHash(d)
			sigtest.AttachBundle(t, target.Context().Digest(d), w.ss.SignatureBundle(who, sigtest.GitHub, h))
		}
		return d
	}
	sign("acme/app:v1", 1, releaseID)
	sign("acme/tool:v1", 1, "")
	w.libOld = sign("acme/lib:v1", 1, releaseID)
	sign("acme/lib:v1", 2, intruderID)
	w.dbOld = sign("acme/db:v1", 1, releaseID)
	sign("acme/db:v1", 2, strings.Replace(releaseID, "@refs/tags/v1", "@refs/tags/v2", 1))
	w.manifest = `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - {name: a, image: "acme/app:v1"}
  - {name: t, image: "acme/tool:v1"}
  - {name: l, image: "acme/lib:v1@` + w.libOld + `"}
  - {name: d, image: "acme/db:v1@` + w.dbOld + `"}
`
	return w
}

func (w *signedWorld) run(t *testing.T, p signature.Policy, opts Options, more ...string) (*Result, map[string]report.Entry) {
	t.Helper()
	files := map[string]string{"pod.yaml": w.manifest}
	for i := 0; i+1 < len(more); i += 2 {
		files[more[i]] = more[i+1]
	}
	co := tree(t, files)
	opts.Signatures = signature.New(p, w.res, nil, func() (root.TrustedMaterial, error) { return w.tm, nil })
	var written []Change
	opts.Sink = func(c Change) error {
		written = append(written, Change{Path: c.Path, New: append([]byte(nil), c.New...)})
		return nil
	}
	out, err := Run(context.Background(), co, w.res, opts)
	if err != nil {
		t.Fatal(err)
	}
	out.Changes = written
	byImage := map[string]report.Entry{}
	for _, e := range out.Report.Entries {
		byImage[e.Image] = e
	}
	return out, byImage
}

var appRule = signature.Rule{Images: []string{"acme/app"}, Keyless: &signature.Keyless{Issuer: sigtest.GitHub, SubjectRegExp: `https://github\.com/acme/app/.*`}}

// Enforce: a digest that breaks its signer's continuity is refused, and
// its file keeps the digest written; the rest are pinned, each with who
// signed it.
func TestSignaturesEnforce(t *testing.T) {
	w := newSignedWorld(t)
	out, e := w.run(t, signature.Policy{Mode: signature.ModeEnforce, Rules: []signature.Rule{appRule}}, Options{})

	if a := e["acme/app"]; a.Status != report.Pinned || a.Signature == nil || a.Signature.Problem != "" || !strings.Contains(a.Signature.Who(), "acme/app/.github/workflows/release.yml") || a.Signature.Rule == "" {
		t.Errorf("app: %+v %+v", a, a.Signature)
	}
	if tl := e["acme/tool"]; tl.Status != report.Pinned || tl.Signature == nil || tl.Signature.Status != "unsigned" {
		t.Errorf("tool: %+v", tl)
	}
	if d := e["acme/db"]; d.Status != report.Updated || d.Signature == nil || len(d.Signature.Continuity) != 1 || d.Signature.Problem != "" {
		t.Errorf("db: %+v %+v", d, d.Signature)
	}
	l := e["acme/lib"]
	if l.Status != report.Failed || l.Signature == nil || !l.Signature.Refused || !strings.Contains(l.Error, "refused by the signature policy: the digest it replaces was signed by https://github.com/acme/app/.github/workflows/release.yml") ||
		!strings.Contains(l.Error, "this one is signed by https://github.com/mallory/app") || l.Digest == "" || l.Digest == w.libOld {
		t.Errorf("lib: %+v %+v", l, l.Signature)
	}
	if !out.Report.Failed() {
		t.Error("a refused digest fails the run")
	}
	if len(out.Changes) != 1 {
		t.Fatalf("%d files written", len(out.Changes))
	}
	got := string(out.Changes[0].New)
	if !strings.Contains(got, `"acme/lib:v1@`+w.libOld+`"`) {
		t.Errorf("the refused reference was changed:\n%s", got)
	}
	if strings.Count(got, "@sha256:") != 4 {
		t.Errorf("want the other three pinned:\n%s", got)
	}
	body := out.Report.Body("test")
	for _, want := range []string{"### Signatures", "refused: the digest it replaces was signed by", "rule met:", "same signer as the digest replaced", "| Not pinned"} {
		if !strings.Contains(body, want) && !(want == "| Not pinned" && strings.Contains(body, "### Not pinned")) {
			t.Errorf("the body does not say %q:\n%s", want, body)
		}
	}
}

// A file of first pins alone is written as soon as its tags answer, but
// not under an enforced policy, which may refuse one of them.
func TestSignaturesEnforceWritesNothingEarly(t *testing.T) {
	w := newSignedWorld(t)
	toolRule := signature.Rule{Images: []string{"acme/tool"}, Keyless: &signature.Keyless{Issuer: sigtest.GitHub, Subject: releaseID}}
	solo := "apiVersion: v1\nkind: Pod\nmetadata: {name: s}\nspec:\n  containers:\n  - {name: t, image: \"acme/tool:v1\"}\n"
	out, e := w.run(t, signature.Policy{Mode: signature.ModeEnforce, Rules: []signature.Rule{toolRule}}, Options{}, "solo.yaml", solo)
	if tl := e["acme/tool"]; tl.Status != report.Failed || !tl.Signature.Refused {
		t.Fatalf("tool: %+v", tl)
	}
	for _, c := range out.Changes {
		if c.Path == "solo.yaml" {
			t.Errorf("solo.yaml was written:\n%s", c.New)
		}
	}
}

// Audit pins as today, and says who signed and what the policy would
// refuse.
func TestSignaturesAudit(t *testing.T) {
	w := newSignedWorld(t)
	out, e := w.run(t, signature.Policy{Mode: signature.ModeAudit, Rules: []signature.Rule{appRule}}, Options{})
	l := e["acme/lib"]
	if l.Status != report.Updated || l.Signature == nil || l.Signature.Refused || !strings.Contains(l.Signature.Problem, "the digest it replaces was signed by") {
		t.Fatalf("lib: %+v %+v", l, l.Signature)
	}
	if out.Report.Failed() {
		t.Error("audit fails nothing")
	}
	var text strings.Builder
	if err := report.WriteText(&text, out.Report, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "signature policy not met (audit): the digest it replaces") {
		t.Errorf("text:\n%s", text.String())
	}
}

// With no mode set, only the moved tags and the images a rule names are
// judged: first pins of other images ask nothing more of the registry.
func TestSignaturesDefaultScope(t *testing.T) {
	w := newSignedWorld(t)
	_, e := w.run(t, signature.Policy{Rules: []signature.Rule{appRule}}, Options{})
	if e["acme/tool"].Signature != nil {
		t.Errorf("tool judged: %+v", e["acme/tool"].Signature)
	}
	for _, img := range []string{"acme/app", "acme/lib", "acme/db"} {
		if e[img].Signature == nil {
			t.Errorf("%s not judged", img)
		}
	}
	if l := e["acme/lib"]; l.Status != report.Updated || l.Signature.Problem == "" {
		t.Errorf("lib: %+v", l)
	}

	w.manifest = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: t, image: \"acme/tool:v1\"}\n"
	before := w.res.Stats().SignatureGets
	_, e = w.run(t, signature.Policy{}, Options{})
	if e["acme/tool"].Signature != nil || w.res.Stats().SignatureGets != before {
		t.Errorf("a first pin no rule names was judged: %d GETs", w.res.Stats().SignatureGets-before)
	}
}

// Off judges nothing.
func TestSignaturesOff(t *testing.T) {
	w := newSignedWorld(t)
	before := w.res.Stats().SignatureGets
	_, e := w.run(t, signature.Policy{Mode: signature.ModeOff, Rules: []signature.Rule{appRule}}, Options{})
	if e["acme/lib"].Status != report.Updated || e["acme/lib"].Signature != nil || w.res.Stats().SignatureGets != before {
		t.Errorf("lib: %+v", e["acme/lib"])
	}
}

// --check with a mode set judges the digests already written too.
func TestSignaturesKept(t *testing.T) {
	w := newSignedWorld(t)
	d, err := name.NewTag("acme/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	got := w.res.Resolve(context.Background(), []name.Tag{d})[d.Name()]
	w.manifest = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: a, image: \"acme/app:v1@" + got.Digest + "\"}\n"
	strict := signature.Rule{Images: []string{"acme/app"}, Keyless: &signature.Keyless{Issuer: sigtest.GitHub, Subject: "https://github.com/someone/else"}}
	_, e := w.run(t, signature.Policy{Mode: signature.ModeEnforce, Rules: []signature.Rule{strict}}, Options{})
	if a := e["acme/app"]; a.Status != report.Current || a.Signature != nil {
		t.Errorf("without SignaturesKept, a current digest is not judged: %+v", a)
	}
	_, e = w.run(t, signature.Policy{Mode: signature.ModeEnforce, Rules: []signature.Rule{strict}}, Options{SignaturesKept: true})
	if a := e["acme/app"]; a.Status != report.Failed || a.Signature == nil || !strings.Contains(a.Error, "not signed by https://github.com/someone/else") {
		t.Errorf("kept: %+v", a)
	}
	// a digest pinned alone, with no tag to follow, is judged as well
	w.manifest = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - {name: a, image: \"acme/app@" + got.Digest + "\"}\n"
	_, e = w.run(t, signature.Policy{Mode: signature.ModeEnforce, Rules: []signature.Rule{strict}}, Options{SignaturesKept: true})
	if a := e["acme/app"]; a.Status != report.Failed || !strings.Contains(a.Error, "not signed by https://github.com/someone/else") {
		t.Errorf("digest alone: %+v", a)
	}
	_, e = w.run(t, signature.Policy{Mode: signature.ModeEnforce, Rules: []signature.Rule{appRule}}, Options{SignaturesKept: true})
	if a := e["acme/app"]; a.Status != report.Current || a.Signature == nil || a.Signature.Status != "signed" {
		t.Errorf("digest alone, signed as its rule wants: %+v %+v", a, a.Signature)
	}
}
