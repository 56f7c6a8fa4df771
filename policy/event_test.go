package policy_test

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/policy"
)

// creatorPolicy requires an owner computed by the value expression given.
func creatorPolicy(value string) string {
	return "policies:\n  - name: creator\n    rules:\n      - require: owner\n        value: '" + value + "'\n"
}

func TestEvaluateEvent(t *testing.T) {
	const atCreation = `event.operation == "createKey" ? event.user.name ?? "unassigned" : "unassigned"`
	alice := &policy.Event{Operation: "createKey", UserName: "alice", UserID: "u-1", SourceIP: "192.0.2.10"}
	tests := []struct {
		name       string
		value      string
		event      *policy.Event
		tags       map[string]string
		wantCreate []policy.Tag
		wantMsg    string // a part of the one violation's message, when not remediated
	}{
		{"the creator becomes the owner", `event.user.name ?? "unassigned"`, alice, nil,
			[]policy.Tag{{Key: "owner", Value: "alice"}}, ""},
		{"no event: the fallback", `event.user.name ?? "unassigned"`, nil, nil,
			[]policy.Tag{{Key: "owner", Value: "unassigned"}}, ""},
		{"an empty user name is none", `event.user.name ?? "unassigned"`, &policy.Event{Operation: "createKey"}, nil,
			[]policy.Tag{{Key: "owner", Value: "unassigned"}}, ""},
		{"an existing owner is kept", `event.user.name ?? "unassigned"`, alice, map[string]string{"owner": "team-a"},
			nil, ""},
		{"an empty owner is replaced by the creator", `event.user.name ?? "unassigned"`, alice, map[string]string{"owner": ""},
			[]policy.Tag{{Key: "owner", Value: "alice"}}, ""},
		{"at creation only: createKey", atCreation, alice, nil,
			[]policy.Tag{{Key: "owner", Value: "alice"}}, ""},
		{"at creation only: a tag operation", atCreation, &policy.Event{Operation: "deleteKeyTag", UserName: "bob"}, nil,
			[]policy.Tag{{Key: "owner", Value: "unassigned"}}, ""},
		{"at creation only: a sweep", atCreation, nil, nil,
			[]policy.Tag{{Key: "owner", Value: "unassigned"}}, ""},
		{"user id", `event.user.id ?? "none"`, alice, nil,
			[]policy.Tag{{Key: "owner", Value: "u-1"}}, ""},
		{"source ip", `event.source_ip ?? "none"`, alice, nil,
			[]policy.Tag{{Key: "owner", Value: "192.0.2.10"}}, ""},
		{"helpers take the fallback's text", `upper(event.user.name ?? "")`, alice, nil,
			[]policy.Tag{{Key: "owner", Value: "ALICE"}}, ""},
		{"a comparison with no event is false", `event.user.name == "alice" ? "a" : "b"`, nil, nil,
			[]policy.Tag{{Key: "owner", Value: "b"}}, ""},
		{"a name that is no tag value is not written", `event.user.name ?? "unassigned"`, &policy.Event{UserName: "a=b"}, nil,
			nil, `cannot remediate: "a=b" cannot be written`},
		{"nil without a fallback is not a text", `event.user.name != nil ? event.user.name : "x"`, alice, nil,
			nil, "not a text"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := load(t, creatorPolicy(tc.value), policy.Limits{})
			d := e.EvaluateEvent(policy.Key{ID: "k"}, tc.tags, now, tc.event)
			if diff := cmp.Diff(tc.wantCreate, d.Create); diff != "" {
				t.Errorf("create (-want +got):\n%s", diff)
			}
			if tc.wantMsg != "" && (len(d.Violations) != 1 || d.Violations[0].Remediated || !strings.Contains(d.Violations[0].Message, tc.wantMsg)) {
				t.Errorf("violations %+v, want one unremediated containing %q", d.Violations, tc.wantMsg)
			}
		})
	}
}

// TestEvaluateEventLeavesNoTrace: an evaluation without an event after one
// with an event (the engine reuses its evaluation states) sees no event,
// and the event given is not changed.
func TestEvaluateEventLeavesNoTrace(t *testing.T) {
	e := load(t, creatorPolicy(`event.user.name ?? "unassigned"`), policy.Limits{})
	ev := policy.Event{Operation: "createKey", UserName: "alice"}
	for i := range 20 {
		if d := e.EvaluateEvent(policy.Key{ID: "k"}, nil, now, &ev); len(d.Create) != 1 || d.Create[0].Value != "alice" {
			t.Fatalf("round %d with the event: %+v", i, d.Create)
		}
		if d := e.Evaluate(policy.Key{ID: "k"}, nil, now); len(d.Create) != 1 || d.Create[0].Value != "unassigned" {
			t.Fatalf("round %d without an event: %+v, want unassigned", i, d.Create)
		}
	}
	if ev != (policy.Event{Operation: "createKey", UserName: "alice"}) {
		t.Errorf("the event changed: %+v", ev)
	}
}

// TestEventLoadErrors: event fields are checked when the policies load.
func TestEventLoadErrors(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{`event.user.name`, "must produce a text: expected string, but got text or nil"},
		{`event.user.nme ?? "x"`, "has no field nme"},
		{`event.operaton ?? "x"`, "has no field operaton"},
	} {
		t.Run(tc.value, func(t *testing.T) {
			_, err := policy.Load(fstest.MapFS{"p.yaml": {Data: []byte(creatorPolicy(tc.value))}}, policy.Options{})
			var les policy.LoadErrors
			if !errors.As(err, &les) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want a load error containing %q", err, tc.want)
			}
		})
	}
}
