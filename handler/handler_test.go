package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/memstore"
	"github.com/tagwarden/tagwarden/policy"
)

func newHandler(t *testing.T, cfg handler.Config) (*handler.Handler, *logBuffer) {
	t.Helper()
	log, logs := jsonLogger(logrus.DebugLevel)
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 4
	}
	return handler.New(testEngine(t), cfg, log), logs
}

// Kinds of keys populate makes, by id number modulo 10.
const (
	kindDefault       = iota // default key: skipped
	kindPendingDelete        // pending deletion: skipped
	kindCompliant            // compliant
	kindNoOwner              // owner created
	kindBadEnv               // env "PROD " normalised
	kindTemp                 // temp-* deleted
	kindNoCost               // cost-center missing only: violation
	kindUntagged             // owner and env created, cost-center reported
	kindCompliant2           // compliant, another env
	kindHidden               // listed with unknown tags, owner missing
)

func keyID(i int) string { return fmt.Sprintf("key-%05d", i) }

// populate adds n keys of every kind to s.
func populate(s *memstore.Store, n int) {
	for i := range n {
		id := keyID(i)
		k := policy.Key{ID: id, Alias: "alias-" + id, State: policy.StateEnabled, Spec: "AES_256", Usage: "ENCRYPT_DECRYPT", Origin: "kms"}
		tags := map[string]string{"owner": "team-a", "env": "prod", "cost-center": "cc-1"}
		switch i % 10 {
		case kindDefault:
			k.Default, k.Alias, tags = true, fmt.Sprintf("svc%d/default", i), nil
		case kindPendingDelete:
			k.State = policy.StatePendingDeletion
			delete(tags, "owner")
		case kindNoOwner:
			delete(tags, "owner")
		case kindBadEnv:
			tags["env"] = "PROD "
		case kindTemp:
			tags["temp-build"], tags["temp-x"] = "1", "2"
		case kindNoCost:
			delete(tags, "cost-center")
		case kindUntagged:
			tags = nil
		case kindCompliant2:
			tags["env"] = "dev"
		case kindHidden:
			delete(tags, "owner")
			s.HideTags(id)
		}
		s.Put(k, tags)
	}
}

func newStore(n, pageSize int) *memstore.Store {
	s := memstore.New(memstore.Options{PageSize: pageSize})
	populate(s, n)
	return s
}

func ptr[T any](v T) *T { return &v }

// counts shows a report's counts, error and continuation, not its keys.
func counts(r handler.Report) string {
	return fmt.Sprintf("scanned %d compliant %d changed %d planned %d violating %d failed %d skipped %d; error %q; reason %q; continuation %t",
		r.Scanned, r.Compliant, r.Changed, r.Planned, r.Violating, r.Failed, r.Skipped, r.Error, r.Reason, r.Continuation != "")
}

// checkCounts checks that every scanned key counts once.
func checkCounts(t *testing.T, r handler.Report) {
	t.Helper()
	sum := r.Compliant + r.Changed + r.Planned + r.Violating + r.Failed + r.Skipped
	if sum != r.Scanned {
		t.Errorf("outcome counts add to %d, scanned %d: %s", sum, r.Scanned, counts(r))
	}
	if got, want := len(r.Keys), r.Scanned-r.Compliant; got != want {
		t.Errorf("report lists %d keys, want %d (every key not compliant)", got, want)
	}
}

// finalCheck re-evaluates every key's final tags: each key is compliant or
// reported with an outcome other than changed.
func finalCheck(t *testing.T, s *memstore.Store, reported map[string]handler.KeyReport) {
	t.Helper()
	e := testEngine(t)
	for _, k := range s.Keys() {
		tags, _ := s.TagsOf(k.ID)
		d := e.Evaluate(k, tags, time.Now())
		if d.HasChanges() && !k.Default && k.State != policy.StatePendingDeletion {
			t.Errorf("key %s still needs changes after the sweep: %+v", k.ID, d)
		}
		if !d.Compliant() {
			kr, ok := reported[k.ID]
			if !ok {
				t.Errorf("key %s breaks a policy but is not reported: %+v", k.ID, d.Violations)
			} else if kr.Outcome == handler.OutcomeCompliant {
				t.Errorf("key %s reported compliant, breaks %+v", k.ID, d.Violations)
			}
		}
	}
}

func byID(keys []handler.KeyReport) map[string]handler.KeyReport {
	m := map[string]handler.KeyReport{}
	for _, k := range keys {
		m[k.KeyID] = k
	}
	return m
}

