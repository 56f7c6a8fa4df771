package selfinvoke

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// Defaults of RetryPolicy and of the dispatchers' HTTP timeout.
const (
	DefaultMaxAttempts = 4
	DefaultBaseBackoff = 100 * time.Millisecond
	DefaultMaxBackoff  = 2 * time.Second
	DefaultHTTPTimeout = 10 * time.Second
)

// RetryPolicy bounds the attempts of one dispatch. A call is repeated only
// when the platform certainly did not accept it (ErrUnavailable), and
// never past ctx's deadline. Zero fields take the defaults.
type RetryPolicy struct {
	// MaxAttempts counts every request, the first included (default
	// DefaultMaxAttempts; 1: no retry).
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape the exponential backoff with full
	// jitter between attempts (defaults DefaultBaseBackoff, DefaultMaxBackoff).
	BaseBackoff, MaxBackoff time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.BaseBackoff <= 0 {
		p.BaseBackoff = DefaultBaseBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = DefaultMaxBackoff
	}
	return p
}

// backoff is the wait before attempt n+1 (n ≥ 1): a random duration up to
// BaseBackoff·2^(n-1), capped at MaxBackoff.
func (p RetryPolicy) backoff(n int) time.Duration {
	d := p.BaseBackoff
	for i := 1; i < n && d < p.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.MaxBackoff)
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

// attempt records what one request reached: a connection to the platform
// or not. Without a connection, not a byte of the request was sent.
type attempt struct{ connected atomic.Bool }

type attemptKey struct{}

// run calls call until it succeeds, fails for good, or the policy or ctx
// ends the attempts. classify turns a failed attempt into an *Error given
// whether the attempt reached a connection; scrub masks the payload in
// its message.
func (p RetryPolicy) run(ctx context.Context, target string, red *redactor,
	call func(ctx context.Context) (string, error), classify func(err error, connected bool) *Error,
) (string, error) {
	p = p.withDefaults()
	var last *Error
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			if last != nil {
				return "", last
			}
			return "", &Error{Target: target, Kind: ErrUnavailable, Message: "not sent: " + err.Error(), Err: err}
		}
		a := &attempt{}
		id, err := call(context.WithValue(ctx, attemptKey{}, a))
		if err == nil {
			return id, nil
		}
		e := classify(err, a.connected.Load())
		e.Target, e.Attempts = target, n
		e.Message = red.scrub(e.Message)
		if e.Kind != ErrUnavailable || n >= p.MaxAttempts || ctx.Err() != nil {
			return "", e
		}
		wait := p.backoff(n)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= wait {
			return "", e
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", e
		case <-t.C:
		}
		last = e
	}
}

// tracking is the HTTP transport of the dispatchers: it binds each request
// to ctx when it has none of its own (the Huawei Cloud SDK makes requests
// without a context), and records in the request's attempt whether a
// connection was obtained.
type tracking struct {
	ctx  context.Context // nil: the request's own
	base http.RoundTripper
}

func (t tracking) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx := r.Context()
	if t.ctx != nil {
		ctx = t.ctx
	}
	if a, ok := ctx.Value(attemptKey{}).(*attempt); ok {
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			GotConn: func(httptrace.GotConnInfo) { a.connected.Store(true) },
		})
	}
	return t.base.RoundTrip(r.WithContext(ctx))
}

// sharedTransport serves the dispatchers built without a Transport, so that
// a warm function keeps its connections. It holds no credentials.
var sharedTransport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 16
	return t
}()
