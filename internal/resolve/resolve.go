// Package resolve turns image tags into the digests their registries serve.
//
// Each unique reference costs one HEAD request (a GET only where the HEAD is
// refused) carrying every manifest media type in Accept, so a registry never
// converts a manifest into another format with another digest. References
// resolve concurrently with a bounded pool through one go-containerregistry
// Puller, which reuses each repository's connection and token.
package resolve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/pinbot/pinbot/internal/cache"
	"github.com/pinbot/pinbot/internal/imageref"
	"github.com/pinbot/pinbot/internal/progress"
	"github.com/pinbot/pinbot/internal/safetext"
	"github.com/pinbot/pinbot/internal/wait"
)

// Mirror resolves references under From (a registry, or a registry and a
// repository prefix) through To, which may carry a path prefix.
type Mirror struct {
	From, To string
}

// ParseMirror reads "SRC=DST", as in "docker.io=harbor.example.com/dockerhub-proxy".
func ParseMirror(s string) (Mirror, error) {
	from, to, ok := strings.Cut(s, "=")
	from, to = strings.TrimSuffix(strings.TrimSpace(from), "/"), strings.TrimSuffix(strings.TrimSpace(to), "/")
	if !ok || from == "" || to == "" {
		return Mirror{}, fmt.Errorf("mirror %q: want SRC=DST, as in docker.io=mirror.example.com/dockerhub", s)
	}
	return Mirror{From: from, To: to}, nil
}

// normalise spells a registry (and optional repository prefix) the way
// go-containerregistry does: docker.io becomes index.docker.io.
func normalise(prefix string) string {
	host, rest, _ := strings.Cut(prefix, "/")
	if reg, err := name.NewRegistry(host); err == nil {
		host = reg.RegistryStr()
	}
	if rest == "" {
		return host
	}
	return host + "/" + rest
}

// Options configure a Resolver.
//
// What the operator says (flags, the Action's inputs, the environment)
// and what a checkout says (its .pinbot.yaml) are kept apart: a reference
// that an operator's mirror covers is asked through the longest of those,
// whatever the checkout's mirrors say; the checkout's mirrors serve only
// references no operator mirror covers. A checkout's insecure registries
// never reach a host the operator's mirror names.
type Options struct {
	Mirrors  []Mirror // the operator's
	Insecure []string // HOST[:PORT] that may be reached over plain HTTP: the operator's
	// CheckoutMirrors and CheckoutInsecure are the checkout's own.
	CheckoutMirrors  []Mirror
	CheckoutInsecure []string
	// Keychain finds credentials; nil means DefaultKeychain.
	Keychain authn.Keychain
	Jobs     int // requests in flight in all; default 64
	// PerRegistry bounds the requests in flight to one registry; default 16.
	PerRegistry int
	Timeout     time.Duration // per reference, retries and their pauses included; default 30s
	Attempts    int           // per request, first try included; default 4
	Backoff     time.Duration // before the first retry, doubling after; default 1s
	MaxWait     time.Duration // the longest pause between tries; default 60s
	// Transport is the HTTP transport underneath; nil means a clone of
	// go-containerregistry's default, with the system's CAs (SSL_CERT_FILE).
	Transport http.RoundTripper
	UserAgent string
	Logger    *slog.Logger
	// Cache answers tags from earlier runs and keeps this run's answers;
	// nil asks the registry every time.
	Cache *cache.Cache
	// Progress counts the references asked about and the requests in
	// flight, by registry; nil: not counted.
	Progress *progress.Tracker
}

// DefaultKeychain is the docker config file and its credential helpers, then
// GITHUB_TOKEN for ghcr.io.
func DefaultKeychain() authn.Keychain {
	return authn.NewMultiKeychain(authn.DefaultKeychain, GitHubKeychain(os.Getenv("GITHUB_TOKEN")))
}

// GitHubKeychain lends token to ghcr.io and to no other registry.
func GitHubKeychain(token string) authn.Keychain { return githubKeychain(token) }

