package fgasync_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"

	"github.com/tagwarden/tagwarden/adapters/functiongraph"
	"github.com/tagwarden/tagwarden/adapters/functiongraph/runtimetest"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/selfinvoke"
	"github.com/tagwarden/tagwarden/adapters/selfinvoke/fgasync"
)

var (
	creds = emulator.Signer{AccessKey: "CALLERTEMPAK00000001", SecretKey: "caller-secret-key", SecurityToken: "caller-token"}
	urn   = selfinvoke.URN{Region: "ap-southeast-3", ProjectID: emulator.DefaultProject, Package: "default", Name: "tagwarden", Version: "latest"}
)

// start runs fgasync with urn registered and one runtime loop running fn.
func start(t *testing.T, opts fgasync.Options, fn functiongraph.Func) *fgasync.Server {
	t.Helper()
	rt, err := runtimetest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	opts.Signer = creds
	srv, err := fgasync.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.Register(urn, rt); err != nil {
		t.Fatal(err)
	}
	client, err := functiongraph.NewClient(rt.Addr(), 30*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	client.MinBackoff = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); client.Serve(ctx, fn) }() //nolint:errcheck // nil when ctx ends
	t.Cleanup(func() { cancel(); wg.Wait() })
	return srv
}

// raw is a request signed by the SDK's signer and sent with net/http.
type raw struct {
	path, body string
	project    string            // X-Project-Id ("" = the default project)
	signer     *emulator.Signer  // nil: creds
	unsigned   bool              // no Authorization at all
	headers    map[string]string // extra, signed
}

func asyncPath(project, urn string) string {
	return "/v2/" + project + "/fgs/functions/" + urn + "/invocations-async"
}

// send signs r like the SDK and returns the status, the headers and the body.
func send(t *testing.T, base string, r raw) (int, http.Header, map[string]string) {
	t.Helper()
	s := creds
	if r.signer != nil {
		s = *r.signer
	}
	project := r.project
	if project == "" {
		project = emulator.DefaultProject
	}
	b := request.NewHttpRequestBuilder().WithEndpoint(base).WithMethod(http.MethodPost).WithPath(r.path).
		AddHeaderParam("Content-Type", "application/json").AddHeaderParam("X-Project-Id", project)
	if s.SecurityToken != "" {
		b = b.AddHeaderParam("X-Security-Token", s.SecurityToken)
	}
	for k, v := range r.headers {
		b = b.AddHeaderParam(k, v)
	}
	if r.body != "" {
		b = b.WithBody("body", r.body)
	}
	req := b.Build()
	if !r.unsigned {
		add, err := signer.Sign(req, s.AccessKey, s.SecretKey)
		if err != nil {
			t.Fatalf("sign: %v", err)
		}
		for k, v := range add {
			req.AddHeaderParam(k, v)
		}
	}
	hr, err := req.ConvertRequest()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("decode %q: %v", data, err)
	}
	return resp.StatusCode, resp.Header, m
}

func ok(context.Context, functiongraph.Invocation) ([]byte, error) { return []byte(`{"ok":true}`), nil }

