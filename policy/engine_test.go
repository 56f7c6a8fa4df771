package policy_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tagwarden/tagwarden/policies"
	"github.com/tagwarden/tagwarden/policy"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// load compiles one policy file given as text.
func load(t testing.TB, text string, limits policy.Limits) *policy.Engine {
	t.Helper()
	e, err := policy.Load(fstest.MapFS{"p.yaml": {Data: []byte(text)}}, policy.Options{Limits: limits})
	if err != nil {
		t.Fatalf("load:\n%v", err)
	}
	return e
}

// v is a short way to write an expected violation; message is a substring.
type v struct {
	policy, rule, tag string
	remediated        bool
	message           string
}

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name       string
		policies   string
		limits     policy.Limits
		key        policy.Key
		tags       map[string]string
		wantCreate []policy.Tag
		wantDelete []policy.Tag
		want       []v
	}{
		{
			name:     "compliant key gets no change",
			policies: `{policies: [{name: p, rules: [{require: owner, default: x}]}]}`,
			tags:     map[string]string{"owner": "team-a", "other": "v"},
		},
		{
			name:       "missing tag is created from the default",
			policies:   `{policies: [{name: p, rules: [{require: owner, default: unassigned}]}]}`,
			tags:       map[string]string{"other": "v"},
			wantCreate: []policy.Tag{{Key: "owner", Value: "unassigned"}},
			want:       []v{{"p", "require owner", "owner", true, `missing tag "owner"`}},
		},
		{
			name:     "missing tag without default is reported",
			policies: `{policies: [{name: p, rules: [{require: owner}]}]}`,
			want:     []v{{"p", "require owner", "owner", false, "no default or value to set"}},
		},
		{
			name:       "normalization replaces the value",
			policies:   `{policies: [{name: p, rules: [{require: env, normalize: [trim, lower], pattern: '^(prod|dev)$'}]}]}`,
			tags:       map[string]string{"env": "PROD "},
			wantCreate: []policy.Tag{{Key: "env", Value: "prod"}},
			want:       []v{{"p", "require env", "env", true, "not normalized"}},
		},
		{
			name:       "a value not allowed is replaced by the computed value",
			policies:   `{policies: [{name: p, rules: [{require: cc, allowed: [a, b], value: 'key.alias startsWith "x" ? "a" : "b"'}]}]}`,
			key:        policy.Key{Alias: "xyz"},
			tags:       map[string]string{"cc": "zzz"},
			wantCreate: []policy.Tag{{Key: "cc", Value: "a"}},
			want:       []v{{"p", "require cc", "cc", true, "not one of a, b"}},
		},
		{
			name:     "a computed value that is not allowed is not written",
			policies: `{policies: [{name: p, rules: [{require: cc, allowed: [a, b], value: 'key.alias'}]}]}`,
			key:      policy.Key{Alias: "other"},
			want:     []v{{"p", "require cc", "cc", false, `cannot remediate: "other" cannot be written: it is not one of a, b`}},
		},
		{
			name:     "a computed value that breaks the tag rules is not written",
			policies: `{policies: [{name: p, rules: [{require: desc, value: 'key.description'}]}]}`,
			key:      policy.Key{Description: "a=b"},
			want:     []v{{"p", "require desc", "desc", false, `cannot remediate: "a=b" cannot be written: value "a=b" contains '='`}},
		},
		{
			name:     "a computed value too long is not written",
			policies: `{policies: [{name: p, rules: [{require: desc, value: 'key.description'}]}]}`,
			key:      policy.Key{Description: strings.Repeat("é", 44)},
			want:     []v{{"p", "require desc", "desc", false, "44 characters long, more than 43"}},
		},
		{
			name:     "a configured value limit is obeyed",
			policies: `{policies: [{name: p, rules: [{require: desc, value: 'key.description'}]}]}`,
			limits:   policy.Limits{MaxValueLen: 5},
			key:      policy.Key{Description: "abcdef"},
			want:     []v{{"p", "require desc", "desc", false, `cannot remediate: "abcdef" cannot be written: value "abcdef" is 6 characters long, more than 5`}},
		},
		{
			name:       "configured reserved prefixes are never deleted",
			policies:   `{policies: [{name: p, rules: [{forbid_key: 'x'}]}]}`,
			limits:     policy.Limits{ReservedPrefixes: []string{"_sys_", "sys-"}},
			tags:       map[string]string{"sys-x": "1", "_sys_x": "2", "x": "3"},
			wantDelete: []policy.Tag{{Key: "x", Value: "3"}},
			want:       []v{{"p", "forbid_key x", "x", true, ""}},
		},
		{
			name:       "forbid deletes",
			policies:   `{policies: [{name: p, rules: [{forbid: env, values: [tmp, test], when: 'key.alias startsWith "prod-"', remediate: delete}]}]}`,
			key:        policy.Key{Alias: "prod-a"},
			tags:       map[string]string{"env": "TMP"},
			wantDelete: []policy.Tag{{Key: "env", Value: "TMP"}},
			want:       []v{{"p", "forbid env", "env", true, `forbidden value "TMP"`}},
		},
		{
			name:     "forbid does not apply when its condition is false",
			policies: `{policies: [{name: p, rules: [{forbid: env, values: [tmp], when: 'key.alias startsWith "prod-"'}]}]}`,
			key:      policy.Key{Alias: "dev-a"},
			tags:     map[string]string{"env": "tmp"},
		},
		{
			name:       "forbid replaces",
			policies:   `{policies: [{name: p, rules: [{forbid: env, values: [tmp], remediate: replace, default: dev}]}]}`,
			tags:       map[string]string{"env": "tmp"},
			wantCreate: []policy.Tag{{Key: "env", Value: "dev"}},
			want:       []v{{"p", "forbid env", "env", true, ""}},
		},
		{
			name:     "forbid with remediate none only reports",
			policies: `{policies: [{name: p, rules: [{forbid: secret, remediate: none}]}]}`,
			tags:     map[string]string{"secret": "x"},
			want:     []v{{"p", "forbid secret", "secret", false, "remediate: none"}},
		},
		{
			name:       "forbid_key removes matching keys but never reserved ones",
			policies:   `{policies: [{name: p, rules: [{forbid_key: 'temp'}]}]}`,
			tags:       map[string]string{"temp-a": "1", "b-temp": "2", "_sys_temp": "3", "keep": "4"},
			wantDelete: []policy.Tag{{Key: "b-temp", Value: "2"}, {Key: "temp-a", Value: "1"}},
			want:       []v{{"p", "forbid_key temp", "temp-a", true, ""}, {"p", "forbid_key temp", "b-temp", true, ""}},
		},
		{
			name: "forbid_key never removes a tag another rule requires",
			policies: `{policies: [{name: a, rules: [{forbid_key: '^temp-'}]},
			                       {name: b, rules: [{require: temp-owner}]}]}`,
			tags:       map[string]string{"temp-owner": "x", "temp-b": "y"},
			wantDelete: []policy.Tag{{Key: "temp-b", Value: "y"}},
			want: []v{{"a", "forbid_key ^temp-", "temp-b", true, ""},
				{"a", "forbid_key ^temp-", "temp-owner", false, `conflict: policy "a" wants to delete "temp-owner", which policy "b" (rule "require temp-owner") does not accept`}},
		},
		{
			name: "no rule creates a key that forbid_key forbids",
			policies: `{policies: [{name: a, rules: [{forbid_key: '^temp-'}]},
			                       {name: b, rules: [{require: temp-owner, default: x}]}]}`,
			want: []v{{"b", "require temp-owner", "temp-owner", false, "conflict"}},
		},
		{
			name: "two policies wanting different values conflict",
			policies: `{policies: [{name: a, rules: [{require: owner, default: x}]},
			                       {name: b, rules: [{require: owner, default: y}]}]}`,
			want: []v{{"a", "require owner", "owner", false, `conflict: policy "a" wants owner="x", policy "b" wants owner="y"`},
				{"b", "require owner", "owner", false, "conflict"}},
		},
		{
			name: "two policies wanting the same value agree",
			policies: `{policies: [{name: a, rules: [{require: owner, default: x}]},
			                       {name: b, rules: [{require: owner, default: x}]}]}`,
			wantCreate: []policy.Tag{{Key: "owner", Value: "x"}},
			want:       []v{{"a", "require owner", "owner", true, ""}, {"b", "require owner", "owner", true, ""}},
		},
		{
			name: "the higher priority wins a conflict",
			policies: `{policies: [{name: a, priority: 10, rules: [{require: owner, allowed: [x], default: x}]},
			                       {name: b, rules: [{require: owner, allowed: [y], default: y}]}]}`,
			wantCreate: []policy.Tag{{Key: "owner", Value: "x"}},
			want: []v{{"a", "require owner", "owner", true, ""},
				{"b", "require owner", "owner", false, `overridden by policy "a" (rule "require owner", priority 10)`}},
		},
		{
			name: "a satisfied higher priority rule blocks a lower one",
			policies: `{policies: [{name: a, priority: 1, rules: [{require: env, normalize: upper}]},
			                       {name: b, rules: [{require: env, normalize: lower}]}]}`,
			tags: map[string]string{"env": "PROD"},
			want: []v{{"b", "require env", "env", false, "overridden by policy \"a\""}},
		},
		{
			name: "a lower priority rule still applies when the winner accepts its value",
			policies: `{policies: [{name: a, priority: 10, rules: [{require: owner, default: unassigned}]},
			                       {name: b, rules: [{require: owner, allowed: [team-a, team-b], default: team-a}]}]}`,
			wantCreate: []policy.Tag{{Key: "owner", Value: "team-a"}},
			want:       []v{{"a", "require owner", "owner", true, ""}, {"b", "require owner", "owner", true, ""}},
		},
		{
			name:     "report-only policies plan nothing",
			policies: `{policies: [{name: p, enforce: false, rules: [{require: owner, default: x}, {forbid_key: '^temp-'}]}]}`,
			tags:     map[string]string{"temp-1": "a"},
			want:     []v{{"p", "require owner", "owner", false, `missing tag "owner"`}, {"p", "forbid_key ^temp-", "temp-1", false, ""}},
		},
		{
			name:     "default keys are never changed",
			policies: `{policies: [{name: p, rules: [{require: owner, default: x}]}]}`,
			key:      policy.Key{Default: true},
			want:     []v{{"p", "require owner", "owner", false, "default keys are never tagged"}},
		},
		{
			name:       "new tags stop at the tag limit, by key order",
			policies:   `{policies: [{name: p, rules: [{require: b, default: x}, {require: a, default: x}, {require: c, default: x}]}]}`,
			limits:     policy.Limits{MaxTags: 3},
			tags:       map[string]string{"z": "1"},
			wantCreate: []policy.Tag{{Key: "a", Value: "x"}, {Key: "b", Value: "x"}},
			want: []v{{"p", "require a", "a", true, ""}, {"p", "require b", "b", true, ""},
				{"p", "require c", "c", false, "cannot remediate: the key would have more than 3 tags"}},
		},
		{
			name:       "deletes make room for new tags",
			policies:   `{policies: [{name: p, rules: [{require: owner, default: x}, {forbid_key: '^t'}]}]}`,
			limits:     policy.Limits{MaxTags: 2},
			tags:       map[string]string{"t1": "1", "keep": "2"},
			wantCreate: []policy.Tag{{Key: "owner", Value: "x"}},
			wantDelete: []policy.Tag{{Key: "t1", Value: "1"}},
			want:       []v{{"p", "require owner", "owner", true, ""}, {"p", "forbid_key ^t", "t1", true, ""}},
		},
		{
			name: "a change can bring another policy into force in the same plan",
			policies: `{policies: [{name: env, rules: [{require: env, normalize: lower}]},
			                       {name: prod, match: 'tags["env"] == "prod"', rules: [{require: backup, default: daily}]}]}`,
			tags:       map[string]string{"env": "PROD"},
			wantCreate: []policy.Tag{{Key: "backup", Value: "daily"}, {Key: "env", Value: "prod"}},
			want: []v{{"env", "require env", "env", true, ""},
				{"prod", "require backup", "backup", true, "after the planned changes"}},
		},
		{
			name:     "an expression failing at run time is a violation",
			policies: `{policies: [{name: p, match: 'tags["n"] matches tags["n"] + "("', rules: [{require: owner, default: x}]}]}`,
			tags:     map[string]string{"n": "x"},
			want:     []v{{"p", "match", "", false, "match expression failed"}},
		},
		{
			name: "policies that never settle change nothing",
			policies: `{policies: [{name: p, rules: [
			   {require: a, default: "1", when: '!has("b")'},
			   {require: b, default: "1", when: 'has("a")'},
			   {forbid: a, when: 'has("b")'},
			   {forbid: b, when: '!has("a")'}]}]}`,
			want: []v{{"p", "require a", "a", false, "do not reach a stable result"}},
		},
		{
			name:       "helpers: has, lower, upper, trim, matches, age_days",
			policies:   `{policies: [{name: p, match: 'has("x") && "x" in tags && !("y" in tags) && tags.x == "" && tags["y"] == "" && lower("A") == "a" && upper("a") == "A" && trim(" a ") == "a" && key.alias matches "^app-[0-9]+$" && key.age_days == 59 && now.Year() == 2026', rules: [{require: seen, default: "yes"}]}]}`,
			key:        policy.Key{Alias: "app-42", Created: now.Add(-59*24*time.Hour - time.Hour)},
			tags:       map[string]string{"x": ""},
			wantCreate: []policy.Tag{{Key: "seen", Value: "yes"}},
			want:       []v{{"p", "require seen", "seen", true, ""}},
		},
		{
			name:     "exempt skips the policy",
			policies: `{policies: [{name: p, exempt: 'tags["skip"] == "true"', rules: [{require: owner, default: x}]}]}`,
			tags:     map[string]string{"skip": "true"},
		},
		{
			name:     "a named rule reports under its name",
			policies: `{policies: [{name: p, rules: [{name: owner-present, require: owner}]}]}`,
			want:     []v{{"p", "owner-present", "owner", false, ""}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := load(t, tc.policies, tc.limits)
			d := e.Evaluate(tc.key, tc.tags, now)
			if diff := cmp.Diff(tc.wantCreate, d.Create, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("create (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantDelete, d.Delete, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("delete (-want +got):\n%s", diff)
			}
			if len(d.Violations) != len(tc.want) {
				t.Errorf("got %d violations, want %d: %+v", len(d.Violations), len(tc.want), d.Violations)
			}
			for _, w := range tc.want {
				i := slices.IndexFunc(d.Violations, func(g policy.Violation) bool {
					return g.Policy == w.policy && g.Rule == w.rule && g.Tag == w.tag
				})
				if i < 0 {
					t.Errorf("no violation of policy %q rule %q tag %q in %+v", w.policy, w.rule, w.tag, d.Violations)
					continue
				}
				g := d.Violations[i]
				if g.Remediated != w.remediated {
					t.Errorf("violation %q: got remediated %t, want %t (%s)", w.rule, g.Remediated, w.remediated, g.Message)
				}
				if !strings.Contains(g.Message, w.message) {
					t.Errorf("violation %q: got message %q, want it to contain %q", w.rule, g.Message, w.message)
				}
			}
			// Whatever the case, the plan must converge.
			if d.HasChanges() {
				if again := e.Evaluate(tc.key, d.Apply(tc.tags), now); again.HasChanges() {
					t.Errorf("evaluating the result plans more changes: %+v", again)
				}
			}
		})
	}
}

