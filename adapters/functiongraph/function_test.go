package functiongraph_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/events"
	"github.com/tagwarden/tagwarden/adapters/functiongraph"
	"github.com/tagwarden/tagwarden/handler"
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
		{"cts-other-service.json", true, handler.ModeIgnore},
		{"scheduled-event.json", false, ""}, // an AWS event: not FunctionGraph's
		{"bad-not-json.txt", false, ""},
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
