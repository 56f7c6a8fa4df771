package handler_test

// Sweeps cut short and resumed with their continuations: every key decided
// exactly once, with the final state of an uncut sweep, whatever cut them
// (the deadline, denied access, a failed listing page, a key deleted in
// between) and whatever the listing repeats.

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/handlertest"
	"github.com/tagwarden/tagwarden/handler/memstore"
)

func TestSweepResumedEqualsUncut(t *testing.T) {
	n := 400
	if testing.Short() {
		n = 150
	}
	for _, dry := range []bool{false, true} {
		t.Run(fmt.Sprintf("dry_run=%t", dry), func(t *testing.T) {
			uncutStore, cutStore := newStore(n, 23), newStore(n, 23)
			// Every key needs a Tags read, so that dry runs take time too.
			for i := range n {
				uncutStore.HideTags(keyID(i))
				cutStore.HideTags(keyID(i))
			}
			h, _ := newHandler(t, handler.Config{Concurrency: 3, Margin: 10 * time.Millisecond})
			uncut := h.Handle(context.Background(), uncutStore, handler.Request{Mode: handler.ModeSweep, DryRun: &dry})
			if uncut.Continuation != "" || uncut.Scanned != n {
				t.Fatalf("uncut sweep: %s", handlertest.Counts(uncut))
			}

			// Every call takes a millisecond: a 25ms invocation does a few keys.
			cutStore.Hook = func(ctx context.Context, op, id string) error {
				time.Sleep(time.Millisecond)
				return nil
			}
			hc, logs := newHandler(t, handler.Config{Concurrency: 3, Margin: 10 * time.Millisecond})
			reps := resumeAll(t, hc, cutStore, handler.Request{Mode: handler.ModeSweep, DryRun: &dry}, 25*time.Millisecond)
			if len(reps) < 3 {
				t.Fatalf("the sweep was cut %d times, want several", len(reps)-1)
			}
			var keys []handler.KeyReport
			total := handler.Report{}
			for i, r := range reps {
				handlertest.CheckCounts(t, r)
				if r.Continuation != "" && r.Reason == "" {
					t.Errorf("report %d has a continuation but no reason", i)
				}
				keys = append(keys, r.Keys...)
				total.Scanned += r.Scanned
				total.Compliant += r.Compliant
				total.Changed += r.Changed
				total.Planned += r.Planned
				total.Violating += r.Violating
				total.Skipped += r.Skipped
				total.Failed += r.Failed
			}
			if diff := cmp.Diff(handlertest.ByID(uncut.Keys), handlertest.ByID(keys)); diff != "" {
				t.Errorf("resumed sweep differs from the uncut one (-uncut +resumed):\n%s", diff)
			}
			if len(keys) != len(uncut.Keys) {
				t.Errorf("resumed reports list %d keys, uncut %d", len(keys), len(uncut.Keys))
			}
			want := uncut
			want.Keys = nil
			got := total
			opts := cmp.Options{cmp.FilterPath(func(p cmp.Path) bool {
				switch p.Last().String() {
				case ".Scanned", ".Compliant", ".Changed", ".Planned", ".Violating", ".Skipped", ".Failed":
					return false
				}
				return true
			}, cmp.Ignore())}
			if diff := cmp.Diff(want, got, opts); diff != "" {
				t.Errorf("counts (-uncut +resumed):\n%s", diff)
			}
			decisions := logs.KeyDecisions(t)
			for i := range n {
				if c := decisions[keyID(i)]; c != 1 {
					t.Errorf("key %s processed %d times, want exactly once", keyID(i), c)
				}
			}
			for i := range n {
				a, _ := uncutStore.TagsOf(keyID(i))
				b, _ := cutStore.TagsOf(keyID(i))
				if diff := cmp.Diff(a, b); diff != "" {
					t.Errorf("final tags of %s (-uncut +resumed):\n%s", keyID(i), diff)
				}
			}
		})
	}
}

func TestDeniedStopsAndResumes(t *testing.T) {
	const n = 200
	s := newStore(n, 17)
	var applies atomic.Int32
	s.Hook = func(_ context.Context, op, id string) error {
		if op == memstore.OpApply && applies.Add(1) > 20 {
			return fmt.Errorf("apply: %w", handler.ErrDenied)
		}
		return nil
	}
	h, logs := newHandler(t, handler.Config{Concurrency: 4})
	first := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep})
	handlertest.CheckCounts(t, first)
	if first.Continuation == "" || !strings.Contains(first.Error, "access denied") || first.Failed != 0 {
		t.Fatalf("denied sweep: error %q, failed %d, continuation %q", first.Error, first.Failed, first.Continuation)
	}
	if first.Scanned >= n/2 {
		t.Errorf("denied sweep went on: %d keys scanned", first.Scanned)
	}
	s.Hook = nil // fresh credentials
	reps := resumeAll(t, h, s, handler.Request{Mode: handler.ModeSweep, Continuation: first.Continuation}, time.Minute)
	all := append([]handler.Report{first}, reps...)
	var keys []handler.KeyReport
	for _, r := range all {
		keys = append(keys, r.Keys...)
	}
	finalCheck(t, s, handlertest.ByID(keys))
	for i := range n {
		if c := logs.KeyDecisions(t)[keyID(i)]; c != 1 {
			t.Errorf("key %s decided %d times, want once", keyID(i), c)
		}
	}
}

// flakyStore's listings fail the second page once, repeat every page's
// first record at its end, and start every page but a listing's first with
// the previous page's last record, as an offset listing does when a key is
// inserted mid-listing.
type flakyStore struct {
	*memstore.Store
	failed atomic.Bool
}

type flakyLister struct {
	s     *flakyStore
	inner handler.Lister
	pages int
	last  *handler.Record
}