// TestUndeletableTag: a forbidden tag whose key or value breaks the API's
// rules cannot be deleted through the API: it is reported "cannot
// remediate", and no delete is planned (a dry run promises only what a real
// run can do).
func TestUndeletableTag(t *testing.T) {
	e := load(t, `{policies: [{name: p, rules: [{forbid_key: '^temp-'}, {forbid: scratch}]}]}`, policy.Limits{})
	k := policy.Key{ID: "k", State: policy.StateEnabled}
	tests := []struct {
		name string
		tags map[string]string
		tag  string
	}{
		{"key with *", map[string]string{"temp-a*b": "1", "temp-ok": "2"}, "temp-a*b"},
		{"value with =", map[string]string{"scratch": "a=b"}, "scratch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.Evaluate(k, tt.tags, time.Now())
			for _, del := range d.Delete {
				if del.Key == tt.tag {
					t.Errorf("plans to delete %q, which the API refuses", tt.tag)
				}
			}
			found := false
			for _, v := range d.Violations {
				if v.Tag == tt.tag && !v.Remediated && strings.Contains(v.Message, "cannot remediate: the tag") {
					found = true
				}
			}
			if !found {
				t.Errorf("no cannot-remediate violation for %q: %+v", tt.tag, d.Violations)
			}
		})
	}
}

