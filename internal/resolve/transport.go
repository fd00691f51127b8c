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
	"net/url"
	"sync"
	"sync/atomic"
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
	down     sync.Map // host -> the error it was given up on with
	log      *slog.Logger
	told     sync.Map // host + attempt -> true: a retry said without -v
}

// unwrapURL is the cause of a url.Error: what went wrong, without the URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
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

// ErrRegistryDown is a registry that could not be reached at all earlier in
// the run, every retry spent: it is not asked again.
var ErrRegistryDown = errors.New("given up on for the rest of the run")

// downError is a request not sent to a registry given up on; it is both
// ErrRegistryDown and what the registry was given up on for.
type downError struct{ cause error }

func (e *downError) Error() string   { return ErrRegistryDown.Error() + ": " + e.cause.Error() }
func (e *downError) Unwrap() []error { return []error{ErrRegistryDown, e.cause} }

// unreachable tells an error that says nothing answered at the address:
// refused, reset, no route, no such host, or no answer in time.
func unreachable(err error) bool {
	var dns *net.DNSError
	var op *net.OpError
	return errors.As(err, &dns) || (errors.As(err, &op) && op.Op == "dial") || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, context.DeadlineExceeded)
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	parent := req.Context()
	backoff := t.backoff
	host := req.URL.Host
	for attempt := 1; ; attempt++ {
		if down, ok := t.down.Load(host); ok {
			return nil, &downError{cause: down.(error)}
		}
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
			return nil, t.outOfTime(parent, host, err)
		}
		again := attempt < t.attempts &&
			((err != nil && retryableError(err)) || (err == nil && retryableStatus(resp.StatusCode)))
		if !again {
			if err != nil {
				cancel()
				gone := attempt == t.attempts && unreachable(err)
				if errors.Is(err, context.DeadlineExceeded) {
					err = fmt.Errorf("no answer within %s: %w", t.timeout, unwrapURL(err))
				}
				if gone {
					// given up on for the run: the other requests fail at once
					down, _ := t.down.LoadOrStore(host, unwrapURL(err))
					return nil, &downError{cause: down.(error)}
				}
				return nil, err
			}
			resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
			return resp, nil
		}
		pause := backoff + rand.N(backoff/4+1)
		why := ""
		if resp != nil {
			if d, ok := wait.RetryAfter(resp.Header, time.Now()); ok {
				pause = d
			}
			why = resp.Status
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		} else {
			why = unwrapURL(err).Error()
		}
		cancel()
		if pause > t.maxWait {
			pause = t.maxWait
		}
		if deadline, ok := parent.Deadline(); ok && time.Until(deadline) < pause {
			// the pause would outlast the reference's time: give up now
			return nil, t.outOfTime(parent, host, err)
		}
		if pause >= time.Second && t.log != nil {
			if _, said := t.told.LoadOrStore(fmt.Sprintf("%s#%d", host, attempt), true); !said {
				t.log.Warn("a registry request failed; retrying", "registry", host, "attempt", attempt, "of", t.attempts, "in", pause.Round(100*time.Millisecond), "err", why)
			}
		}
		if err := t.sleep(parent, pause); err != nil {
			return nil, t.outOfTime(parent, host, nil)
		}
		backoff *= 2
	}
}

// outOfTime is the error of a request whose reference ran out of time
// (or whose run was stopped), last the error of its last attempt: a
// registry nothing answered at is given up on for the run.
func (t *retryTransport) outOfTime(parent context.Context, host string, last error) error {
	cause := context.Cause(parent)
	if cause == nil { // the deadline is near, not reached: no pause fits
		cause = &budgetError{t.timeout}
	}
	var be *budgetError
	if !errors.As(cause, &be) {
		return parent.Err() // the run was stopped
	}
	if last != nil && unreachable(last) && !errors.Is(last, context.Canceled) {
		why := cause
		if !errors.Is(last, context.DeadlineExceeded) {
			// it refused, it did not time out: say so
			why = fmt.Errorf("%v; retries stopped at --timeout %s", unwrapURL(last), t.timeout)
		}
		down, _ := t.down.LoadOrStore(host, why)
		return &downError{cause: down.(error)}
	}
	return cause
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

// httpsOnly refuses plain HTTP to every host not explicitly allowed, and
// reaches an allowed one over plain HTTP alone, so no
// credential or token request ever leaves in clear text by accident. It
// remembers the hosts that answered an HTTPS request with plain HTTP: only
// for those is the refusal a hint to allow the host; for any other host
// (go-containerregistry tries HTTP as well for local addresses) the refusal
// stands aside and the HTTPS error is the answer.
type httpsOnly struct {
	next     http.RoundTripper
	insecure map[string]bool
	plain    sync.Map     // host -> true: answered HTTPS with HTTP
	pings    atomic.Int64 // GET /v2/ sent
}

// ErrPlainHTTP is returned for a plain HTTP request to a host that answers
// only plain HTTP and is not allowed to.
var ErrPlainHTTP = errors.New("plain HTTP refused")

// errHTTPSNotTried is returned for an HTTPS request to a registry the
// operator allowed plain HTTP to: nothing was sent.
var errHTTPSNotTried = errors.New("HTTPS not tried: the registry is reached over plain HTTP (--insecure-registry)")

// errHTTPNotTried is returned for a plain HTTP request to a host that has
// not shown it speaks plain HTTP: nothing was sent.
var errHTTPNotTried = errors.New("plain HTTP not tried")

func (t *httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	if req.URL.Scheme == "https" && t.insecure[host] {
		// The operator said plain HTTP: no TLS handshake is tried first
		// (go-containerregistry then pings over plain HTTP at once).
		return nil, errHTTPSNotTried
	}
	if req.URL.Path == "/v2/" {
		t.pings.Add(1)
	}
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

// MaxResponse is the most bytes pinbot reads of any one registry answer: a
// manifest, an index, a config blob, a token, an error. The distribution
// spec lets registries refuse manifests over 4 MiB; a config past that is
// no image pinbot needs to read to pin.
const MaxResponse = 4 << 20

// ErrTooLarge is an answer past MaxResponse: it is not read.
var ErrTooLarge = fmt.Errorf("larger than %d MiB: not read", MaxResponse>>20)

// boundTransport reads no answer past MaxResponse bytes: one that says it is
// longer fails at once, and one that turns out longer fails at the bound.
type boundTransport struct{ next http.RoundTripper }

func (t *boundTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > MaxResponse && req.Method != http.MethodHead {
		resp.Body.Close()
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), ErrTooLarge)
	}
	resp.Body = &boundBody{ReadCloser: resp.Body, left: MaxResponse}
	return resp, nil
}

type boundBody struct {
	io.ReadCloser
	left int64
}

func (b *boundBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// one byte more tells a body of exactly the bound from a longer one
		var one [1]byte
		if n, _ := io.ReadFull(b.ReadCloser, one[:]); n > 0 {
			return 0, ErrTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// budgetError is a reference's time running out: every request for it,
// retries and their pauses included, shares one --timeout.
type budgetError struct{ d time.Duration }

func (e *budgetError) Error() string {
	return fmt.Sprintf("no answer within --timeout %s, retries included", e.d)
}

// Unwrap makes it a deadline: what waits on it stops as at one.
func (e *budgetError) Unwrap() error { return context.DeadlineExceeded }
