package resolve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// reg is an in-process registry behind a handler that records and can refuse
// requests.
type reg struct {
	srv  *httptest.Server
	host string

	mu       sync.Mutex
	requests []string // "METHOD path"
	accepts  []string // Accept headers of manifest requests
	// intercept, when set, may answer a request itself (returning true).
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

func newReg(t *testing.T, tls bool) *reg {
	t.Helper()
	rg := &reg{}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rg.mu.Lock()
		rg.requests = append(rg.requests, r.Method+" "+r.URL.Path)
		if strings.Contains(r.URL.Path, "/manifests/") {
			rg.accepts = append(rg.accepts, r.Header.Get("Accept"))
		}
		icpt := rg.intercept
		rg.mu.Unlock()
		if icpt != nil && icpt(w, r) {
			return
		}
		inner.ServeHTTP(w, r)
	})
	rg.srv = httptest.NewUnstartedServer(h)
	rg.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are part of the tests
	if tls {
		rg.srv.StartTLS()
	} else {
		rg.srv.Start()
	}
	t.Cleanup(rg.srv.Close)
	u, _ := url.Parse(rg.srv.URL)
	rg.host = u.Host
	return rg
}

func (rg *reg) count(method, sub string) int {
	rg.mu.Lock()
	defer rg.mu.Unlock()
	n := 0
	for _, r := range rg.requests {
		if (method == "" || strings.HasPrefix(r, method+" ")) && strings.Contains(r, sub) {
			n++
		}
	}
	return n
}

func (rg *reg) reset() {
	rg.mu.Lock()
	rg.requests, rg.accepts = nil, nil
	rg.mu.Unlock()
}

