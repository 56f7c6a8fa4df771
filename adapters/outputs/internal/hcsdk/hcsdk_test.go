package hcsdk_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/region"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/response"
	smn "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/smn/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/smn/v2/model"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/outputs/internal/hcsdk"
)

func TestRedactor(t *testing.T) {
	if got := (hcsdk.Redactor{}).String("AK SK"); got != "AK SK" {
		t.Errorf("the zero Redactor masked: %q", got)
	}
	if got := hcsdk.NewRedactor("", "", "").String("anything"); got != "anything" {
		t.Errorf("no credentials masked: %q", got)
	}
	r := hcsdk.NewRedactor("AKIDEXAMPLE1", "sk/slash", "TOKEN-sk/slash-END")
	q := hcsdk.NewRedactor("", `sk"quote`, "")
	tests := []struct {
		r        hcsdk.Redactor
		in, want string
	}{
		{r, "key AKIDEXAMPLE1 invalid", "key AKID**** invalid"},
		{r, "sk sk/slash", "sk <secret key redacted>"},
		{r, `json "sk\/slash"`, `json "<secret key redacted>"`},
		// The token contains the secret key: masked whole.
		{r, "tok TOKEN-sk/slash-END.", "tok <security token redacted>."},
		{r, `tok "TOKEN-sk\/slash-END"`, `tok "<security token redacted>"`},
		{r, "", ""},
		{q, `sk"quote`, "<secret key redacted>"},
		{q, `json "sk\"quote"`, `json "<secret key redacted>"`},
	}
	for _, tc := range tests {
		r := tc.r
		if got := r.String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := string(r.Bytes([]byte(tc.in))); got != tc.want {
			t.Errorf("Bytes(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRegionEndpoint(t *testing.T) {
	tests := []struct {
		r    *region.Region
		err  error
		want string
		ok   bool
	}{
		{region.NewRegion("x", "smn.x.example.com"), nil, "https://smn.x.example.com", true},
		{region.NewRegion("x", "http://127.0.0.1:1", "https://other"), nil, "http://127.0.0.1:1", true},
		{region.NewRegion("x"), nil, "", false},
		{nil, nil, "", false},
		{region.NewRegion("x", "smn.x.example.com"), errors.New("unknown region"), "", false},
	}
	for i, tc := range tests {
		if got, ok := hcsdk.RegionEndpoint(tc.r, tc.err); got != tc.want || ok != tc.ok {
			t.Errorf("%d: RegionEndpoint = %q, %v; want %q, %v", i, got, ok, tc.want, tc.ok)
		}
	}
}

func TestExplicit(t *testing.T) {
	for _, tc := range []struct {
		c       huaweikms.Credentials
		project string
		err     string
	}{
		{huaweikms.Credentials{AccessKey: "AK"}, "p", "explicit credentials need both an access key and a secret key"},
		{huaweikms.Credentials{SecretKey: "SK"}, "", "explicit credentials need both an access key and a secret key"},
		{huaweikms.Credentials{AccessKey: "AK", SecretKey: "SK"}, "", "no project id: set the project id with explicit credentials"},
	} {
		if _, err := hcsdk.Explicit(&tc.c, tc.project); err == nil || err.Error() != tc.err {
			t.Errorf("Explicit(%v, %q) = %v, want %q", tc.c, tc.project, err, tc.err)
		}
	}
	cred, err := hcsdk.Explicit(&huaweikms.Credentials{AccessKey: "AK", SecretKey: "SK", SecurityToken: "T"}, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if cred.AK != "AK" || cred.SK != "SK" || cred.SecurityToken != "T" || cred.ProjectId != "p1" {
		t.Errorf("Explicit = %+v", cred)
	}
}

func TestChain(t *testing.T) {
	t.Setenv("HUAWEICLOUD_SDK_AK", "ENVAK")
	t.Setenv("HUAWEICLOUD_SDK_SK", "ENVSK")
	t.Setenv("HUAWEICLOUD_SDK_PROJECT_ID", "envproject")
	cred, err := hcsdk.Chain()
	if err != nil {
		t.Fatal(err)
	}
	if cred.AK != "ENVAK" || cred.SK != "ENVSK" || cred.ProjectId != "envproject" {
		t.Errorf("Chain = %+v", cred)
	}
}

// TestClient: the client of one call sends through the transport given,
// stops with the call's context, and reads errors with the handler given.
func TestClient(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.Header.Get("User-Agent"), "tagwarden") {
			w.WriteHeader(http.StatusTeapot)
			return
		}
		if strings.Contains(r.URL.Path, "slow") {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(http.StatusForbidden)
	}))
	defer srv.Close()
	defer close(release)
	cred, err := hcsdk.Explicit(&huaweikms.Credentials{AccessKey: "AK", SecretKey: "SK"}, "p1")
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	call := hcsdk.Call{Endpoint: srv.URL, Credentials: cred, Timeout: time.Minute,
		Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
			calls++
			return http.DefaultTransport.RoundTrip(r)
		}),
		Errors: errorHandler{}}
	publish := func(ctx context.Context, topic string) error {
		hc, err := call.Client(ctx, smn.SmnClientBuilder())
		if err != nil {
			t.Fatal(err)
		}
		msg := "m"
		_, err = smn.NewSmnClient(hc).PublishMessage(&model.PublishMessageRequest{TopicUrn: topic, Body: &model.PublishMessageRequestBody{Message: &msg}})
		return err
	}
	if err := publish(context.Background(), "urn:smn:x:p1:t"); err == nil || err.Error() != "answered 403" {
		t.Errorf("an error answer: %v, want the handler's", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := publish(ctx, "urn:smn:x:p1:slow"); err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Errorf("a call past its context: %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the call outlived its context by %v", d)
	}
	if calls != 2 {
		t.Errorf("%d requests, want 2 (no retry)", calls)
	}
}

type errorHandler struct{}

func (errorHandler) HandleError(_ *request.DefaultHttpRequest, resp *response.DefaultHttpResponse) error {
	if resp.GetStatusCode() < 400 {
		return nil
	}
	return fmt.Errorf("answered %d", resp.GetStatusCode())
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