func (f *flakyStore) List(ctx context.Context, cursor string) handler.Lister {
	return &flakyLister{s: f, inner: f.Store.List(ctx, cursor)}
}

func (l *flakyLister) Next(ctx context.Context) (handler.Page, error) {
	l.pages++
	if l.pages == 2 && l.s.failed.CompareAndSwap(false, true) {
		return handler.Page{}, fmt.Errorf("list keys: %w", handler.ErrTransient)
	}
	p, err := l.inner.Next(ctx)
	if err == nil && len(p.Records) > 0 {
		last := p.Records[len(p.Records)-1]
		p.Records = append(p.Records, p.Records[0])
		inner, n, lead := p.After, len(p.Records)-1, 0
		if l.last != nil {
			p.Records = append([]handler.Record{*l.last}, p.Records...)
			lead = 1
		}
		// Positions past the inner page's records are the inner page's end.
		p.After = func(k int) string { return inner(min(max(k-lead, 0), n)) }
		l.last = &last
	}
	return p, err
}

// TestListingErrorAndRepeats cuts the sweep at a page boundary (the listing
// of page 2 fails) and resumes it: the resumed listing's second page repeats
// a record the first invocation did.
func TestListingErrorAndRepeats(t *testing.T) {
	const n = 60
	s := &flakyStore{Store: newStore(n, 10)}
	h, logs := newHandler(t, handler.Config{})
	first := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep})
	if first.Continuation == "" || !strings.Contains(first.Error, "list keys") || first.Scanned != 10 {
		t.Fatalf("listing error: %s", handlertest.Counts(first))
	}
	reps := resumeAll(t, h, s, handler.Request{Mode: handler.ModeSweep, Continuation: first.Continuation}, time.Minute)
	scanned := first.Scanned
	for _, r := range reps {
		scanned += r.Scanned
	}
	if scanned != n {
		t.Errorf("%d keys scanned, want %d", scanned, n)
	}
	for i := range n {
		if c := logs.KeyDecisions(t)[keyID(i)]; c != 1 {
			t.Errorf("key %s decided %d times, want once", keyID(i), c)
		}
	}
}

// failOnceStore fails the listing of its page-th page once.
type failOnceStore struct {
	*memstore.Store
	page   int
	failed atomic.Bool
}

type failOnceLister struct {
	handler.Lister
	s     *failOnceStore
	pages int
}

func (f *failOnceStore) List(ctx context.Context, cursor string) handler.Lister {
	return &failOnceLister{Lister: f.Store.List(ctx, cursor), s: f}
}

func (l *failOnceLister) Next(ctx context.Context) (handler.Page, error) {
	l.pages++
	if l.pages == l.s.page && l.s.failed.CompareAndSwap(false, true) {
		return handler.Page{}, fmt.Errorf("list keys: %w", handler.ErrTransient)
	}
	return l.Lister.Next(ctx)
}

// TestResumeAfterLastDoneKeyDeleted: the last key done before the cut is
// deleted before the sweep resumes, so the resumed page shifts; the key
// that moved into its place is still processed.
func TestResumeAfterLastDoneKeyDeleted(t *testing.T) {
	const n = 50
	s := &failOnceStore{Store: newStore(n, 10), page: 3}
	h, logs := newHandler(t, handler.Config{})
	first := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep})
	if first.Scanned != 20 || first.Continuation == "" {
		t.Fatalf("cut sweep: %s, want 2 pages done", handlertest.Counts(first))
	}
	s.Delete(keyID(19)) // the last key of page 2: keys from 20 on move up
	next := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep, Continuation: first.Continuation})
	if next.Continuation != "" || next.Scanned != n-20 {
		t.Errorf("resumed: %s, want the %d keys left", handlertest.Counts(next), n-20)
	}
	dec := logs.KeyDecisions(t)
	for i := range n {
		if c := dec[keyID(i)]; c != 1 {
			t.Errorf("key %s decided %d times, want once", keyID(i), c)
		}
	}
}

// inexactStore marks the first page of every resumed listing inexact, as a
// store does that cannot find where it stopped.
type inexactStore struct{ *memstore.Store }

type inexactLister struct {
	inner   handler.Lister
	resumed bool
}

func (s inexactStore) List(ctx context.Context, cursor string) handler.Lister {
	return &inexactLister{inner: s.Store.List(ctx, cursor), resumed: cursor != ""}
}

func (l *inexactLister) Next(ctx context.Context) (handler.Page, error) {
	p, err := l.inner.Next(ctx)
	p.Inexact = err == nil && l.resumed
	l.resumed = false
	return p, err
}

// TestInexactResumeWarns: once a sweep resumes at a position its store
// could not find exactly, that report and every later one of the sweep say
// so; the sweep never reads as exact.
func TestInexactResumeWarns(t *testing.T) {
	s := inexactStore{newStore(60, 10)}
	h, _ := newHandler(t, handler.Config{MaxReportKeys: 10, Concurrency: 1})
	req := handler.Request{Mode: handler.ModeSweep, DryRun: ptr(true)}
	var reps []handler.Report
	for i := 0; ; i++ {
		if i > 50 {
			t.Fatal("no end after 50 reports")
		}
		rep := h.Handle(context.Background(), s, req)
		reps = append(reps, rep)
		if rep.Continuation == "" {
			break
		}
		req.Continuation = rep.Continuation
	}
	if len(reps) < 3 {
		t.Fatalf("%d reports, want a cut sweep", len(reps))
	}
	if len(reps[0].Warnings) != 0 {
		t.Errorf("the first report warns %q before any resume", reps[0].Warnings)
	}
	for i, r := range reps[1:] {
		if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "could not find exactly") {
			t.Errorf("report %d after an inexact resume: warnings %q", i+1, r.Warnings)
		}
	}
}
