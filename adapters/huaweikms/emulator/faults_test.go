package emulator_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
)

func listReq() *model.ListKeysRequest {
	return &model.ListKeysRequest{Body: &model.ListKeysRequestBody{Limit: ptr("10")}}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name   string
		f      emulator.Faults
		status int
		code   string
	}{
		{"500", emulator.Faults{Rate500: 1}, 500, "KMS.0500"},
		{"502", emulator.Faults{Rate502: 1}, 502, "KMS.0502"},
		{"504", emulator.Faults{Rate504: 1}, 504, "KMS.0504"},
		{"unauthorized", emulator.Faults{Unauthorized: true}, 401, "APIGW.0301"},
		{"fail key 404", emulator.Faults{FailKeys: map[string]int{plainKey: 404}}, 404, "KMS.0207"},
		{"fail key 403", emulator.Faults{FailKeys: map[string]int{plainKey: 403}}, 403, "KMS.0303"},
		{"fail key 429", emulator.Faults{FailKeys: map[string]int{plainKey: 429}}, 429, "APIG.0308"},
		{"fail key 500", emulator.Faults{FailKeys: map[string]int{plainKey: 500}}, 500, "KMS.0500"},
		{"fail key 400", emulator.Faults{FailKeys: map[string]int{plainKey: 400}}, 400, "KMS.0308"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, url := start(t, emulator.Options{Seed: tagSeed()})
			c := client(t, url, defaultCreds())
			s.SetFaults(tc.f)
			calls := []func() error{
				func() error { _, err := c.ShowKmsTags(&model.ShowKmsTagsRequest{KeyId: plainKey}); return err },
				func() error {
					_, err := c.ListKeyDetail(&model.ListKeyDetailRequest{Body: &model.OperateKeyRequestBody{KeyId: plainKey}})
					return err
				},
				func() error {
					_, err := c.BatchCreateKmsTags(&model.BatchCreateKmsTagsRequest{KeyId: plainKey,
						Body: &model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items("x", "1")}})
					return err
				},
			}
			for i, call := range calls {
				se := svcErr(t, call())
				if se.StatusCode != tc.status || se.ErrorCode != tc.code {
					t.Errorf("call %d: got %d %s, want %d %s", i, se.StatusCode, se.ErrorCode, tc.status, tc.code)
				}
			}
			if tags, _ := s.Tags("", plainKey); tags["x"] != "" {
				t.Error("a failed write changed the tags")
			}
			// Other keys are untouched by FailKeys; everything recovers when cleared.
			if tc.f.FailKeys != nil {
				if _, err := c.ShowKmsTags(&model.ShowKmsTagsRequest{KeyId: fullKey}); err != nil {
					t.Errorf("other key: %v", err)
				}
			}
			s.SetFaults(emulator.Faults{})
			if _, err := c.ShowKmsTags(&model.ShowKmsTagsRequest{KeyId: plainKey}); err != nil {
				t.Errorf("after clearing the faults: %v", err)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	s, url := start(t, emulator.Options{})
	c := client(t, url, defaultCreds())
	s.SetFaults(emulator.Faults{RateLimit: 20, Burst: 5})
	ok, throttled := 0, 0
	for range 20 {
		_, err := c.ListKeys(listReq())
		if err == nil {
			ok++
			continue
		}
		se := svcErr(t, err)
		if se.StatusCode != 429 || se.ErrorCode != "APIG.0308" {
			t.Fatalf("got %d %s, want 429 APIG.0308", se.StatusCode, se.ErrorCode)
		}
		throttled++
	}
	// 20 back-to-back calls take far less than a second: the burst of 5 plus
	// the few tokens refilled meanwhile pass.
	if ok < 5 || ok > 10 || throttled == 0 {
		t.Errorf("got %d passed and %d throttled, want 5..10 passed", ok, throttled)
	}
	// The live gateway's flat body.
	status, body := call(t, url, raw{method: "POST", path: path("list-keys"), body: `{}`})
	for status != 429 {
		status, body = call(t, url, raw{method: "POST", path: path("list-keys"), body: `{}`})
	}
	if diff := cmp.Diff([]string{"error_code", "error_msg", "request_id"}, fieldNames(body)); diff != "" {
		t.Errorf("429 body fields (-want +got):\n%s", diff)
	}
	if body["error_msg"] != "The throttling threshold has been reached: policy user over ratelimit,limit:20,time:1 second" {
		t.Errorf("got error_msg %q", body["error_msg"])
	}
	time.Sleep(300 * time.Millisecond) // refill 6 tokens
	if _, err := c.ListKeys(listReq()); err != nil {
		t.Errorf("after waiting: %v", err)
	}
}

func TestDropConnection(t *testing.T) {
	s, url := start(t, emulator.Options{})
	c := client(t, url, defaultCreds())
	s.SetFaults(emulator.Faults{DropRate: 1})
	_, err := c.ListKeys(listReq())
	if err == nil {
		t.Fatal("got success, want a connection error")
	}
	var se *sdkerr.ServiceResponseError
	if errors.As(err, &se) {
		t.Fatalf("got service error %v, want a transport error", se)
	}
	if got := s.Stats().Status[0]; got == 0 {
		t.Errorf("got Status[0] %d, want the dropped call counted", got)
	}
}

func TestLatency(t *testing.T) {
	s, url := start(t, emulator.Options{})
	c := client(t, url, defaultCreds())
	s.SetFaults(emulator.Faults{Latency: 150 * time.Millisecond})
	t0 := time.Now()
	if _, err := c.ListKeys(listReq()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 150*time.Millisecond {
		t.Errorf("got %v, want at least 150ms", d)
	}
}

func TestFaultRatesAreSeeded(t *testing.T) {
	run := func() []int {
		s, url := start(t, emulator.Options{})
		s.SetFaults(emulator.Faults{Rate500: 0.3, Rate502: 0.1, Rate504: 0.1, Seed: 42})
		var got []int
		for range 40 {
			status, _ := call(t, url, raw{method: "POST", path: path("list-keys"), body: `{}`})
			got = append(got, status)
		}
		return got
	}
	a, b := run(), run()
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different outcomes (-first +second):\n%s", diff)
	}
	n := map[int]int{}
	for _, st := range a {
		n[st]++
	}
	if n[200] == 0 || n[500] == 0 || n[200] == 40 {
		t.Errorf("got statuses %v, want a mix", n)
	}
}

func TestStats(t *testing.T) {
	s, url := start(t, emulator.Options{Seed: tagSeed()})
	c := client(t, url, defaultCreds())
	c.ListKeys(listReq())
	c.ListKeys(listReq())
	c.ListKeyDetail(&model.ListKeyDetailRequest{Body: &model.OperateKeyRequestBody{KeyId: plainKey}})
	c.ListKmsByTags(bulk("filter", "10", "0"))
	c.ShowKmsTags(&model.ShowKmsTagsRequest{KeyId: absentKey})
	c.BatchCreateKmsTags(&model.BatchCreateKmsTagsRequest{KeyId: plainKey, Body: &model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items("a", "1")}})
	c.BatchCreateKmsTags(&model.BatchCreateKmsTagsRequest{KeyId: defaultKey, Body: &model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items("a", "1")}})
	call(t, url, raw{method: "POST", path: path("nope"), body: `{}`})
	want := emulator.Stats{
		Calls: map[string]int{emulator.APIListKeys: 2, emulator.APIDescribeKey: 1, emulator.APIResourceInstances: 1,
			emulator.APIShowTags: 1, emulator.APITagsAction: 2},
		Status:         map[int]int{200: 4, 204: 1, 400: 1, 404: 2},
		RejectedWrites: 1,
		Writes:         1,
	}
	if diff := cmp.Diff(want, s.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	s.ResetStats()
	if diff := cmp.Diff(emulator.Stats{Calls: map[string]int{}, Status: map[int]int{}}, s.Stats()); diff != "" {
		t.Errorf("after ResetStats (-want +got):\n%s", diff)
	}
}