func TestSweep(t *testing.T) {
	const n = 500
	ctx := handler.WithRequestID(context.Background(), "req-1")
	s := newStore(n, 37)
	h, logs := newHandler(t, handler.Config{Concurrency: 4})

	dry := h.Handle(ctx, s, handler.Request{Mode: handler.ModeSweep, DryRun: ptr(true), Trigger: "test"})
	checkCounts(t, dry)
	if dry.Error != "" || dry.Continuation != "" || !dry.DryRun {
		t.Fatalf("dry run: error %q, continuation %q, dry_run %t", dry.Error, dry.Continuation, dry.DryRun)
	}
	if st := s.Stats(); st.Writes+st.Rejected != 0 || st.Calls[memstore.OpApply] != 0 {
		t.Fatalf("dry run wrote: %+v", st)
	}
	if dry.Scanned != n || dry.Changed != 0 || dry.Planned != 5*n/10 || dry.Skipped != 2*n/10 || dry.Violating != n/10 {
		t.Errorf("dry run counts: %s", counts(dry))
	}
	if dry.RequestID != "req-1" || dry.Mode != handler.ModeSweep || dry.Trigger != "test" {
		t.Errorf("dry run header: %+v", dry)
	}
	if got := s.Stats().Calls[memstore.OpTags]; got != n/10 {
		t.Errorf("Tags read %d times, want %d (the keys listed with unknown tags)", got, n/10)
	}

	real := h.Handle(ctx, s, handler.Request{Mode: handler.ModeSweep})
	checkCounts(t, real)
	if real.Changed != dry.Planned || real.Planned != 0 || real.Failed != 0 {
		t.Errorf("real run counts: changed %d planned %d failed %d, want changed %d", real.Changed, real.Planned, real.Failed, dry.Planned)
	}
	// The dry run's plan is exactly what the real run wrote.
	planned := byID(dry.Keys)
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
	finalCheck(t, s, byID(real.Keys))

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
	got := byID(real.Keys)
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
	checkCounts(t, again)
	if st := s.Stats(); st.Writes != 0 || again.Changed != 0 {
		t.Errorf("second sweep wrote %d times, changed %d keys; want none", st.Writes, again.Changed)
	}

	// One decision entry per key and run, each with the request id; a summary per run.
	var summaries int
	for _, e := range logs.entries(t) {
		if e["request_id"] != "req-1" {
			t.Fatalf("log entry without the request id: %v", e)
		}
		if e["msg"] == "request finished" {
			summaries++
		}
	}
	for id, c := range logs.keyDecisions(t) {
		if c != 3 {
			t.Errorf("key %s has %d decision entries over 3 runs, want 3", id, c)
		}
	}
	if summaries != 3 {
		t.Errorf("%d summary entries, want 3", summaries)
	}
}

