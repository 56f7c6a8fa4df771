package smnemu_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	smn "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/smn/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/smn/v2/model"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweismn/smnemu"
)

const otherProject = "5c6d7e8f90a1b2c3d4e5f60718293a4b"

func start(t *testing.T, opts smnemu.Options) (*smnemu.Server, string) {
	t.Helper()
	s, err := smnemu.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	url, err := s.Listen("")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, url
}

// client is the raw SDK, signing for project: it can send what the
// huaweismn adapter never does.
func client(t *testing.T, url, project string) *smn.SmnClient {
	t.Helper()
	cred, err := basic.NewCredentialsBuilder().WithAk(emulator.DefaultAK).WithSk(emulator.DefaultSK).WithProjectId(project).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	hc, err := smn.SmnClientBuilder().WithEndpoints([]string{url}).WithCredential(cred).
		WithHttpConfig(config.DefaultHttpConfig().WithTimeout(10 * time.Second)).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	return smn.NewSmnClient(hc)
}

func ptr[T any](v T) *T { return &v }

func attr(name, typ string, value any) model.MessageAttribute {
	var t model.MessageAttributeType
	if err := t.UnmarshalJSON([]byte(`"` + typ + `"`)); err != nil {
		panic(err)
	}
	return model.MessageAttribute{Name: name, Type: t, Value: &value}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		opts    smnemu.Options
		wantErr string
	}{
		{"not a URN", smnemu.Options{Topics: []string{"arn:aws:sns:x"}}, "not a topic URN"},
		{"bad name", smnemu.Options{Topics: []string{"urn:smn:r-1:p:_t"}}, "not a topic URN"},
		{"twice", smnemu.Options{Topics: []string{smnemu.DefaultTopic, smnemu.DefaultTopic}}, "twice"},
		{"deny not served", smnemu.Options{Deny: []string{"urn:smn:r-1:p:t"}}, "not served"},
	}
	for _, tc := range tests {
		if _, err := smnemu.New(tc.opts); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: New: %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

// TestGateway: what the gateway answers before the service: an unknown
// route, then a missing signature.
func TestGateway(t *testing.T) {
	s, err := smnemu.New(smnemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	publish := "/v2/" + smnemu.DefaultProject + "/notifications/topics/" + smnemu.DefaultTopic + "/publish"
	tests := []struct {
		method, path string
		status       int
		code, msg    string
	}{
		{http.MethodGet, publish, 404, "APIGW.0101", "The API does not exist"},
		{http.MethodPost, publish + "/x", 404, "APIGW.0101", "The API does not exist"},
		{http.MethodPost, "/v2/" + smnemu.DefaultProject + "/notifications/topics", 404, "APIGW.0101", "The API does not exist"},
		{http.MethodPost, "/v1/" + smnemu.DefaultProject + "/notifications/topics/x/publish", 404, "APIGW.0101", "The API does not exist"},
		{http.MethodPost, publish, 401, "APIGW.0301", "Incorrect IAM authentication information: Authorization header is missing"},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, strings.NewReader(`{"message":"m"}`)))
		var body map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s %s: body %q: %v", tc.method, tc.path, rec.Body, err)
		}
		if rec.Code != tc.status || body["error_code"] != tc.code || !strings.HasPrefix(body["error_msg"], tc.msg) ||
			body["request_id"] == "" || body["request_id"] != rec.Header().Get("X-Request-Id") {
			t.Errorf("%s %s: %d %v, want %d %s %q", tc.method, tc.path, rec.Code, body, tc.status, tc.code, tc.msg)
		}
	}
	if c := s.Calls(); c.Requests != len(tests) || c.Publish != 1 || c.Status[404] != 4 || c.Status[401] != 1 {
		t.Errorf("calls %+v", c)
	}
}