// pushImage pushes a random image to host/repo:tag and returns its digest.
func pushImage(t *testing.T, ref string) string {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

func pushIndex(t *testing.T, ref string) string {
	t.Helper()
	idx, err := random.Index(64, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(tag, idx); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	return d.String()
}

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

func newResolver(t *testing.T, o Options) *Resolver {
	t.Helper()
	if o.Keychain == nil {
		o.Keychain = authn.NewMultiKeychain() // anonymous: never the developer's own credentials
	}
	if o.Backoff == 0 {
		o.Backoff = time.Millisecond
	}
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestResolveOneHeadPerUniqueReference(t *testing.T) {
	rg := newReg(t, false)
	img := pushImage(t, rg.host+"/library/nginx:1.25")
	idx := pushIndex(t, rg.host+"/acme/app:v2")
	rg.reset()

	r := newResolver(t, Options{Insecure: []string{rg.host}})
	tags := []name.Tag{
		mustTag(t, rg.host+"/library/nginx:1.25"),
		mustTag(t, rg.host+"/library/nginx:1.25"),
		mustTag(t, rg.host+"/acme/app:v2"),
		mustTag(t, rg.host+"/acme/app:v2"),
		mustTag(t, rg.host+"/acme/app:v2"),
	}
	res := r.Resolve(context.Background(), tags)
	if len(res) != 2 {
		t.Fatalf("%d results for 2 unique references: %v", len(res), res)
	}
	if got := res[tags[0].Name()]; got.Err != nil || got.Digest != img {
		t.Errorf("nginx: %+v, want %s", got, img)
	}
	if got := res[tags[2].Name()]; got.Err != nil || got.Digest != idx {
		t.Errorf("an index must stay an index digest: %+v, want %s", got, idx)
	}
	if n := rg.count("HEAD", "/manifests/"); n != 2 {
		t.Errorf("%d manifest HEADs for 2 unique references", n)
	}
	if n := rg.count("GET", "/manifests/"); n != 0 {
		t.Errorf("%d manifest GETs: HEAD answered, none needed", n)
	}
	for _, a := range rg.accepts {
		for _, mt := range []string{
			"application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
			"application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json",
		} {
			if !strings.Contains(a, mt) {
				t.Errorf("Accept %q lacks %s", a, mt)
			}
		}
	}
}

func TestResolveFallsBackToGetWhenHeadIsRefused(t *testing.T) {
	rg := newReg(t, false)
	want := pushImage(t, rg.host+"/app:v1")
	rg.reset()
	rg.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/manifests/") {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return true
		}
		return false
	}
	r := newResolver(t, Options{Insecure: []string{rg.host}})
	tag := mustTag(t, rg.host+"/app:v1")
	got := r.Resolve(context.Background(), []name.Tag{tag})[tag.Name()]
	if got.Err != nil || got.Digest != want {
		t.Fatalf("got %+v, want %s", got, want)
	}
	if rg.count("GET", "/manifests/") != 1 {
		t.Errorf("want exactly one GET after the refused HEAD: %v", rg.requests)
	}
}

func TestResolveNotFoundIsNotRetriedAndSaysSo(t *testing.T) {
	rg := newReg(t, false)
	pushImage(t, rg.host+"/app:v1")
	rg.reset()
	r := newResolver(t, Options{Insecure: []string{rg.host}})
	tag := mustTag(t, rg.host+"/app:nope")
	got := r.Resolve(context.Background(), []name.Tag{tag})[tag.Name()]
	if got.Err == nil || !strings.Contains(got.Err.Error(), `no tag "nope"`) {
		t.Fatalf("err = %v, want a not-found message naming the tag", got.Err)
	}
	if n := rg.count("", "/manifests/"); n != 1 {
		t.Errorf("%d manifest requests for a missing tag, want 1", n)
	}
}

func TestResolveRetriesFaults(t *testing.T) {
	for _, fault := range []string{"503", "429", "drop"} {
		t.Run(fault, func(t *testing.T) {
			rg := newReg(t, false)
			want := pushImage(t, rg.host+"/app:v1")
			rg.reset()
			var mu sync.Mutex
			failures := 0
			rg.intercept = func(w http.ResponseWriter, r *http.Request) bool {
				mu.Lock()
				defer mu.Unlock()
				if !strings.Contains(r.URL.Path, "/manifests/") || failures >= 2 {
					return false
				}
				failures++
				switch fault {
				case "drop":
					c, _, _ := w.(http.Hijacker).Hijack()
					c.Close()
				case "429":
					w.Header().Set("Retry-After", "0")
					w.WriteHeader(http.StatusTooManyRequests)
				default:
					w.WriteHeader(http.StatusServiceUnavailable)
				}
				return true
			}
			r := newResolver(t, Options{Insecure: []string{rg.host}})
			tag := mustTag(t, rg.host+"/app:v1")
			got := r.Resolve(context.Background(), []name.Tag{tag})[tag.Name()]
			if got.Err != nil || got.Digest != want {
				t.Fatalf("got %+v, want %s after two faults", got, want)
			}
			if n := rg.count("HEAD", "/manifests/"); n != 3 {
				t.Errorf("%d HEADs, want 3 (two faults, one answer)", n)
			}
		})
	}
}

func TestResolveGivesUpAfterBoundedRetries(t *testing.T) {
	rg := newReg(t, false)
	pushImage(t, rg.host+"/app:v1")
	rg.reset()
	rg.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/manifests/") {
			w.WriteHeader(http.StatusBadGateway)
			return true
		}
		return false
	}
	r := newResolver(t, Options{Insecure: []string{rg.host}, Attempts: 3})
	tag := mustTag(t, rg.host+"/app:v1")
	got := r.Resolve(context.Background(), []name.Tag{tag})[tag.Name()]
	if got.Err == nil || !strings.Contains(got.Err.Error(), "HTTP 502") {
		t.Fatalf("err = %v, want the registry's 502 named", got.Err)
	}
	if n := rg.count("", "/manifests/"); n != 3 {
		t.Errorf("%d manifest requests, want 3 attempts", n)
	}
}

