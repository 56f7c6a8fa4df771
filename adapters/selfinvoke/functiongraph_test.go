package selfinvoke_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/functiongraph"
	"github.com/tagwarden/tagwarden/adapters/functiongraph/runtimetest"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/selfinvoke"
	"github.com/tagwarden/tagwarden/adapters/selfinvoke/fgasync"
)

// TestFunctionGraphDispatch sends payloads through the official SDK to
// fgasync, which delivers them to the real FunctionGraph runtime loop.
func TestFunctionGraphDispatch(t *testing.T) {
	t.Parallel()
	big := []byte(`{"pad":"` + strings.Repeat("x", selfinvoke.FunctionGraphMaxAsyncPayload) + `"}`)
	other := testURN
	other.Name = "someone-else"
	tests := []struct {
		name    string
		payload []byte
		// setup prepares the server and the dispatcher's configuration.
		setup func(e *fgEnv, cfg *selfinvoke.FunctionGraphConfig)
		// wantKind is the error's kind, nil for success.
		wantKind, wantCause error
		wantStatus          int
		wantCode            string
		wantRequests        int // calls fgasync received
		wantDeliveries      int // runs of the function
	}{
		{name: "delivered once", payload: fixture(t, "continuation.json"), wantRequests: 1, wantDeliveries: 1},
		{
			name: "503 retried, delivered once", payload: fixture(t, "continuation.json"),
			setup:        func(e *fgEnv, _ *selfinvoke.FunctionGraphConfig) { e.srv.FailNext(1, 503) },
			wantRequests: 2, wantDeliveries: 1,
		},
		{
			// A gateway's 502 may follow an accepted call: not sent again.
			name: "502 not retried", payload: fixture(t, "continuation.json"),
			setup:    func(e *fgEnv, _ *selfinvoke.FunctionGraphConfig) { e.srv.FailNext(1, 502) },
			wantKind: selfinvoke.ErrUnknownOutcome, wantStatus: 502, wantCode: "FSS.0502", wantRequests: 1,
		},
		{
			name: "429 retried, delivered once", payload: []byte(`{"a":1}`),
			setup:        func(e *fgEnv, _ *selfinvoke.FunctionGraphConfig) { e.srv.FailNext(2, 429) },
			wantRequests: 3, wantDeliveries: 1,
		},
		{
			name: "503 until the attempts run out", payload: []byte(`{"a":1}`),
			setup:    func(e *fgEnv, _ *selfinvoke.FunctionGraphConfig) { e.srv.FailNext(10, 503) },
			wantKind: selfinvoke.ErrUnavailable, wantStatus: 503, wantCode: "FSS.0503", wantRequests: 3,
		},
		{
			name: "403 not retried", payload: fixture(t, "continuation.json"),
			setup:    func(e *fgEnv, _ *selfinvoke.FunctionGraphConfig) { e.srv.FailNext(1, 403) },
			wantKind: selfinvoke.ErrRefused, wantStatus: 403, wantCode: "FSS.0403", wantRequests: 1,
		},
		{
			name: "wrong secret key", payload: fixture(t, "continuation.json"),
			setup: func(_ *fgEnv, cfg *selfinvoke.FunctionGraphConfig) {
				cfg.Credentials = callerCreds
				cfg.Credentials.SecretKey = "not-the-secret-key"
			},
			wantKind: selfinvoke.ErrRefused, wantStatus: 401, wantCode: "APIGW.0301", wantRequests: 1,
		},
		{
			name: "wrong security token", payload: fixture(t, "continuation.json"),
			setup: func(_ *fgEnv, cfg *selfinvoke.FunctionGraphConfig) {
				cfg.Credentials = callerCreds
				cfg.Credentials.SecurityToken = "an-expired-token"
			},
			wantKind: selfinvoke.ErrRefused, wantStatus: 401, wantCode: "APIGW.0301", wantRequests: 1,
		},
		{
			name: "unknown function", payload: []byte(`{"a":1}`),
			setup:    func(_ *fgEnv, cfg *selfinvoke.FunctionGraphConfig) { cfg.URN = other },
			wantKind: selfinvoke.ErrRefused, wantStatus: 404, wantCode: "FSS.1051", wantRequests: 1,
		},
		{
			name: "over the limit, refused before sending", payload: big,
			wantKind: selfinvoke.ErrRefused, wantCause: selfinvoke.ErrTooLarge,
		},
		{
			name: "not an object, refused before sending", payload: []byte(`["a",1]`),
			wantKind: selfinvoke.ErrRefused, wantCause: selfinvoke.ErrInvalidPayload,
		},
		{
			name: "two objects, refused before sending", payload: []byte(`{"a":1} {"b":2}`),
			wantKind: selfinvoke.ErrRefused, wantCause: selfinvoke.ErrInvalidPayload,
		},
		{
			name: "duplicated delivery", payload: fixture(t, "continuation.json"),
			setup:        func(e *fgEnv, _ *selfinvoke.FunctionGraphConfig) { e.srv.SetDuplicate(true) },
			wantRequests: 1, wantDeliveries: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			e := startFG(t, 1, nil)
			var cfg selfinvoke.FunctionGraphConfig
			if tt.setup != nil {
				tt.setup(e, &cfg)
			}
			id, err := e.dispatcher(t, cfg).Dispatch(ctx, tt.payload)
			assertDispatchError(t, err, tt.wantKind, tt.wantCause, tt.wantStatus, tt.wantCode)
			if err := e.srv.Wait(ctx); err != nil {
				t.Fatalf("wait for the deliveries: %v", err)
			}
			if got := e.srv.Requests(); got != tt.wantRequests {
				t.Errorf("got %d calls to the API, want %d", got, tt.wantRequests)
			}
			got := e.fn.invocations()
			if len(got) != tt.wantDeliveries {
				t.Fatalf("got %d runs of the function, want %d", len(got), tt.wantDeliveries)
			}
			if tt.wantDeliveries == 0 {
				if n := len(e.srv.Invocations()); n != 0 {
					t.Errorf("got %d accepted invocations, want none", n)
				}
				return
			}
			invs := e.srv.Invocations()
			if len(invs) != 1 || invs[0].RequestID != id || len(invs[0].Deliveries) != tt.wantDeliveries {
				t.Fatalf("got accepted invocations %+v, want one with request id %q and %d deliveries", invs, id, tt.wantDeliveries)
			}
			for i, inv := range got {
				if inv.RequestID != id {
					t.Errorf("run %d: got request id %q, want %q", i, inv.RequestID, id)
				}
				if inv.InvokeType != "async" {
					t.Errorf("run %d: got invoke type %q, want async", i, inv.InvokeType)
				}
				if inv.Credentials == nil || *inv.Credentials != functiongraph.Credentials(functionCreds) {
					t.Errorf("run %d: got credentials %v, want the function's %v", i, inv.Credentials, functionCreds)
				}
				assertSameJSON(t, inv.Payload, tt.payload)
				d := invs[0].Deliveries[i]
				if d.Error || d.Err != nil || string(d.Result) != `{"ok":true}` || d.Finished.Before(d.Started) || d.Started.Before(invs[0].Accepted) {
					t.Errorf("delivery %d: got %+v, want the function's result after acceptance", i, d)
				}
			}
		})
	}
}

