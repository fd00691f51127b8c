// Package registrytest runs an in-process OCI registry (go-containerregistry's
// pkg/registry) on a loopback port and fills it with small images whose
// digests are fixed by their names, so tests, benchmarks and the quick start
// can pin real references with no network.
//
// Images are stored the way pinbot's --mirror expects a mirror to hold them:
// "nginx:1.25" lives at HOST/m/docker.io/library/nginx:1.25, and pinbot is run
// with --mirror docker.io=HOST/m/docker.io --insecure-registry HOST.
package registrytest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Prefix is the repository prefix mirrored registries live under.
const Prefix = "m"

// Registry is a running in-process registry.
type Registry struct {
	Host string // 127.0.0.1:port
	srv  *httptest.Server

	mu    sync.Mutex
	hosts map[string]bool // registries mirrored so far

	heads, gets atomic.Int64     // manifest requests served
	pings       atomic.Int64     // GET /v2/
	tokens      map[string]int64 // bearer tokens issued, by scope (under mu)
	hook        atomic.Pointer[func(*http.Request)]
	lie         atomic.Bool
	contentType atomic.Pointer[string]
	unknown     sync.Map // digest -> true: a GET of its manifest answers MANIFEST_UNKNOWN
}

// OnManifest calls f (in the handler's goroutine, before answering) for
// every manifest request; nil stops it.
func (r *Registry) OnManifest(f func(*http.Request)) {
	if f == nil {
		r.hook.Store(nil)
		return
	}
	r.hook.Store(&f)
}

// Auth is how a test registry wants readers to authenticate.
type Auth int

const (
	Anonymous Auth = iota // anyone may pull
	Basic                 // HTTP Basic with User and Password on every request
	Bearer                // Docker Hub's scheme: a token per repository scope from /token
)

// Options shape a test registry.
type Options struct {
	Auth           Auth
	User, Password string // Basic's credentials
	// Referrers serves the OCI 1.1 referrers API; without it a client
	// falls back to the referrers tag (sha256-<hex>).
	Referrers bool
}

// Start serves an anonymous registry on a loopback port.
func Start() *Registry { return StartWith(Options{}) }

// StartWith serves a registry on a loopback port that authenticates
// readers as opts say (pushes through Push are always let in), and counts
// pings, tokens and manifest requests.
func StartWith(opts Options) *Registry {
	r := &Registry{hosts: map[string]bool{}, tokens: map[string]int64{}}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(opts.Referrers))
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/token" {
			r.token(w, req)
			return
		}
		if req.URL.Path == "/v2/" || req.URL.Path == "/v2" {
			r.pings.Add(1)
		}
		read := req.Method == http.MethodGet || req.Method == http.MethodHead
		if read && req.Header.Get(pushHeader) == "" && !r.authorized(opts, w, req) {
			return
		}
		if strings.Contains(req.URL.Path, "/manifests/") {
			switch req.Method {
			case http.MethodHead:
				r.heads.Add(1)
			case http.MethodGet:
				r.gets.Add(1)
			}
			if f := r.hook.Load(); f != nil {
				(*f)(req)
			}
			if _, hidden := r.unknown.Load(path.Base(req.URL.Path)); hidden && req.Method == http.MethodGet {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`)
				return
			}
			if r.lie.Load() && req.Method == http.MethodHead {
				w = &lyingWriter{ResponseWriter: w}
			}
			if ct := r.contentType.Load(); ct != nil {
				w = &typingWriter{ResponseWriter: w, contentType: *ct}
			}
		}
		inner.ServeHTTP(w, req)
	}))
	r.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	r.srv.Start()
	r.Host = r.srv.Listener.Addr().(*net.TCPAddr).String()
	return r
}

// authorized checks a read's credentials, answering 401 with the
// challenge of the registry's scheme when they are missing or wrong.
func (r *Registry) authorized(opts Options, w http.ResponseWriter, req *http.Request) bool {
	switch opts.Auth {
	case Basic:
		if u, p, ok := req.BasicAuth(); ok && u == opts.User && p == opts.Password {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="pinbot-test"`)
	case Bearer:
		repo := repositoryOf(req.URL.Path)
		want := "repository:" + repo + ":pull"
		if tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok &&
			(repo == "" || strings.Contains(tok, want)) {
			return true
		}
		challenge := fmt.Sprintf(`Bearer realm="http://%s/token",service="pinbot-test"`, r.Host)
		if repo != "" {
			challenge += fmt.Sprintf(`,scope="%s"`, want)
		}
		w.Header().Set("WWW-Authenticate", challenge)
	default:
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
	return false
}

