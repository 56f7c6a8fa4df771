package handler_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/handlertest"
	"github.com/tagwarden/tagwarden/handler/memstore"
)

// TestRunLinksAndTotals: in a run, every continuation carries the run id
// and the next link's number, and the totals of the target's sweep so far;
// the last report's totals are the sum of every link's counts.
func TestRunLinksAndTotals(t *testing.T) {
	s := newStore(120, 10)
	cfg := handler.DefaultConfig()
	cfg.MaxReportKeys = 25 // cut the sweep into several links
	h, _ := newHandler(t, cfg)
	req := handler.Request{Mode: handler.ModeSweep, Run: "run-1", Link: 1}
	var sum handler.Counts
	var reps []handler.Report
	for link := 1; ; link++ {
		if link > 100 {
			t.Fatal("no end after 100 links")
		}
		rep := h.Handle(context.Background(), s, req)
		if rep.Error != "" {
			t.Fatalf("link %d: %s", link, rep.Error)
		}
		if rep.Run != "run-1" || rep.Link != link {
			t.Fatalf("link %d: report says run %q link %d", link, rep.Run, rep.Link)
		}
		sum = sum.Add(rep.Counts())
		if rep.Totals == nil || !cmp.Equal(*rep.Totals, sum) {
			t.Fatalf("link %d: totals %+v, want %+v", link, rep.Totals, sum)
		}
		reps = append(reps, rep)
		if rep.Continuation == "" {
			break
		}
		req = handler.Request{Mode: handler.ModeSweep, Run: "run-1", Link: link + 1, Continuation: rep.Continuation}
	}
	if len(reps) < 3 || sum.Scanned != 120 {
		t.Fatalf("%d links, %d keys scanned: want several links and 120 keys", len(reps), sum.Scanned)
	}
	finalCheck(t, s, handlertest.ByID(mergedKeys(reps)))
}

// TestRunContinuationBound: a chain's continuation only starts the link it
// was issued for: another link number or run is refused, a token without a
// run cannot be joined to one, and a person may resume the chain's token
// without naming the run (the token's run and link are taken).
func TestRunContinuationBound(t *testing.T) {
	s := newStore(60, 10)
	cfg := handler.DefaultConfig()
	cfg.MaxReportKeys = 20
	h, _ := newHandler(t, cfg)
	first := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep, Run: "r", Link: 1})
	plain := h.Handle(context.Background(), newStore(60, 10), handler.Request{Mode: handler.ModeSweep})
	if first.Continuation == "" || plain.Continuation == "" {
		t.Fatal("want cut sweeps")
	}
	for _, tc := range []struct {
		name string
		req  handler.Request
		kind handler.ErrorKind
		link int
	}{
		{"next link", handler.Request{Mode: handler.ModeSweep, Run: "r", Link: 2, Continuation: first.Continuation}, "", 2},
		{"replayed as link 1", handler.Request{Mode: handler.ModeSweep, Run: "r", Link: 1, Continuation: first.Continuation}, handler.KindInvalidContinuation, 0},
		{"skipped ahead", handler.Request{Mode: handler.ModeSweep, Run: "r", Link: 7, Continuation: first.Continuation}, handler.KindInvalidContinuation, 0},
		{"another run", handler.Request{Mode: handler.ModeSweep, Run: "x", Link: 2, Continuation: first.Continuation}, handler.KindInvalidContinuation, 0},
		{"token of no run joined to one", handler.Request{Mode: handler.ModeSweep, Run: "r", Link: 2, Continuation: plain.Continuation}, handler.KindInvalidContinuation, 0},
		{"resumed by hand", handler.Request{Mode: handler.ModeSweep, Continuation: first.Continuation}, "", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := s
			if tc.name == "token of no run joined to one" {
				st = newStore(60, 10)
			}
			rep := h.Handle(context.Background(), st, tc.req)
			if rep.ErrorKind != tc.kind {
				t.Fatalf("error %q (%s), want kind %q", rep.Error, rep.ErrorKind, tc.kind)
			}
			if tc.kind == "" && (rep.Run != "r" || rep.Link != tc.link) {
				t.Errorf("run %q link %d, want r %d", rep.Run, rep.Link, tc.link)
			}
			if tc.kind != "" && rep.Scanned != 0 {
				t.Errorf("refused request scanned %d keys", rep.Scanned)
			}
		})
	}
}

