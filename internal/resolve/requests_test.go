package resolve

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/pinbot/pinbot/internal/registrytest"
)

// basicKeychain lends one Basic credential to every registry.
type basicKeychain struct{ user, password string }

func (k basicKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return &authn.Basic{Username: k.user, Password: k.password}, nil
}

// TestRequestsPerRegistryAndRepository: resolving 60 references in 20
// repositories of one registry costs one ping in all, one token per
// repository (bearer registries), one manifest HEAD per reference and no
// manifest GET; checking the 60 digests afterwards adds one HEAD each and
// nothing else.
func TestRequestsPerRegistryAndRepository(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts registrytest.Options
		keys authn.Keychain
	}{
		{"anonymous", registrytest.Options{}, authn.NewMultiKeychain()},
		{"basic", registrytest.Options{Auth: registrytest.Basic, User: "u", Password: "p"}, basicKeychain{"u", "p"}},
		{"bearer", registrytest.Options{Auth: registrytest.Bearer}, authn.NewMultiKeychain()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := registrytest.StartWith(tc.opts)
			defer reg.Close()
			var tags []name.Tag
			for repo := 0; repo < 20; repo++ {
				for tag := 0; tag < 3; tag++ {
					ref := fmt.Sprintf("acme/app%d:v%d", repo, tag)
					if _, err := reg.Push(ref, 0); err != nil {
						t.Fatal(err)
					}
					tags = append(tags, mustTag(t, ref))
				}
			}
			mirrors := []Mirror{{From: "docker.io", To: reg.Host + "/" + registrytest.Prefix + "/docker.io"}}
			r := newResolver(t, Options{Mirrors: mirrors, Insecure: []string{reg.Host}, Keychain: tc.keys})
			reg.ResetCounts()
			res := r.Resolve(context.Background(), tags)
			var digests []name.Digest
			for _, tg := range tags {
				got := res[tg.Name()]
				if got.Err != nil || got.Digest == "" {
					t.Fatalf("%s: %+v", tg, got)
				}
				digests = append(digests, tg.Context().Digest(got.Digest))
			}
			c := reg.Counts()
			if c.Pings != 1 {
				t.Errorf("%d pings, want 1 for the registry", c.Pings)
			}
			if c.ManifestHeads != 60 || c.ManifestGets != 0 {
				t.Errorf("%d manifest HEADs and %d GETs, want 60 and 0", c.ManifestHeads, c.ManifestGets)
			}
			if tc.opts.Auth == registrytest.Bearer {
				if len(c.Tokens) != 20 {
					t.Errorf("tokens for %d scopes, want 20: %v", len(c.Tokens), c.Tokens)
				}
				for scope, n := range c.Tokens {
					if n != 1 {
						t.Errorf("%d tokens for %s, want 1", n, scope)
					}
				}
			} else if len(c.Tokens) != 0 {
				t.Errorf("tokens issued: %v", c.Tokens)
			}
			if st := r.Stats(); st.TagHeads != 60 || st.ManifestGets != 0 {
				t.Errorf("stats %+v", st)
			}

			reg.ResetCounts()
			for key, err := range r.Exists(context.Background(), digests) {
				if err != nil {
					t.Errorf("%s: %v", key, err)
				}
			}
			c = reg.Counts()
			if c.Pings != 0 || c.ManifestHeads != 60 || c.ManifestGets != 0 || len(c.Tokens) != 0 {
				t.Errorf("checking 60 digests: %+v, want 60 HEADs and nothing else", c)
			}
		})
	}
}

// TestInFlightPerRegistry: 64 references to one registry are resolved 16
// at a time (the per-registry bound), and --jobs caps the total below it.
func TestInFlightPerRegistry(t *testing.T) {
	for _, tc := range []struct{ jobs, want int }{{0, 16}, {4, 4}} {
		reg := registrytest.Start()
		var tags []name.Tag
		for i := 0; i < 64; i++ {
			ref := fmt.Sprintf("acme/app%d:v1", i)
			if _, err := reg.Push(ref, 0); err != nil {
				t.Fatal(err)
			}
			tags = append(tags, mustTag(t, ref))
		}
		var mu sync.Mutex
		now, peak := 0, 0
		reg.OnManifest(func(*http.Request) {
			mu.Lock()
			now++
			peak = max(peak, now)
			mu.Unlock()
			time.Sleep(30 * time.Millisecond)
			mu.Lock()
			now--
			mu.Unlock()
		})
		mirrors := []Mirror{{From: "docker.io", To: reg.Host + "/" + registrytest.Prefix + "/docker.io"}}
		r := newResolver(t, Options{Mirrors: mirrors, Insecure: []string{reg.Host}, Jobs: tc.jobs})
		for key, res := range r.Resolve(context.Background(), tags) {
			if res.Err != nil {
				t.Fatalf("%s: %v", key, res.Err)
			}
		}
		if peak != tc.want {
			t.Errorf("jobs %d: %d manifest requests in flight at most, want %d", tc.jobs, peak, tc.want)
		}
		reg.Close()
	}
}

