package awslambda

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/tagwarden/tagwarden/adapters/events"
	"github.com/tagwarden/tagwarden/handler"
)

// Kinds are the payloads taken on Lambda-compatible runtimes.
var Kinds = []events.Kind{events.KindManual, events.KindScheduled, events.KindCTS, events.KindCloudEvent, events.KindCloudEventBatch}

// Decode turns a payload into a request; the error, wrapping
// events.ErrInvalid, names the payloads expected.
func Decode(payload []byte) (handler.Request, error) {
	return events.Decode(payload, Kinds...)
}

// StoreFunc opens the key store for one invocation.
type StoreFunc func(ctx context.Context) (handler.KeyStore, error)

// Function is tagwarden on a Lambda-compatible runtime; it implements
// lambda.Handler.
type Function struct {
	// Handler serves the requests; built once per instance.
	Handler *handler.Handler
	// OpenStore opens the key store (credentials from the SDK's chain).
	OpenStore StoreFunc
	// InitErr, when set, is a configuration error found at start-up: every
	// invocation answers it (type ConfigurationError).
	InitErr error
}

var _ lambda.Handler = (*Function)(nil)

func fail(typ string, err error) error {
	return messages.InvokeResponse_Error{Type: typ, Message: err.Error()}
}

// Invoke serves one invocation. Whenever the handler runs, the result is
// its report as JSON, also when the request failed as a whole: the report
// then carries error and error_kind, with the keys already handled and the
// continuation. Only a payload of no known shape (InvalidEvent), a
// configuration error or a key store that does not open
// (ConfigurationError), and a report that does not encode (InternalError)
// are invocation errors.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	if f.InitErr != nil {
		return nil, fail("ConfigurationError", f.InitErr)
	}
	req, err := Decode(payload)
	if err != nil {
		return nil, fail("InvalidEvent", err)
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		ctx = handler.WithRequestID(ctx, lc.AwsRequestID)
	}
	var store handler.KeyStore
	if req.Mode != handler.ModeIgnore {
		if f.OpenStore == nil {
			return nil, fail("ConfigurationError", fmt.Errorf("no key store configured"))
		}
		store, err = f.OpenStore(ctx)
		if err != nil {
			return nil, fail("ConfigurationError", fmt.Errorf("open the key store: %w", err))
		}
	}
	body, err := json.Marshal(f.Handler.Handle(ctx, store, req))
	if err != nil {
		return nil, fail("InternalError", fmt.Errorf("encode the report: %w", err))
	}
	return body, nil
}

// Start runs the Lambda invocation loop with f; it does not return.
func Start(f *Function) {
	lambda.Start(f)
}
