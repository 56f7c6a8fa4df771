package handler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/handlertest"
	"github.com/tagwarden/tagwarden/handler/memstore"
	"github.com/tagwarden/tagwarden/policy"
)

// platformResponseLimit is what Lambda and FunctionGraph accept as a
// synchronous response: over it the report, and its continuation, are lost.
const platformResponseLimit = 6 << 20

// budgetChain runs a sweep and its continuations with cfg until done,
// checking that every report's JSON fits in cfg.MaxReportBytes.
func budgetChain(t *testing.T, cfg handler.Config, s *memstore.Store) (reps []handler.Report, sizes []int) {
	t.Helper()
	h, _ := newHandler(t, cfg)
	req := handler.Request{Mode: handler.ModeSweep}
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("no end after 1000 invocations")
		}
		rep := h.Handle(context.Background(), s, req)
		handlertest.CheckCounts(t, rep)
		b, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > cfg.MaxReportBytes {
			t.Fatalf("report %d is %d bytes, over the budget of %d", i, len(b), cfg.MaxReportBytes)
		}
		if rep.Error != "" {
			t.Fatalf("report %d: %s", i, rep.Error)
		}
		reps, sizes = append(reps, rep), append(sizes, len(b))
		if rep.Continuation == "" {
			finalCheck(t, s, handlertest.ByID(mergedKeys(reps)))
			return reps, sizes
		}
		req.Continuation = rep.Continuation
	}
}

func mergedKeys(reps []handler.Report) []handler.KeyReport {
	var keys []handler.KeyReport
	for _, r := range reps {
		keys = append(keys, r.Keys...)
	}
	return keys
}

// TestReportByteBudget: a report is bounded by its encoded size. A sweep
// whose one report would not fit in a platform response is cut into
// reports that do, each under the budget, with the keys that did not fit
// (changes already made) reported by the next request exactly as one
// uncut report lists them, and every key once.
func TestReportByteBudget(t *testing.T) {
	// The same keys, swept in one request with no practical budget.
	sizeOf := func(n int) (handler.Report, int) {
		h, _ := newHandler(t, handler.Config{MaxReportBytes: 1 << 30, MaxReportKeys: 1 << 30})
		rep := h.Handle(context.Background(), newStore(n, 500), handler.Request{Mode: handler.ModeSweep})
		b, _ := json.Marshal(rep)
		return rep, len(b)
	}
	_, small := sizeOf(1000)
	n := platformResponseLimit/small*1000 + 1000 // enough keys for a report over the platform's limit
	// Tens of thousands of keys take seconds, and over twenty under the race
	// detector: a -short or -race run sweeps fewer and leaves out the
	// default budget's case, which the plain run covers.
	few := testing.Short() || raceEnabled
	if few {
		n = 4000
	}
	uncut, size := sizeOf(n)
	t.Logf("%d keys: one report of %d bytes", n, size)
	if !few && size <= platformResponseLimit {
		t.Fatalf("the uncut report is %d bytes, want more than the platform's %d: add keys", size, platformResponseLimit)
	}

	for _, tc := range []struct {
		name   string
		budget int
	}{
		{"default budget", handler.DefaultMaxReportBytes},
		{"smallest budget", handler.MinMaxReportBytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if few && tc.budget == handler.DefaultMaxReportBytes {
				t.Skip("needs a report over 6 MB: not under -short or -race")
			}
			reps, sizes := budgetChain(t, handler.Config{MaxReportBytes: tc.budget, MaxReportKeys: 1 << 30, Concurrency: 4}, newStore(n, 500))
			deferred, scanned := 0, 0
			for i, r := range reps {
				deferred += r.Deferred
				scanned += r.Scanned
				if r.Continuation != "" && r.Reason == "" {
					t.Errorf("report %d stopped with no reason", i)
				}
			}
			t.Logf("%d reports of at most %d bytes (sizes %v...); %d entries deferred", len(reps), tc.budget, sizes[:min(3, len(sizes))], deferred)
			if len(reps) < 2 {
				t.Fatalf("%d reports: the budget did not cut the sweep", len(reps))
			}
			// The first report came close to the budget: it was cut at the
			// edge, not early.
			if sizes[0] < tc.budget*3/4 {
				t.Errorf("first report is %d bytes, far under the budget of %d", sizes[0], tc.budget)
			}
			if scanned != n {
				t.Errorf("scanned %d keys over the reports, want %d", scanned, n)
			}
			got := handlertest.ByID(mergedKeys(reps))
			if len(got) != len(mergedKeys(reps)) {
				t.Errorf("a key is reported twice")
			}
			if diff := cmp.Diff(handlertest.ByID(uncut.Keys), got); diff != "" {
				t.Errorf("the cut reports differ from the uncut one (-uncut +cut):\n%s", diff)
			}
		})
	}
}

