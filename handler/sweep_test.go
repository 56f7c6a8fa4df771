package handler_test

// Sweeps on the in-memory store: the dry run's plan is what the real run
// writes, a key's failure never stops the others, a full report stops the
// sweep with a continuation.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/handlertest"
	"github.com/tagwarden/tagwarden/handler/memstore"
	"github.com/tagwarden/tagwarden/policy"
)

func TestSweep(t *testing.T) {
	const n = 500
	ctx := handler.WithRequestID(context.Background(), "req-1")
	s := newStore(n, 37)
	h, logs := newHandler(t, handler.Config{Concurrency: 4})

	dry := h.Handle(ctx, s, handler.Request{Mode: handler.ModeSweep, DryRun: ptr(true), Trigger: "test"})
	handlertest.CheckCounts(t, dry)
	if dry.Error != "" || dry.Continuation != "" || !dry.DryRun {
		t.Fatalf("dry run: error %q, continuation %q, dry_run %t", dry.Error, dry.Continuation, dry.DryRun)
	}
	if st := s.Stats(); st.Writes+st.Rejected != 0 || st.Calls[memstore.OpApply] != 0 {
		t.Fatalf("dry run wrote: %+v", st)
	}
	if dry.Scanned != n || dry.Changed != 0 || dry.Planned != 5*n/10 || dry.Skipped != 2*n/10 || dry.Violating != n/10 {
		t.Errorf("dry run counts: %s", handlertest.Counts(dry))
	}
	if dry.RequestID != "req-1" || dry.Mode != handler.ModeSweep || dry.Trigger != "test" {
		t.Errorf("dry run header: %+v", dry)
	}
	if got := s.Stats().Calls[memstore.OpTags]; got != n/10 {
		t.Errorf("Tags read %d times, want %d (the keys listed with unknown tags)", got, n/10)
	}

	real := h.Handle(ctx, s, handler.Request{Mode: handler.ModeSweep})
	handlertest.CheckCounts(t, real)
	if real.Changed != dry.Planned || real.Planned != 0 || real.Failed != 0 {
		t.Errorf("real run counts: changed %d planned %d failed %d, want changed %d", real.Changed, real.Planned, real.Failed, dry.Planned)
	}
	// The dry run's plan is exactly what the real run wrote.
	planned := handlertest.ByID(dry.Keys)
	for _, kr := range real.Keys {
		p := planned[kr.KeyID]
		if p.Outcome == handler.OutcomePlanned {
			p.Outcome = handler.OutcomeChanged
		}
		if diff := cmp.Diff(p, kr); diff != "" {
			t.Errorf("key %s: dry run plan differs from the real run (-plan +real):\n%s", kr.KeyID, diff)
		}
		if kr.Outcome == handler.OutcomeChanged {
			want := len(policy.Decision{Create: kr.Create, Delete: kr.Delete}.Batches(10))
			if got := s.Stats().WritesByKey[kr.KeyID]; got != want {
				t.Errorf("key %s: %d writes, want %d", kr.KeyID, got, want)
			}
		}
	}
	if len(real.Keys) != len(dry.Keys) {
		t.Errorf("real run reports %d keys, dry run %d", len(real.Keys), len(dry.Keys))
	}
	finalCheck(t, s, handlertest.ByID(real.Keys))

	want := map[int]handler.KeyReport{
		kindDefault:       {Outcome: handler.OutcomeSkipped, Reason: "default key: a service's default key cannot be tagged"},
		kindPendingDelete: {Outcome: handler.OutcomeSkipped, Reason: "key pending deletion: not tagged"},
		kindNoOwner:       {Outcome: handler.OutcomeChanged, Create: []policy.Tag{{Key: "owner", Value: "unassigned"}}},
		kindBadEnv:        {Outcome: handler.OutcomeChanged, Create: []policy.Tag{{Key: "env", Value: "prod"}}},
		kindTemp:          {Outcome: handler.OutcomeChanged, Delete: []policy.Tag{{Key: "temp-build", Value: "1"}, {Key: "temp-x", Value: "2"}}},
		kindUntagged:      {Outcome: handler.OutcomeChanged, Create: []policy.Tag{{Key: "env", Value: "dev"}, {Key: "owner", Value: "unassigned"}}},
		kindHidden:        {Outcome: handler.OutcomeChanged, Create: []policy.Tag{{Key: "owner", Value: "unassigned"}}},
		kindNoCost:        {Outcome: handler.OutcomeViolation},
	}
	got := handlertest.ByID(real.Keys)
	for kind, w := range want {
		kr := got[keyID(10+kind)]
		kr.KeyID, kr.Alias, kr.Violations = "", "", nil
		if diff := cmp.Diff(w, kr); diff != "" {
			t.Errorf("kind %d (-want +got):\n%s", kind, diff)
		}
	}
	if v := got[keyID(10+kindNoCost)].Violations; len(v) != 1 || v[0].Policy != "cost" || v[0].Remediated {
		t.Errorf("violation of a key without cost-center: %+v", v)
	}

	s.ResetStats()
	again := h.Handle(ctx, s, handler.Request{Mode: handler.ModeSweep})
	handlertest.CheckCounts(t, again)
	if st := s.Stats(); st.Writes != 0 || again.Changed != 0 {
		t.Errorf("second sweep wrote %d times, changed %d keys; want none", st.Writes, again.Changed)
	}

	// One decision entry per key and run, each with the request id; a summary per run.
	var summaries int
	for _, e := range logs.Entries(t) {
		if e["request_id"] != "req-1" {
			t.Fatalf("log entry without the request id: %v", e)
		}
		if e["msg"] == "request finished" {
			summaries++
		}
	}
	for id, c := range logs.KeyDecisions(t) {
		if c != 3 {
			t.Errorf("key %s has %d decision entries over 3 runs, want 3", id, c)
		}
	}
	if summaries != 3 {
		t.Errorf("%d summary entries, want 3", summaries)
	}
}

