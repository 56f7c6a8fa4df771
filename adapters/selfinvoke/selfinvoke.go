package selfinvoke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
)

// Dispatcher invokes the function itself asynchronously.
type Dispatcher interface {
	// Dispatch invokes the function asynchronously with payload, a JSON
	// object, and returns the platform's request id once the platform has
	// accepted the invocation. Its errors are *Error, of one kind:
	// ErrRefused (with ErrTooLarge or ErrInvalidPayload for a payload
	// refused before sending), ErrUnavailable or ErrUnknownOutcome.
	Dispatch(ctx context.Context, payload []byte) (requestID string, err error)
}

// Payload limits of the platforms' invocation APIs, in bytes (see the
// package documentation for the sources).
const (
	// FunctionGraphMaxAsyncPayload bounds the request body of an
	// asynchronous FunctionGraph invocation: 256 KB (FunctionGraph user
	// guide, "Notes and Constraints", functiongraph_01_0150).
	FunctionGraphMaxAsyncPayload = 256 << 10
	// LambdaMaxAsyncPayload bounds the payload of an asynchronous (Event)
	// Lambda invocation: 1 MB since October 2025 (Lambda API reference,
	// Invoke).
	LambdaMaxAsyncPayload = 1 << 20
	// LambdaMaxSyncPayload bounds the payload of a synchronous
	// (RequestResponse) Lambda invocation: 6 MB, 6291456 bytes in the
	// service's error message.
	LambdaMaxSyncPayload = 6 << 20
)

// Credentials are an access key pair with the security token of temporary
// credentials (FunctionGraph hands new ones to every invocation): the KMS
// adapter's type, whose String and GoString never show the secrets, so
// that one value serves the store and the dispatcher.
type Credentials = huaweikms.Credentials

// The kinds of a failed dispatch: every *Error matches exactly one of
// ErrRefused, ErrUnavailable and ErrUnknownOutcome with errors.Is.
var (
	// ErrRefused: the platform refused the invocation for good (denied, not
	// found, too large, invalid), or the call cannot be made (bad
	// configuration). Repeating the same call fails the same way.
	ErrRefused = errors.New("refused")
	// ErrUnavailable: the platform certainly did not accept the invocation
	// (throttled, a server error, unreachable, or ctx ended before it was
	// sent); it may be tried later.
	ErrUnavailable = errors.New("not accepted, try later")
	// ErrUnknownOutcome: the request was sent and no answer came (a
	// timeout, a broken connection, an unreadable answer): the platform may
	// have accepted it, and sending it again could deliver it twice.
	ErrUnknownOutcome = errors.New("sent, and the outcome is unknown: it may have been accepted")
)

// Refusals before sending; each comes with ErrRefused.
var (
	// ErrTooLarge: the payload is over the platform's limit (checked before
	// sending, or answered 413).
	ErrTooLarge = errors.New("payload too large")
	// ErrInvalidPayload: the payload is not a JSON object.
	ErrInvalidPayload = errors.New("payload is not a JSON object")
)

// Error is a failed dispatch. It unwraps to its Kind and to its cause.
type Error struct {
	// Target is the function: its URN or its name or ARN.
	Target string
	// Kind is ErrRefused, ErrUnavailable or ErrUnknownOutcome.
	Kind error
	// Status is the HTTP status of the platform's answer, 0 without one.
	Status int
	// Code is the service's error code: FSS.1051, APIGW.0301,
	// ResourceNotFoundException, ...
	Code string
	// Message is the service's message (strings of the payload masked,
	// clipped) or what went wrong.
	Message string
	// RequestID is the platform's request id of the failed call, if any.
	RequestID string
	// Attempts is how many attempts were made, sent or not (0: refused
	// before the first, or ctx had ended).
	Attempts int
	// Err is the cause: ErrTooLarge, a network error, ctx's error, ...
	Err error
}

// Error describes the failure in one line, without the payload.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("async invoke of ")
	b.WriteString(e.Target)
	b.WriteString(": ")
	if e.Kind != nil {
		b.WriteString(e.Kind.Error())
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	var tail []string
	if e.Status != 0 {
		tail = append(tail, fmt.Sprintf("http %d", e.Status))
	}
	if e.RequestID != "" {
		tail = append(tail, "request id "+e.RequestID)
	}
	if e.Attempts > 1 {
		tail = append(tail, fmt.Sprintf("%d attempts", e.Attempts))
	}
	if len(tail) > 0 {
		b.WriteString(" [")
		b.WriteString(strings.Join(tail, ", "))
		b.WriteString("]")
	}
	return b.String()
}

// Unwrap returns the kind and the cause, so that errors.Is works on both.
// Denied reports whether the platform refused the credentials or the
// permission (401, 403): the identity may not invoke the function.
func (e *Error) Denied() bool { return e.Status == 401 || e.Status == 403 }

