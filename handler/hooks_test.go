package handler_test

// The OnKey hook: called once per key given an outcome, and a panic in it
// stops nothing.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/handlertest"
	"github.com/tagwarden/tagwarden/handler/memstore"
)

// outcomeCounter is an OnKey hook counting outcomes.
type outcomeCounter struct {
	mu sync.Mutex
	n  map[handler.Outcome]int
}

func (c *outcomeCounter) onKey(o handler.Outcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[handler.Outcome]int{}
	}
	c.n[o]++
}

func (c *outcomeCounter) take() map[handler.Outcome]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = nil
	return n
}

// outcomes returns a report's counts by outcome, leaving out zeros.
func outcomes(r handler.Report) map[handler.Outcome]int {
	m := map[handler.Outcome]int{
		handler.OutcomeCompliant: r.Compliant, handler.OutcomeChanged: r.Changed, handler.OutcomePlanned: r.Planned,
		handler.OutcomeViolation: r.Violating, handler.OutcomeFailed: r.Failed, handler.OutcomeSkipped: r.Skipped,
	}
	for o, n := range m {
		if n == 0 {
			delete(m, o)
		}
	}
	return m
}

func TestOnKey(t *testing.T) {
	const n = 300
	var c outcomeCounter
	h, _ := newHandler(t, handler.Config{Concurrency: 8, OnKey: c.onKey})

	s := newStore(n, 17)
	dry := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep, DryRun: ptr(true)})
	if diff := cmp.Diff(outcomes(dry), c.take()); diff != "" || dry.Scanned != n {
		t.Errorf("dry run: OnKey calls by outcome differ from the report (-report +calls):\n%s", diff)
	}

	// Keys interrupted by denied access go into the continuation: not
	// reported, so not notified, until the resumed request decides them.
	var applies atomic.Int32
	s.Hook = func(_ context.Context, op, id string) error {
		if op == memstore.OpApply && applies.Add(1) > 30 {
			return fmt.Errorf("apply: %w", handler.ErrDenied)
		}
		return nil
	}
	first := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep})
	if first.Continuation == "" || first.Scanned == n {
		t.Fatalf("denied sweep: %s", handlertest.Counts(first))
	}
	if diff := cmp.Diff(outcomes(first), c.take()); diff != "" {
		t.Errorf("denied sweep: OnKey calls differ from the report (-report +calls):\n%s", diff)
	}
	s.Hook = nil
	scanned := first.Scanned
	for _, r := range resumeAll(t, h, s, handler.Request{Mode: handler.ModeSweep, Continuation: first.Continuation}, time.Minute) {
		if diff := cmp.Diff(outcomes(r), c.take()); diff != "" {
			t.Errorf("resumed sweep: OnKey calls differ from the report (-report +calls):\n%s", diff)
		}
		scanned += r.Scanned
	}
	if scanned != n {
		t.Errorf("%d keys scanned over the resumed sweep, want %d", scanned, n)
	}
}

func TestOnKeyPanics(t *testing.T) {
	h, logs := newHandler(t, handler.Config{OnKey: func(handler.Outcome) { panic("hook") }})
	rep := h.Handle(context.Background(), newStore(40, 10), handler.Request{Mode: handler.ModeSweep})
	if rep.Scanned != 40 || rep.Error != "" || rep.Continuation != "" {
		t.Errorf("sweep with a panicking OnKey: %s", handlertest.Counts(rep))
	}
	if got := strings.Count(logs.String(), "OnKey hook panicked"); got != 40 {
		t.Errorf("%d log entries of the hook's panic, want 40", got)
	}
}

// TestOnDecision: every key evaluated is reported once, with the tags its
// decision rests on (the decision of those tags is the reported one), and
// its entry, compliant keys included; keys skipped without an evaluation
// get no call. A panic in the hook stops nothing.
func TestOnDecision(t *testing.T) {
	const n = 200
	var (
		mu  sync.Mutex
		got = map[string]handler.Decided{}
	)
	h, _ := newHandler(t, handler.Config{Concurrency: 8, OnDecision: func(d handler.Decided) {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := got[d.Key.ID]; dup {
			t.Errorf("key %s reported twice", d.Key.ID)
		}
		got[d.Key.ID] = d
	}})
	s := newStore(n, 17)
	rep := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep, DryRun: ptr(true)})
	if rep.Scanned != n || rep.Continuation != "" {
		t.Fatalf("sweep: %s", handlertest.Counts(rep))
	}
	if want := rep.Scanned - rep.Skipped; len(got) != want {
		t.Errorf("%d keys reported, want the %d evaluated", len(got), want)
	}
	e := testEngine(t)
	byID := handlertest.ByID(rep.Keys)
	for id, d := range got {
		tags, _ := s.TagsOf(id)
		if diff := cmp.Diff(tags, d.Tags, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("key %s: tags reported (-store +reported):\n%s", id, diff)
		}
		if want := e.Evaluate(d.Key, d.Tags, d.Now); !cmp.Equal(want, d.Decision, cmpopts.EquateEmpty()) {
			t.Errorf("key %s: decision %+v, want the decision of its tags %+v", id, d.Decision, want)
		}
		if kr, listed := byID[id]; listed && !cmp.Equal(kr, d.Report, cmpopts.EquateEmpty()) {
			t.Errorf("key %s: entry %+v, want the report's %+v", id, d.Report, kr)
		} else if !listed && d.Report.Outcome != handler.OutcomeCompliant {
			t.Errorf("key %s: outcome %s, not in the report's keys: want compliant", id, d.Report.Outcome)
		}
	}

	h, logs := newHandler(t, handler.Config{OnDecision: func(handler.Decided) { panic("hook") }})
	rep = h.Handle(context.Background(), newStore(40, 10), handler.Request{Mode: handler.ModeSweep, DryRun: ptr(true)})
	if rep.Scanned != 40 || rep.Error != "" || rep.Continuation != "" {
		t.Errorf("sweep with a panicking OnDecision: %s", handlertest.Counts(rep))
	}
	if !strings.Contains(logs.String(), "OnDecision hook panicked") {
		t.Error("the hook's panic is not logged")
	}
}