type githubKeychain string

func (k githubKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if k == "" || r.RegistryStr() != "ghcr.io" {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{Username: "x-access-token", Password: string(k)}), nil
}

// Resolver resolves tags to digests.
type Resolver struct {
	opts     Options
	mirrors  [2][]Mirror // normalised: the operator's, then the checkout's
	insecure map[string]bool
	// checkoutInsecure are hosts only the checkout allows plain HTTP to:
	// never one reached through an operator's mirror.
	checkoutInsecure map[string]bool
	puller           *remote.Puller
	ropts            []remote.Option // the puller's, but for its keychain
	https            *httpsOnly
	retry            *retryTransport
	log              *slog.Logger
	count            counters
	all              chan struct{}            // a slot per request in flight, in all
	mu               sync.Mutex               //
	hosts            map[string]chan struct{} // a slot per request in flight, by registry
}

// acquire waits for a slot for a request to registry host: the registry's
// own first, then one of all; release gives both back.
func (r *Resolver) acquire(ctx context.Context, host string) (release func(), err error) {
	r.mu.Lock()
	h := r.hosts[host]
	if h == nil {
		h = make(chan struct{}, r.opts.PerRegistry)
		r.hosts[host] = h
	}
	r.mu.Unlock()
	select {
	case h <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r.all <- struct{}{}:
	case <-ctx.Done():
		<-h
		return nil, ctx.Err()
	}
	return func() { <-r.all; <-h }, nil
}

