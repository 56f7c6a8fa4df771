package awslambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/sirupsen/logrus"

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

// Keys of the report tests' store, in the order the store lists them.
var reportKeys = []string{
	"10000000-0000-4000-8000-000000000001",
	"10000000-0000-4000-8000-000000000002",
	"10000000-0000-4000-8000-000000000003",
	"10000000-0000-4000-8000-000000000004",
}

// reportFunction returns a Function on an in-memory store of reportKeys
// (two per listing page, none with an owner: each needs a change under the
// shipped policies), one key at a time and a margin of 200ms.
func reportFunction(t *testing.T) (*awslambda.Function, *memstore.Store) {
	t.Helper()
	cfg := handler.DefaultConfig()
	cfg.Concurrency = 1
	cfg.Margin = 200 * time.Millisecond
	engine, err := policy.Load(policies.FS, policy.Options{Limits: policy.DefaultLimits()})
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New(memstore.Options{PageSize: 2})
	for i, id := range reportKeys {
		store.Put(policy.Key{ID: id, Alias: fmt.Sprintf("app-%d", i+1), State: policy.StateEnabled, Spec: "AES_256",
			Usage: "ENCRYPT_DECRYPT", Origin: "kms"}, nil)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	return &awslambda.Function{
		Handler:   handler.New(engine, cfg, log),
		OpenStore: func(context.Context) (handler.KeyStore, error) { return store, nil },
	}, store
}

// invokeReport invokes f with payload and decodes the result, failing on
// an invocation error: a request the handler served is always answered
// with its report.
func invokeReport(t *testing.T, ctx context.Context, f *awslambda.Function, payload string) handler.Report {
	t.Helper()
	body, err := f.Invoke(ctx, []byte(payload))
	if err != nil {
		t.Fatalf("got invocation error %v, want the report", err)
	}
	var rep handler.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatalf("decode report %s: %v", body, err)
	}
	return rep
}

// TestInvokeReportError: a request that fails as a whole, or is cut short,
// is answered with its report as the result (error, error_kind, the keys
// already changed and the continuation), and the continuation it returns is
// one the function accepts: resuming it finishes the job.
func TestInvokeReportError(t *testing.T) {
	// denied refuses the calls of op for which match(id) holds (id is the
	// key id, or the listing cursor: "" for the first page).
	denied := func(op string, match func(id string) bool) func(context.Context, string, string) error {
		return func(_ context.Context, o, id string) error {
			if o == op && match(id) {
				return fmt.Errorf("%s %s: %w", o, id, handler.ErrDenied)
			}
			return nil
		}
	}
	laterPage := func(cursor string) bool { return cursor != "" }
	third := func(id string) bool { return id == reportKeys[2] }
	// blocks holds the read of key until the handler cancels it, half the
	// margin before the deadline.
	blocks := func(key string) func(context.Context, string, string) error {
		return func(ctx context.Context, o, id string) error {
			if o == memstore.OpKey && id == key {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		}
	}
	check := `{"action":"check","key_ids":["` + strings.Join(reportKeys, `","`) + `"]}`
	tests := []struct {
		name     string
		payload  string
		hook     func(context.Context, string, string) error
		deadline time.Duration // 0: none
		mode     handler.Mode
		kind     handler.ErrorKind // "": cut short without an error
		first    int               // keys changed by the first request
		resume   string            // the payload resuming it, %s the continuation
	}{
		{"sweep denied on the second page", `{"action":"sweep"}`, denied(memstore.OpList, laterPage), 0,
			handler.ModeSweep, handler.KindDenied, 2, `{"action":"sweep","continuation":%q}`},
		{"check denied on its third key", check, denied(memstore.OpKey, third), 0,
			handler.ModeKeys, handler.KindDenied, 2, `{"action":"check","continuation":%q}`},
		{"check cut by the deadline", check, blocks(reportKeys[2]), time.Second,
			handler.ModeKeys, "", 2, `{"action":"check","continuation":%q}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, store := reportFunction(t)
			store.Hook = tt.hook
			ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "aws-req-2"})
			first := ctx
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				first, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			rep := invokeReport(t, first, f, tt.payload)
			if rep.Mode != tt.mode || rep.ErrorKind != tt.kind || rep.Changed != tt.first || len(rep.Keys) != tt.first ||
				rep.Continuation == "" || rep.RequestID != "aws-req-2" {
				t.Fatalf("got %+v, want a %s report with error kind %q, %d keys changed and a continuation", rep, tt.mode, tt.kind, tt.first)
			}
			if (tt.kind == "") != (rep.Error == "") {
				t.Errorf("got error %q with kind %q", rep.Error, rep.ErrorKind)
			}

			store.Hook = nil
			next := invokeReport(t, ctx, f, fmt.Sprintf(tt.resume, rep.Continuation))
			if next.Mode != tt.mode || next.Error != "" || next.ErrorKind != "" || next.Continuation != "" ||
				next.Changed != len(reportKeys)-tt.first {
				t.Errorf("resumed: got %+v, want the other %d keys changed and nothing left", next, len(reportKeys)-tt.first)
			}
			for _, id := range reportKeys {
				if tags, _ := store.TagsOf(id); tags["owner"] == "" {
					t.Errorf("key %s has no owner after the resumed request: %v", id, tags)
				}
			}
		})
	}
}

// TestInvokeInvalidContinuation: a continuation the handler refuses is a
// report with the error and its kind, not an invocation error; nothing is
// read or written.
func TestInvokeInvalidContinuation(t *testing.T) {
	f, store := reportFunction(t)
	body, err := f.Invoke(context.Background(), []byte(`{"action":"check","continuation":"not-a-token"}`))
	if err != nil {
		t.Fatalf("got invocation error %v, want the report", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["error_kind"] != string(handler.KindInvalidContinuation) || !strings.Contains(fmt.Sprint(raw["error"]), "invalid continuation") ||
		raw["mode"] != string(handler.ModeKeys) || raw["scanned"] != 0.0 {
		t.Errorf("got %s, want a keys report with error_kind %q", body, handler.KindInvalidContinuation)
	}
	if _, ok := raw["errorType"]; ok {
		t.Errorf("got %s, want no errorType in a report", body)
	}
	if st := store.Stats(); st.Writes != 0 || st.Calls[memstore.OpKey] != 0 {
		t.Errorf("got %+v, want no call to the store", st)
	}
}
