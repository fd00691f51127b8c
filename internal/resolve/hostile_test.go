package resolve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// TestSilentRegistryIsATimeout: a registry that accepts connections and
// never answers is reported as a timeout, with no hint about plain HTTP
// (nothing answered in plain HTTP).
func TestSilentRegistryIsATimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { <-done; c.Close() }()
		}
	}()
	r := newResolver(t, Options{Timeout: 300 * time.Millisecond, Attempts: 1})
	tag := mustTag(t, ln.Addr().String()+"/app:v1")
	got := r.Resolve(context.Background(), []name.Tag{tag})[tag.Name()]
	if got.Err == nil || !strings.Contains(got.Err.Error(), "timeout") {
		t.Fatalf("err = %v, want a timeout", got.Err)
	}
	if strings.Contains(got.Err.Error(), "insecure-registry") || errors.Is(got.Err, ErrPlainHTTP) {
		t.Errorf("err = %v: hints at plain HTTP, which never answered", got.Err)
	}
}

// TestRegistryAnswerIsQuotedAndClipped: an error body of 10 KB holding
// newlines and workflow commands, and a 10 KB digest header, reach the
// report on one printable line, clipped.
func TestRegistryAnswerIsQuotedAndClipped(t *testing.T) {
	for kind, answer := range map[string]func(w http.ResponseWriter){
		"body": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"errors":[{"code":"DENIED","message":"` + strings.Repeat(`x\n::error::owned\u001b[31m`, 500) + `"}]}`))
		},
		"header": func(w http.ResponseWriter) {
			w.Header().Set("Docker-Content-Digest", "sha256:"+strings.Repeat("\u202eab", 3000))
			w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
			w.Header().Set("Content-Length", "2")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("{}"))
		},
	} {
		t.Run(kind, func(t *testing.T) {
			rg := newReg(t, false)
			rg.intercept = func(w http.ResponseWriter, r *http.Request) bool {
				if strings.Contains(r.URL.Path, "/manifests/") {
					answer(w)
					return true
				}
				return false
			}
			r := newResolver(t, Options{Insecure: []string{rg.host}, Attempts: 1})
			tag := mustTag(t, rg.host+"/app:v1")
			got := r.Resolve(context.Background(), []name.Tag{tag})[tag.Name()]
			if got.Err == nil {
				t.Fatalf("resolved to %s", got.Digest)
			}
			msg := got.Err.Error()
			if len(msg) > 1200 {
				t.Errorf("error is %d bytes long", len(msg))
			}
			if strings.ContainsAny(msg, "\n\r\x1b\u202e") {
				t.Errorf("error holds raw control characters: %q", msg)
			}
		})
	}
}

// countingTransport counts the requests that reach the network.
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(req)
}

// TestDeadRegistryIsGivenUpOn: a registry nothing answers at is given up on
// once a request has spent every retry: references asked of it later fail
// at once, naming why, with no request sent.
func TestDeadRegistryIsGivenUpOn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := ln.Addr().String()
	ln.Close() // nothing listens there now
	ct := &countingTransport{next: http.DefaultTransport.(*http.Transport).Clone()}
	r := newResolver(t, Options{Insecure: []string{host}, Attempts: 3, Backoff: time.Millisecond, Transport: ct, PerRegistry: 1})
	var tags []name.Tag
	for i := 0; i < 5; i++ {
		tags = append(tags, mustTag(t, fmt.Sprintf("%s/app%d:v1", host, i)))
	}
	got := r.Resolve(context.Background(), tags)
	for _, tg := range tags {
		if err := got[tg.Name()].Err; !errors.Is(err, ErrRegistryDown) || !strings.Contains(err.Error(), "could not be reached") {
			t.Errorf("%s: %v, want the registry given up on", tg, err)
		}
	}
	// the first reference's ping, three tries; nothing after: no HTTPS tried
	if n := ct.n.Load(); n != 3 {
		t.Errorf("%d requests reached the network, want 3", n)
	}
	if st := r.Stats(); st.Pings != 3 {
		t.Errorf("pings counted: %d, want 3", st.Pings)
	}
}

// --timeout bounds a reference's whole resolution, retries and their
// pauses included: against a dead registry, a pause that would outlast it
// is not taken, the error names the timeout, and the registry is given up
// on for the rest of the run. A retry that costs a second or more is said
// without -v.
func TestTimeoutBoundsRetries(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := ln.Addr().String()
	ln.Close()
	ct := &countingTransport{next: http.DefaultTransport.(*http.Transport).Clone()}
	var logs strings.Builder
	r := newResolver(t, Options{Insecure: []string{host}, Attempts: 4, Backoff: time.Second, Timeout: 2 * time.Second, Transport: ct,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	var paused time.Duration
	r.retry.sleep = func(ctx context.Context, d time.Duration) error { paused += d; return nil } // the clock, injected
	tags := []name.Tag{mustTag(t, host+"/app:v1"), mustTag(t, host+"/other:v1")}
	got := r.Resolve(context.Background(), tags)
	for _, tg := range tags {
		err := got[tg.Name()].Err
		if !errors.Is(err, ErrRegistryDown) || !strings.Contains(err.Error(), "connection refused; retries stopped at --timeout 2s") {
			t.Errorf("%s: %v, want the registry given up on, naming --timeout", tg, err)
		}
	}
	if paused > 2*time.Second || paused == 0 {
		t.Errorf("paused %s between tries: want at least one pause, and none past the 2s budget", paused)
	}
	if n := ct.n.Load(); n != 2 {
		t.Errorf("%d requests reached the network, want 2: a third try would start past the budget", n)
	}
	if !strings.Contains(logs.String(), "retrying") || !strings.Contains(logs.String(), "registry="+host) {
		t.Errorf("a retry of a second or more is not said:\n%s", logs.String())
	}
}
