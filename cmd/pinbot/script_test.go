package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/pinbot/pinbot/internal/actions/actionstest"
	"github.com/pinbot/pinbot/internal/registrytest"
	"github.com/pinbot/pinbot/internal/render"
	"github.com/pinbot/pinbot/internal/signature/sigtest"
	"github.com/rogpeppe/go-internal/testscript"
)

var updateScripts = flag.Bool("update", false, "rewrite the files testdata/script/*.txtar compare against")

func TestMain(m *testing.M) {
	render.RunWorkerIfAsked() // the chart sandbox's workers are this test binary
	testscript.Main(m, map[string]func(){
		"pinbot": func() { os.Exit(mainCode()) },
	})
}

// mirroredHosts are the registries the scripts' configuration sends to the
// in-process registry.
var mirroredHosts = []string{"docker.io", "ghcr.io", "quay.io", "gcr.io", "registry.k8s.io", "public.ecr.aws", "mcr.microsoft.com"}

type scriptRegistry struct {
	reg         *registrytest.Registry
	generations map[string]int
	sigstore    *sigtest.Sigstore       // a Fulcio, Rekor and TSA of the script's own
	keys        map[string]*sigtest.Key // publishers' keys, by the file their public half is in
}

// TestScript runs the end-to-end scripts in testdata/script: pinbot as a
// separate process against an in-process registry. Each script gets its own
// registry ($REGISTRY) and a configuration that mirrors the usual registries
// to it ($REGCONFIG), and these commands:
//
//	push [-index | -platforms P,P] REF...
//	                       store REF's first image (digests are fixed by the name), an
//	                       index of linux/amd64 and linux/arm64, or of the platforms named
//	move REF...            point REF's tag at a new image
//	delete REF[@DIGEST]... delete the manifest (the tag's, or the digest named)
//	untag REF...           delete the tag itself
//	delete-platform REF OS/ARCH
//	                       delete one platform's manifest of the index REF names
//	content-type TYPE|off  answer manifest requests with that Content-Type
//	lie-digest on|off      answer manifest HEADs with a Docker-Content-Digest that lies
//	unknown-to-get DIGEST...
//	                       answer GETs of the manifest with MANIFEST_UNKNOWN (HEADs find it)
//
// (both set $D_<ref> to the digest pushed: $D_nginx_1_25 for nginx:1.25)
//
//	sign [-legacy | -key FILE [-nolog]] REF IDENTITY
//	                       sign the digest REF was last pushed at: keyless as IDENTITY
//	                       (GitHub Actions' issuer) in a Sigstore bundle found by its
//	                       referrers tag, or cosign's older .sig layer; or with the key
//	                       whose public half is (written to) FILE, logged unless -nolog
//	sigstore-root FILE     write the script's Sigstore's trusted_root.json to FILE
//
//	status CODE CMD ARGS   run CMD and check its exit status
//	manifest-requests reset | HEADS GETS
//	                       zero, or check, the manifest requests served
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       *updateScripts,
		RequireExplicitExec: true,
		Setup:               setupRegistry,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"push":       scriptPush,
			"push-build": scriptPushBuild,
			"move":       scriptMove,
			"status":     scriptStatus,
			"delete": func(ts *testscript.TestScript, neg bool, args []string) {
				sr := ts.Value("reg").(*scriptRegistry)
				for _, ref := range args {
					ts.Check(sr.reg.Delete(ref))
				}
			},
			"untag": func(ts *testscript.TestScript, neg bool, args []string) {
				for _, ref := range args {
					ts.Check(ts.Value("reg").(*scriptRegistry).reg.Untag(ref))
				}
			},
			"delete-platform": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: delete-platform REF OS/ARCH")
				}
				ts.Check(ts.Value("reg").(*scriptRegistry).reg.DeletePlatform(args[0], args[1]))
			},
			"content-type": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: content-type TYPE|off")
				}
				ct := args[0]
				if ct == "off" {
					ct = ""
				}
				ts.Value("reg").(*scriptRegistry).reg.ContentType(ct)
			},
			"sign":              scriptSign,
			"sigstore-root":     scriptSigstoreRoot,
			"lie-digest":        scriptLieDigest,
			"unknown-to-get":    scriptUnknownToGet,
			"manifest-requests": scriptManifestRequests,
		},
	})
}

