package functiongraph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// Headers of the runtime API's next-invocation response.
const (
	HeaderRequestID         = "X-Cff-Request-Id"
	HeaderInvokeType        = "X-Cff-Invoke-Type"
	HeaderAccessKey         = "X-Cff-Access-Key"
	HeaderSecretKey         = "X-Cff-Secret-Key"
	HeaderSecurityAccessKey = "X-Cff-Security-Access-Key"
	HeaderSecuritySecretKey = "X-Cff-Security-Secret-Key"
	HeaderSecurityToken     = "X-Cff-Security-Token"
)

// Environment variables FunctionGraph sets for a custom runtime.
const (
	EnvAPIAddr   = "RUNTIME_API_ADDR"
	EnvTimeout   = "RUNTIME_TIMEOUT"
	EnvProjectID = "RUNTIME_PROJECT_ID"
	EnvCodeRoot  = "RUNTIME_CODE_ROOT"
)

// DefaultTimeout is the invocation timeout when RUNTIME_TIMEOUT is unset.
const DefaultTimeout = 30 * time.Second

// MaxPayload bounds the event body read from the runtime API.
const MaxPayload = 6 << 20

// Credentials are the temporary credentials of the function's agency, new
// for each invocation.
type Credentials struct {
	AccessKey, SecretKey, SecurityToken string
}

// String never shows the secrets.
func (c Credentials) String() string {
	ak := "****"
	if len(c.AccessKey) > 4 {
		ak = c.AccessKey[:4] + "****"
	}
	return fmt.Sprintf("functiongraph.Credentials{AccessKey: %s, SecretKey: <redacted>, SecurityToken: %t}", ak, c.SecurityToken != "")
}

// GoString never shows the secrets, even with %#v.
func (c Credentials) GoString() string { return c.String() }

// CredentialsFromHeader reads the agency's temporary credentials from an
// invocation's headers, under either name family (X-CFF-Access-Key or
// X-CFF-Security-Access-Key, and the same for the secret key). It returns
// nil when the headers carry none (the function has no agency), and an
// error when they carry only half a key pair.
func CredentialsFromHeader(h http.Header) (*Credentials, error) {
	first := func(names ...string) string {
		for _, n := range names {
			if v := strings.TrimSpace(h.Get(n)); v != "" {
				return v
			}
		}
		return ""
	}
	c := Credentials{
		AccessKey:     first(HeaderSecurityAccessKey, HeaderAccessKey),
		SecretKey:     first(HeaderSecuritySecretKey, HeaderSecretKey),
		SecurityToken: first(HeaderSecurityToken),
	}
	switch {
	case c.AccessKey == "" && c.SecretKey == "":
		return nil, nil
	case c.AccessKey == "" || c.SecretKey == "":
		return nil, errors.New("invocation headers carry half a key pair: expected both X-CFF-Access-Key and X-CFF-Secret-Key (or X-CFF-Security-Access-Key and X-CFF-Security-Secret-Key)")
	}
	return &c, nil
}

// Invocation is one event as the runtime API delivered it.
type Invocation struct {
	RequestID  string
	InvokeType string
	Payload    []byte
	// Arrived is when the event was received; Deadline is Arrived plus the
	// function's timeout.
	Arrived, Deadline time.Time
	// Credentials are nil when the function has no agency.
	Credentials *Credentials
	// CredentialsErr is set when the headers carry half a key pair.
	CredentialsErr error
}

// ErrorResponse is the body posted to the runtime API's error endpoint.
type ErrorResponse struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

// Func handles one invocation. ctx carries the invocation's deadline. A
// returned error becomes an error response; TypedError sets its type.
type Func func(ctx context.Context, inv Invocation) ([]byte, error)

// TypedError is an error with the errorType the runtime API reports.
type TypedError interface {
	error
	ErrorType() string
}

// Client talks to the FunctionGraph runtime API and runs the invocation
// loop. The zero value is not usable: build it with NewClient or ClientFromEnv.
type Client struct {
	base    string
	timeout time.Duration
	http    *http.Client
	log     logrus.FieldLogger
	now     func() time.Time
	// MinBackoff and MaxBackoff bound the wait between retries of a failed
	// call to the runtime API.
	MinBackoff, MaxBackoff time.Duration
	// PostAttempts is how many times a response is posted before it is given up.
	PostAttempts int
}

// NewClient returns a client for the runtime API at addr (host:port, as in
// RUNTIME_API_ADDR, or a URL) whose invocations time out after timeout.
func NewClient(addr string, timeout time.Duration, log logrus.FieldLogger) (*Client, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return nil, fmt.Errorf("%s is empty: expected host:port of the runtime API", EnvAPIAddr)
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%s=%q: expected host:port of the runtime API", EnvAPIAddr, addr)
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		log = l
	}
	return &Client{
		base:    strings.TrimRight(u.String(), "/") + "/v1/runtime/invocation",
		timeout: timeout,
		// No client timeout: the next-invocation call blocks until an event arrives.
		http:         &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		log:          log,
		now:          time.Now,
		MinBackoff:   50 * time.Millisecond,
		MaxBackoff:   2 * time.Second,
		PostAttempts: 5,
	}, nil
}