// TestPublishRules sends through the raw SDK what the adapter never sends.
func TestPublishRules(t *testing.T) {
	denied := "urn:smn:" + smnemu.DefaultRegion + ":" + smnemu.DefaultProject + ":denied"
	s, url := start(t, smnemu.Options{Topics: []string{smnemu.DefaultTopic, denied}, Deny: []string{denied}})
	c := client(t, url, smnemu.DefaultProject)
	tooMany := []model.MessageAttribute{}
	for i := range 11 {
		tooMany = append(tooMany, attr("a"+string(rune('a'+i)), "STRING", "v"))
	}
	tests := []struct {
		name   string
		topic  string
		body   *model.PublishMessageRequestBody
		status int
		code   string
		want   *smnemu.Published // when accepted
	}{
		{name: "STRING and PROTOCOL attributes", body: &model.PublishMessageRequestBody{Message: ptr("m"),
			MessageAttributes: &[]model.MessageAttribute{attr("week", "STRING", "sunday"), attr("smn_protocol", "PROTOCOL", []string{"email", "https"})}},
			status: 200, want: &smnemu.Published{Message: "m", Attributes: []smnemu.Attribute{
				{Name: "week", Type: "STRING", Values: []string{"sunday"}},
				{Name: "smn_protocol", Type: "PROTOCOL", Values: []string{"email", "https"}}}}},
		{name: "message structure", body: &model.PublishMessageRequestBody{MessageStructure: ptr(`{"default":"d","email":"e"}`), TimeToLive: ptr("3600")},
			status: 200, want: &smnemu.Published{MessageStructure: `{"default":"d","email":"e"}`, TimeToLive: "3600"}},
		{name: "message structure without default", body: &model.PublishMessageRequestBody{MessageStructure: ptr(`{"email":"e"}`)}, status: 400, code: "SMN.0021"},
		{name: "template", body: &model.PublishMessageRequestBody{MessageTemplateName: ptr("t"), Tags: map[string]string{"k": "v"}}, status: 404, code: "SMN.0027"},
		{name: "no message", body: &model.PublishMessageRequestBody{Subject: ptr("s")}, status: 403, code: "SMN.0009"},
		{name: "empty message", body: &model.PublishMessageRequestBody{Message: ptr("")}, status: 403, code: "SMN.0009"},
		{name: "message too long", body: &model.PublishMessageRequestBody{Message: ptr(strings.Repeat("x", smnemu.MaxMessageBytes+1))}, status: 403, code: "SMN.0009"},
		{name: "subject too long", body: &model.PublishMessageRequestBody{Subject: ptr(strings.Repeat("s", smnemu.MaxSubjectBytes+1)), Message: ptr("m")}, status: 403, code: "SMN.0008"},
		{name: "subject with a line break", body: &model.PublishMessageRequestBody{Subject: ptr("a\nb"), Message: ptr("m")}, status: 403, code: "SMN.0008"},
		{name: "time to live zero", body: &model.PublishMessageRequestBody{Message: ptr("m"), TimeToLive: ptr("0")}, status: 400, code: "SMN.0010"},
		{name: "time to live over a day", body: &model.PublishMessageRequestBody{Message: ptr("m"), TimeToLive: ptr("86401")}, status: 400, code: "SMN.0010"},
		{name: "attribute type unknown", body: &model.PublishMessageRequestBody{Message: ptr("m"),
			MessageAttributes: &[]model.MessageAttribute{attr("a", "NUMBER", 1)}}, status: 400, code: "SMN.0046"},
		{name: "STRING given an array", body: &model.PublishMessageRequestBody{Message: ptr("m"),
			MessageAttributes: &[]model.MessageAttribute{attr("a", "STRING", []string{"x"})}}, status: 400, code: "SMN.0046"},
		{name: "STRING_ARRAY empty", body: &model.PublishMessageRequestBody{Message: ptr("m"),
			MessageAttributes: &[]model.MessageAttribute{attr("a", "STRING_ARRAY", []string{})}}, status: 400, code: "SMN.0046"},
		{name: "STRING_ARRAY repeated", body: &model.PublishMessageRequestBody{Message: ptr("m"),
			MessageAttributes: &[]model.MessageAttribute{attr("a", "STRING_ARRAY", []string{"x", "x"})}}, status: 400, code: "SMN.0046"},
		{name: "STRING_ARRAY eleven", body: &model.PublishMessageRequestBody{Message: ptr("m"),
			MessageAttributes: &[]model.MessageAttribute{attr("a", "STRING_ARRAY", strings.Split("a b c d e f g h i j k", " "))}}, status: 400, code: "SMN.0046"},
		{name: "value with a hyphen", body: &model.PublishMessageRequestBody{Message: ptr("m"),
			MessageAttributes: &[]model.MessageAttribute{attr("a", "STRING_ARRAY", []string{"team-a"})}}, status: 400, code: "SMN.0046"},
		{name: "PROTOCOL unknown", body: &model.PublishMessageRequestBody{Message: ptr("m"),
			MessageAttributes: &[]model.MessageAttribute{attr("smn_protocol", "PROTOCOL", []string{"pigeon"})}}, status: 400, code: "SMN.0046"},
		{name: "name twice", body: &model.PublishMessageRequestBody{Message: ptr("m"),
			MessageAttributes: &[]model.MessageAttribute{attr("a", "STRING", "x"), attr("a", "STRING", "y")}}, status: 400, code: "SMN.0046"},
		{name: "name upper case", body: &model.PublishMessageRequestBody{Message: ptr("m"),
			MessageAttributes: &[]model.MessageAttribute{attr("A", "STRING", "x")}}, status: 400, code: "SMN.0046"},
		{name: "too many attributes", body: &model.PublishMessageRequestBody{Message: ptr("m"), MessageAttributes: &tooMany}, status: 400, code: "SMN.0046"},
		{name: "topic of another project", topic: "urn:smn:" + smnemu.DefaultRegion + ":" + otherProject + ":t",
			body: &model.PublishMessageRequestBody{Message: ptr("m")}, status: 400, code: "SMN.0005"},
		{name: "not a topic URN", topic: "urn:smn:x", body: &model.PublishMessageRequestBody{Message: ptr("m")}, status: 400, code: "SMN.0005"},
		{name: "denied", topic: denied, body: &model.PublishMessageRequestBody{Message: ptr("m")}, status: 403, code: "SMN.00308"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.Reset()
			topic := tc.topic
			if topic == "" {
				topic = smnemu.DefaultTopic
			}
			resp, err := c.PublishMessage(&model.PublishMessageRequest{TopicUrn: topic, Body: tc.body})
			if tc.status == 200 {
				if err != nil {
					t.Fatalf("PublishMessage: %v", err)
				}
				pub := s.Published()
				if len(pub) != 1 {
					t.Fatalf("%d published", len(pub))
				}
				want := *tc.want
				want.Topic, want.MessageID, want.Time = topic, *resp.MessageId, pub[0].Time
				if diff := cmp.Diff(want, pub[0]); diff != "" {
					t.Errorf("published (-want +got):\n%s", diff)
				}
				if resp.RequestId == nil || len(*resp.RequestId) != 32 {
					t.Errorf("request id %v", resp.RequestId)
				}
				return
			}
			var se *sdkerr.ServiceResponseError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T), want a service error", err, err)
			}
			if se.StatusCode != tc.status || se.ErrorCode != tc.code || se.ErrorMessage == "" || se.RequestId == "" {
				t.Errorf("got %d %s %q (request %q), want %d %s", se.StatusCode, se.ErrorCode, se.ErrorMessage, se.RequestId, tc.status, tc.code)
			}
			if n := len(s.Published()); n != 0 {
				t.Errorf("%d published", n)
			}
		})
	}
}

// TestSequence: the entries answer the next calls in order, then calls
// are served; SetFaults starts again.
func TestSequence(t *testing.T) {
	s, url := start(t, smnemu.Options{})
	c := client(t, url, smnemu.DefaultProject)
	s.SetFaults(smnemu.Faults{Sequence: []int{429, 0, 502, 404}})
	var got []int
	for range 5 {
		_, err := c.PublishMessage(&model.PublishMessageRequest{TopicUrn: smnemu.DefaultTopic, Body: &model.PublishMessageRequestBody{Message: ptr("m")}})
		var se *sdkerr.ServiceResponseError
		switch {
		case err == nil:
			got = append(got, 200)
		case errors.As(err, &se):
			got = append(got, se.StatusCode)
		default:
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]int{429, 200, 502, 404, 200}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if n := len(s.Published()); n != 2 {
		t.Errorf("%d published, want 2", n)
	}
	if c := s.Calls(); c.Publish != 5 || c.Status[200] != 2 || c.Status[429] != 1 {
		t.Errorf("calls %+v", c)
	}
}
