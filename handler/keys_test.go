package handler_test

// Key requests (key events and manual checks): keys read fresh, retried
// while not visible or pending activation, and always given an outcome.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/handlertest"
	"github.com/tagwarden/tagwarden/handler/memstore"
	"github.com/tagwarden/tagwarden/policy"
)

func TestKeys(t *testing.T) {
	pending := policy.Key{ID: "pending", Alias: "new", State: policy.StatePendingActivation}
	noOwner := []policy.Violation{{Policy: "ownership", Rule: "require owner", Tag: "owner", Remediated: true}}
	tests := []struct {
		name      string
		ids       []string
		dry       bool
		setup     func(s *memstore.Store) // may set a hook
		want      []handler.KeyReport
		wantReads int // Key calls; 0 = do not check
		wantErr   string
	}{
		{name: "changed", ids: []string{keyID(3)}, want: []handler.KeyReport{
			{KeyID: keyID(3), Alias: "alias-" + keyID(3), Outcome: handler.OutcomeChanged, Create: []policy.Tag{{Key: "owner", Value: "unassigned"}}, Violations: noOwner},
		}},
		{name: "duplicates and blanks", ids: []string{keyID(3), " ", keyID(3) + " ", keyID(2)}, wantReads: 2, want: []handler.KeyReport{
			{KeyID: keyID(3), Alias: "alias-" + keyID(3), Outcome: handler.OutcomeChanged, Create: []policy.Tag{{Key: "owner", Value: "unassigned"}}, Violations: noOwner},
		}},
		{name: "dry run", ids: []string{keyID(3)}, dry: true, want: []handler.KeyReport{
			{KeyID: keyID(3), Alias: "alias-" + keyID(3), Outcome: handler.OutcomePlanned, Create: []policy.Tag{{Key: "owner", Value: "unassigned"}}, Violations: noOwner},
		}},
		{name: "default key", ids: []string{keyID(0)}, want: []handler.KeyReport{
			{KeyID: keyID(0), Alias: "svc0/default", Outcome: handler.OutcomeSkipped, Reason: "default key: a service's default key cannot be tagged"},
		}},
		{name: "missing key retried then reported", ids: []string{"nope"}, wantReads: 3, want: []handler.KeyReport{
			{KeyID: "nope", Outcome: handler.OutcomeSkipped, Reason: "key not found after 3 reads: deleted, or not visible yet"},
		}},
		{name: "pending deletion", ids: []string{keyID(1)}, want: []handler.KeyReport{
			{KeyID: keyID(1), Alias: "alias-" + keyID(1), Outcome: handler.OutcomeSkipped, Reason: "key pending deletion: not tagged"},
		}},
		{name: "pending activation stays", ids: []string{"pending"}, wantReads: 3,
			setup: func(s *memstore.Store) { s.Put(pending, nil) },
			want: []handler.KeyReport{
				{KeyID: "pending", Alias: "new", Outcome: handler.OutcomeSkipped, Reason: "key still pending activation after 3 reads; the next sweep checks it"},
			}},
		{name: "appears and activates", ids: []string{"pending"}, wantReads: 3,
			setup: func(s *memstore.Store) {
				var reads atomic.Int32
				s.Hook = func(_ context.Context, op, id string) error {
					if op == memstore.OpKey {
						switch reads.Add(1) {
						case 2:
							s.Put(pending, map[string]string{"owner": "me", "env": "prod"})
						case 3:
							k := pending
							k.State = policy.StateEnabled
							s.Put(k, map[string]string{"owner": "me", "env": "prod"})
						}
					}
					return nil
				}
			},
			want: []handler.KeyReport{{KeyID: "pending", Alias: "new", Outcome: handler.OutcomeViolation, Violations: []policy.Violation{
				{Policy: "cost", Rule: "require cost-center", Tag: "cost-center"},
			}}}},
		{name: "no ids", ids: []string{" "}, want: []handler.KeyReport{}, wantErr: "key request names no key ids"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(10, 5)
			if tt.setup != nil {
				tt.setup(s)
			}
			h, _ := newHandler(t, handler.Config{KeyRetries: 2, KeyRetryDelay: time.Millisecond, KeyRetryMaxDelay: 2 * time.Millisecond})
			rep := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeKeys, KeyIDs: tt.ids, DryRun: &tt.dry})
			handlertest.CheckCounts(t, rep)
			if rep.Error != tt.wantErr {
				t.Errorf("error %q, want %q", rep.Error, tt.wantErr)
			}
			if rep.Continuation != "" {
				t.Errorf("unexpected continuation")
			}
			opts := cmp.Options{cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Message" }, cmp.Ignore())}
			if diff := cmp.Diff(tt.want, rep.Keys, opts); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			if got := s.Stats().Calls[memstore.OpKey]; tt.wantReads > 0 && got != tt.wantReads {
				t.Errorf("%d reads, want %d", got, tt.wantReads)
			}
			if tt.dry && s.Stats().Writes != 0 {
				t.Error("dry run wrote")
			}
		})
	}
}

