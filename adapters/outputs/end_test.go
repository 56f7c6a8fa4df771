package outputs_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweismn/smnemu"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// published returns the messages published since before.
func (e *env) published(before int) []smnemu.Published {
	return e.svc.SMN.Published()[before:]
}

// output returns rep's output of what (the last one).
func output(rep handler.Report, what string) (handler.OutputReport, bool) {
	for i := len(rep.Outputs) - 1; i >= 0; i-- {
		if rep.Outputs[i].What == what {
			return rep.Outputs[i], true
		}
	}
	return handler.OutputReport{}, false
}

// TestIncompleteSweep: a sweep that did not decide every key neither
// replaces the state (the findings it did not see are not forgotten, and
// do not come back as new) nor sends its partial counts as metrics; its
// error goes out in a notification although every finding it saw was
// notified already.
func TestIncompleteSweep(t *testing.T) {
	e := newEnv(t, outputs.Options{})
	ctx := context.Background()
	a := violating("ka", "a", "environment", "env", "")
	b := violating("kb", "b", "environment", "env", "")
	first := sweepReport("r1", a, b)
	e.rec.End(ctx, e.c, &first)
	if bad := failedOutputs(first); len(bad) > 0 {
		t.Fatalf("r1: %+v", bad)
	}
	points := len(e.svc.CES.Points())

	e.now = e.now.Add(time.Hour)
	before := len(e.svc.SMN.Published())
	cut := sweepReport("r2", a)
	cut.Error, cut.ErrorKind = "list keys: KMS.0205: the service is busy", handler.KindListing
	cut.Chain = &handler.ChainReport{State: handler.ChainFailed}
	e.rec.End(ctx, e.c, &cut)
	if bad := failedOutputs(cut); len(bad) > 0 {
		t.Fatalf("r2: %+v", bad)
	}
	if got := len(e.svc.CES.Points()); got != points {
		t.Errorf("an incomplete sweep sent %d metric points, want none", got-points)
	}
	if m, _ := output(cut, "metrics"); !m.Skipped || !strings.Contains(m.Reason, "partial") {
		t.Errorf("metrics output %+v, want skipped: the counts are partial", m)
	}
	pub := e.published(before)
	if len(pub) != 1 || !strings.Contains(pub[0].Subject, "error") || !strings.Contains(pub[0].Message, "KMS.0205") {
		t.Fatalf("r2: messages %+v, want one that says the sweep failed", pub)
	}
	if strings.Contains(pub[0].Message, "(ka)") {
		t.Errorf("r2 listed ka, notified an hour ago:\n%s", pub[0].Message)
	}

	// The next complete sweep still knows kb: not new, not due.
	e.now = e.now.Add(time.Hour)
	before = len(e.svc.SMN.Published())
	third := sweepReport("r3", a, b)
	e.rec.End(ctx, e.c, &third)
	if pub := e.published(before); len(pub) != 0 {
		t.Errorf("r3: %d messages, want none (kb was kept by the incomplete sweep): %q", len(pub), pub[0].Message)
	}
	if got := len(e.svc.CES.Points()); got == points {
		t.Errorf("a complete sweep sent no metrics")
	}
}

