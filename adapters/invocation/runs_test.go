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
