package invocation_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tagwarden/tagwarden/adapters/invocation"
	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweismn/smnemu"
	"github.com/tagwarden/tagwarden/adapters/outputs/local"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// withOutputs turns the org's outputs on, on the local services.
func (o *org) withOutputs(t *testing.T, opts outputs.Options) *local.Services {
	t.Helper()
	svc, err := local.Start(local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	opts.TempDir = t.TempDir()
	o.pipe.Runs.Outputs = outputs.New(opts)
	o.loop.Pipeline = o.pipe
	inner := o.cloud
	o.cloudFn = func(ctx context.Context) invocation.Cloud {
		c := inner(ctx)
		c.Outputs = func(context.Context) (outputs.Clients, error) { return svc.Clients() }
		return c
	}
	o.loop.Cloud = o.cloudFn
	return svc
}

// addBadKeys gives each target n keys with findings only a person can
// fix (alias "bad": two exemption violations each).
func (o *org) addBadKeys(n int) {
	for name, s := range o.stores {
		_, project, _ := strings.Cut(name, "/")
		for i := range n {
			s.Put(policy.Key{ID: fmt.Sprintf("%s-bad-%d", project, i), Alias: "bad", State: policy.StateEnabled,
				Spec: "AES_256", Usage: "ENCRYPT_DECRYPT", Origin: "kms"},
				map[string]string{"owner": "team-a", "cost-center": "cc-ops", "env": "dev", "tagwarden-exempt": "maybe"})
		}
	}
}

// sweepAll sends a fan-out sweep under request id, as a new instance
// would serve it (a memory of links of its own), waits for every
// invocation it leads to, and returns the fan-out's report.
func (o *org) sweepAll(t *testing.T, id string) handler.Report {
	t.Helper()
	o.pipe.Runs.Memory = &invocation.Memory{}
	o.loop.Pipeline = o.pipe
	body, err := o.pipe.Invoke(handler.WithRequestID(context.Background(), id), []byte(`{"action":"sweep"}`), o.cloudFn(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	var rep handler.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	o.loop.Wait()
	return rep
}

// TestOutputsOfChainedRuns: a fan-out over three targets, each sweep cut
// into links that continue themselves, every link delivered twice: the
// run ends with one message listing every key it changed on every target
// (sent by the target that ended last), each target's metrics with its
// totals, and each target's summary naming every link's stored report;
// the enforcement is the same as without outputs.
func TestOutputsOfChainedRuns(t *testing.T) {
	o := newOrg(t, 60, 15, 50)
	o.loop.Duplicate = true
	svc := o.withOutputs(t, outputs.Options{NotifyChanges: true})
	rep := o.invokeCloud(t, `{"action":"sweep"}`)
	if rep.Mode != handler.ModeFanout || len(rep.Targets) != 3 {
		t.Fatalf("fan-out report %+v", rep)
	}
	o.loop.Wait()
	deliveries := o.loop.Deliveries()
	o.checkExactlyOnce(t, deliveries)

	links := map[string]int{}
	for _, d := range deliveries {
		if d.Report.Chain != nil && d.Report.Chain.State != handler.ChainDuplicate {
			links[d.Report.Target]++
		}
		for _, out := range d.Report.Outputs {
			if !out.OK {
				t.Errorf("link %d of %s: output failed: %+v", d.Report.Link, d.Report.Target, out)
			}
		}
	}
	pub := svc.SMN.Published()
	if len(pub) != 1 {
		t.Fatalf("%d messages, want 1: the run's, sent by the target that ended last", len(pub))
	}
	msg := pub[0].Message
	if n := strings.Count(msg, "[changed] wrote "); n != 3*60 {
		t.Errorf("the message lists %d keys changed, want 180 (every link of every target):\n%s", n, msg)
	}
	if !strings.Contains(pub[0].Subject, "3 targets") {
		t.Errorf("subject %q does not name the run's 3 targets", pub[0].Subject)
	}
	for _, name := range orgTargets {
		if !strings.Contains(msg, "  "+name+": done; 60 scanned, 60 changed") {
			t.Errorf("the message has no line for %s:\n%s", name, msg[:min(len(msg), 1500)])
		}
		_, project, _ := strings.Cut(name, "/")
		scanned := 0.0
		for _, p := range svc.CES.Points() {
			if p.Metric != "keys_scanned" {
				continue
			}
			for _, d := range p.Dimensions {
				if d.Name == "project" && d.Value == project {
					scanned += p.Value
				}
			}
		}
		if scanned != 60 {
			t.Errorf("%s: keys_scanned sent %v, want 60 once", name, scanned)
		}
		lay := o.pipe.Runs.Outputs.Layout()
		b, _, ok := svc.OBS.Object(svc.Bucket, lay.Summary(name, rep.Run))
		if !ok {
			t.Errorf("%s: no summary; stored %v", name, svc.OBS.Keys(svc.Bucket))
			continue
		}
		var sum outputs.StoredSummary
		if err := json.Unmarshal(b, &sum); err != nil {
			t.Fatal(err)
		}
		if len(sum.Reports) != links[name] || len(sum.Missing) != 0 || !sum.Complete || sum.Counts.Scanned != 60 {
			t.Errorf("%s: summary names %d reports (%d missing) for %d links, complete %v, scanned %d",
				name, len(sum.Reports), len(sum.Missing), links[name], sum.Complete, sum.Counts.Scanned)
		}
	}
	if _, _, ok := svc.OBS.Object(svc.Bucket, o.pipe.Runs.Outputs.Layout().Fanout(rep.Run)); !ok {
		t.Errorf("the fan-out's report was not stored")
	}
}

// TestOutputsDownEnforcementGoesOn: with every output failing, every key
// is still decided exactly once, and each run's end lists what failed.
func TestOutputsDownEnforcementGoesOn(t *testing.T) {
	o := newOrg(t, 30, 10, 50)
	svc := o.withOutputs(t, outputs.Options{NotifyChanges: true, MaxAttempts: 2})
	svc.OBS.SetDenied(svc.Bucket, true)
	svc.SMN.SetFaults(smnemu.Faults{Rate500: 1})
	o.invokeCloud(t, `{"action":"sweep"}`)
	o.loop.Wait()
	deliveries := o.loop.Deliveries()
	o.checkExactlyOnce(t, deliveries)
	ends := 0
	for _, d := range deliveries {
		if d.Report.Chain == nil || d.Report.Chain.State != handler.ChainDone {
			continue
		}
		ends++
		var failedNotify, deniedOBS bool
		for _, out := range d.Report.Outputs {
			failedNotify = failedNotify || (out.What == "notification" && !out.OK && out.Attempts == 2)
			deniedOBS = deniedOBS || (out.Output == "obs" && out.Code == "AccessDenied")
		}
		if !failedNotify || !deniedOBS {
			t.Errorf("%s: outputs %+v, want the failed notification and OBS AccessDenied listed", d.Report.Target, d.Report.Outputs)
		}
	}
	if ends != 3 {
		t.Errorf("%d runs ended, want 3", ends)
	}
}

// TestGroupNotification: a fan-out's run sends one message for all its
// targets; when it cannot be published, the findings it was to list are
// due again in the next run, which notifies them; a run after that, within
// the repeat interval, sends nothing.
func TestGroupNotification(t *testing.T) {
	o := newOrg(t, 10, 100, 50)
	o.addBadKeys(2)
	svc := o.withOutputs(t, outputs.Options{MaxAttempts: 1})
	run := func(id string) {
		t.Helper()
		if rep := o.sweepAll(t, id); rep.Mode != handler.ModeFanout || len(rep.Targets) != 3 {
			t.Fatalf("%s: fan-out report %+v", id, rep)
		}
	}
	svc.SMN.SetFaults(smnemu.Faults{Rate500: 1})
	run("timer-1")
	if n := len(svc.SMN.Published()); n != 0 {
		t.Fatalf("run 1: %d messages published through a failing SMN", n)
	}
	failed := 0
	for _, d := range o.loop.Deliveries() {
		for _, out := range d.Report.Outputs {
			if out.What == "notification" && !out.OK {
				failed++
			}
		}
	}
	if failed != 1 {
		t.Errorf("run 1: %d links report the failed notification, want 1 (the last to end)", failed)
	}

	svc.SMN.SetFaults(smnemu.Faults{})
	run("timer-2")
	pub := svc.SMN.Published()
	if len(pub) != 1 {
		t.Fatalf("run 2: %d messages, want 1", len(pub))
	}
	if n := strings.Count(pub[0].Message, "bad ("); n != 6 {
		t.Errorf("run 2: the message lists %d keys, want the 6 left un-notified by run 1:\n%s", n, pub[0].Message)
	}

	run("timer-3")
	if n := len(svc.SMN.Published()); n != 1 {
		t.Errorf("run 3: %d messages in all, want still 1: every finding was notified by run 2", n)
	}
}

// TestRefusedLeavesOutputs: a forged continuation is refused before any
// key is read: it is no run's end, and stores, publishes and sends
// nothing (the run it names keeps its state).
func TestRefusedLeavesOutputs(t *testing.T) {
	o := newOrg(t, 5, 5, 50)
	svc := o.withOutputs(t, outputs.Options{})
	for _, payload := range []string{
		`{"action":"sweep","target":"ap-southeast-1/p1","run":"run-forged","link":3,"continuation":"forged.token"}`,
		`{"action":"sweep","target":"ap-southeast-1/p1","continuation":"forged.token"}`,
	} {
		rep := o.invokeCloud(t, payload)
		if rep.ErrorKind != handler.KindInvalidContinuation {
			t.Fatalf("%s: error kind %q (%s), want invalid_continuation", payload, rep.ErrorKind, rep.Error)
		}
		if len(rep.Outputs) != 0 {
			t.Errorf("%s: outputs %+v, want none", payload, rep.Outputs)
		}
	}
	o.loop.Wait()
	if n := len(svc.SMN.Published()); n != 0 {
		t.Errorf("%d messages published for refused requests", n)
	}
	if n := len(svc.CES.Points()); n != 0 {
		t.Errorf("%d metric points sent for refused requests", n)
	}
	if keys := svc.OBS.Keys(svc.Bucket); len(keys) != 0 {
		t.Errorf("objects stored for refused requests: %v", keys)
	}
}

// TestGroupWithoutListBucket: with the object permissions alone (no
// ListBucket: OBS answers a missing object 403), a fan-out's run still
// sends its one message, and the next run, within the repeat interval,
// sends none.
func TestGroupWithoutListBucket(t *testing.T) {
	o := newOrg(t, 10, 100, 50)
	o.addBadKeys(1)
	svc := o.withOutputs(t, outputs.Options{})
	svc.OBS.SetNoList(svc.Bucket, true)
	for i, want := range []int{1, 1} {
		o.sweepAll(t, fmt.Sprintf("timer-%d", i))
		pub := svc.SMN.Published()
		if len(pub) != want {
			t.Fatalf("run %d: %d messages in all, want %d", i+1, len(pub), want)
		}
		if n := strings.Count(pub[0].Message, "bad ("); n != 3 {
			t.Errorf("run %d: the message lists %d keys, want 3:\n%s", i+1, n, pub[0].Message)
		}
	}
	for _, d := range o.loop.Deliveries() {
		for _, out := range d.Report.Outputs {
			if out.What == "notification" && !out.OK {
				t.Errorf("%s link %d: %+v", d.Report.Target, d.Report.Link, out)
			}
		}
	}
}

// TestGroupEndDeliveredTwice: every invocation of a fan-out's run is
// delivered twice, the copy on another instance (which serves it again):
// the run still sends one message, and the copies' ends say why they
// send none.
func TestGroupEndDeliveredTwice(t *testing.T) {
	o := newOrg(t, 10, 100, 50)
	o.addBadKeys(1)
	svc := o.withOutputs(t, outputs.Options{})
	o.loop.Duplicate, o.loop.Elsewhere = true, true
	o.sweepAll(t, "timer-1")
	pub := svc.SMN.Published()
	if len(pub) != 1 {
		for _, p := range pub {
			t.Logf("subject: %s", p.Subject)
		}
		t.Fatalf("%d messages for one run delivered twice, want 1", len(pub))
	}
	if n := strings.Count(pub[0].Message, "bad ("); n != 3 {
		t.Errorf("the message lists %d keys, want 3:\n%s", n, pub[0].Message)
	}
	if !strings.Contains(pub[0].Subject, "(3 new)") {
		t.Errorf("subject %q: want the 3 keys new (a copy's view, in which they were known, is not the run's)", pub[0].Subject)
	}
	for _, name := range orgTargets {
		if !strings.Contains(pub[0].Message, "  "+name+": done; 11 scanned, 10 changed") {
			t.Errorf("the message's line for %s does not show the run's changes (a copy's view overwrote them?):\n%s", name, pub[0].Message)
		}
	}
	stored := 0
	for _, d := range o.loop.Deliveries() {
		for _, out := range d.Report.Outputs {
			if strings.Contains(out.Reason, "stored already") {
				stored++
			}
		}
	}
	if stored != 3 {
		t.Errorf("%d copies' ends say the run's end was stored already, want 3 (one per target)", stored)
	}
}

// TestLateGroupRun: a fan-out's run whose last target is held back ends
// after the next run has notified every finding: it sends no second
// message (its findings would be called new again), and the target's
// state stays the newer run's.
func TestLateGroupRun(t *testing.T) {
	o := newOrg(t, 10, 100, 50)
	o.addBadKeys(1)
	svc := o.withOutputs(t, outputs.Options{})
	hold := true
	o.loop.Hold = func(payload []byte) bool { return hold && strings.Contains(string(payload), `"cn-north-4/p3"`) }
	sweep := func(id string) { t.Helper(); o.sweepAll(t, id) }
	sweep("timer-1")
	if n := len(svc.SMN.Published()); n != 0 {
		t.Fatalf("run 1 sent %d messages with a target held back", n)
	}
	hold = false
	sweep("timer-2")
	pub := svc.SMN.Published()
	if len(pub) != 1 || strings.Count(pub[0].Message, "bad (") != 3 {
		t.Fatalf("run 2: %d messages, want 1 listing the 3 keys", len(pub))
	}
	if o.loop.Release() != 1 {
		t.Fatal("no invocation was held")
	}
	o.loop.Wait()
	if pub := svc.SMN.Published(); len(pub) != 1 {
		t.Errorf("the late run sent a second message: %s\n%s", pub[len(pub)-1].Subject, pub[len(pub)-1].Message)
	}
	sweep("timer-3")
	if pub := svc.SMN.Published(); len(pub) != 1 {
		t.Errorf("run 3 sent %q: every finding was notified by run 2", pub[len(pub)-1].Subject)
	}
}
