package policy_test

// These tests check the test case runner on fixtures of their own. The
// shipped policies' cases are not repeated here: they are data of package
// policies, whose tests (policies/policies_test.go) run each of them once,
// beside the files they test.

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/policy"
)

const runnerPolicies = `
policies:
  - name: owner
    rules:
      - require: owner
        default: unassigned
  - name: no-temp
    rules:
      - forbid_key: '^temp-'
`

func TestRunTests(t *testing.T) {
	e := load(t, runnerPolicies, policy.Limits{})
	fsys := fstest.MapFS{
		"p.yaml": {Data: []byte(runnerPolicies)}, // not a test file: ignored
		"a_test.yaml": {Data: []byte(`
cases:
  - name: passes
    key: {id: k1, alias: app, created: 2025-01-02T03:04:05Z, rotation_enabled: true}
    tags: {temp-x: "1"}
    want:
      create: {owner: unassigned}
      delete: [temp-x]
      violations:
        - {policy: owner, rule: require owner, tag: owner, remediated: true}
        - {policy: no-temp, rule: forbid_key ^temp-, message: forbidden}
  - name: fails
    policies: [owner]
    tags: {temp-x: "1"}
    want:
      create: {owner: someone}
      delete: [temp-x]
      violations:
        - {policy: owner, rule: require owner, remediated: false}
`)},
	}
	results, err := policy.RunTests(fsys, e)
	if err != nil {
		t.Fatalf("RunTests: %v", err)
	}
	if len(results) != 2 {
		t.Fatalf("got %d results, want 2", len(results))
	}
	if !results[0].Passed || results[0].Diff != "" {
		t.Errorf("case %q: got passed=%t diff:\n%s", results[0].Name, results[0].Passed, results[0].Diff)
	}
	wantDiff := strings.Join([]string{
		`create: owner="unassigned", want owner="someone"`,
		`delete: missing temp-x`,
		`violation: missing policy="owner" rule="require owner" remediated=false`,
		`violation: unexpected policy="owner" rule="require owner" tag="owner" remediated=true message="missing tag \"owner\""`,
	}, "\n")
	if results[1].Passed {
		t.Errorf("case %q passed, want a failure", results[1].Name)
	}
	if diff := cmp.Diff(wantDiff, results[1].Diff); diff != "" {
		t.Errorf("diff text (-want +got):\n%s", diff)
	}
	if results[1].File != "a_test.yaml" || results[1].Line != 12 {
		t.Errorf("got location %s:%d, want a_test.yaml:12", results[1].File, results[1].Line)
	}
}