func TestKeysDeadlineDuringRetries(t *testing.T) {
	s := newStore(10, 5)
	h, _ := newHandler(t, handler.Config{KeyRetries: 10, KeyRetryDelay: 20 * time.Millisecond, Margin: 10 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	rep := h.Handle(ctx, s, handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{"late", keyID(3)}})
	if rep.Continuation == "" || rep.Scanned != 1 || rep.Changed != 1 {
		t.Fatalf("want key-00003 changed and the missing key in the continuation: %s", handlertest.Counts(rep))
	}
	s.Put(policy.Key{ID: "late", State: policy.StateEnabled}, map[string]string{"owner": "x", "env": "dev", "cost-center": "c"})
	next := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeKeys, Continuation: rep.Continuation})
	if next.Continuation != "" || next.Scanned != 1 || next.Compliant != 1 || next.Error != "" {
		t.Errorf("resumed key request: %s", handlertest.Counts(next))
	}
}

// TestKeyEventNotVisible: a CTS createKey for a key not visible before the
// deadline ends with the key reported skipped, with the reason, never
// with nothing scanned: nobody follows a key event's continuation.
func TestKeyEventNotVisible(t *testing.T) {
	for _, trigger := range []string{"cts", "eventgrid"} {
		t.Run(trigger, func(t *testing.T) {
			s := newStore(10, 5)
			h, _ := newHandler(t, handler.Config{KeyRetries: 10, KeyRetryDelay: 20 * time.Millisecond, Margin: 10 * time.Millisecond})
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			rep := h.Handle(ctx, s, handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{"late", keyID(3)}, Trigger: trigger})
			handlertest.CheckCounts(t, rep)
			if rep.Continuation != "" || rep.Scanned != 2 || rep.Changed != 1 || rep.Skipped != 1 || rep.Error != "" {
				t.Fatalf("want key-00003 changed, the missing key skipped and no continuation: %s", handlertest.Counts(rep))
			}
			late := handlertest.ByID(rep.Keys)["late"]
			if late.Outcome != handler.OutcomeSkipped || !strings.Contains(late.Reason, "the next sweep checks it") {
				t.Errorf("the key not visible: %+v, want skipped with the reason", late)
			}
		})
	}
}

// TestKeyRetryBackoff: a key an event names that never appears is read
// 1+KeyRetries times, the waits doubling from KeyRetryDelay up to
// KeyRetryMaxDelay.
func TestKeyRetryBackoff(t *testing.T) {
	s := newStore(10, 5)
	var mu sync.Mutex
	var reads []time.Time
	s.Hook = func(_ context.Context, op, id string) error {
		if op == memstore.OpKey {
			mu.Lock()
			reads = append(reads, time.Now())
			mu.Unlock()
		}
		return nil
	}
	h, _ := newHandler(t, handler.Config{KeyRetries: 4, KeyRetryDelay: 20 * time.Millisecond, KeyRetryMaxDelay: 50 * time.Millisecond})
	rep := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{"ghost"}})
	want := []handler.KeyReport{{KeyID: "ghost", Outcome: handler.OutcomeSkipped, Reason: "key not found after 5 reads: deleted, or not visible yet"}}
	if diff := cmp.Diff(want, rep.Keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reads) != 5 {
		t.Fatalf("%d reads, want 5", len(reads))
	}
	for i, min := range []time.Duration{20, 40, 50, 50} {
		min *= time.Millisecond
		if gap := reads[i+1].Sub(reads[i]); gap < min || gap > min+time.Second {
			t.Errorf("wait %d: %s, want %s", i+1, gap, min)
		}
	}
	if total := reads[4].Sub(reads[0]); total > 2*time.Second {
		t.Errorf("retries took %s: the waits are not capped", total)
	}
}

// TestKeyEventOverflow: an event naming more keys than one request takes
// reports the rest skipped with the reason; a manual check of as many is
// refused (its caller can split it).
func TestKeyEventOverflow(t *testing.T) {
	const n = handler.MaxKeyIDs + 5
	s := newStore(20, 5)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = keyID(i % 20)
		if i >= 20 {
			ids[i] = fmt.Sprintf("missing-%04d", i)
		}
	}
	h, _ := newHandler(t, handler.Config{KeyRetries: 0})
	rep := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeKeys, KeyIDs: ids, Trigger: "eventgrid"})
	handlertest.CheckCounts(t, rep)
	if rep.Scanned != n || rep.Error != "" || rep.Continuation != "" {
		t.Fatalf("event of %d keys: %s, want every key reported", n, handlertest.Counts(rep))
	}
	over := 0
	for _, kr := range rep.Keys {
		if strings.Contains(kr.Reason, "more than the 1000 one request checks") {
			over++
		}
	}
	if over != 5 {
		t.Errorf("%d keys reported over the limit, want 5", over)
	}
	manual := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeKeys, KeyIDs: ids, Trigger: "manual"})
	if manual.ErrorKind != handler.KindInvalidRequest || manual.Scanned != 0 {
		t.Errorf("manual check of %d keys: %s (%s), want invalid_request", n, handlertest.Counts(manual), manual.ErrorKind)
	}
}
