package policy_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps the package pure: standard library, expr and the YAML
// library only; no cloud SDK, no platform library, no logging.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/tagwarden/tagwarden/policy").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if !strings.Contains(strings.SplitN(dep, "/", 2)[0], ".") {
			continue // standard library
		}
		switch {
		case dep == "github.com/tagwarden/tagwarden/policy",
			strings.HasPrefix(dep, "github.com/expr-lang/expr"),
			strings.HasPrefix(dep, "go.yaml.in/yaml/"):
		default:
			t.Errorf("policy depends on %s: only the standard library, expr and go.yaml.in/yaml may be imported", dep)
		}
	}
}
