package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/memstore"
	"github.com/tagwarden/tagwarden/policy"
)

func quietLog() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

// applyEngine decides env=dev and owner=unassigned for a key without them:
// the decisions the plans of these tests record.
func applyEngine(t *testing.T) *policy.Engine {
	t.Helper()
	fs := fstest.MapFS{"basic.yaml": &fstest.MapFile{Data: []byte(`policies:
  - name: basic
    rules:
      - require: env
        default: dev
      - require: owner
        default: unassigned
`)}}
	e, err := policy.Load(fs, policy.Options{Limits: policy.DefaultLimits()})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// planned is a plan entry that creates create on a key that read read.
func planned(id string, read map[string]string, create ...policy.Tag) planKey {
	return planKey{KeyID: id, Outcome: handler.OutcomePlanned, Read: read, Create: create}
}

// TestApplyPlanOutcomes: what applying a plan does with each kind of key,
// through the in-memory store with injected failures.
func TestApplyPlanOutcomes(t *testing.T) {
	s := memstore.New(memstore.Options{})
	put := func(id string, tags map[string]string) {
		s.Put(policy.Key{ID: id, State: policy.StateEnabled}, tags)
	}
	owner := policy.Tag{Key: "owner", Value: "unassigned"}
	env := policy.Tag{Key: "env", Value: "dev"}
	put("k-ok", map[string]string{"x": "1"})
	put("k-stale", map[string]string{"x": "2"})
	put("k-readfail", map[string]string{})
	put("k-partial", map[string]string{})
	put("k-viol", map[string]string{})
	put("k-forged", map[string]string{"app": "vault", "team": "data"})
	p := &savedPlan{Keys: []planKey{
		// Edited by hand, consistent with what it read: deletes tags no
		// policy targets and creates one. The policies decide otherwise.
		{KeyID: "k-forged", Outcome: handler.OutcomePlanned, Read: map[string]string{"app": "vault", "team": "data"},
			Create: []policy.Tag{env, owner, {Key: "backdoor", Value: "1"}}, Delete: []policy.Tag{{Key: "app", Value: "vault"}}},
		planned("k-ok", map[string]string{"x": "1"}, env, owner),
		planned("k-stale", map[string]string{"x": "1"}, owner),
		planned("k-gone", map[string]string{}, owner),
		planned("k-readfail", map[string]string{}, owner),
		planned("k-partial", map[string]string{}, env, owner),
		{KeyID: "k-viol", Outcome: handler.OutcomeViolation, Violations: []policy.Violation{{Policy: "p", Message: "m"}}},
		{KeyID: "k-unread", Outcome: handler.OutcomeFailed, Error: "show tags: throttled"},
	}}
	var partial atomic.Int32
	s.Hook = func(_ context.Context, op, id string) error {
		switch {
		case op == memstore.OpKey && id == "k-readfail":
			return fmt.Errorf("show tags: %w", handler.ErrTransient)
		case op == memstore.OpApply && id == "k-partial" && partial.Add(1) == 2:
			return fmt.Errorf("tags action: %w", handler.ErrTransient)
		}
		return nil
	}
	res := applyPlan(context.Background(), s, applyEngine(t), p, 3, 1, quietLog())
	got := map[string]string{}
	for _, k := range res.Keys {
		got[k.KeyID] = string(k.Outcome) + ": " + k.Reason + k.Error
	}
	want := map[string]string{
		"k-forged": "not_policy_decision: the plan's changes (+env=dev +owner=unassigned +backdoor=1 -app) are not what the policies decide for this key " +
			"(+env=dev +owner=unassigned): not written; plan again",
		"k-ok":       "changed: ",
		"k-stale":    `changed_since_plan: changed since the plan (x 1 → 2): not written; plan again`,
		"k-gone":     "skipped: key not found: deleted since the plan",
		"k-readfail": "failed: read tags: show tags: transient failure",
		"k-partial":  "failed: create 1 tags: tags action: transient failure (after 1 of 2 calls: the key is partly changed)",
		"k-viol":     "violation: ",
		"k-unread":   "skipped: nothing planned: the plan could not read this key (show tags: throttled); plan again",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if tags, _ := s.TagsOf("k-ok"); !cmp.Equal(tags, map[string]string{"x": "1", "env": "dev", "owner": "unassigned"}) {
		t.Errorf("k-ok: tags %v", tags)
	}
	if tags, _ := s.TagsOf("k-stale"); !cmp.Equal(tags, map[string]string{"x": "2"}) {
		t.Errorf("k-stale was written: %v", tags)
	}
	if tags, _ := s.TagsOf("k-forged"); !cmp.Equal(tags, map[string]string{"app": "vault", "team": "data"}) {
		t.Errorf("k-forged was written: %v", tags)
	}
	c := res.Counts
	if c.Planned != 6 || c.Changed != 1 || c.ChangedSincePlan != 1 || c.NotPolicy != 1 || c.Failed != 2 || c.Skipped != 2 || c.Unread != 1 ||
		c.Violating != 1 || c.Writes != 3 || res.Error != "" || res.exitCode() != exitError {
		t.Errorf("counts %+v, error %q, exit %d", c, res.Error, res.exitCode())
	}
	if sum := res.summary(); !strings.Contains(sum, "1 changed, 1 with violations, 2 failed, 4 skipped; of the skipped: 1 changed since the plan, not written (plan again)") {
		t.Errorf("summary %q", sum)
	}
}

// TestApplyPlanStops: denied access stops the keys not yet started, and so
// does a cancelled context; neither writes them.
func TestApplyPlanStops(t *testing.T) {
	newPlan := func(s *memstore.Store) *savedPlan {
		p := &savedPlan{}
		for i := range 6 {
			id := fmt.Sprintf("k-%d", i)
			s.Put(policy.Key{ID: id, State: policy.StateEnabled}, map[string]string{})
			p.Keys = append(p.Keys, planned(id, map[string]string{}, policy.Tag{Key: "env", Value: "dev"}, policy.Tag{Key: "owner", Value: "unassigned"}))
		}
		return p
	}

	s := memstore.New(memstore.Options{})
	p := newPlan(s)
	s.Hook = func(_ context.Context, op, id string) error {
		if op == memstore.OpApply && id == "k-2" {
			return fmt.Errorf("tags action: %w", handler.ErrDenied)
		}
		return nil
	}
	res := applyPlan(context.Background(), s, applyEngine(t), p, 1, 10, quietLog())
	if res.Counts.Changed != 2 || res.Counts.Failed != 1 || res.Counts.NotAttempted != 3 || !strings.HasPrefix(res.Error, "stopped: ") ||
		res.exitCode() != exitError || s.Stats().Writes != 2 {
		t.Errorf("denied: counts %+v, error %q, %d writes", res.Counts, res.Error, s.Stats().Writes)
	}

	s = memstore.New(memstore.Options{})
	p = newPlan(s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res = applyPlan(ctx, s, applyEngine(t), p, 2, 10, quietLog())
	if res.Counts.NotAttempted != 6 || res.Error != "interrupted" || s.Stats().Writes != 0 {
		t.Errorf("cancelled: counts %+v, error %q, %d writes", res.Counts, res.Error, s.Stats().Writes)
	}
}

func TestDrift(t *testing.T) {
	read := map[string]string{"a": "1", "b": "2", "c": "3"}
	now := map[string]string{"a": "1", "b": "9", "d": "4"}
	got := describeDrift(drift(read, now))
	if want := "b 2 → 9, c removed, d=4 added"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
