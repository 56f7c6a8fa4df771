package huaweismn_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweismn"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweismn/smnemu"
)

var messageID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestPublish(t *testing.T) {
	emu, url := startEmu(t, smnemu.Options{})
	n := newNotifier(t, url, defaultTopic(t), emuCreds(""))
	if got := n.Where(); got != smnemu.DefaultTopic {
		t.Errorf("Where() = %q, want %q", got, smnemu.DefaultTopic)
	}
	tests := []struct {
		name string
		msg  outputs.Message
		want smnemu.Published
	}{
		{
			name: "subject and body",
			msg:  outputs.Message{Subject: "tagwarden: 3 keys violate the policies", Body: "key 1\nkey 2\nkey 3\n"},
			want: smnemu.Published{Subject: "tagwarden: 3 keys violate the policies", Message: "key 1\nkey 2\nkey 3\n"},
		},
		{
			name: "no subject",
			msg:  outputs.Message{Body: "only a body"},
			want: smnemu.Published{Message: "only a body"},
		},
		{
			name: "attributes in order, empty ones and empty values skipped, values once",
			msg: outputs.Message{Subject: "s", Body: "b", Attributes: []outputs.Attribute{
				{Name: "owner", Values: []string{"team_payments", "", "alice", "team_payments"}},
				{Name: "empty", Values: nil},
				{Name: "blank", Values: []string{""}},
				{Name: "kind", Values: []string{"violation", "failed"}},
				{Name: "target", Values: []string{"ap_southeast_1", "运维"}},
			}},
			want: smnemu.Published{Subject: "s", Message: "b", Attributes: []smnemu.Attribute{
				{Name: "owner", Type: "STRING_ARRAY", Values: []string{"team_payments", "alice"}},
				{Name: "kind", Type: "STRING_ARRAY", Values: []string{"violation", "failed"}},
				{Name: "target", Type: "STRING_ARRAY", Values: []string{"ap_southeast_1", "运维"}},
			}},
		},
		{
			name: "unicode and JSON-special characters in the body",
			msg:  outputs.Message{Subject: "clés <non> \"conformes\" & 密钥", Body: "<b>\u2028\"\\\t</b> 😀"},
			want: smnemu.Published{Subject: "clés <non> \"conformes\" & 密钥", Message: "<b>\u2028\"\\\t</b> 😀"},
		},
		{
			name: "every limit reached",
			msg:  edgeMessage(),
			want: edgePublished(),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emu.Reset()
			id, err := n.Publish(context.Background(), tc.msg)
			if err != nil {
				t.Fatalf("Publish: %v", err)
			}
			if !messageID.MatchString(id) {
				t.Errorf("message id %q is not 32 hexadecimal digits", id)
			}
			pub := emu.Published()
			if len(pub) != 1 {
				t.Fatalf("%d messages published, want 1", len(pub))
			}
			want := tc.want
			want.Topic, want.MessageID = smnemu.DefaultTopic, id
			if diff := cmp.Diff(want, pub[0], cmpopts.IgnoreFields(smnemu.Published{}, "Time")); diff != "" {
				t.Errorf("published (-want +got):\n%s", diff)
			}
		})
	}
}

// edgeMessage is at every limit at once: the longest subject and message,
// the most attributes, each with the most values of the longest length.
func edgeMessage() outputs.Message {
	m := outputs.Message{
		Subject: strings.Repeat("é", huaweismn.MaxSubjectBytes/2),
		Body:    strings.Repeat("x", huaweismn.MaxMessageBytes),
	}
	for i := range huaweismn.MaxAttributes {
		a := outputs.Attribute{Name: "a" + strings.Repeat("b", huaweismn.MaxAttributeNameLen-2) + string(rune('0'+i))}
		for j := range huaweismn.MaxAttributeValues {
			a.Values = append(a.Values, strings.Repeat("密", huaweismn.MaxAttributeValueLen-1)+string(rune('a'+j)))
		}
		m.Attributes = append(m.Attributes, a)
	}
	return m
}

func edgePublished() smnemu.Published {
	m := edgeMessage()
	p := smnemu.Published{Subject: m.Subject, Message: m.Body}
	for _, a := range m.Attributes {
		p.Attributes = append(p.Attributes, smnemu.Attribute{Name: a.Name, Type: "STRING_ARRAY", Values: a.Values})
	}
	return p
}

