package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/handlertest"
)

// TestRateLimitAtTheDeadline: when the function's own rate limit leaves
// no room for a key's call before the deadline (a slow rate, many
// workers, a short window), the key is cut by the deadline, not failed:
// it goes to the continuation, and following the continuations decides
// every key once with nothing failed.
func TestRateLimitAtTheDeadline(t *testing.T) {
	const n = 60
	k, want, _, _ := fltSetup(t, n, 77, emulator.Options{})
	h := handler.New(shipped(t), handler.Config{ContinuationKey: testContinuationKey, Concurrency: 16, Margin: 400 * time.Millisecond}, nil)
	newStore := func() handler.KeyStore {
		return k.Store(t, func(cfg *huaweikms.Config) {
			cfg.Pacer = huaweikms.NewPacer(10) // one call every 100 ms, shared by 16 workers
		})
	}
	var reps []handler.Report
	req := handler.Request{Mode: handler.ModeSweep}
	for i := 0; ; i++ {
		if i > 100 {
			t.Fatal("not done after 100 invocations")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		rep := h.Handle(ctx, newStore(), req)
		cancel()
		handlertest.CheckCounts(t, rep)
		if rep.ErrorKind == handler.KindNoTime {
			continue
		}
		if rep.Error != "" {
			t.Fatalf("invocation %d: %s", i, rep.Error)
		}
		reps = append(reps, rep)
		for _, kr := range rep.Keys {
			if kr.Outcome == handler.OutcomeFailed {
				t.Errorf("invocation %d: key %s failed (%s): a key cut by the deadline belongs in the continuation", i, kr.KeyID, kr.Error)
			}
		}
		if rep.Continuation == "" {
			break
		}
		req.Continuation = rep.Continuation
	}
	m := fltMerge(t, reps)
	t.Logf("%d keys in %d invocations", n, len(reps))
	if len(reps) < 3 {
		t.Errorf("the sweep was cut %d times, want several", len(reps)-1)
	}
	if m.scanned != n || m.compliant+len(m.keys) != n {
		t.Errorf("scanned %d, compliant %d + reported %d; want %d keys once each", m.scanned, m.compliant, len(m.keys), n)
	}
	if diff := cmp.Diff(want, k.Server.Keys("")); diff != "" {
		t.Errorf("final state differs from an uncut sweep's (-uncut +cut):\n%s", diff)
	}
}
