package outputs_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweiobs"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweiobs/obsemu"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweismn"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweismn/smnemu"
	"github.com/tagwarden/tagwarden/adapters/outputs/local"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

const target = "ap-southeast-1/" + local.Project

// env is the three local services, the clients on them and a recorder
// whose clock the test moves.
type env struct {
	svc   *local.Services
	c     outputs.Clients
	rec   *outputs.Recorder
	now   time.Time
	layer outputs.Layout
}

func newEnv(t *testing.T, o outputs.Options) *env {
	t.Helper()
	svc, err := local.Start(local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	c, err := svc.Clients()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{svc: svc, c: c, now: time.Now().UTC().Truncate(time.Second)}
	o.Now = func() time.Time { return e.now }
	o.Own = target
	o.TempDir = t.TempDir()
	e.rec = outputs.New(o)
	e.layer = e.rec.Layout()
	return e
}

func violating(id, alias, pol, tag, owner string) handler.KeyReport {
	return handler.KeyReport{KeyID: id, Alias: alias, Outcome: handler.OutcomeViolation,
		Violations: []policy.Violation{{Policy: pol, Rule: "allowed " + tag, Tag: tag, Message: tag + " has a value the policy does not allow", Notify: owner}}}
}

// sweepReport is a finished sweep of one invocation with keys.
func sweepReport(run string, keys ...handler.KeyReport) handler.Report {
	now := time.Now().UTC()
	rep := handler.Report{RequestID: "req-" + run, Mode: handler.ModeSweep, Trigger: "timer", Started: now, Finished: now,
		Run: run, Link: 1, Target: target, Keys: keys, Scanned: len(keys) + 10, Compliant: 10}
	for _, k := range keys {
		switch k.Outcome {
		case handler.OutcomeViolation:
			rep.Violating++
		case handler.OutcomeFailed:
			rep.Failed++
		case handler.OutcomeChanged:
			rep.Changed++
		}
		seen := map[string]bool{}
		for _, v := range k.Violations {
			if !v.Remediated && !seen[v.Policy] {
				if rep.Policies == nil {
					rep.Policies = map[string]int{}
				}
				rep.Policies[v.Policy]++
				seen[v.Policy] = true
			}
		}
	}
	c := rep.Counts()
	rep.Totals = &c
	rep.Chain = &handler.ChainReport{State: handler.ChainDone}
	return rep
}

func (e *env) object(t *testing.T, key string) []byte {
	t.Helper()
	b, meta, ok := e.svc.OBS.Object(e.svc.Bucket, key)
	if !ok {
		t.Fatalf("object %s not stored; stored: %v", key, e.svc.OBS.Keys(e.svc.Bucket))
	}
	if meta.ContentEncoding == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func failedOutputs(rep handler.Report) []handler.OutputReport {
	var out []handler.OutputReport
	for _, o := range rep.Outputs {
		if !o.OK {
			out = append(out, o)
		}
	}
	return out
}

// TestEnd: the end of a run stores its report, summary, page, state and
// latest pointer, publishes one message naming the owners, and sends the
// counts as metrics.
func TestEnd(t *testing.T) {
	e := newEnv(t, outputs.Options{})
	rep := sweepReport("run-1",
		violating("k1", "orders", "environment", "env", "team-a"),
		violating("k2", "billing", "cost-center", "cost-center", "team b"),
		handler.KeyReport{KeyID: "k3", Alias: "ledger", Outcome: handler.OutcomeFailed, Error: "KMS.0403: access denied"},
		handler.KeyReport{KeyID: "k4", Outcome: handler.OutcomeChanged, Create: []policy.Tag{{Key: "owner", Value: "unassigned"}},
			Violations: []policy.Violation{{Policy: "owner", Rule: "require owner", Tag: "owner", Message: "owner is missing", Remediated: true}}},
	)
	e.rec.End(context.Background(), e.c, &rep)
	if bad := failedOutputs(rep); len(bad) > 0 {
		t.Fatalf("outputs failed: %+v", bad)
	}
	whats := map[string]bool{}
	for _, o := range rep.Outputs {
		whats[o.What] = true
	}
	for _, w := range []string{"page", "notification", "metrics", "state", "summary", "latest", "report"} {
		if !whats[w] {
			t.Errorf("outputs: no %q in %+v", w, rep.Outputs)
		}
	}

	pub := e.svc.SMN.Published()
	if len(pub) != 1 {
		t.Fatalf("published %d messages, want 1", len(pub))
	}
	m := pub[0]
	for _, want := range []string{"orders (k1)", "billing (k2)", "ledger (k3)", "access denied", "env has a value"} {
		if !strings.Contains(m.Message, want) {
			t.Errorf("message lacks %q:\n%s", want, m.Message)
		}
	}
	if strings.Contains(m.Message, "(k4)") {
		t.Errorf("message lists the changed key k4 without TAGWARDEN_NOTIFY_CHANGES:\n%s", m.Message)
	}
	if !strings.Contains(m.Subject, "3 keys") {
		t.Errorf("subject %q does not count the 3 keys that need a person", m.Subject)
	}
	attrs := map[string][]string{}
	for _, a := range m.Attributes {
		attrs[a.Name] = a.Values
	}
	if got := strings.Join(attrs["owner"], ","); got != "team_a,team_b" {
		t.Errorf("owner attribute %q, want team_a,team_b (normalised)", got)
	}
	if got := strings.Join(attrs["kind"], ","); got != "tagwarden" {
		t.Errorf("kind attribute %q, want tagwarden", got)
	}

	pts := e.svc.CES.Points()
	values := map[string]float64{}
	for _, p := range pts {
		var dims []string
		for _, d := range p.Dimensions {
			dims = append(dims, d.Name+"="+d.Value)
		}
		values[p.Metric+"{"+strings.Join(dims, ",")+"}"] = p.Value
		if p.Namespace != "TagWarden.KMS" {
			t.Errorf("namespace %q", p.Namespace)
		}
	}
	dims := "region=ap-southeast-1,project=" + local.Project + ",run=sweep"
	for name, want := range map[string]float64{
		"keys_scanned{" + dims + "}":                             14,
		"keys_violating{" + dims + "}":                           2,
		"keys_failed{" + dims + "}":                              1,
		"keys_changed{" + dims + "}":                             1,
		"keys_compliant{" + dims + "}":                           10,
		"policy_violating_keys{" + dims + ",policy=environment}": 1,
		"policy_violating_keys{" + dims + ",policy=cost-center}": 1,
	} {
		if got, ok := values[name]; !ok || got != want {
			t.Errorf("metric %s = %v (sent: %v), want %v", name, got, ok, want)
		}
	}

	var latest outputs.Latest
	if err := json.Unmarshal(e.object(t, e.layer.Latest(target)), &latest); err != nil {
		t.Fatal(err)
	}
	if latest.Run != "run-1" || latest.Sweep == nil || !latest.Sweep.Complete {
		t.Errorf("latest %+v", latest)
	}
	var st outputs.State
	if err := json.Unmarshal(e.object(t, e.layer.State(target, "run-1")), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Findings) != 3 {
		t.Errorf("state holds %d findings, want 3 (two violations, one failure)", len(st.Findings))
	}
	for id, f := range st.Findings {
		if f.Notified != e.now.Unix() {
			t.Errorf("finding %s notified at %d, want now", id, f.Notified)
		}
	}
	page := string(e.object(t, e.layer.Page(target, "run-1")))
	for _, want := range []string{"k1", "k2", "k3", "environment"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	var sum outputs.StoredSummary
	if err := json.Unmarshal(e.object(t, e.layer.Summary(target, "run-1")), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Findings != 3 || sum.New != 3 || sum.Notified != 3 || !sum.Complete || len(sum.Reports) != 1 {
		t.Errorf("summary %+v", sum.Summary)
	}
	// The stored report is the invocation's, with its outputs.
	var stored handler.Report
	if err := json.Unmarshal(e.object(t, e.layer.Link(target, "run-1", 1)), &stored); err != nil {
		t.Fatal(err)
	}
	if len(stored.Keys) != 4 || len(stored.Outputs) == 0 {
		t.Errorf("stored report: %d keys, %d outputs", len(stored.Keys), len(stored.Outputs))
	}
}

// TestRepeat: an unresolved finding is notified when new, not again
// within the repeat interval, and again after it; a new finding beside
// it is notified alone; a resolved finding that comes back is new.
func TestRepeat(t *testing.T) {
	e := newEnv(t, outputs.Options{NotifyRepeat: 7 * 24 * time.Hour})
	a := violating("ka", "a", "environment", "env", "")
	b := violating("kb", "b", "environment", "env", "")
	run := func(id string, keys ...handler.KeyReport) (handler.Report, []string) {
		t.Helper()
		before := len(e.svc.SMN.Published())
		rep := sweepReport(id, keys...)
		e.rec.End(context.Background(), e.c, &rep)
		if bad := failedOutputs(rep); len(bad) > 0 {
			t.Fatalf("%s: outputs failed: %+v", id, bad)
		}
		var msgs []string
		for _, p := range e.svc.SMN.Published()[before:] {
			msgs = append(msgs, p.Message)
		}
		return rep, msgs
	}
	if _, msgs := run("r1", a); len(msgs) != 1 || !strings.Contains(msgs[0], "(ka)") {
		t.Fatalf("r1: %d messages %q, want one naming ka", len(msgs), msgs)
	}
	e.now = e.now.Add(24 * time.Hour)
	rep, msgs := run("r2", a)
	if len(msgs) != 0 {
		t.Fatalf("r2: the finding notified a day ago was notified again: %q", msgs)
	}
	if n := notification(rep); !n.Skipped || !strings.Contains(n.Reason, "within") {
		t.Errorf("r2: notification output %+v, want skipped within the repeat interval", n)
	}
	e.now = e.now.Add(24 * time.Hour)
	if _, msgs := run("r3", a, b); len(msgs) != 1 || strings.Contains(msgs[0], "(ka)") || !strings.Contains(msgs[0], "(kb)") {
		t.Fatalf("r3: messages %q, want one naming kb only", msgs)
	}
	e.now = e.now.Add(6 * 24 * time.Hour) // a: 8 days since notified; b: 6
	if _, msgs := run("r4", a, b); len(msgs) != 1 || !strings.Contains(msgs[0], "(ka)") || strings.Contains(msgs[0], "(kb)") {
		t.Fatalf("r4: messages %q, want one naming ka (repeat due) only", msgs)
	}
	e.now = e.now.Add(time.Hour)
	run("r5", a) // b resolved
	e.now = e.now.Add(time.Hour)
	if _, msgs := run("r6", a, b); len(msgs) != 1 || !strings.Contains(msgs[0], "(kb)") || !strings.Contains(msgs[0], "new") {
		t.Fatalf("r6: messages %q, want kb again as new", msgs)
	}
}

func notification(rep handler.Report) handler.OutputReport {
	for _, o := range rep.Outputs {
		if o.What == "notification" {
			return o
		}
	}
	return handler.OutputReport{}
}

// TestFailuresNeverFail: outputs that fail are retried, then listed with
// the service's code; the report's outcome is untouched; the pointer does
// not move to a state that was not stored.
func TestFailuresNeverFail(t *testing.T) {
	e := newEnv(t, outputs.Options{MaxAttempts: 3})
	rep := sweepReport("r1", violating("k1", "a", "environment", "env", ""))
	e.rec.End(context.Background(), e.c, &rep) // a first run, stored
	e.svc.SMN.Reset()

	e.now = e.now.Add(8 * 24 * time.Hour)
	e.svc.OBS.SetDenied(e.svc.Bucket, true)
	e.svc.SMN.SetFaults(smnFaults500(3))
	rep = sweepReport("r2", violating("k1", "a", "environment", "env", ""))
	counts := rep.Counts()
	e.rec.End(context.Background(), e.c, &rep)
	if rep.Error != "" || rep.Violating != counts.Violating || len(rep.Keys) != 1 {
		t.Fatalf("the report changed: error %q, %d violating", rep.Error, rep.Violating)
	}
	n := notification(rep)
	if n.OK || n.Attempts != 3 || n.Code == "" {
		t.Errorf("notification %+v, want failed after 3 attempts with the service's code", n)
	}
	denied := 0
	for _, o := range rep.Outputs {
		if o.Output == "obs" && !o.OK && o.Code == "AccessDenied" {
			denied++
		}
		if o.What == "latest" {
			t.Errorf("the latest pointer was written although the state was not: %+v", o)
		}
	}
	if denied == 0 {
		t.Errorf("no OBS output lists AccessDenied: %+v", rep.Outputs)
	}
	// The finding was not notified: the next run, with everything back,
	// notifies it.
	e.svc.OBS.SetDenied(e.svc.Bucket, false)
	e.svc.SMN.SetFaults(smnFaults500(0))
	e.now = e.now.Add(time.Hour)
	rep = sweepReport("r3", violating("k1", "a", "environment", "env", ""))
	e.rec.End(context.Background(), e.c, &rep)
	if got := len(e.svc.SMN.Published()); got != 1 {
		t.Errorf("after the failure, %d messages, want 1 (the finding still due)", got)
	}
}

// TestLinks: the end of a chained run lists the keys of every link; a
// link report that cannot be read is named in the summary.
func TestLinks(t *testing.T) {
	e := newEnv(t, outputs.Options{})
	ctx := context.Background()
	for link := 1; link <= 3; link++ {
		rep := sweepReport("chain", violating(fmt.Sprintf("k%d", link), fmt.Sprintf("alias-%d", link), "environment", "env", ""))
		rep.Link = link
		if link < 3 {
			rep.Chain = &handler.ChainReport{State: handler.ChainContinued}
			e.rec.Link(ctx, e.c, &rep)
			if bad := failedOutputs(rep); len(bad) > 0 {
				t.Fatalf("link %d: %+v", link, bad)
			}
			continue
		}
		e.rec.End(ctx, e.c, &rep)
	}
	msg := e.svc.SMN.Published()[0].Message
	for _, k := range []string{"(k1)", "(k2)", "(k3)"} {
		if !strings.Contains(msg, k) {
			t.Errorf("the run's message lacks %s:\n%s", k, msg)
		}
	}
	page := string(e.object(t, e.layer.Page(target, "chain")))
	for _, k := range []string{"k1", "k2", "k3"} {
		if !strings.Contains(page, ">"+k+"<") {
			t.Errorf("the page lacks %s", k)
		}
	}
}

func smnFaults500(n int) smnemu.Faults {
	var seq []int
	for range n {
		seq = append(seq, 500)
	}
	return smnemu.Faults{Sequence: seq}
}

// TestMissingTopicAndBucket: a topic or a bucket that does not exist is an
// output failure with the service's code; the run goes on.
func TestMissingTopicAndBucket(t *testing.T) {
	e := newEnv(t, outputs.Options{})
	creds := huaweikms.Credentials{AccessKey: emulator.DefaultAK, SecretKey: emulator.DefaultSK}
	topic, err := huaweismn.ParseTopicURN("urn:smn:" + local.Region + ":" + local.Project + ":no-such-topic")
	if err != nil {
		t.Fatal(err)
	}
	n, err := huaweismn.New(huaweismn.Config{Topic: topic, Endpoint: e.svc.SMNURL, Credentials: &creds})
	if err != nil {
		t.Fatal(err)
	}
	st, err := huaweiobs.New(huaweiobs.Config{Bucket: "no-such-bucket", Region: local.Region, Endpoint: e.svc.OBSURL, Credentials: &creds})
	if err != nil {
		t.Fatal(err)
	}
	rep := sweepReport("r1", violating("k1", "a", "environment", "env", ""))
	e.rec.End(context.Background(), outputs.Clients{Notifier: n, Store: st, Metrics: e.c.Metrics}, &rep)
	codes := map[string]bool{}
	for _, o := range rep.Outputs {
		if o.What == "metrics" && !o.OK {
			t.Errorf("metrics failed beside the missing topic and bucket: %+v", o)
		}
		if !o.OK {
			codes[o.Output+" "+o.Code] = true
		}
	}
	for _, want := range []string{"smn SMN.0006", "obs NoSuchBucket"} {
		if !codes[want] {
			t.Errorf("no failed output with %s: %+v", want, rep.Outputs)
		}
	}
	if n := notification(rep); n.Attempts != 1 {
		t.Errorf("a missing topic was tried %d times, want once (not retried)", n.Attempts)
	}
	if rep.Error != "" || len(rep.Keys) != 1 {
		t.Errorf("the report changed: %+v", rep)
	}
}

// endWithin ends a run of one violating key with deadline left, and
// fails the test when the end takes more than deadline and a margin.
func (e *env) endWithin(t *testing.T, run string, deadline time.Duration) handler.Report {
	t.Helper()
	rep := sweepReport(run, violating("k1", "a", "environment", "env", ""))
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	e.rec.End(ctx, e.c, &rep)
	if took := time.Since(start); took > deadline+time.Second {
		t.Errorf("the run's end took %s with a deadline of %s", took, deadline)
	}
	if rep.Error != "" || len(rep.Keys) != 1 {
		t.Errorf("the report changed: %+v", rep)
	}
	return rep
}

// TestDeadline: slow services do not keep the run's end past the
// invocation's deadline: what did not make it is listed as failed.
func TestDeadline(t *testing.T) {
	e := newEnv(t, outputs.Options{})
	e.svc.OBS.SetFaults(obsemu.Faults{Latency: 800 * time.Millisecond})
	e.svc.SMN.SetFaults(smnemu.Faults{Latency: 800 * time.Millisecond})
	rep := e.endWithin(t, "slow", 1500*time.Millisecond)
	if len(failedOutputs(rep)) == 0 {
		t.Errorf("every output succeeded against services slower than the deadline: %+v", rep.Outputs)
	}
}

// TestBigNotification: 10,000 keys that need a person make one message
// within SMN's limit (the local SMN refuses more), counting every key and
// every new one, listing what fits and the rest as "and N more".
func TestBigNotification(t *testing.T) {
	e := newEnv(t, outputs.Options{})
	keys := make([]handler.KeyReport, 10000)
	for i := range keys {
		keys[i] = violating(fmt.Sprintf("%08d-0000-4000-8000-000000000000", i), fmt.Sprintf("service-%05d", i), "environment", "env", "team-a")
	}
	rep := sweepReport("big", keys...)
	e.rec.End(context.Background(), e.c, &rep)
	if bad := failedOutputs(rep); len(bad) > 0 {
		t.Fatalf("outputs failed: %+v", bad)
	}
	pub := e.svc.SMN.Published()
	if len(pub) != 1 {
		t.Fatalf("%d messages, want 1", len(pub))
	}
	m := pub[0]
	if len(m.Message) > outputs.MaxMessageBytes || len(m.Subject) > outputs.MaxSubjectBytes {
		t.Errorf("message %d bytes, subject %d: over SMN's limits", len(m.Message), len(m.Subject))
	}
	if !strings.Contains(m.Subject, "10000 keys need a person (10000 new)") {
		t.Errorf("subject %q: want every key and every new one counted", m.Subject)
	}
	listed := strings.Count(m.Message, "\nservice-")
	var more int
	if i := strings.Index(m.Message, "… and "); i < 0 {
		t.Fatalf("the message does not end with the keys not listed:\n%s", m.Message[len(m.Message)-500:])
	} else {
		fmt.Sscanf(m.Message[i:], "… and %d more keys", &more)
	}
	if listed == 0 || listed+more != 10000 {
		t.Errorf("%d keys listed and %d more: want 10000 in all", listed, more)
	}
}
