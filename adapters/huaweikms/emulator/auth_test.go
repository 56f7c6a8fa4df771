package emulator_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
)

func TestSignature(t *testing.T) {
	_, url := start(t, emulator.Options{Seed: emulator.SampleKeys(5, 1)})
	listKeys := raw{method: "POST", path: path("list-keys"), body: `{"key_spec":"ALL"}`}
	stale := time.Now().Add(-16 * time.Minute).UTC().Format("20060102T150405Z")
	future := time.Now().Add(16 * time.Minute).UTC().Format("20060102T150405Z")
	recent := time.Now().Add(-14 * time.Minute).UTC().Format("20060102T150405Z")
	tests := []struct {
		name   string
		r      raw
		tamper func(*http.Request)
		want   int
		msg    string // substring of error_msg
	}{
		{name: "signed by the SDK", r: listKeys, want: 200},
		{name: "query and extra headers signed", r: raw{method: "POST", path: path("list-keys"), body: `{"key_spec":"ALL"}`,
			query:   map[string]string{"b": "2 3", "a": "x/y*", "ü": ""},
			headers: map[string]string{"X-Extra": "  padded value ", "X-Other_Under": "unsigned"}}, want: 200},
		{name: "date 14 minutes old", r: raw{method: "POST", path: path("list-keys"), body: `{}`, date: recent}, want: 200},
		{name: "GET without body", r: raw{method: "GET", path: path("00000000-0000-0000-0000-000000000000/tags")}, want: 404},
		{name: "other secret key", r: raw{method: "POST", path: path("list-keys"), body: `{}`,
			creds: creds{emulator.DefaultAK, "other-secret", "", emulator.DefaultProject}}, want: 401, msg: "verify aksk signature fail"},
		{name: "other access key", r: raw{method: "POST", path: path("list-keys"), body: `{}`,
			creds: creds{"OTHERAK", emulator.DefaultSK, "", emulator.DefaultProject}}, want: 401, msg: "access key"},
		{name: "body altered after signing", r: listKeys, tamper: func(r *http.Request) {
			b := []byte(`{"key_spec":"SM4"}`)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		}, want: 401, msg: "signature"},
		{name: "path altered after signing", r: listKeys, tamper: func(r *http.Request) {
			r.URL.Path = path("describe-key")
		}, want: 401, msg: "signature"},
		{name: "signed header altered", r: listKeys, tamper: func(r *http.Request) {
			r.Header.Set("User-Agent", "curl/8")
		}, want: 401, msg: "signature"},
		{name: "query added after signing", r: listKeys, tamper: func(r *http.Request) {
			r.URL.RawQuery = "limit=1"
		}, want: 401, msg: "signature"},
		{name: "query altered after signing", r: raw{method: "POST", path: path("list-keys"), body: `{}`, query: map[string]string{"a": "1"}},
			tamper: func(r *http.Request) { r.URL.RawQuery = "a=2" }, want: 401, msg: "signature"},
		{name: "unsigned header altered", r: raw{method: "POST", path: path("list-keys"), body: `{}`, headers: map[string]string{"X-Other_Under": "a"}},
			tamper: func(r *http.Request) { r.Header.Set("X-Other_Under", "b") }, want: 200},
		{name: "payload hash of the body", r: raw{method: "POST", path: path("list-keys"), body: `{}`,
			headers: map[string]string{"X-Sdk-Content-Sha256": "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}}, want: 200},
		{name: "unsigned payload", r: raw{method: "POST", path: path("list-keys"), body: `{}`,
			headers: map[string]string{"X-Sdk-Content-Sha256": "UNSIGNED-PAYLOAD"}}, want: 200},
		{name: "payload hash of another body", r: raw{method: "POST", path: path("list-keys"), body: `{"key_spec":"SM4"}`,
			headers: map[string]string{"X-Sdk-Content-Sha256": "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}}, want: 401, msg: "X-Sdk-Content-Sha256"},
		{name: "stale date", r: raw{method: "POST", path: path("list-keys"), body: `{}`, date: stale}, want: 401, msg: "expired"},
		{name: "date in the future", r: raw{method: "POST", path: path("list-keys"), body: `{}`, date: future}, want: 401, msg: "expired"},
		{name: "no Authorization", r: listKeys, tamper: func(r *http.Request) { r.Header.Del("Authorization") }, want: 401, msg: "missing"},
		{name: "other algorithm", r: listKeys, tamper: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SDK-HMAC-SHA256", "SDK-HMAC-SM3", 1))
		}, want: 401, msg: "algorithm"},
		{name: "token with permanent credentials", r: raw{method: "POST", path: path("list-keys"), body: `{}`,
			creds: creds{emulator.DefaultAK, emulator.DefaultSK, "tok", emulator.DefaultProject}}, want: 401, msg: "security token"},
		{name: "X-Project-Id of another project", r: listKeys, tamper: func(r *http.Request) {
			r.URL.Path = "/v1.0/ffffffffffffffffffffffffffffffff/kms/list-keys"
		}, want: 401},
		{name: "unknown project signed as such", r: raw{method: "POST", path: "/v1.0/ffffffffffffffffffffffffffffffff/kms/list-keys", body: `{}`,
			creds: creds{emulator.DefaultAK, emulator.DefaultSK, "", "ffffffffffffffffffffffffffffffff"}}, want: 403},
		{name: "X-Project-Id differs from the path", r: raw{method: "POST", path: path("list-keys"), body: `{}`,
			creds: creds{emulator.DefaultAK, emulator.DefaultSK, "", "ffffffffffffffffffffffffffffffff"}}, want: 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := signed(t, url, tc.r)
			if tc.tamper != nil {
				tc.tamper(req)
			}
			status, body := do(t, req)
			if status != tc.want {
				t.Fatalf("got status %d (%v), want %d", status, body, tc.want)
			}
			if status == 401 {
				// The live gateway's flat body.
				if diff := cmp.Diff([]string{"error_code", "error_msg", "request_id"}, fieldNames(body)); diff != "" {
					t.Errorf("401 body fields (-want +got):\n%s", diff)
				}
				if body["error_code"] != "APIGW.0301" {
					t.Errorf("got error_code %v, want APIGW.0301", body["error_code"])
				}
				msg, _ := body["error_msg"].(string)
				if !strings.HasPrefix(msg, "Incorrect IAM authentication information: ") || !strings.Contains(msg, tc.msg) {
					t.Errorf("got error_msg %q, want the gateway prefix and %q", msg, tc.msg)
				}
			}
		})
	}
}

func TestSignatureDocumentedShape(t *testing.T) {
	_, url := start(t, emulator.Options{DocumentedShapes: true})
	status, body := call(t, url, raw{method: "POST", path: path("list-keys"), body: `{}`,
		creds: creds{emulator.DefaultAK, "wrong", "", emulator.DefaultProject}})
	if status != 401 {
		t.Fatalf("got status %d, want 401", status)
	}
	if diff := cmp.Diff([]string{"error"}, fieldNames(body)); diff != "" {
		t.Fatalf("body fields (-want +got):\n%s", diff)
	}
	if got := errorCode(body); got != "APIGW.0301" {
		t.Errorf("got code %q, want APIGW.0301", got)
	}
}

func TestSecurityTokenThroughSDK(t *testing.T) {
	const token = "temporary-security-token-value"
	_, url := start(t, emulator.Options{SecurityToken: token, AccessKey: "TEMPAK", SecretKey: "temp-sk"})
	list := &model.ListKeysRequest{Body: &model.ListKeysRequestBody{}}
	tests := []struct {
		name string
		c    creds
		want int // 0: success
	}{
		{"right token", creds{"TEMPAK", "temp-sk", token, emulator.DefaultProject}, 0},
		{"no token", creds{"TEMPAK", "temp-sk", "", emulator.DefaultProject}, 401},
		{"other token", creds{"TEMPAK", "temp-sk", "expired-token", emulator.DefaultProject}, 401},
		{"default credentials", defaultCreds(), 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client(t, url, tc.c).ListKeys(list)
			if tc.want == 0 {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				return
			}
			se := svcErr(t, err)
			if se.StatusCode != tc.want || se.ErrorCode != "APIGW.0301" {
				t.Errorf("got %d %s, want %d APIGW.0301", se.StatusCode, se.ErrorCode, tc.want)
			}
		})
	}
}

func TestWrongSecretThroughSDK(t *testing.T) {
	_, url := start(t, emulator.Options{})
	_, err := client(t, url, creds{emulator.DefaultAK, "not-the-secret", "", emulator.DefaultProject}).
		ListKeys(&model.ListKeysRequest{Body: &model.ListKeysRequestBody{}})
	se := svcErr(t, err)
	if se.StatusCode != 401 || se.ErrorCode != "APIGW.0301" || !strings.HasPrefix(se.ErrorMessage, "Incorrect IAM authentication information") {
		t.Errorf("got %d %s %q, want 401 APIGW.0301 Incorrect IAM authentication information...", se.StatusCode, se.ErrorCode, se.ErrorMessage)
	}
	if se.RequestId == "" {
		t.Error("got no request id, want the X-Request-Id header")
	}
}

func TestClock(t *testing.T) {
	// Options.Now drives freshness: a server whose clock is 20 minutes ahead
	// refuses a request signed now.
	_, url := start(t, emulator.Options{Now: func() time.Time { return time.Now().Add(20 * time.Minute) }})
	status, body := call(t, url, raw{method: "POST", path: path("list-keys"), body: `{}`})
	if status != 401 || !strings.Contains(body["error_msg"].(string), "expired") {
		t.Errorf("got %d %v, want 401 expired", status, body)
	}
}