// TestConcurrent runs calls while faults change and keys come and go; run
// with -race.
func TestConcurrent(t *testing.T) {
	s, url := start(t, emulator.Options{Seed: emulator.SampleKeys(300, 1)})
	c := client(t, url, defaultCreds())
	ids := s.Keys("")
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				k := ids[(w*25+i)%len(ids)]
				c.ListKeys(listReq())
				c.ListKmsByTags(bulk("filter", "50", "0"))
				c.ShowKmsTags(&model.ShowKmsTagsRequest{KeyId: k.ResourceID})
				c.BatchCreateKmsTags(&model.BatchCreateKmsTagsRequest{KeyId: k.ResourceID,
					Body: &model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items("w", "1")}})
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 50 {
			s.SetFaults(emulator.Faults{Rate500: 0.1, Latency: time.Millisecond})
			s.AddKey("", emulator.SeedKey{ResourceID: "aaaaaaaa-0000-4000-8000-" + itoa12(i)})
			s.DeleteKey("", "aaaaaaaa-0000-4000-8000-"+itoa12(i))
			s.Stats()
			s.SetFaults(emulator.Faults{})
		}
	}()
	wg.Wait()
	if got := len(s.Keys("")); got != 300 {
		t.Errorf("got %d keys, want 300", got)
	}
}

func itoa12(i int) string {
	const digits = "000000000000"
	s := digits + string(rune('0'+i%10)) + string(rune('0'+i/10%10))
	return s[len(s)-12:]
}

