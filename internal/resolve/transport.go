package resolve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
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
// credential or token request ever leaves in clear text by accident.
type httpsOnly struct {
	next     http.RoundTripper
	insecure map[string]bool
}

// ErrPlainHTTP is returned for a plain HTTP request to a host not allowed.
var ErrPlainHTTP = errors.New("plain HTTP refused")

func (t *httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !t.insecure[req.URL.Host] {
		return nil, fmt.Errorf("%w to %s (allow it with --insecure-registry %s)", ErrPlainHTTP, req.URL.Host, req.URL.Host)
	}
	return t.next.RoundTrip(req)
}
