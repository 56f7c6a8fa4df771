package policy_test

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/policies"
	"github.com/tagwarden/tagwarden/policy"
)

const notifyPolicies = `
policies:
  - name: cc
    notify: 'tags["owner"]'
    rules:
      - require: cost-center
        default: cc-unknown
      - forbid_key: '^temp-'
  - name: platform
    notify: '"  platform  "'
    rules:
      - require: env
        default: dev
  - name: quiet
    rules:
      - require: backup
        default: daily
  - name: broken
    match: 'has("break")'
    notify: 'split(tags["owner"], ":")[1]'
    rules:
      - require: reviewed
        default: "no"
  - name: not-text
    match: 'has("not-text")'
    notify: 'let x = [1, "a"]; x[0]'
    rules:
      - require: reviewed
        default: "no"
  - name: creator
    match: 'has("creator")'
    notify: 'event.user.name ?? "nobody"'
    rules:
      - require: checked
  - name: sets-owner
    match: 'has("set-owner")'
    notify: 'tags["owner"]'
    rules:
      - require: owner
        default: team-z
  - name: graced
    match: 'has("graced")'
    grace: 7d
    notify: 'has("tagwarden-due") ? "sees the due tag" : "does not see the due tag"'
    rules:
      - require: label
        default: x
`

