package functiongraph_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/adapters/functiongraph"
	"github.com/tagwarden/tagwarden/adapters/functiongraph/runtimetest"
)

func TestCredentialsFromHeader(t *testing.T) {
	tests := []struct {
		name    string
		header  map[string]string
		want    *functiongraph.Credentials
		wantErr string
	}{
		{"none", map[string]string{"X-CFF-Auth-Token": "tok"}, nil, ""},
		{"access key family", map[string]string{"X-CFF-Access-Key": "AK1", "X-CFF-Secret-Key": "SK1", "X-CFF-Security-Token": "T1"},
			&functiongraph.Credentials{AccessKey: "AK1", SecretKey: "SK1", SecurityToken: "T1"}, ""},
		{"security family", map[string]string{"X-CFF-Security-Access-Key": "AK2", "X-CFF-Security-Secret-Key": "SK2", "X-CFF-Security-Token": "T2"},
			&functiongraph.Credentials{AccessKey: "AK2", SecretKey: "SK2", SecurityToken: "T2"}, ""},
		{"mixed families", map[string]string{"x-cff-access-key": "AK3", "X-CFF-SECURITY-SECRET-KEY": "SK3"},
			&functiongraph.Credentials{AccessKey: "AK3", SecretKey: "SK3"}, ""},
		{"half a pair", map[string]string{"X-CFF-Access-Key": "AK4"}, nil, "half a key pair"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.header {
				h.Set(k, v)
			}
			got, err := functiongraph.CredentialsFromHeader(h)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("credentials mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCredentialsRedacted(t *testing.T) {
	c := functiongraph.Credentials{AccessKey: "AKIDEXAMPLE", SecretKey: "very-secret", SecurityToken: "token-secret"}
	for _, s := range []string{c.String(), c.GoString()} {
		if strings.Contains(s, "very-secret") || strings.Contains(s, "token-secret") || strings.Contains(s, "AKIDEXAMPLE") {
			t.Errorf("got %q, want the secrets redacted", s)
		}
	}
}

type typed struct{ msg string }

func (e typed) Error() string     { return e.msg }
func (e typed) ErrorType() string { return "Custom" }

// TestServe runs the loop against the runtime API test server: dropped
// connections are retried, the deadline is the arrival plus the timeout,
// errors and panics become error responses and the loop keeps serving.
func TestServe(t *testing.T) {
	srv, err := runtimetest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.DropNext(3)

	client, err := functiongraph.NewClient(srv.Addr(), 7*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	client.MinBackoff = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var sent atomic.Int64 // when the current event was sent, Unix nanoseconds
	go func() {
		done <- client.Serve(ctx, func(ctx context.Context, inv functiongraph.Invocation) ([]byte, error) {
			switch string(inv.Payload) {
			case "fail":
				return nil, typed{"it failed"}
			case "plain":
				return nil, errors.New("plain failure")
			case "panic":
				panic("boom")
			}
			// The deadline is the event's arrival plus the timeout, and the
			// event arrived after it was sent: however slow the machine.
			dl, ok := ctx.Deadline()
			deadlineOK := dl.Equal(inv.Deadline) && inv.Deadline.Sub(inv.Arrived) == 7*time.Second &&
				!inv.Arrived.Before(time.Unix(0, sent.Load())) && !inv.Arrived.After(time.Now())
			return json.Marshal(map[string]any{
				"id": inv.RequestID, "has_deadline": ok, "deadline_ok": deadlineOK,
				"ak": inv.Credentials.AccessKey, "payload": string(inv.Payload),
			})
		})
	}()

	tests := []struct {
		name      string
		payload   string
		dropPosts int // result posts whose connection breaks first
		isErr     bool
		want      string
	}{
		{"success after dropped connections", "hello", 0, false, `{"ak":"AK","deadline_ok":true,"has_deadline":true,"id":"r-0","payload":"hello"}`},
		{"typed error", "fail", 0, true, `{"errorMessage":"it failed","errorType":"Custom"}`},
		{"plain error", "plain", 0, true, `{"errorMessage":"plain failure","errorType":"InternalError"}`},
		{"panic", "panic", 0, true, `"errorType":"InternalError"`},
		{"response posted again after broken connections", "retry", 2, false, `"payload":"retry"`},
		{"error posted again after a broken connection", "fail", 1, true, `"errorType":"Custom"`},
		{"still serving", "again", 0, false, `"payload":"again"`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.DropResults(tt.dropPosts)
			posts := srv.Posts()
			defer func() {
				if got, want := srv.Posts()-posts, tt.dropPosts+1; got != want {
					t.Errorf("got %d result posts, want %d (%d dropped)", got, want, tt.dropPosts)
				}
			}()
			ictx, icancel := context.WithTimeout(ctx, 10*time.Second)
			defer icancel()
			h := http.Header{}
			h.Set("X-CFF-Access-Key", "AK")
			h.Set("X-CFF-Secret-Key", "SK")
			id := "r-" + string(rune('0'+i))
			sent.Store(time.Now().UnixNano())
			res, err := srv.Invoke(ictx, runtimetest.Event{RequestID: id, Payload: []byte(tt.payload), Header: h})
			if err != nil {
				t.Fatal(err)
			}
			if res.Error != tt.isErr || !strings.Contains(string(res.Body), tt.want) {
				t.Errorf("got error=%v body %s, want error=%v body containing %s", res.Error, res.Body, tt.isErr, tt.want)
			}
		})
	}
	if p := srv.Polls(); p < 3+len(tests) {
		t.Errorf("got %d polls, want at least %d (3 dropped)", p, 3+len(tests))
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve returned %v, want nil after cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

func TestClientFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"ok", map[string]string{"RUNTIME_API_ADDR": "127.0.0.1:8888", "RUNTIME_TIMEOUT": "30"}, ""},
		{"default timeout", map[string]string{"RUNTIME_API_ADDR": "127.0.0.1:8888"}, ""},
		{"no address", map[string]string{}, "RUNTIME_API_ADDR is empty"},
		{"bad timeout", map[string]string{"RUNTIME_API_ADDR": "127.0.0.1:8888", "RUNTIME_TIMEOUT": "3s"}, `RUNTIME_TIMEOUT="3s": expected the function timeout in whole seconds`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := functiongraph.ClientFromEnv(func(k string) string { return tt.env[k] }, nil)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("got error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// FuzzCredentialsFromHeader: whatever the headers hold, the credentials are
// none, an error, or a whole trimmed key pair.
func FuzzCredentialsFromHeader(f *testing.F) {
	f.Add("AK", "SK", "", "", "token")
	f.Add("", "", "AK2", "SK2", "")
	f.Add(" AK ", "", "", "SK", "")
	f.Add("AK", "", "", "", "")
	f.Fuzz(func(t *testing.T, ak, sk, sak, ssk, token string) {
		h := http.Header{}
		for name, v := range map[string]string{"X-CFF-Access-Key": ak, "X-CFF-Secret-Key": sk,
			"X-CFF-Security-Access-Key": sak, "X-CFF-Security-Secret-Key": ssk, "X-CFF-Security-Token": token} {
			h[http.CanonicalHeaderKey(name)] = []string{v}
		}
		c, err := functiongraph.CredentialsFromHeader(h)
		switch {
		case err != nil:
			if c != nil {
				t.Fatalf("got credentials and error %v", err)
			}
		case c == nil:
			if strings.TrimSpace(ak+sk+sak+ssk) != "" && (strings.TrimSpace(ak+sak) != "") == (strings.TrimSpace(sk+ssk) != "") {
				t.Fatalf("headers with a key pair gave no credentials")
			}
		default:
			if c.AccessKey == "" || c.SecretKey == "" || c.AccessKey != strings.TrimSpace(c.AccessKey) || c.SecretKey != strings.TrimSpace(c.SecretKey) {
				t.Fatalf("got %#v, want a whole trimmed key pair", c)
			}
		}
	})
}

// TestServeStopDuringInvocation: when the loop's context ends while an
// invocation runs (SIGTERM), the invocation's context ends too and its
// result is still posted before Serve returns.
func TestServeStopDuringInvocation(t *testing.T) {
	srv, err := runtimetest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client, err := functiongraph.NewClient(srv.Addr(), time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- client.Serve(ctx, func(ictx context.Context, inv functiongraph.Invocation) ([]byte, error) {
			close(started)
			<-ictx.Done()
			return []byte(`{"stopped":"` + ictx.Err().Error() + `"}`), nil
		})
	}()
	ictx, icancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer icancel()
	resc := make(chan runtimetest.Result, 1)
	go func() {
		res, err := srv.Invoke(ictx, runtimetest.Event{RequestID: "stop-1", Payload: []byte(`{}`)})
		if err != nil {
			t.Error(err)
		}
		resc <- res
	}()
	select {
	case <-started:
	case <-ictx.Done():
		t.Fatal("the invocation did not start")
	}
	cancel()
	res := <-resc
	if res.Error || string(res.Body) != `{"stopped":"context canceled"}` {
		t.Errorf("got error=%v body %s, want the result posted after the stop", res.Error, res.Body)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve returned %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the stop")
	}
}
