package selfinvoke_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/selfinvoke"
)

// platform builds a dispatcher of one platform for an endpoint.
type platform struct {
	name string
	new  func(t *testing.T, endpoint string, retry selfinvoke.RetryPolicy, timeout time.Duration) selfinvoke.Dispatcher
}

var platforms = []platform{
	{"functiongraph", func(t *testing.T, endpoint string, retry selfinvoke.RetryPolicy, timeout time.Duration) selfinvoke.Dispatcher {
		d, err := selfinvoke.NewFunctionGraph(selfinvoke.FunctionGraphConfig{URN: testURN, Endpoint: endpoint, Credentials: callerCreds, Retry: retry, HTTPTimeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}},
	{"lambda", func(t *testing.T, endpoint string, retry selfinvoke.RetryPolicy, timeout time.Duration) selfinvoke.Dispatcher {
		d, err := selfinvoke.NewLambda(context.Background(), selfinvoke.LambdaConfig{
			FunctionName: "arn:aws:lambda:" + lambdaRegion + ":" + lambdaAccount + ":function:" + lambdaName,
			Endpoint:     endpoint, Retry: retry, HTTPTimeout: timeout,
		})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}},
}

// fakeAPI answers every call with answer, counting the calls; it stands
// for failures the emulators cannot produce (no answer, a broken
// connection, a service quoting the request).
func fakeAPI(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, body []byte)) (url string, calls *atomic.Int32) {
	t.Helper()
	calls = &atomic.Int32{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		answer(w, r, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, calls
}

// closedPort is an address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// TestDispatchRetryRules pins when a call is repeated: only when the
// platform certainly did not accept it.
func TestDispatchRetryRules(t *testing.T) {
	lambdaEnv(t, "any-secret", "any-token")
	payload := fixture(t, "continuation.json")
	retry := selfinvoke.RetryPolicy{MaxAttempts: 3, BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}
	tests := []struct {
		name string
		// endpoint returns the endpoint and the count of calls it got (nil: none can be counted).
		endpoint   func(t *testing.T) (string, *atomic.Int32)
		timeout    time.Duration
		wantKind   error
		wantStatus int
		wantCalls  int32
		wantTries  int
	}{
		{
			name:      "refused connection: retried",
			endpoint:  func(t *testing.T) (string, *atomic.Int32) { return closedPort(t), nil },
			wantKind:  selfinvoke.ErrUnavailable,
			wantTries: 3,
		},
		{
			name: "sent, no answer before the timeout: not retried",
			endpoint: func(t *testing.T) (string, *atomic.Int32) {
				return fakeAPI(t, func(_ http.ResponseWriter, r *http.Request, _ []byte) { <-r.Context().Done() })
			},
			timeout:   150 * time.Millisecond,
			wantKind:  selfinvoke.ErrUnknownOutcome,
			wantCalls: 1, wantTries: 1,
		},
		{
			name: "sent, connection closed without an answer: not retried",
			endpoint: func(t *testing.T) (string, *atomic.Int32) {
				return fakeAPI(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
					conn, _, err := w.(http.Hijacker).Hijack()
					if err == nil {
						conn.Close()
					}
				})
			},
			wantKind:  selfinvoke.ErrUnknownOutcome,
			wantCalls: 1, wantTries: 1,
		},
		{
			name: "accepted with an unreadable answer: not retried",
			endpoint: func(t *testing.T) (string, *atomic.Int32) {
				return fakeAPI(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusAccepted)
					io.WriteString(w, `{"request_id":`)
				})
			},
			wantKind:   selfinvoke.ErrUnknownOutcome,
			wantStatus: 202,
			wantCalls:  1, wantTries: 1,
		},
	}
	for _, p := range platforms {
		for _, tt := range tests {
			if p.name == "lambda" && strings.HasPrefix(tt.name, "accepted with an unreadable") {
				continue // an Event answer has no body to read
			}
			t.Run(p.name+"/"+tt.name, func(t *testing.T) {
				ctx := testCtx(t)
				ep, calls := tt.endpoint(t)
				timeout := tt.timeout
				if timeout == 0 {
					timeout = 5 * time.Second
				}
				_, err := p.new(t, ep, retry, timeout).Dispatch(ctx, payload)
				assertDispatchError(t, err, tt.wantKind, nil, tt.wantStatus, "")
				var e *selfinvoke.Error
				if errors.As(err, &e) && e.Attempts != tt.wantTries {
					t.Errorf("got %d attempts, want %d (%v)", e.Attempts, tt.wantTries, err)
				}
				if calls != nil && calls.Load() != tt.wantCalls {
					t.Errorf("got %d calls, want %d", calls.Load(), tt.wantCalls)
				}
			})
		}
	}
}

