package resolve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/pinbot/pinbot/internal/wait"
)

// retryTransport retries a request on 408, 429 and 5xx answers and on
// dropped connections, with exponential backoff that a Retry-After header
// overrides, and gives each attempt its own timeout.
type retryTransport struct {
	next     http.RoundTripper
	attempts int           // total, first try included
	backoff  time.Duration // before the second try; doubles after
	maxWait  time.Duration // the longest pause, Retry-After included
	timeout  time.Duration // per attempt
	sleep    func(context.Context, time.Duration) error
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func retryableError(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	parent := req.Context()
	backoff := t.backoff
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(parent, t.timeout)
		r := req.Clone(ctx)
		if attempt > 1 && req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				cancel()
				return nil, fmt.Errorf("%s %s: cannot retry a request whose body cannot be replayed", req.Method, req.URL.Redacted())
			}
			body, err := req.GetBody()
			if err != nil {
				cancel()
				return nil, err
			}
			r.Body = body
		}
		resp, err := t.next.RoundTrip(r)
		if parent.Err() != nil {
			if resp != nil {
				resp.Body.Close()
			}
			cancel()
			return nil, parent.Err()
		}
		again := attempt < t.attempts &&
			((err != nil && retryableError(err)) || (err == nil && retryableStatus(resp.StatusCode)))
		if !again {
			if err != nil {
				cancel()
				if errors.Is(err, context.DeadlineExceeded) {
					err = fmt.Errorf("no answer within %s: %w", t.timeout, err)
				}
				return nil, err
			}
			resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
			return resp, nil
		}
		pause := backoff + rand.N(backoff/4+1)
		if resp != nil {
			if d, ok := wait.RetryAfter(resp.Header, time.Now()); ok {
				pause = d
			}
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		cancel()
		if pause > t.maxWait {
			pause = t.maxWait
		}
		if err := t.sleep(parent, pause); err != nil {
			return nil, err
		}
		backoff *= 2
	}
}

// cancelBody ends an attempt's context when its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// httpsOnly refuses plain HTTP to every host not explicitly allowed, so no
// credential or token request ever leaves in clear text by accident. It
// remembers the hosts that answered an HTTPS request with plain HTTP: only
// for those is the refusal a hint to allow the host; for any other host
// (go-containerregistry tries HTTP as well for local addresses) the refusal
// stands aside and the HTTPS error is the answer.
type httpsOnly struct {
	next     http.RoundTripper
	insecure map[string]bool
	plain    sync.Map // host -> true: answered HTTPS with HTTP
}

// ErrPlainHTTP is returned for a plain HTTP request to a host that answers
// only plain HTTP and is not allowed to.
var ErrPlainHTTP = errors.New("plain HTTP refused")

// errHTTPNotTried is returned for a plain HTTP request to a host that has
// not shown it speaks plain HTTP: nothing was sent.
var errHTTPNotTried = errors.New("plain HTTP not tried")

func (t *httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	if req.URL.Scheme == "http" && !t.insecure[host] {
		if _, ok := t.plain.Load(host); ok {
			return nil, fmt.Errorf("%w: %s answers HTTPS with plain HTTP (allow it with --insecure-registry %s)", ErrPlainHTTP, host, host)
		}
		return nil, errHTTPNotTried
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil && req.URL.Scheme == "https" && answersPlainHTTP(err) {
		t.plain.Store(host, true)
	}
	return resp, err
}

// answersPlainHTTP tells a TLS handshake that got an HTTP response back.
func answersPlainHTTP(err error) bool {
	var rh tls.RecordHeaderError
	return errors.Is(err, http.ErrSchemeMismatch) || (errors.As(err, &rh) && string(rh.RecordHeader[:]) == "HTTP/")
}

// logTransport logs every request that goes out when it starts and when it
// ends, so that a registry that hangs shows while it hangs (-v). It logs
// the method and the URL, never a header: credentials stay out.
type logTransport struct {
	next http.RoundTripper
	log  *slog.Logger
}

func (t *logTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.log.Enabled(req.Context(), slog.LevelDebug) {
		return t.next.RoundTrip(req)
	}
	u := req.URL.Redacted()
	t.log.Debug("registry request", "method", req.Method, "url", u)
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	took := time.Since(start).Round(time.Millisecond)
	if err != nil {
		t.log.Debug("registry request failed", "method", req.Method, "url", u, "err", err, "took", took)
		return nil, err
	}
	t.log.Debug("registry answered", "method", req.Method, "url", u, "status", resp.StatusCode, "took", took)
	return resp, nil
}
