package e2e_test

// Fault tests: sweeps of thousands of keys through the real KMS adapter
// (huaweikms, the official SDK, signed requests) against the emulator over
// loopback while it injects throttling, server errors, latency spikes and
// dropped connections, and while several invocations run at once. Each
// test is bounded to a few seconds on two cores.

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/handlertest"
)

func TestFaultSweep(t *testing.T) {
	n := 2500
	if testing.Short() {
		n = 1000
	}
	e := shipped(t)
	k := fltStart(t, emulator.SampleKeys(n, 11))
	h := handler.New(e, handler.Config{ContinuationKey: testContinuationKey, Concurrency: 8}, nil)

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
	k.Server.ResetStats()

	// Throttling: the emulator allows 1500 calls a second with a burst of
	// 5, the adapter's limiter lets through a third more. Then 2% each of
	// 500, 502, 504 and dropped connections, and a 25 ms latency spike for
	// 20 ms of every 100 ms.
	calm := emulator.Faults{RateLimit: 1500, Burst: 5, Rate500: 0.02, Rate502: 0.02, Rate504: 0.02, DropRate: 0.02, FailKeys: broken}
	spike := calm
	spike.Latency = 25 * time.Millisecond
	k.Server.SetFaults(calm)
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
			k.Server.SetFaults(f)
			select {
			case <-stop:
				return
			case <-time.After(d):
			}
		}
	}()

	tr := newFltTransport()
	tr.slowOver = spike.Latency
	lim := huaweikms.NewPacer(2000)
	start := time.Now()
	reps := fltResume(t, h, handler.Request{Mode: handler.ModeSweep}, 5,
		func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), fltTimeout)
		},
		func() handler.KeyStore { return k.fltStore(t, tr, lim) })
	close(stop)
	spikes.Wait()
	k.Server.SetFaults(emulator.Faults{})
	st := k.Server.Stats()
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
	k.Server.ResetStats()
	again := h.Handle(fltCtx(t), k.fltStore(t, nil, nil), handler.Request{Mode: handler.ModeSweep})
	handlertest.CheckCounts(t, again)
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
	if got, want := k.Server.Stats().Writes, fltBatches(e, second.keys, handler.OutcomeChanged); got != want {
		t.Errorf("second sweep wrote %d times, want %d (the failed keys' batches)", got, want)
	}
	fltCheckCompliant(t, e, k.fltState(t), second.keys)
}

func TestFaultConcurrentInvocations(t *testing.T) {
	n := 1500
	if testing.Short() {
		n = 600
	}
	e := shipped(t)
	k, want, _, _ := fltSetup(t, n, 23, emulator.Options{})
	k.Server.SetFaults(emulator.Faults{Latency: time.Millisecond})

	// A sweep, and at the same time six key events of 100 keys each,
	// overlapping each other and the sweep, each with its own store.
	const events, perEvent = 6, 100
	rng := rand.New(rand.NewPCG(3, 4))
	var wg sync.WaitGroup
	reps := make([]handler.Report, events+1)
	h := handler.New(e, handler.Config{ContinuationKey: testContinuationKey, Concurrency: 4}, nil)
	wg.Add(events + 1)
	go func() {
		defer wg.Done()
		reps[0] = h.Handle(fltCtx(t), k.fltStore(t, nil, nil), handler.Request{Mode: handler.ModeSweep})
	}()
	for i := 1; i <= events; i++ {
		ids := make([]string, perEvent)
		for j := range ids {
			ids[j] = k.seed[rng.IntN(n)].ResourceID
		}
		go func() {
			defer wg.Done()
			reps[i] = h.Handle(fltCtx(t), k.fltStore(t, nil, nil), handler.Request{Mode: handler.ModeKeys, KeyIDs: ids, Trigger: "cts"})
		}()
	}
	wg.Wait()

	changed := 0
	for i, r := range reps {
		handlertest.CheckCounts(t, r)
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
	if diff := cmp.Diff(want, k.Server.Keys("")); diff != "" {
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
