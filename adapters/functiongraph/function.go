package functiongraph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tagwarden/tagwarden/adapters/events"
	"github.com/tagwarden/tagwarden/handler"
)

// Kinds are the payloads FunctionGraph delivers to tagwarden: TIMER and CTS
// triggers, EventGrid CloudEvents (single and batch) and the manual payload.
var Kinds = []events.Kind{events.KindManual, events.KindTimer, events.KindCTS, events.KindCloudEvent, events.KindCloudEventBatch}

// Decode turns a FunctionGraph event into a request; the error, wrapping
// events.ErrInvalid, names the payloads expected.
func Decode(payload []byte) (handler.Request, error) {
	return events.Decode(payload, Kinds...)
}

// ErrNoCredentials: the invocation carries no temporary credentials
// because the function has no agency.
var ErrNoCredentials = errors.New("no temporary credentials in the invocation: give the function an agency " +
	"that grants FunctionGraph the KMS actions (kms:cmk:list, kms:cmk:get, kms:cmkTag:listInstance, kms:cmkTag:list, " +
	"kms:cmkTag:batch); see docs/deploy.md")

// Error is an invocation error with the errorType posted to the runtime API.
type Error struct {
	// Type is the errorType: InvalidEvent, NoCredentials, ConfigurationError
	// or InternalError.
	Type string
	Err  error
}

// Error returns the cause's message.
func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrorType returns the errorType for the runtime API.
func (e *Error) ErrorType() string { return e.Type }

// StoreFunc opens the key store for one invocation with its temporary
// credentials.
type StoreFunc func(ctx context.Context, creds Credentials) (handler.KeyStore, error)

// Function is tagwarden on FunctionGraph: it decodes each event, opens the
// key store with the invocation's credentials and hands the request to the
// handler. Its Invoke method is a Func for Client.Serve.
type Function struct {
	// Handler serves the requests; built once per instance.
	Handler *handler.Handler
	// OpenStore opens the key store for an invocation.
	OpenStore StoreFunc
	// InitErr, when set, is a configuration error found at start-up: every
	// invocation answers it (type ConfigurationError) instead of running.
	InitErr error
}

// Invoke serves one invocation. Whenever the handler runs, the response
// body is its report as JSON, also when the request failed as a whole: the
// report then carries error and error_kind, with the keys already handled
// and the continuation. Only a payload of no known shape (InvalidEvent), an
// invocation without credentials (NoCredentials), a configuration error or
// a key store that does not open (ConfigurationError), and a report that
// does not encode (InternalError) are errors.
func (f *Function) Invoke(ctx context.Context, inv Invocation) ([]byte, error) {
	if f.InitErr != nil {
		return nil, &Error{Type: "ConfigurationError", Err: f.InitErr}
	}
	if len(inv.Payload) > MaxPayload {
		return nil, &Error{Type: "InvalidEvent", Err: fmt.Errorf("%w: payload larger than %d bytes", events.ErrInvalid, MaxPayload)}
	}
	req, err := Decode(inv.Payload)
	if err != nil {
		return nil, &Error{Type: "InvalidEvent", Err: err}
	}
	ctx = handler.WithRequestID(ctx, inv.RequestID)
	var store handler.KeyStore
	if req.Mode != handler.ModeIgnore {
		switch {
		case inv.CredentialsErr != nil:
			return nil, &Error{Type: "NoCredentials", Err: inv.CredentialsErr}
		case inv.Credentials == nil:
			return nil, &Error{Type: "NoCredentials", Err: ErrNoCredentials}
		}
		if f.OpenStore == nil {
			return nil, &Error{Type: "ConfigurationError", Err: errors.New("no key store configured")}
		}
		store, err = f.OpenStore(ctx, *inv.Credentials)
		if err != nil {
			return nil, &Error{Type: "ConfigurationError", Err: fmt.Errorf("open the key store: %w", err)}
		}
	}
	body, err := json.Marshal(f.Handler.Handle(ctx, store, req))
	if err != nil {
		return nil, &Error{Type: "InternalError", Err: fmt.Errorf("encode the report: %w", err)}
	}
	return body, nil
}
