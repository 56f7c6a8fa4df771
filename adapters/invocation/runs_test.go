package invocation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/adapters/invocation"
	"github.com/tagwarden/tagwarden/adapters/targets"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/handlertest"
	"github.com/tagwarden/tagwarden/handler/memstore"
	"github.com/tagwarden/tagwarden/policies"
	"github.com/tagwarden/tagwarden/policy"
)

// org is three targets, each a store of its own, behind one pipeline whose
// asynchronous invocations loop back into this process.
type org struct {
	stores map[string]*memstore.Store
	pipe   invocation.Pipeline
	loop   *invocation.Loopback
	logs   *handlertest.LogBuffer
	keys   int
	// cloudFn, when set, replaces cloud (outputs on).
	cloudFn func(context.Context) invocation.Cloud
}

var orgTargets = []string{"ap-southeast-1/p1", "ap-southeast-1/p2", "cn-north-4/p3"}

// events returns the logged run events of that name.
func runEvents(t *testing.T, logs *handlertest.LogBuffer, name string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range logs.Entries(t) {
		if m["event"] == name {
			out = append(out, m)
		}
	}
	return out
}

// newOrg builds the three targets with keys keys each, links cut every
// perLink keys, chains of at most maxChain links.
func newOrg(t *testing.T, keys, perLink, maxChain int) *org {
	t.Helper()
	o := &org{stores: map[string]*memstore.Store{}, logs: &handlertest.LogBuffer{}, keys: keys}
	var static []targets.Target
	for _, name := range orgTargets {
		region, project, err := targets.ParseName(name)
		if err != nil {
			t.Fatal(err)
		}
		static = append(static, targets.Target{Region: region, ProjectID: project})
		ids := make([]string, keys)
		for i := range ids {
			ids[i] = fmt.Sprintf("%s-%04d", project, i)
		}
		o.stores[name] = newStore(memstore.Options{PageSize: 10, Scope: name}, ids...)
	}
	cfg := handler.DefaultConfig()
	cfg.MaxReportKeys = perLink
	log := logrus.New()
	log.SetFormatter(&logrus.JSONFormatter{})
	log.SetOutput(o.logs)
	o.pipe = invocation.Pipeline{Handler: newHandler(t, cfg), Runs: invocation.Runs{
		Targets: targets.Config{Static: static}, MaxChain: maxChain, Memory: &invocation.Memory{}, Log: log}}
	o.loop = &invocation.Loopback{Pipeline: o.pipe, Cloud: o.cloud}
	return o
}

func (o *org) cloud(context.Context) invocation.Cloud {
	return invocation.Cloud{
		Store: func(_ context.Context, t targets.Target) (handler.KeyStore, error) {
			s, ok := o.stores[t.Name()]
			if !ok {
				return nil, fmt.Errorf("no store for %s", t.Name())
			}
			return s, nil
		},
		Dispatcher: func(context.Context) (invocation.Dispatcher, error) { return o.loop, nil },
	}
}

