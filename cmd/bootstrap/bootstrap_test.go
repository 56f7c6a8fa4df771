package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/adapters/functiongraph/runtimetest"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/handler"
)

// eventFixture reads one of the shared event fixtures.
func eventFixture(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../../adapters/events/testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// The key of the CTS createKey fixture.
const keyCreated = "0d0466b0-e727-4d9c-b35d-f84bb474a37f"

func TestUsage(t *testing.T) {
	var buf bytes.Buffer
	if code := run(func(string) string { return "" }, &buf); code != 2 {
		t.Errorf("got exit status %d, want 2", code)
	}
	for _, want := range []string{"RUNTIME_API_ADDR", "AWS_LAMBDA_RUNTIME_API", "go run ./cmd/tagwarden demo", "aws-lambda-rie", "127.0.0.1"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("usage does not mention %q:\n%s", want, buf.String())
		}
	}

	// The real binary, with nothing set.
	cmd := exec.Command(bootstrapBinary(t))
	cmd.Env = cleanEnv(nil)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "To run tagwarden locally") {
		t.Errorf("got %v and %q, want exit status 2 and the usage", err, out)
	}
}

// fgStep is one invocation of the FunctionGraph test and what to check.
type fgStep struct {
	name    string
	before  func(t *testing.T)
	payload string
	header  http.Header
	check   func(t *testing.T, res runtimetest.Result)
}

func header(pairs ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(pairs); i += 2 {
		h.Set(pairs[i], pairs[i+1])
	}
	return h
}