// resumeAll runs a request and every continuation until done.
func resumeAll(t *testing.T, h *handler.Handler, s handler.KeyStore, req handler.Request, timeout time.Duration) []handler.Report {
	t.Helper()
	var reps []handler.Report
	for i := 0; ; i++ {
		if i > 2000 {
			t.Fatal("no end after 2000 resumptions")
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		rep := h.Handle(ctx, s, req)
		cancel()
		reps = append(reps, rep)
		if rep.Continuation == "" {
			return reps
		}
		if strings.HasPrefix(rep.Error, "invalid") {
			t.Fatalf("resumption %d: %s", i, rep.Error)
		}
		req.Continuation = rep.Continuation
	}
}

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
				t.Fatalf("uncut sweep: %s", counts(uncut))
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
				checkCounts(t, r)
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
			if diff := cmp.Diff(byID(uncut.Keys), byID(keys)); diff != "" {
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
			decisions := logs.keyDecisions(t)
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
			checkCounts(t, rep)
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
		t.Fatalf("want key-00003 changed and the missing key in the continuation: %s", counts(rep))
	}
	s.Put(policy.Key{ID: "late", State: policy.StateEnabled}, map[string]string{"owner": "x", "env": "dev", "cost-center": "c"})
	next := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeKeys, Continuation: rep.Continuation})
	if next.Continuation != "" || next.Scanned != 1 || next.Compliant != 1 || next.Error != "" {
		t.Errorf("resumed key request: %s", counts(next))
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
	checkCounts(t, rep)
	got := byID(rep.Keys)
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
		t.Errorf("counts: %s", counts(rep))
	}
	if !strings.Contains(logs.String(), `"msg":"key failed"`) {
		t.Error("no log entry for the failed keys")
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
	checkCounts(t, first)
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
	finalCheck(t, s, byID(keys))
	for i := range n {
		if c := logs.keyDecisions(t)[keyID(i)]; c != 1 {
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
		if l.last != nil {
			p.Records = append([]handler.Record{*l.last}, p.Records...)
		}
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
		t.Fatalf("listing error: %s", counts(first))
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
		if c := logs.keyDecisions(t)[keyID(i)]; c != 1 {
			t.Errorf("key %s decided %d times, want once", keyID(i), c)
		}
	}
}

func TestRequestErrors(t *testing.T) {
	s := newStore(20, 5)
	h, _ := newHandler(t, handler.Config{})
	sweepTok := func() string {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		hm, _ := newHandler(t, handler.Config{Margin: time.Second})
		return hm.Handle(ctx, s, handler.Request{Mode: handler.ModeSweep}).Continuation
	}()
	tests := []struct {
		name                string
		req                 handler.Request
		wantErr, wantReason string
	}{
		{name: "too many keys", req: handler.Request{Mode: handler.ModeKeys, KeyIDs: func() []string {
			ids := make([]string, handler.MaxKeyIDs+1)
			for i := range ids {
				ids[i] = keyID(i)
			}
			return ids
		}()}, wantErr: "key request names 1001 keys, at most 1000: use a sweep"},
		{name: "ignore", req: handler.Request{Mode: handler.ModeIgnore, Reason: "not a key event"}, wantReason: "not a key event"},
		{name: "unknown mode", req: handler.Request{Mode: "purge"}, wantErr: `unknown request mode "purge": want "sweep", "keys" or "ignore"`},
		{name: "garbage continuation", req: handler.Request{Mode: handler.ModeSweep, Continuation: "%%%"},
			wantErr: "invalid continuation: not a continuation token (bad encoding)", wantReason: "invalid continuation: not a continuation token (bad encoding)"},
		{name: "continuation of another mode", req: handler.Request{Mode: handler.ModeKeys, Continuation: sweepTok},
			wantErr: `invalid continuation: token resumes a "sweep" request, not "keys"`, wantReason: `invalid continuation: token resumes a "sweep" request, not "keys"`},
		{name: "continuation of a real run in a dry run", req: handler.Request{Mode: handler.ModeSweep, DryRun: ptr(true), Continuation: sweepTok},
			wantErr: "invalid continuation: token resumes a request with dry_run=false, not true", wantReason: "invalid continuation: token resumes a request with dry_run=false, not true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := h.Handle(context.Background(), s, tt.req)
			if rep.Error != tt.wantErr || rep.Reason != tt.wantReason || rep.Scanned != 0 || rep.Mode != tt.req.Mode {
				t.Errorf("got error %q reason %q scanned %d mode %q, want error %q reason %q", rep.Error, rep.Reason, rep.Scanned, rep.Mode, tt.wantErr, tt.wantReason)
			}
			if rep.Keys == nil {
				t.Error("Keys is nil, want an empty list in the JSON")
			}
		})
	}
	if st := s.Stats(); st.Writes != 0 {
		t.Errorf("invalid requests wrote %d times", st.Writes)
	}
}

func TestNoTimeToWork(t *testing.T) {
	s := newStore(20, 5)
	h, _ := newHandler(t, handler.Config{Margin: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	rep := h.Handle(ctx, s, handler.Request{Mode: handler.ModeSweep})
	if rep.Scanned != 0 || rep.Continuation == "" || !strings.Contains(rep.Error, "no time to work") {
		t.Fatalf("got %s, want no work, an error and a continuation", counts(rep))
	}
	h2, _ := newHandler(t, handler.Config{})
	next := h2.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep, Continuation: rep.Continuation})
	if next.Scanned != 20 || next.Continuation != "" {
		t.Errorf("resumed: %s", counts(next))
	}
}