func TestResolveTimesOutEachRequest(t *testing.T) {
	rg := newReg(t, false)
	pushImage(t, rg.host+"/app:v1")
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	rg.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/manifests/") {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return true
		}
		return false
	}
	r := newResolver(t, Options{Insecure: []string{rg.host}, Timeout: 100 * time.Millisecond, Attempts: 2})
	tag := mustTag(t, rg.host+"/app:v1")
	got := r.Resolve(context.Background(), []name.Tag{tag})[tag.Name()]
	if got.Err == nil || !strings.Contains(got.Err.Error(), "no answer within --timeout 100ms, retries included") {
		t.Fatalf("err = %v, want a timeout", got.Err)
	}
}

func TestPlainHTTPNeedsPermission(t *testing.T) {
	rg := newReg(t, false)
	pushImage(t, rg.host+"/app:v1")
	r := newResolver(t, Options{})
	tag := mustTag(t, rg.host+"/app:v1")
	got := r.Resolve(context.Background(), []name.Tag{tag})[tag.Name()]
	if !errors.Is(got.Err, ErrPlainHTTP) || !strings.Contains(got.Err.Error(), "--insecure-registry "+rg.host) {
		t.Fatalf("err = %v, want plain HTTP refused with the flag to allow it", got.Err)
	}
}

func TestHTTPSWithTrustedCA(t *testing.T) {
	rg := newReg(t, true)
	tr := rg.srv.Client().Transport.(*http.Transport).Clone()
	img, _ := random.Image(64, 1)
	tag := mustTag(t, rg.host+"/app:v1")
	if err := remote.Write(tag, img, remote.WithTransport(tr)); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	r := newResolver(t, Options{Transport: tr})
	got := r.Resolve(context.Background(), []name.Tag{tag})[tag.Name()]
	if got.Err != nil || got.Digest != want.String() {
		t.Fatalf("got %+v, want %s", got, want)
	}
	// Without the CA the same registry is refused.
	r = newResolver(t, Options{Attempts: 1})
	if got := r.Resolve(context.Background(), []name.Tag{tag})[tag.Name()]; got.Err == nil {
		t.Fatal("a registry with an unknown CA was trusted")
	}
}

func TestMirrors(t *testing.T) {
	rg := newReg(t, false)
	want := pushImage(t, rg.host+"/m/docker.io/library/nginx:1.25")
	wantQ := pushImage(t, rg.host+"/quay-argo/argocd:v3")
	r := newResolver(t, Options{
		Insecure: []string{rg.host},
		Mirrors: []Mirror{
			{From: "docker.io", To: rg.host + "/m/docker.io"},
			{From: "quay.io", To: rg.host + "/unused"},
			{From: "quay.io/argoproj", To: rg.host + "/quay-argo"},
		},
	})
	for ref, d := range map[string]string{"nginx:1.25": want, "docker.io/library/nginx:1.25": want, "quay.io/argoproj/argocd:v3": wantQ} {
		tag := mustTag(t, ref)
		got := r.Resolve(context.Background(), []name.Tag{tag})[tag.Name()]
		if got.Err != nil || got.Digest != d {
			t.Errorf("%s: got %+v, want %s", ref, got, d)
		}
		if !strings.HasPrefix(got.Via, rg.host+"/") {
			t.Errorf("%s: Via = %q, want the mirror", ref, got.Via)
		}
	}
}

func TestParseMirror(t *testing.T) {
	m, err := ParseMirror("docker.io=harbor.example.com/dockerhub-proxy/")
	if err != nil || m.From != "docker.io" || m.To != "harbor.example.com/dockerhub-proxy" {
		t.Errorf("ParseMirror = %+v, %v", m, err)
	}
	for _, bad := range []string{"docker.io", "=x", "docker.io="} {
		if _, err := ParseMirror(bad); err == nil {
			t.Errorf("ParseMirror(%q) accepted", bad)
		}
	}
}

// basicAuth wraps the registry with HTTP basic auth, as a private registry does.
func basicAuth(rg *reg, user, pass string) {
	rg.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		u, p, ok := r.BasicAuth()
		if ok && u == user && p == pass {
			return false
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
		return true
	}
}

type staticKeychain struct {
	host string
	cfg  authn.AuthConfig
}