// TestFunctionGraph runs the real bootstrap against a runtime API server
// written from the documented contract; its KMS calls go to the emulator,
// which checks signatures made from the credentials in the headers.
func TestFunctionGraph(t *testing.T) {
	const ak, sk, token = "FGTEMPORARYAK0000001", "fg-temporary-secret-key-0000000000000001", "fg-security-token-0001"
	kms, kmsURL := newEmulator(t, ak, sk, token)
	api, err := runtimetest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	api.DropNext(2) // the first polls find a broken connection: retried, not fatal

	p := start(t, t.TempDir(), map[string]string{
		"RUNTIME_API_ADDR":       api.Addr(),
		"RUNTIME_TIMEOUT":        "60",
		"RUNTIME_PROJECT_ID":     emulator.DefaultProject,
		"TAGWARDEN_KMS_ENDPOINT": kmsURL,
		"TAGWARDEN_POLICIES":     testPolicies(t),
		"TAGWARDEN_CONCURRENCY":  "1", // keys in the order named: a check is cut where the test says
	}, bootstrapBinary(t))

	creds := header("X-CFF-Access-Key", ak, "X-CFF-Secret-Key", sk, "X-CFF-Security-Token", token, "X-CFF-Invoke-Type", "async")
	securityCreds := header("X-CFF-Security-Access-Key", ak, "X-CFF-Security-Secret-Key", sk, "X-CFF-Security-Token", token)
	wrongSecret := header("X-CFF-Access-Key", ak, "X-CFF-Secret-Key", "not-the-secret", "X-CFF-Security-Token", token)
	initial := snapshot(kms)
	unchanged := func(t *testing.T) {
		t.Helper()
		if diff := cmp.Diff(initial, snapshot(kms)); diff != "" {
			t.Errorf("the emulator's keys changed (-before +after):\n%s", diff)
		}
	}

	steps := []fgStep{
		{name: "timer with a dry-run user_event", payload: eventFixture(t, "timer-manual-dry-run.json"), header: creds,
			check: func(t *testing.T, res runtimetest.Result) {
				rep := asReport(t, res.Body)
				if rep.Mode != handler.ModeSweep || !rep.DryRun || rep.Planned != 2 || rep.Changed != 0 || rep.RequestID != res.RequestID {
					t.Errorf("got %+v, want a dry-run sweep planning 2 keys, with the request id", rep)
				}
				unchanged(t)
			}},
		{name: "malformed event", payload: `{"trigger_type":"TIMER","user_event":"{\"action\":\"sweep\",\"dryrun\":true}"}`, header: creds,
			check: func(t *testing.T, res runtimetest.Result) {
				e := asError(t, res.Body)
				if !res.Error || e.ErrorType != "InvalidEvent" || !strings.Contains(e.ErrorMessage, `unknown field(s) "dryrun": expected only action, key_ids, dry_run, continuation`) {
					t.Errorf("got %+v, want an InvalidEvent error naming the expected fields", e)
				}
				unchanged(t)
			}},
		{name: "not JSON", payload: "sweep now", header: creds,
			check: func(t *testing.T, res runtimetest.Result) {
				e := asError(t, res.Body)
				if e.ErrorType != "InvalidEvent" || !strings.Contains(e.ErrorMessage, "expected") || !strings.Contains(e.ErrorMessage, "TIMER") {
					t.Errorf("got %+v, want an InvalidEvent error naming the expected payloads", e)
				}
			}},
		{name: "cts createKey, security header family",
			before: func(t *testing.T) {
				kms.AddKey(emulator.DefaultProject, seedKey(keyCreated, "orders-db", nil))
			},
			payload: eventFixture(t, "cts-create-key.json"), header: securityCreds,
			check: func(t *testing.T, res runtimetest.Result) {
				rep := asReport(t, res.Body)
				if rep.Mode != handler.ModeKeys || rep.Trigger != "cts" || rep.Changed != 1 {
					t.Errorf("got %+v, want the created key changed", rep)
				}
				if got := tagsOf(t, kms, keyCreated); got["owner"] != "platform" {
					t.Errorf("got tags %v on the created key, want owner=platform", got)
				}
				if got := tagsOf(t, kms, keyUntagged); len(got) != 0 {
					t.Errorf("got tags %v on another key, want it untouched by a key event", got)
				}
			}},
		{name: "no agency", payload: eventFixture(t, "timer.json"),
			check: func(t *testing.T, res runtimetest.Result) {
				e := asError(t, res.Body)
				if e.ErrorType != "NoCredentials" || !strings.Contains(e.ErrorMessage, "agency") {
					t.Errorf("got %+v, want a NoCredentials error about the agency", e)
				}
			}},
		{name: "credentials the emulator refuses", payload: `{"action":"sweep","dry_run":true}`, header: wrongSecret,
			check: func(t *testing.T, res runtimetest.Result) {
				// The report is the response, not an error: its error and
				// error_kind say what failed.
				if res.Error {
					t.Errorf("got an error response %s, want the report", res.Body)
				}
				rep := asReport(t, res.Body)
				if rep.ErrorKind != handler.KindDenied || !strings.Contains(rep.Error, "access denied") || rep.Scanned != 0 || rep.RequestID != res.RequestID {
					t.Errorf("got %+v, want a denied report with the request id", rep)
				}
				if got := tagsOf(t, kms, keyUntagged); len(got) != 0 {
					t.Errorf("got tags %v, want nothing written with refused credentials", got)
				}
			}},
		{name: "check cut by denied access, resumed with its continuation",
			before: func(t *testing.T) {
				kms.SetFaults(emulator.Faults{FailKeys: map[string]int{keyNoOwner: 403}})
				t.Cleanup(func() { kms.SetFaults(emulator.Faults{}) })
			},
			payload: `{"action":"check","dry_run":true,"key_ids":["` + keyOwned + `","` + keyNoOwner + `","` + keyUntagged + `"]}`, header: creds,
			check: func(t *testing.T, res runtimetest.Result) {
				rep := asReport(t, res.Body)
				if res.Error || rep.Mode != handler.ModeKeys || rep.ErrorKind != handler.KindDenied || rep.Scanned != 1 || rep.Compliant != 1 || rep.Continuation == "" {
					t.Fatalf("got %+v, want a denied check with the first key decided and a continuation", rep)
				}
				kms.SetFaults(emulator.Faults{})
				before := snapshot(kms)
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				again, err := api.Invoke(ctx, runtimetest.Event{RequestID: "fg-req-resume", Header: creds,
					Payload: []byte(`{"action":"check","dry_run":true,"continuation":"` + rep.Continuation + `"}`)})
				if err != nil {
					t.Fatal(err)
				}
				next := asReport(t, again.Body)
				if again.Error || next.Mode != handler.ModeKeys || next.Error != "" || next.Continuation != "" || !next.DryRun || next.Scanned != 2 || next.Planned != 2 {
					t.Errorf("resumed: got %+v, want the other 2 keys planned and nothing left", next)
				}
				if diff := cmp.Diff(before, snapshot(kms)); diff != "" {
					t.Errorf("the resumed dry run changed keys (-before +after):\n%s", diff)
				}
			}},
		{name: "timer sweep", payload: eventFixture(t, "timer.json"), header: creds,
			check: func(t *testing.T, res runtimetest.Result) {
				rep := asReport(t, res.Body)
				if rep.Mode != handler.ModeSweep || rep.DryRun || rep.Changed != 2 || rep.Scanned < 4 {
					t.Errorf("got %+v, want a sweep changing 2 keys", rep)
				}
				want := map[string]map[string]string{
					keyOwned:    {"owner": "team-a"},
					keyNoOwner:  {"env": "dev", "owner": "platform"},
					keyUntagged: {"owner": "platform"},
					keyDefault:  {},
					keyCreated:  {"owner": "platform"},
				}
				if diff := cmp.Diff(want, snapshot(kms)); diff != "" {
					t.Errorf("final emulator state mismatch (-want +got):\n%s", diff)
				}
			}},
		{name: "trace of another service needs no credentials", payload: eventFixture(t, "cts-other-service.json"),
			check: func(t *testing.T, res runtimetest.Result) {
				rep := asReport(t, res.Body)
				if rep.Mode != handler.ModeIgnore || !strings.Contains(rep.Reason, "not KMS") {
					t.Errorf("got %+v, want an ignore report with its reason", rep)
				}
			}},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.before != nil {
				st.before(t)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			res, err := api.Invoke(ctx, runtimetest.Event{
				RequestID: "fg-req-" + string(rune('a'+i)), Payload: []byte(st.payload), Header: st.header,
			})
			if err != nil {
				t.Fatal(err)
			}
			st.check(t, res)
		})
	}
	if got, want := api.Polls(), 2+len(steps); got < want {
		t.Errorf("got %d polls of the runtime API, want at least %d", got, want)
	}
	if err := p.stop(); err != nil {
		t.Errorf("bootstrap exited with %v after SIGTERM, want status 0", err)
	}
	logs := p.out.String()
	if strings.Contains(logs, sk) || strings.Contains(logs, token) {
		t.Error("a secret from the invocation headers reached the log")
	}
	if n := strings.Count(logs, `"policies loaded"`); n != 1 {
		t.Errorf("got %d \"policies loaded\" log entries over %d invocations, want 1 (once per instance)", n, len(steps))
	}
}

