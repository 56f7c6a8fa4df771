package policy_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/policies"
	"github.com/tagwarden/tagwarden/policy"
)

// TestGraceCases runs the cases of testdata/grace: grace periods, the due
// tag and exemption entries, as data.
func TestGraceCases(t *testing.T) {
	e, err := policy.LoadDir("testdata/grace", policy.Options{Now: policy.DefaultTestTime})
	if err != nil {
		t.Fatal(err)
	}
	results, err := policy.RunTests(os.DirFS("testdata/grace"), e)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) < 15 {
		t.Fatalf("got %d results, want the cases of testdata/grace/grace_test.yaml", len(results))
	}
	for _, r := range results {
		t.Run(r.Name, func(t *testing.T) {
			if !r.Passed {
				t.Errorf("%s:%d:\n%s\ngot %+v", r.File, r.Line, r.Diff, r.Got)
			}
		})
	}
}

// TestConvergenceWithGrace is TestConvergence with grace periods: the
// shipped baseline and the competing policies, some rules given a grace
// period, over generated keys that may carry a due tag (valid, stale or
// unreadable). At each of the times of a key's life (the first run, a run
// at now + grace, a run after every grace is over) the plan obeys the tag
// rules, touches only targeted tags and the due tag, and evaluating its
// result again at the same time plans nothing.
func TestConvergenceWithGrace(t *testing.T) {
	fsys := fstest.MapFS{"extra.yaml": {Data: []byte(strings.NewReplacer(
		"  - name: team-default\n", "  - name: team-default\n    grace: 72h\n",
		"      - forbid_key: '^(tmp|scratch)'\n", "      - forbid_key: '^(tmp|scratch)'\n        grace: 7d\n",
	).Replace(convergencePolicies))}}
	for _, name := range []string{"owner.yaml", "cost-center.yaml", "environment.yaml", "no-temporary-in-production.yaml", "exemption.yaml"} {
		data, err := policies.FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if name == "cost-center.yaml" {
			data = []byte(strings.Replace(string(data), "  - name: cost-center\n", "  - name: cost-center\n    grace: 36h\n", 1))
		}
		fsys[name] = &fstest.MapFile{Data: data}
	}
	for _, limits := range []policy.Limits{{}, {MaxTags: 5}} {
		e, err := policy.Load(fsys, policy.Options{Limits: limits})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, p := range e.Policies() {
			for _, g := range p.Grace {
				ids = append(ids, g.ID)
			}
		}
		if len(ids) != 3 {
			t.Fatalf("got grace ids %v, want 3", ids)
		}
		l := e.Limits()
		rng := rand.New(rand.NewPCG(5, 6))
		n := 5000
		if testing.Short() || raceEnabled {
			n = 300
		}
		marked, held, fixedLater := 0, 0, 0
		for i := range n {
			k, tags := randomKey(rng, i)
			switch rng.IntN(4) {
			case 0:
				tags[policy.DueTag] = []string{"garbage", "260101:zzz", "", "a=b"}[rng.IntN(4)]
			case 1:
				date := now.AddDate(0, 0, rng.IntN(10)-3).Format("060102")
				tags[policy.DueTag] = date + ":" + ids[rng.IntN(len(ids))]
			}
			for _, at := range []time.Time{now, now.Add(36 * time.Hour), now.Add(72 * time.Hour), now.AddDate(0, 0, 9)} {
				d := e.Evaluate(k, tags, at)
				if err := checkPlan(l, k, tags, d); err != nil {
					t.Fatalf("key %+v tags %v at %s: %v\ndecision %+v", k, tags, at, err, d)
				}
				for _, v := range d.Violations {
					if v.Due != "" {
						held++
					}
				}
				for _, c := range d.Create {
					if c.Key == policy.DueTag {
						marked++
					}
				}
				after := d.Apply(tags)
				if again := e.Evaluate(k, after, at); again.HasChanges() {
					t.Fatalf("key %+v tags %v at %s: plan %+v does not converge: from %v it plans %+v", k, tags, at, d, after, again)
				}
				if at.After(now) && d.HasChanges() {
					fixedLater++
				}
				tags = after
			}
		}
		if marked < n/10 || held < n/10 || fixedLater < n/20 {
			t.Errorf("%d marks written, %d violations held back, %d later fixes over %d keys: the generator is too tame", marked, held, fixedLater, n)
		}
	}
}

