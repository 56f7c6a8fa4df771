package functiongraph

import (
	"context"
	"errors"

	"github.com/tagwarden/tagwarden/adapters/events"
	"github.com/tagwarden/tagwarden/adapters/invocation"
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

// Pipeline returns the invocation pipeline of FunctionGraph: its kinds of
// event and payload bound, with h and the start-up error initErr.
func Pipeline(h *handler.Handler, initErr error) invocation.Pipeline {
	return invocation.Pipeline{Handler: h, Kinds: Kinds, MaxPayload: MaxPayload, InitErr: initErr}
}

// CloudFunc returns what one invocation reaches with its temporary
// credentials: the key store of each target, project discovery,
// asynchronous invocation of the function itself.
type CloudFunc func(ctx context.Context, creds Credentials) invocation.Cloud

// TypeNoCredentials is the errorType of an invocation without temporary
// credentials.
const TypeNoCredentials = "NoCredentials"

// ErrNoCredentials: the invocation carries no temporary credentials
// because the function has no agency.
var ErrNoCredentials = errors.New("no temporary credentials in the invocation: give the function an agency " +
	"that grants FunctionGraph the KMS actions (kms:cmk:list, kms:cmk:get, kms:cmkTag:listInstance, kms:cmkTag:list, " +
	"kms:cmkTag:batch); see docs/deploy.md")

// Error is an invocation error with the errorType posted to the runtime
// API: InvalidEvent, NoCredentials, ConfigurationError or InternalError.
type Error = invocation.Error

// StoreFunc opens the key store for one invocation with its temporary
// credentials.
type StoreFunc func(ctx context.Context, creds Credentials) (handler.KeyStore, error)

// Function is tagwarden on FunctionGraph: it decodes each event, opens the
// key store with the invocation's credentials and hands the request to the
// handler, through the one invocation pipeline (package invocation). Its
// Invoke method is a Func for Client.Serve.
type Function struct {
	// Handler serves the requests; built once per instance.
	Handler *handler.Handler
	// Cloud builds what an invocation reaches with its credentials; when
	// nil, OpenStore opens the one key store.
	Cloud CloudFunc
	// OpenStore opens the key store for an invocation, when Cloud is nil.
	OpenStore StoreFunc
	// Runs configures targets, fan-outs and chains.
	Runs invocation.Runs
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
// does not encode (InternalError) are errors, each an *Error.
func (f *Function) Invoke(ctx context.Context, inv Invocation) ([]byte, error) {
	ctx = handler.WithRequestID(ctx, inv.RequestID)
	p := Pipeline(f.Handler, f.InitErr)
	p.Runs = f.Runs
	return p.Invoke(ctx, inv.Payload, f.cloud(ctx, inv))
}

// cloud returns the invocation's cloud: with no credentials, every part
// answers NoCredentials.
func (f *Function) cloud(ctx context.Context, inv Invocation) invocation.Cloud {
	var err error
	switch {
	case inv.CredentialsErr != nil:
		err = &Error{Type: TypeNoCredentials, Err: inv.CredentialsErr}
	case inv.Credentials == nil:
		err = &Error{Type: TypeNoCredentials, Err: ErrNoCredentials}
	case f.Cloud != nil:
		return f.Cloud(ctx, *inv.Credentials)
	case f.OpenStore == nil:
		err = &Error{Type: invocation.TypeConfiguration, Err: invocation.ErrNoStore}
	default:
		creds := *inv.Credentials
		return invocation.OpenFunc(func(ctx context.Context) (handler.KeyStore, error) { return f.OpenStore(ctx, creds) }).Cloud()
	}
	return invocation.Cloud{Err: err}
}