// TestMissingLinkReport: a run whose earlier link report cannot be read
// says so in its notification and summary, and keeps the findings of the
// previous state it could not check.
func TestMissingLinkReport(t *testing.T) {
	e := newEnv(t, outputs.Options{})
	ctx := context.Background()
	old := violating("k-old", "old", "environment", "env", "")
	first := sweepReport("r1", old)
	e.rec.End(ctx, e.c, &first)

	e.now = e.now.Add(time.Hour)
	before := len(e.svc.SMN.Published())
	l1 := sweepReport("r2", violating("k1", "one", "environment", "env", ""))
	l1.Chain = &handler.ChainReport{State: handler.ChainContinued}
	e.rec.Link(ctx, e.c, &l1)
	// Link 2's report was never stored (its invocation was cut).
	l3 := sweepReport("r2", violating("k3", "three", "environment", "env", ""))
	l3.Link = 3
	e.rec.End(ctx, e.c, &l3)
	pub := e.published(before)
	if len(pub) != 1 {
		t.Fatalf("%d messages, want 1", len(pub))
	}
	if !strings.Contains(pub[0].Message, "1 earlier reports of the run could not be read") || !strings.Contains(pub[0].Subject, "error") {
		t.Errorf("the message does not say a link's report is missing:\nsubject %s\n%s", pub[0].Subject, pub[0].Message)
	}
	var ss outputs.StoredSummary
	decodeJSON(t, e.object(t, e.layer.Summary(target, "r2")), &ss)
	if len(ss.Missing) != 1 || !strings.Contains(ss.Error, "could not be read") {
		t.Errorf("summary missing %v, error %q", ss.Missing, ss.Error)
	}
	// k-old may be among the keys of the unread link: the next sweep does
	// not take it for new.
	e.now = e.now.Add(time.Hour)
	before = len(e.svc.SMN.Published())
	next := sweepReport("r3", old, violating("k1", "one", "environment", "env", ""), violating("k3", "three", "environment", "env", ""))
	e.rec.End(ctx, e.c, &next)
	if pub := e.published(before); len(pub) != 0 {
		t.Errorf("r3: messages %q, want none: every finding was known and notified", pub[0].Message)
	}
}

// TestUnreadableState: when the previous state cannot be read, no finding
// is called new, every finding is due, and a run that did not see every
// key leaves the state and pointer as they were; the next complete sweep
// writes a fresh state.
func TestUnreadableState(t *testing.T) {
	e := newEnv(t, outputs.Options{})
	ctx := context.Background()
	a := violating("ka", "a", "environment", "env", "")
	first := sweepReport("r1", a)
	e.rec.End(ctx, e.c, &first)
	stateKey := e.layer.State(target, "r1")
	if err := e.svc.OBS.SetObject(e.svc.Bucket, stateKey, []byte("not a state"), "application/json", ""); err != nil {
		t.Fatal(err)
	}
	latestBefore := string(e.object(t, e.layer.Latest(target)))

	e.now = e.now.Add(time.Hour)
	before := len(e.svc.SMN.Published())
	ev := sweepReport("e1", violating("kc", "c", "environment", "env", ""))
	ev.Mode, ev.Run, ev.Link, ev.Chain = handler.ModeKeys, "", 0, nil
	e.rec.End(ctx, e.c, &ev)
	pub := e.published(before)
	if len(pub) != 1 || !strings.Contains(pub[0].Message, "(kc)") {
		t.Fatalf("e1: messages %+v, want one naming kc", pub)
	}
	if strings.Contains(pub[0].Message, "NEW") || strings.Contains(pub[0].Subject, "new") {
		t.Errorf("a finding was called new against a state that could not be read:\n%s\n%s", pub[0].Subject, pub[0].Message)
	}
	if so, _ := output(ev, "state"); !so.Skipped {
		t.Errorf("state output %+v, want skipped", so)
	}
	if got := string(e.object(t, e.layer.Latest(target))); got != latestBefore {
		t.Errorf("the latest pointer moved to a state merged into one not read:\n%s", got)
	}

	e.now = e.now.Add(time.Hour)
	sweep := sweepReport("r2", a)
	e.rec.End(ctx, e.c, &sweep)
	if so, _ := output(sweep, "state"); !so.OK || so.Skipped {
		t.Fatalf("a complete sweep did not store its state: %+v", so)
	}
	e.now = e.now.Add(time.Hour)
	before = len(e.svc.SMN.Published())
	again := sweepReport("r3", a)
	e.rec.End(ctx, e.c, &again)
	if pub := e.published(before); len(pub) != 0 {
		t.Errorf("r3: ka notified again an hour after r2: %q", pub[0].Message)
	}
}

