package selfinvoke_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/adapters/functiongraph"
	"github.com/tagwarden/tagwarden/adapters/functiongraph/runtimetest"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/selfinvoke"
	"github.com/tagwarden/tagwarden/adapters/selfinvoke/fgasync"
)

// The continuation in testdata/continuation.json: it must never appear in
// an error.
const continuation = "v1.eyJjdXJzb3IiOiJrZXktMDAwNDIiLCJleHAiOjE3OTk5OTk5OTl9.c2lnbmF0dXJlLW9mLXRoZS1jb250aW51YXRpb24"

var (
	testURN = selfinvoke.URN{Region: "ap-southeast-3", ProjectID: emulator.DefaultProject, Package: "default", Name: "tagwarden", Version: "latest"}
	// callerCreds sign the dispatcher's calls: the invocation's temporary
	// credentials.
	callerCreds = selfinvoke.Credentials{AccessKey: "CALLERTEMPAK00000001", SecretKey: "caller-secret-key-0001", SecurityToken: "caller-security-token-0001"}
	// functionCreds are what fgasync hands the function it delivers to.
	functionCreds = selfinvoke.Credentials{AccessKey: "FUNCTIONTEMPAK000001", SecretKey: "function-secret-key-0001", SecurityToken: "function-security-token-0001"}
)

// fastRetry keeps the tests' backoffs short.
var fastRetry = selfinvoke.RetryPolicy{MaxAttempts: 3, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}

// fixture reads testdata/name.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testCtx bounds a test.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// decodeJSON decodes b keeping numbers as written.
func decodeJSON(t testing.TB, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}

// assertSameJSON fails unless got and want are the same JSON value, numbers
// compared as written.
func assertSameJSON(t testing.TB, got, want []byte) {
	t.Helper()
	if diff := cmp.Diff(decodeJSON(t, want), decodeJSON(t, got)); diff != "" {
		t.Errorf("payload as delivered (-want +got):\n%s", diff)
	}
}

// assertDispatchError checks err's kind, cause, status and code, and that
// it carries neither the continuation nor a secret.
func assertDispatchError(t testing.TB, err, kind, cause error, status int, code string) {
	t.Helper()
	if kind == nil {
		if err != nil {
			t.Fatalf("got error %v, want none", err)
		}
		return
	}
	var e *selfinvoke.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v (%T), want a *selfinvoke.Error", err, err)
	}
	if !errors.Is(err, kind) {
		t.Errorf("got kind %v, want %v (%v)", e.Kind, kind, err)
	}
	for _, other := range []error{selfinvoke.ErrRefused, selfinvoke.ErrUnavailable, selfinvoke.ErrUnknownOutcome} {
		if other != kind && errors.Is(err, other) {
			t.Errorf("error %v is also %v, want one kind", err, other)
		}
	}
	if cause != nil && !errors.Is(err, cause) {
		t.Errorf("got error %v, want it to wrap %v", err, cause)
	}
	if e.Status != status {
		t.Errorf("got status %d, want %d (%v)", e.Status, status, err)
	}
	if e.Code != code {
		t.Errorf("got code %q, want %q (%v)", e.Code, code, err)
	}
	for _, secret := range []string{continuation, callerCreds.SecretKey, callerCreds.SecurityToken, functionCreds.SecretKey} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q carries %q", err, secret)
		}
	}
}

// recorder is the function behind the FunctionGraph loop: it records what
// each invocation received.
type recorder struct {
	mu     sync.Mutex
	got    []functiongraph.Invocation
	handle func(ctx context.Context, inv functiongraph.Invocation) ([]byte, error)
}

func (r *recorder) fn(ctx context.Context, inv functiongraph.Invocation) ([]byte, error) {
	r.mu.Lock()
	r.got = append(r.got, inv)
	r.mu.Unlock()
	if r.handle != nil {
		return r.handle(ctx, inv)
	}
	return []byte(`{"ok":true}`), nil
}

func (r *recorder) invocations() []functiongraph.Invocation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]functiongraph.Invocation(nil), r.got...)
}

// fgEnv is fgasync delivering to a runtime API polled by the real
// FunctionGraph runtime loop (functiongraph.Client.Serve).
type fgEnv struct {
	srv *fgasync.Server
	fn  *recorder
}

// startFG starts fgasync with testURN registered, accepting callerCreds
// and handing functionCreds to the function, and pollers runtime loops
// running handle (nil: answer {"ok":true}).
func startFG(t testing.TB, pollers int, handle func(context.Context, functiongraph.Invocation) ([]byte, error)) *fgEnv {
	t.Helper()
	rt, err := runtimetest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	srv, err := fgasync.New(fgasync.Options{
		Signer:              emulator.Signer{AccessKey: callerCreds.AccessKey, SecretKey: callerCreds.SecretKey, SecurityToken: callerCreds.SecurityToken},
		ProjectID:           testURN.ProjectID,
		FunctionCredentials: functionCreds,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.Register(testURN, rt); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{handle: handle}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range pollers {
		client, err := functiongraph.NewClient(rt.Addr(), 30*time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		client.MinBackoff = time.Millisecond
		wg.Add(1)
		go func() {
			defer wg.Done()
			client.Serve(ctx, rec.fn) //nolint:errcheck // returns nil when ctx ends
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &fgEnv{srv: srv, fn: rec}
}

// dispatcher returns a FunctionGraph dispatcher for e, with cfg's
// non-zero fields over the defaults (testURN, callerCreds, fastRetry).
func (e *fgEnv) dispatcher(t testing.TB, cfg selfinvoke.FunctionGraphConfig) *selfinvoke.FunctionGraph {
	t.Helper()
	if cfg.URN == (selfinvoke.URN{}) {
		cfg.URN = testURN
	}
	if cfg.Credentials == (selfinvoke.Credentials{}) {
		cfg.Credentials = callerCreds
	}
	if cfg.Retry == (selfinvoke.RetryPolicy{}) {
		cfg.Retry = fastRetry
	}
	cfg.Endpoint = e.srv.URL()
	d, err := selfinvoke.NewFunctionGraph(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