// TestLambda runs the real bootstrap under the pinned Lambda runtime
// interface emulator, with a clean environment: credentials come from the
// SDK's chain (HUAWEICLOUD_SDK_*).
func TestLambda(t *testing.T) {
	kms, kmsURL := newEmulator(t, emulator.DefaultAK, emulator.DefaultSK, "")
	r := startRIE(t, bootstrapBinary(t), t.TempDir(), map[string]string{
		"HUAWEICLOUD_SDK_AK":         emulator.DefaultAK,
		"HUAWEICLOUD_SDK_SK":         emulator.DefaultSK,
		"HUAWEICLOUD_SDK_PROJECT_ID": emulator.DefaultProject,
		"TAGWARDEN_KMS_ENDPOINT":     kmsURL,
		"TAGWARDEN_POLICIES":         testPolicies(t),
	})
	initial := snapshot(kms)

	t.Run("manual dry run changes nothing", func(t *testing.T) {
		rep := asReport(t, r.invoke(t, `{"action":"sweep","dry_run":true}`))
		if !rep.DryRun || rep.Planned != 2 || rep.Changed != 0 || rep.Trigger != "manual" || rep.RequestID == "" {
			t.Errorf("got %+v, want a dry run planning 2 keys, with a request id", rep)
		}
		if diff := cmp.Diff(initial, snapshot(kms)); diff != "" {
			t.Errorf("the emulator's keys changed (-before +after):\n%s", diff)
		}
	})
	t.Run("malformed payload gets an error body", func(t *testing.T) {
		e := asError(t, r.invoke(t, `this is not JSON`))
		if e.ErrorType != "InvalidEvent" || !strings.Contains(e.ErrorMessage, "not JSON") || !strings.Contains(e.ErrorMessage, "Scheduled Event") {
			t.Errorf("got %+v, want an InvalidEvent error naming the expected payloads", e)
		}
	})
	t.Run("unknown manual field", func(t *testing.T) {
		e := asError(t, r.invoke(t, `{"action":"sweep","dryrun":true}`))
		if e.ErrorType != "InvalidEvent" || !strings.Contains(e.ErrorMessage, `unknown field(s) "dryrun"`) {
			t.Errorf("got %+v, want an InvalidEvent error naming the field", e)
		}
		if diff := cmp.Diff(initial, snapshot(kms)); diff != "" {
			t.Errorf("the emulator's keys changed (-before +after):\n%s", diff)
		}
	})
	t.Run("scheduled event with a dry-run detail changes nothing", func(t *testing.T) {
		rep := asReport(t, r.invoke(t, eventFixture(t, "scheduled-event-dry-run.json")))
		if rep.Trigger != "schedule" || !rep.DryRun || rep.Planned != 2 || rep.Changed != 0 {
			t.Errorf("got %+v, want a dry run from the schedule planning 2 keys", rep)
		}
		if diff := cmp.Diff(initial, snapshot(kms)); diff != "" {
			t.Errorf("the emulator's keys changed (-before +after):\n%s", diff)
		}
	})
	t.Run("scheduled event with an unknown detail field is refused", func(t *testing.T) {
		e := asError(t, r.invoke(t, eventFixture(t, "bad-scheduled-detail-unknown-field.json")))
		if e.ErrorType != "InvalidEvent" || !strings.Contains(e.ErrorMessage, `scheduled event detail: invalid event: manual payload: unknown field(s) "dryrun"`) {
			t.Errorf("got %+v, want an InvalidEvent error naming the detail's field", e)
		}
		if diff := cmp.Diff(initial, snapshot(kms)); diff != "" {
			t.Errorf("the emulator's keys changed (-before +after):\n%s", diff)
		}
	})
	t.Run("refused continuation of a check is a report", func(t *testing.T) {
		rep := asReport(t, r.invoke(t, `{"action":"check","continuation":"not-a-token"}`))
		if rep.Mode != handler.ModeKeys || rep.ErrorKind != handler.KindInvalidContinuation || !strings.Contains(rep.Error, "invalid continuation") || rep.Scanned != 0 {
			t.Errorf("got %+v, want a keys report refusing the continuation", rep)
		}
	})
	t.Run("too deeply nested", func(t *testing.T) {
		e := asError(t, r.invoke(t, strings.Repeat("[", 100_000)+strings.Repeat("]", 100_000)))
		if e.ErrorType != "InvalidEvent" || !strings.Contains(e.ErrorMessage, "too deeply nested: more than 1000 levels") {
			t.Errorf("got %+v, want an InvalidEvent error saying the payload is too deeply nested", e)
		}
	})
	t.Run("scheduled event sweeps", func(t *testing.T) {
		rep := asReport(t, r.invoke(t, eventFixture(t, "scheduled-event.json")))
		if rep.Trigger != "schedule" || rep.DryRun || rep.Changed != 2 {
			t.Errorf("got %+v, want a sweep changing 2 keys", rep)
		}
		want := map[string]map[string]string{
			keyOwned:    {"owner": "team-a"},
			keyNoOwner:  {"env": "dev", "owner": "platform"},
			keyUntagged: {"owner": "platform"},
			keyDefault:  {},
		}
		if diff := cmp.Diff(want, snapshot(kms)); diff != "" {
			t.Errorf("final emulator state mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("manual check", func(t *testing.T) {
		rep := asReport(t, r.invoke(t, `{"action":"check","key_ids":["`+keyOwned+`","`+keyUntagged+`"]}`))
		if rep.Mode != handler.ModeKeys || rep.Scanned != 2 || rep.Compliant != 2 {
			t.Errorf("got %+v, want 2 compliant keys", rep)
		}
	})
	if n := strings.Count(r.Output(), `"policies loaded"`); n != 1 {
		t.Errorf("got %d \"policies loaded\" log entries, want 1 (once per instance)", n)
	}
}

// TestDeadline: on both platforms the handler's deadline is the platform's
// (Lambda: the invocation context; FunctionGraph: the event's arrival plus
// RUNTIME_TIMEOUT), minus TAGWARDEN_DEADLINE_MARGIN. A 5 s function with the
// default 10 s margin has no time to work and says so, writing nothing; a
// 60 s function with a 1 s margin runs the same sweep. Neither depends on
// the machine's speed: the first has no time on any machine, the second a
// minute for a few keys.
func TestDeadline(t *testing.T) {
	tests := []struct {
		name    string
		timeout int    // the function's timeout, seconds
		margin  string // "" = the default 10s
		ok      bool
	}{
		{"margin above the timeout", 5, "", false},
		{"margin below the timeout", 60, "1s", true},
	}
	check := func(t *testing.T, kms *emulator.Server, body []byte, ok bool) {
		t.Helper()
		rep := asReport(t, body)
		if ok {
			if rep.Changed != 2 || rep.Error != "" {
				t.Errorf("got %+v, want the sweep to change 2 keys", rep)
			}
			return
		}
		// The report is the answer, with the error and its kind.
		if rep.ErrorKind != handler.KindNoTime || !strings.Contains(rep.Error, "no time to work") || !strings.Contains(rep.Error, "10s") || rep.Scanned != 0 {
			t.Errorf("got %+v, want a report of no time before the 10s margin", rep)
		}
		if w := kms.Stats().Writes; w != 0 {
			t.Errorf("got %d tag writes, want none", w)
		}
	}
	for _, tt := range tests {
		env := func(extra map[string]string) map[string]string {
			if tt.margin != "" {
				extra["TAGWARDEN_DEADLINE_MARGIN"] = tt.margin
			}
			extra["TAGWARDEN_POLICIES"] = testPolicies(t)
			return extra
		}
		t.Run("lambda/"+tt.name, func(t *testing.T) {
			kms, kmsURL := newEmulator(t, emulator.DefaultAK, emulator.DefaultSK, "")
			r := startRIETimeout(t, bootstrapBinary(t), t.TempDir(), env(map[string]string{
				"HUAWEICLOUD_SDK_AK":         emulator.DefaultAK,
				"HUAWEICLOUD_SDK_SK":         emulator.DefaultSK,
				"HUAWEICLOUD_SDK_PROJECT_ID": emulator.DefaultProject,
				"TAGWARDEN_KMS_ENDPOINT":     kmsURL,
			}), time.Duration(tt.timeout)*time.Second)
			check(t, kms, r.invoke(t, `{"action":"sweep"}`), tt.ok)
		})
		t.Run("functiongraph/"+tt.name, func(t *testing.T) {
			const ak, sk = "FGDEADLINEAK00000001", "fg-deadline-secret-key-00000000000000001"
			kms, kmsURL := newEmulator(t, ak, sk, "")
			api, err := runtimetest.New()
			if err != nil {
				t.Fatal(err)
			}
			defer api.Close()
			start(t, t.TempDir(), env(map[string]string{
				"RUNTIME_API_ADDR":       api.Addr(),
				"RUNTIME_TIMEOUT":        strconv.Itoa(tt.timeout),
				"RUNTIME_PROJECT_ID":     emulator.DefaultProject,
				"TAGWARDEN_KMS_ENDPOINT": kmsURL,
			}), bootstrapBinary(t))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := api.Invoke(ctx, runtimetest.Event{RequestID: "deadline-1", Payload: []byte(`{"action":"sweep"}`),
				Header: header("X-CFF-Access-Key", ak, "X-CFF-Secret-Key", sk)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Error {
				t.Errorf("got an error response %s, want the report", res.Body)
			}
			check(t, kms, res.Body, tt.ok)
		})
	}
}