// TestFunctionGraphFanOut runs a chain: each invocation dispatches the next
// ones from inside the function loop, with the credentials it received, and
// Wait waits for the whole tree. Two processes poll the runtime API, so
// deliveries run concurrently.
func TestFunctionGraphFanOut(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	var e *fgEnv
	var running, most atomic.Int32
	e = startFG(t, 2, func(ctx context.Context, inv functiongraph.Invocation) ([]byte, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		var p struct{ Depth int }
		if err := json.Unmarshal(inv.Payload, &p); err != nil {
			return nil, err
		}
		if p.Depth == 0 {
			return []byte(`{"leaf":true}`), nil
		}
		// The function invokes itself with the credentials of its own
		// invocation: fgasync accepts the caller's only, so use those.
		d, err := selfinvoke.NewFunctionGraph(selfinvoke.FunctionGraphConfig{URN: testURN, Endpoint: e.srv.URL(), Credentials: callerCreds, Retry: fastRetry})
		if err != nil {
			return nil, err
		}
		for range 2 {
			if _, err := d.Dispatch(ctx, fmt.Appendf(nil, `{"depth":%d}`, p.Depth-1)); err != nil {
				return nil, err
			}
		}
		return []byte(`{"fanned":2}`), nil
	})
	d := e.dispatcher(t, selfinvoke.FunctionGraphConfig{})
	if _, err := d.Dispatch(ctx, []byte(`{"depth":3}`)); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Wait(ctx); err != nil {
		t.Fatalf("wait: %v", err)
	}
	// 1 + 2 + 4 + 8 invocations.
	invs := e.srv.Invocations()
	if len(invs) != 15 {
		t.Fatalf("got %d invocations, want 15", len(invs))
	}
	for _, inv := range invs {
		if len(inv.Deliveries) != 1 || inv.Deliveries[0].Error {
			t.Errorf("invocation %s: got deliveries %+v, want one success", inv.RequestID, inv.Deliveries)
		}
	}
	if got := most.Load(); got > 2 {
		t.Errorf("got %d concurrent runs, want at most 2 (one per polling process)", got)
	}
}