func TestBatchesSplit(t *testing.T) {
	e := load(t, `{policies: [{name: p, rules: [{forbid_key: '^t'}]}]}`, policy.Limits{MaxTags: 50, MaxBatch: 10})
	tags := map[string]string{}
	for i := range 25 {
		tags[fmt.Sprintf("t%02d", i)] = "x"
	}
	d := e.Evaluate(policy.Key{}, tags, now)
	batches := d.Batches(e.Limits().MaxBatch)
	var sizes []int
	for _, b := range batches {
		if b.Action != policy.ActionDelete {
			t.Errorf("got action %s, want delete", b.Action)
		}
		sizes = append(sizes, len(b.Tags))
	}
	if diff := cmp.Diff([]int{10, 10, 5}, sizes); diff != "" {
		t.Errorf("batch sizes (-want +got):\n%s", diff)
	}
}

func TestDefaultLimits(t *testing.T) {
	want := policy.Limits{MaxKeyLen: 36, MaxValueLen: 43, MaxTags: 10, MaxBatch: 10, ReservedPrefixes: []string{"_sys_"}}
	if diff := cmp.Diff(want, policy.DefaultLimits()); diff != "" {
		t.Errorf("DefaultLimits (-want +got):\n%s", diff)
	}
	e := load(t, `{policies: [{name: p, rules: [{require: a}]}]}`, policy.Limits{})
	if diff := cmp.Diff(want, e.Limits()); diff != "" {
		t.Errorf("zero Limits must take the defaults (-want +got):\n%s", diff)
	}
	l := policy.DefaultLimits()
	for _, tc := range []struct {
		value string
		ok    bool
	}{
		{"", true}, {strings.Repeat("a", 43), true}, {strings.Repeat("ü", 43), true}, {strings.Repeat("a", 44), false},
		{"a\tb", false}, {"a*b", false}, {"a<b", false}, {"a>b", false}, {`a\b`, false}, {"a=b", false}, {"a b-c_d.e:f/g@h", true},
	} {
		if err := l.CheckValue(tc.value); (err == nil) != tc.ok {
			t.Errorf("CheckValue(%q) = %v, want ok %t", tc.value, err, tc.ok)
		}
	}
	for _, tc := range []struct {
		key string
		ok  bool
	}{{"", false}, {"owner", true}, {strings.Repeat("k", 36), true}, {strings.Repeat("k", 37), false}, {"_sys_x", false}, {"a\x00", false}} {
		if err := l.CheckKey(tc.key); (err == nil) != tc.ok {
			t.Errorf("CheckKey(%q) = %v, want ok %t", tc.key, err, tc.ok)
		}
	}
}