// TestChecks pins each check, its order, and the body of each refusal.
func TestChecks(t *testing.T) {
	t.Parallel()
	srv := start(t, fgasync.Options{}, ok)
	good := asyncPath(emulator.DefaultProject, urn.String())
	otherProject := strings.Repeat("a", 32)
	otherURN := urn
	otherURN.Name = "other"
	wrongSK := creds
	wrongSK.SecretKey = "wrong"
	noToken := creds
	noToken.SecurityToken = ""
	tests := []struct {
		name       string
		req        raw
		failNext   int // FailNext(1, failNext) before the call
		wantStatus int
		wantCode   string
		wantMsg    string   // part of error_msg
		wantFields []string // the body's fields
	}{
		{name: "accepted", req: raw{path: good, body: `{"a":1}`}, wantStatus: 202, wantFields: []string{"request_id"}},
		{name: "unknown route", req: raw{path: "/v2/" + emulator.DefaultProject + "/fgs/functions", body: `{}`},
			wantStatus: 404, wantCode: "APIGW.0101", wantFields: []string{"error_code", "error_msg", "request_id"}},
		{name: "unsigned", req: raw{path: good, body: `{}`, unsigned: true},
			wantStatus: 401, wantCode: "APIGW.0301", wantMsg: "Authorization header is missing", wantFields: []string{"error_code", "error_msg", "request_id"}},
		{name: "wrong secret key", req: raw{path: good, body: `{}`, signer: &wrongSK},
			wantStatus: 401, wantCode: "APIGW.0301", wantMsg: "verify aksk signature fail", wantFields: []string{"error_code", "error_msg", "request_id"}},
		{name: "no security token", req: raw{path: good, body: `{}`, signer: &noToken},
			wantStatus: 401, wantCode: "APIGW.0301", wantMsg: "security token is missing", wantFields: []string{"error_code", "error_msg", "request_id"}},
		{name: "signature checked before the injected failure", req: raw{path: good, body: `{}`, signer: &wrongSK}, failNext: 500,
			wantStatus: 401, wantCode: "APIGW.0301", wantFields: []string{"error_code", "error_msg", "request_id"}},
		{name: "X-Project-Id not the path's", req: raw{path: good, body: `{}`, project: otherProject},
			wantStatus: 403, wantCode: "APIGW.0302", wantMsg: "X-Project-Id", wantFields: []string{"error_code", "error_msg", "request_id"}},
		{name: "project of another account", req: raw{path: asyncPath(otherProject, urn.String()), body: `{}`, project: otherProject},
			wantStatus: 403, wantCode: "APIGW.0302", wantMsg: "does not belong", wantFields: []string{"error_code", "error_msg", "request_id"}},
		{name: "injected 500", req: raw{path: good, body: `{}`}, failNext: 500,
			wantStatus: 500, wantCode: "FSS.0500", wantFields: []string{"error_code", "error_msg"}},
		{name: "injected 429", req: raw{path: good, body: `{}`}, failNext: 429,
			wantStatus: 429, wantCode: "APIG.0308", wantFields: []string{"error_code", "error_msg", "request_id"}},
		{name: "malformed URN", req: raw{path: asyncPath(emulator.DefaultProject, "urn:fss:tagwarden"), body: `{}`},
			wantStatus: 400, wantCode: "FSS.0400", wantMsg: "Invalid function URN", wantFields: []string{"error_code", "error_msg"}},
		{name: "URN of another project", req: raw{path: asyncPath(emulator.DefaultProject, strings.Replace(urn.String(), emulator.DefaultProject, otherProject, 1)), body: `{}`},
			wantStatus: 400, wantCode: "FSS.0400", wantMsg: "does not match the project in the path", wantFields: []string{"error_code", "error_msg"}},
		{name: "unknown function", req: raw{path: asyncPath(emulator.DefaultProject, otherURN.String()), body: `{}`},
			wantStatus: 404, wantCode: "FSS.1051", wantMsg: "Not found the function", wantFields: []string{"error_code", "error_msg"}},
		{name: "body over the limit", req: raw{path: good, body: `{"pad":"` + strings.Repeat("x", selfinvoke.FunctionGraphMaxAsyncPayload) + `"}`},
			wantStatus: 413, wantCode: "FSS.0413", wantMsg: "over the 262144-byte limit", wantFields: []string{"error_code", "error_msg"}},
		{name: "body an array", req: raw{path: good, body: `[1,2]`},
			wantStatus: 400, wantCode: "FSS.0400", wantMsg: "not a JSON object", wantFields: []string{"error_code", "error_msg"}},
		{name: "body not JSON", req: raw{path: good, body: `{"a":`},
			wantStatus: 400, wantCode: "FSS.0400", wantMsg: "not a JSON object", wantFields: []string{"error_code", "error_msg"}},
		{name: "two objects", req: raw{path: good, body: `{}{}`},
			wantStatus: 400, wantCode: "FSS.0400", wantMsg: "not a JSON object", wantFields: []string{"error_code", "error_msg"}},
	}
	var mu sync.Mutex // FailNext is shared: one case at a time
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			defer mu.Unlock()
			if tt.failNext != 0 {
				srv.FailNext(1, tt.failNext)
				defer srv.FailNext(0, 0)
			}
			status, h, body := send(t, srv.URL(), tt.req)
			if status != tt.wantStatus {
				t.Fatalf("got status %d %v, want %d", status, body, tt.wantStatus)
			}
			var fields []string
			for k := range body {
				fields = append(fields, k)
			}
			slices.Sort(fields)
			if diff := cmp.Diff(tt.wantFields, fields); diff != "" {
				t.Errorf("body fields (-want +got):\n%s", diff)
			}
			if body["error_code"] != tt.wantCode {
				t.Errorf("got error_code %q, want %q", body["error_code"], tt.wantCode)
			}
			if !strings.Contains(body["error_msg"], tt.wantMsg) {
				t.Errorf("got error_msg %q, want it to hold %q", body["error_msg"], tt.wantMsg)
			}
			if id := h.Get("X-Request-Id"); id == "" || body["request_id"] != "" && body["request_id"] != id {
				t.Errorf("got X-Request-Id %q and request_id %q, want them set and equal", id, body["request_id"])
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(srv.Invocations()); got != 1 {
		t.Errorf("got %d accepted invocations, want the one accepted", got)
	}
}

// TestWaitAndClose: Wait is bounded by its ctx while a delivery runs; Close
// stops the delivery in flight and records it.
func TestWaitAndClose(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := start(t, fgasync.Options{}, func(ctx context.Context, _ functiongraph.Invocation) ([]byte, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return []byte(`{}`), nil
	})
	defer close(release)
	if status, _, body := send(t, srv.URL(), raw{path: asyncPath(emulator.DefaultProject, urn.String()), body: `{"n":1}`}); status != 202 {
		t.Fatalf("got %d %v, want 202", status, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the deadline while the delivery runs", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Wait(context.Background()); err != nil {
		t.Fatalf("got %v after Close, want nothing pending", err)
	}
	invs := srv.Invocations()
	if len(invs) != 1 || len(invs[0].Deliveries) != 1 || !errors.Is(invs[0].Deliveries[0].Err, context.Canceled) {
		t.Fatalf("got %+v, want one delivery cut by Close", invs)
	}
}

// TestRegister refuses what cannot be served.
func TestRegister(t *testing.T) {
	t.Parallel()
	srv, err := fgasync.New(fgasync.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rt, err := runtimetest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	bad := urn
	bad.ProjectID = "nope"
	if err := srv.Register(bad, rt); err == nil {
		t.Error("got no error for a bad URN")
	}
	if err := srv.Register(urn, nil); err == nil {
		t.Error("got no error without a runtime API")
	}
	if _, err := fgasync.New(fgasync.Options{Signer: emulator.Signer{AccessKey: "AK"}}); err == nil {
		t.Error("got no error for a signer without a secret key")
	}
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") {
		t.Errorf("got URL %s, want loopback", srv.URL())
	}
}
