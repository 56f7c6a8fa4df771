package invocation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tagwarden/tagwarden/adapters/events"
	"github.com/tagwarden/tagwarden/handler"
)

// Error types of the answers that carry no report ({"errorMessage",
// "errorType"} on the platforms).
const (
	TypeInvalidEvent  = "InvalidEvent"
	TypeConfiguration = "ConfigurationError"
	TypeInternal      = "InternalError"
)

// ErrNoStore: the function has no way to open a key store.
var ErrNoStore = errors.New("no key store configured")

// Error is an invocation that leaves no report, with its errorType.
type Error struct {
	// Type is the errorType: one of the Type constants, or a platform's own.
	Type string
	// Err is the cause; its message is the errorMessage.
	Err error
}

// Error returns the cause's message.
func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrorType returns the errorType.
func (e *Error) ErrorType() string { return e.Type }

// OpenFunc opens the key store of one invocation. An *Error it returns is
// the answer as it is; any other error is answered as a
// ConfigurationError.
type OpenFunc func(ctx context.Context) (handler.KeyStore, error)

// Pipeline serves invocations of one platform. The zero value of each
// field but Handler means none; a Pipeline is a value, cheap to build per
// invocation.
type Pipeline struct {
	// Handler serves the requests; built once per process.
	Handler *handler.Handler
	// Kinds are the payloads the platform takes (nil: every kind).
	Kinds []events.Kind
	// MaxPayload, when positive, bounds the payload in bytes.
	MaxPayload int
	// InitErr, when set, is a configuration error found at start-up: every
	// invocation answers it (ConfigurationError) instead of running.
	InitErr error
}

// Invoke serves one invocation: Decode, Run, and the report as JSON.
// ctx carries the invocation's deadline and request id
// (handler.WithRequestID). Every error is an *Error.
func (p Pipeline) Invoke(ctx context.Context, payload []byte, open OpenFunc) ([]byte, error) {
	req, err := p.Decode(payload)
	if err != nil {
		return nil, err
	}
	rep, err := p.Run(ctx, req, open)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return nil, &Error{Type: TypeInternal, Err: fmt.Errorf("encode the report: %w", err)}
	}
	return body, nil
}

// Decode turns a payload into a request: a ConfigurationError when the
// process did not start (InitErr), whatever the payload; an InvalidEvent,
// wrapping events.ErrInvalid and naming the payloads expected, when the
// payload is too large or of no kind the platform takes.
func (p Pipeline) Decode(payload []byte) (handler.Request, error) {
	if p.InitErr != nil {
		return handler.Request{}, &Error{Type: TypeConfiguration, Err: p.InitErr}
	}
	if p.MaxPayload > 0 && len(payload) > p.MaxPayload {
		return handler.Request{}, &Error{Type: TypeInvalidEvent, Err: fmt.Errorf("%w: payload larger than %d bytes", events.ErrInvalid, p.MaxPayload)}
	}
	req, err := events.Decode(payload, p.Kinds...)
	if err != nil {
		return handler.Request{}, &Error{Type: TypeInvalidEvent, Err: err}
	}
	return req, nil
}

// Run serves a decoded request: it opens the key store with open, unless
// the request is one to ignore (which needs no store, and so no
// credentials), and returns the handler's report, whatever its error. The
// error, an *Error, is for what leaves no report: a configuration error
// (InitErr, no handler, no open function, a store that does not open) or
// open's own *Error.
func (p Pipeline) Run(ctx context.Context, req handler.Request, open OpenFunc) (handler.Report, error) {
	switch {
	case p.InitErr != nil:
		return handler.Report{}, &Error{Type: TypeConfiguration, Err: p.InitErr}
	case p.Handler == nil:
		return handler.Report{}, &Error{Type: TypeConfiguration, Err: errors.New("no handler configured")}
	}
	var store handler.KeyStore
	if req.Mode != handler.ModeIgnore {
		if open == nil {
			return handler.Report{}, &Error{Type: TypeConfiguration, Err: ErrNoStore}
		}
		s, err := open(ctx)
		if err != nil {
			if ie := (*Error)(nil); errors.As(err, &ie) {
				return handler.Report{}, &Error{Type: ie.Type, Err: err}
			}
			return handler.Report{}, &Error{Type: TypeConfiguration, Err: fmt.Errorf("open the key store: %w", err)}
		}
		store = s
	}
	return p.Handler.Handle(ctx, store, req), nil
}