// TestDueTagFull: marks that do not fit in the due tag's value keep their
// rule from starting its grace period; the marks already written stay.
func TestDueTagFull(t *testing.T) {
	e := load(t, `
policies:
  - name: p
    grace: 7d
    rules:
      - {require: a, default: x}
      - {require: b, default: x, grace: 1d}
`, policy.Limits{MaxValueLen: 12})
	d := e.Evaluate(policy.Key{ID: "k"}, map[string]string{"a": "x"}, now)
	if len(d.Create) != 1 || d.Create[0].Key != policy.DueTag {
		t.Fatalf("got %+v, want the due tag only", d)
	}
	marks := d.Create[0].Value
	d = e.Evaluate(policy.Key{ID: "k"}, map[string]string{policy.DueTag: marks}, now)
	if d.HasChanges() {
		t.Errorf("got changes %+v, want none: the rule with a mark keeps it, the other cannot start", d)
	}
	var reasons []string
	for _, v := range d.Violations {
		reasons = append(reasons, v.Rule+": "+v.Message)
	}
	want := []string{"require a: missing tag \"a\"; cannot start the grace period: the tagwarden-due tag has no room for another date, so nothing is fixed",
		"require b: missing tag \"b\"; due 2026-03-03 (grace 1d)"}
	if diff := cmp.Diff(want, reasons); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
}

func TestGraceLoad(t *testing.T) {
	tests := []struct {
		grace   string
		wantErr string
	}{
		{"72h", ""}, {"7d", ""}, {"0", ""}, {"90m", ""}, {"3650d", ""},
		{"3651d", "longer than 3650 days"}, {"-1h", "negative"}, {"soon", `"soon" is not a duration such as 72h or 7d`}, {"7 days", "not a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.grace, func(t *testing.T) {
			_, err := policy.Load(fstest.MapFS{"p.yaml": {Data: []byte("policies:\n  - name: p\n    rules:\n      - {require: a, default: x, grace: '" + tt.grace + "'}\n")}}, policy.Options{})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestExemptionsFile: the exemptions file is not a policy file; its entries
// are listed with their state, and one already past at load is a warning.
func TestExemptionsFile(t *testing.T) {
	at := time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC)
	e, err := policy.LoadDir("testdata/grace", policy.Options{Now: at})
	if err != nil {
		t.Fatal(err)
	}
	if files, _ := policy.PolicyFiles(os.DirFS("testdata/grace")); !slices.Equal(files, []string{"policies.yaml"}) {
		t.Errorf("policy files %v, want [policies.yaml]", files)
	}
	var got []string
	for _, x := range e.Exemptions(at) {
		got = append(got, fmt.Sprintf("%s %v %v %v expired=%t until=%s by=%q", x.Entry, x.Keys, x.Aliases, x.Policies, x.Expired, x.UntilText, x.ApprovedBy))
	}
	want := []string{
		"exemptions.yaml:3 [k-legacy] [] [cost] expired=false until=2027-03-31 by=\"alice\"",
		"exemptions.yaml:8 [] [^vendor-] [] expired=true until=2026-01-15T12:00:00Z by=\"\"",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("exemptions (-want +got):\n%s", diff)
	}
	var warnings []string
	for _, w := range e.Warnings() {
		warnings = append(warnings, w.Error())
	}
	wantW := []string{"testdata/grace/exemptions.yaml:8:5: exemption exemptions.yaml:8: until 2026-01-15T12:00:00Z is already past: the entry no longer applies (remove it, or extend it with a new reason)"}
	if diff := cmp.Diff(wantW, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	d := e.Evaluate(policy.Key{ID: "k-legacy", Alias: "vendor-x"}, map[string]string{"owner": "a", "cost-center": "b"}, at)
	wantD := []policy.ExemptionMatch{
		{Entry: "exemptions.yaml:3", Policies: []string{"cost"}, Until: "2027-03-31", Reason: "legacy billing, ticket FIN-7", ApprovedBy: "alice"},
		{Entry: "exemptions.yaml:8", Until: "2026-01-15T12:00:00Z", Reason: "vendor keys under review", Expired: true},
	}
	if diff := cmp.Diff(wantD, d.Exemptions); diff != "" || d.HasChanges() {
		t.Errorf("decision %+v: exemptions (-want +got):\n%s", d, diff)
	}
}
