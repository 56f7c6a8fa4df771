package policy_test

import (
	"testing"

	"github.com/tagwarden/tagwarden/policies"
	"github.com/tagwarden/tagwarden/policy"
)

// TestShippedPolicies loads the shipped policies and runs every shipped
// test case.
func TestShippedPolicies(t *testing.T) {
	e, err := policy.Load(policies.FS, policy.Options{})
	if err != nil {
		t.Fatalf("load shipped policies:\n%v", err)
	}
	results, err := policy.RunTests(policies.FS, e)
	if err != nil {
		t.Fatalf("load shipped test cases:\n%v", err)
	}
	if len(results) == 0 {
		t.Fatal("no shipped test cases")
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