// TestSlowOutputLeavesTime: a notification service that does not answer
// takes at most its share of the time left: the stored parts after it
// are still written before the deadline.
func TestSlowOutputLeavesTime(t *testing.T) {
	e := newEnv(t, outputs.Options{})
	e.svc.SMN.SetFaults(smnemu.Faults{Latency: time.Minute})
	rep := e.endWithin(t, "slow-smn", 6*time.Second)
	n := notification(rep)
	if n.OK || n.Attempts < 2 {
		t.Errorf("notification %+v: want failed after a retry", n)
	}
	for _, what := range []string{"page", "state", "summary", "latest", "report", "metrics"} {
		if o, ok := output(rep, what); !ok || !o.OK {
			t.Errorf("%s: %+v, want stored after the slow notification", what, o)
		}
	}
}

// TestFindingTexts: texts from tags reach the message bounded, with no
// control that reorders what a reader sees.
func TestFindingTexts(t *testing.T) {
	kr := violating("k1", "a\u202Eevil\u2066\u200F\uFEFF", "environment", "env", strings.Repeat("o", 5000))
	kr.Violations[0].Message = strings.Repeat("x", 10000)
	fs := outputs.FindingsOf(target, kr, false)
	if len(fs) != 1 {
		t.Fatalf("%d findings", len(fs))
	}
	f := fs[0]
	if strings.ContainsAny(f.Alias, "\u202E\u2066\u200F\uFEFF") {
		t.Errorf("alias %q keeps a bidirectional control", f.Alias)
	}
	for name, s := range map[string]string{"problem": f.Problem, "owner": f.Owner} {
		if len(s) > 1024 || !strings.HasSuffix(s, "…") {
			t.Errorf("%s: %d bytes, want cut to 1024 with …", name, len(s))
		}
	}
	if again := outputs.FindingsOf(target, kr, false)[0]; again.ID != f.ID {
		t.Errorf("the finding's id is not stable: %s, %s", f.ID, again.ID)
	}
}

func decodeJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

// TestPolicyDimensions: policy names that map to one Cloud Eye dimension
// value stay two series; a valid name passes unchanged.
func TestPolicyDimensions(t *testing.T) {
	sum := outputs.Summary{Target: target, Mode: handler.ModeSweep, Policies: []outputs.PolicyCount{
		{Policy: "audit.v2", Violating: 1}, {Policy: "audit_v2", Violating: 2}, {Policy: "owner-tag", Violating: 3},
		{Policy: strings.Repeat("p.", 200), Violating: 4},
	}}
	seen := map[string]float64{}
	for _, p := range outputs.Points(sum) {
		if p.Metric != outputs.MetricPolicyViolating {
			continue
		}
		for _, d := range p.Dimensions {
			if d.Name != outputs.DimPolicy {
				continue
			}
			if len(d.Value) > 256 {
				t.Errorf("dimension value of %d characters", len(d.Value))
			}
			if _, dup := seen[d.Value]; dup {
				t.Errorf("two policies share the dimension value %q", d.Value)
			}
			seen[d.Value] = p.Value
		}
	}
	if len(seen) != 4 || seen["owner-tag"] != 3 || seen["audit_v2"] != 2 {
		t.Errorf("policy dimensions %v", seen)
	}
}

// TestEachKeyBounded: a stored report that decompresses past the bounds,
// as a whole or in one value, is an error, not the memory it would take.
func TestEachKeyBounded(t *testing.T) {
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write([]byte(`{"keys":[{"key_id":"`))
	chunk := bytes.Repeat([]byte("a"), 1<<20)
	for range (outputs.MaxEntryBytes >> 20) + 2 {
		zw.Write(chunk)
	}
	zw.Write([]byte(`"}]}`))
	zw.Close()
	err := outputs.EachKey(bytes.NewReader(zipped.Bytes()), nil, func(handler.KeyReport) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a key entry of %d MiB: error %v, want one naming the bound", outputs.MaxEntryBytes>>20+2, err)
	}
	n := 0
	err = outputs.EachKey(strings.NewReader(`{"run":"r","keys":[{"key_id":"a"},{"key_id":"b"}]}`), nil, func(handler.KeyReport) error { n++; return nil })
	if err != nil || n != 2 {
		t.Errorf("a small report: %d keys, error %v", n, err)
	}
}