// ClientFromEnv builds a client from RUNTIME_API_ADDR and RUNTIME_TIMEOUT
// (seconds; DefaultTimeout when unset).
func ClientFromEnv(getenv func(string) string, log logrus.FieldLogger) (*Client, error) {
	timeout := DefaultTimeout
	if v := strings.TrimSpace(getenv(EnvTimeout)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%s=%q: expected the function timeout in whole seconds", EnvTimeout, v)
		}
		timeout = time.Duration(n) * time.Second
	}
	return NewClient(getenv(EnvAPIAddr), timeout, log)
}

// Next waits for the next invocation.
func (c *Client) Next(ctx context.Context) (Invocation, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/request", nil)
	if err != nil {
		return Invocation{}, fmt.Errorf("next invocation: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Invocation{}, fmt.Errorf("next invocation: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxPayload+1))
	if err != nil {
		return Invocation{}, fmt.Errorf("next invocation: read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Invocation{}, fmt.Errorf("next invocation: status %d: %s", resp.StatusCode, clip(body))
	}
	arrived := c.now()
	inv := Invocation{
		RequestID:  strings.TrimSpace(resp.Header.Get(HeaderRequestID)),
		InvokeType: resp.Header.Get(HeaderInvokeType),
		Payload:    body,
		Arrived:    arrived,
		Deadline:   arrived.Add(c.timeout),
	}
	inv.Credentials, inv.CredentialsErr = CredentialsFromHeader(resp.Header)
	if inv.RequestID == "" {
		return inv, errNoRequestID
	}
	return inv, nil
}

var errNoRequestID = fmt.Errorf("next invocation: no %s header", HeaderRequestID)

// Respond posts a successful result.
func (c *Client) Respond(ctx context.Context, requestID string, body []byte) error {
	return c.post(ctx, "/response/"+url.PathEscape(requestID), body)
}

// Fail posts an error result.
func (c *Client) Fail(ctx context.Context, requestID string, e ErrorResponse) error {
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode error response: %w", err)
	}
	return c.post(ctx, "/error/"+url.PathEscape(requestID), body)
}

// post sends a result, retrying broken connections and 5xx answers.
func (c *Client) post(ctx context.Context, path string, body []byte) error {
	var last error
	for attempt := 1; attempt <= max(1, c.PostAttempts); attempt++ {
		if attempt > 1 && !sleep(ctx, c.backoff(attempt-1)) {
			break
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("post %s: %w", path, err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.http.Do(req)
		if err != nil {
			last = err
			continue
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		switch {
		case resp.StatusCode < 300:
			return nil
		case resp.StatusCode >= 500:
			last = fmt.Errorf("status %d: %s", resp.StatusCode, clip(msg))
		default:
			return fmt.Errorf("post %s: status %d: %s", path, resp.StatusCode, clip(msg))
		}
	}
	if last == nil {
		last = ctx.Err()
	}
	return fmt.Errorf("post %s: %w", path, last)
}

// Serve runs the invocation loop until ctx is done: get the next event,
// call fn with the invocation's deadline, post its result. A broken
// connection to the runtime API is retried with backoff, never fatal; a
// panic in fn becomes an error response.
func (c *Client) Serve(ctx context.Context, fn Func) error {
	failures := 0
	for ctx.Err() == nil {
		inv, err := c.Next(ctx)
		if errors.Is(err, errNoRequestID) {
			c.log.WithError(err).Error("invocation without a request id: cannot answer it, skipped")
			sleep(ctx, c.MinBackoff)
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			failures++
			wait := c.backoff(failures)
			c.log.WithError(err).WithField("retry_in", wait.String()).Warn("runtime API unreachable, retrying")
			sleep(ctx, wait)
			continue
		}
		failures = 0
		c.serveOne(ctx, fn, inv)
	}
	return nil
}

// PostGrace bounds the posting of a result once the loop's context has
// ended (SIGTERM during an invocation): the event was delivered, so its
// result, the report of the work done until then, is still posted.
const PostGrace = 5 * time.Second

func (c *Client) serveOne(ctx context.Context, fn Func, inv Invocation) {
	ictx, cancel := context.WithDeadline(ctx, inv.Deadline)
	body, err := call(ictx, fn, inv)
	cancel()
	if ctx.Err() != nil {
		var pcancel context.CancelFunc
		ctx, pcancel = context.WithTimeout(context.WithoutCancel(ctx), PostGrace)
		defer pcancel()
	}
	log := c.log.WithField("request_id", inv.RequestID)
	if err != nil {
		e := ErrorResponse{ErrorMessage: err.Error(), ErrorType: "InternalError"}
		var te TypedError
		if errors.As(err, &te) {
			e.ErrorType = te.ErrorType()
		}
		log.WithField("error_type", e.ErrorType).WithError(err).Error("invocation failed")
		if perr := c.Fail(ctx, inv.RequestID, e); perr != nil {
			log.WithError(perr).Error("could not post the error response")
		}
		return
	}
	if perr := c.Respond(ctx, inv.RequestID, body); perr != nil {
		log.WithError(perr).Error("could not post the response")
	}
}

// call runs fn, turning a panic into an error.
func call(ctx context.Context, fn Func, inv Invocation) (body []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error: panic: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(ctx, inv)
}

func (c *Client) backoff(n int) time.Duration {
	d := c.MinBackoff
	for i := 1; i < n && d < c.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, c.MaxBackoff)
}

// sleep waits d or until ctx is done; it reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func clip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