func TestPublishErrors(t *testing.T) {
	topic := defaultTopic(t)
	other := topic
	other.Name = "no-such-topic"
	otherProject := topic
	otherProject.ProjectID = "5c6d7e8f90a1b2c3d4e5f60718293a4b"
	wrongSK := emuCreds("")
	wrongSK.SecretKey = "not-the-secret-key-0000000000000000000000"

	tests := []struct {
		name   string
		opts   smnemu.Options
		faults smnemu.Faults
		topic  huaweismn.TopicURN
		creds  *huaweikms.Credentials
		// want
		kind      error
		status    int
		code      string
		retryable bool
	}{
		{name: "unknown topic", topic: other, kind: outputs.ErrNotFound, status: 404, code: "SMN.0006"},
		{name: "unknown topic, live shape", opts: smnemu.Options{LiveNotFound: true}, topic: other,
			kind: outputs.ErrNotFound, status: 400, code: "SMN.00010008"},
		{name: "project not served", topic: otherProject, kind: outputs.ErrDenied, status: 403, code: "APIGW.0302"},
		{name: "topic denied", opts: smnemu.Options{Deny: []string{smnemu.DefaultTopic}},
			kind: outputs.ErrDenied, status: 403, code: "SMN.00308"},
		{name: "wrong secret key", creds: wrongSK, kind: outputs.ErrDenied, status: 401, code: "APIGW.0301"},
		{name: "security token missing", opts: smnemu.Options{SecurityToken: testToken},
			kind: outputs.ErrDenied, status: 401, code: "APIGW.0301"},
		{name: "security token wrong", opts: smnemu.Options{SecurityToken: testToken}, creds: emuCreds(testToken + "x"),
			kind: outputs.ErrDenied, status: 401, code: "APIGW.0301"},
		{name: "security token not expected", creds: emuCreds(testToken),
			kind: outputs.ErrDenied, status: 401, code: "APIGW.0301"},
		{name: "credentials expired", faults: smnemu.Faults{Unauthorized: true},
			kind: outputs.ErrDenied, status: 401, code: "APIGW.0301"},
		{name: "403 injected", faults: smnemu.Faults{Sequence: []int{403}}, kind: outputs.ErrDenied, status: 403, code: "SMN.0001"},
		{name: "throttled", faults: smnemu.Faults{Sequence: []int{429}},
			kind: outputs.ErrThrottled, status: 429, code: "APIG.0308", retryable: true},
		{name: "server error", faults: smnemu.Faults{Sequence: []int{500}},
			kind: outputs.ErrTransient, status: 500, code: "SMN.0018", retryable: true},
		{name: "service unavailable", faults: smnemu.Faults{Sequence: []int{503}},
			kind: outputs.ErrTransient, status: 503, retryable: true},
		{name: "random 500s", faults: smnemu.Faults{Rate500: 1, Seed: 7},
			kind: outputs.ErrTransient, status: 500, code: "SMN.0018", retryable: true},
		{name: "connection dropped", faults: smnemu.Faults{DropRate: 1, Seed: 7},
			kind: outputs.ErrTransient, status: 0, retryable: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emu, url := startEmu(t, tc.opts)
			emu.SetFaults(tc.faults)
			topic := tc.topic
			if topic.IsZero() {
				topic = defaultTopic(t)
			}
			creds := tc.creds
			if creds == nil {
				creds = emuCreds("")
			}
			n := newNotifier(t, url, topic, creds)
			id, err := n.Publish(context.Background(), outputs.Message{Subject: "s", Body: "b"})
			if err == nil {
				t.Fatalf("Publish = %q, nil; want an error", id)
			}
			e := asError(t, err)
			if !errors.Is(err, tc.kind) || e.Kind != tc.kind {
				t.Errorf("kind %v, want %v (%v)", e.Kind, tc.kind, err)
			}
			if e.Status != tc.status {
				t.Errorf("status %d, want %d (%v)", e.Status, tc.status, err)
			}
			if tc.code != "" && e.Code != tc.code {
				t.Errorf("code %q, want %q (%v)", e.Code, tc.code, err)
			}
			if e.Retryable() != tc.retryable {
				t.Errorf("Retryable() = %t, want %t", e.Retryable(), tc.retryable)
			}
			if e.Message == "" {
				t.Errorf("no message: %v", err)
			}
			for _, secret := range []string{emulator.DefaultSK, wrongSK.SecretKey, testToken, emulator.DefaultAK} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows a secret", err)
				}
			}
			if got := emu.Published(); len(got) != 0 {
				t.Errorf("%d messages published, want none", len(got))
			}
			if c := emu.Calls(); c.Publish != 1 {
				t.Errorf("%d publish calls, want 1 (one attempt, no retry by the SDK)", c.Publish)
			}
		})
	}
}

