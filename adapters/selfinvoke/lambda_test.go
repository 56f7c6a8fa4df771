package selfinvoke_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tagwarden/tagwarden/adapters/selfinvoke"
	"github.com/tagwarden/tagwarden/adapters/selfinvoke/lambdaasync"
)

const (
	lambdaRegion  = "eu-west-1"
	lambdaName    = "tagwarden"
	lambdaToken   = "execution-role-session-token-0001"
	lambdaAccount = "210987654321"
)

// lambdaEnv sets the SDK's default credential chain to the execution
// role's variables, as Lambda does, and nothing else: no profile, no
// instance metadata, no endpoint.
func lambdaEnv(t *testing.T, secret, token string) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           lambdaasync.DefaultAccessKey,
		"AWS_SECRET_ACCESS_KEY":       secret,
		"AWS_SESSION_TOKEN":           token,
		"AWS_REGION":                  lambdaRegion,
		"AWS_DEFAULT_REGION":          "",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_LAMBDA":     "",
		"AWS_MAX_ATTEMPTS":            "",
	} {
		t.Setenv(k, v)
	}
}

// lambdaFunc records the payloads it runs.
type lambdaFunc struct {
	mu  sync.Mutex
	got [][]byte
}

func (f *lambdaFunc) run(_ context.Context, payload []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, bytes.Clone(payload))
	return []byte(`{"ok":true}`), nil
}

func (f *lambdaFunc) payloads() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.got...)
}

