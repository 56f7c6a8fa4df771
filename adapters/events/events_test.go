package events_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tagwarden/tagwarden/adapters/events"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

func ptr(b bool) *bool { return &b }

const (
	keyA = "0d0466b0-e727-4d9c-b35d-f84bb474a37f"
	keyB = "7a1c2e4f-6b8d-4f0a-9c3e-5d7b9f1a3c5e"
	keyC = "1f2e3d4c-5b6a-4789-8a7b-6c5d4e3f2a1b"
	keyD = "2a3b4c5d-6e7f-4801-9a2b-3c4d5e6f7a8b"
)

// Cases maps every fixture in testdata/ to the request it decodes to, or
// to the words its error must contain.
var cases = []struct {
	file    string
	want    handler.Request
	wantErr []string
}{
	{file: "timer.json", want: handler.Request{Mode: handler.ModeSweep, Trigger: "timer", Reason: "timer Timer_001"}},
	{file: "timer-no-user-event.json", want: handler.Request{Mode: handler.ModeSweep, Trigger: "timer", Reason: "timer tagwarden-sweep"}},
	{file: "timer-manual-dry-run.json", want: handler.Request{Mode: handler.ModeSweep, DryRun: ptr(true), Trigger: "timer",
		Reason: "timer tagwarden-sweep: manual sweep"}},
	{file: "timer-manual-object.json", want: handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyA}, DryRun: ptr(false),
		Trigger: "timer", Reason: "timer tagwarden-check: manual check of 1 key(s)"}},
	{file: "cts-create-key.json", want: handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyA}, Trigger: "cts",
		Reason: "createKey at 2025-11-29T08:34:07Z (trace f2b3c4d5-cd11-11f0-9a7b-0242ac120002)",
		Events: map[string]policy.Event{keyA: policy.Event{Operation: "createKey", UserName: "alice", UserID: "5b726c4fbfd84821ba866bafaaf56aax", SourceIP: "192.0.2.10"}}}},
	{file: "cts-create-key-strings.json", want: handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyB}, Trigger: "cts",
		Reason: "createKey (trace 0a9b8c7d-cd12-11f0-9a7b-0242ac120002)",
		Events: map[string]policy.Event{keyB: policy.Event{Operation: "createKey", UserName: "bob"}}}},
	{file: "cts-create-key-response-object.json", want: handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyD}, Trigger: "cts",
		Reason: "createKey at 2026-11-29T01:20:00Z (trace 6a7b8c9d-cd13-11f0-9a7b-0242ac120002)",
		Events: map[string]policy.Event{keyD: policy.Event{Operation: "createKey"}}}},
	{file: "cts-create-key-tag-resource-object.json", want: handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyC}, Trigger: "cts",
		Reason: "createKeyTag at 2025-11-29T09:03:20Z (trace 7b8c9d0e-cd13-11f0-9a7b-0242ac120002)",
		Events: map[string]policy.Event{keyC: policy.Event{Operation: "createKeyTag"}}}},
	{file: "cts-delete-key-tag-failed-string-code.json", want: handler.Request{Mode: handler.ModeIgnore, Trigger: "cts",
		Reason: `trace "deleteKeyTag" records a failed call (code 404)`}},
	{file: "cts-trace-bare.json", want: handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyA}, Trigger: "cts",
		Reason: "createKey at 2025-11-29T09:13:20Z (trace 9d0e1f2a-cd13-11f0-9a7b-0242ac120002)",
		Events: map[string]policy.Event{keyA: policy.Event{Operation: "createKey"}}}},
	{file: "cts-create-key-failed.json", want: handler.Request{Mode: handler.ModeIgnore, Trigger: "cts",
		Reason: `trace "createKey" records a failed call (code 400)`}},
	{file: "cts-batch-create-tags.json", want: handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyA}, Trigger: "cts",
		Reason: "batchCreateKeyTags at 2025-11-29T08:38:20Z (trace 2c3d4e5f-cd12-11f0-9a7b-0242ac120002)",
		Events: map[string]policy.Event{keyA: policy.Event{Operation: "batchCreateKeyTags"}}}},
	{file: "cts-delete-key-tag-urn.json", want: handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyB}, Trigger: "cts",
		Reason: "deleteKeyTag at 2026-11-29T09:05:00Z (trace 3d4e5f60-cd12-11f0-9a7b-0242ac120002)",
		Events: map[string]policy.Event{keyB: policy.Event{Operation: "deleteKeyTag"}}}},
	{file: "cts-schedule-deletion.json", want: handler.Request{Mode: handler.ModeIgnore, Trigger: "cts",
		Reason: `trace "scheduleKeyDeletion" neither creates a key nor changes its tags`}},
	{file: "cts-other-service.json", want: handler.Request{Mode: handler.ModeIgnore, Trigger: "cts",
		Reason: `trace "deleteGraph" of service "vpc", not KMS`}},
	{file: "cts-create-key-no-id.json", want: handler.Request{Mode: handler.ModeIgnore, Trigger: "cts",
		Reason: `trace "createKey" names no key id (resource_id, response key_info.key_id)`}},
	{file: "eventgrid-create-key.json", want: handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyC}, Trigger: "eventgrid",
		Reason: "createKey at 2025-11-29T09:10:00Z (trace 70718293-cd13-11f0-9a7b-0242ac120002)",
		Events: map[string]policy.Event{keyC: policy.Event{Operation: "createKey"}}}},
	{file: "eventgrid-data-string.json", want: handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyD}, Trigger: "eventgrid",
		Reason: "createKey (trace 81928394-cd13-11f0-9a7b-0242ac120002)",
		Events: map[string]policy.Event{keyD: policy.Event{Operation: "createKey"}}}},
	{file: "eventgrid-batch.json", want: handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyC, keyD}, Trigger: "eventgrid",
		Reason: "createKey at 2025-11-29T09:12:00Z (trace t-1); batchDeleteKeyTags at 2025-11-29T09:12:01Z (trace t-2); " +
			"createKeyTag at 2025-11-29T09:12:03Z (trace t-4); 1 event(s) ignored",
		Events: map[string]policy.Event{keyC: {Operation: "createKey"}, keyD: {Operation: "batchDeleteKeyTags"}}}},
	{file: "eventgrid-batch-malformed.json", want: handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyC}, Trigger: "eventgrid",
		Reason: "createKey at 2025-11-29T09:12:00Z (trace t-1); 2 malformed event(s) skipped: " +
			`events[1]: invalid event: cloud event "e9" has no data: expected the CTS trace in data; ` +
			`events[2]: invalid event: payload is a string, not a JSON object: expected a CloudEvent`,
		Events: map[string]policy.Event{keyC: policy.Event{Operation: "createKey"}}}},
	{file: "eventgrid-batch-ignored.json", want: handler.Request{Mode: handler.ModeIgnore, Trigger: "eventgrid",
		Reason: `trace "createKey" records a failed call (code 403)`}},
	{file: "eventgrid-batch-creator.json", want: handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyA, keyB}, Trigger: "eventgrid",
		Reason: "createKeyTag at 2025-11-29T09:12:00Z (trace t-1); createKey at 2025-11-29T09:11:59Z (trace t-2); deleteKeyTag at 2025-11-29T09:12:02Z (trace t-3)",
		// keyA's createKey wins over its earlier tag operation.
		Events: map[string]policy.Event{
			keyA: {Operation: "createKey", UserName: "alice", UserID: "u-alice", SourceIP: "192.0.2.10"},
			keyB: {Operation: "deleteKeyTag", UserName: "carol"},
		}}},
	{file: "scheduled-event.json", want: handler.Request{Mode: handler.ModeSweep, Trigger: "schedule", EventID: "890abcde-f123-4567-890a-bcdef1234567",
		Reason: "scheduled event arn:aws:events:us-east-1:123456789012:rule/SampleRule"}},
	{file: "scheduled-event-dry-run.json", want: handler.Request{Mode: handler.ModeSweep, DryRun: ptr(true), Trigger: "schedule", EventID: "9a0bcdef-1234-5678-9abc-def012345678",
		Reason: "scheduled event arn:aws:events:us-east-1:123456789012:rule/tagwarden-dry-run: manual sweep"}},
	{file: "scheduled-event-check.json", want: handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyA}, DryRun: ptr(false), Trigger: "schedule", EventID: "9a0bcdef-1234-5678-9abc-def012345679",
		Reason: "scheduled event arn:aws:events:us-east-1:123456789012:rule/tagwarden-check: manual check of 1 key(s)"}},
	{file: "manual-sweep.json", want: handler.Request{Mode: handler.ModeSweep, Trigger: "manual", Reason: "manual sweep"}},
	{file: "manual-sweep-dry-run.json", want: handler.Request{Mode: handler.ModeSweep, DryRun: ptr(true),
		Continuation: "eyJwaGFzZSI6MSwib2Zmc2V0IjoxMDAwfQ", Trigger: "manual", Reason: "manual sweep, resumed"}},
	{file: "manual-check.json", want: handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyA, keyB}, DryRun: ptr(false),
		Trigger: "manual", Reason: "manual check of 2 key(s)"}},
	{file: "manual-check-continuation.json", want: handler.Request{Mode: handler.ModeKeys, Continuation: checkToken,
		Trigger: "manual", Reason: "manual check, resumed"}},
	{file: "manual-check-keys-and-continuation.json", want: handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyB}, DryRun: ptr(true),
		Continuation: checkToken, Trigger: "manual", Reason: "manual check, resumed"}},
	{file: "timer-manual-check-continuation.json", want: handler.Request{Mode: handler.ModeKeys, Continuation: checkToken,
		Trigger: "timer", Reason: "timer tagwarden-resume: manual check, resumed"}},

	{file: "manual-sweep-targets.json", want: handler.Request{Mode: handler.ModeSweep, DryRun: ptr(true), Trigger: "manual", Reason: "manual sweep",
		// Names are checked against the configured set later, each alone:
		// one that does not parse fails by itself.
		Targets: []string{"ap-southeast-1/0a1b2c3d", "cn-north-4/5c6d7e8f", "not a target"}}},
	{file: "manual-sweep-link.json", want: handler.Request{Mode: handler.ModeSweep, Trigger: "manual", Reason: "manual sweep, resumed",
		Target: "cn-north-4/5c6d7e8f", Run: "9a810d41b29aef1fbe389a10", Link: 3, Continuation: "eyJ2IjoyfQ.c2ln"}},
	{file: "bad-manual-target-and-targets.json", wantErr: []string{"target and targets together"}},
	{file: "bad-manual-check-target.json", wantErr: []string{`target, targets, run and link are for action "sweep"`}},
	{file: "bad-manual-run-id.json", wantErr: []string{`run is "../../etc": expected 1 to 64 letters, digits or '-'`}},
	{file: "bad-manual-link-type.json", wantErr: []string{"link is a number: expected a link number"}},
	{file: "bad-manual-link-no-run.json", wantErr: []string{"link without run"}},
	{file: "bad-not-json.txt", wantErr: []string{"not JSON", "expected", "manual payload"}},
	{file: "bad-array.json", wantErr: []string{"an array, not a JSON object", "expected"}},
	{file: "bad-unknown-shape.json", wantErr: []string{`fields "hello" matches no known payload`, "TIMER", "CloudEvent", "manual payload"}},
	{file: "bad-manual-unknown-field.json", wantErr: []string{`unknown field(s) "dryrun"`, "expected only action, key_ids, dry_run, continuation"}},
	{file: "bad-manual-check-no-keys.json", wantErr: []string{`action "check" needs key_ids`}},
	{file: "bad-manual-dry-run-type.json", wantErr: []string{"dry_run is a string: expected true or false"}},
	{file: "bad-manual-key-id.json", wantErr: []string{`key_ids[1] is "bad key": expected a key id`}},
	{file: "bad-timer-user-event.json", wantErr: []string{"user_event", `unknown field(s) "dry-run"`}},
	{file: "bad-cts-no-trace-name.json", wantErr: []string{"cts trace has no trace_name", `"resource_id", "service_type"`}},
	{file: "bad-eventgrid-batch-all-malformed.json", wantErr: []string{`events[0]: invalid event: cloud event "e9" has no data`}},
	{file: "bad-eventgrid-no-data.json", wantErr: []string{`cloud event "e9" has no data: expected the CTS trace in data`}},
	{file: "bad-eventbridge-other.json", wantErr: []string{`detail-type is "AWS API Call via CloudTrail": expected "Scheduled Event"`}},
	{file: "bad-scheduled-detail-unknown-field.json", wantErr: []string{"scheduled event detail", `unknown field(s) "dryrun"`, "expected only action, key_ids, dry_run, continuation"}},
	{file: "bad-scheduled-detail-string.json", wantErr: []string{"scheduled event detail is a string: expected an object", `{"dry_run":true}`}},
	{file: "bad-too-deep.json", wantErr: []string{"payload is too deeply nested: more than 1000 levels of objects and arrays"}},
}