func TestPublishWithSecurityToken(t *testing.T) {
	emu, url := startEmu(t, smnemu.Options{SecurityToken: testToken})
	n := newNotifier(t, url, defaultTopic(t), emuCreds(testToken))
	if _, err := n.Publish(context.Background(), outputs.Message{Subject: "s", Body: "b"}); err != nil {
		t.Fatal(err)
	}
	if got := len(emu.Published()); got != 1 {
		t.Errorf("%d published, want 1", got)
	}
}

func TestPublishRefusedLocally(t *testing.T) {
	emu, url := startEmu(t, smnemu.Options{})
	n := newNotifier(t, url, defaultTopic(t), emuCreds(""))
	attr := func(name string, values ...string) []outputs.Attribute {
		return []outputs.Attribute{{Name: name, Values: values}}
	}
	many := func(n int, l int) []string {
		var vs []string
		for i := range n {
			vs = append(vs, strings.Repeat("v", l-1)+string(rune('a'+i)))
		}
		return vs
	}
	tooMany := edgeMessage().Attributes
	tooMany = append(tooMany, outputs.Attribute{Name: "one_more", Values: []string{"x"}})
	tests := []struct {
		name    string
		msg     outputs.Message
		wantErr string
	}{
		{"subject over the limit", outputs.Message{Subject: strings.Repeat("é", huaweismn.MaxSubjectBytes/2) + "x", Body: "b"}, "subject has 513 bytes"},
		{"subject with a line break", outputs.Message{Subject: "two\nlines", Body: "b"}, "line break"},
		{"subject with a carriage return", outputs.Message{Subject: "two\rlines", Body: "b"}, "line break"},
		{"subject not UTF-8", outputs.Message{Subject: "\xff", Body: "b"}, "UTF-8"},
		{"empty message", outputs.Message{Subject: "s"}, "empty"},
		{"message over the limit", outputs.Message{Body: strings.Repeat("x", huaweismn.MaxMessageBytes+1)}, "262145 bytes"},
		{"message not UTF-8", outputs.Message{Body: "a\xc3"}, "UTF-8"},
		{"attribute name upper case", outputs.Message{Body: "b", Attributes: attr("Owner", "x")}, "name"},
		{"attribute name leading _", outputs.Message{Body: "b", Attributes: attr("_owner", "x")}, "name"},
		{"attribute name trailing _", outputs.Message{Body: "b", Attributes: attr("owner_", "x")}, "name"},
		{"attribute name double _", outputs.Message{Body: "b", Attributes: attr("own__er", "x")}, "name"},
		{"attribute name with -", outputs.Message{Body: "b", Attributes: attr("own-er", "x")}, "name"},
		{"attribute name too long", outputs.Message{Body: "b", Attributes: attr(strings.Repeat("a", 33), "x")}, "name"},
		{"attribute name reserved", outputs.Message{Body: "b", Attributes: attr("smn_protocol", "x")}, "smn_"},
		{"attribute twice", outputs.Message{Body: "b", Attributes: append(attr("owner", "x"), attr("owner", "y")...)}, "twice"},
		{"too many values", outputs.Message{Body: "b", Attributes: attr("owner", many(11, 5)...)}, "11 distinct values"},
		{"value too long", outputs.Message{Body: "b", Attributes: attr("owner", strings.Repeat("v", 33))}, "value 0"},
		{"value with @", outputs.Message{Body: "b", Attributes: attr("owner", "alice@example.com")}, "value 0"},
		{"value with -", outputs.Message{Body: "b", Attributes: attr("owner", "ok", "team-a")}, "value 1"},
		{"value with a space", outputs.Message{Body: "b", Attributes: attr("owner", "a b")}, "value 0"},
		{"too many attributes", outputs.Message{Body: "b", Attributes: tooMany}, "11 attributes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := n.Publish(context.Background(), tc.msg)
			if err == nil {
				t.Fatal("Publish = nil error")
			}
			e := asError(t, err)
			if e.Kind != outputs.ErrInvalid || e.Status != 0 || e.Retryable() {
				t.Errorf("kind %v, status %d, retryable %t; want invalid, 0, false", e.Kind, e.Status, e.Retryable())
			}
			if !strings.Contains(e.Message, tc.wantErr) || !strings.Contains(e.Message, "not sent") {
				t.Errorf("message %q does not say %q and not sent", e.Message, tc.wantErr)
			}
			for _, a := range tc.msg.Attributes {
				for _, v := range a.Values {
					if len(v) > 3 && strings.Contains(e.Message, v) {
						t.Errorf("message %q shows a value", e.Message)
					}
				}
			}
		})
	}
	if c := emu.Calls(); c.Requests != 0 {
		t.Errorf("%d requests reached the emulator, want none", c.Requests)
	}
}