// startLambda starts lambdaasync with lambdaName registered, accepting
// the default access key with its secret and lambdaToken.
func startLambda(t *testing.T, fn lambdaasync.Function) *lambdaasync.Server {
	t.Helper()
	srv, err := lambdaasync.New(lambdaasync.Options{Region: lambdaRegion, AccountID: lambdaAccount, SessionToken: lambdaToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.Register(lambdaName, fn, "live"); err != nil {
		t.Fatal(err)
	}
	return srv
}

// TestLambdaDispatch sends payloads through aws-sdk-go-v2 to lambdaasync,
// with the SDK's default credential chain.
func TestLambdaDispatch(t *testing.T) {
	big := []byte(`{"pad":"` + strings.Repeat("x", selfinvoke.LambdaMaxAsyncPayload) + `"}`)
	tests := []struct {
		name    string
		payload []byte
		// function is the FunctionName given (default: the ARN).
		function func(srv *lambdaasync.Server) string
		// secret and token are the execution role's (default: the right ones).
		secret, token string
		// endpointFromEnv sets AWS_ENDPOINT_URL_LAMBDA instead of Endpoint.
		endpointFromEnv bool
		setup           func(srv *lambdaasync.Server)
		wantKind        error
		wantCause       error
		wantStatus      int
		wantCode        string
		wantRequests    int
		wantDeliveries  int
	}{
		{name: "delivered once", payload: fixture(t, "continuation.json"), wantRequests: 1, wantDeliveries: 1},
		{
			name: "endpoint from AWS_ENDPOINT_URL_LAMBDA", payload: []byte(`{"a":1}`), endpointFromEnv: true,
			wantRequests: 1, wantDeliveries: 1,
		},
		{
			name: "plain name with an alias", payload: []byte(`{"a":1}`),
			function:     func(*lambdaasync.Server) string { return lambdaName + ":live" },
			wantRequests: 1, wantDeliveries: 1,
		},
		{
			name: "partial ARN", payload: []byte(`{"a":1}`),
			function:     func(*lambdaasync.Server) string { return lambdaAccount + ":function:" + lambdaName },
			wantRequests: 1, wantDeliveries: 1,
		},
		{
			name: "503 retried, delivered once", payload: fixture(t, "continuation.json"),
			setup:        func(srv *lambdaasync.Server) { srv.FailNext(1, 503) },
			wantRequests: 2, wantDeliveries: 1,
		},
		{
			// A 500 may follow an accepted call: not sent again.
			name: "500 not retried", payload: fixture(t, "continuation.json"),
			setup:    func(srv *lambdaasync.Server) { srv.FailNext(1, 500) },
			wantKind: selfinvoke.ErrUnknownOutcome, wantStatus: 500, wantCode: "ServiceException", wantRequests: 1,
		},
		{
			name: "429 retried, delivered once", payload: []byte(`{"a":1}`),
			setup:        func(srv *lambdaasync.Server) { srv.FailNext(2, 429) },
			wantRequests: 3, wantDeliveries: 1,
		},
		{
			name: "503 until the attempts run out", payload: []byte(`{"a":1}`),
			setup:    func(srv *lambdaasync.Server) { srv.FailNext(10, 503) },
			wantKind: selfinvoke.ErrUnavailable, wantStatus: 503, wantCode: "ServiceException", wantRequests: 3,
		},
		{
			name: "403 not retried", payload: fixture(t, "continuation.json"),
			setup:    func(srv *lambdaasync.Server) { srv.FailNext(1, 403) },
			wantKind: selfinvoke.ErrRefused, wantStatus: 403, wantCode: "AccessDeniedException", wantRequests: 1,
		},
		{
			name: "wrong secret key", payload: fixture(t, "continuation.json"), secret: "not-the-secret-key",
			wantKind: selfinvoke.ErrRefused, wantStatus: 403, wantCode: "InvalidSignatureException", wantRequests: 1,
		},
		{
			name: "wrong session token", payload: fixture(t, "continuation.json"), token: "an-expired-token",
			wantKind: selfinvoke.ErrRefused, wantStatus: 403, wantCode: "UnrecognizedClientException", wantRequests: 1,
		},
		{
			name: "unknown function", payload: []byte(`{"a":1}`),
			function: func(srv *lambdaasync.Server) string { return srv.ARN("someone-else") },
			wantKind: selfinvoke.ErrRefused, wantStatus: 404, wantCode: "ResourceNotFoundException", wantRequests: 1,
		},
		{
			name: "unknown alias", payload: []byte(`{"a":1}`),
			function: func(srv *lambdaasync.Server) string { return srv.ARN(lambdaName) + ":staging" },
			wantKind: selfinvoke.ErrRefused, wantStatus: 404, wantCode: "ResourceNotFoundException", wantRequests: 1,
		},
		{
			name: "over the limit, refused before sending", payload: big,
			wantKind: selfinvoke.ErrRefused, wantCause: selfinvoke.ErrTooLarge,
		},
		{
			name: "not an object, refused before sending", payload: []byte(`"just a string"`),
			wantKind: selfinvoke.ErrRefused, wantCause: selfinvoke.ErrInvalidPayload,
		},
		{
			name: "duplicated delivery", payload: fixture(t, "continuation.json"),
			setup:        func(srv *lambdaasync.Server) { srv.SetDuplicate(true) },
			wantRequests: 1, wantDeliveries: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			fn := &lambdaFunc{}
			srv := startLambda(t, fn.run)
			secret, token := lambdaasync.DefaultSecretKey, lambdaToken
			if tt.secret != "" {
				secret = tt.secret
			}
			if tt.token != "" {
				token = tt.token
			}
			lambdaEnv(t, secret, token)
			cfg := selfinvoke.LambdaConfig{FunctionName: srv.ARN(lambdaName), Endpoint: srv.URL(), Retry: fastRetry}
			if tt.function != nil {
				cfg.FunctionName = tt.function(srv)
			}
			if tt.endpointFromEnv {
				cfg.Endpoint = ""
				t.Setenv("AWS_ENDPOINT_URL_LAMBDA", srv.URL())
			}
			if tt.setup != nil {
				tt.setup(srv)
			}
			d, err := selfinvoke.NewLambda(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			id, err := d.Dispatch(ctx, tt.payload)
			assertDispatchError(t, err, tt.wantKind, tt.wantCause, tt.wantStatus, tt.wantCode)
			if strings.Contains(fmt.Sprint(err), secret) || strings.Contains(fmt.Sprint(err), token) {
				t.Errorf("error %v carries a secret", err)
			}
			if err := srv.Wait(ctx); err != nil {
				t.Fatalf("wait for the deliveries: %v", err)
			}
			if got := srv.Requests(); got != tt.wantRequests {
				t.Errorf("got %d calls to the API, want %d", got, tt.wantRequests)
			}
			got := fn.payloads()
			if len(got) != tt.wantDeliveries {
				t.Fatalf("got %d runs of the function, want %d", len(got), tt.wantDeliveries)
			}
			invs := srv.Invocations()
			if tt.wantDeliveries == 0 {
				if len(invs) != 0 {
					t.Errorf("got %d accepted invocations, want none", len(invs))
				}
				return
			}
			if len(invs) != 1 || invs[0].RequestID != id || invs[0].InvocationType != lambdaasync.Event || len(invs[0].Deliveries) != tt.wantDeliveries {
				t.Fatalf("got accepted invocations %+v, want one Event with request id %q and %d deliveries", invs, id, tt.wantDeliveries)
			}
			for i, p := range got {
				if !bytes.Equal(p, tt.payload) {
					t.Errorf("run %d: got payload %.80q, want the bytes sent", i, p)
				}
				assertSameJSON(t, p, tt.payload)
				if d := invs[0].Deliveries[i]; d.Error || d.Err != nil || string(d.Result) != `{"ok":true}` {
					t.Errorf("delivery %d: got %+v, want the function's result", i, d)
				}
			}
		})
	}
}

// TestLambdaFanOut runs a chain of Event invocations, each dispatching the
// next ones from inside the function; lambdaasync runs them one at a time
// and Wait waits for the whole tree.
func TestLambdaFanOut(t *testing.T) {
	ctx := testCtx(t)
	lambdaEnv(t, lambdaasync.DefaultSecretKey, lambdaToken)
	var (
		srv              *lambdaasync.Server
		d                *selfinvoke.Lambda
		mu               sync.Mutex
		running, overlap int
	)
	srv = startLambda(t, func(ctx context.Context, payload []byte) ([]byte, error) {
		mu.Lock()
		running++
		if running > 1 {
			overlap++
		}
		mu.Unlock()
		defer func() { mu.Lock(); running--; mu.Unlock() }()
		var p struct{ Depth int }
		if err := json.Unmarshal(payload, &p); err != nil {
			return nil, err
		}
		for i := 0; p.Depth > 0 && i < 2; i++ {
			if _, err := d.Dispatch(ctx, fmt.Appendf(nil, `{"depth":%d}`, p.Depth-1)); err != nil {
				return nil, err
			}
		}
		return []byte(`{}`), nil
	})
	var err error
	if d, err = selfinvoke.NewLambda(ctx, selfinvoke.LambdaConfig{FunctionName: srv.ARN(lambdaName), Endpoint: srv.URL(), Retry: fastRetry}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Dispatch(ctx, []byte(`{"depth":3}`)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Wait(ctx); err != nil {
		t.Fatalf("wait: %v", err)
	}
	invs := srv.Invocations()
	if len(invs) != 15 {
		t.Fatalf("got %d invocations, want 15", len(invs))
	}
	for _, inv := range invs {
		if len(inv.Deliveries) != 1 || inv.Deliveries[0].Error {
			t.Errorf("invocation %s: got deliveries %+v, want one success", inv.RequestID, inv.Deliveries)
		}
	}
	if overlap != 0 {
		t.Errorf("got %d runs overlapping another, want one at a time", overlap)
	}
}

// TestLambdaTooLargeAnswered: a 413 from the platform (a limit lower than
// ours) is a refusal with ErrTooLarge, not retried.
func TestLambdaTooLargeAnswered(t *testing.T) {
	ctx := testCtx(t)
	lambdaEnv(t, lambdaasync.DefaultSecretKey, lambdaToken)
	srv, err := lambdaasync.New(lambdaasync.Options{Region: lambdaRegion, AccountID: lambdaAccount, SessionToken: lambdaToken, MaxAsyncPayload: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	fn := &lambdaFunc{}
	if err := srv.Register(lambdaName, fn.run); err != nil {
		t.Fatal(err)
	}
	d, err := selfinvoke.NewLambda(ctx, selfinvoke.LambdaConfig{FunctionName: srv.ARN(lambdaName), Endpoint: srv.URL(), Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Dispatch(ctx, fixture(t, "continuation.json"))
	assertDispatchError(t, err, selfinvoke.ErrRefused, selfinvoke.ErrTooLarge, 413, "RequestEntityTooLargeException")
	if got := srv.Requests(); got != 1 {
		t.Errorf("got %d calls, want 1", got)
	}
}
