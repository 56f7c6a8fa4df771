package handler_test

// Fault tests: sweeps of thousands of keys through the real KMS adapter
// (huaweikms, the official SDK, signed requests) against the emulator over
// loopback while it injects throttling, server errors, latency spikes,
// dropped connections, deadlines and expired credentials. Each test is
// bounded to a few seconds on two cores.

import (
	"context"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sirupsen/logrus"
	"go.yaml.in/yaml/v3"
	"golang.org/x/time/rate"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policies"
	"github.com/tagwarden/tagwarden/policy"
)

// fltTimeout bounds every invocation of the fault tests: a handler that
// hangs fails the test instead of stalling it.
const fltTimeout = 60 * time.Second

// fltCtx is a context that ends after fltTimeout, or with the test.
func fltCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), fltTimeout)
	t.Cleanup(cancel)
	return ctx
}

// fltTransport watches the HTTP calls of a store: it counts them, can act
// before a call is sent, and records the status of every tags/action answer.
type fltTransport struct {
	base   http.RoundTripper
	calls  atomic.Int64
	before func(n int64) // before call n (1-based) is sent
	// slowOver, when set, counts in slow the calls answered no sooner.
	slowOver time.Duration
	slow     atomic.Int64

	mu     sync.Mutex
	writes map[int]int // tags/action answers by status
}

func newFltTransport() *fltTransport {
	return &fltTransport{base: http.DefaultTransport.(*http.Transport).Clone(), writes: map[int]int{}}
}

func (f *fltTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	n := f.calls.Add(1)
	if f.before != nil {
		f.before(n)
	}
	start := time.Now()
	resp, err := f.base.RoundTrip(r)
	if f.slowOver > 0 && time.Since(start) >= f.slowOver {
		f.slow.Add(1)
	}
	if err == nil && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/tags/action") {
		f.mu.Lock()
		f.writes[resp.StatusCode]++
		f.mu.Unlock()
	}
	return resp, err
}

// writeStatuses returns a copy of the tags/action answers by status.
func (f *fltTransport) writeStatuses() map[int]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[int]int, len(f.writes))
	for k, v := range f.writes {
		out[k] = v
	}
	return out
}

// fltReports merges the reports of one resumed run: each listed key once.
type fltReports struct {
	scanned, compliant int
	keys               map[string]handler.KeyReport
}

func fltMerge(t *testing.T, reps []handler.Report) fltReports {
	t.Helper()
	m := fltReports{keys: map[string]handler.KeyReport{}}
	for i, r := range reps {
		fltCheckCounts(t, r)
		m.scanned += r.Scanned
		m.compliant += r.Compliant
		for _, kr := range r.Keys {
			if prev, ok := m.keys[kr.KeyID]; ok {
				t.Errorf("key %s is reported twice: %s, then %s in report %d", kr.KeyID, prev.Outcome, kr.Outcome, i)
			}
			m.keys[kr.KeyID] = kr
		}
	}
	return m
}

// fltCheckCounts checks that every scanned key counts once in a report.
func fltCheckCounts(t *testing.T, r handler.Report) {
	t.Helper()
	sum := r.Compliant + r.Changed + r.Planned + r.Violating + r.Failed + r.Skipped
	if sum != r.Scanned || len(r.Keys) != r.Scanned-r.Compliant {
		t.Errorf("report counts: scanned %d, outcomes add to %d, %d keys listed for %d not compliant",
			r.Scanned, sum, len(r.Keys), r.Scanned-r.Compliant)
	}
}

// fltCheckCompliant re-evaluates the final state with the engine: a key
// that still needs changes must have been reported failed or skipped.
func fltCheckCompliant(t *testing.T, e *policy.Engine, state map[string]handler.Record, reported map[string]handler.KeyReport) {
	t.Helper()
	now := time.Now()
	for id, rec := range state {
		d := e.Evaluate(rec.Key, rec.Tags, now)
		if !d.HasChanges() {
			continue
		}
		if kr, ok := reported[id]; !ok || kr.Outcome != handler.OutcomeFailed && kr.Outcome != handler.OutcomeSkipped {
			t.Errorf("key %s (%s) still needs create %v delete %v; reported %+v", id, rec.Key.Alias, d.Create, d.Delete, kr)
		}
	}
}

