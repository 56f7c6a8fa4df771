package policies_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/tagwarden/tagwarden/policies"
	"github.com/tagwarden/tagwarden/policy"
)

// TestEachPolicyHasCases checks that every shipped policy file has its own
// test case file, whose cases evaluate only that file's policies, and that
// those cases pass.
func TestEachPolicyHasCases(t *testing.T) {
	e, err := policy.Load(policies.FS, policy.Options{})
	if err != nil {
		t.Fatalf("load shipped policies:\n%v", err)
	}
	cases, err := policy.LoadTests(policies.FS)
	if err != nil {
		t.Fatalf("load shipped cases:\n%v", err)
	}
	files, err := policy.PolicyFiles(policies.FS)
	if err != nil {
		t.Fatal(err)
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
		var mine []policy.TestCase
		for _, c := range cases {
			if c.File == testFile {
				mine = append(mine, c)
				if strings.Join(c.Policies, ",") != strings.Join(own, ",") {
					t.Errorf("%s:%d: case %q evaluates %v, want the policies of %s: %v", c.File, c.Line, c.Name, c.Policies, f, own)
				}
			}
		}
		if len(mine) < 3 {
			t.Errorf("%s has %d cases, want at least 3", testFile, len(mine))
		}
		results, err := policy.RunCases(mine, e)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range results {
			if !r.Passed {
				t.Errorf("%s:%d: case %q:\n%s", r.File, r.Line, r.Name, r.Diff)
			}
		}
	}
}
