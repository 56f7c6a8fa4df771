package huaweikms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/response"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	"golang.org/x/time/rate"

	"github.com/tagwarden/tagwarden/handler"
)

func TestClassifyResponse(t *testing.T) {
	cases := []struct {
		status    int
		code      string
		want      error
		retryable bool
	}{
		{404, "KMS.0207", handler.ErrNotFound, false},
		{400, "KMS.0207", handler.ErrNotFound, false},
		{404, "", handler.ErrNotFound, false},
		{400, "KMS.0211", handler.ErrDefaultKey, false},
		{400, "KMS.0416", handler.ErrNotFound, false},
		{400, "KMS.0401", handler.ErrInvalid, false},
		{400, "KMS.0409", handler.ErrInvalid, false},
		{400, "KMS.0205", handler.ErrInvalid, false},
		{400, "", handler.ErrInvalid, false},
		{405, "", handler.ErrInvalid, false},
		{401, "APIGW.0301", handler.ErrDenied, false},
		{401, "KMS.0303", handler.ErrDenied, false},
		{403, "KMS.0304", handler.ErrDenied, false},
		{403, "APIGW.0302", handler.ErrDenied, false},
		{400, "APIGW.0101", handler.ErrDenied, false},
		{429, "APIG.0308", handler.ErrThrottled, true},
		{429, "", handler.ErrThrottled, true},
		{500, "KMS.0001", handler.ErrTransient, true},
		{502, "", handler.ErrTransient, true},
		{503, "", handler.ErrTransient, true},
		{504, "APIG.1004", handler.ErrTransient, true},
		{501, "", handler.ErrTransient, false},
		{200, "", handler.ErrTransient, false}, // SDK could not decode a 200 body
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d %s", tc.status, tc.code), func(t *testing.T) {
			e := classify("show-tags", "k1", &sdkerr.ServiceResponseError{StatusCode: tc.status, ErrorCode: tc.code, ErrorMessage: "m", RequestId: "r1"})
			if !errors.Is(e, tc.want) {
				t.Errorf("kind: got %v, want %v", e.Kind, tc.want)
			}
			if got := e.Retryable(); got != tc.retryable {
				t.Errorf("retryable: got %v, want %v", got, tc.retryable)
			}
			if e.Status != tc.status || e.Code != tc.code || e.RequestID != "r1" || e.KeyID != "k1" || e.Op != "show-tags" {
				t.Errorf("fields not carried: %+v", e)
			}
		})
	}
}

func TestClassifyTransportErrors(t *testing.T) {
	cases := []struct {
		name      string
		err       error
		want      error
		retryable bool
	}{
		{"url error", &url.Error{Op: "Post", URL: "http://x", Err: errors.New("boom")}, handler.ErrTransient, true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), handler.ErrTransient, true},
		{"connection refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, handler.ErrTransient, true},
		{"eof", io.EOF, handler.ErrTransient, true},
		{"unexpected eof", fmt.Errorf("x: %w", io.ErrUnexpectedEOF), handler.ErrTransient, true},
		{"sdk timeout", &url.Error{Op: "Post", URL: "http://x", Err: context.DeadlineExceeded}, handler.ErrTransient, true},
		{"other", errors.New("request field Body read null value"), handler.ErrInvalid, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := classify("list-keys", "", tc.err)
			if !errors.Is(e, tc.want) {
				t.Errorf("kind: got %v, want %v", e.Kind, tc.want)
			}
			if !errors.Is(e, tc.err) {
				t.Errorf("cause not unwrapped: %v", e)
			}
			if got := e.Retryable(); got != tc.retryable {
				t.Errorf("retryable: got %v, want %v", got, tc.retryable)
			}
		})
	}
}