// fltTargets derives, from the shipped policy files, which tag keys a rule
// targets: require and forbid name a tag, forbid_key gives a pattern.
func fltTargets(t *testing.T) func(tag string) bool {
	t.Helper()
	files, err := policy.PolicyFiles(policies.FS)
	if err != nil || len(files) == 0 {
		t.Fatalf("shipped policy files: %v (%d files)", err, len(files))
	}
	names := map[string]bool{}
	var patterns []*regexp.Regexp
	for _, f := range files {
		data, err := fs.ReadFile(policies.FS, f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Policies []struct {
				Rules []struct {
					Require   string `yaml:"require"`
					Forbid    string `yaml:"forbid"`
					ForbidKey string `yaml:"forbid_key"`
				} `yaml:"rules"`
			} `yaml:"policies"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range doc.Policies {
			for _, r := range p.Rules {
				switch {
				case r.Require != "":
					names[r.Require] = true
				case r.Forbid != "":
					names[r.Forbid] = true
				case r.ForbidKey != "":
					patterns = append(patterns, regexp.MustCompile(r.ForbidKey))
				default:
					t.Fatalf("%s: a rule with no require, forbid or forbid_key: update this test", f)
				}
			}
		}
	}
	if len(names) == 0 || len(patterns) == 0 {
		t.Fatalf("targets %v, %d patterns: the shipped policies changed, update this test", names, len(patterns))
	}
	return func(tag string) bool {
		if names[tag] {
			return true
		}
		for _, re := range patterns {
			if re.MatchString(tag) {
				return true
			}
		}
		return false
	}
}

// fltCheckOnlyTargets compares the final state with the seed: every tag
// added, removed or changed must be one a rule targets and one the reports
// list among that key's creates or deletes.
func fltCheckOnlyTargets(t *testing.T, seed []emulator.SeedKey, state map[string]handler.Record, reported map[string]handler.KeyReport) int {
	t.Helper()
	targeted := fltTargets(t)
	changed := 0
	for _, s := range seed {
		before := map[string]string{}
		for _, tg := range s.Tags {
			before[tg.Key] = tg.Value
		}
		after := state[s.ResourceID].Tags
		listed := map[string]bool{}
		for _, tg := range reported[s.ResourceID].Create {
			listed[tg.Key] = true
		}
		for _, tg := range reported[s.ResourceID].Delete {
			listed[tg.Key] = true
		}
		diff := map[string]bool{}
		for k, v := range before {
			if w, ok := after[k]; !ok || w != v {
				diff[k] = true
			}
		}
		for k := range after {
			if _, ok := before[k]; !ok {
				diff[k] = true
			}
		}
		for k := range diff {
			changed++
			if !targeted(k) {
				t.Errorf("key %s: tag %q changed (%q -> %q) though no rule targets it", s.ResourceID, k, before[k], after[k])
			}
			if !listed[k] {
				t.Errorf("key %s: tag %q changed (%q -> %q) but no report lists it", s.ResourceID, k, before[k], after[k])
			}
		}
	}
	return changed
}

// fltResume runs req and its continuations until none is left, each
// invocation with a context from newCtx and a fresh store from newStore.
func fltResume(t *testing.T, h *handler.Handler, req handler.Request, max int,
	newCtx func() (context.Context, context.CancelFunc), newStore func() handler.KeyStore) []handler.Report {
	t.Helper()
	var reps []handler.Report
	for i := 0; ; i++ {
		if i >= max {
			t.Fatalf("not done after %d invocations; last: %+v", max, reps[len(reps)-1].Error)
		}
		ctx, cancel := newCtx()
		rep := h.Handle(ctx, newStore(), req)
		cancel()
		reps = append(reps, rep)
		if rep.Continuation == "" {
			return reps
		}
		if rep.Error != "" {
			t.Logf("invocation %d stopped: %s", i, rep.Error)
		}
		req.Continuation = rep.Continuation
	}
}

// fltBatches counts the BatchCreateKmsTags calls a report's changes take.
func fltBatches(e *policy.Engine, keys map[string]handler.KeyReport, outcome handler.Outcome) int {
	n := 0
	for _, kr := range keys {
		if kr.Outcome == outcome {
			n += len(policy.Decision{Create: kr.Create, Delete: kr.Delete}.Batches(e.Limits().MaxBatch))
		}
	}
	return n
}

func TestFaultSweep(t *testing.T) {
	n := 2500
	if testing.Short() {
		n = 1000
	}
	e := shipped(t)
	k := fltStart(t, emulator.SampleKeys(n, 11))
	h := handler.New(e, handler.Config{Concurrency: 8}, nil)

	// Three keys that need changes answer 500 to every call on them: they
	// must be reported failed, and fixed by the next sweep.
	yes := true
	dry := h.Handle(fltCtx(t), k.fltStore(t, nil, nil), handler.Request{Mode: handler.ModeSweep, DryRun: &yes})
	broken := map[string]int{}
	for _, kr := range dry.Keys {
		if kr.Outcome == handler.OutcomePlanned && len(broken) < 3 {
			broken[kr.KeyID] = http.StatusInternalServerError
		}
	}
	if len(broken) != 3 || dry.Error != "" {
		t.Fatalf("dry run: %d keys planned, error %q", dry.Planned, dry.Error)
	}
	k.srv.ResetStats()

	// Throttling: the emulator allows 1500 calls a second with a burst of
	// 5, the adapter's limiter lets through a third more. Then 2% each of
	// 500, 502, 504 and dropped connections, and a 25 ms latency spike for
	// 20 ms of every 100 ms.
	calm := emulator.Faults{RateLimit: 1500, Burst: 5, Rate500: 0.02, Rate502: 0.02, Rate504: 0.02, DropRate: 0.02, FailKeys: broken}
	spike := calm
	spike.Latency = 25 * time.Millisecond
	k.srv.SetFaults(calm)
	stop := make(chan struct{})
	var spikes sync.WaitGroup
	spikes.Add(1)
	go func() {
		defer spikes.Done()
		for i := 0; ; i++ {
			f, d := calm, 80*time.Millisecond
			if i%2 == 1 {
				f, d = spike, 20*time.Millisecond
			}
			f.Seed = uint64(i + 1)
			k.srv.SetFaults(f)
			select {
			case <-stop:
				return
			case <-time.After(d):
			}
		}
	}()

	tr := newFltTransport()
	tr.slowOver = spike.Latency
	lim := rate.NewLimiter(2000, 4)
	start := time.Now()
	reps := fltResume(t, h, handler.Request{Mode: handler.ModeSweep}, 5,
		func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), fltTimeout)
		},
		func() handler.KeyStore { return k.fltStore(t, tr, lim) })
	close(stop)
	spikes.Wait()
	k.srv.SetFaults(emulator.Faults{})
	st := k.srv.Stats()
	m := fltMerge(t, reps)
	t.Logf("%d keys in %s, %d invocations, %d calls: %d throttled, %d 5xx, %d dropped, %d slowed by a spike; %d keys failed",
		n, time.Since(start), len(reps), tr.calls.Load(), st.Status[429], st.Status[500]+st.Status[502]+st.Status[504], st.Status[0], tr.slow.Load(), fltCount(m, handler.OutcomeFailed))

	// The faults happened.
	if st.Status[429] == 0 || st.Status[500] == 0 || st.Status[502] == 0 || st.Status[504] == 0 || st.Status[0] == 0 {
		t.Errorf("not every fault was injected: answers by status %v", st.Status)
	}
	if tr.slow.Load() == 0 {
		t.Errorf("no call took the %s of a latency spike", spike.Latency)
	}
	if m.scanned != n {
		t.Errorf("scanned %d keys, want %d", m.scanned, n)
	}
	// Retries absorb the random faults: at most 1% of the keys may fail,
	// and the broken ones must.
	if f := fltCount(m, handler.OutcomeFailed); f > n/100 {
		t.Errorf("%d keys failed, want at most %d", f, n/100)
	}
	for id := range broken {
		if kr := m.keys[id]; kr.Outcome != handler.OutcomeFailed {
			t.Errorf("key %s answering 500 to every call: %+v, want failed", id, kr)
		}
	}
	for id, kr := range m.keys {
		if kr.Outcome != handler.OutcomeFailed {
			continue
		}
		if kr.Error == "" || fltNotAFault.MatchString(kr.Error) {
			t.Errorf("key %s failed with %q, want the error of an injected fault", id, kr.Error)
		}
		// Throttling is retried until the gateway lets the call through:
		// it never surfaces as a failure.
		if _, isBroken := broken[id]; !isBroken && fltThrottled.MatchString(kr.Error) {
			t.Errorf("key %s failed with %q: a throttled call surfaced as a failure", id, kr.Error)
		}
	}

	state := k.fltState(t)
	fltCheckCompliant(t, e, state, m.keys)
	if c := fltCheckOnlyTargets(t, k.seed, state, m.keys); c == 0 {
		t.Error("no tag changed")
	}
	// The emulator refused no write as invalid: every rejected write was a
	// 429 of the rate limit.
	ws := tr.writeStatuses()
	invalid := 0
	for status, c := range ws {
		if status >= 400 && status < 500 && status != http.StatusTooManyRequests {
			invalid += c
		}
	}
	if invalid != 0 || st.RejectedWrites != ws[http.StatusTooManyRequests] {
		t.Errorf("writes answered %v; emulator counts %d rejected; want no 4xx but 429 and the two counts equal", ws, st.RejectedWrites)
	}

	// A second sweep without faults writes only for the keys that failed.
	k.srv.ResetStats()
	again := h.Handle(fltCtx(t), k.fltStore(t, nil, nil), handler.Request{Mode: handler.ModeSweep})
	fltCheckCounts(t, again)
	if again.Error != "" || again.Continuation != "" || again.Scanned != n || again.Failed != 0 {
		t.Fatalf("second sweep: scanned %d failed %d error %q", again.Scanned, again.Failed, again.Error)
	}
	second := fltMerge(t, []handler.Report{again})
	for id, kr := range second.keys {
		if kr.Outcome == handler.OutcomeChanged && m.keys[id].Outcome != handler.OutcomeFailed {
			t.Errorf("second sweep changed key %s (%+v / %+v), which the first reported %s", id, kr.Create, kr.Delete, m.keys[id].Outcome)
		}
	}
	for id := range broken {
		if kr := second.keys[id]; kr.Outcome != handler.OutcomeChanged {
			t.Errorf("second sweep: key %s that failed before: %+v, want changed", id, kr)
		}
	}
	if got, want := k.srv.Stats().Writes, fltBatches(e, second.keys, handler.OutcomeChanged); got != want {
		t.Errorf("second sweep wrote %d times, want %d (the failed keys' batches)", got, want)
	}
	fltCheckCompliant(t, e, k.fltState(t), second.keys)
}

// fltDecisions is a logrus hook counting the handler's key decisions
// (the entries "key compliant", "key changed", ... with a key_id) by key id.
type fltDecisions struct {
	mu sync.Mutex
	n  map[string]int
}

func (d *fltDecisions) Levels() []logrus.Level { return logrus.AllLevels }

func (d *fltDecisions) Fire(e *logrus.Entry) error {
	id, ok := e.Data["key_id"].(string)
	if !ok || !strings.HasPrefix(e.Message, "key ") {
		return nil
	}
	d.mu.Lock()
	d.n[id]++
	d.mu.Unlock()
	return nil
}

// fltThrottled matches the error of a call the gateway throttled.
var fltThrottled = regexp.MustCompile(`(?i)throttl|APIG\.0308|http 429`)

// fltNotAFault matches errors that no injected fault explains.
var fltNotAFault = regexp.MustCompile(`(?i)invalid|denied|authentication|permission|not found|internal error`)

func fltCount(m fltReports, o handler.Outcome) int {
	n := 0
	for _, kr := range m.keys {
		if kr.Outcome == o {
			n++
		}
	}
	return n
}

// fltReference runs one plain sweep over the same seed on another
// emulator: the final state every other run must reach.
// It also returns how many calls and how many writes that sweep made.
func fltReference(t *testing.T, seed []emulator.SeedKey) ([]emulator.SeedKey, int, int) {
	t.Helper()
	ref := fltStart(t, seed)
	rep := handler.New(shipped(t), handler.Config{}, nil).Handle(fltCtx(t), ref.fltStore(t, nil, nil), handler.Request{Mode: handler.ModeSweep})
	if rep.Error != "" || rep.Continuation != "" || rep.Scanned != len(seed) || rep.Failed != 0 {
		t.Fatalf("reference sweep: scanned %d failed %d error %q", rep.Scanned, rep.Failed, rep.Error)
	}
	st := ref.srv.Stats()
	calls := 0
	for _, c := range st.Calls {
		calls += c
	}
	return ref.srv.Keys(""), calls, st.Writes
}

func TestFaultConcurrentInvocations(t *testing.T) {
	n := 1500
	if testing.Short() {
		n = 600
	}
	e := shipped(t)
	seed := emulator.SampleKeys(n, 23)
	want, _, _ := fltReference(t, seed)
	k := fltStart(t, seed)
	k.srv.SetFaults(emulator.Faults{Latency: time.Millisecond})

	// A sweep, and at the same time six key events of 100 keys each,
	// overlapping each other and the sweep, each with its own store.
	const events, perEvent = 6, 100
	rng := rand.New(rand.NewPCG(3, 4))
	var wg sync.WaitGroup
	reps := make([]handler.Report, events+1)
	h := handler.New(e, handler.Config{Concurrency: 4}, nil)
	wg.Add(events + 1)
	go func() {
		defer wg.Done()
		reps[0] = h.Handle(fltCtx(t), k.fltStore(t, nil, nil), handler.Request{Mode: handler.ModeSweep})
	}()
	for i := 1; i <= events; i++ {
		ids := make([]string, perEvent)
		for j := range ids {
			ids[j] = seed[rng.IntN(n)].ResourceID
		}
		go func() {
			defer wg.Done()
			reps[i] = h.Handle(fltCtx(t), k.fltStore(t, nil, nil), handler.Request{Mode: handler.ModeKeys, KeyIDs: ids, Trigger: "cts"})
		}()
	}
	wg.Wait()

	changed := 0
	for i, r := range reps {
		fltCheckCounts(t, r)
		if r.Error != "" || r.Continuation != "" || r.Failed != 0 {
			t.Errorf("invocation %d: scanned %d failed %d error %q", i, r.Scanned, r.Failed, r.Error)
		}
		changed += r.Changed
	}
	if reps[0].Scanned != n {
		t.Errorf("sweep scanned %d keys, want %d", reps[0].Scanned, n)
	}
	// The invocations really ran at once: each key event overlaps the sweep.
	for i, r := range reps[1:] {
		if !r.Started.Before(reps[0].Finished) || !reps[0].Started.Before(r.Finished) {
			t.Errorf("key event %d ran %s..%s, the sweep %s..%s: not at the same time", i+1,
				r.Started.Format(time.StampMicro), r.Finished.Format(time.StampMicro), reps[0].Started.Format(time.StampMicro), reps[0].Finished.Format(time.StampMicro))
		}
	}
	t.Logf("%d keys: %d changes reported by %d concurrent invocations", n, changed, len(reps))
	// No tag lost or added beyond the one plain sweep: the same final state.
	if diff := cmp.Diff(want, k.srv.Keys("")); diff != "" {
		t.Errorf("final state differs from one plain sweep's (-plain +concurrent):\n%s", diff)
	}
	merged := map[string]handler.KeyReport{}
	for _, r := range reps {
		for _, kr := range r.Keys {
			if _, ok := merged[kr.KeyID]; !ok || kr.Outcome == handler.OutcomeSkipped {
				merged[kr.KeyID] = kr
			}
		}
	}
	fltCheckCompliant(t, e, k.fltState(t), merged)
}

func TestFaultDeadlineResume(t *testing.T) {
	n := 1200
	if testing.Short() {
		n = 500
	}
	e := shipped(t)
	seed := emulator.SampleKeys(n, 31)
	want, _, wantWrites := fltReference(t, seed)
	k := fltStart(t, seed)
	// Every call takes 2 ms, so a deadline cuts calls in flight.
	k.srv.SetFaults(emulator.Faults{Latency: 2 * time.Millisecond})

	// Invocations of 10 to 70 ms, with a margin of 0 to 15 ms: the cut
	// falls anywhere, in the listing, between keys, or inside a key's calls.
	rng := rand.New(rand.NewPCG(5, 6))
	var windows []time.Duration
	// The handler logs one entry per key decision, compliant keys
	// included (at debug level): the hook counts them by key id.
	decided := &fltDecisions{n: map[string]int{}}
	log := logrus.New()
	log.SetOutput(io.Discard)
	log.SetLevel(logrus.DebugLevel)
	log.AddHook(decided)
	hs := map[time.Duration]*handler.Handler{}
	handlerFor := func(margin time.Duration) *handler.Handler {
		if hs[margin] == nil {
			hs[margin] = handler.New(e, handler.Config{Concurrency: 4, Margin: margin}, log)
		}
		return hs[margin]
	}
	var reps []handler.Report
	req := handler.Request{Mode: handler.ModeSweep}
	start := time.Now()
	// stretch doubles the windows while invocations make no progress (a
	// window shorter than reading one listing page, on a slow machine).
	stretch := time.Duration(1)
	for i := 0; ; i++ {
		if i > 500 {
			t.Fatal("not done after 500 invocations")
		}
		window := time.Duration(10+rng.IntN(60)) * time.Millisecond * stretch
		margin := time.Duration(rng.IntN(4)) * 5 * time.Millisecond
		windows = append(windows, window)
		ctx, cancel := context.WithTimeout(context.Background(), window)
		rep := handlerFor(margin).Handle(ctx, k.fltStore(t, nil, nil), req)
		cancel()
		reps = append(reps, rep)
		// A window spent entirely listing says so; anything else is a bug.
		if rep.Error != "" && !strings.HasPrefix(rep.Error, "no time to work") {
			t.Fatalf("invocation %d (%s, margin %s): %s", i, window, margin, rep.Error)
		}
		if rep.Scanned == 0 {
			stretch = min(stretch*2, 64)
		} else {
			stretch = 1
		}
		if rep.Continuation == "" {
			break
		}
		req.Continuation = rep.Continuation
	}
	m := fltMerge(t, reps) // fails on a key reported twice
	t.Logf("%d keys in %d invocations, %s", n, len(reps), time.Since(start))
	if len(reps) < 4 {
		t.Errorf("the sweep was cut %d times, want several", len(reps)-1)
	}
	// Every key processed exactly once: scanned adds up to the key count,
	// and the compliant ones plus the distinct reported ones cover it.
	if m.scanned != n || m.compliant+len(m.keys) != n {
		t.Errorf("scanned %d, compliant %d + reported %d; want %d keys once each", m.scanned, m.compliant, len(m.keys), n)
	}
	// Each key, compliant ones included, was decided in exactly one
	// invocation.
	decided.mu.Lock()
	for _, sk := range seed {
		if c := decided.n[sk.ResourceID]; c != 1 {
			t.Errorf("key %s decided %d times over the invocations, want once", sk.ResourceID, c)
		}
	}
	if len(decided.n) != n {
		t.Errorf("%d distinct keys decided, want %d", len(decided.n), n)
	}
	decided.mu.Unlock()
	// Each write the sweep needs happened once: no batch written twice
	// across a cut, none lost.
	if got := k.srv.Stats().Writes; got != wantWrites {
		t.Errorf("the cut sweeps wrote %d times, an uncut sweep %d", got, wantWrites)
	}
	if f := fltCount(m, handler.OutcomeFailed); f != 0 {
		t.Errorf("%d keys failed", f)
	}
	if diff := cmp.Diff(want, k.srv.Keys("")); diff != "" {
		t.Errorf("final state differs from an uncut sweep's (-uncut +cut):\n%s", diff)
	}
	fltCheckCompliant(t, e, k.fltState(t), m.keys)
}

func TestFaultCredentialsExpire(t *testing.T) {
	n := 1500
	if testing.Short() {
		n = 600
	}
	e := shipped(t)
	seed := emulator.SampleKeys(n, 43)
	want, calls, _ := fltReference(t, seed)
	k := fltStart(t, seed)

	// The credentials expire after 40% of the calls a sweep makes: from then
	// on every call is answered 401, as KMS answers expired temporary
	// credentials.
	expireAfter := int64(calls * 4 / 10)
	tr := newFltTransport()
	var after atomic.Int64
	tr.before = func(n int64) {
		if n == expireAfter+1 {
			k.srv.SetFaults(emulator.Faults{Unauthorized: true})
		}
		if n > expireAfter {
			after.Add(1)
		}
	}
	cfg := handler.Config{Concurrency: 4}
	h := handler.New(e, cfg, nil)
	rep := h.Handle(fltCtx(t), k.fltStore(t, tr, nil), handler.Request{Mode: handler.ModeSweep})
	fltCheckCounts(t, rep)
	st := k.srv.Stats()
	t.Logf("stopped after %d calls (%d after expiry): scanned %d, error %q", tr.calls.Load(), after.Load(), rep.Scanned, rep.Error)

	// It says so, stops, and hands over the rest.
	if !strings.Contains(rep.Error, "access denied") || !strings.Contains(rep.Error, "credentials") || !strings.Contains(rep.Error, "authentication") {
		t.Errorf("report error %q: want access denied, naming the credentials and the authentication failure", rep.Error)
	}
	if rep.Continuation == "" || rep.Scanned >= n {
		t.Fatalf("scanned %d of %d, continuation %t: want a continuation for the rest", rep.Scanned, n, rep.Continuation != "")
	}
	// Once a call is refused no new key starts: only the calls already
	// under way, or starting while the first 401 travels back (about one
	// per worker, and the listing's), meet the 401 — not the rest of the
	// sweep's calls.
	if a, limit := after.Load(), int64(2*cfg.Concurrency+2); a > limit {
		t.Errorf("%d calls after the credentials expired, want at most %d (the sweep needed %d more)", a, limit, int64(calls)-expireAfter)
	}
	if st.Status[401] == 0 || st.Writes == 0 {
		t.Errorf("answers %v, %d writes: want writes before the expiry and 401s after", st.Status, st.Writes)
	}
	for _, kr := range rep.Keys {
		if kr.Outcome == handler.OutcomeFailed {
			t.Errorf("key %s reported failed (%s): a key cut by the expiry belongs in the continuation", kr.KeyID, kr.Error)
		}
	}

	// New credentials: resuming completes, with nothing lost.
	k.srv.SetFaults(emulator.Faults{})
	reps := append([]handler.Report{rep}, fltResume(t, h, handler.Request{Mode: handler.ModeSweep, Continuation: rep.Continuation}, 3,
		func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), fltTimeout)
		},
		func() handler.KeyStore { return k.fltStore(t, nil, nil) })...)
	m := fltMerge(t, reps)
	if m.scanned != n || m.compliant+len(m.keys) != n {
		t.Errorf("scanned %d, compliant %d + reported %d; want %d keys once each", m.scanned, m.compliant, len(m.keys), n)
	}
	if diff := cmp.Diff(want, k.srv.Keys("")); diff != "" {
		t.Errorf("final state differs from an uninterrupted sweep's (-uninterrupted +resumed):\n%s", diff)
	}
	fltCheckCompliant(t, e, k.fltState(t), m.keys)
}
