package policies_test

// The shipped policies' cases run here, once, beside the files they test.
// Package policy's tests do not repeat them: they test the language and the
// runner on fixtures of their own.

import (
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/tagwarden/tagwarden/policies"
	"github.com/tagwarden/tagwarden/policy"
)

// shipped loads the shipped policies and their cases.
func shipped(t *testing.T) (*policy.Engine, []policy.TestCase) {
	t.Helper()
	e, err := policy.Load(policies.FS, policy.Options{})
	if err != nil {
		t.Fatalf("load shipped policies:\n%v", err)
	}
	cases, err := policy.LoadTests(policies.FS)
	if err != nil {
		t.Fatalf("load shipped test cases:\n%v", err)
	}
	if len(cases) == 0 {
		t.Fatal("no shipped test cases")
	}
	return e, cases
}

// TestShippedPolicies runs every shipped test case (each file's own and
// baseline_test.yaml's), and checks that each policy has a case showing
// one of its violations.
func TestShippedPolicies(t *testing.T) {
	e, cases := shipped(t)
	results, err := policy.RunCases(cases, e)
	if err != nil {
		t.Fatalf("run shipped test cases:\n%v", err)
	}
	if len(results) != len(cases) {
		t.Fatalf("%d results for %d cases", len(results), len(cases))
	}
	covered := map[string]bool{}
	for _, r := range results {
		t.Run(r.File+"/"+r.Name, func(t *testing.T) {
			if !r.Passed {
				t.Errorf("%s:%d: case %q:\n%s", r.File, r.Line, r.Name, r.Diff)
			}
		})
		for _, v := range r.Got.Violations {
			covered[v.Policy] = true
		}
	}
	for _, p := range e.Policies() {
		if !covered[p.Name] {
			t.Errorf("policy %q: no shipped case shows one of its violations", p.Name)
		}
	}
}

// TestEachPolicyHasCases checks that every shipped policy file has its own
// test case file, with at least three cases that evaluate only that file's
// policies. TestShippedPolicies runs them.
func TestEachPolicyHasCases(t *testing.T) {
	e, cases := shipped(t)
	files, err := policy.PolicyFiles(policies.FS)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no shipped policy files")
	}
	for _, f := range files {
		testFile := strings.TrimSuffix(f, ".yaml") + "_test.yaml"
		if _, err := fs.Stat(policies.FS, testFile); err != nil {
			t.Errorf("%s has no test case file %s", f, testFile)
			continue
		}
		var own []string
		for _, p := range e.Policies() {
			if p.File == f {
				own = append(own, p.Name)
			}
		}
		mine := 0
		for _, c := range cases {
			if c.File != testFile {
				continue
			}
			mine++
			if !slices.Equal(c.Policies, own) {
				t.Errorf("%s:%d: case %q evaluates %v, want the policies of %s: %v", c.File, c.Line, c.Name, c.Policies, f, own)
			}
		}
		if mine < 3 {
			t.Errorf("%s has %d cases, want at least 3", testFile, mine)
		}
	}
}