// checkToken is the continuation of the check fixtures: an opaque string
// to the decoders.
const checkToken = "eyJ2IjoxLCJtIjoia2V5cyIsImsiOlsiMGQwNDY2YjAtZTcyNy00ZDljLWIzNWQtZjg0YmI0NzRhMzdmIl19"

func TestDecodeFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.file] = true
	}
	for _, f := range files {
		if !covered[filepath.Base(f)] {
			t.Errorf("fixture %s has no case in the table", f)
		}
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := events.Decode(data)
			if c.wantErr != nil {
				if err == nil {
					t.Fatalf("got request %+v, want an error", got)
				}
				if !errors.Is(err, events.ErrInvalid) {
					t.Errorf("got error %v, want one wrapping ErrInvalid", err)
				}
				for _, w := range c.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("got error %q, want it to contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("request mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeAccept(t *testing.T) {
	data, err := os.ReadFile("testdata/timer.json")
	if err != nil {
		t.Fatal(err)
	}
	_, err = events.Decode(data, events.KindScheduled, events.KindManual)
	if err == nil || !strings.Contains(err.Error(), "not taken on this platform") || !strings.Contains(err.Error(), "Scheduled Event") {
		t.Errorf("got %v, want an error saying a timer event is not taken and naming the accepted kinds", err)
	}
}

func TestManual(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    handler.Request
		wantErr string
	}{
		{"null fields are absent", `{"action":"sweep","dry_run":null,"key_ids":null}`,
			handler.Request{Mode: handler.ModeSweep, Trigger: "manual", Reason: "manual sweep"}, ""},
		{"missing action", `{"dry_run":true}`, handler.Request{}, `action is missing: expected "sweep" or "check"`},
		{"bad action", `{"action":"Sweep"}`, handler.Request{}, `action is "Sweep": expected "sweep" or "check"`},
		{"action not a string", `{"action":1}`, handler.Request{}, `action is a number: expected "sweep" or "check"`},
		{"key ids on sweep", `{"action":"sweep","key_ids":["k"]}`, handler.Request{}, `key_ids is for action "check"`},
		{"continuation resumes a check", `{"action":"check","continuation":"tok"}`,
			handler.Request{Mode: handler.ModeKeys, Continuation: "tok", Trigger: "manual", Reason: "manual check, resumed"}, ""},
		{"continuation with key ids: both passed, the token wins in the handler", `{"action":"check","key_ids":["k","k"],"continuation":"tok"}`,
			handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{"k"}, Continuation: "tok", Trigger: "manual", Reason: "manual check, resumed"}, ""},
		{"continuation resumes a sweep", `{"action":"sweep","continuation":"tok","dry_run":false}`,
			handler.Request{Mode: handler.ModeSweep, Continuation: "tok", DryRun: ptr(false), Trigger: "manual", Reason: "manual sweep, resumed"}, ""},
		{"an empty continuation is refused", `{"action":"check","continuation":""}`, handler.Request{}, `continuation is empty: omit it`},
		{"an empty sweep continuation does not restart the sweep", `{"action":"sweep","continuation":""}`, handler.Request{}, `continuation is empty`},
		{"check with a null continuation needs key ids", `{"action":"check","continuation":null}`, handler.Request{}, `action "check" needs key_ids`},
		{"key ids are checked with a continuation", `{"action":"check","key_ids":["bad key"],"continuation":"tok"}`, handler.Request{}, `key_ids[0] is "bad key"`},
		{"too many key ids with a continuation", `{"action":"check","key_ids":[` + strings.Repeat(`"k",`, handler.MaxKeyIDs) + `"k"],"continuation":"tok"}`, handler.Request{}, "1001 key_ids"},
		{"key ids on a resumed sweep", `{"action":"sweep","key_ids":["k"],"continuation":"tok"}`, handler.Request{}, `key_ids is for action "check"`},
		{"continuation too long on check", `{"action":"check","continuation":"` + strings.Repeat("x", handler.MaxContinuationLen+1) + `"}`, handler.Request{},
			"continuation is 65537 bytes: expected at most 65536"},
		{"continuation too long on sweep", `{"action":"sweep","continuation":"` + strings.Repeat("x", handler.MaxContinuationLen+1) + `"}`, handler.Request{},
			"continuation is 65537 bytes"},
		{"continuation not a string", `{"action":"check","continuation":{"v":1}}`, handler.Request{}, "continuation is an object: expected a string"},
		{"bad action wins over a long continuation", `{"action":"resume","continuation":"` + strings.Repeat("x", handler.MaxContinuationLen+1) + `"}`, handler.Request{},
			`action is "resume"`},
		{"key id not a string", `{"action":"check","key_ids":[1]}`, handler.Request{}, "key_ids has an element that is not a string"},
		{"too many keys: the handler's limit", `{"action":"check","key_ids":[` + strings.Repeat(`"k",`, handler.MaxKeyIDs) + `"k"]}`, handler.Request{}, "1001 key_ids: expected at most 1000"},
		{"the handler's most keys", `{"action":"check","key_ids":[` + strings.Repeat(`"k",`, handler.MaxKeyIDs-1) + `"k"]}`,
			handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{"k"}, Trigger: "manual", Reason: "manual check of 1 key(s)"}, ""},
		{"key id of the longest form", `{"action":"check","key_ids":["` + strings.Repeat("k", handler.MaxKeyIDLen) + `"]}`,
			handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{strings.Repeat("k", handler.MaxKeyIDLen)}, Trigger: "manual", Reason: "manual check of 1 key(s)"}, ""},
		{"key id too long: the handler's rule", `{"action":"check","key_ids":["` + strings.Repeat("k", handler.MaxKeyIDLen+1) + `"]}`, handler.Request{},
			"expected a key id (1 to 64 letters, digits, '-' or '_')"},
		{"trailing data", `{"action":"sweep"} {}`, handler.Request{}, "not JSON"},
		{"long unknown field is cut", `{"action":"sweep","` + strings.Repeat("x", 500) + `":1}`, handler.Request{}, `"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"…`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := events.ParseManual([]byte(tt.payload))
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
				t.Errorf("request mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseTraceTolerant(t *testing.T) {
	tests := []struct {
		name  string
		trace string
		key   string
		code  int
	}{
		{"resource_id as JSON string of object", `{"trace_name":"createKey","resource_id":"{\"key_id\":\"` + keyA + `\"}"}`, keyA, 0},
		{"key id from request", `{"trace_name":"createKeyTag","resource_id":"","request":"{\"key_id\":\"` + keyB + `\"}"}`, keyB, 0},
		{"code as string", `{"trace_name":"createKey","code":"404","resource_id":"` + keyA + `"}`, keyA, 404},
		{"time as number string", `{"trace_name":"createKey","time":"1764405247000","resource_id":"` + keyA + `"}`, keyA, 0},
		{"whole trace as JSON string", `"{\"trace_name\":\"createKey\",\"resource_id\":\"` + keyC + `\"}"`, keyC, 0},
		{"garbage key id ignored", `{"trace_name":"createKey","resource_id":"not a key id!"}`, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := events.ParseTrace([]byte(tt.trace))
			if err != nil {
				t.Fatal(err)
			}
			if tr.KeyID != tt.key || tr.Code != tt.code {
				t.Errorf("got key %q code %d, want key %q code %d", tr.KeyID, tr.Code, tt.key, tt.code)
			}
		})
	}
}

// TestTooDeep: a payload nested past MaxDepth, at the top or inside a
// string a decoder unwraps, is refused quickly by every entry point with an
// error that says so and names the limit, never as "not JSON".
func TestTooDeep(t *testing.T) {
	const want = "too deeply nested: more than 1000 levels of objects and arrays"
	type entry struct {
		name   string
		decode func([]byte) error
	}
	entries := []entry{
		{"Decode", func(b []byte) error { _, err := events.Decode(b); return err }},
		{"Classify", func(b []byte) error { _, _, err := events.Classify(b); return err }},
		{"ParseManual", func(b []byte) error { _, err := events.ParseManual(b); return err }},
		{"ParseTrace", func(b []byte) error { _, err := events.ParseTrace(b); return err }},
	}
	for _, in := range deepInputs() {
		for _, e := range entries {
			if e.name == "Classify" && !in.top {
				continue // it reads only the top level: a deep string is for the decoder of its kind
			}
			t.Run(in.name+"/"+e.name, func(t *testing.T) {
				start := time.Now()
				err := e.decode([]byte(in.payload))
				if took := time.Since(start); took > 2*time.Second {
					t.Errorf("took %s on a %d-byte payload", took, len(in.payload))
				}
				if err == nil {
					t.Fatal("got no error")
				}
				if !errors.Is(err, events.ErrInvalid) {
					t.Errorf("got %v, want an error wrapping ErrInvalid", err)
				}
				if strings.Contains(err.Error(), "not JSON") {
					t.Errorf("got %q, want it not to call the payload not JSON", err)
				}
				// Every entry point reads the top level; Decode also
				// unwraps the strings inside.
				if in.top || e.name == "Decode" {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("got %q, want it to contain %q", err, want)
					}
				}
			})
		}
	}
	// A trace given as a JSON string is unwrapped by ParseTrace itself.
	_, err := events.ParseTrace([]byte(quoted(nest(100_000))))
	if err == nil || !strings.Contains(err.Error(), "cts trace is "+want) {
		t.Errorf("ParseTrace of a deep JSON string: got %v, want %q", err, "cts trace is "+want)
	}
}