// convergencePolicies adds, to the shipped baseline, policies that compete
// for the same tags, with and without priorities.
const convergencePolicies = `
policies:
  - name: team-default
    priority: 5
    rules:
      - require: owner
        normalize: trim
        default: unassigned
  - name: known-teams
    match: 'key.alias startsWith "app-"'
    rules:
      - require: owner
        allowed: [team-a, team-b, unassigned]
        value: 'key.alias startsWith "app-b" ? "team-b" : "team-a"'
  - name: upper-region
    rules:
      - require: region
        normalize: upper
        value: 'key.alias startsWith "prod-" ? "CN-NORTH-4" : "AP-SOUTHEAST-1"'
  - name: lower-region
    match: 'key.alias startsWith "prod-"'
    rules:
      - require: region
        normalize: lower
  - name: scrub
    rules:
      - forbid_key: '^(tmp|scratch)'
      - forbid: lifecycle
        values: [scratch]
        remediate: replace
        value: 'has("env") ? "managed" : "scratch"'
  - name: ticket
    match: 'tags["env"] == "prod"'
    rules:
      - require: change-ticket
        value: 'key.description'
`

// TestConvergence evaluates many generated keys and checks, for each, that
// applying the plan and evaluating again plans nothing, and that every
// planned write obeys the tag rules.
func TestConvergence(t *testing.T) {
	fsys := fstest.MapFS{"extra.yaml": {Data: []byte(convergencePolicies)}}
	for _, name := range []string{"owner.yaml", "cost-center.yaml", "environment.yaml", "no-temporary-in-production.yaml", "exemption.yaml"} {
		data, err := policies.FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		fsys[name] = &fstest.MapFile{Data: data}
	}
	for _, limits := range []policy.Limits{{}, {MaxTags: 5}} {
		e, err := policy.Load(fsys, policy.Options{Limits: limits})
		if err != nil {
			t.Fatal(err)
		}
		l := e.Limits()
		rng := rand.New(rand.NewPCG(1, 2))
		n := 20000
		if testing.Short() || raceEnabled { // one goroutine: nothing for the race detector to find, 30 times slower
			n = 500
		}
		changed := 0
		for i := range n {
			k, tags := randomKey(rng, i)
			d := e.Evaluate(k, tags, now)
			if d.HasChanges() {
				changed++
			}
			if err := checkPlan(l, k, tags, d); err != nil {
				t.Fatalf("key %+v tags %v: %v\ndecision %+v", k, tags, err, d)
			}
			after := d.Apply(tags)
			if again := e.Evaluate(k, after, now); again.HasChanges() {
				t.Fatalf("key %+v tags %v: plan %+v does not converge: from %v it plans %+v", k, tags, d, after, again)
			}
		}
		if changed < n/4 {
			t.Errorf("only %d of %d generated keys needed changes: the generator is too tame", changed, n)
		}
	}
}

