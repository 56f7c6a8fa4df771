package emulator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"sort"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
)

// raw describes a request to sign with the SDK's own signer and send with
// net/http, so that tests can see raw bodies and tamper after signing.
type raw struct {
	method, path, body string
	creds              creds
	date               string            // X-Sdk-Date to sign with ("" = now)
	headers            map[string]string // extra headers, signed
	query              map[string]string // query parameters, signed
}

// signed builds the request as the SDK would send it, signed by the SDK's signer.
func signed(t *testing.T, base string, r raw) *http.Request {
	t.Helper()
	if r.creds == (creds{}) {
		r.creds = defaultCreds()
	}
	b := request.NewHttpRequestBuilder().WithEndpoint(base).WithMethod(r.method).WithPath(r.path).
		AddHeaderParam("Content-Type", "application/json;charset=UTF-8").
		AddHeaderParam("User-Agent", "huaweicloud-usdk-go/3.0").
		AddHeaderParam("X-Project-Id", r.creds.project)
	if r.creds.token != "" {
		b = b.AddHeaderParam("X-Security-Token", r.creds.token)
	}
	if r.date != "" {
		b = b.AddHeaderParam("X-Sdk-Date", r.date)
	}
	for k, v := range r.headers {
		b = b.AddHeaderParam(k, v)
	}
	for k, v := range r.query {
		b = b.AddQueryParam(k, reflect.ValueOf(v))
	}
	if r.body != "" {
		b = b.WithBody("body", r.body)
	}
	req := b.Build()
	add, err := signer.Sign(req, r.creds.ak, r.creds.sk)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	for k, v := range add {
		req.AddHeaderParam(k, v)
	}
	hr, err := req.ConvertRequest()
	if err != nil {
		t.Fatalf("convert request: %v", err)
	}
	return hr
}

// do sends a request and returns its status and decoded JSON body (nil if none).
func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if len(data) == 0 {
		return resp.StatusCode, nil
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("decode body %q: %v", data, err)
	}
	return resp.StatusCode, m
}

// call signs and sends r.
func call(t *testing.T, base string, r raw) (int, map[string]any) {
	t.Helper()
	return do(t, signed(t, base, r))
}

// errorCode returns the error code of a nested KMS or flat gateway body.
func errorCode(m map[string]any) string {
	if e, ok := m["error"].(map[string]any); ok {
		s, _ := e["error_code"].(string)
		return s
	}
	s, _ := m["error_code"].(string)
	return s
}

// fieldNames lists an object's field names, sorted.
func fieldNames(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func path(suffix string) string { return "/v1.0/" + emulator.DefaultProject + "/kms/" + suffix }
