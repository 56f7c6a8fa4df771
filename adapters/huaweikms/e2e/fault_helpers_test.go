package e2e_test

// Helpers of the fault tests: a transport that watches and times the
// calls, merging and checking the reports of a resumed run, the tags the
// shipped policies target, a reference sweep, the listing modes.

import (
	"context"
	"io/fs"
	"maps"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"go.yaml.in/yaml/v3"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/handlertest"
	"github.com/tagwarden/tagwarden/policies"
	"github.com/tagwarden/tagwarden/policy"
)

// fltTimeout bounds every invocation of the fault tests: a handler that
// hangs fails the test instead of stalling it.
const fltTimeout = 60 * time.Second

// fltCtx is a context that ends after fltTimeout, or with the test.
func fltCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), fltTimeout)
	t.Cleanup(cancel)
	return ctx
}

// fltTransport watches the HTTP calls of a store: it counts them, can act
// before a call is sent, and records the status of every tags/action answer.
type fltTransport struct {
	base   http.RoundTripper
	calls  atomic.Int64
	before func(n int64) // before call n (1-based) is sent
	// slowOver, when set, counts in slow the calls answered no sooner.
	slowOver time.Duration
	slow     atomic.Int64

	mu     sync.Mutex
	writes map[int]int // tags/action answers by status
}

func newFltTransport() *fltTransport {
	return &fltTransport{base: http.DefaultTransport.(*http.Transport).Clone(), writes: map[int]int{}}
}

func (f *fltTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	n := f.calls.Add(1)
	if f.before != nil {
		f.before(n)
	}
	start := time.Now()
	resp, err := f.base.RoundTrip(r)
	if f.slowOver > 0 && time.Since(start) >= f.slowOver {
		f.slow.Add(1)
	}
	if err == nil && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/tags/action") {
		f.mu.Lock()
		f.writes[resp.StatusCode]++
		f.mu.Unlock()
	}
	return resp, err
}

// writeStatuses returns a copy of the tags/action answers by status.
func (f *fltTransport) writeStatuses() map[int]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.writes)
}

// fltReports merges the reports of one resumed run: each listed key once.
type fltReports struct {
	scanned, compliant int
	keys               map[string]handler.KeyReport
}

func fltMerge(t *testing.T, reps []handler.Report) fltReports {
	t.Helper()
	m := fltReports{keys: map[string]handler.KeyReport{}}
	for i, r := range reps {
		handlertest.CheckCounts(t, r)
		m.scanned += r.Scanned
		m.compliant += r.Compliant
		for _, kr := range r.Keys {
			if prev, ok := m.keys[kr.KeyID]; ok {
				t.Errorf("key %s is reported twice: %s, then %s in report %d", kr.KeyID, prev.Outcome, kr.Outcome, i)
			}
			m.keys[kr.KeyID] = kr
		}
	}
	return m
}

// fltCheckCompliant re-evaluates the final state with the engine: a key
// that still needs changes must have been reported failed or skipped.
func fltCheckCompliant(t *testing.T, e *policy.Engine, state map[string]handler.Record, reported map[string]handler.KeyReport) {
	t.Helper()
	now := time.Now()
	for id, rec := range state {
		d := e.Evaluate(rec.Key, rec.Tags, now)
		if !d.HasChanges() {
			continue
		}
		if kr, ok := reported[id]; !ok || kr.Outcome != handler.OutcomeFailed && kr.Outcome != handler.OutcomeSkipped {
			t.Errorf("key %s (%s) still needs create %v delete %v; reported %+v", id, rec.Key.Alias, d.Create, d.Delete, kr)
		}
	}
}