// repositoryOf is the repository a /v2/<name>/manifests|blobs/... path names.
func repositoryOf(path string) string {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return ""
	}
	for _, kind := range []string{"/manifests/", "/blobs/", "/tags/"} {
		if i := strings.LastIndex(rest, kind); i >= 0 {
			return rest[:i]
		}
	}
	return ""
}

// token issues a bearer token for the scopes asked for, to anyone, as
// Docker Hub does for public images.
func (r *Registry) token(w http.ResponseWriter, req *http.Request) {
	scopes := req.URL.Query()["scope"]
	r.mu.Lock()
	for _, sc := range scopes {
		r.tokens[sc]++
	}
	r.mu.Unlock()
	tok := "token " + strings.Join(scopes, " ")
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"token": tok, "access_token": tok, "expires_in": 300})
}

// Counts are the requests a registry served, by kind.
type Counts struct {
	Pings, ManifestHeads, ManifestGets int64
	Tokens                             map[string]int64 // by scope
}

// Counts is what the registry served since the last ResetCounts.
func (r *Registry) Counts() Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := Counts{Pings: r.pings.Load(), ManifestHeads: r.heads.Load(), ManifestGets: r.gets.Load(), Tokens: map[string]int64{}}
	for k, v := range r.tokens {
		c.Tokens[k] = v
	}
	return c
}

// Close stops the registry.
func (r *Registry) Close() { r.srv.Close() }

// ResetCounts zeroes the manifest request counters.
func (r *Registry) ResetCounts() {
	r.heads.Store(0)
	r.gets.Store(0)
	r.pings.Store(0)
	r.mu.Lock()
	r.tokens = map[string]int64{}
	r.mu.Unlock()
}

// ManifestRequests are the manifest HEADs and GETs served so far.
func (r *Registry) ManifestRequests() (heads, gets int64) { return r.heads.Load(), r.gets.Load() }

// host is a reference's registry as people write it: docker.io, not index.docker.io.
func host(t name.Tag) string {
	if h := t.RegistryStr(); h != name.DefaultRegistry {
		return h
	}
	return "docker.io"
}

// Target is where a reference as written is stored in this registry.
func (r *Registry) Target(ref string) (name.Tag, error) {
	return mirrorTarget(r.Host, ref, name.Insecure)
}

// mirrorTarget is where a mirror at registry keeps a reference as written:
// registry/m/<its registry>/<repository>:<tag>.
func mirrorTarget(registry, ref string, opts ...name.Option) (name.Tag, error) {
	ref, _, _ = strings.Cut(ref, "@")
	t, err := name.NewTag(ref)
	if err != nil {
		return name.Tag{}, err
	}
	return name.NewTag(fmt.Sprintf("%s/%s/%s/%s:%s", registry, Prefix, host(t), t.RepositoryStr(), t.TagStr()), opts...)
}

// Build is what an image pushed by PushBuild carries beyond its name and
// generation: labels, a creation time, a layer of Size bytes.
type Build struct {
	Platforms []string // none: a single linux/amd64 image
	Labels    map[string]string
	Created   time.Time
	Size      int
}

func imageFor(ref string, generation int, p v1.Platform, b Build) (v1.Image, error) {
	labels := map[string]string{"ref": ref, "generation": fmt.Sprint(generation)}
	for k, v := range b.Labels {
		labels[k] = v
	}
	cfg := &v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		Variant:      p.Variant,
		Created:      v1.Time{Time: b.Created},
		Config:       v1.Config{Labels: labels},
		RootFS:       v1.RootFS{Type: "layers"},
	}
	img, err := mutate.ConfigFile(empty.Image, cfg)
	if err != nil || b.Size <= 0 {
		return img, err
	}
	data := bytes.Repeat([]byte(ref+fmt.Sprint(generation)), b.Size/(len(ref)+1)+1)[:b.Size]
	return mutate.AppendLayers(img, static.NewLayer(data, types.DockerLayer))
}

