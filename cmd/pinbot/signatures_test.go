package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Sigstore's root is read through TUF within a bound: a server that never
// answers costs the timeout, not the operating system's; an answer past
// the length TUF allows is refused.
func TestTUFFetcherBounded(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hang":
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		case "/big":
			w.Write([]byte(strings.Repeat("x", 100)))
		case "/ok":
			w.Write([]byte("{}"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	defer close(hang)
	f := tufFetcher{ctx: context.Background(), client: &http.Client{Timeout: 200 * time.Millisecond}}
	start := time.Now()
	if _, err := f.DownloadFile(srv.URL+"/hang", 1<<20, 0); err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("a server that never answers: %v after %v", err, time.Since(start))
	}
	var lm *metadata.ErrDownloadLengthMismatch
	if _, err := f.DownloadFile(srv.URL+"/big", 10, 0); !errors.As(err, &lm) {
		t.Errorf("past the length: %v", err)
	}
	var he *metadata.ErrDownloadHTTP
	if _, err := f.DownloadFile(srv.URL+"/missing", 10, 0); !errors.As(err, &he) || he.StatusCode != 404 {
		t.Errorf("a 404: %v", err)
	}
	if data, err := f.DownloadFile(srv.URL+"/ok", 10, 0); err != nil || string(data) != "{}" {
		t.Errorf("an answer: %q %v", data, err)
	}
}