func checkPlan(l policy.Limits, k policy.Key, tags map[string]string, d policy.Decision) error {
	if k.Default && d.HasChanges() {
		return fmt.Errorf("a default key gets changes")
	}
	for _, t := range d.Create {
		if err := l.CheckKey(t.Key); err != nil {
			return err
		}
		if err := l.CheckValue(t.Value); err != nil {
			return err
		}
	}
	for _, t := range d.Delete {
		if l.Reserved(t.Key) {
			return fmt.Errorf("deletes reserved tag %q", t.Key)
		}
		// A delete sends key and value: the API refuses either if it
		// breaks the rules, so such a delete is never planned.
		if err := l.CheckKey(t.Key); err != nil {
			return fmt.Errorf("plans a delete the API refuses: %w", err)
		}
		if err := l.CheckValue(t.Value); err != nil {
			return fmt.Errorf("plans a delete the API refuses: %w", err)
		}
		if v, ok := tags[t.Key]; !ok || v != t.Value {
			return fmt.Errorf("deletes %q, which the key does not have", t.Key)
		}
	}
	after := d.Apply(tags)
	grew := len(after) > len(tags)
	if grew && len(after) > l.MaxTags {
		return fmt.Errorf("the key would have %d tags, more than %d", len(after), l.MaxTags)
	}
	return nil
}

