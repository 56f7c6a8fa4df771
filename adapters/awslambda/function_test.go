package awslambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/tagwarden/tagwarden/adapters/awslambda"
	"github.com/tagwarden/tagwarden/adapters/events"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/memstore"
	"github.com/tagwarden/tagwarden/policies"
	"github.com/tagwarden/tagwarden/policy"
)

// fixtures are the shared event fixtures; the full event-to-request table
// is in package events.
const fixtures = "../events/testdata"

func read(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDecodeKinds(t *testing.T) {
	tests := []struct {
		file    string
		accept  bool
		mode    handler.Mode
		trigger string
	}{
		{"scheduled-event.json", true, handler.ModeSweep, "schedule"},
		{"scheduled-event-dry-run.json", true, handler.ModeSweep, "schedule"},
		{"scheduled-event-check.json", true, handler.ModeKeys, "schedule"},
		{"manual-check-continuation.json", true, handler.ModeKeys, "manual"},
		{"manual-sweep-dry-run.json", true, handler.ModeSweep, "manual"},
		{"manual-check.json", true, handler.ModeKeys, "manual"},
		{"cts-create-key.json", true, handler.ModeKeys, "cts"},
		{"cts-trace-bare.json", true, handler.ModeKeys, "cts"}, // a trace relayed as it is
		{"eventgrid-create-key.json", true, handler.ModeKeys, "eventgrid"},
		{"eventgrid-batch.json", true, handler.ModeKeys, "eventgrid"},
		{"timer.json", false, "", ""}, // a FunctionGraph trigger: not Lambda's
		{"bad-eventbridge-other.json", false, "", ""},
		{"bad-scheduled-detail-unknown-field.json", false, "", ""},
		{"bad-too-deep.json", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			req, err := awslambda.Decode(read(t, tt.file))
			if !tt.accept {
				if !errors.Is(err, events.ErrInvalid) || !strings.Contains(err.Error(), "expected") {
					t.Fatalf("got %v, want an invalid-event error saying what was expected", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.Mode != tt.mode || req.Trigger != tt.trigger {
				t.Errorf("got mode %s trigger %s, want %s %s", req.Mode, req.Trigger, tt.mode, tt.trigger)
			}
		})
	}
}

// TestInvokeWithoutStore covers the paths that need no KMS: a payload that
// is not JSON, a start-up error, and an ignored event.
func TestInvokeWithoutStore(t *testing.T) {
	f := &awslambda.Function{
		Handler: handler.New(nil, handler.DefaultConfig(), nil),
		OpenStore: func(context.Context) (handler.KeyStore, error) {
			t.Error("the store was opened")
			return nil, errors.New("no store")
		},
	}
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "aws-req-1"})

	_, err := f.Invoke(ctx, []byte("sweep please"))
	var ie messages.InvokeResponse_Error
	if !errors.As(err, &ie) || ie.Type != "InvalidEvent" || !strings.Contains(ie.Message, "not JSON") || !strings.Contains(ie.Message, "Scheduled Event") {
		t.Errorf("got %#v, want an InvalidEvent error naming the expected payloads", err)
	}

	body, err := f.Invoke(ctx, read(t, "cts-other-service.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep handler.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Mode != handler.ModeIgnore || rep.RequestID != "aws-req-1" || !strings.Contains(rep.Reason, "not KMS") {
		t.Errorf("got %+v, want an ignore report with the request id and reason", rep)
	}

	bad := &awslambda.Function{InitErr: errors.New("configuration: TAGWARDEN_REGION bad")}
	_, err = bad.Invoke(ctx, read(t, "manual-sweep.json"))
	if !errors.As(err, &ie) || ie.Type != "ConfigurationError" || !strings.Contains(ie.Message, "TAGWARDEN_REGION") {
		t.Errorf("got %#v, want a ConfigurationError", err)
	}
}

func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(fixtures, "*"))
	for _, name := range files {
		f.Add(read(f, filepath.Base(name)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := awslambda.Decode(data)
		if err != nil {
			if !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if req.Trigger == "timer" {
			t.Fatal("a FunctionGraph timer event was taken on Lambda")
		}
	})
}

// TestInvokeReportError: a request that fails as a whole reaches Lambda as
// the invocation's result, its report (error, error_kind and the request id
// of the Lambda context), not as a function error. What such reports hold,
// and that their continuations resume, is tested once in package invocation.
func TestInvokeReportError(t *testing.T) {
	engine, err := policy.Load(policies.FS, policy.Options{Limits: policy.DefaultLimits()})
	if err != nil {
		t.Fatal(err)
	}
	f := &awslambda.Function{
		Handler:   handler.New(engine, handler.DefaultConfig(), nil),
		OpenStore: func(context.Context) (handler.KeyStore, error) { return memstore.New(memstore.Options{}), nil },
	}
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "aws-req-2"})
	body, err := f.Invoke(ctx, []byte(`{"action":"check","continuation":"not-a-token"}`))
	if err != nil {
		t.Fatalf("got invocation error %v, want the report", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["error_kind"] != string(handler.KindInvalidContinuation) || raw["request_id"] != "aws-req-2" {
		t.Errorf("got %s, want a report with error_kind %q and the request id", body, handler.KindInvalidContinuation)
	}
	if _, ok := raw["errorType"]; ok {
		t.Errorf("got %s, want no errorType in a report", body)
	}
}