// PushBuild stores generation of ref built as b says, and returns its digest.
func (r *Registry) PushBuild(ref string, generation int, b Build) (string, error) {
	target, err := r.Target(ref)
	if err != nil {
		return "", err
	}
	d, err := writeBuild(target, ref, generation, b, remote.WithTransport(pushTransport{}))
	if err == nil {
		r.note(ref)
	}
	return d, err
}

func indexOf(ref string, generation int, b Build) (v1.ImageIndex, error) {
	platforms := b.Platforms
	var adds []mutate.IndexAddendum
	for _, ps := range platforms {
		p, err := v1.ParsePlatform(ps)
		if err != nil {
			return nil, err
		}
		suffix := p.Architecture // the name the digest depends on: "amd64", "arm64/v8", "windows/amd64"
		if p.Variant != "" {
			suffix += "/" + p.Variant
		}
		if p.OS != "linux" {
			suffix = p.OS + "/" + suffix
		}
		img, err := imageFor(ref+"/"+suffix, generation, *p, b)
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: p}})
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...), nil
}

// Push stores generation of ref (as written, "nginx:1.25") and returns its digest.
func (r *Registry) Push(ref string, generation int) (string, error) {
	return r.push(ref, generation, false)
}

// PushIndex stores generation of ref as a multi-platform index and returns its digest.
func (r *Registry) PushIndex(ref string, generation int) (string, error) {
	return r.push(ref, generation, true)
}

func (r *Registry) push(ref string, generation int, index bool) (string, error) {
	var platforms []string
	if index {
		platforms = []string{"linux/amd64", "linux/arm64"}
	}
	return r.PushPlatforms(ref, generation, platforms...)
}

// PushPlatforms stores generation of ref as an index of exactly the given
// platforms (none: a single linux/amd64 image) and returns its digest.
func (r *Registry) PushPlatforms(ref string, generation int, platforms ...string) (string, error) {
	target, err := r.Target(ref)
	if err != nil {
		return "", err
	}
	d, err := writePlatforms(target, ref, generation, platforms, remote.WithTransport(pushTransport{}))
	if err == nil {
		r.note(ref)
	}
	return d, err
}

// pushHeader marks the test's own pushes, which a registry with auth lets in.
const pushHeader = "X-Registrytest-Push"

type pushTransport struct{}

func (pushTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set(pushHeader, "1")
	return http.DefaultTransport.RoundTrip(req)
}

// Delete removes the manifest ref's tag points at (and so the digest a
// file pinned), as an upstream rebuild that deletes the old image does.
// With "@sha256:..." it removes that digest instead.
func (r *Registry) Delete(ref string) error {
	target, err := r.Target(ref)
	if err != nil {
		return err
	}
	if _, d, ok := strings.Cut(ref, "@"); ok {
		return remote.Delete(target.Context().Digest(d), remote.WithTransport(pushTransport{}))
	}
	desc, err := remote.Head(target, remote.WithTransport(pushTransport{}))
	if err != nil {
		return err
	}
	return remote.Delete(target.Context().Digest(desc.Digest.String()), remote.WithTransport(pushTransport{}))
}

// Untag removes ref's tag itself (the manifest it pointed at stays, under
// its digest, until deleted too).
func (r *Registry) Untag(ref string) error {
	target, err := r.Target(ref)
	if err != nil {
		return err
	}
	return remote.Delete(target, remote.WithTransport(pushTransport{}))
}

