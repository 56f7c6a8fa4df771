package invocation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tagwarden/tagwarden/adapters/events"
	"github.com/tagwarden/tagwarden/adapters/invocation"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/memstore"
	"github.com/tagwarden/tagwarden/policies"
	"github.com/tagwarden/tagwarden/policy"
)

// read returns the event fixture of that name, shared with package events.
func read(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../events/testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// newHandler returns a handler of the shipped policies.
func newHandler(t *testing.T) *handler.Handler {
	t.Helper()
	engine, err := policy.Load(policies.FS, policy.Options{Limits: policy.DefaultLimits()})
	if err != nil {
		t.Fatal(err)
	}
	return handler.New(engine, handler.Config{ContinuationKey: []byte(strings.Repeat("k", 32))}, nil)
}

// newStore returns a store of two keys without an owner, each needing a change.
func newStore() *memstore.Store {
	s := memstore.New(memstore.Options{})
	for i := range 2 {
		s.Put(policy.Key{ID: fmt.Sprintf("40000000-0000-4000-8000-%012d", i), Alias: fmt.Sprintf("app-%d", i), State: policy.StateEnabled,
			Spec: "AES_256", Usage: "ENCRYPT_DECRYPT", Origin: "kms"}, nil)
	}
	return s
}

// TestInvoke: the platform's answer for every path of the pipeline.
func TestInvoke(t *testing.T) {
	h := newHandler(t)
	store := newStore()
	openStore := func(context.Context) (handler.KeyStore, error) { return store, nil }
	noCreds := &invocation.Error{Type: "NoCredentials", Err: errors.New("no agency")}
	manualOnly := []events.Kind{events.KindManual, events.KindCTS}
	tests := []struct {
		name     string
		p        invocation.Pipeline
		payload  []byte
		open     invocation.OpenFunc
		wantType string // "" = a report
		wantMsg  string // in the error message, or in the report's JSON
		wantOpen int    // calls of open
	}{
		{"a sweep", invocation.Pipeline{Handler: h}, []byte(`{"action":"sweep","dry_run":true}`), openStore, "", `"planned":2`, 1},
		{"a check", invocation.Pipeline{Handler: h, Kinds: manualOnly}, read(t, "manual-check.json"), openStore, "", `"mode":"keys"`, 1},
		{"a request failed as a whole is a report", invocation.Pipeline{Handler: h},
			[]byte(`{"action":"sweep","continuation":"forged.token"}`), openStore, "", `"error_kind":"invalid_continuation"`, 1},
		{"an event to ignore needs no store", invocation.Pipeline{Handler: h}, read(t, "cts-other-service.json"), nil, "", `"mode":"ignore"`, 0},
		{"start-up error, whatever the payload", invocation.Pipeline{Handler: h, InitErr: errors.New("TAGWARDEN_REGION bad")},
			[]byte("not json"), openStore, invocation.TypeConfiguration, "TAGWARDEN_REGION bad", 0},
		{"start-up error without a handler", invocation.Pipeline{InitErr: errors.New("no policies")},
			[]byte(`{"action":"sweep"}`), openStore, invocation.TypeConfiguration, "no policies", 0},
		{"not JSON", invocation.Pipeline{Handler: h}, []byte("sweep please"), openStore, invocation.TypeInvalidEvent, "not JSON", 0},
		{"no known shape", invocation.Pipeline{Handler: h}, read(t, "bad-unknown-shape.json"), openStore, invocation.TypeInvalidEvent, "expected", 0},
		{"a kind the platform does not take", invocation.Pipeline{Handler: h, Kinds: manualOnly}, read(t, "timer.json"), openStore,
			invocation.TypeInvalidEvent, "is not taken on this platform", 0},
		{"too large", invocation.Pipeline{Handler: h, MaxPayload: 10}, []byte(`{"action":"sweep"}`), openStore,
			invocation.TypeInvalidEvent, "payload larger than 10 bytes", 0},
		{"no store", invocation.Pipeline{Handler: h}, []byte(`{"action":"sweep"}`), nil, invocation.TypeConfiguration, "no key store configured", 0},
		{"no handler", invocation.Pipeline{}, []byte(`{"action":"sweep"}`), openStore, invocation.TypeConfiguration, "no handler", 0},
		{"a store that does not open", invocation.Pipeline{Handler: h}, []byte(`{"action":"sweep"}`),
			func(context.Context) (handler.KeyStore, error) { return nil, errors.New("bad endpoint") },
			invocation.TypeConfiguration, "open the key store: bad endpoint", 1},
		{"the platform's own error", invocation.Pipeline{Handler: h}, []byte(`{"action":"sweep"}`),
			func(context.Context) (handler.KeyStore, error) { return nil, fmt.Errorf("credentials: %w", noCreds) },
			"NoCredentials", "credentials: no agency", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opened := 0
			var open invocation.OpenFunc
			if tt.open != nil {
				open = func(ctx context.Context) (handler.KeyStore, error) { opened++; return tt.open(ctx) }
			}
			ctx := handler.WithRequestID(context.Background(), "req-7")
			body, err := tt.p.Invoke(ctx, tt.payload, open)
			if opened != tt.wantOpen {
				t.Errorf("store opened %d times, want %d", opened, tt.wantOpen)
			}
			if tt.wantType != "" {
				var ie *invocation.Error
				if !errors.As(err, &ie) || ie.ErrorType() != tt.wantType || !strings.Contains(err.Error(), tt.wantMsg) || body != nil {
					t.Fatalf("got %q, %v; want a %s error containing %q", body, err, tt.wantType, tt.wantMsg)
				}
				if tt.wantType == invocation.TypeInvalidEvent && !errors.Is(err, events.ErrInvalid) {
					t.Errorf("%v does not wrap events.ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want the report", err)
			}
			var rep handler.Report
			if err := json.Unmarshal(body, &rep); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			if rep.RequestID != "req-7" || !strings.Contains(string(body), tt.wantMsg) {
				t.Errorf("got %s, want a report with request id req-7 containing %s", body, tt.wantMsg)
			}
		})
	}
}

// TestDecodeRun: Decode then Run, the CLI's path, is Invoke's: the same
// request, and a report of the same JSON but for the times.
func TestDecodeRun(t *testing.T) {
	p := invocation.Pipeline{Handler: newHandler(t)}
	payload := []byte(`{"action":"sweep","dry_run":true}`)
	open := func(context.Context) (handler.KeyStore, error) { return newStore(), nil }
	body, err := p.Invoke(context.Background(), payload, open)
	if err != nil {
		t.Fatal(err)
	}
	var want handler.Report
	if err := json.Unmarshal(body, &want); err != nil {
		t.Fatal(err)
	}
	req, err := p.Decode(payload)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Run(context.Background(), req, open)
	if err != nil {
		t.Fatal(err)
	}
	got.Started, got.Finished = want.Started, want.Finished
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(want)
	if string(a) != string(b) {
		t.Errorf("Decode and Run: %s\nInvoke: %s", a, b)
	}
}
