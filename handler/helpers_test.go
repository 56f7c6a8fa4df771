package handler_test

// Helpers shared by the handler's tests, which run on the in-memory store
// (handler/memstore): the test policies, a JSON log buffer, a store
// populated with every kind of key, and the report checks. The end-to-end
// tests, through the KMS adapter and the official SDK against the KMS
// emulator, are in adapters/huaweikms/e2e.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/memstore"
	"github.com/tagwarden/tagwarden/policy"
)

// testPolicies is the engine of testdata/policies, loaded once.
var testPolicies struct {
	once sync.Once
	e    *policy.Engine
	err  error
}

// testEngine loads testdata/policies, with the API's tag limits:
// ownership (owner and env, with defaults), no-temp (deletes temp-* tags),
// cost (report-only cost-center).
func testEngine(tb testing.TB) *policy.Engine {
	tb.Helper()
	testPolicies.once.Do(func() {
		testPolicies.e, testPolicies.err = policy.LoadDir("testdata/policies", policy.Options{Limits: policy.DefaultLimits()})
	})
	if testPolicies.err != nil {
		tb.Fatalf("load the test policies: %v", testPolicies.err)
	}
	return testPolicies.e
}

// logBuffer collects log lines; logrus serialises writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// entries decodes the JSON log lines.
func (b *logBuffer) entries(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

// keyDecisions counts the key decision entries per key id.
func (b *logBuffer) keyDecisions(t *testing.T) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, e := range b.entries(t) {
		if _, ok := e["outcome"]; ok {
			n[e["key_id"].(string)]++
		}
	}
	return n
}

// jsonLogger logs JSON lines, from level up, into a buffer.
func jsonLogger(level logrus.Level) (*logrus.Logger, *logBuffer) {
	logs := &logBuffer{}
	log := logrus.New()
	log.SetOutput(logs)
	log.SetFormatter(&logrus.JSONFormatter{})
	log.SetLevel(level)
	return log, logs
}

// newHandler builds a handler on the test policies, logging JSON at debug
// level into the buffer it returns; Concurrency 4 and testContinuationKey
// unless cfg says otherwise.
func newHandler(t *testing.T, cfg handler.Config) (*handler.Handler, *logBuffer) {
	t.Helper()
	log, logs := jsonLogger(logrus.DebugLevel)
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 4
	}
	if cfg.ContinuationKey == nil {
		cfg.ContinuationKey = testContinuationKey // one deployment: handlers accept each other's tokens
	}
	return handler.New(testEngine(t), cfg, log), logs
}

// testContinuationKey is the continuation key of the tests' deployment.
var testContinuationKey = []byte("tagwarden-test-continuation-key-0001")

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

// keyID is the id of the i-th key populate makes.
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

// newStore is an in-memory store of n keys made by populate, listed
// pageSize keys a page.
func newStore(n, pageSize int) *memstore.Store {
	s := memstore.New(memstore.Options{PageSize: pageSize})
	populate(s, n)
	return s
}

// ptr returns a pointer to v.
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

// byID indexes key reports by key id.
func byID(keys []handler.KeyReport) map[string]handler.KeyReport {
	m := map[string]handler.KeyReport{}
	for _, k := range keys {
		m[k.KeyID] = k
	}
	return m
}

// resumeAll runs a request and every continuation until done.
func resumeAll(t *testing.T, h *handler.Handler, s handler.KeyStore, req handler.Request, timeout time.Duration) []handler.Report {
	t.Helper()
	var reps []handler.Report
	base := timeout
	for i := 0; ; i++ {
		if i > 2000 {
			t.Fatal("no end after 2000 resumptions")
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		rep := h.Handle(ctx, s, req)
		cancel()
		reps = append(reps, rep)
		if rep.ErrorKind == handler.KindNoTime && rep.Continuation == "" {
			// Too short to do anything: the same request again, longer.
			reps = reps[:len(reps)-1]
			timeout *= 2
			continue
		}
		if rep.Continuation == "" {
			return reps
		}
		timeout = base
		if strings.HasPrefix(rep.Error, "invalid") {
			t.Fatalf("resumption %d: %s", i, rep.Error)
		}
		req.Continuation = rep.Continuation
	}
}