// TestDispatchMasksThePayload: a service that quotes the request in its
// error does not carry the continuation into the error.
func TestDispatchMasksThePayload(t *testing.T) {
	lambdaEnv(t, "any-secret", "any-token")
	ep, _ := fakeAPI(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		msg := "cannot take this body: " + string(body)
		w.Header().Set("Content-Type", "application/json")
		var out []byte
		if strings.HasPrefix(r.URL.Path, "/v2/") {
			out, _ = json.Marshal(map[string]string{"error_code": "FSS.0400", "error_msg": msg})
		} else {
			w.Header().Set("x-amzn-ErrorType", "InvalidRequestContentException")
			out, _ = json.Marshal(map[string]string{"Type": "User", "message": msg})
		}
		w.WriteHeader(http.StatusBadRequest)
		w.Write(out)
	})
	for _, p := range platforms {
		t.Run(p.name, func(t *testing.T) {
			_, err := p.new(t, ep, fastRetry, time.Second).Dispatch(testCtx(t), fixture(t, "continuation.json"))
			code := map[string]string{"functiongraph": "FSS.0400", "lambda": "InvalidRequestContentException"}[p.name]
			assertDispatchError(t, err, selfinvoke.ErrRefused, nil, 400, code)
			if !strings.Contains(err.Error(), "<redacted>") {
				t.Errorf("got %q, want the quoted payload masked", err)
			}
		})
	}
}

// TestDispatchStopsAtTheDeadline: no attempt after ctx ends, no backoff
// that crosses its deadline.
func TestDispatchStopsAtTheDeadline(t *testing.T) {
	lambdaEnv(t, "any-secret", "any-token")
	ep, calls := fakeAPI(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error_code":"FSS.0503","error_msg":"busy"}`)
	})
	slow := selfinvoke.RetryPolicy{MaxAttempts: 5, BaseBackoff: 10 * time.Second, MaxBackoff: 10 * time.Second}
	for _, p := range platforms {
		t.Run(p.name+"/cancelled before sending", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			before := calls.Load()
			_, err := p.new(t, ep, slow, time.Second).Dispatch(ctx, []byte(`{"a":1}`))
			assertDispatchError(t, err, selfinvoke.ErrUnavailable, context.Canceled, 0, "")
			if got := calls.Load() - before; got != 0 {
				t.Errorf("got %d calls, want none", got)
			}
		})
		t.Run(p.name+"/backoff past the deadline", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			before, start := calls.Load(), time.Now()
			_, err := p.new(t, ep, slow, time.Second).Dispatch(ctx, []byte(`{"a":1}`))
			// The backoff is drawn from (0, 10s]: it may fit in the second
			// left, then the second attempt is cut by the deadline while
			// sent, which may have been accepted.
			var e *selfinvoke.Error
			got := calls.Load() - before
			switch {
			case got > 2:
				t.Errorf("got %d calls, want at most 2", got)
			case got == 1 && (!errors.As(err, &e) || !errors.Is(err, selfinvoke.ErrUnavailable) || e.Status != 503):
				t.Fatalf("one call: got %v, want the 503 as not accepted", err)
			case got == 2 && !errors.Is(err, selfinvoke.ErrUnavailable) && !errors.Is(err, selfinvoke.ErrUnknownOutcome):
				t.Fatalf("two calls: got %v, want not accepted, or the second cut while sent", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %s, want the deadline (1s) to end it", d)
			}
		})
	}
}

// TestCredentialsNeverPrintSecrets checks String and GoString.
func TestCredentialsNeverPrintSecrets(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		got := fmt.Sprintf(format, callerCreds)
		for _, secret := range []string{callerCreds.SecretKey, callerCreds.SecurityToken, callerCreds.AccessKey} {
			if strings.Contains(got, secret) {
				t.Errorf("%s: got %q, want %q hidden", format, got, secret)
			}
		}
	}
}