func TestFailuresDoNotStopTheSweep(t *testing.T) {
	const n = 100
	s := newStore(n, 10)
	failing, panicking, deleted := keyID(13), keyID(23), keyID(39) // no owner; no owner; hidden tags
	s.Hook = func(_ context.Context, op, id string) error {
		switch {
		case op == memstore.OpApply && id == failing:
			return fmt.Errorf("injected: %w", handler.ErrTransient)
		case op == memstore.OpApply && id == panicking:
			panic("injected panic")
		case op == memstore.OpTags && id == deleted:
			s.Delete(id)
		}
		return nil
	}
	h, logs := newHandler(t, handler.Config{})
	rep := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep})
	handlertest.CheckCounts(t, rep)
	got := handlertest.ByID(rep.Keys)
	if kr := got[failing]; kr.Outcome != handler.OutcomeFailed || !strings.Contains(kr.Error, "create 1 tags") || !strings.Contains(kr.Error, "transient") {
		t.Errorf("failing key: %+v", kr)
	}
	if kr := got[panicking]; kr.Outcome != handler.OutcomeFailed || kr.Error != "internal error: injected panic" {
		t.Errorf("panicking key: %+v", kr)
	}
	if kr := got[deleted]; kr.Outcome != handler.OutcomeSkipped || kr.Reason != "key not found: deleted during the run" {
		t.Errorf("deleted key: %+v", kr)
	}
	if rep.Failed != 2 || rep.Skipped != 21 || rep.Changed != 50-3 || rep.Scanned != n || rep.Error != "" {
		t.Errorf("counts: %s", handlertest.Counts(rep))
	}
	if !strings.Contains(logs.String(), `"msg":"key failed"`) {
		t.Error("no log entry for the failed keys")
	}
}

// TestReportCap checks that a report never lists many more keys than
// MaxReportKeys: the sweep stops with a continuation, and resuming until
// done decides every key exactly once with the same final state as an
// uncapped sweep.
func TestReportCap(t *testing.T) {
	const n, max = 300, 20
	capped, uncapped := newStore(n, 50), newStore(n, 50)
	h, logs := newHandler(t, handler.Config{MaxReportKeys: max, Concurrency: 3})
	reps := resumeAll(t, h, capped, handler.Request{Mode: handler.ModeSweep}, time.Minute)
	if len(reps) < 2 {
		t.Fatalf("got %d report(s), want the sweep cut by the cap", len(reps))
	}
	listed := map[string]int{}
	scanned := 0
	for i, rep := range reps {
		handlertest.CheckCounts(t, rep)
		if rep.Error != "" {
			t.Errorf("report %d: error %q", i, rep.Error)
		}
		if len(rep.Keys) > max+3 {
			t.Errorf("report %d lists %d keys, want at most %d (cap + concurrency)", i, len(rep.Keys), max+3)
		}
		if rep.Continuation != "" && !strings.Contains(rep.Reason, "report full") {
			t.Errorf("report %d: reason %q, want it to say the report is full", i, rep.Reason)
		}
		for _, k := range rep.Keys {
			listed[k.KeyID]++
		}
		scanned += rep.Scanned
	}
	if scanned != n {
		t.Errorf("scanned %d keys over %d reports, want %d", scanned, len(reps), n)
	}
	for id, c := range listed {
		if c != 1 {
			t.Errorf("key %s listed in %d reports, want 1", id, c)
		}
	}
	for id, c := range logs.KeyDecisions(t) {
		if c != 1 {
			t.Errorf("key %s decided %d times, want 1", id, c)
		}
	}

	hu, _ := newHandler(t, handler.Config{})
	full := hu.Handle(context.Background(), uncapped, handler.Request{Mode: handler.ModeSweep})
	if full.Continuation != "" || len(full.Keys) != len(listed) {
		t.Fatalf("uncapped sweep: %s, %d keys listed; capped sweeps listed %d", handlertest.Counts(full), len(full.Keys), len(listed))
	}
	for _, k := range uncapped.Keys() {
		want, _ := uncapped.TagsOf(k.ID)
		got, _ := capped.TagsOf(k.ID)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("key %s: capped sweeps end with other tags than an uncapped one (-uncapped +capped):\n%s", k.ID, diff)
		}
	}
}

// BenchmarkSweepDryRun measures a dry-run sweep of 1000 keys from memory:
// the handler's own cost per key (evaluate, plan, report, log).
func BenchmarkSweepDryRun(b *testing.B) {
	s := newStore(1000, 100)
	h := handler.New(testEngine(b), handler.Config{Concurrency: 4}, nil)
	b.ReportAllocs()
	for b.Loop() {
		rep := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep, DryRun: ptr(true)})
		if rep.Scanned != 1000 {
			b.Fatalf("scanned %d", rep.Scanned)
		}
	}
}
