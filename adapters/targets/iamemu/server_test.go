package iamemu_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/global"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	iam "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3/model"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/targets/iamemu"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// recorder keeps the raw body of every answer the SDK receives.
type recorder struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.bodies = append(r.bodies, body)
	r.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func start(t *testing.T, opts iamemu.Options) (*iamemu.Server, string) {
	t.Helper()
	s, err := iamemu.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Listen("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, u
}

// sdkClient is the SDK's IAM client for the emulator at u, with the
// emulator's default credentials and domain.
func sdkClient(t *testing.T, u string, rt http.RoundTripper) *iam.IamClient {
	t.Helper()
	cred, err := global.NewCredentialsBuilder().WithAk(emulator.DefaultAK).WithSk(emulator.DefaultSK).
		WithDomainId(iamemu.DefaultDomainID).WithIamEndpointOverride(u).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	hc := config.DefaultHttpConfig().WithTimeout(5 * time.Second).WithHttpRoundTripper(rt)
	c, err := iam.IamClientBuilder().WithEndpoints([]string{u}).WithCredential(cred).WithHttpConfig(hc).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	return iam.NewIamClient(c)
}

// golden compares got, with the emulator's URL written {{URL}}, to
// testdata/name (rewritten with -update).
func golden(t *testing.T, name, u string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, got)
	}
	text := strings.ReplaceAll(buf.String(), u, "{{URL}}") + "\n"
	path := "testdata/" + name
	if *update {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), text); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

var shapeProjects = []iamemu.Project{
	{ID: "0b1f2e3d4c5b6a79887766554433221a", Name: "ap-southeast-1", Enabled: true},
	{ID: "5c6d7e8f90a1b2c3d4e5f60718293a4b", Name: "cn-north-4", Enabled: true},
	{ID: "7a8b9c0d1e2f30415263748596a7b8c9", Name: "cn-north-4_prod", Enabled: true, Description: "production keys"},
	{ID: "1d2e3f405162738495a6b7c8d9e0f1a2", Name: "la-south-2_orphan", Enabled: false},
	{ID: iamemu.DefaultMOSProjectID, Name: "MOS", Enabled: true},
}

