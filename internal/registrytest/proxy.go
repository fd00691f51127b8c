package registrytest

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Proxy stands before a registry on a loopback port (plain HTTP): it holds
// every request for a delay, as a distant registry would, and counts them by
// kind.
type Proxy struct {
	Host  string // 127.0.0.1:port
	srv   *httptest.Server
	delay time.Duration

	mu     sync.Mutex
	counts map[string]int64
}

// StartProxy serves a proxy to upstream (a registry's base URL) through tr
// (nil: http.DefaultTransport), delaying each request by delay.
func StartProxy(upstream string, tr http.RoundTripper, delay time.Duration) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	p := &Proxy{delay: delay, counts: map[string]int64{}}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		pr.Out.Host = u.Host
		pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"] // as the Director did: none added
	}}
	rp.ErrorLog = log.New(io.Discard, "", 0)
	if tr == nil {
		tr = http.DefaultTransport
	}
	if t, ok := tr.(*http.Transport); ok {
		t = t.Clone()
		t.MaxIdleConnsPerHost = 256 // as many as pinbot has in flight: no dialing per request
		tr = t
	}
	rp.Transport = tr
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		p.mu.Lock()
		p.counts[kindOf(req)]++
		p.mu.Unlock()
		time.Sleep(p.delay)
		rp.ServeHTTP(w, req)
	}))
	p.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	p.srv.Start()
	p.Host = p.srv.Listener.Addr().(*net.TCPAddr).String()
	return p, nil
}

// kindOf names a registry request: ping, token, manifest HEAD/GET, blob,
// and the signature lookups: referrers, and the tags a digest's signatures
// are kept under.
func kindOf(req *http.Request) string {
	switch path := req.URL.Path; {
	case path == "/v2/" || path == "/v2":
		return "ping"
	case strings.Contains(path, "/manifests/sha256-"):
		return "signature-tag " + req.Method // cosign's .sig/.att, the referrers tag
	case strings.Contains(path, "/referrers/"):
		return "referrers " + req.Method
	case strings.Contains(path, "/manifests/"):
		return "manifest " + req.Method
	case strings.Contains(path, "/blobs/"):
		return "blob " + req.Method
	case strings.HasPrefix(path, "/token") || strings.HasPrefix(path, "/auth"):
		return "token"
	}
	return "other " + req.Method
}

// Counts are the requests proxied so far, by kind.
func (p *Proxy) Counts() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int64, len(p.counts))
	for k, v := range p.counts {
		out[k] = v
	}
	return out
}

// Reset zeroes the counts.
func (p *Proxy) Reset() {
	p.mu.Lock()
	p.counts = map[string]int64{}
	p.mu.Unlock()
}

// Summary is the counts as "kind=n" words, sorted.
func (p *Proxy) Summary() string {
	var parts []string
	for k, v := range p.Counts() {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// Close stops the proxy.
func (p *Proxy) Close() { p.srv.Close() }
