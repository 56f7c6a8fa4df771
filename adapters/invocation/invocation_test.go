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
	"time"

	"github.com/google/go-cmp/cmp"

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

// newHandler returns a handler of the shipped policies with cfg and a
// continuation key.
func newHandler(t *testing.T, cfg handler.Config) *handler.Handler {
	t.Helper()
	engine, err := policy.Load(policies.FS, policy.Options{Limits: policy.DefaultLimits()})
	if err != nil {
		t.Fatal(err)
	}
	cfg.ContinuationKey = []byte(strings.Repeat("k", 32))
	return handler.New(engine, cfg, nil)
}

// newStore returns a store of the keys ids, without an owner, each needing
// a change; opt sets the listing's page size.
func newStore(opt memstore.Options, ids ...string) *memstore.Store {
	s := memstore.New(opt)
	for i, id := range ids {
		s.Put(policy.Key{ID: id, Alias: fmt.Sprintf("app-%d", i), State: policy.StateEnabled,
			Spec: "AES_256", Usage: "ENCRYPT_DECRYPT", Origin: "kms"}, nil)
	}
	return s
}

// twoKeys are the keys of TestInvoke's and TestDecodeRun's store.
var twoKeys = []string{"40000000-0000-4000-8000-000000000000", "40000000-0000-4000-8000-000000000001"}

// TestInvoke: the platform's answer for every path of the pipeline.
func TestInvoke(t *testing.T) {
	h := newHandler(t, handler.Config{})
	store := newStore(memstore.Options{}, twoKeys...)
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
			body, err := tt.p.Invoke(ctx, tt.payload, open.Cloud())
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
	p := invocation.Pipeline{Handler: newHandler(t, handler.Config{})}
	payload := []byte(`{"action":"sweep","dry_run":true}`)
	open := invocation.OpenFunc(func(context.Context) (handler.KeyStore, error) { return newStore(memstore.Options{}, twoKeys...), nil }).Cloud()
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

// Keys of the report tests' store, in the order the store lists them.
var reportKeys = []string{
	"10000000-0000-4000-8000-000000000001",
	"10000000-0000-4000-8000-000000000002",
	"10000000-0000-4000-8000-000000000003",
	"10000000-0000-4000-8000-000000000004",
}

// reportPipeline returns a pipeline of every kind, one key at a time and a
// margin of 200ms, and its in-memory store of reportKeys (two per listing
// page).
func reportPipeline(t *testing.T) (invocation.Pipeline, *memstore.Store) {
	t.Helper()
	cfg := handler.DefaultConfig()
	cfg.Concurrency = 1
	cfg.Margin = 200 * time.Millisecond
	return invocation.Pipeline{Handler: newHandler(t, cfg)}, newStore(memstore.Options{PageSize: 2}, reportKeys...)
}

// invokeReport invokes p on store with payload and decodes the answer,
// failing on an error: a request the handler served is always answered
// with its report.
func invokeReport(t *testing.T, ctx context.Context, p invocation.Pipeline, store handler.KeyStore, payload string) handler.Report {
	t.Helper()
	body, err := p.Invoke(ctx, []byte(payload), invocation.OpenFunc(func(context.Context) (handler.KeyStore, error) { return store, nil }).Cloud())
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
// is answered with its report (error, error_kind, the keys already changed
// and the continuation), and the continuation it returns is one the
// pipeline accepts: resuming it finishes the job. Each platform checks
// that its answer carries the report (its own tests).
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
			p, store := reportPipeline(t)
			store.Hook = tt.hook
			ctx := handler.WithRequestID(context.Background(), "req-2")
			first := ctx
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				first, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			rep := invokeReport(t, first, p, store, tt.payload)
			if rep.Mode != tt.mode || rep.ErrorKind != tt.kind || rep.Changed != tt.first || len(rep.Keys) != tt.first ||
				rep.Continuation == "" || rep.RequestID != "req-2" {
				t.Fatalf("got %+v, want a %s report with error kind %q, %d keys changed and a continuation", rep, tt.mode, tt.kind, tt.first)
			}
			if (tt.kind == "") != (rep.Error == "") {
				t.Errorf("got error %q with kind %q", rep.Error, rep.ErrorKind)
			}

			store.Hook = nil
			next := invokeReport(t, ctx, p, store, fmt.Sprintf(tt.resume, rep.Continuation))
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

// TestInvokeInvalidContinuation: a continuation the handler refuses (one
// that is not a token, or a sweep's token given to a check) is a report
// with the error and its kind, not an error; nothing is read or written.
func TestInvokeInvalidContinuation(t *testing.T) {
	p, store := reportPipeline(t)
	store.Hook = func(_ context.Context, op, id string) error {
		if op == memstore.OpList && id != "" {
			return fmt.Errorf("list %s: %w", id, handler.ErrDenied)
		}
		return nil
	}
	sweep := invokeReport(t, context.Background(), p, store, `{"action":"sweep"}`)
	if sweep.Continuation == "" {
		t.Fatalf("got %+v, want a sweep cut short with a continuation", sweep)
	}
	for name, token := range map[string]string{"not a token": "not-a-token", "a sweep's token": sweep.Continuation} {
		t.Run(name, func(t *testing.T) {
			before := store.Stats()
			ctx := handler.WithRequestID(context.Background(), "req-3")
			body, err := p.Invoke(ctx, []byte(`{"action":"check","continuation":"`+token+`"}`),
				invocation.OpenFunc(func(context.Context) (handler.KeyStore, error) { return store, nil }).Cloud())
			if err != nil {
				t.Fatalf("got invocation error %v, want the report", err)
			}
			var raw map[string]any
			if err := json.Unmarshal(body, &raw); err != nil {
				t.Fatal(err)
			}
			if raw["error_kind"] != string(handler.KindInvalidContinuation) || !strings.Contains(fmt.Sprint(raw["error"]), "invalid continuation") ||
				raw["mode"] != string(handler.ModeKeys) || raw["scanned"] != 0.0 || raw["request_id"] != "req-3" {
				t.Errorf("got %s, want a keys report with error_kind %q", body, handler.KindInvalidContinuation)
			}
			if _, ok := raw["errorType"]; ok {
				t.Errorf("got %s, want no errorType in a report", body)
			}
			if diff := cmp.Diff(before, store.Stats()); diff != "" {
				t.Errorf("the refused request called the store (-before +after):\n%s", diff)
			}
		})
	}
}
