package handler_test

// Helpers shared by the handler's tests, which run on the in-memory store
// (handler/memstore): the test policies, a store populated with every kind
// of key, and the final check. The report checks and the JSON log buffer are
// handler/handlertest's, shared with the end-to-end tests, through the KMS
// adapter and the official SDK against the KMS emulator, in
// adapters/huaweikms/e2e.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/handlertest"
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

// newHandler builds a handler on the test policies, logging JSON at debug
// level into the buffer it returns; Concurrency 4 and testContinuationKey
// unless cfg says otherwise.
func newHandler(t *testing.T, cfg handler.Config) (*handler.Handler, *handlertest.LogBuffer) {
	t.Helper()
	log, logs := handlertest.JSONLogger(logrus.DebugLevel)
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
