package functiongraph_test

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

	"github.com/google/go-cmp/cmp"
	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/adapters/events"
	"github.com/tagwarden/tagwarden/adapters/functiongraph"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/memstore"
	"github.com/tagwarden/tagwarden/policies"
	"github.com/tagwarden/tagwarden/policy"
)

// fixtures are the shared event fixtures; the full event-to-request table
// is in package events.
const fixtures = "../events/testdata"

// read returns the fixture of that name.
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
		file   string
		accept bool
		mode   handler.Mode
	}{
		{"timer.json", true, handler.ModeSweep},
		{"timer-manual-dry-run.json", true, handler.ModeSweep},
		{"cts-create-key.json", true, handler.ModeKeys},
		{"cts-create-key-strings.json", true, handler.ModeKeys},
		{"eventgrid-create-key.json", true, handler.ModeKeys},
		{"eventgrid-batch.json", true, handler.ModeKeys},
		{"manual-check.json", true, handler.ModeKeys},
		{"manual-check-continuation.json", true, handler.ModeKeys},
		{"timer-manual-check-continuation.json", true, handler.ModeKeys},
		{"cts-other-service.json", true, handler.ModeIgnore},
		{"scheduled-event.json", false, ""}, // an AWS event: not FunctionGraph's
		{"bad-not-json.txt", false, ""},
		{"bad-too-deep.json", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			req, err := functiongraph.Decode(read(t, tt.file))
			if !tt.accept {
				if !errors.Is(err, events.ErrInvalid) || !strings.Contains(err.Error(), "TIMER") {
					t.Fatalf("got %v, want an invalid-event error naming the TIMER event among the expected shapes", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.Mode != tt.mode {
				t.Errorf("got mode %s, want %s", req.Mode, tt.mode)
			}
		})
	}
}

// TestInvokeWithoutStore covers the paths that need no KMS: bad input, no
// agency, and an ignored event, which needs no credentials.
func TestInvokeWithoutStore(t *testing.T) {
	opened := 0
	f := &functiongraph.Function{
		Handler: handler.New(nil, handler.DefaultConfig(), nil),
		OpenStore: func(context.Context, functiongraph.Credentials) (handler.KeyStore, error) {
			opened++
			return nil, errors.New("no store in this test")
		},
	}
	tests := []struct {
		name     string
		inv      functiongraph.Invocation
		wantType string
		wantMsg  string
	}{
		{"malformed", functiongraph.Invocation{Payload: []byte("{oops")}, "InvalidEvent", "expected"},
		{"too large", functiongraph.Invocation{Payload: make([]byte, functiongraph.MaxPayload+1)}, "InvalidEvent", "payload larger than"},
		{"no agency", functiongraph.Invocation{Payload: read(t, "timer.json")}, "NoCredentials", "give the function an agency"},
		{"half a key pair", functiongraph.Invocation{Payload: read(t, "timer.json"), CredentialsErr: errors.New("half a key pair")}, "NoCredentials", "half a key pair"},
		{"ignored event needs no credentials", functiongraph.Invocation{Payload: read(t, "cts-schedule-deletion.json")}, "", `"mode":"ignore"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.inv.RequestID = "req-1"
			tt.inv.Deadline = time.Now().Add(time.Minute)
			body, err := f.Invoke(context.Background(), tt.inv)
			if tt.wantType == "" {
				if err != nil {
					t.Fatal(err)
				}
				var rep handler.Report
				if err := json.Unmarshal(body, &rep); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(body), tt.wantMsg) || rep.RequestID != "req-1" || rep.Reason == "" {
					t.Errorf("got %s, want an ignore report with request id and reason", body)
				}
				return
			}
			var fe *functiongraph.Error
			if !errors.As(err, &fe) || fe.ErrorType() != tt.wantType || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("got %v, want a %s error containing %q", err, tt.wantType, tt.wantMsg)
			}
		})
	}
	if opened != 0 {
		t.Errorf("the store was opened %d times, want 0", opened)
	}
}

func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(fixtures, "*"))
	for _, name := range files {
		f.Add(read(f, filepath.Base(name)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := functiongraph.Decode(data)
		if err != nil {
			if !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if req.Trigger == "schedule" {
			t.Fatal("an EventBridge event was taken on FunctionGraph")
		}
	})
}

// Keys of the report tests' store, in the order the store lists them.
var reportKeys = []string{
	"20000000-0000-4000-8000-000000000001",
	"20000000-0000-4000-8000-000000000002",
	"20000000-0000-4000-8000-000000000003",
	"20000000-0000-4000-8000-000000000004",
}

// reportFunction returns a Function on an in-memory store of reportKeys
// (two per listing page, none with an owner: each needs a change under the
// shipped policies), one key at a time and a margin of 200ms.
func reportFunction(t *testing.T) (*functiongraph.Function, *memstore.Store) {
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
	return &functiongraph.Function{
		Handler: handler.New(engine, cfg, log),
		OpenStore: func(context.Context, functiongraph.Credentials) (handler.KeyStore, error) {
			return store, nil
		},
	}, store
}

// invokeReport invokes f with payload and decodes the result, failing on
// an invocation error: a request the handler served is always answered
// with its report.
func invokeReport(t *testing.T, ctx context.Context, f *functiongraph.Function, payload string) handler.Report {
	t.Helper()
	body, err := f.Invoke(ctx, functiongraph.Invocation{RequestID: "fg-req-2", Payload: []byte(payload),
		Credentials: &functiongraph.Credentials{AccessKey: "AK", SecretKey: "SK"}})
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
// is answered with its report as the response (error, error_kind, the keys
// already changed and the continuation), and the continuation it returns is
// one the function accepts, from the manual payload or a TIMER user_event:
// resuming it finishes the job.
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
	timerCheck := func(tok string) string {
		user, _ := json.Marshal(`{"action":"check","continuation":"` + tok + `"}`)
		return `{"trigger_type":"TIMER","trigger_name":"resume","user_event":` + string(user) + `}`
	}
	manual := func(action string) func(string) string {
		return func(tok string) string { return `{"action":"` + action + `","continuation":"` + tok + `"}` }
	}
	tests := []struct {
		name     string
		payload  string
		hook     func(context.Context, string, string) error
		deadline time.Duration // 0: none
		mode     handler.Mode
		kind     handler.ErrorKind // "": cut short without an error
		first    int               // keys changed by the first request
		resume   func(tok string) string
	}{
		{"sweep denied on the second page", `{"action":"sweep"}`, denied(memstore.OpList, laterPage), 0,
			handler.ModeSweep, handler.KindDenied, 2, manual("sweep")},
		{"check denied on its third key", check, denied(memstore.OpKey, third), 0,
			handler.ModeKeys, handler.KindDenied, 2, manual("check")},
		{"check cut by the deadline", check, blocks(reportKeys[2]), time.Second,
			handler.ModeKeys, "", 2, manual("check")},
		{"check cut by the deadline, resumed by a timer", check, blocks(reportKeys[2]), time.Second,
			handler.ModeKeys, "", 2, timerCheck},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, store := reportFunction(t)
			store.Hook = tt.hook
			ctx := context.Background()
			first := ctx
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				first, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			rep := invokeReport(t, first, f, tt.payload)
			if rep.Mode != tt.mode || rep.ErrorKind != tt.kind || rep.Changed != tt.first || len(rep.Keys) != tt.first ||
				rep.Continuation == "" || rep.RequestID != "fg-req-2" {
				t.Fatalf("got %+v, want a %s report with error kind %q, %d keys changed and a continuation", rep, tt.mode, tt.kind, tt.first)
			}
			if (tt.kind == "") != (rep.Error == "") {
				t.Errorf("got error %q with kind %q", rep.Error, rep.ErrorKind)
			}

			store.Hook = nil
			next := invokeReport(t, ctx, f, tt.resume(rep.Continuation))
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

// TestInvokeInvalidContinuation: a continuation the handler refuses (here a
// sweep's token given to a check) is a report with the error and its kind,
// not an error response; nothing is read or written.
func TestInvokeInvalidContinuation(t *testing.T) {
	f, store := reportFunction(t)
	store.Hook = func(_ context.Context, op, id string) error {
		if op == memstore.OpList && id != "" {
			return fmt.Errorf("list %s: %w", id, handler.ErrDenied)
		}
		return nil
	}
	sweep := invokeReport(t, context.Background(), f, `{"action":"sweep"}`)
	if sweep.Continuation == "" {
		t.Fatalf("got %+v, want a sweep cut short with a continuation", sweep)
	}
	before := store.Stats()
	body, err := f.Invoke(context.Background(), functiongraph.Invocation{RequestID: "fg-req-3",
		Payload:     []byte(`{"action":"check","continuation":"` + sweep.Continuation + `"}`),
		Credentials: &functiongraph.Credentials{AccessKey: "AK", SecretKey: "SK"}})
	if err != nil {
		t.Fatalf("got error response %v, want the report", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["error_kind"] != string(handler.KindInvalidContinuation) || !strings.Contains(fmt.Sprint(raw["error"]), "invalid continuation") ||
		raw["mode"] != string(handler.ModeKeys) || raw["scanned"] != 0.0 || raw["request_id"] != "fg-req-3" {
		t.Errorf("got %s, want a keys report with error_kind %q", body, handler.KindInvalidContinuation)
	}
	if _, ok := raw["errorType"]; ok {
		t.Errorf("got %s, want no errorType in a report", body)
	}
	if diff := cmp.Diff(before, store.Stats()); diff != "" {
		t.Errorf("the refused request called the store (-before +after):\n%s", diff)
	}
}