func TestRunTestsErrors(t *testing.T) {
	e := load(t, runnerPolicies, policy.Limits{})
	tests := []struct {
		name, file string
		want       []string
	}{
		{"empty file", "# no cases yet\n", []string{`t_test.yaml:1:1: the file is empty: write a list under "cases:"`}},
		{"unknown field", "cases:\n  - name: a\n    tagz: {}\n", []string{`t_test.yaml:3:5: unknown field "tagz" in a test case (did you mean "tags"?)`}},
		{"bad time", "cases:\n  - name: a\n    now: yesterday\n", []string{`t_test.yaml:3:10: now must be a time such as 2026-01-01T00:00:00Z, not "yesterday"`}},
		{"unknown key field", "cases:\n  - name: a\n    key: {aliass: x}\n", []string{`t_test.yaml:3:11: unknown field "aliass" in a key (did you mean "alias"?)`}},
		{"duplicate case", "cases:\n  - name: a\n  - name: a\n", []string{`t_test.yaml:3:5: duplicate case name "a" (first at line 2)`}},
		{"unknown event field", "cases:\n  - name: a\n    event: {operaton: createKey}\n", []string{`t_test.yaml:3:13: unknown field "operaton" in an event (did you mean "operation"?)`}},
		{"unknown user field", "cases:\n  - name: a\n    event: {user: {nam: alice}}\n", []string{`t_test.yaml:3:20: unknown field "nam" in event.user (did you mean "name"?)`}},
		{"event not a mapping", "cases:\n  - name: a\n    event: createKey\n", []string{`t_test.yaml:3:12: an event must be a mapping (key: value lines), not the text "createKey"`}},
		{"violation without rule", "cases:\n  - name: a\n    want: {violations: [{policy: owner}]}\n", []string{`t_test.yaml:3:25: an expected violation needs a policy and a rule`}},
		{"unknown policy", "cases:\n  - name: a\n    policies: [nope]\n", []string{`t_test.yaml:3:15: case "a": subset of policies: no policy named "nope"`}},
		{"unknown policy of the file", "policies: [owner, nope]\ncases:\n  - name: a\n", []string{`t_test.yaml:1:11: case "a": subset of policies: no policy named "nope"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.RunTests(fstest.MapFS{"t_test.yaml": {Data: []byte(tc.file)}}, e)
			var les policy.LoadErrors
			if !errors.As(err, &les) {
				t.Fatalf("got error %v, want LoadErrors", err)
			}
			var got []string
			for _, le := range les {
				got = append(got, le.Error())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadDuplicateAcrossFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"a.yaml":      {Data: []byte("policies:\n  - name: p\n    rules: [{require: a}]\n")},
		"b.yaml":      {Data: []byte("policies:\n  - name: p\n    rules: [{require: b}]\n")},
		"c_test.yaml": {Data: []byte("not: [a policy")}, // test files are not policies
	}
	_, err := policy.Load(fsys, policy.Options{})
	want := `b.yaml:2:11: duplicate policy name "p" (already defined at a.yaml:2:11)`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestLoadNothing(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"no files":        {"readme.md": {Data: []byte("x")}},
		"only comments":   {"a.yaml": {Data: []byte("# nothing\n")}},
		"empty documents": {"a.yaml": {Data: []byte("---\n---\n")}},
	} {
		if e, err := policy.Load(fsys, policy.Options{}); err == nil || e != nil {
			t.Errorf("%s: got engine %v, error %v; want an error and no engine", name, e, err)
		}
	}
	// An empty file is reported even when another file has errors too.
	_, err := policy.Load(fstest.MapFS{
		"a.yaml": {Data: []byte("policies: [{name: p}]\n")},
		"b.yaml": {Data: []byte("---\n")},
	}, policy.Options{})
	want := `a.yaml:1:12: policy "p" needs rules` + "\n" + `b.yaml:1:1: the file is empty: write a list under "policies:"`
	var got []string
	var les policy.LoadErrors
	if errors.As(err, &les) {
		for _, le := range les {
			got = append(got, le.Error())
		}
	}
	if diff := cmp.Diff(want, strings.Join(got, "\n")); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestLoadDir(t *testing.T) {
	e, err := policy.LoadDir("../policies", policy.Options{})
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if len(e.Policies()) < 5 {
		t.Errorf("got %d policies, want the 5 shipped ones", len(e.Policies()))
	}
	_, err = policy.LoadDir("testdata/bad-dir-that-does-not-exist", policy.Options{})
	if err == nil {
		t.Error("LoadDir of a missing directory succeeded")
	}
}

// TestRunTestsNotify: an expected violation may give notify, compared
// when given ("" for no one), and a difference names it.
func TestRunTestsNotify(t *testing.T) {
	e := load(t, `
policies:
  - name: owner
    notify: 'tags["team"]'
    rules:
      - require: owner
        default: unassigned
`, policy.Limits{})
	results, err := policy.RunTests(fstest.MapFS{"n_test.yaml": {Data: []byte(`
cases:
  - name: names the team
    tags: {team: team-a}
    want:
      create: {owner: unassigned}
      violations:
        - {policy: owner, rule: require owner, notify: team-a}
  - name: no team, no one
    want:
      create: {owner: unassigned}
      violations:
        - {policy: owner, rule: require owner, notify: ""}
  - name: not compared when not given
    tags: {team: team-a}
    want:
      create: {owner: unassigned}
      violations:
        - {policy: owner, rule: require owner}
  - name: fails
    tags: {team: team-a}
    want:
      create: {owner: unassigned}
      violations:
        - {policy: owner, rule: require owner, notify: team-b}
`)}}, e)
	if err != nil {
		t.Fatalf("RunTests: %v", err)
	}
	if len(results) != 4 {
		t.Fatalf("got %d results, want 4", len(results))
	}
	for _, r := range results[:3] {
		if !r.Passed {
			t.Errorf("case %q failed:\n%s", r.Name, r.Diff)
		}
	}
	want := strings.Join([]string{
		`violation: missing policy="owner" rule="require owner" notify="team-b"`,
		`violation: unexpected policy="owner" rule="require owner" tag="owner" remediated=true notify="team-a" message="missing tag \"owner\""`,
	}, "\n")
	if diff := cmp.Diff(want, results[3].Diff); diff != "" {
		t.Errorf("diff text (-want +got):\n%s", diff)
	}
}