func TestFailKeyGatewayBodies(t *testing.T) {
	s, url := start(t, emulator.Options{Seed: tagSeed()})
	s.SetFaults(emulator.Faults{FailKeys: map[string]int{plainKey: 429, fullKey: 401}})
	for id, code := range map[string]string{plainKey: "APIG.0308", fullKey: "APIGW.0301"} {
		status, body := call(t, url, raw{method: "GET", path: path(id + "/tags")})
		if body["error_code"] != code || body["request_id"] == "" || body["request_id"] == nil {
			t.Errorf("%s: got %d %v, want a flat %s body with a request id", id, status, body, code)
		}
	}
	// describe-key names the key in its body.
	status, body := call(t, url, raw{method: "POST", path: path("describe-key"), body: `{"key_id":"` + plainKey + `"}`})
	if status != 429 || body["error_code"] != "APIG.0308" {
		t.Errorf("describe-key: got %d %v, want 429 APIG.0308", status, body)
	}
}

// TestWindowLimit checks the gateway's sliding-window count: a call that
// would make the last Window hold more than WindowLimit accepted calls gets
// 429 APIG.0308, calls it refuses do not count, and the window slides (a
// fixed window starting at the first call would let the last calls of the
// first case through).
func TestWindowLimit(t *testing.T) {
	type step struct {
		at     time.Duration // from the first call
		status int
	}
	cases := []struct {
		name    string
		f       emulator.Faults
		steps   []step
		wantMsg string
	}{
		{"sliding window, refused calls not counted", emulator.Faults{WindowLimit: 2, Window: 400 * time.Millisecond}, []step{
			{0, 200}, {250 * time.Millisecond, 200}, {260 * time.Millisecond, 429}, // the window holds 0 and 250
			{450 * time.Millisecond, 200}, // 0 has left; the 429 at 260 does not count
			{460 * time.Millisecond, 429}, // 250 and 450 are in
			{700 * time.Millisecond, 200}, // 250 has left
		}, "limit:2,time:400ms"},
		{"default window of one second", emulator.Faults{WindowLimit: 3}, []step{
			{0, 200}, {0, 200}, {0, 200}, {0, 429}, {0, 429},
		}, "The throttling threshold has been reached: policy user over ratelimit,limit:3,time:1 second"},
		{"window and bucket both apply", emulator.Faults{WindowLimit: 5, RateLimit: 1, Burst: 2}, []step{
			{0, 200}, {0, 200}, {0, 429}, // the bucket refuses the third
		}, "limit:1,time:1 second"},
		{"bucket-refused calls do not fill the window", emulator.Faults{WindowLimit: 2, RateLimit: 1, Burst: 1}, []step{
			{0, 200}, {0, 429}, {0, 429}, {1100 * time.Millisecond, 200}, // the bucket has a token again, the window room
		}, "limit:1,time:1 second"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, url := start(t, emulator.Options{})
			s.SetFaults(tc.f)
			start := time.Now()
			var msg string
			for i, st := range tc.steps {
				time.Sleep(time.Until(start.Add(st.at)))
				status, body := call(t, url, raw{method: "POST", path: path("list-keys"), body: `{}`})
				if status != st.status {
					t.Fatalf("call %d at %v: got %d %v, want %d", i, st.at, status, body, st.status)
				}
				if status == 429 {
					if diff := cmp.Diff([]string{"error_code", "error_msg", "request_id"}, fieldNames(body)); diff != "" || body["error_code"] != "APIG.0308" {
						t.Errorf("429 body %v: want the gateway's flat APIG.0308 body", body)
					}
					msg, _ = body["error_msg"].(string)
				}
			}
			if !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("429 message %q does not contain %q", msg, tc.wantMsg)
			}
			want := 0
			for _, st := range tc.steps {
				if st.status == 429 {
					want++
				}
			}
			if got := s.Stats().Status[429]; got != want {
				t.Errorf("emulator counted %d answers 429, want %d", got, want)
			}
		})
	}
}

// TestSequence checks the scripted faults: the next calls get the listed
// statuses in order (0 serves), then calls are served; SetFaults restarts.
func TestSequence(t *testing.T) {
	cases := []struct {
		name string
		seq  []int
		want []string // status and code of each call, then one more served
	}{
		{"one 500 then 429s", []int{500, 429, 429}, []string{"500 KMS.0500", "429 APIG.0308", "429 APIG.0308", "200 "}},
		{"served in between", []int{0, 503, 0, 404}, []string{"200 ", "503 KMS.0500", "200 ", "404 KMS.0207", "200 "}},
		{"empty", nil, []string{"200 ", "200 "}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, url := start(t, emulator.Options{Seed: tagSeed()})
			run := func() []string {
				var got []string
				for range tc.want {
					status, body := call(t, url, raw{method: "GET", path: path(plainKey + "/tags")})
					got = append(got, fmt.Sprintf("%d %s", status, errorCode(body)))
				}
				return got
			}
			s.SetFaults(emulator.Faults{Sequence: tc.seq})
			if diff := cmp.Diff(tc.want, run()); diff != "" {
				t.Errorf("answers (-want +got):\n%s", diff)
			}
			s.SetFaults(emulator.Faults{Sequence: tc.seq})
			if diff := cmp.Diff(tc.want, run()); diff != "" {
				t.Errorf("after SetFaults again (-want +got):\n%s", diff)
			}
		})
	}
}