// TestVerboseLogsEachRequestAsItStarts: with debug logging, every request
// that goes out (the ping and the token request too) is logged before it is
// answered, and no credential is.
func TestVerboseLogsEachRequestAsItStarts(t *testing.T) {
	reg := registrytest.StartWith(registrytest.Options{Auth: registrytest.Bearer})
	defer reg.Close()
	if _, err := reg.Push("acme/app:v1", 0); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logs strings.Builder
	started := make(chan struct{})
	release := make(chan struct{})
	reg.OnManifest(func(*http.Request) {
		close(started)
		<-release // the registry hangs on the manifest
	})
	h := slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug})
	mirrors := []Mirror{{From: "docker.io", To: reg.Host + "/" + registrytest.Prefix + "/docker.io"}}
	r := newResolver(t, Options{Mirrors: mirrors, Insecure: []string{reg.Host}, Logger: slog.New(h)})
	done := make(chan struct{})
	go func() {
		r.Resolve(context.Background(), []name.Tag{mustTag(t, "acme/app:v1")})
		close(done)
	}()
	<-started
	mu.Lock()
	during := logs.String()
	mu.Unlock()
	close(release)
	<-done
	for _, want := range []string{"method=GET url=http://" + reg.Host + "/v2/", "/token?scope=repository", "method=HEAD url=http://" + reg.Host + "/v2/m/docker.io/acme/app/manifests/v1"} {
		if !strings.Contains(during, want) {
			t.Errorf("while the registry hangs, the log lacks %q:\n%s", want, during)
		}
	}
	if strings.Contains(logs.String(), "Bearer") || strings.Contains(logs.String(), "token repository") {
		t.Errorf("a credential was logged:\n%s", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestDefaultTransportSpeaksHTTP2: pinbot's own transport (trusting the
// test's CA, nothing else changed) talks HTTP/2 to a registry that offers
// it, and keeps a connection for every request in flight.
func TestDefaultTransportSpeaksHTTP2(t *testing.T) {
	var mu sync.Mutex
	protos := map[string]int{}
	inner := registrytest.Start()
	defer inner.Close()
	if _, err := inner.Push("acme/app:v1", 0); err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		protos[req.Proto]++
		mu.Unlock()
		u := *req.URL
		u.Scheme, u.Host = "http", inner.Host
		out, _ := http.NewRequestWithContext(req.Context(), req.Method, u.String(), nil)
		out.Header = req.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	proxy.EnableHTTP2 = true
	proxy.StartTLS()
	defer proxy.Close()
	host := strings.TrimPrefix(proxy.URL, "https://")

	r := newResolver(t, Options{Mirrors: []Mirror{{From: "docker.io", To: host + "/" + registrytest.Prefix + "/docker.io"}}})
	tr := r.opts.Transport.(*http.Transport)
	if !tr.ForceAttemptHTTP2 || tr.MaxIdleConnsPerHost < r.opts.PerRegistry {
		t.Fatalf("transport: HTTP/2 %v, %d idle connections per host", tr.ForceAttemptHTTP2, tr.MaxIdleConnsPerHost)
	}
	pool := x509.NewCertPool()
	pool.AddCert(proxy.Certificate())
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	res := r.Resolve(context.Background(), []name.Tag{mustTag(t, "acme/app:v1")})
	if got := res["index.docker.io/acme/app:v1"]; got.Err != nil || got.Digest == "" {
		t.Fatalf("resolve: %+v", got)
	}
	if protos["HTTP/2.0"] == 0 || protos["HTTP/1.1"] != 0 {
		t.Errorf("protocols spoken: %v, want HTTP/2.0 only", protos)
	}
}
