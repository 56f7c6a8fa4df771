package awslambda

import (
	"context"
	"errors"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/tagwarden/tagwarden/adapters/events"
	"github.com/tagwarden/tagwarden/adapters/invocation"
	"github.com/tagwarden/tagwarden/handler"
)

// Kinds are the payloads taken on Lambda-compatible runtimes.
var Kinds = []events.Kind{events.KindManual, events.KindScheduled, events.KindCTS, events.KindCloudEvent, events.KindCloudEventBatch}

// Decode turns a payload into a request; the error, wrapping
// events.ErrInvalid, names the payloads expected.
func Decode(payload []byte) (handler.Request, error) {
	return events.Decode(payload, Kinds...)
}

// Pipeline returns the invocation pipeline of Lambda-compatible runtimes:
// their kinds of event, with h and the start-up error initErr.
func Pipeline(h *handler.Handler, initErr error) invocation.Pipeline {
	return invocation.Pipeline{Handler: h, Kinds: Kinds, InitErr: initErr}
}

// StoreFunc opens the key store for one invocation.
type StoreFunc func(ctx context.Context) (handler.KeyStore, error)

// Function is tagwarden on a Lambda-compatible runtime; it implements
// lambda.Handler over the one invocation pipeline (package invocation).
type Function struct {
	// Handler serves the requests; built once per instance.
	Handler *handler.Handler
	// Cloud builds what an invocation reaches (credentials from the SDKs'
	// chains; the function's own ARN from the invocation's context); when
	// nil, OpenStore opens the one key store.
	Cloud func(ctx context.Context) invocation.Cloud
	// OpenStore opens the key store (credentials from the SDK's chain),
	// when Cloud is nil.
	OpenStore StoreFunc
	// Runs configures targets, fan-outs and chains.
	Runs invocation.Runs
	// InitErr, when set, is a configuration error found at start-up: every
	// invocation answers it (type ConfigurationError).
	InitErr error
}

var _ lambda.Handler = (*Function)(nil)

// Invoke serves one invocation. Whenever the handler runs, the result is
// its report as JSON, also when the request failed as a whole: the report
// then carries error and error_kind, with the keys already handled and the
// continuation. Only a payload of no known shape (InvalidEvent), a
// configuration error or a key store that does not open
// (ConfigurationError), and a report that does not encode (InternalError)
// are invocation errors, each a messages.InvokeResponse_Error.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		ctx = handler.WithRequestID(ctx, lc.AwsRequestID)
	}
	p := Pipeline(f.Handler, f.InitErr)
	p.Runs = f.Runs
	cloud := invocation.OpenFunc(f.OpenStore).Cloud()
	if f.Cloud != nil {
		cloud = f.Cloud(ctx)
	}
	body, err := p.Invoke(ctx, payload, cloud)
	if ie := (*invocation.Error)(nil); errors.As(err, &ie) {
		return nil, messages.InvokeResponse_Error{Type: ie.Type, Message: ie.Error()}
	}
	return body, err
}

// Start runs the Lambda invocation loop with f; it does not return.
func Start(f *Function) {
	lambda.Start(f)
}