// TestNotify: each violation carries its policy's notify value for the
// key, evaluated on the key as found and its event, trimmed; a failing
// notify is a violation of its policy and changes no plan.
func TestNotify(t *testing.T) {
	all := load(t, notifyPolicies, policy.Limits{})
	for _, tc := range []struct {
		name     string
		policies []string
		key      policy.Key
		tags     map[string]string
		event    *policy.Event
		want     []policy.Violation
		create   []policy.Tag
	}{
		{
			name:     "each policy names its own, on every violation; no notify names no one",
			policies: []string{"cc", "platform", "quiet"},
			tags:     map[string]string{"owner": " team-a ", "temp-x": "1"},
			want: []policy.Violation{
				{Policy: "cc", Rule: "require cost-center", Tag: "cost-center", Message: `missing tag "cost-center"`, Remediated: true, Notify: "team-a"},
				{Policy: "cc", Rule: "forbid_key ^temp-", Tag: "temp-x", Message: `tag key "temp-x" is forbidden (matches ^temp-)`, Remediated: true, Notify: "team-a"},
				{Policy: "platform", Rule: "require env", Tag: "env", Message: `missing tag "env"`, Remediated: true, Notify: "platform"},
				{Policy: "quiet", Rule: "require backup", Tag: "backup", Message: `missing tag "backup"`, Remediated: true},
			},
			create: []policy.Tag{{Key: "backup", Value: "daily"}, {Key: "cost-center", Value: "cc-unknown"}, {Key: "env", Value: "dev"}},
		},
		{
			name:     "a compliant key runs no notify, not even one that would fail",
			policies: []string{"broken"},
			tags:     map[string]string{"break": "", "owner": "no-colon", "reviewed": "yes"},
		},
		{
			name:     "a failing notify is one more violation of its policy, after its others",
			policies: []string{"cc", "broken"},
			tags:     map[string]string{"break": "", "owner": "no-colon", "cost-center": "cc-ops"},
			want: []policy.Violation{
				{Policy: "broken", Rule: "require reviewed", Tag: "reviewed", Message: `missing tag "reviewed"`, Remediated: true},
				{Policy: "broken", Rule: "notify", Message: "notify expression failed: index out of range: 1 (array length is 1) (1:26)"},
			},
			create: []policy.Tag{{Key: "reviewed", Value: "no"}},
		},
		{
			name:     "a notify that produces no text fails",
			policies: []string{"not-text"},
			tags:     map[string]string{"not-text": ""},
			want: []policy.Violation{
				{Policy: "not-text", Rule: "require reviewed", Tag: "reviewed", Message: `missing tag "reviewed"`, Remediated: true},
				{Policy: "not-text", Rule: "notify", Message: "notify expression failed: the result is int, not a text"},
			},
			create: []policy.Tag{{Key: "reviewed", Value: "no"}},
		},
		{
			name:     "notify sees the event",
			policies: []string{"creator"},
			tags:     map[string]string{"creator": ""},
			event:    &policy.Event{Operation: "createKey", UserName: "alice"},
			want: []policy.Violation{
				{Policy: "creator", Rule: "require checked", Tag: "checked", Message: `missing tag "checked"; no default or value to set`, Notify: "alice"},
			},
		},
		{
			name:     "without an event, its fields are nil",
			policies: []string{"creator"},
			tags:     map[string]string{"creator": ""},
			want: []policy.Violation{
				{Policy: "creator", Rule: "require checked", Tag: "checked", Message: `missing tag "checked"; no default or value to set`, Notify: "nobody"},
			},
		},
		{
			name:     "notify sees the tags as found, not as the plan leaves them",
			policies: []string{"sets-owner"},
			tags:     map[string]string{"set-owner": ""},
			want: []policy.Violation{
				{Policy: "sets-owner", Rule: "require owner", Tag: "owner", Message: `missing tag "owner"`, Remediated: true},
			},
			create: []policy.Tag{{Key: "owner", Value: "team-z"}},
		},
		{
			name:     "notify does not see the due tag, and the due tag's violation names no one",
			policies: []string{"graced"},
			tags:     map[string]string{"graced": "", policy.DueTag: "garbage"},
			want: []policy.Violation{
				{Policy: "graced", Rule: "require label", Tag: "label", Message: `missing tag "label"; due 2026-03-09 (grace 7d)`, Due: "2026-03-09", Notify: "does not see the due tag"},
				{Policy: policy.GracePolicy, Rule: "due tag", Tag: policy.DueTag, Remediated: true},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := all.Subset(tc.policies...)
			if err != nil {
				t.Fatal(err)
			}
			d := e.EvaluateEvent(policy.Key{ID: "k"}, tc.tags, now, tc.event)
			// The due tag's message is the grace tests' business.
			for i := range d.Violations {
				if d.Violations[i].Policy == policy.GracePolicy {
					d.Violations[i].Message = ""
				}
			}
			if diff := cmp.Diff(tc.want, d.Violations); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
			if tc.create != nil {
				if diff := cmp.Diff(tc.create, d.Create); diff != "" {
					t.Errorf("create (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// notifyLine matches a policy's notify field, to load policies without.
var notifyLine = regexp.MustCompile(`(?m)^ *notify:.*\n`)

// TestNotifyKeepsThePlan evaluates generated keys under the shipped
// policies and the convergence policies, each given a notify (some of which
// fail on some keys), and under the same policies without notify: the plans
// are the same, and so are the violations but for Notify and the notify
// failures; each policy's violations name one owner, trimmed; a policy
// names no one, and its notify never fails, when it has no violation.
func TestNotifyKeepsThePlan(t *testing.T) {
	notifies := []string{`tags["owner"]`, `split(tags["owner"], "-")[1]`, `event.user.name ?? key.alias`, `" " + key.alias + " "`}
	i := 0
	withNotify := regexp.MustCompile(`(?m)^  - name: .*\n`).ReplaceAllStringFunc(convergencePolicies, func(s string) string {
		i++
		return s + "    notify: '" + notifies[i%len(notifies)] + "'\n"
	})
	with, without := fstest.MapFS{"extra.yaml": {Data: []byte(withNotify)}}, fstest.MapFS{"extra.yaml": {Data: []byte(convergencePolicies)}}
	for _, name := range []string{"owner.yaml", "cost-center.yaml", "environment.yaml", "no-temporary-in-production.yaml", "exemption.yaml"} {
		data, err := policies.FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		with[name] = &fstest.MapFile{Data: data}
		without[name] = &fstest.MapFile{Data: notifyLine.ReplaceAll(data, nil)}
	}
	ew, err := policy.Load(with, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eo, err := policy.Load(without, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	n := 5000
	if testing.Short() || raceEnabled {
		n = 300
	}
	events := []*policy.Event{nil, {Operation: "createKey", UserName: " bob "}}
	named, failed := 0, 0
	for i := range n {
		k, tags := randomKey(rng, i)
		ev := events[rng.IntN(len(events))]
		dw := ew.EvaluateEvent(k, tags, now, ev)
		do := eo.EvaluateEvent(k, tags, now, ev)
		for _, v := range do.Violations {
			if v.Notify != "" {
				t.Fatalf("key %+v tags %v: a policy without notify names %q", k, tags, v.Notify)
			}
		}
		var rest []policy.Violation
		who := map[string]string{}
		for _, v := range dw.Violations {
			if v.Rule == "notify" {
				failed++
				if !slices.ContainsFunc(dw.Violations, func(o policy.Violation) bool { return o.Policy == v.Policy && o.Rule != "notify" }) {
					t.Fatalf("key %+v tags %v: policy %q: notify failed with no other violation", k, tags, v.Policy)
				}
				continue
			}
			if w, seen := who[v.Policy]; seen && w != v.Notify {
				t.Fatalf("key %+v tags %v: policy %q names %q and %q", k, tags, v.Policy, w, v.Notify)
			}
			who[v.Policy] = v.Notify
			if v.Notify != strings.TrimSpace(v.Notify) {
				t.Fatalf("key %+v tags %v: notify %q is not trimmed", k, tags, v.Notify)
			}
			if v.Notify != "" {
				named++
			}
			v.Notify = ""
			rest = append(rest, v)
		}
		dw.Violations = rest
		if diff := cmp.Diff(do, dw); diff != "" {
			t.Fatalf("key %+v tags %v: notify changes the decision (-without +with):\n%s", k, tags, diff)
		}
	}
	if named == 0 || failed == 0 {
		t.Errorf("%d violations named someone, %d notify failed: the generator does not exercise notify", named, failed)
	}
}