// TestDepthLimit pins the limit: MaxDepth levels decode, one more does not,
// at the top and inside a JSON-encoded trace; a deep string in a field the
// decoder reads tolerantly (a CTS request) does not cost the trace.
func TestDepthLimit(t *testing.T) {
	trace := func(extra string) string {
		return `{"trace_name":"createKey","resource_id":"` + keyA + `","extra":` + extra + `}`
	}
	tests := []struct {
		name    string
		payload string
		wantErr string
	}{
		// {"cts": {... "extra": arrays}}: 2 levels of objects, then the arrays.
		{"at the limit", `{"cts":` + trace(nest(events.MaxDepth-2)) + `}`, ""},
		{"past the limit", `{"cts":` + trace(nest(events.MaxDepth-1)) + `}`, "payload is too deeply nested: more than 1000 levels"},
		// The encoded trace counts on its own: 1 level of object.
		{"encoded trace at the limit", `{"cts":` + quoted(trace(nest(events.MaxDepth-1))) + `}`, ""},
		{"encoded trace past the limit", `{"cts":` + quoted(trace(nest(events.MaxDepth))) + `}`, "cts trace is too deeply nested: more than 1000 levels"},
		{"deep request string tolerated", `{"cts":{"trace_name":"createKey","resource_id":"` + keyA + `","request":` + quoted(nest(100_000)) + `}}`, ""},
		{"brackets in strings do not count", `{"action":"check","key_ids":["` + keyA + `"],"continuation":"` + strings.Repeat("[", 5000) + `"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := events.Decode([]byte(tt.payload))
			if tt.wantErr != "" {
				if !errors.Is(err, events.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an invalid-event error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.Mode != handler.ModeKeys || len(req.KeyIDs) != 1 || req.KeyIDs[0] != keyA {
				t.Errorf("got %+v, want a key request for %s", req, keyA)
			}
		})
	}
}

// TestScheduledDetail: an EventBridge Scheduled Event's detail carries the
// manual payload's fields (action "sweep" unless it says otherwise), and
// anything else in it is an error rather than a real sweep.
func TestScheduledDetail(t *testing.T) {
	const rule = "arn:aws:events:us-east-1:123456789012:rule/r"
	event := func(detail string) string {
		e := `{"version":"0","detail-type":"Scheduled Event","source":"aws.events","resources":["` + rule + `"]`
		if detail != "" {
			e += `,"detail":` + detail
		}
		return e + "}"
	}
	sweep := handler.Request{Mode: handler.ModeSweep, Trigger: "schedule", Reason: "scheduled event " + rule}
	tests := []struct {
		name    string
		detail  string // "" = no detail field
		want    handler.Request
		wantErr string
	}{
		{"empty detail", `{}`, sweep, ""},
		{"no detail", "", sweep, ""},
		{"null detail", `null`, sweep, ""},
		{"dry run", `{"dry_run":true}`,
			handler.Request{Mode: handler.ModeSweep, DryRun: ptr(true), Trigger: "schedule", Reason: "scheduled event " + rule + ": manual sweep"}, ""},
		{"real run", `{"dry_run":false}`,
			handler.Request{Mode: handler.ModeSweep, DryRun: ptr(false), Trigger: "schedule", Reason: "scheduled event " + rule + ": manual sweep"}, ""},
		{"null fields", `{"dry_run":null,"action":null}`,
			handler.Request{Mode: handler.ModeSweep, Trigger: "schedule", Reason: "scheduled event " + rule + ": manual sweep"}, ""},
		{"resumed sweep", `{"continuation":"tok"}`,
			handler.Request{Mode: handler.ModeSweep, Continuation: "tok", Trigger: "schedule", Reason: "scheduled event " + rule + ": manual sweep, resumed"}, ""},
		{"check", `{"action":"check","key_ids":["` + keyA + `"]}`,
			handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyA}, Trigger: "schedule", Reason: "scheduled event " + rule + ": manual check of 1 key(s)"}, ""},
		{"unknown field", `{"dryrun":true}`, handler.Request{}, `scheduled event detail: invalid event: manual payload: unknown field(s) "dryrun"`},
		{"wrong type", `{"dry_run":"yes"}`, handler.Request{}, "dry_run is a string: expected true or false"},
		{"check without keys", `{"action":"check"}`, handler.Request{}, `action "check" needs key_ids`},
		{"bad action", `{"action":"purge"}`, handler.Request{}, `action is "purge"`},
		{"string", `"{\"dry_run\":true}"`, handler.Request{}, "scheduled event detail is a string: expected an object"},
		{"array", `[]`, handler.Request{}, "scheduled event detail is an array: expected an object"},
		{"boolean", `true`, handler.Request{}, "scheduled event detail is a boolean: expected an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := events.Decode([]byte(event(tt.detail)))
			if tt.wantErr != "" {
				if !errors.Is(err, events.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %+v, %v; want an invalid-event error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("request mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTraceCode: a trace's code is read as an HTTP status; a failed call
// (400 and up) is ignored, a code that is no status is refused.
func TestTraceCode(t *testing.T) {
	const key = "0d0466b0-e727-4d9c-b35d-f84bb474a37f"
	trace := func(code string) []byte {
		return []byte(`{"cts":{"trace_name":"createKey","resource_type":"cmk","service_type":"KMS","resource_id":"` + key + `","code":` + code + `}}`)
	}
	tests := []struct {
		code    string
		mode    handler.Mode // "" when refused
		wantErr string
	}{
		{`200`, handler.ModeKeys, ""},
		{`"200"`, handler.ModeKeys, ""},
		{`200.0`, handler.ModeKeys, ""},
		{`" 204 "`, handler.ModeKeys, ""},
		{`null`, handler.ModeKeys, ""},
		{`""`, handler.ModeKeys, ""},
		{`404`, handler.ModeIgnore, ""},
		{`"500"`, handler.ModeIgnore, ""},
		{`404.0`, handler.ModeIgnore, ""},
		{`1e3`, "", "not an HTTP status"},
		{`400.5`, "", "not an HTTP status"},
		{`1e300`, "", "not an HTTP status"},
		{`18446744073709551616`, "", "not an HTTP status"},
		{`-1`, "", "not an HTTP status"},
		{`"abc"`, "", "not an HTTP status"},
		{`true`, "", "not an HTTP status"},
		{`{}`, "", "not an HTTP status"},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			req, err := events.Decode(trace(tt.code), events.KindCTS)
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, events.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %+v, %v; want an invalid event saying %q", req, err, tt.wantErr)
				}
				return
			}
			if err != nil || req.Mode != tt.mode {
				t.Errorf("got mode %q, %v; want mode %q", req.Mode, err, tt.mode)
			}
		})
	}
}