func (k staticKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() != k.host {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(k.cfg), nil
}

func TestCredentialsAreUsedAndNeverLogged(t *testing.T) {
	rg := newReg(t, false)
	want := pushImage(t, rg.host+"/private/app:v1")
	const secret = "s3cr3t-passw0rd"
	basicAuth(rg, "robot", secret)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tag := mustTag(t, rg.host+"/private/app:v1")

	r := newResolver(t, Options{Insecure: []string{rg.host}, Logger: logger,
		Keychain: staticKeychain{rg.host, authn.AuthConfig{Username: "robot", Password: secret}}})
	if got := r.Resolve(context.Background(), []name.Tag{tag})[tag.Name()]; got.Err != nil || got.Digest != want {
		t.Fatalf("with credentials: %+v, want %s", got, want)
	}
	r = newResolver(t, Options{Insecure: []string{rg.host}, Logger: logger,
		Keychain: staticKeychain{rg.host, authn.AuthConfig{Username: "robot", Password: secret + "-wrong"}}})
	got := r.Resolve(context.Background(), []name.Tag{tag})[tag.Name()]
	if got.Err == nil || !strings.Contains(got.Err.Error(), "unauthorized") {
		t.Fatalf("with wrong credentials: %v, want unauthorized", got.Err)
	}
	if strings.Contains(logs.String(), secret) || strings.Contains(got.Err.Error(), secret) {
		t.Errorf("a password reached the logs or an error:\n%s\n%v", logs.String(), got.Err)
	}
	if !strings.Contains(logs.String(), "resolved") {
		t.Errorf("debug logs say nothing of the resolution:\n%s", logs.String())
	}
}

func TestGitHubTokenOnlyForGHCR(t *testing.T) {
	k := GitHubKeychain("ghp_token")
	for host, wantToken := range map[string]bool{"ghcr.io": true, "docker.io": false, "ghcr.io.evil.example": false} {
		reg, _ := name.NewRegistry(host)
		a, err := k.Resolve(reg)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := a.Authorization()
		if got := cfg.Password == "ghp_token"; got != wantToken {
			t.Errorf("%s: token lent = %v, want %v", host, got, wantToken)
		}
	}
	if a, _ := GitHubKeychain("").Resolve(name.MustParseReference("ghcr.io/x/y").Context()); a != authn.Anonymous {
		t.Error("an empty token should mean anonymous")
	}
}

func TestResolveIsConcurrentAndBounded(t *testing.T) {
	rg := newReg(t, false)
	var tags []name.Tag
	want := map[string]string{}
	for _, repo := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		ref := rg.host + "/" + repo + ":v1"
		want[mustTag(t, ref).Name()] = pushImage(t, ref)
		tags = append(tags, mustTag(t, ref))
	}
	var mu sync.Mutex
	inFlight, peak := 0, 0
	rg.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.Contains(r.URL.Path, "/manifests/") {
			return false
		}
		mu.Lock()
		inFlight++
		if inFlight > peak {
			peak = inFlight
		}
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		return false
	}
	r := newResolver(t, Options{Insecure: []string{rg.host}, Jobs: 3})
	res := r.Resolve(context.Background(), tags)
	for k, d := range want {
		if res[k].Digest != d {
			t.Errorf("%s: %+v, want %s", k, res[k], d)
		}
	}
	if peak > 3 {
		t.Errorf("%d requests in flight with Jobs 3", peak)
	}
	if peak < 2 {
		t.Errorf("peak concurrency %d: references were resolved one by one", peak)
	}
}

func TestRetryTransportHonoursRetryAfterWithinBounds(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		if calls == 2 {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	var slept []time.Duration
	rt := &retryTransport{next: http.DefaultTransport, attempts: 4, backoff: time.Second, maxWait: 60 * time.Second,
		timeout: 5 * time.Second, sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()
	if len(slept) != 2 || slept[0] != 5*time.Second || slept[1] != 60*time.Second {
		t.Errorf("pauses %v, want [5s 1m0s] (Retry-After, capped)", slept)
	}
}