// fltTargets derives, from the shipped policy files, which tag keys a rule
// targets: require and forbid name a tag, forbid_key gives a pattern.
func fltTargets(t *testing.T) func(tag string) bool {
	t.Helper()
	files, err := policy.PolicyFiles(policies.FS)
	if err != nil || len(files) == 0 {
		t.Fatalf("shipped policy files: %v (%d files)", err, len(files))
	}
	names := map[string]bool{}
	var patterns []*regexp.Regexp
	for _, f := range files {
		data, err := fs.ReadFile(policies.FS, f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Policies []struct {
				Rules []struct {
					Require   string `yaml:"require"`
					Forbid    string `yaml:"forbid"`
					ForbidKey string `yaml:"forbid_key"`
				} `yaml:"rules"`
			} `yaml:"policies"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range doc.Policies {
			for _, r := range p.Rules {
				switch {
				case r.Require != "":
					names[r.Require] = true
				case r.Forbid != "":
					names[r.Forbid] = true
				case r.ForbidKey != "":
					patterns = append(patterns, regexp.MustCompile(r.ForbidKey))
				default:
					t.Fatalf("%s: a rule with no require, forbid or forbid_key: update this test", f)
				}
			}
		}
	}
	if len(names) == 0 || len(patterns) == 0 {
		t.Fatalf("targets %v, %d patterns: the shipped policies changed, update this test", names, len(patterns))
	}
	return func(tag string) bool {
		if names[tag] {
			return true
		}
		for _, re := range patterns {
			if re.MatchString(tag) {
				return true
			}
		}
		return false
	}
}

// fltCheckOnlyTargets compares the final state with the seed: every tag
// added, removed or changed must be one a rule targets and one the reports
// list among that key's creates or deletes.
func fltCheckOnlyTargets(t *testing.T, seed []emulator.SeedKey, state map[string]handler.Record, reported map[string]handler.KeyReport) int {
	t.Helper()
	targeted := fltTargets(t)
	changed := 0
	for _, s := range seed {
		before := map[string]string{}
		for _, tg := range s.Tags {
			before[tg.Key] = tg.Value
		}
		after := state[s.ResourceID].Tags
		listed := map[string]bool{}
		for _, tg := range reported[s.ResourceID].Create {
			listed[tg.Key] = true
		}
		for _, tg := range reported[s.ResourceID].Delete {
			listed[tg.Key] = true
		}
		diff := map[string]bool{}
		for k, v := range before {
			if w, ok := after[k]; !ok || w != v {
				diff[k] = true
			}
		}
		for k := range after {
			if _, ok := before[k]; !ok {
				diff[k] = true
			}
		}
		for k := range diff {
			changed++
			if !targeted(k) {
				t.Errorf("key %s: tag %q changed (%q -> %q) though no rule targets it", s.ResourceID, k, before[k], after[k])
			}
			if !listed[k] {
				t.Errorf("key %s: tag %q changed (%q -> %q) but no report lists it", s.ResourceID, k, before[k], after[k])
			}
		}
	}
	return changed
}

// fltResume runs req and its continuations until none is left, each
// invocation with a context from newCtx and a fresh store from newStore.
func fltResume(t *testing.T, h *handler.Handler, req handler.Request, max int,
	newCtx func() (context.Context, context.CancelFunc), newStore func() handler.KeyStore) []handler.Report {
	t.Helper()
	var reps []handler.Report
	for i := 0; ; i++ {
		if i >= max {
			t.Fatalf("not done after %d invocations; last: %+v", max, reps[len(reps)-1].Error)
		}
		ctx, cancel := newCtx()
		rep := h.Handle(ctx, newStore(), req)
		cancel()
		reps = append(reps, rep)
		if rep.Continuation == "" {
			return reps
		}
		if rep.Error != "" {
			t.Logf("invocation %d stopped: %s", i, rep.Error)
		}
		req.Continuation = rep.Continuation
	}
}

// fltBatches counts the BatchCreateKmsTags calls a report's changes take.
func fltBatches(e *policy.Engine, keys map[string]handler.KeyReport, outcome handler.Outcome) int {
	n := 0
	for _, kr := range keys {
		if kr.Outcome == outcome {
			n += len(policy.Decision{Create: kr.Create, Delete: kr.Delete}.Batches(e.Limits().MaxBatch))
		}
	}
	return n
}

// fltDecisions is a logrus hook counting the handler's key decisions
// (the entries "key compliant", "key changed", ... with a key_id) by key id.
type fltDecisions struct {
	mu sync.Mutex
	n  map[string]int
}

func (d *fltDecisions) Levels() []logrus.Level { return logrus.AllLevels }

func (d *fltDecisions) Fire(e *logrus.Entry) error {
	id, ok := e.Data["key_id"].(string)
	if !ok || !strings.HasPrefix(e.Message, "key ") {
		return nil
	}
	d.mu.Lock()
	d.n[id]++
	d.mu.Unlock()
	return nil
}

// fltThrottled matches the error of a call the gateway throttled.
var fltThrottled = regexp.MustCompile(`(?i)throttl|APIG\.0308|http 429`)

// fltNotAFault matches errors that no injected fault explains.
var fltNotAFault = regexp.MustCompile(`(?i)invalid|denied|authentication|permission|not found|internal error`)

func fltCount(m fltReports, o handler.Outcome) int {
	n := 0
	for _, kr := range m.keys {
		if kr.Outcome == o {
			n++
		}
	}
	return n
}

// fltSetup starts an emulator with opts on n sample keys (sample seeds
// their choice) and runs the reference sweep over the same keys
// (fltReference): the emulator, the final state every run must reach, and
// the calls and writes of that sweep.
func fltSetup(t *testing.T, n int, sample int64, opts emulator.Options) (k *kms, want []emulator.SeedKey, calls, writes int) {
	t.Helper()
	seed := emulator.SampleKeys(n, sample)
	want, calls, writes = fltReference(t, seed)
	return fltStartWith(t, seed, opts), want, calls, writes
}

// fltReference runs one plain sweep over the same seed on another
// emulator: the final state every other run must reach.
// It also returns how many calls and how many writes that sweep made.
func fltReference(t *testing.T, seed []emulator.SeedKey) ([]emulator.SeedKey, int, int) {
	t.Helper()
	ref := fltStart(t, seed)
	rep := handler.New(shipped(t), handler.Config{ContinuationKey: testContinuationKey}, nil).Handle(fltCtx(t), ref.fltStore(t, nil, nil), handler.Request{Mode: handler.ModeSweep})
	if rep.Error != "" || rep.Continuation != "" || rep.Scanned != len(seed) || rep.Failed != 0 {
		t.Fatalf("reference sweep: scanned %d failed %d error %q", rep.Scanned, rep.Failed, rep.Error)
	}
	st := ref.Server.Stats()
	calls := 0
	for _, c := range st.Calls {
		calls += c
	}
	return ref.Server.Keys(""), calls, st.Writes
}

// listingModes are the emulator's listing behaviours: every guarantee about
// sweeps holds in each.
var listingModes = []struct {
	name string
	opts emulator.Options
}{
	{"live", emulator.Options{}},
	{"documented", emulator.Options{DocumentedShapes: true}},
	{"omit-untagged", emulator.Options{BulkOmitUntagged: true}},
	{"documented-omit-untagged", emulator.Options{DocumentedShapes: true, BulkOmitUntagged: true}},
}