// scriptUnknownToGet is "unknown-to-get DIGEST...": a GET of each
// manifest answers MANIFEST_UNKNOWN, a HEAD still finds it.
func scriptUnknownToGet(ts *testscript.TestScript, neg bool, args []string) {
	for _, d := range args {
		ts.Value("reg").(*scriptRegistry).reg.UnknownToGet(d)
	}
}

// scriptLieDigest is "lie-digest on|off".
func scriptLieDigest(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || (args[0] != "on" && args[0] != "off") {
		ts.Fatalf("usage: lie-digest on|off")
	}
	ts.Value("reg").(*scriptRegistry).reg.LieDigest(args[0] == "on")
}

// scriptStatus is "status CODE CMD ARGS...": run CMD and check its exit status.
func scriptStatus(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: status CODE COMMAND [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}

var nonWord = regexp.MustCompile(`[^A-Za-z0-9]+`)

// digestVar names the variable holding the digest pushed for ref.
func digestVar(ref string) string { return "D_" + nonWord.ReplaceAllString(ref, "_") }

// setupRegistry gives a script its own registry ($REGISTRY) and a
// configuration that mirrors the usual registries to it ($REGCONFIG).
func setupRegistry(env *testscript.Env) error {
	reg := registrytest.Start()
	env.Defer(reg.Close)
	env.Values["reg"] = &scriptRegistry{reg: reg, generations: map[string]int{}, sigstore: sigtest.NewSigstore(env.T()), keys: map[string]*sigtest.Key{}}
	dir, err := os.MkdirTemp("", "pinbot-script-config")
	if err != nil {
		return err
	}
	env.Defer(func() { os.RemoveAll(dir) })
	var b strings.Builder
	fmt.Fprintf(&b, "insecureRegistries: [%q]\nmirrors:\n", reg.Host)
	for _, h := range mirroredHosts {
		fmt.Fprintf(&b, "  %s: %s/%s/%s\n", h, reg.Host, registrytest.Prefix, h)
	}
	cfg := filepath.Join(dir, "registry.yaml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		return err
	}
	env.Setenv("REGISTRY", reg.Host)
	env.Setenv("REGCONFIG", cfg)
	// Never the developer's own credentials or tokens.
	env.Setenv("HOME", env.WorkDir)
	env.Setenv("DOCKER_CONFIG", filepath.Join(env.WorkDir, ".docker"))
	env.Setenv("GITHUB_TOKEN", "")
	// GitHub, for the actions workflows name: served from git repositories
	// made here, each action's tag at a commit of its own ($SHA_<repo>_<tag>)
	gh := actionstest.Start(env.T())
	env.Defer(gh.Close)
	for _, a := range scriptActions {
		repo, tag, _ := strings.Cut(a, "@")
		r := gh.Repo(repo)
		c := r.Commit(tag)
		r.Tag(tag, c)
		env.Setenv("SHA_"+nonWord.ReplaceAllString(repo+"_"+tag, "_"), c)
	}
	env.Setenv("GITHUB_API_URL", gh.URL)
	return nil
}

// scriptActions are the actions the scripts' GitHub serves.
var scriptActions = []string{"actions/checkout@v4", "docker/build-push-action@v6", "actions/setup-go@v5"}

// scriptPush is "push [-index | -platforms P,P] REF...".
func scriptPush(ts *testscript.TestScript, neg bool, args []string) {
	sr := ts.Value("reg").(*scriptRegistry)
	platforms, refs := pushArgs(args)
	for _, ref := range refs {
		digest, err := sr.reg.PushPlatforms(ref, 0, platforms...)
		ts.Check(err)
		sr.generations[ref] = 0
		ts.Setenv(digestVar(ref), digest)
	}
}

// scriptSigstoreRoot is "sigstore-root FILE".
func scriptSigstoreRoot(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: sigstore-root FILE")
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), ts.Value("reg").(*scriptRegistry).sigstore.TrustedRoot(), 0o644))
}