// TestErrorBodies checks how the SDK's parser and ours surface the three
// error body shapes: nested KMS, flat gateway 401, flat gateway 429.
func TestErrorBodies(t *testing.T) {
	cases := []struct {
		name, body string
		status     int
		header     string
		wantCode   string
		wantReqID  string
		want       error
		wantText   string
	}{
		{"nested kms", `{"error":{"error_code":"KMS.0207","error_msg":"The key does not exist."}}`, 404, "req-9", "KMS.0207", "req-9", handler.ErrNotFound, "key not found (KMS.0207): The key does not exist."},
		{"flat gateway 401", `{"error_msg":"Incorrect IAM authentication information: Unauthorized","error_code":"APIGW.0301","request_id":"59a2e407ee471a94573b2510cc6db323"}`, 401, "", "APIGW.0301", "59a2e407ee471a94573b2510cc6db323", handler.ErrDenied, "authentication failed: check the AK/SK"},
		{"flat gateway 429", `{"error_msg":"The throttling threshold has been reached: policy user over ratelimit,limit:20,time:1 second","error_code":"APIG.0308","request_id":"abc"}`, 429, "", "APIG.0308", "abc", handler.ErrThrottled, "throttled"},
		{"html 502", `<html>bad gateway</html>`, 502, "", "", "", handler.ErrTransient, "bad gateway"},
		{"empty 500", ``, 500, "", "", "", handler.ErrTransient, "server error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Response{StatusCode: tc.status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(tc.body))}
			if tc.header != "" {
				r.Header.Set("X-Request-Id", tc.header)
			}
			err := errorHandler{}.HandleError(nil, response.NewDefaultHttpResponse(r))
			var sre *sdkerr.ServiceResponseError
			if !errors.As(err, &sre) {
				t.Fatalf("got %T, want *sdkerr.ServiceResponseError", err)
			}
			if sre.ErrorCode != tc.wantCode || sre.RequestId != tc.wantReqID {
				t.Errorf("got code %q request id %q, want %q %q", sre.ErrorCode, sre.RequestId, tc.wantCode, tc.wantReqID)
			}
			e := classify("list-keys", "", err)
			if !errors.Is(e, tc.want) {
				t.Errorf("kind: got %v, want %v", e.Kind, tc.want)
			}
			if !strings.Contains(e.Error(), tc.wantText) {
				t.Errorf("message %q does not contain %q", e.Error(), tc.wantText)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	e := &Error{Op: "show-tags", KeyID: "k1", Kind: handler.ErrDenied, Hint: "authentication failed", Status: 401, Code: "APIGW.0301", Message: "Unauthorized", RequestID: "r1"}
	want := "kms show-tags key k1: authentication failed (APIGW.0301): Unauthorized [http 401, request id r1]"
	if got := e.Error(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("read tags: %w", e)
	var got *Error
	if !errors.As(wrapped, &got) || !errors.Is(wrapped, handler.ErrDenied) {
		t.Errorf("errors.As/Is through wrapping failed")
	}
}

// TestErrorDetail: Detail is Error after the operation and the key, with
// the kind standing for a missing hint.
func TestErrorDetail(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{Op: "show-tags", KeyID: "k1", Kind: handler.ErrDenied, Hint: "authentication failed", Status: 401, Code: "APIGW.0301", Message: "Unauthorized", RequestID: "r1"},
			"authentication failed (APIGW.0301): Unauthorized [http 401, request id r1]"},
		{Error{Kind: handler.ErrTransient, Message: "boom"}, handler.ErrTransient.Error() + ": boom"},
		{Error{Kind: handler.ErrInvalid, RequestID: "r2"}, handler.ErrInvalid.Error() + " [request id r2]"},
	}
	for _, tt := range tests {
		if got := tt.e.Detail(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
		if full := tt.e.Error(); !strings.HasSuffix(full, ": "+tt.want) {
			t.Errorf("Error %q does not end with the detail %q", full, tt.want)
		}
	}
}

// TestAsResponseError finds the SDK's answer by pointer or by value,
// wrapped or not, and nothing else.
func TestAsResponseError(t *testing.T) {
	answer := sdkerr.ServiceResponseError{StatusCode: 404, ErrorCode: "KMS.0207", RequestId: "r1"}
	for _, err := range []error{&answer, answer, fmt.Errorf("call: %w", &answer), fmt.Errorf("call: %w", answer)} {
		sre, ok := AsResponseError(err)
		if !ok || sre.StatusCode != 404 || sre.ErrorCode != "KMS.0207" || sre.RequestId != "r1" {
			t.Errorf("AsResponseError(%#v) = %+v, %t; want the answer", err, sre, ok)
		}
	}
	if sre, ok := AsResponseError(io.EOF); ok {
		t.Errorf("AsResponseError(io.EOF) = %+v, true; want none", sre)
	}
}

func TestMaskAccessKey(t *testing.T) {
	for in, want := range map[string]string{"": "****", "AKID": "****", "AKID1": "AKID****", "AKIDEXAMPLE123": "AKID****"} {
		if got := MaskAccessKey(in); got != want {
			t.Errorf("MaskAccessKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCredentialsNeverPrinted(t *testing.T) {
	c := Credentials{AccessKey: "AKIDEXAMPLE123", SecretKey: "very-secret", SecurityToken: "tok-secret"}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), fmt.Sprintf("%+v", &c)} {
		if strings.Contains(s, "very-secret") || strings.Contains(s, "tok-secret") || strings.Contains(s, "AKIDEXAMPLE123") {
			t.Errorf("secret in %q", s)
		}
	}
}

func TestThrottleHint(t *testing.T) {
	const gw = "The throttling threshold has been reached: policy user over ratelimit,limit:%s,time:%s"
	cases := []struct {
		name, message string
		limit         rate.Limit
		want          string
	}{
		{"gateway limit and ours", fmt.Sprintf(gw, "20", "1 second"), 20,
			"throttled by the API gateway (its limit: 20 requests per second, over every caller of the same IAM user); tagwarden sends at most 20 requests per second: lower TAGWARDEN_RATE_LIMIT"},
		{"another gateway limit", fmt.Sprintf(gw, "100", "1 second"), 7.5,
			"throttled by the API gateway (its limit: 100 requests per second, over every caller of the same IAM user); tagwarden sends at most 7.5 requests per second: lower TAGWARDEN_RATE_LIMIT"},
		{"longer window", fmt.Sprintf(gw, "1000", "10 minute"), 5,
			"throttled by the API gateway (its limit: 1000 requests per 10 minutes, over every caller of the same IAM user); tagwarden sends at most 5 requests per second: lower TAGWARDEN_RATE_LIMIT"},
		{"no limit in the message", "Too many requests", 20,
			"throttled by the API gateway; tagwarden sends at most 20 requests per second: lower TAGWARDEN_RATE_LIMIT"},
		{"our limit off", fmt.Sprintf(gw, "20", "1 second"), rate.Inf,
			"throttled by the API gateway (its limit: 20 requests per second, over every caller of the same IAM user); tagwarden's own rate limit is off: set TAGWARDEN_RATE_LIMIT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := throttleHint("throttled by the API gateway", tc.message, tc.limit); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// FuzzErrorBody feeds any error body to the error handler and the mapping:
// they never panic and always give one of the handler's kinds.
func FuzzErrorBody(f *testing.F) {
	f.Add(401, `{"error_msg":"Incorrect IAM authentication information: Unauthorized","error_code":"APIGW.0301","request_id":"59a2"}`)
	f.Add(429, `{"error_msg":"The throttling threshold has been reached: policy user over ratelimit,limit:20,time:1 second","error_code":"APIG.0308","request_id":"r"}`)
	f.Add(404, `{"error":{"error_code":"KMS.0207","error_msg":"The key does not exist."}}`)
	f.Add(502, `<html>bad gateway</html>`)
	f.Add(400, `{"error":"flat string"}`)
	f.Add(500, ``)
	kinds := []error{handler.ErrNotFound, handler.ErrDefaultKey, handler.ErrInvalid, handler.ErrDenied, handler.ErrThrottled, handler.ErrTransient}
	f.Fuzz(func(t *testing.T, status int, body string) {
		if status < 400 || status > 599 {
			return
		}
		r := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body))}
		err := errorHandler{}.HandleError(nil, response.NewDefaultHttpResponse(r))
		if err == nil {
			t.Fatalf("status %d: no error", status)
		}
		e := classify("show-tags", "k1", err)
		e.Hint = throttleHint(e.Hint, e.Message, rate.Limit(20))
		n := 0
		for _, k := range kinds {
			if errors.Is(e, k) {
				n++
			}
		}
		if n != 1 || e.Error() == "" || e.Status != status {
			t.Errorf("status %d body %q: kinds %d, status %d, message %q", status, body, n, e.Status, e.Error())
		}
	})
}

func TestRedactor(t *testing.T) {
	const ak, sk, token = "AKID1234567890ABCDEF", "sk/secret+0000", "AKID1234567890ABCDEF-session/x"
	cases := []struct {
		name, in, want string
		r              Redactor
	}{
		{"access key masked", "access key AKID1234567890ABCDEF is invalid", "access key AKID**** is invalid", NewRedactor(ak, sk, "")},
		{"secret key replaced", "signed with sk/secret+0000.", "signed with <secret key redacted>.", NewRedactor(ak, sk, "")},
		{"JSON-escaped secret key", `signed with sk\/secret+0000`, "signed with <secret key redacted>", NewRedactor(ak, sk, "")},
		{"token containing the access key masked whole", "token AKID1234567890ABCDEF-session/x expired", "token <security token redacted> expired", NewRedactor(ak, sk, token)},
		{"every occurrence", "AKID1234567890ABCDEF AKID1234567890ABCDEF", "AKID**** AKID****", NewRedactor(ak, sk, token)},
		{"nothing to mask", "Unauthorized", "Unauthorized", NewRedactor(ak, sk, token)},
		{"zero value masks nothing", "AKID1234567890ABCDEF", "AKID1234567890ABCDEF", Redactor{}},
		{"no credentials", "AKID1234567890ABCDEF", "AKID1234567890ABCDEF", NewRedactor("", "", "")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.String(tc.in); got != tc.want {
				t.Errorf("String: got %q, want %q", got, tc.want)
			}
			if got := string(tc.r.Bytes([]byte(tc.in))); got != tc.want {
				t.Errorf("bytes: got %q, want %q", got, tc.want)
			}
			e := &Error{Message: tc.in, Code: tc.in, RequestID: tc.in, Hint: "check the AK/SK"}
			tc.r.scrub(e)
			if e.Message != tc.want || e.Code != tc.want || e.RequestID != tc.want || e.Hint != "check the AK/SK" {
				t.Errorf("scrub: got %+v", e)
			}
		})
	}
}

// TestEndpointForms: an endpoint override is used in the one form the SDK
// takes; what it cannot use is refused when the store is built.
func TestEndpointForms(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", ""},
		{"HTTP://127.0.0.1:8080/", "http://127.0.0.1:8080", ""},
		{"Https://kms.example.com", "https://kms.example.com", ""},
		{"kms.example.com", "https://kms.example.com", ""},
		{"http://127.0.0.1:8080?x=1", "", "query or fragment"},
		{"http://127.0.0.1:8080#f", "", "query or fragment"},
		{"http://u:pw@127.0.0.1:8080", "", "user name or password"},
		{"ftp://x", "", `scheme is "ftp"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Config{Endpoint: tt.in}.endpoint()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || strings.Contains(err.Error(), "pw") {
					t.Errorf("got %q, %v; want an error saying %q (and no password)", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