func TestPublishDeadline(t *testing.T) {
	emu, url := startEmu(t, smnemu.Options{})
	emu.SetFaults(smnemu.Faults{Latency: 10 * time.Second})
	n := newNotifier(t, url, defaultTopic(t), emuCreds(""))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := n.Publish(ctx, outputs.Message{Subject: "s", Body: "b"})
	took := time.Since(start)
	if err == nil {
		t.Fatal("Publish = nil error past the deadline")
	}
	e := asError(t, err)
	if e.Kind != outputs.ErrTransient || e.Status != 0 || !e.Retryable() {
		t.Errorf("kind %v, status %d; want transient, 0 (%v)", e.Kind, e.Status, err)
	}
	if !strings.Contains(e.Message, "context deadline exceeded") {
		t.Errorf("message %q does not name the deadline", e.Message)
	}
	if took > 3*time.Second {
		t.Errorf("Publish took %v: the deadline did not bound it", took)
	}
	// The emulator notices the client left, and publishes nothing.
	waitFor(t, func() bool { return emu.Calls().Status[0] == 1 })
	if got := emu.Published(); len(got) != 0 {
		t.Errorf("%d published after the deadline, want none", len(got))
	}

	// A context already ended sends nothing.
	emu.Reset()
	_, err = n.Publish(ctx, outputs.Message{Body: "b"})
	if e := asError(t, err); e.Kind != outputs.ErrTransient {
		t.Errorf("ended context: kind %v, want transient", e.Kind)
	}
	if c := emu.Calls(); c.Requests != 0 {
		t.Errorf("%d requests with an ended context, want none", c.Requests)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 5s")
}

func TestPublishUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	n := newNotifier(t, "http://"+addr, defaultTopic(t), emuCreds(""))
	_, err = n.Publish(context.Background(), outputs.Message{Body: "b"})
	e := asError(t, err)
	if e.Kind != outputs.ErrTransient || e.Status != 0 || !e.Retryable() {
		t.Errorf("kind %v, status %d; want transient, 0 (%v)", e.Kind, e.Status, err)
	}
}

// TestErrorsMaskCredentials: an answer that echoes the credentials reaches
// the error masked.
func TestErrorsMaskCredentials(t *testing.T) {
	const ak, sk = "HPUAEXAMPLEACCESSKEY1", "example/secret+key=0123456789abcdefghijklm"
	creds := &huaweikms.Credentials{AccessKey: ak, SecretKey: sk, SecurityToken: testToken}
	body := `{"request_id":"r-` + testToken + `","code":"SMN.0001","message":"key ` + ak + ` with secret ` +
		strings.ReplaceAll(sk, "/", `\/`) + ` and token ` + testToken + ` refused"}`
	tr := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 403, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	})
	n, err := huaweismn.New(huaweismn.Config{Topic: defaultTopic(t), Endpoint: "https://smn.example.invalid", Credentials: creds, Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Publish(context.Background(), outputs.Message{Body: "b"})
	e := asError(t, err)
	if e.Kind != outputs.ErrDenied || e.Status != 403 || e.Code != "SMN.0001" {
		t.Errorf("got %v, want denied 403 SMN.0001", err)
	}
	for _, secret := range []string{ak, sk, testToken, strings.ReplaceAll(sk, "/", `\/`)} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q shows a secret", err)
		}
	}
	if !strings.Contains(e.Message, huaweikms.MaskAccessKey(ak)) || !strings.Contains(e.Message, "request id r-") {
		t.Errorf("message %q lacks the masked key or the request id", e.Message)
	}
}