// invokeCloud is invoke with the org's current cloud (outputs included).
func (o *org) invokeCloud(t *testing.T, payload string) handler.Report {
	t.Helper()
	cloud := o.cloud
	if o.cloudFn != nil {
		cloud = o.cloudFn
	}
	body, err := o.pipe.Invoke(handler.WithRequestID(context.Background(), "timer-1"), []byte(payload), cloud(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	var rep handler.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// invoke serves payload as the platform would and decodes the report.
func (o *org) invoke(t *testing.T, payload string) handler.Report {
	t.Helper()
	body, err := o.pipe.Invoke(handler.WithRequestID(context.Background(), "timer-1"), []byte(payload), o.cloud(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	var rep handler.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// checkExactlyOnce checks that every key of every target was written
// exactly once, and that each target's last link reports it done with
// totals counting every key once.
func (o *org) checkExactlyOnce(t *testing.T, deliveries []invocation.Delivery) {
	t.Helper()
	for name, s := range o.stores {
		st := s.Stats()
		if len(st.WritesByKey) != o.keys {
			t.Errorf("%s: %d keys written, want %d", name, len(st.WritesByKey), o.keys)
		}
		for id, n := range st.WritesByKey {
			if n != 1 {
				t.Errorf("%s: key %s written %d times", name, id, n)
			}
		}
	}
	done := map[string]handler.Report{}
	for _, d := range deliveries {
		if d.Err != nil {
			t.Fatalf("delivery %s: %v", d.RequestID, d.Err)
		}
		if d.Report.Chain != nil && d.Report.Chain.State == handler.ChainDone {
			if _, twice := done[d.Report.Target]; twice {
				t.Errorf("%s: two links report the sweep done", d.Report.Target)
			}
			done[d.Report.Target] = d.Report
		}
	}
	for _, name := range orgTargets {
		rep, ok := done[name]
		if !ok {
			t.Errorf("%s: no link reports the sweep done", name)
			continue
		}
		if rep.Totals == nil || rep.Totals.Scanned != o.keys || rep.Totals.Changed != o.keys {
			t.Errorf("%s: totals %+v, want %d keys scanned and changed", name, rep.Totals, o.keys)
		}
	}
}

// TestFanOutChains: a timer sweep of three targets fans out, one link 1
// per target; each target's sweep is cut into links that continue
// themselves; every key of every target is decided exactly once, and the
// logs tell the story: one fan-out, a dispatch per link, and each target's
// last link with its totals.
func TestFanOutChains(t *testing.T) {
	o := newOrg(t, 60, 15, 50)
	rep := o.invoke(t, `{"version":"v1.0","time":"2026-12-07T10:00:00+08:00","trigger_type":"TIMER","trigger_name":"sweep","user_event":""}`)
	if rep.Mode != handler.ModeFanout || len(rep.Targets) != 3 || rep.Run == "" || rep.Error != "" {
		t.Fatalf("fan-out report %+v", rep)
	}
	for _, tr := range rep.Targets {
		if !tr.Dispatched || tr.RequestID == "" {
			t.Errorf("target %+v not dispatched", tr)
		}
	}
	o.loop.Wait()
	deliveries := o.loop.Deliveries()
	o.checkExactlyOnce(t, deliveries)
	links := map[string]int{}
	for _, d := range deliveries {
		if d.Report.Run != rep.Run {
			t.Errorf("delivery of run %q, want %q", d.Report.Run, rep.Run)
		}
		links[d.Report.Target]++
	}
	for _, name := range orgTargets {
		if links[name] < 4 {
			t.Errorf("%s: %d links, want at least 4 (60 keys, 15 a link)", name, links[name])
		}
	}
	if n := len(runEvents(t, o.logs, "fanout")); n != 1 {
		t.Errorf("%d fanout events, want 1", n)
	}
	ends := runEvents(t, o.logs, "link_end")
	if len(ends) != len(deliveries) {
		t.Errorf("%d link_end events for %d links", len(ends), len(deliveries))
	}
	for _, e := range ends {
		if e["state"] == handler.ChainDone {
			tot, _ := e["totals"].(map[string]any)
			if tot["scanned"] != float64(60) {
				t.Errorf("last link of %v logs totals %v", e["target"], e["totals"])
			}
		}
	}
}

// TestDuplicateDelivery: the platform delivers every link twice. The
// second delivery of a link does nothing and dispatches nothing: no key is
// written twice and each target's chain stays one chain.
func TestDuplicateDelivery(t *testing.T) {
	o := newOrg(t, 40, 10, 50)
	o.loop.Duplicate = true
	rep := o.invoke(t, `{"action":"sweep"}`)
	if len(rep.Targets) != 3 {
		t.Fatalf("fan-out report %+v", rep)
	}
	o.loop.Wait()
	deliveries := o.loop.Deliveries()
	o.checkExactlyOnce(t, deliveries)
	served := map[string]int{}
	dups := 0
	for _, d := range deliveries {
		if d.Report.Chain.State == handler.ChainDuplicate {
			dups++
			if d.Report.Scanned != 0 {
				t.Errorf("a duplicate scanned %d keys", d.Report.Scanned)
			}
			continue
		}
		served[fmt.Sprintf("%s#%d", d.Report.Target, d.Report.Link)]++
	}
	for k, n := range served {
		if n != 1 {
			t.Errorf("link %s served %d times", k, n)
		}
	}
	if dups != len(served) {
		t.Errorf("%d duplicates answered for %d links delivered twice", dups, len(served))
	}
	if got := len(runEvents(t, o.logs, "dispatch")); got != len(served) {
		t.Errorf("%d dispatches for %d links: a duplicate dispatched again", got, len(served))
	}
}

// TestTargetsRefused: a payload naming targets outside the configured set,
// or names that do not parse, is refused for those targets alone; the
// others are still swept. A link naming a target outside the set does
// nothing.
func TestTargetsRefused(t *testing.T) {
	o := newOrg(t, 5, 100, 50)
	rep := o.invoke(t, `{"action":"sweep","targets":["ap-southeast-1/p1","eu-west-0/p9","not a target"]}`)
	if len(rep.Targets) != 3 {
		t.Fatalf("targets %+v", rep.Targets)
	}
	byName := map[string]handler.TargetReport{}
	for _, tr := range rep.Targets {
		byName[tr.Target] = tr
	}
	if !byName["ap-southeast-1/p1"].Dispatched {
		t.Errorf("configured target not dispatched: %+v", byName["ap-southeast-1/p1"])
	}
	for _, name := range []string{"eu-west-0/p9", "not a target"} {
		tr := byName[name]
		if tr.Dispatched || !strings.Contains(tr.Error, name) || tr.ErrorKind != handler.KindInvalidRequest {
			t.Errorf("target %q: %+v, want refused naming it", name, tr)
		}
	}
	o.loop.Wait()
	if n := len(o.stores["ap-southeast-1/p1"].Stats().WritesByKey); n != 5 {
		t.Errorf("p1: %d keys written, want 5", n)
	}
	for _, payload := range []string{
		`{"action":"sweep","target":"eu-west-0/p9"}`,
		`{"action":"sweep","target":"eu-west-0/p9","run":"r1","link":3}`,
	} {
		got := o.invoke(t, payload)
		if got.ErrorKind != handler.KindInvalidRequest || !strings.Contains(got.Error, "eu-west-0/p9") || got.Scanned != 0 {
			t.Errorf("%s: got %q (%s), want refused naming the target", payload, got.Error, got.ErrorKind)
		}
	}
	for _, s := range o.stores {
		if s.Stats().Calls[memstore.OpList] > 1 {
			t.Error("a refused target's payload reached a store")
		}
	}
}

// TestChainLimit: a chain stops at TAGWARDEN_MAX_CHAIN links, says so, and
// hands the continuation back instead of invoking further.
func TestChainLimit(t *testing.T) {
	o := newOrg(t, 50, 10, 2)
	o.invoke(t, `{"action":"sweep","targets":["cn-north-4/p3"]}`)
	o.loop.Wait()
	var last handler.Report
	for _, d := range o.loop.Deliveries() {
		if d.Report.Link == 2 {
			last = d.Report
		}
	}
	if last.Chain == nil || last.Chain.State != handler.ChainLimit || last.Continuation == "" || last.Chain.NextLink != 3 {
		t.Fatalf("link 2: chain %+v, continuation %t; want chain_limit with the continuation", last.Chain, last.Continuation != "")
	}
	if n := len(o.loop.Deliveries()); n != 2 {
		t.Errorf("%d links ran, want 2", n)
	}
	// Passed on by hand, the continuation starts a new stretch of the
	// chain: two more links, not one.
	resumed := o.invoke(t, `{"action":"sweep","target":"cn-north-4/p3","continuation":"`+last.Continuation+`"}`)
	o.loop.Wait()
	if resumed.Link != 3 || resumed.ChainBase != 3 || resumed.Chain == nil || resumed.Chain.State != handler.ChainContinued {
		t.Fatalf("resumed: link %d base %d chain %+v; want link 3 continued, a stretch from 3", resumed.Link, resumed.ChainBase, resumed.Chain)
	}
	if n := len(o.loop.Deliveries()); n != 3 {
		t.Errorf("%d links ran in all, want 3 (link 4 by the chain)", n)
	}
}

// TestStaleLinkRestarts: a link whose continuation was issued under other
// policies (the policies changed between two links) sweeps its target
// again from the start, in the same run, and says so.
func TestStaleLinkRestarts(t *testing.T) {
	o := newOrg(t, 30, 10, 50)
	var next []byte
	capture := dispatcherFunc(func(_ context.Context, payload []byte) (string, error) {
		if next == nil {
			next = append([]byte(nil), payload...)
		}
		return "captured", nil
	})
	cloud := o.cloud(context.Background())
	cloud.Dispatcher = func(context.Context) (invocation.Dispatcher, error) { return capture, nil }
	if _, err := o.pipe.Invoke(context.Background(), []byte(`{"action":"sweep","targets":["ap-southeast-1/p2"]}`), cloud); err != nil {
		t.Fatal(err)
	}
	link1 := next
	next = nil
	if _, err := o.pipe.Invoke(context.Background(), link1, cloud); err != nil {
		t.Fatal(err)
	}
	if next == nil || !bytes.Contains(next, []byte(`"continuation"`)) {
		t.Fatalf("link 1 dispatched %s, want link 2 with a continuation", next)
	}
	link2 := next

	// The policies change: another engine, another digest.
	other := o.pipe
	sub := fstest.MapFS{}
	err := fs.WalkDir(policies.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(path, "cost-center") {
			return err
		}
		b, err := fs.ReadFile(policies.FS, path)
		sub[path] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := policy.Load(sub, policy.Options{Limits: policy.DefaultLimits()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := o.pipe.Handler.Config()
	other.Handler = handler.New(engine, cfg, nil)
	body, err := other.Invoke(context.Background(), link2, cloud)
	if err != nil {
		t.Fatal(err)
	}
	var rep handler.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Error != "" || rep.Link != 2 || rep.Scanned == 0 || len(rep.Warnings) == 0 || !strings.Contains(rep.Warnings[0], "restarted") {
		t.Fatalf("link 2 under new policies: error %q link %d scanned %d warnings %v; want a restart of the sweep", rep.Error, rep.Link, rep.Scanned, rep.Warnings)
	}
	if rep.Totals == nil || rep.Totals.Scanned != rep.Scanned {
		t.Errorf("restarted link's totals %+v: want only its own counts", rep.Totals)
	}
}

// TestDispatchFails: when the next link cannot be dispatched the report
// says so and keeps the continuation, so that nothing is lost.
func TestDispatchFails(t *testing.T) {
	o := newOrg(t, 30, 10, 50)
	cloud := o.cloud(context.Background())
	cloud.Dispatcher = func(context.Context) (invocation.Dispatcher, error) {
		return dispatcherFunc(func(context.Context, []byte) (string, error) { return "", fmt.Errorf("403 FSS.0403 denied") }), nil
	}
	body, err := o.pipe.Invoke(context.Background(), []byte(`{"action":"sweep","target":"ap-southeast-1/p1"}`), cloud)
	if err != nil {
		t.Fatal(err)
	}
	var rep handler.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Chain == nil || rep.Chain.State != handler.ChainDispatchFailed || rep.Continuation == "" || !strings.Contains(rep.Chain.Reason, "FSS.0403") {
		t.Fatalf("chain %+v, continuation %t: want dispatch_failed with the reason and the continuation", rep.Chain, rep.Continuation != "")
	}
}

type dispatcherFunc func(ctx context.Context, payload []byte) (string, error)

func (f dispatcherFunc) Dispatch(ctx context.Context, payload []byte) (string, error) {
	return f(ctx, payload)
}

// TestLinkRefusedEndsItsChain: a link whose continuation does not verify
// (issued by an instance with another key), or that names a later link
// with no continuation, is refused: the report and the logs end the
// target's chain with state refused, under the payload's run and link, so
// that the run's story does not wait for it for ever.
func TestLinkRefusedEndsItsChain(t *testing.T) {
	o := newOrg(t, 30, 10, 50)
	engine, err := policy.Load(policies.FS, policy.Options{Limits: policy.DefaultLimits()})
	if err != nil {
		t.Fatal(err)
	}
	foreign := handler.New(engine, handler.Config{MaxReportKeys: 10, ContinuationKey: []byte(strings.Repeat("x", 32))}, nil)
	first := foreign.Handle(context.Background(), o.stores["ap-southeast-1/p1"], handler.Request{Mode: handler.ModeSweep, Run: "r1", Link: 1, Target: "ap-southeast-1/p1"})
	if first.Continuation == "" {
		t.Fatal("want a cut link")
	}
	for _, payload := range []string{
		`{"action":"sweep","target":"ap-southeast-1/p1","run":"r1","link":2,"continuation":"` + first.Continuation + `"}`,
		`{"action":"sweep","target":"ap-southeast-1/p1","run":"r1","link":5}`,
	} {
		rep := o.invoke(t, payload)
		if rep.Chain == nil || rep.Chain.State != handler.ChainRefused || rep.Run != "r1" || rep.Scanned != 0 {
			t.Errorf("%s: chain %+v run %q scanned %d; want refused in run r1", payload, rep.Chain, rep.Run, rep.Scanned)
		}
	}
	ends := runEvents(t, o.logs, "link_end")
	if len(ends) != 2 || ends[0]["state"] != handler.ChainRefused || ends[0]["run"] != "r1" || ends[1]["link"] != float64(5) {
		t.Errorf("link_end lines %v, want two refused in run r1", ends)
	}
}

// TestTokenWithoutRunIsItsLink: a link's payload with its run and link
// taken out still carries its token: it is that link, and a second
// delivery of it on the same instance is a duplicate.
func TestTokenWithoutRunIsItsLink(t *testing.T) {
	o := newOrg(t, 30, 10, 50)
	var next []byte
	cloud := o.cloud(context.Background())
	cloud.Dispatcher = func(context.Context) (invocation.Dispatcher, error) {
		return dispatcherFunc(func(_ context.Context, p []byte) (string, error) {
			if next == nil {
				next = append([]byte(nil), p...)
			}
			return "captured", nil
		}), nil
	}
	if _, err := o.pipe.Invoke(context.Background(), []byte(`{"action":"sweep","target":"ap-southeast-1/p1"}`), cloud); err != nil {
		t.Fatal(err)
	}
	var link2 map[string]any
	if err := json.Unmarshal(next, &link2); err != nil {
		t.Fatal(err)
	}
	if _, err := o.pipe.Invoke(context.Background(), next, cloud); err != nil {
		t.Fatal(err)
	}
	delete(link2, "run")
	delete(link2, "link")
	bare, _ := json.Marshal(link2)
	body, err := o.pipe.Invoke(context.Background(), bare, cloud)
	if err != nil {
		t.Fatal(err)
	}
	var rep handler.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Chain == nil || rep.Chain.State != handler.ChainDuplicate || rep.Link != 2 {
		t.Fatalf("the token of link 2 again, without run and link: chain %+v link %d; want a duplicate of link 2", rep.Chain, rep.Link)
	}
}

// TestEventStartsOneRun: two deliveries of one EventBridge event (two
// invocations, two request ids) start one run: the second fan-out is a
// duplicate and dispatches nothing.
func TestEventStartsOneRun(t *testing.T) {
	o := newOrg(t, 5, 100, 50)
	event := `{"version":"0","id":"890abcde-f123-4567-890a-bcdef1234567","detail-type":"Scheduled Event","source":"aws.events",` +
		`"account":"123456789012","time":"2026-12-07T10:00:00Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/sweep"],"detail":{}}`
	var reps []handler.Report
	for _, id := range []string{"delivery-1", "delivery-2"} {
		body, err := o.pipe.Invoke(handler.WithRequestID(context.Background(), id), []byte(event), o.cloud(context.Background()))
		if err != nil {
			t.Fatal(err)
		}
		var rep handler.Report
		if err := json.Unmarshal(body, &rep); err != nil {
			t.Fatal(err)
		}
		reps = append(reps, rep)
	}
	o.loop.Wait()
	if reps[0].Run == "" || reps[1].Run != reps[0].Run || len(reps[0].Targets) != 3 {
		t.Fatalf("runs %q and %q, %d targets: want one run of 3 targets", reps[0].Run, reps[1].Run, len(reps[0].Targets))
	}
	if reps[1].Chain == nil || reps[1].Chain.State != handler.ChainDuplicate || len(reps[1].Targets) != 0 {
		t.Errorf("second delivery: chain %+v, %d targets; want a duplicate that dispatched nothing", reps[1].Chain, len(reps[1].Targets))
	}
	o.checkExactlyOnce(t, o.loop.Deliveries())
}

// failingDiscoverer is IAM refusing to list the identity's projects.
type failingDiscoverer struct{ err error }

func (d failingDiscoverer) Projects(context.Context) ([]targets.Project, error) { return nil, d.err }

// TestAutoFailureIsARun: with targets auto, a discovery that fails is a
// run that could not start: its report and its log lines carry a run id,
// so that tagwarden runs shows it incomplete; IAM's denial is denied.
func TestAutoFailureIsARun(t *testing.T) {
	o := newOrg(t, 5, 100, 50)
	o.pipe.Runs.Targets = targets.Config{Auto: true}
	cloud := o.cloud(context.Background())
	cloud.Discoverer = func(context.Context) (targets.Discoverer, error) {
		return failingDiscoverer{fmt.Errorf("iam list projects: %w", handler.ErrDenied)}, nil
	}
	body, err := o.pipe.Invoke(handler.WithRequestID(context.Background(), "timer-9"), []byte(`{"action":"sweep"}`), cloud)
	if err != nil {
		t.Fatal(err)
	}
	var rep handler.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Run == "" || rep.ErrorKind != handler.KindDenied {
		t.Fatalf("run %q error %q (%s): want a run id and denied", rep.Run, rep.Error, rep.ErrorKind)
	}
	fan := runEvents(t, o.logs, "fanout")
	if len(fan) != 1 || fan[0]["run"] != rep.Run || fan[0]["failed"] != float64(1) {
		t.Errorf("fanout lines %v, want one of run %s with a failure", fan, rep.Run)
	}
}

// TestDryRunContinues: a dry run continues itself as a real one does,
// each link a dry run (its token binds the flag), and writes nothing.
func TestDryRunContinues(t *testing.T) {
	o := newOrg(t, 40, 10, 50)
	rep := o.invoke(t, `{"action":"sweep","dry_run":true}`)
	if len(rep.Targets) != 3 || !rep.DryRun {
		t.Fatalf("fan-out %+v", rep)
	}
	o.loop.Wait()
	done := 0
	for _, d := range o.loop.Deliveries() {
		if !d.Report.DryRun || d.Report.Changed != 0 {
			t.Errorf("link %s/%d: dry run %t, %d changed", d.Report.Target, d.Report.Link, d.Report.DryRun, d.Report.Changed)
		}
		if d.Report.Chain != nil && d.Report.Chain.State == handler.ChainDone {
			done++
			if d.Report.Link < 2 || d.Report.Totals.Planned != 40 {
				t.Errorf("%s: done at link %d with totals %+v, want several links planning 40 keys", d.Report.Target, d.Report.Link, d.Report.Totals)
			}
		}
	}
	for name, s := range o.stores {
		if w := s.Stats().Writes; w != 0 {
			t.Errorf("%s: %d writes in a dry run", name, w)
		}
	}
	if done != 3 {
		t.Errorf("%d targets done, want 3", done)
	}
}
