package functiongraph_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps the dependencies pointing inward: the platform adapters
// and the event decoders know neither the KMS SDK nor each other's platform.
func TestImports(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const mod = "github.com/tagwarden/tagwarden/"
	tests := []struct {
		pkg       string
		forbidden []string
	}{
		{mod + "adapters/events", []string{"github.com/huaweicloud/", "github.com/aws/", mod + "adapters/huaweikms"}},
		{mod + "adapters/functiongraph", []string{"github.com/huaweicloud/", "github.com/aws/", mod + "adapters/huaweikms", mod + "adapters/awslambda"}},
		{mod + "adapters/awslambda", []string{"github.com/huaweicloud/", mod + "adapters/huaweikms", mod + "adapters/functiongraph"}},
	}
	for _, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", tt.pkg).Output()
			if err != nil {
				t.Fatalf("go list: %v", err)
			}
			for _, dep := range strings.Fields(string(out)) {
				for _, f := range tt.forbidden {
					if strings.HasPrefix(dep, f) {
						t.Errorf("%s depends on %s", tt.pkg, dep)
					}
				}
			}
		})
	}
}