// New makes a Resolver.
func New(opts Options) (*Resolver, error) {
	if opts.Jobs <= 0 {
		opts.Jobs = 64
	}
	if opts.PerRegistry <= 0 {
		opts.PerRegistry = 16
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 4
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = 60 * time.Second
	}
	if opts.Keychain == nil {
		opts.Keychain = DefaultKeychain()
	}
	if opts.Transport == nil {
		// go-containerregistry's: HTTP/2 where a registry offers it, and
		// idle connections kept for at least every request in flight.
		tr := remote.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = max(tr.MaxIdleConnsPerHost, opts.PerRegistry)
		tr.MaxIdleConns = max(tr.MaxIdleConns, opts.Jobs)
		opts.Transport = tr
	}
	r := &Resolver{opts: opts, insecure: map[string]bool{}, checkoutInsecure: map[string]bool{}, log: opts.Logger,
		all: make(chan struct{}, opts.Jobs), hosts: map[string]chan struct{}{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	for i, hosts := range [][]string{opts.Insecure, opts.CheckoutInsecure} {
		for _, h := range hosts {
			h = strings.TrimSpace(h)
			if h == "" || strings.ContainsAny(h, "/ ") {
				return nil, fmt.Errorf("insecure registry %q: want HOST or HOST:PORT", h)
			}
			if i == 0 {
				r.insecure[h] = true
			} else if !r.insecure[h] {
				r.checkoutInsecure[h] = true
			}
		}
	}
	for i, ms := range [][]Mirror{opts.Mirrors, opts.CheckoutMirrors} {
		for _, m := range ms {
			host, _, _ := strings.Cut(m.To, "/")
			if _, err := name.NewRegistry(host); err != nil {
				return nil, fmt.Errorf("mirror %s=%s: %w", m.From, m.To, err)
			}
			r.mirrors[i] = append(r.mirrors[i], Mirror{From: normalise(m.From), To: m.To})
		}
	}
	allowed := map[string]bool{}
	for h := range r.insecure {
		allowed[h] = true
	}
	for h := range r.checkoutInsecure {
		allowed[h] = true
	}
	r.https = &httpsOnly{next: opts.Transport, insecure: allowed}
	rt := &retryTransport{
		next:     r.https,
		attempts: opts.Attempts,
		backoff:  opts.Backoff,
		maxWait:  opts.MaxWait,
		timeout:  opts.Timeout,
		sleep:    wait.Sleep,
		log:      r.log,
	}
	r.retry = rt
	ropts := []remote.Option{
		remote.WithTransport(&pingCache{next: &logTransport{next: &boundTransport{next: rt}, log: r.log}}),
		// retries are ours (Retry-After, per-attempt timeouts): none on top
		remote.WithRetryPredicate(func(error) bool { return false }),
		remote.WithRetryStatusCodes(),
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
	}
	if opts.UserAgent != "" {
		ropts = append(ropts, remote.WithUserAgent(opts.UserAgent))
	}
	r.ropts = ropts // without credentials: see Private
	p, err := remote.NewPuller(append(ropts[:len(ropts):len(ropts)], remote.WithAuthFromKeychain(opts.Keychain))...)
	if err != nil {
		return nil, err
	}
	r.puller = p
	return r, nil
}

// Target is where tag is asked for: through the longest matching mirror of
// the operator's, else of the checkout's, and over plain HTTP only when
// its registry is allowed to (by the checkout, only where no operator's
// mirror led).
func (r *Resolver) Target(tag name.Tag) (name.Tag, error) {
	repo := tag.Context().Name() // index.docker.io/library/nginx
	target, operator := repo, false
	for tier, ms := range r.mirrors {
		best := -1
		for i, m := range ms {
			if (repo == m.From || strings.HasPrefix(repo, m.From+"/")) && (best < 0 || len(m.From) > len(ms[best].From)) {
				best = i
			}
		}
		if best >= 0 {
			target, operator = ms[best].To+strings.TrimPrefix(repo, ms[best].From), tier == 0
			break
		}
	}
	host, _, _ := strings.Cut(target, "/")
	var nopts []name.Option
	if r.insecure[host] || (r.checkoutInsecure[host] && !operator) {
		nopts = append(nopts, name.Insecure)
	}
	return name.NewTag(target+":"+tag.TagStr(), nopts...)
}

// cacheKey is what a cached answer is filed under: the tag as asked, after
// mirroring, with the scheme it was asked over. Two checkouts that send
// one reference to different mirrors never share an answer.
func cacheKey(target name.Tag) string {
	return target.Scheme() + "://" + target.Name()
}

// Result is the outcome of one reference.
type Result struct {
	Digest string // sha256:<hex>
	Via    string // the reference asked of a mirror, when one was used
	Cached bool   // the answer came from the cache, not the registry
	Err    error
}

// Resolve resolves every tag (deduplicated by canonical name) and returns the
// results by canonical name (tag.Name()).
func (r *Resolver) Resolve(ctx context.Context, tags []name.Tag) map[string]Result {
	ch := make(chan name.Tag, len(tags))
	for _, t := range tags {
		ch <- t
	}
	close(ch)
	out := map[string]Result{}
	var mu sync.Mutex
	r.ResolveEach(ctx, ch, func(key string, res Result) {
		mu.Lock()
		out[key] = res
		mu.Unlock()
	})
	return out
}

// ResolveEach resolves the tags as they arrive, until the channel is
// closed, each unique one once (by canonical name), and hands each answer
// to fn as soon as it is known: fn is called once per key, from several
// goroutines at once, and should return quickly (it may hold a request's
// slot). Tags are asked in the order they arrive. ResolveEach returns when
// the channel is closed and every key has had its call; once ctx is done,
// the tags still to ask are answered with its error.
func (r *Resolver) ResolveEach(ctx context.Context, tags <-chan name.Tag, fn func(key string, res Result)) {
	g := r.group(ctx)
	seen := map[string]bool{}
	for t := range tags {
		key := t.Name()
		if seen[key] {
			continue
		}
		seen[key] = true
		target, err := r.Target(t)
		if err != nil {
			fn(key, Result{Err: err})
			continue
		}
		if c := r.opts.Cache; c != nil {
			if d, ok := c.Lookup(cacheKey(target)); ok {
				r.log.Debug("resolved from the cache", "ref", key, "digest", d)
				fn(key, Result{Digest: d, Cached: true})
				continue
			}
		}
		g.Go(target.RegistryStr(), func(ctx context.Context, err error) {
			if err != nil { // not started: the context ended first
				fn(key, Result{Err: err})
				return
			}
			res := r.one(ctx, t, target)
			if res.Err == nil && r.opts.Cache != nil {
				r.opts.Cache.Store(cacheKey(target), res.Digest)
			}
			fn(key, res)
		})
	}
	g.Wait()
}

// one asks target (tag, or its mirror) for the tag's digest.
func (r *Resolver) one(ctx context.Context, tag, target name.Tag) Result {
	var res Result
	if target.Name() != tag.Name() {
		res.Via = target.String()
	}
	start := time.Now()
	r.count.tagHeads.Add(1)
	r.log.Debug("asking for a tag's digest", "ref", tag.String(), "via", res.Via)
	desc, err := r.puller.Head(ctx, target)
	if err != nil && headRefused(err) {
		r.log.Debug("HEAD refused, trying GET", "ref", target.String(), "err", err)
		r.count.manifestGets.Add(1)
		var d *remote.Descriptor
		if d, err = r.puller.Get(ctx, target); err == nil {
			desc = &d.Descriptor
		}
	}
	if err != nil {
		res.Err = quoted(explain(err, tag, target, r.hasCredentials(target.Context())))
		r.log.Debug("resolve failed", "ref", tag.String(), "via", res.Via, "err", res.Err)
		return res
	}
	if desc.Digest.Algorithm != "sha256" {
		res.Err = quoted(fmt.Errorf("the registry answered with a %s digest; pinbot pins sha256", desc.Digest.Algorithm))
		return res
	}
	if !imageref.ValidDigest(desc.Digest.String()) {
		res.Err = quoted(fmt.Errorf("the registry answered with a malformed digest %q", desc.Digest.String()))
		return res
	}
	if mt, _, _ := strings.Cut(string(desc.MediaType), ";"); !manifestTypes[types.MediaType(strings.TrimSpace(mt))] {
		res.Err = quoted(fmt.Errorf("%s answered with a %q where a manifest was asked for: not a digest to pin", target.RegistryStr(), desc.MediaType))
		return res
	}
	res.Digest = desc.Digest.String()
	r.log.Debug("resolved", "ref", tag.String(), "via", res.Via, "digest", res.Digest, "mediaType", desc.MediaType, "took", time.Since(start).Round(time.Millisecond))
	return res
}

// manifestTypes are the answers a tag's digest is taken from: the types
// pinbot asks for in Accept.
var manifestTypes = map[types.MediaType]bool{
	types.OCIImageIndex:         true,
	types.OCIManifestSchema1:    true,
	types.DockerManifestList:    true,
	types.DockerManifestSchema2: true,
}

// hasCredentials tells whether the keychain lends credentials for repo.
func (r *Resolver) hasCredentials(repo name.Repository) bool {
	auth, err := r.opts.Keychain.Resolve(repo)
	return err == nil && auth != authn.Anonymous
}

// Private tells, for each tag (by canonical name), whether its image is
// private: resolved with credentials, and refused without them (one more
// HEAD, anonymous, for each tag asked with credentials). A pull policy of
// Always on a private image may be a cluster's credential check.
func (r *Resolver) Private(ctx context.Context, tags []name.Tag) map[string]bool {
	out := map[string]bool{}
	var asked []name.Tag
	for _, t := range tags {
		target, err := r.Target(t)
		if err != nil || !r.hasCredentials(target.Context()) {
			continue // resolved anonymously: public
		}
		asked = append(asked, t)
	}
	if len(asked) == 0 {
		return out
	}
	anon, err := remote.NewPuller(append(r.ropts[:len(r.ropts):len(r.ropts)], remote.WithAuth(authn.Anonymous))...)
	if err != nil {
		return out
	}
	var mu sync.Mutex
	r.each(ctx, len(asked), func(i int) string { return r.hostOf(asked[i]) }, func(ctx context.Context, i int) {
		target, _ := r.Target(asked[i])
		r.count.tagHeads.Add(1)
		_, err := anon.Head(ctx, target)
		mu.Lock()
		out[asked[i].Name()] = err != nil // refused (or failed) without credentials
		mu.Unlock()
	})
	return out
}

// headRefused tells a HEAD the registry does not answer properly (no HEAD
// support, or no digest header) from a definite answer such as "no such tag".
func headRefused(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests:
			return false
		}
		return te.StatusCode == http.StatusMethodNotAllowed || te.StatusCode == http.StatusNotImplemented ||
			te.StatusCode == http.StatusBadRequest
	}
	msg := err.Error()
	return strings.Contains(msg, "did not include") // Docker-Content-Digest, Content-Type or Content-Length
}