// DeletePlatform removes the manifest of one platform ("linux/arm64") of
// the index ref's tag points at, leaving the index naming it: a platform
// an index claims and no one can pull.
func (r *Registry) DeletePlatform(ref, platform string) error {
	target, err := r.Target(ref)
	if err != nil {
		return err
	}
	want, err := v1.ParsePlatform(platform)
	if err != nil {
		return err
	}
	idx, err := remote.Index(target, remote.WithTransport(pushTransport{}))
	if err != nil {
		return err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, m := range im.Manifests {
		if m.Platform != nil && m.Platform.Equals(*want) {
			return remote.Delete(target.Context().Digest(m.Digest.String()), remote.WithTransport(pushTransport{}))
		}
	}
	return fmt.Errorf("%s has no %s manifest", ref, platform)
}

// ContentType makes the registry answer every manifest request with this
// Content-Type, whatever the manifest is; "" tells the truth again.
func (r *Registry) ContentType(ct string) {
	if ct == "" {
		r.contentType.Store(nil)
		return
	}
	r.contentType.Store(&ct)
}

// UnknownToGet makes a GET of the manifest digest names answer
// MANIFEST_UNKNOWN, while a HEAD still finds it: what a client sees when a
// tag moves, or its digest is deleted, between its HEAD and its GET.
func (r *Registry) UnknownToGet(digest string) { r.unknown.Store(digest, true) }

// LieDigest makes the registry answer every manifest HEAD with a
// Docker-Content-Digest that is not the manifest's (as a broken proxy
// might), or, with false, tell the truth again.
func (r *Registry) LieDigest(lie bool) { r.lie.Store(lie) }

// write pushes generation of ref, an image or a two-platform index, to
// target and returns its digest.
func write(target name.Tag, ref string, generation int, index bool, opts ...remote.Option) (string, error) {
	var platforms []string
	if index {
		platforms = []string{"linux/amd64", "linux/arm64"}
	}
	return writePlatforms(target, ref, generation, platforms, opts...)
}

// writePlatforms pushes generation of ref, an index of the platforms or,
// with none, a single image, to target and returns its digest.
func writePlatforms(target name.Tag, ref string, generation int, platforms []string, opts ...remote.Option) (string, error) {
	return writeBuild(target, ref, generation, Build{Platforms: platforms}, opts...)
}

func writeBuild(target name.Tag, ref string, generation int, b Build, opts ...remote.Option) (string, error) {
	if len(b.Platforms) > 0 {
		idx, err := indexOf(ref, generation, b)
		if err != nil {
			return "", err
		}
		if err := remote.WriteIndex(target, idx, opts...); err != nil {
			return "", err
		}
		d, err := idx.Digest()
		return d.String(), err
	}
	img, err := imageFor(ref, generation, v1.Platform{OS: "linux", Architecture: "amd64"}, b)
	if err != nil {
		return "", err
	}
	if err := remote.Write(target, img, opts...); err != nil {
		return "", err
	}
	d, err := img.Digest()
	return d.String(), err
}

func (r *Registry) note(ref string) {
	ref, _, _ = strings.Cut(ref, "@")
	if t, err := name.NewTag(ref); err == nil {
		r.mu.Lock()
		r.hosts[host(t)] = true
		r.mu.Unlock()
	}
}

// Flags are the pinbot flags that resolve every registry pushed to so far
// through this one.
func (r *Registry) Flags() []string {
	r.mu.Lock()
	var hosts []string
	for h := range r.hosts {
		hosts = append(hosts, h)
	}
	r.mu.Unlock()
	sort.Strings(hosts)
	out := []string{"--insecure-registry", r.Host}
	for _, h := range hosts {
		out = append(out, "--mirror", h+"="+r.Host+"/"+Prefix+"/"+h)
	}
	return out
}

// typingWriter answers with another Content-Type.
type typingWriter struct {
	http.ResponseWriter
	contentType string
}

func (t *typingWriter) WriteHeader(code int) {
	t.Header().Set("Content-Type", t.contentType)
	t.ResponseWriter.WriteHeader(code)
}

// lyingWriter replaces a response's Docker-Content-Digest with another.
type lyingWriter struct{ http.ResponseWriter }

func (l *lyingWriter) WriteHeader(code int) {
	if d := l.Header().Get("Docker-Content-Digest"); d != "" {
		sum := sha256.Sum256([]byte("a lie about " + d))
		l.Header().Set("Docker-Content-Digest", "sha256:"+hex.EncodeToString(sum[:]))
	}
	l.ResponseWriter.WriteHeader(code)
}