func TestShapes(t *testing.T) {
	rec := &recorder{}
	srv, u := start(t, iamemu.Options{Projects: shapeProjects})
	c := sdkClient(t, u, rec)

	projects, err := c.KeystoneListAuthProjects(&model.KeystoneListAuthProjectsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	domains, err := c.KeystoneListAuthDomains(&model.KeystoneListAuthDomainsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.bodies) != 2 {
		t.Fatalf("got %d answers, want 2", len(rec.bodies))
	}
	golden(t, "auth-projects.golden.json", u, rec.bodies[0])
	golden(t, "auth-domains.golden.json", u, rec.bodies[1])

	// The SDK's models read every field.
	var got []model.AuthProjectResult
	if projects.Projects != nil {
		got = *projects.Projects
	}
	if len(got) != len(shapeProjects) {
		t.Fatalf("got %d projects, want %d", len(got), len(shapeProjects))
	}
	for i, p := range got {
		w := shapeProjects[i]
		if p.Id != w.ID || p.Name != w.Name || p.Enabled != w.Enabled || p.Description != w.Description ||
			p.DomainId != iamemu.DefaultDomainID || p.IsDomain || p.Links == nil || p.Links.Self != u+"/v3/projects/"+w.ID {
			t.Errorf("project %d: got %+v, want %+v in domain %s", i, p, w, iamemu.DefaultDomainID)
		}
	}
	wantParents := []string{iamemu.DefaultDomainID, iamemu.DefaultDomainID, "5c6d7e8f90a1b2c3d4e5f60718293a4b", iamemu.DefaultDomainID, iamemu.DefaultDomainID}
	for i, p := range got {
		if p.ParentId != wantParents[i] {
			t.Errorf("project %s: got parent_id %s, want %s", p.Name, p.ParentId, wantParents[i])
		}
	}
	if domains.Domains == nil || len(*domains.Domains) != 1 || (*domains.Domains)[0].Id != iamemu.DefaultDomainID ||
		(*domains.Domains)[0].Name != iamemu.DefaultDomainName || !(*domains.Domains)[0].Enabled {
		t.Errorf("got domains %v, want the one default account", domains.Domains)
	}
	if got, want := srv.Calls(), (iamemu.Calls{Projects: 1, Domains: 1}); got != want {
		t.Errorf("got calls %+v, want %+v", got, want)
	}
	srv.ResetCalls()
	if got := srv.Calls(); got != (iamemu.Calls{}) {
		t.Errorf("got calls %+v after ResetCalls, want none", got)
	}
}

// TestRefusals: raw HTTP requests the emulator refuses, and the bodies.
func TestRefusals(t *testing.T) {
	srv, err := iamemu.New(iamemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path string
		header             map[string]string
		status             int
		code, msg          string
	}{
		{name: "unsigned", method: "GET", path: "/v3/auth/projects", status: 401, code: "APIGW.0301", msg: "Incorrect IAM authentication information: Authorization header is missing"},
		{
			name: "other algorithm", method: "GET", path: "/v3/auth/domains", header: map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential=x"},
			status: 401, code: "APIGW.0301", msg: "unsupported signing algorithm",
		},
		{
			name: "bad signature", method: "GET", path: "/v3/auth/projects",
			header: map[string]string{
				"Authorization": "SDK-HMAC-SHA256 Access=" + emulator.DefaultAK + ", SignedHeaders=host;x-sdk-date, Signature=00",
				"X-Sdk-Date":    time.Now().UTC().Format("20060102T150405Z"),
			},
			status: 401, code: "APIGW.0301", msg: "verify aksk signature fail",
		},
		{name: "unknown path", method: "GET", path: "/v3/projects", status: 404, code: "APIGW.0101", msg: "The API does not exist"},
		{name: "wrong method", method: "POST", path: "/v3/auth/projects", status: 404, code: "APIGW.0101"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "http://iam.local"+tc.path, nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, req)
			if w.Code != tc.status {
				t.Errorf("got status %d, want %d", w.Code, tc.status)
			}
			var body map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if body["error_code"] != tc.code || !strings.Contains(body["error_msg"], tc.msg) {
				t.Errorf("got body %v, want error_code %s and a message with %q", body, tc.code, tc.msg)
			}
			if id := w.Header().Get("X-Request-Id"); id == "" || body["request_id"] != id {
				t.Errorf("got request id %q in the body and %q in X-Request-Id, want the same, not empty", body["request_id"], id)
			}
		})
	}
	if got, want := srv.Calls(), (iamemu.Calls{Projects: 2, Domains: 1, Unauthorized: 3, NotFound: 2}); got != want {
		t.Errorf("got calls %+v, want %+v", got, want)
	}
}

func TestNewRefuses(t *testing.T) {
	tests := map[string][]iamemu.Project{
		"no id":                         {{Name: "ap-southeast-1"}},
		"id with /":                     {{ID: "a/b", Name: "ap-southeast-1"}},
		"no name":                       {{ID: "a"}},
		"id twice":                      {{ID: "a", Name: "ap-southeast-1"}, {ID: "a", Name: "cn-north-4"}},
		"name twice":                    {{ID: "a", Name: "ap-southeast-1"}, {ID: "b", Name: "ap-southeast-1"}},
		"a later project without an id": {{ID: "a", Name: "x"}, {ID: "", Name: "y"}},
	}
	for name, ps := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := iamemu.New(iamemu.Options{Projects: ps}); err == nil {
				t.Errorf("New(%v): got no error, want one", ps)
			}
		})
	}
	if _, err := iamemu.New(iamemu.Options{Projects: []iamemu.Project{}}); err != nil {
		t.Errorf("New with no project: got %v, want an identity that reaches none", err)
	}
}

func TestListenClose(t *testing.T) {
	s, err := iamemu.New(iamemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.URL(); got != "" {
		t.Errorf("got URL %q before Listen, want none", got)
	}
	u, err := s.Listen("")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, "http://127.0.0.1:") || s.URL() != u {
		t.Errorf("got %q from Listen and %q from URL, want the same loopback URL", u, s.URL())
	}
	if _, err := s.Listen(""); err == nil {
		t.Error("second Listen: got no error, want one")
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(u + "/v3/auth/projects")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned call: got %d, want 401", resp.StatusCode)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.URL() != "" {
		t.Errorf("got URL %q after Close, want none", s.URL())
	}
	if resp, err := client.Get(u); err == nil {
		resp.Body.Close()
		t.Errorf("still answers at %s after Close", u)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