// scriptSign is "sign [-legacy | -key FILE [-nolog]] REF IDENTITY".
func scriptSign(ts *testscript.TestScript, neg bool, args []string) {
	sr := ts.Value("reg").(*scriptRegistry)
	legacy, keyFile, logged := false, "", true
	for len(args) > 2 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-legacy":
			legacy, args = true, args[1:]
		case "-key":
			keyFile, args = args[1], args[2:]
		case "-nolog":
			logged, args = false, args[1:]
		default:
			ts.Fatalf("sign: unknown %s", args[0])
		}
	}
	if len(args) != 2 {
		ts.Fatalf("usage: sign [-legacy | -key FILE [-nolog]] REF IDENTITY")
	}
	ref, identity := args[0], args[1]
	digest := ts.Getenv(digestVar(ref))
	if digest == "" {
		ts.Fatalf("sign: %s was not pushed", ref)
	}
	target, err := sr.reg.Target(ref)
	ts.Check(err)
	d := target.Context().Digest(digest)
	h, err := v1.NewHash(digest)
	ts.Check(err)
	payload := sigtest.SimpleSigning(target.Context().Name(), h)
	switch {
	case keyFile != "":
		k := sr.keys[keyFile]
		if k == nil {
			k = sigtest.NewKey(scriptT{ts})
			sr.keys[keyFile] = k
			k.Write(ts.MkAbs("."), keyFile)
		}
		var log *sigtest.Sigstore
		if logged {
			log = sr.sigstore
		}
		sigtest.AttachCosign(scriptT{ts}, d, ".sig", k.Legacy(payload, log))
	case legacy:
		sigtest.AttachCosign(scriptT{ts}, d, ".sig", sr.sigstore.Legacy(identity, sigtest.GitHub, payload))
	default:
		sigtest.AttachBundle(scriptT{ts}, d, sr.sigstore.SignatureBundle(identity, sigtest.GitHub, h))
	}
}

// pushArgs reads "[-index | -platforms P,P] REF...": the platforms of the
// index to push (none: a single image), and the references.
func pushArgs(args []string) (platforms, refs []string) {
	switch {
	case len(args) > 0 && args[0] == "-index":
		return []string{"linux/amd64", "linux/arm64"}, args[1:]
	case len(args) > 1 && args[0] == "-platforms":
		return strings.Split(args[1], ","), args[2:]
	}
	return nil, args
}

// scriptPushBuild is "push-build REF GEN [-platforms P,P] [-label K=V]...
// [-created RFC3339] [-size BYTES]": generation GEN of REF, built so.
func scriptPushBuild(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: push-build REF GEN [-platforms P,P] [-label K=V]... [-created T] [-size N]")
	}
	sr := ts.Value("reg").(*scriptRegistry)
	ref := args[0]
	gen, err := strconv.Atoi(args[1])
	ts.Check(err)
	b := registrytest.Build{Labels: map[string]string{}}
	for rest := args[2:]; len(rest) >= 2; rest = rest[2:] {
		switch rest[0] {
		case "-platforms":
			b.Platforms = strings.Split(rest[1], ",")
		case "-label":
			k, v, _ := strings.Cut(rest[1], "=")
			b.Labels[k] = v
		case "-created":
			b.Created, err = time.Parse(time.RFC3339, rest[1])
			ts.Check(err)
		case "-size":
			b.Size, err = strconv.Atoi(rest[1])
			ts.Check(err)
		default:
			ts.Fatalf("push-build: unknown %s", rest[0])
		}
	}
	digest, err := sr.reg.PushBuild(ref, gen, b)
	ts.Check(err)
	sr.generations[ref] = gen
	ts.Setenv(digestVar(ref), digest)
}

// scriptMove is "move REF...".
func scriptMove(ts *testscript.TestScript, neg bool, args []string) {
	sr := ts.Value("reg").(*scriptRegistry)
	for _, ref := range args {
		sr.generations[ref]++
		digest, err := sr.reg.Push(ref, sr.generations[ref])
		ts.Check(err)
		ts.Setenv(digestVar(ref), digest)
	}
}

// scriptManifestRequests is "manifest-requests reset | HEADS GETS".
func scriptManifestRequests(ts *testscript.TestScript, neg bool, args []string) {
	sr := ts.Value("reg").(*scriptRegistry)
	if len(args) == 1 && args[0] == "reset" {
		sr.reg.ResetCounts()
		return
	}
	heads, gets := sr.reg.ManifestRequests()
	want := args
	if len(want) != 2 {
		ts.Fatalf("usage: manifest-requests HEADS GETS")
	}
	if strconv.FormatInt(heads, 10) != want[0] || strconv.FormatInt(gets, 10) != want[1] {
		ts.Fatalf("manifest requests: %d HEAD, %d GET; want %s HEAD, %s GET", heads, gets, want[0], want[1])
	}
}

// scriptT is a script as sigtest takes a test.
type scriptT struct{ ts *testscript.TestScript }

func (s scriptT) Fatal(args ...any) { s.ts.Fatalf("%s", fmt.Sprint(args...)) }
