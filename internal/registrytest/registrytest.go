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
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
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

	heads, gets atomic.Int64 // manifest requests served
	hook        atomic.Pointer[func(*http.Request)]
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

// Start serves a registry on a loopback port.
func Start() *Registry {
	r := &Registry{hosts: map[string]bool{}}
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
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
		}
		inner.ServeHTTP(w, req)
	}))
	r.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	r.srv.Start()
	r.Host = r.srv.Listener.Addr().(*net.TCPAddr).String()
	return r
}

// Close stops the registry.
func (r *Registry) Close() { r.srv.Close() }

// ResetCounts zeroes the manifest request counters.
func (r *Registry) ResetCounts() { r.heads.Store(0); r.gets.Store(0) }

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

// Image is a small image whose digest depends only on ref and generation:
// generation 0 is the image a tag first points at, 1 the one it moves to.
func Image(ref string, generation int) (v1.Image, error) {
	cfg := &v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		Config:       v1.Config{Labels: map[string]string{"ref": ref, "generation": fmt.Sprint(generation)}},
		RootFS:       v1.RootFS{Type: "layers"},
	}
	return mutate.ConfigFile(empty.Image, cfg)
}

// Index is a two-platform index whose digest depends only on ref and generation.
func Index(ref string, generation int) (v1.ImageIndex, error) {
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := Image(ref+"/"+arch, generation)
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
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
	target, err := r.Target(ref)
	if err != nil {
		return "", err
	}
	d, err := write(target, ref, generation, index)
	if err == nil {
		r.note(ref)
	}
	return d, err
}

// write pushes generation of ref, an image or a two-platform index, to
// target and returns its digest.
func write(target name.Tag, ref string, generation int, index bool, opts ...remote.Option) (string, error) {
	if index {
		idx, err := Index(ref, generation)
		if err != nil {
			return "", err
		}
		if err := remote.WriteIndex(target, idx, opts...); err != nil {
			return "", err
		}
		d, err := idx.Digest()
		return d.String(), err
	}
	img, err := Image(ref, generation)
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