// registryError is an error whose text quotes a registry's answer: shown on
// one line, clipped, never echoed whole. errors.Is and As see the cause.
type registryError struct {
	msg string
	err error
}

func (e *registryError) Error() string { return e.msg }
func (e *registryError) Unwrap() error { return e.err }

// quoted makes err safe to show: its text on one printable line, clipped.
func quoted(err error) error {
	if err == nil {
		return nil
	}
	return &registryError{msg: safetext.Term(err.Error()), err: err}
}

// explain turns a registry error into a sentence that names what to do.
func explain(err error, tag, target name.Tag, creds bool) error {
	where := target.Context().Name()
	if errors.Is(err, errHTTPSNotTried) {
		// the HTTPS half of go-containerregistry's ping was never sent: the
		// plain HTTP half is the answer
		var parts []string
		for _, p := range strings.Split(err.Error(), "; ") {
			if !strings.Contains(p, errHTTPSNotTried.Error()) {
				parts = append(parts, p)
			}
		}
		err = &registryError{msg: strings.Join(parts, "; "), err: err}
	}
	if errors.Is(err, errHTTPNotTried) && !errors.Is(err, ErrPlainHTTP) {
		// HTTPS failed and plain HTTP was never tried: the HTTPS error is
		// the answer (the first of go-containerregistry's ping errors).
		var ue *url.Error
		if errors.As(err, &ue) && !errors.Is(ue, errHTTPNotTried) {
			err = ue
		}
	}
	var ne net.Error
	switch {
	case errors.Is(err, ErrRegistryDown):
		var de *downError
		errors.As(err, &de)
		what := "could not be reached"
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			what = "timeout: did not answer"
		}
		return fmt.Errorf("%s %s (%v), and is %w", target.RegistryStr(), what, de.cause, ErrRegistryDown)
	case errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("timeout: %s did not answer: %w", target.RegistryStr(), err)
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized:
			if creds {
				source := "docker config"
				if target.RegistryStr() == "ghcr.io" {
					source = "docker config or GITHUB_TOKEN"
				}
				return fmt.Errorf("unauthorized at %s: credentials for %s were found (%s) and refused: log in again (docker login %s), or use credentials that may pull it", where, target.RegistryStr(), source, target.RegistryStr())
			}
			hint := ""
			if target.RegistryStr() == "ghcr.io" {
				hint = ", or set GITHUB_TOKEN"
			}
			return fmt.Errorf("unauthorized at %s: no credentials for %s: log in (docker login %s)%s", where, target.RegistryStr(), target.RegistryStr(), hint)
		case http.StatusForbidden:
			return fmt.Errorf("access to %s denied: the credentials in use may not pull it", where)
		case http.StatusNotFound:
			return fmt.Errorf("not found: %s has no tag %q (or the repository does not exist)", where, tag.TagStr())
		case http.StatusTooManyRequests:
			return fmt.Errorf("rate limited by %s (HTTP 429), retries exhausted", target.RegistryStr())
		}
		if te.StatusCode >= 500 {
			return fmt.Errorf("registry %s failed (HTTP %d), retries exhausted", target.RegistryStr(), te.StatusCode)
		}
	}
	return err
}