func TestNew(t *testing.T) {
	topic := defaultTopic(t)
	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name    string
			cfg     huaweismn.Config
			wantErr string
		}{
			{"no topic", huaweismn.Config{Credentials: emuCreds("")}, "no topic"},
			{"bad topic", huaweismn.Config{Topic: huaweismn.TopicURN{Region: "x", ProjectID: proj, Name: "t"}, Credentials: emuCreds("")}, "region"},
			{"endpoint with a password", huaweismn.Config{Topic: topic, Endpoint: "https://user:hunter2@smn.example.com", Credentials: emuCreds("")}, "SMN endpoint"},
			{"endpoint scheme", huaweismn.Config{Topic: topic, Endpoint: "ftp://smn.example.com", Credentials: emuCreds("")}, "scheme"},
			{"no secret key", huaweismn.Config{Topic: topic, Credentials: &huaweikms.Credentials{AccessKey: "AK"}}, "secret key"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := huaweismn.New(tc.cfg)
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New: %v, want an error saying %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error %q shows the password", err)
				}
			})
		}
	})
	t.Run("region endpoint", func(t *testing.T) {
		for region, want := range map[string]string{
			"ap-southeast-1": "https://smn.ap-southeast-1.myhuaweicloud.com",
			"eu-west-101":    "https://smn.eu-west-101.myhuaweicloud.eu",
			"xx-new-9":       "https://smn.xx-new-9.myhuaweicloud.com",
		} {
			tp := topic
			tp.Region = region
			n, err := huaweismn.New(huaweismn.Config{Topic: tp, Credentials: emuCreds("")})
			if err != nil {
				t.Fatal(err)
			}
			if n.Endpoint() != want {
				t.Errorf("%s: endpoint %q, want %q", region, n.Endpoint(), want)
			}
		}
	})
	t.Run("credential chain", func(t *testing.T) {
		emu, url := startEmu(t, smnemu.Options{})
		t.Setenv("HUAWEICLOUD_SDK_AK", emulator.DefaultAK)
		t.Setenv("HUAWEICLOUD_SDK_SK", emulator.DefaultSK)
		// Another project in the environment: the topic's wins.
		t.Setenv("HUAWEICLOUD_SDK_PROJECT_ID", "5c6d7e8f90a1b2c3d4e5f60718293a4b")
		n, err := huaweismn.New(huaweismn.Config{Topic: topic, Endpoint: url})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.Publish(context.Background(), outputs.Message{Body: "from the chain"}); err != nil {
			t.Fatal(err)
		}
		if got := emu.Published(); len(got) != 1 || got[0].Message != "from the chain" {
			t.Errorf("published %+v", got)
		}
	})
}

// TestLimitsAgree: the client's limits are the emulator's (each states
// SMN's rules on its own side).
func TestLimitsAgree(t *testing.T) {
	for _, c := range []struct {
		name         string
		client, emul int
	}{
		{"MaxSubjectBytes", huaweismn.MaxSubjectBytes, smnemu.MaxSubjectBytes},
		{"MaxMessageBytes", huaweismn.MaxMessageBytes, smnemu.MaxMessageBytes},
		{"MaxAttributeNameLen", huaweismn.MaxAttributeNameLen, smnemu.MaxAttributeNameLen},
		{"MaxAttributeValues", huaweismn.MaxAttributeValues, smnemu.MaxAttributeValues},
		{"MaxAttributeValueLen", huaweismn.MaxAttributeValueLen, smnemu.MaxAttributeValueLen},
		{"MaxAttributes", huaweismn.MaxAttributes, smnemu.DefaultMaxAttributes},
	} {
		if c.client != c.emul {
			t.Errorf("%s: client %d, emulator %d", c.name, c.client, c.emul)
		}
	}
}

// TestPublishWire pins what goes on the wire: the path with the topic's
// project and URN, X-Project-Id, and the body's fields.
func TestPublishWire(t *testing.T) {
	_, url := startEmu(t, smnemu.Options{})
	var got *http.Request
	var body []byte
	tr := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r
		if r.Body != nil {
			body, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(strings.NewReader(string(body)))
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	n, err := huaweismn.New(huaweismn.Config{Topic: defaultTopic(t), Endpoint: url, Credentials: emuCreds(""), Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Publish(context.Background(), outputs.Message{Subject: "s", Body: "b",
		Attributes: []outputs.Attribute{{Name: "owner", Values: []string{"alice"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != http.MethodPost || got.URL.Path != "/v2/"+smnemu.DefaultProject+"/notifications/topics/"+smnemu.DefaultTopic+"/publish" {
		t.Errorf("request %s %s", got.Method, got.URL.Path)
	}
	if h := got.Header.Get("X-Project-Id"); h != smnemu.DefaultProject {
		t.Errorf("X-Project-Id %q", h)
	}
	var decoded map[string]any
	if err := json.Unmarshal(body, &decoded); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"subject": "s", "message": "b", "message_attributes": []any{
		map[string]any{"name": "owner", "type": "STRING_ARRAY", "value": []any{"alice"}}}}
	if diff := cmp.Diff(want, decoded); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}