var (
	aliases   = []string{"app-a1", "app-b2", "prod-db", "stg-x", "fin-ledger", "misc", "", "prod-app-b"}
	tagKeys   = []string{"owner", "env", "cost-center", "region", "lifecycle", "tmp-1", "scratch", "temp-x", "TMP_y", "_sys_a", "tagwarden-exempt", "exempt-reason", "change-ticket", "x1", "x2", "x3", "x4", "temp-a*b"}
	tagValues = []string{"", " ", "team-a", " Team-B ", "PROD ", "prod", "production", "dev", "qa", "cc-ops", "CC-X", "scratch", "temporary", "true", "TRUE", "cn-north-4", "ap-southeast-1", "a*b", "unassigned", "x"}
	descs     = []string{"", "CHG-1", "bad=desc", strings.Repeat("d", 50)}
)

func randomKey(rng *rand.Rand, i int) (policy.Key, map[string]string) {
	states := []string{policy.StateEnabled, policy.StateDisabled, policy.StatePendingDeletion, policy.StatePendingActivation}
	k := policy.Key{
		ID:          fmt.Sprintf("key-%d", i),
		Alias:       aliases[rng.IntN(len(aliases))],
		State:       states[rng.IntN(len(states))],
		Default:     rng.IntN(20) == 0,
		Description: descs[rng.IntN(len(descs))],
		Created:     now.Add(-time.Duration(rng.IntN(1000)) * time.Hour),
	}
	tags := map[string]string{}
	for range rng.IntN(12) {
		tags[tagKeys[rng.IntN(len(tagKeys))]] = tagValues[rng.IntN(len(tagValues))]
	}
	return k, tags
}