// TestStaleContinuationKeepsRun: a token of this deployment issued under
// another policy set is stale, not forged: the report says so with its own
// kind and the run and link the token carries, so that the chain can
// restart its target from there.
func TestStaleContinuationKeepsRun(t *testing.T) {
	s := newStore(60, 10)
	cfg := handler.DefaultConfig()
	cfg.MaxReportKeys = 20
	cfg.ContinuationKey = []byte("0123456789abcdef0123456789abcdef")
	h, _ := newHandler(t, cfg)
	rep := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep, Run: "r", Link: 1})
	if rep.Continuation == "" || rep.Link != 1 {
		t.Fatalf("want a cut link 1, got link %d", rep.Link)
	}
	other := memstore.New(memstore.Options{Scope: "another endpoint"})
	got := h.Handle(context.Background(), other, handler.Request{Mode: handler.ModeSweep, Run: "r", Link: 2, Continuation: rep.Continuation})
	if got.ErrorKind != handler.KindStaleContinuation || got.Run != "r" || got.Link != 2 || got.Scanned != 0 {
		t.Fatalf("got %q (%s) run %q link %d scanned %d; want stale_continuation, run r link 2, nothing done", got.Error, got.ErrorKind, got.Run, got.Link, got.Scanned)
	}
	// A stale token is still bound to its link: a payload naming another
	// is refused, not restarted; so is one of another mode or dry run.
	for _, req := range []handler.Request{
		{Mode: handler.ModeSweep, Run: "forged", Link: 7, Continuation: rep.Continuation},
		{Mode: handler.ModeSweep, Run: "r", Link: 3, Continuation: rep.Continuation},
		{Mode: handler.ModeSweep, Run: "r", Link: 2, DryRun: ptr(true), Continuation: rep.Continuation},
	} {
		got := h.Handle(context.Background(), other, req)
		if got.ErrorKind != handler.KindInvalidContinuation || got.Scanned != 0 {
			t.Errorf("%+v: got %q (%s), want invalid_continuation", req, got.Error, got.ErrorKind)
		}
	}
	// Only a continuation starts a later link; a restart may.
	got = h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep, Run: "r", Link: 50})
	if got.ErrorKind != handler.KindInvalidRequest || got.Scanned != 0 || got.Run != "r" || got.Link != 50 {
		t.Errorf("link 50 without a continuation: got %q (%s), want invalid_request", got.Error, got.ErrorKind)
	}
	got = h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep, Run: "r", Link: 2, Restart: true})
	if got.Error != "" || got.Link != 2 || got.Scanned == 0 {
		t.Errorf("a restart of link 2: got %q, link %d, %d scanned", got.Error, got.Link, got.Scanned)
	}
}

// TestContinuationBoundToTarget: a link's token names its target: a
// request for another target is refused as invalid (not restarted as
// stale), even on a store whose scope differs too.
func TestContinuationBoundToTarget(t *testing.T) {
	cfg := handler.DefaultConfig()
	cfg.MaxReportKeys = 20
	h, _ := newHandler(t, cfg)
	rep := h.Handle(context.Background(), newStore(60, 10), handler.Request{Mode: handler.ModeSweep, Run: "r", Link: 1, Target: "ap-southeast-1/a"})
	if rep.Continuation == "" {
		t.Fatal("want a cut link")
	}
	other := memstore.New(memstore.Options{Scope: "project b"})
	for _, req := range []handler.Request{
		{Mode: handler.ModeSweep, Run: "r", Link: 2, Target: "ap-southeast-1/b", Continuation: rep.Continuation},
		{Mode: handler.ModeSweep, Target: "ap-southeast-1/b", Continuation: rep.Continuation},
	} {
		got := h.Handle(context.Background(), other, req)
		if got.ErrorKind != handler.KindInvalidContinuation || !strings.Contains(got.Error, "target ap-southeast-1/a") || got.Scanned != 0 {
			t.Errorf("%+v: got %q (%s), want invalid_continuation naming the token's target", req, got.Error, got.ErrorKind)
		}
	}
}

// TestPoliciesCounted: a report counts, per policy, the keys with a
// violation of it that the request did not fix, and a run's totals carry
// those counts from link to link.
func TestPoliciesCounted(t *testing.T) {
	for _, dry := range []bool{true, false} {
		s := newStore(120, 10)
		cfg := handler.DefaultConfig()
		cfg.MaxReportKeys = 25
		h, _ := newHandler(t, cfg)
		req := handler.Request{Mode: handler.ModeSweep, Run: "run-p", Link: 1, DryRun: &dry}
		var last handler.Report
		want := map[string]int{}
		for link := 1; link < 100; link++ {
			rep := h.Handle(context.Background(), s, req)
			if rep.Error != "" {
				t.Fatalf("dry %v, link %d: %s", dry, link, rep.Error)
			}
			own := map[string]int{}
			for _, k := range rep.Keys {
				seen := map[string]bool{}
				for _, v := range k.Violations {
					fixed := v.Remediated && k.Outcome == handler.OutcomeChanged
					if !fixed && !seen[v.Policy] {
						seen[v.Policy] = true
						own[v.Policy]++
						want[v.Policy]++
					}
				}
			}
			if len(own) == 0 && len(rep.Policies) == 0 {
				own = nil
			}
			if !cmp.Equal(rep.Policies, own, cmpopts.EquateEmpty()) {
				t.Errorf("dry %v, link %d: policies %v, want %v from its keys", dry, link, rep.Policies, own)
			}
			last = rep
			if rep.Continuation == "" {
				break
			}
			req = handler.Request{Mode: handler.ModeSweep, Run: "run-p", Link: link + 1, Continuation: rep.Continuation, DryRun: &dry}
		}
		if len(want) == 0 {
			t.Fatalf("dry %v: no key has an unfixed violation: the test proves nothing", dry)
		}
		if last.Totals == nil || !cmp.Equal(last.Totals.Policies, want) {
			t.Errorf("dry %v: totals per policy %v, want %v", dry, last.Totals.Policies, want)
		}
	}
}
