package functiongraph_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestInvokeReportError: a request cut short reaches FunctionGraph as the
// response, its report (the request id of the invocation, the keys already
// changed and the continuation), and its continuation resumes from a TIMER
// user_event, the store opened with the invocation's credentials each time.
// What such reports hold, and that they resume from the manual payload, is
// tested once in package invocation.
func TestInvokeReportError(t *testing.T) {
	engine, err := policy.Load(policies.FS, policy.Options{Limits: policy.DefaultLimits()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := handler.DefaultConfig()
	cfg.Concurrency = 1
	cfg.Margin = 200 * time.Millisecond
	ids := []string{"20000000-0000-4000-8000-000000000001", "20000000-0000-4000-8000-000000000002", "20000000-0000-4000-8000-000000000003"}
	store := memstore.New(memstore.Options{})
	for i, id := range ids {
		store.Put(policy.Key{ID: id, Alias: fmt.Sprintf("app-%d", i+1), State: policy.StateEnabled, Spec: "AES_256",
			Usage: "ENCRYPT_DECRYPT", Origin: "kms"}, nil)
	}
	creds := functiongraph.Credentials{AccessKey: "AK", SecretKey: "SK"}
	f := &functiongraph.Function{
		Handler: handler.New(engine, cfg, nil),
		OpenStore: func(_ context.Context, c functiongraph.Credentials) (handler.KeyStore, error) {
			if c != creds {
				return nil, fmt.Errorf("got credentials %v, want the invocation's", c)
			}
			return store, nil
		},
	}
	invoke := func(ctx context.Context, payload string) handler.Report {
		t.Helper()
		body, err := f.Invoke(ctx, functiongraph.Invocation{RequestID: "fg-req-2", Payload: []byte(payload), Credentials: &creds})
		if err != nil {
			t.Fatalf("got error response %v, want the report", err)
		}
		var rep handler.Report
		if err := json.Unmarshal(body, &rep); err != nil {
			t.Fatalf("decode report %s: %v", body, err)
		}
		return rep
	}

	// The read of the last key waits until the handler cancels it, half the
	// margin before the deadline.
	store.Hook = func(ctx context.Context, op, id string) error {
		if op == memstore.OpKey && id == ids[2] {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	first, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	rep := invoke(first, `{"action":"check","key_ids":["`+strings.Join(ids, `","`)+`"]}`)
	if rep.Mode != handler.ModeKeys || rep.Error != "" || rep.ErrorKind != "" || rep.Changed != 2 || len(rep.Keys) != 2 ||
		rep.Continuation == "" || rep.RequestID != "fg-req-2" {
		t.Fatalf("got %+v, want a check cut short with 2 keys changed, a continuation and the request id", rep)
	}

	store.Hook = nil
	user, _ := json.Marshal(`{"action":"check","continuation":"` + rep.Continuation + `"}`)
	next := invoke(context.Background(), `{"trigger_type":"TIMER","trigger_name":"resume","user_event":`+string(user)+`}`)
	if next.Mode != handler.ModeKeys || next.Error != "" || next.ErrorKind != "" || next.Continuation != "" || next.Changed != 1 {
		t.Errorf("resumed by a timer: got %+v, want the last key changed and nothing left", next)
	}
	for _, id := range ids {
		if tags, _ := store.TagsOf(id); tags["owner"] == "" {
			t.Errorf("key %s has no owner after the resumed request: %v", id, tags)
		}
	}
}