// TestCutMessageKeepsKeysWhole: when the message is cut, a key with
// several findings is listed with all of them or counted under "more",
// never both: the keys add up to the run's.
func TestCutMessageKeepsKeysWhole(t *testing.T) {
	e := newEnv(t, outputs.Options{MessageLimit: 20000})
	keys := make([]handler.KeyReport, 600)
	for i := range keys {
		k := violating(fmt.Sprintf("%08d-0000-4000-8000-000000000000", i), fmt.Sprintf("service-%05d", i), "environment", "env", "")
		k.Violations = append(k.Violations, policy.Violation{Policy: "exemption", Rule: "reason", Tag: "exempt-reason",
			Message: strings.Repeat("exempt-reason is missing ", 3)})
		keys[i] = k
	}
	rep := sweepReport("split", keys...)
	e.rec.End(context.Background(), e.c, &rep)
	pub := e.svc.SMN.Published()
	if len(pub) != 1 {
		t.Fatalf("%d messages", len(pub))
	}
	m := pub[0]
	if !strings.Contains(m.Subject, "600 keys need a person") {
		t.Errorf("subject %q, want 600 keys", m.Subject)
	}
	listed := strings.Count(m.Message, "\nservice-")
	var more, moreFindings int
	i := strings.Index(m.Message, "… and ")
	if i < 0 {
		t.Fatalf("the message was not cut:\n%s", m.Message)
	}
	fmt.Sscanf(m.Message[i:], "… and %d more keys (%d findings)", &more, &moreFindings)
	if listed+more != 600 || moreFindings != 2*more {
		t.Errorf("%d keys listed and %d more (%d findings): want 600 keys, 2 findings each", listed, more, moreFindings)
	}
	if lines := strings.Count(m.Message, "- NEW ["); lines != 2*listed {
		t.Errorf("%d finding lines for %d keys listed: a key was listed in part", lines, listed)
	}
}

