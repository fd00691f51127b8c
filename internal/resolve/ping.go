package resolve

import (
	"bytes"
	"io"
	"net/http"
	"sync"
)

// pingCache answers go-containerregistry's registry pings ("GET /v2/"
// without credentials, made before each repository's first request to
// learn how the registry authenticates) once per registry: the first ping
// goes out, one at a time per host; later ones get its answer. A registry
// is then pinged once, not once per repository.
type pingCache struct {
	next    http.RoundTripper
	mu      sync.Mutex
	entries map[string]*pingEntry // by scheme://host
}

type pingEntry struct {
	done   chan struct{}
	ok     bool // a definite answer (200, 401) to share
	status int
	header http.Header
	body   []byte
}

func isPing(req *http.Request) bool {
	return req.Method == http.MethodGet && req.URL.Path == "/v2/" && req.URL.RawQuery == "" && req.Header.Get("Authorization") == ""
}

func (p *pingCache) RoundTrip(req *http.Request) (*http.Response, error) {
	if !isPing(req) {
		return p.next.RoundTrip(req)
	}
	key := req.URL.Scheme + "://" + req.URL.Host
	p.mu.Lock()
	if p.entries == nil {
		p.entries = map[string]*pingEntry{}
	}
	e, waiting := p.entries[key]
	if !waiting {
		e = &pingEntry{done: make(chan struct{})}
		p.entries[key] = e
	}
	p.mu.Unlock()

	if waiting {
		select {
		case <-e.done:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
		if e.ok {
			return e.response(req), nil
		}
		return p.next.RoundTrip(req) // the first ping got no answer worth sharing
	}

	resp, err := p.next.RoundTrip(req)
	if err == nil && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized) {
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if rerr == nil {
			e.ok, e.status, e.header, e.body = true, resp.StatusCode, resp.Header.Clone(), body
			close(e.done)
			return e.response(req), nil
		}
		err, resp = rerr, nil
	}
	// Nothing to share: the next ping asks again.
	p.mu.Lock()
	delete(p.entries, key)
	p.mu.Unlock()
	close(e.done)
	return resp, err
}

// response is the shared answer, for req.
func (e *pingEntry) response(req *http.Request) *http.Response {
	return &http.Response{
		Status:        http.StatusText(e.status),
		StatusCode:    e.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        e.header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(e.body)),
		ContentLength: int64(len(e.body)),
		Request:       req,
	}
}