func TestReportJSON(t *testing.T) {
	s := newStore(10, 5)
	h, _ := newHandler(t, handler.Config{})
	rep := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyID(5)}, DryRun: ptr(true)})
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"mode":"keys"`, `"dry_run":true`, `"planned":1`, `"outcome":"planned"`, `"delete":[{"key":"temp-build","value":"1"}`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("report JSON %s lacks %s", b, want)
		}
	}
}

// BenchmarkSweepDryRun measures a dry-run sweep of 1000 keys from memory:
// the handler's own cost per key (evaluate, plan, report, log).
func BenchmarkSweepDryRun(b *testing.B) {
	s := newStore(1000, 100)
	e, err := handler.LoadEngine(handler.Config{PoliciesDir: "testdata/policies"})
	if err != nil {
		b.Fatal(err)
	}
	h := handler.New(e, handler.Config{Concurrency: 4}, nil)
	b.ReportAllocs()
	for b.Loop() {
		rep := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep, DryRun: ptr(true)})
		if rep.Scanned != 1000 {
			b.Fatalf("scanned %d", rep.Scanned)
		}
	}
}

func TestCancelled(t *testing.T) {
	s := newStore(30, 10)
	h, _ := newHandler(t, handler.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep := h.Handle(ctx, s, handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyID(3)}, Reason: "cts createKey"})
	if rep.Scanned != 0 || rep.Continuation == "" || rep.Error != "" || rep.Reason != "cts createKey; cancelled; resume with the continuation" {
		t.Fatalf("cancelled request: %s", counts(rep))
	}
	next := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeKeys, Continuation: rep.Continuation})
	if next.Changed != 1 || next.Continuation != "" {
		t.Errorf("resumed: %s", counts(next))
	}
}

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
		t.Fatalf("denied sweep: %s", counts(first))
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
		t.Errorf("sweep with a panicking OnKey: %s", counts(rep))
	}
	if got := strings.Count(logs.String(), "OnKey hook panicked"); got != 40 {
		t.Errorf("%d log entries of the hook's panic, want 40", got)
	}
}

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
		t.Fatalf("cut sweep: %s", counts(rep))
	}
	if _, ok := byID(rep.Keys)[hung]; ok {
		t.Errorf("the interrupted key %s is reported, want it in the continuation", hung)
	}
	s.Hook = nil
	next := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep, Continuation: rep.Continuation})
	if kr := byID(next.Keys)[hung]; kr.Outcome != handler.OutcomeChanged {
		t.Errorf("resumed: key %s: %+v, want changed", hung, kr)
	}
	if rep.Scanned+next.Scanned != n || next.Continuation != "" {
		t.Errorf("scanned %d then %d, want %d in all: %s", rep.Scanned, next.Scanned, n, counts(next))
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
		t.Fatalf("cut sweep: %s, want 2 pages done", counts(first))
	}
	s.Delete(keyID(19)) // the last key of page 2: keys from 20 on move up
	next := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep, Continuation: first.Continuation})
	if next.Continuation != "" || next.Scanned != n-20 {
		t.Errorf("resumed: %s, want the %d keys left", counts(next), n-20)
	}
	dec := logs.keyDecisions(t)
	for i := range n {
		if c := dec[keyID(i)]; c != 1 {
			t.Errorf("key %s decided %d times, want once", keyID(i), c)
		}
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
		checkCounts(t, rep)
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
	for id, c := range logs.keyDecisions(t) {
		if c != 1 {
			t.Errorf("key %s decided %d times, want 1", id, c)
		}
	}

	hu, _ := newHandler(t, handler.Config{})
	full := hu.Handle(context.Background(), uncapped, handler.Request{Mode: handler.ModeSweep})
	if full.Continuation != "" || len(full.Keys) != len(listed) {
		t.Fatalf("uncapped sweep: %s, %d keys listed; capped sweeps listed %d", counts(full), len(full.Keys), len(listed))
	}
	for _, k := range uncapped.Keys() {
		want, _ := uncapped.TagsOf(k.ID)
		got, _ := capped.TagsOf(k.ID)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("key %s: capped sweeps end with other tags than an uncapped one (-uncapped +capped):\n%s", k.ID, diff)
		}
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
		t.Fatalf("uncut: %s", counts(uncut))
	}
	for _, partial := range []bool{false, true} {
		t.Run(fmt.Sprintf("partial=%t", partial), func(t *testing.T) {
			s := newStore(10, 100)
			ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
			first := h.Handle(ctx, cutWrites{s, partial}, handler.Request{Mode: handler.ModeKeys, KeyIDs: ids})
			cancel()
			if first.Continuation == "" || first.Scanned != 0 {
				t.Fatalf("first request: %s; want every key cut and put in the continuation", counts(first))
			}
			resumed := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeKeys, Continuation: first.Continuation})
			if resumed.Continuation != "" || resumed.Scanned != len(ids) {
				t.Fatalf("resumed: %s", counts(resumed))
			}
			if diff := cmp.Diff(byID(uncut.Keys), byID(resumed.Keys)); diff != "" {
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