// bigKeys adds keys listed first whose entries are large: each has nine
// temp-* tags with long values to delete, and no owner.
func bigKeys(s *memstore.Store, n int) {
	for i := range n {
		id := fmt.Sprintf("big-%03d", i)
		tags := map[string]string{"env": "prod", "cost-center": "cc-1"}
		for j := range 8 {
			tags[fmt.Sprintf("temp-%02d-%s", j, strings.Repeat("x", 20))] = strings.Repeat("v", 43)
		}
		s.Put(policy.Key{ID: id, Alias: "alias-" + id, State: policy.StateEnabled, Spec: "AES_256", Usage: "ENCRYPT_DECRYPT", Origin: "kms"}, tags)
	}
}

// TestReportBudgetDefersChangedKeys: entries still in flight when the
// report fills do not fit; their keys, already changed, are deferred, and
// the next request reports their changes as changes, not as compliant.
func TestReportBudgetDefersChangedKeys(t *testing.T) {
	const n, big, workers = 300, 48, 32
	cut, ref := newStore(n, 500), newStore(n, 500)
	bigKeys(cut, big)
	bigKeys(ref, big)
	// The first writes of the big keys wait for one another, so that a
	// worker's worth of large entries is in flight at once when they land.
	var mu sync.Mutex
	arrived, release := 0, make(chan struct{})
	cut.Hook = func(_ context.Context, op, id string) error {
		if op != memstore.OpApply || !strings.HasPrefix(id, "big-") {
			return nil
		}
		mu.Lock()
		arrived++
		if arrived == workers {
			close(release)
		}
		mu.Unlock()
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		return nil
	}
	reps, _ := budgetChain(t, handler.Config{MaxReportBytes: handler.MinMaxReportBytes, Concurrency: workers}, cut)
	deferred := 0
	for _, r := range reps {
		deferred += r.Deferred
	}
	t.Logf("%d reports, %d entries deferred", len(reps), deferred)
	if deferred == 0 {
		t.Fatal("no entry was deferred: the test does not reach the budget's edge")
	}
	h, _ := newHandler(t, handler.Config{})
	uncut := h.Handle(context.Background(), ref, handler.Request{Mode: handler.ModeSweep})
	if diff := cmp.Diff(handlertest.ByID(uncut.Keys), handlertest.ByID(mergedKeys(reps))); diff != "" {
		t.Errorf("reports with deferred keys differ from the uncut one (-uncut +cut):\n%s", diff)
	}
	if st := cut.Stats(); st.Writes != ref.Stats().Writes {
		t.Errorf("the cut sweeps wrote %d times, the uncut one %d: a deferred key was written twice", st.Writes, ref.Stats().Writes)
	}
}

// TestReportBudgetKeyEvent: a key event has no continuation to defer keys
// to, so every key it names is reported whatever the byte budget.
func TestReportBudgetKeyEvent(t *testing.T) {
	const n = 600
	s := newStore(n, 500)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = keyID(i)
	}
	h, _ := newHandler(t, handler.Config{MaxReportBytes: handler.MinMaxReportBytes})
	rep := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeKeys, KeyIDs: ids, Trigger: "cts"})
	handlertest.CheckCounts(t, rep)
	if rep.Scanned != n || rep.Continuation != "" || rep.Deferred != 0 || rep.Error != "" {
		t.Errorf("key event of %d keys: %s, deferred %d; want every key reported", n, handlertest.Counts(rep), rep.Deferred)
	}
	// Past the budget, entries keep what was done and drop their
	// violations: a few hundred bytes each.
	body, _ := json.Marshal(rep)
	if limit := handler.MinMaxReportBytes + 300*n; len(body) > limit {
		t.Errorf("report of %d bytes for %d keys, want at most %d", len(body), n, limit)
	}
}

// TestEntryBounded: one key's entry is bounded whatever its policies say
// (violations past the first 20 are counted, long messages clipped), so
// that a report of the smallest budget holds it.
func TestEntryBounded(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("policies:\n  - name: many\n    enforce: false\n    rules:\n")
	for i := range 250 {
		fmt.Fprintf(&b, "      - require: t%03d\n        name: %s\n", i, strings.Repeat("n", 200))
	}
	if err := os.WriteFile(filepath.Join(dir, "many.yaml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := policy.LoadDir(dir, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := memstore.New(memstore.Options{})
	s.Put(policy.Key{ID: "k1", State: policy.StateEnabled}, nil)
	h := handler.New(e, handler.Config{MaxReportBytes: handler.MinMaxReportBytes, ContinuationKey: testContinuationKey}, nil)
	rep := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep})
	body, _ := json.Marshal(rep)
	if len(body) > handler.MinMaxReportBytes || len(rep.Keys) != 1 {
		t.Fatalf("report of %d bytes with %d keys, want one key within %d bytes", len(body), len(rep.Keys), handler.MinMaxReportBytes)
	}
	kr := rep.Keys[0]
	if len(kr.Violations) != 20 || !strings.Contains(kr.Reason, "230 more violations not listed") {
		t.Errorf("%d violations listed, reason %q: want 20 and the rest counted", len(kr.Violations), kr.Reason)
	}
	for _, v := range kr.Violations {
		if len(v.Message) > 310 {
			t.Errorf("a message of %d bytes, want it clipped", len(v.Message))
		}
	}
}
