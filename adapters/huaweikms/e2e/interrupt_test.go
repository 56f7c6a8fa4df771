package e2e_test

// Sweeps cut short, through the real KMS adapter against the emulator:
// by deadlines falling anywhere (in the listing, between keys, inside a
// key's calls) in every listing mode, and by credentials expiring mid-sweep;
// each resumed with its continuations to the state of an uncut sweep.

import (
	"context"
	"io"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/handlertest"
)

func TestFaultDeadlineResume(t *testing.T) {
	for _, mode := range listingModes {
		t.Run(mode.name, func(t *testing.T) { testDeadlineResume(t, mode.opts) })
	}
}

func testDeadlineResume(t *testing.T, opts emulator.Options) {
	n := 1200
	if testing.Short() {
		n = 500
	}
	e := shipped(t)
	k, want, _, wantWrites := fltSetup(t, n, 31, opts)
	// Every call takes 2 ms, so a deadline cuts calls in flight.
	k.Server.SetFaults(emulator.Faults{Latency: 2 * time.Millisecond})

	// Invocations of 10 to 50 ms, with a margin of 0 to 15 ms: the cut
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
			hs[margin] = handler.New(e, handler.Config{ContinuationKey: testContinuationKey, Concurrency: 4, Margin: margin}, log)
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
		window := time.Duration(10+rng.IntN(40)) * time.Millisecond * stretch
		margin := time.Duration(rng.IntN(4)) * 5 * time.Millisecond
		windows = append(windows, window)
		ctx, cancel := context.WithTimeout(context.Background(), window)
		rep := handlerFor(margin).Handle(ctx, k.fltStore(t, nil, nil), req)
		cancel()
		// A window spent entirely listing says so, and hands back no
		// continuation: the same request goes again, with more time.
		if rep.ErrorKind == handler.KindNoTime {
			if rep.Continuation != "" || rep.Scanned != 0 {
				t.Fatalf("invocation %d: no time to work, but %s", i, rep.Reason)
			}
			stretch = min(stretch+1, 64) // a little more time, not so much as to do it all
			continue
		}
		reps = append(reps, rep)
		if rep.Error != "" {
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
	for _, sk := range k.seed {
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
	if got := k.Server.Stats().Writes; got != wantWrites {
		t.Errorf("the cut sweeps wrote %d times, an uncut sweep %d", got, wantWrites)
	}
	if f := fltCount(m, handler.OutcomeFailed); f != 0 {
		t.Errorf("%d keys failed", f)
	}
	if diff := cmp.Diff(want, k.Server.Keys("")); diff != "" {
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
	k, want, calls, _ := fltSetup(t, n, 43, emulator.Options{})

	// The credentials expire after 40% of the calls a sweep makes: from then
	// on every call is answered 401, as KMS answers expired temporary
	// credentials.
	expireAfter := int64(calls * 4 / 10)
	tr := newFltTransport()
	var after atomic.Int64
	tr.before = func(n int64) {
		if n == expireAfter+1 {
			k.Server.SetFaults(emulator.Faults{Unauthorized: true})
		}
		if n > expireAfter {
			after.Add(1)
		}
	}
	cfg := handler.Config{Concurrency: 4}
	h := handler.New(e, cfg, nil)
	rep := h.Handle(fltCtx(t), k.fltStore(t, tr, nil), handler.Request{Mode: handler.ModeSweep})
	handlertest.CheckCounts(t, rep)
	st := k.Server.Stats()
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
	k.Server.SetFaults(emulator.Faults{})
	reps := append([]handler.Report{rep}, fltResume(t, h, handler.Request{Mode: handler.ModeSweep, Continuation: rep.Continuation}, 3,
		func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), fltTimeout)
		},
		func() handler.KeyStore { return k.fltStore(t, nil, nil) })...)
	m := fltMerge(t, reps)
	if m.scanned != n || m.compliant+len(m.keys) != n {
		t.Errorf("scanned %d, compliant %d + reported %d; want %d keys once each", m.scanned, m.compliant, len(m.keys), n)
	}
	if diff := cmp.Diff(want, k.Server.Keys("")); diff != "" {
		t.Errorf("final state differs from an uninterrupted sweep's (-uninterrupted +resumed):\n%s", diff)
	}
	fltCheckCompliant(t, e, k.fltState(t), m.keys)
}