func (e *Error) Unwrap() []error {
	out := []error{e.Kind}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// fromStatus classifies an error answer of the platform: 429 and 503 were
// certainly not accepted, the other 4xx are refusals for good; the other
// 5xx, and anything else reaching the error path (a 2xx whose body could
// not be read), may have been accepted.
func fromStatus(status int, code, msg, requestID string) *Error {
	e := &Error{Status: status, Code: code, Message: msg, RequestID: requestID}
	switch {
	case status == 429 || status == 503:
		// Throttled, or the service says it is unavailable: the call was
		// turned away at the door.
		e.Kind = ErrUnavailable
	case status >= 500:
		// A gateway's 502 or 504, or a 500, may come after the backend
		// accepted the invocation: sending it again could deliver it twice
		// (a fork of the chain), so it is not retried.
		e.Kind = ErrUnknownOutcome
	case status == 413:
		e.Kind, e.Err = ErrRefused, ErrTooLarge
	case status >= 400:
		e.Kind = ErrRefused
	default:
		e.Kind = ErrUnknownOutcome
	}
	return e
}

// fromTransport classifies a failure without an answer. connected reports
// whether a connection to the platform was obtained: without one, not a
// byte of the request was sent.
func fromTransport(err error, connected bool) *Error {
	switch {
	case connected:
		return &Error{Kind: ErrUnknownOutcome, Message: "no answer to a sent request: " + err.Error(), Err: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: ErrUnavailable, Message: "not sent: " + err.Error(), Err: err}
	case isNetwork(err):
		return &Error{Kind: ErrUnavailable, Message: "could not connect: " + err.Error(), Err: err}
	default:
		return &Error{Kind: ErrRefused, Message: "the call could not be made: " + err.Error(), Err: err}
	}
}

// isNetwork reports whether err is a failure to reach the platform: a
// dial, a name resolution, a connection closed or reset.
func isNetwork(err error) bool {
	var oe *net.OpError
	var de *net.DNSError
	return errors.As(err, &oe) || errors.As(err, &de) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

// decodeObject decodes payload, which must be one JSON object, keeping
// numbers as json.Number. Its errors never quote the payload.
func decodeObject(payload []byte) (map[string]any, error) {
	trimmed := bytes.TrimLeft(payload, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, errors.New("the payload is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("the payload is not valid JSON (at byte %d)", se.Offset)
		}
		return nil, errors.New("the payload is not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("the payload holds more than one JSON value")
	}
	return m, nil
}

// checkPayload decodes payload as a JSON object no longer than limit bytes
// once encoded (size gives the encoded length; nil: len(payload)).
func checkPayload(target, platform string, payload []byte, limit int, size func(map[string]any) (int, error)) (map[string]any, *redactor, error) {
	m, err := decodeObject(payload)
	if err != nil {
		return nil, nil, &Error{Target: target, Kind: ErrRefused, Message: err.Error(), Err: ErrInvalidPayload}
	}
	n := len(payload)
	if size != nil {
		if n, err = size(m); err != nil {
			return nil, nil, &Error{Target: target, Kind: ErrRefused, Message: "encode the payload: " + err.Error(), Err: ErrInvalidPayload}
		}
	}
	if n > limit {
		return nil, nil, &Error{Target: target, Kind: ErrRefused, Err: ErrTooLarge,
			Message: fmt.Sprintf("the payload has %d bytes, over the %d-byte limit of %s asynchronous invocations", n, limit, platform)}
	}
	return m, newRedactor(m), nil
}

// minSecret is the shortest string of the payload masked in messages:
// shorter ones (true, "keys", a mode) say nothing of a continuation and
// would mask ordinary words.
const minSecret = 8

// redactor masks the payload's strings in the service's messages: a
// service that quotes the request must not carry the continuation into an
// error, and so into a log.
type redactor struct{ secrets []string }

func newRedactor(m map[string]any) *redactor {
	r := &redactor{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, x := range v { // keys are the format's, not secrets
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		case string:
			r.add(v)
		}
	}
	walk(m)
	// Longest first, so that a string containing another is masked whole.
	slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
	return r
}

func (r *redactor) add(s string) {
	if len(s) < minSecret {
		return
	}
	r.secrets = append(r.secrets, s)
	// As it appears inside JSON, escaped.
	if b, err := json.Marshal(s); err == nil {
		if q := string(b[1 : len(b)-1]); q != s {
			r.secrets = append(r.secrets, q)
		}
	}
}

// mask masks the payload's strings in s.
func (r *redactor) mask(s string) string {
	if r != nil {
		for _, x := range r.secrets {
			s = strings.ReplaceAll(s, x, "<redacted>")
		}
	}
	return s
}

// scrub masks the payload's strings in msg and clips it.
func (r *redactor) scrub(msg string) string {
	msg = strings.TrimSpace(r.mask(msg))
	if len(msg) > maxMessage {
		msg = strings.ToValidUTF8(msg[:maxMessage], "") + "…"
	}
	return msg
}

// maxMessage bounds the service's message kept in an Error.
const maxMessage = 300