// TestFunctionGraphConcurrentDeliveries: with two processes polling, two
// invocations run at the same time.
func TestFunctionGraphConcurrentDeliveries(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	both := make(chan struct{})
	var arrived atomic.Int32
	e := startFG(t, 2, func(ctx context.Context, _ functiongraph.Invocation) ([]byte, error) {
		if arrived.Add(1) == 2 {
			close(both)
		}
		select {
		case <-both:
			return []byte(`{"together":true}`), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	d := e.dispatcher(t, selfinvoke.FunctionGraphConfig{})
	for i := range 2 {
		if _, err := d.Dispatch(ctx, fmt.Appendf(nil, `{"n":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := e.srv.Wait(wctx); err != nil {
		t.Fatalf("got %v, want both invocations running together", err)
	}
	for _, inv := range e.srv.Invocations() {
		if len(inv.Deliveries) != 1 || string(inv.Deliveries[0].Result) != `{"together":true}` {
			t.Errorf("invocation %s: got deliveries %+v, want one run beside the other", inv.RequestID, inv.Deliveries)
		}
	}
}

// TestFunctionGraphTooLargeAnswered: a 413 from the platform (a limit
// lower than ours) is a refusal with ErrTooLarge, not retried.
func TestFunctionGraphTooLargeAnswered(t *testing.T) {
	t.Parallel()
	srv, err := fgasync.New(fgasync.Options{
		Signer:     emulator.Signer{AccessKey: callerCreds.AccessKey, SecretKey: callerCreds.SecretKey, SecurityToken: callerCreds.SecurityToken},
		MaxPayload: 64,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rt, err := runtimetest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if err := srv.Register(testURN, rt); err != nil {
		t.Fatal(err)
	}
	d, err := selfinvoke.NewFunctionGraph(selfinvoke.FunctionGraphConfig{URN: testURN, Endpoint: srv.URL(), Credentials: callerCreds, Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Dispatch(testCtx(t), fixture(t, "continuation.json"))
	assertDispatchError(t, err, selfinvoke.ErrRefused, selfinvoke.ErrTooLarge, 413, "FSS.0413")
	if got := srv.Requests(); got != 1 {
		t.Errorf("got %d calls, want 1", got)
	}
}