// TestEvaluateConcurrent shares one engine between goroutines (run it with
// -race): every result must equal the sequential one.
func TestEvaluateConcurrent(t *testing.T) {
	e, err := policy.Load(policies.FS, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	type input struct {
		k    policy.Key
		tags map[string]string
		want policy.Decision
	}
	inputs := make([]input, 200)
	for i := range inputs {
		k, tags := randomKey(rng, i)
		inputs[i] = input{k, tags, e.Evaluate(k, tags, now)}
	}
	errs := make(chan string, 4*len(inputs))
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range inputs {
				in := inputs[(i+g*50)%len(inputs)]
				if diff := cmp.Diff(in.want, e.Evaluate(in.k, in.tags, now)); diff != "" {
					errs <- diff
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	close(errs)
	for diff := range errs {
		t.Errorf("concurrent evaluation differs (-sequential +concurrent):\n%s", diff)
	}
}

// TestEvaluateCounted checks the rule-check count the benchmarks report:
// only rules of policies that match and do not exempt the key count, once
// per planning round.
func TestEvaluateCounted(t *testing.T) {
	e := load(t, `
policies:
  - name: all
    rules:
      - require: owner
        default: x
      - forbid: lifecycle
        when: 'key.alias == "never"'
  - name: prod-only
    match: 'key.alias startsWith "prod-"'
    rules: [{require: a}, {require: b}, {require: c}]
  - name: exempted
    exempt: 'true'
    rules: [{require: d}]
`, policy.Limits{})
	for _, tc := range []struct {
		name string
		key  policy.Key
		tags map[string]string
		want int
	}{
		{"compliant, one policy applies", policy.Key{Alias: "dev-x"}, map[string]string{"owner": "o"}, 2},
		{"a change takes a second round", policy.Key{Alias: "dev-x"}, nil, 4},
		{"two policies apply", policy.Key{Alias: "prod-x"}, map[string]string{"owner": "o", "a": "1", "b": "1", "c": "1"}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, got := e.EvaluateCounted(tc.key, tc.tags, now)
			if got != tc.want {
				t.Errorf("got %d rule checks, want %d", got, tc.want)
			}
			if diff := cmp.Diff(e.Evaluate(tc.key, tc.tags, now), d); diff != "" {
				t.Errorf("EvaluateCounted decides differently from Evaluate (-Evaluate +EvaluateCounted):\n%s", diff)
			}
		})
	}
}
