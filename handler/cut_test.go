package handler_test

// Requests cut by the deadline: the report comes back before it, writes
// cut in flight are reported on resume as the uncut request reports them,
// and an invocation that makes no progress hands back no continuation.

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

// TestReportBeforeDeadline: a store call that hangs until its context ends is
// cancelled half the margin before the deadline, its key goes into the
// continuation, and the report comes back before the deadline.
func TestReportBeforeDeadline(t *testing.T) {
	const n = 30
	s := newStore(n, 10)
	hung := keyID(13) // no owner: needs a write
	s.Hook = func(ctx context.Context, op, id string) error {
		if op == memstore.OpApply && id == hung {
			<-ctx.Done()
			return fmt.Errorf("apply: %w", ctx.Err())
		}
		return nil
	}
	h, _ := newHandler(t, handler.Config{Margin: 600 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	rep := h.Handle(ctx, s, handler.Request{Mode: handler.ModeSweep})
	dl, _ := ctx.Deadline()
	if left := time.Until(dl); left < 150*time.Millisecond {
		t.Errorf("report returned %s before the deadline, want about 300ms (half the margin)", left)
	}
	if rep.Continuation == "" || rep.Error != "" || !strings.Contains(rep.Reason, "before the deadline") {
		t.Fatalf("cut sweep: %s", handlertest.Counts(rep))
	}
	if _, ok := handlertest.ByID(rep.Keys)[hung]; ok {
		t.Errorf("the interrupted key %s is reported, want it in the continuation", hung)
	}
	s.Hook = nil
	next := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep, Continuation: rep.Continuation})
	if kr := handlertest.ByID(next.Keys)[hung]; kr.Outcome != handler.OutcomeChanged {
		t.Errorf("resumed: key %s: %+v, want changed", hung, kr)
	}
	if rep.Scanned+next.Scanned != n || next.Continuation != "" {
		t.Errorf("scanned %d then %d, want %d in all: %s", rep.Scanned, next.Scanned, n, handlertest.Counts(next))
	}
}

// cutWrites is a key store whose tag writes land but whose answers are lost:
// each write is made, then the call waits for its context to end, as a call
// cut in flight by the deadline. With partial set, only delete batches land
// and create batches are cut before they are sent.
type cutWrites struct {
	handler.KeyStore
	partial bool
}

func (c cutWrites) Apply(ctx context.Context, id string, b policy.Batch) error {
	if !c.partial || b.Action == policy.ActionDelete {
		if err := c.KeyStore.Apply(context.Background(), id, b); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return fmt.Errorf("apply: %w: %w", handler.ErrTransient, ctx.Err())
}

// TestWritesCutInFlight checks that a key whose writes were cut in flight,
// whether they landed wholly or in part, is reported by the resumed request
// exactly as an uncut request reports it, and ends in the same state.
func TestWritesCutInFlight(t *testing.T) {
	// key-00005 has temp-* tags to delete and key-00007 tags to create;
	// key-00004 gets env normalized.
	ids := []string{keyID(4), keyID(5), keyID(7)}
	uncutStore := newStore(10, 100)
	h, _ := newHandler(t, handler.Config{Margin: 200 * time.Millisecond})
	uncut := h.Handle(context.Background(), uncutStore, handler.Request{Mode: handler.ModeKeys, KeyIDs: ids})
	if uncut.Changed != 3 || uncut.Continuation != "" {
		t.Fatalf("uncut: %s", handlertest.Counts(uncut))
	}
	for _, partial := range []bool{false, true} {
		t.Run(fmt.Sprintf("partial=%t", partial), func(t *testing.T) {
			s := newStore(10, 100)
			ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
			first := h.Handle(ctx, cutWrites{s, partial}, handler.Request{Mode: handler.ModeKeys, KeyIDs: ids})
			cancel()
			if first.Continuation == "" || first.Scanned != 0 {
				t.Fatalf("first request: %s; want every key cut and put in the continuation", handlertest.Counts(first))
			}
			resumed := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeKeys, Continuation: first.Continuation})
			if resumed.Continuation != "" || resumed.Scanned != len(ids) {
				t.Fatalf("resumed: %s", handlertest.Counts(resumed))
			}
			if diff := cmp.Diff(handlertest.ByID(uncut.Keys), handlertest.ByID(resumed.Keys)); diff != "" {
				t.Errorf("resumed report differs from the uncut one (-uncut +resumed):\n%s", diff)
			}
			for _, id := range ids {
				want, _ := uncutStore.TagsOf(id)
				got, _ := s.TagsOf(id)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("key %s tags (-uncut +resumed):\n%s", id, diff)
				}
			}
		})
	}
}

// slowListStore is a store whose listing answers only when the caller
// gives up: a listing page slower than any invocation's window.
type slowListStore struct{ *memstore.Store }

type slowLister struct{}

func (slowListStore) List(context.Context, string) handler.Lister { return slowLister{} }

func (slowLister) Next(ctx context.Context) (handler.Page, error) {
	<-ctx.Done()
	return handler.Page{}, fmt.Errorf("list keys: %w: %w", handler.ErrTransient, ctx.Err())
}

// TestNoProgressNoContinuation: the liveness property, without timing
// luck. An invocation that cannot make progress (its window ends before a
// listing page arrives) never hands back a continuation, whether it was
// given one or not; it fails with no_time. A chain that follows
// continuations therefore ends instead of looping for ever.
func TestNoProgressNoContinuation(t *testing.T) {
	s := slowListStore{newStore(20, 5)}
	h, _ := newHandler(t, handler.Config{Margin: 20 * time.Millisecond})
	tok := func() string {
		hm, _ := newHandler(t, handler.Config{MaxReportKeys: 1, Concurrency: 1})
		return hm.Handle(context.Background(), s.Store, handler.Request{Mode: handler.ModeSweep}).Continuation
	}()
	if tok == "" {
		t.Fatal("no continuation to resume from")
	}
	for _, given := range []string{"", tok} {
		for _, window := range []time.Duration{30 * time.Millisecond, 100 * time.Millisecond} {
			ctx, cancel := context.WithTimeout(context.Background(), window)
			rep := h.Handle(ctx, s, handler.Request{Mode: handler.ModeSweep, Continuation: given})
			cancel()
			if rep.Continuation != "" || rep.ErrorKind != handler.KindNoTime || rep.Scanned != 0 {
				t.Errorf("window %s, continuation given %t: %s (%s), want no_time and no continuation", window, given != "", handlertest.Counts(rep), rep.ErrorKind)
			}
		}
	}
}