// TestTamperedPointer: a latest pointer or state that is not what the
// target's runs write makes the previous state unknown (no finding new,
// every finding due), and a time to come in a state does not silence a
// finding.
func TestTamperedPointer(t *testing.T) {
	a := violating("ka", "a", "environment", "env", "")
	id := outputs.FindingsOf(target, a, false)[0].ID
	for _, tc := range []struct {
		name    string
		pointer func(e *env) string
		state   string // written at run r1's state key when not empty
	}{
		{"empty state", func(*env) string { return `{"target":"` + target + `","run":"r1","state":""}` }, ""},
		{"null", func(*env) string { return `null` }, ""},
		{"not a state", func(e *env) string {
			return `{"target":"` + target + `","run":"r1","state":"` + e.layer.Latest(target) + `"}`
		}, ""},
		{"another target's", func(e *env) string {
			return `{"target":"cn-north-4/other","run":"r1","state":"` + e.layer.State("cn-north-4/other", "r1") + `"}`
		}, ""},
		{"elsewhere in the bucket", func(e *env) string {
			return `{"target":"` + target + `","run":"r1","state":"tagwarden/evil/state.json.gz"}`
		}, ""},
		{"notified in 2100", func(e *env) string {
			return `{"target":"` + target + `","run":"r1","state":"` + e.layer.State(target, "r1") + `"}`
		}, `{"run":"r1","findings":{"` + id + `":{"f":1,"n":4102444800}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, outputs.Options{})
			ctx := context.Background()
			first := sweepReport("r1", a)
			e.rec.End(ctx, e.c, &first) // notified now
			for _, key := range []string{e.layer.State("cn-north-4/other", "r1"), "tagwarden/evil/state.json.gz"} {
				// Objects a forged pointer might name: a state that silences ka.
				e.svc.OBS.SetObject(e.svc.Bucket, key, []byte(`{"run":"r1","findings":{"`+id+`":{"f":1,"n":4102444800}}}`), "application/json", "")
			}
			if tc.state != "" {
				e.svc.OBS.SetObject(e.svc.Bucket, e.layer.State(target, "r1"), []byte(tc.state), "application/json", "")
			}
			e.svc.OBS.SetObject(e.svc.Bucket, e.layer.Latest(target), []byte(tc.pointer(e)), "application/json", "")
			e.now = e.now.Add(time.Hour)
			before := len(e.svc.SMN.Published())
			rep := sweepReport("r2", a)
			e.rec.End(ctx, e.c, &rep)
			pub := e.published(before)
			if len(pub) != 1 || !strings.Contains(pub[0].Message, "(ka)") {
				t.Fatalf("messages %+v, want one naming ka (its previous notification is not known)", pub)
			}
			if strings.Contains(pub[0].Subject, "new") {
				t.Errorf("subject %q: a finding called new against a state that is not known", pub[0].Subject)
			}
		})
	}
}

// TestLateRun: a sweep that started before the run the pointer names and
// ends after it (its last link held by the platform) merges its findings
// into the newer state rather than replacing it, and leaves the pointer's
// last sweep the newer one.
func TestLateRun(t *testing.T) {
	e := newEnv(t, outputs.Options{})
	ctx := context.Background()
	a := violating("ka", "a", "environment", "env", "")
	b := violating("kb", "b", "environment", "env", "")
	start := e.now
	old := sweepReport("old", a) // started first, ends last
	old.Started = start
	e.now = start.Add(time.Minute)
	newer := sweepReport("newer", a, b)
	newer.Started = e.now
	e.rec.End(ctx, e.c, &newer)
	e.now = e.now.Add(time.Minute)
	before := len(e.svc.SMN.Published())
	e.rec.End(ctx, e.c, &old)
	if pub := e.published(before); len(pub) != 0 {
		t.Errorf("the late run notified %q, want nothing: its findings were notified by the newer run", pub[0].Subject)
	}
	if m, _ := output(old, "metrics"); !m.Skipped {
		t.Errorf("the late run's metrics %+v, want skipped (older counts after the newer run's)", m)
	}
	var latest outputs.Latest
	decodeJSON(t, e.object(t, e.layer.Latest(target)), &latest)
	if latest.Sweep == nil || latest.Sweep.Run != "newer" || !latest.Started.Equal(newer.Started) {
		t.Errorf("pointer %+v: want the newer run's sweep and start kept", latest)
	}
	e.now = e.now.Add(time.Hour)
	before = len(e.svc.SMN.Published())
	next := sweepReport("next", a, b)
	next.Started = e.now
	e.rec.End(ctx, e.c, &next)
	if pub := e.published(before); len(pub) != 0 {
		t.Errorf("the next run notified %q: the late run made the state forget kb", pub[0].Subject)
	}
}

// groupRun stores the fan-out report of run over targets t1 and t2 and
// returns the clients with the group on, and a sweep report of each.
func groupRun(t *testing.T, e *env, run string) (outputs.Clients, func(tgt string, keys ...handler.KeyReport) handler.Report) {
	t.Helper()
	c := e.c
	c.Group = true
	fan := handler.Report{Mode: handler.ModeFanout, Run: run, Trigger: "timer", Started: e.now, Finished: e.now,
		Targets: []handler.TargetReport{{Target: target, Dispatched: true}, {Target: "cn-north-4/p2", Dispatched: true}}}
	e.rec.Link(context.Background(), c, &fan)
	if bad := failedOutputs(fan); len(bad) > 0 {
		t.Fatalf("fan-out report: %+v", bad)
	}
	return c, func(tgt string, keys ...handler.KeyReport) handler.Report {
		rep := sweepReport(run, keys...)
		rep.Target, rep.Trigger = tgt, handler.TriggerManual // as the fan-out dispatched it
		return rep
	}
}

// TestGroupEndRetried: the first delivery of a target's last link stored
// its end but did not reach the run's message (cut short); the platform's
// retry finds its end stored, overwrites nothing, and sends the run's one
// message, unless another end is sending it.
func TestGroupEndRetried(t *testing.T) {
	for _, sending := range []bool{false, true} {
		t.Run(fmt.Sprint("sending=", sending), func(t *testing.T) {
			e := newEnv(t, outputs.Options{})
			ctx := context.Background()
			c, sweep := groupRun(t, e, "g1")
			first := sweep(target, violating("k1", "one", "environment", "env", ""))
			e.rec.End(ctx, c, &first)
			other := sweep("cn-north-4/p2", violating("k2", "two", "environment", "env", ""))
			cut := c
			// The first delivery's end stops at its done marker (the
			// instance was stopped there): the marker and its own report
			// are not written.
			cut.Store = failPut{Store: c.Store, parts: []string{"/done/", "/link-"}}
			e.rec.End(ctx, cut, &other)
			if len(e.svc.SMN.Published()) != 0 {
				t.Fatal("a message went out before the retry")
			}
			summary := string(e.object(t, e.layer.Summary("cn-north-4/p2", "g1")))
			if sending {
				e.svc.OBS.SetObject(e.svc.Bucket, e.layer.FanoutNotified("g1"), []byte(`{"target":"x","at":"0001-01-01T00:00:00Z","sending":"2026-01-01T00:00:00Z"}`), "application/json", "")
			}
			retry := sweep("cn-north-4/p2") // the retry: the keys were fixed or known, nothing left
			e.rec.End(ctx, c, &retry)
			pub := e.svc.SMN.Published()
			switch {
			case sending && len(pub) != 0:
				t.Errorf("%d messages although another end is sending the run's", len(pub))
			case !sending && (len(pub) != 1 || !strings.Contains(pub[0].Message, "(k1)") || !strings.Contains(pub[0].Message, "(k2)")):
				t.Errorf("messages %+v, want the run's one, naming k1 and k2", pub)
			case !sending && !strings.Contains(pub[0].Message, "\nTrigger:   timer (sweep)\n"):
				t.Errorf("the run's message does not give the fan-out's trigger:\n%s", pub[0].Message)
			}
			if got := string(e.object(t, e.layer.Summary("cn-north-4/p2", "g1"))); got != summary {
				t.Errorf("the retry overwrote the target's summary")
			}
			// The run's last report, which the first delivery did not
			// store, is the retry's.
			var stored handler.Report
			decodeJSON(t, e.object(t, e.layer.Link("cn-north-4/p2", "g1", 1)), &stored)
			if stored.Target != "cn-north-4/p2" || stored.Run != "g1" {
				t.Errorf("the run's last report was not stored by the retry: %+v", stored)
			}
		})
	}
}

// TestChainsThatDoNotAddUp: link reports that do not add up to the totals
// the chain carried (two instances served a link, and their reports
// overwrote each other) make the run inexact: said in the message, no
// state replaced, no metrics.
func TestChainsThatDoNotAddUp(t *testing.T) {
	e := newEnv(t, outputs.Options{})
	ctx := context.Background()
	known := violating("k-known", "known", "environment", "env", "")
	first := sweepReport("r1", known)
	e.rec.End(ctx, e.c, &first)
	points := len(e.svc.CES.Points())

	e.now = e.now.Add(time.Hour)
	l1 := sweepReport("r2", violating("k1", "one", "environment", "env", ""))
	l1.Scanned, l1.Totals = 781, &handler.Counts{Scanned: 781}
	l1.Chain = &handler.ChainReport{State: handler.ChainContinued}
	e.rec.Link(ctx, e.c, &l1)
	l2 := sweepReport("r2")
	l2.Link, l2.Scanned, l2.Totals = 2, 1209, &handler.Counts{Scanned: 2000} // 791 + 1209: the other chain's first link
	before := len(e.svc.SMN.Published())
	e.rec.End(ctx, e.c, &l2)
	pub := e.published(before)
	if len(pub) != 1 || !strings.Contains(pub[0].Message, "do not add up") || !strings.Contains(pub[0].Subject, "incomplete") {
		t.Fatalf("messages %+v, want one saying the run's reports do not add up", pub)
	}
	if got := len(e.svc.CES.Points()); got != points {
		t.Errorf("an inexact run sent %d metric points", got-points)
	}
	e.now = e.now.Add(time.Hour)
	before = len(e.svc.SMN.Published())
	next := sweepReport("r3", known, violating("k1", "one", "environment", "env", ""))
	e.rec.End(ctx, e.c, &next)
	if pub := e.published(before); len(pub) != 0 {
		t.Errorf("r3 notified %q: the inexact run replaced the state", pub[0].Subject)
	}
}

// failPut is a store whose PUTs of keys containing one of parts fail as
// denied.
type failPut struct {
	outputs.Store
	parts []string
}

func (f failPut) Put(ctx context.Context, key string, body io.ReadSeeker, size int64, o outputs.PutOptions) error {
	if slices.ContainsFunc(f.parts, func(p string) bool { return strings.Contains(key, p) }) {
		return &outputs.Error{Service: "obs", Op: "put_object", Status: 403, Code: "AccessDenied", Kind: outputs.ErrDenied}
	}
	return f.Store.Put(ctx, key, body, size, o)
}

// failGet is a store whose GETs of keys containing part fail as
// unavailable.
type failGet struct {
	outputs.Store
	part string
}

func (f failGet) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if strings.Contains(key, f.part) {
		return nil, &outputs.Error{Service: "obs", Op: "get_object", Status: 503, Code: "ServiceUnavailable", Kind: outputs.ErrTransient}
	}
	return f.Store.Get(ctx, key)
}

// TestNeverToldIsNew: a finding whose first message failed is still new
// in the next run's message (no one was told), and a run without
// notifications calls new only what the previous state did not have.
func TestNeverToldIsNew(t *testing.T) {
	e := newEnv(t, outputs.Options{MaxAttempts: 1})
	ctx := context.Background()
	a := violating("ka", "a", "environment", "env", "")
	e.svc.SMN.SetFaults(smnFaults500(1))
	first := sweepReport("r1", a)
	e.rec.End(ctx, e.c, &first)
	if n := notification(first); n.OK {
		t.Fatalf("the first message did not fail: %+v", n)
	}
	e.now = e.now.Add(time.Hour)
	second := sweepReport("r2", a)
	e.rec.End(ctx, e.c, &second)
	pub := e.svc.SMN.Published()
	if len(pub) != 1 || !strings.Contains(pub[0].Subject, "(1 new)") || !strings.Contains(pub[0].Message, "- NEW [") {
		t.Errorf("messages %+v: want ka new, no message having listed it", pub)
	}

	quiet := e.c
	quiet.Notifier = nil
	e.now = e.now.Add(time.Hour)
	third := sweepReport("r3", a, violating("kb", "b", "environment", "env", ""))
	e.rec.End(ctx, quiet, &third)
	var ss outputs.StoredSummary
	decodeJSON(t, e.object(t, e.layer.Summary(target, "r3")), &ss)
	if ss.New != 1 {
		t.Errorf("without notifications, %d new findings, want 1 (kb)", ss.New)
	}
}

// TestGroupRecordNotReadable: the last target to end cannot read back
// its claim, or whether another end is sending the run's message: it
// does not send (another may), and says so as a failure, not as another
// target's message.
func TestGroupRecordNotReadable(t *testing.T) {
	for _, tc := range []struct{ object, want string }{
		{"claim.json", "could not read the claim back"},
		{"notified.json", "could not read whether another end is sending"},
	} {
		t.Run(tc.object, func(t *testing.T) {
			e := newEnv(t, outputs.Options{MaxAttempts: 1})
			ctx := context.Background()
			c, sweep := groupRun(t, e, "g1")
			first := sweep(target, violating("k1", "one", "environment", "env", ""))
			e.rec.End(ctx, c, &first)
			last := sweep("cn-north-4/p2", violating("k2", "two", "environment", "env", ""))
			broken := c
			broken.Store = failGet{Store: c.Store, part: tc.object}
			e.rec.End(ctx, broken, &last)
			if n := len(e.svc.SMN.Published()); n != 0 {
				t.Errorf("%d messages sent", n)
			}
			if n := notification(last); n.OK || !strings.Contains(n.Error, tc.want) {
				t.Errorf("notification output %+v, want a failure saying %q", n, tc.want)
			}
		})
	}
}
