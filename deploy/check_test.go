package deploy_test

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeployCheck runs deploy/check.sh (terraform fmt -check, validate
// against the provider built from source, and the module's terraform test)
// when its tools are present; the script names what is missing otherwise
// (exit status 3), and the test skips with its message.
func TestDeployCheck(t *testing.T) {
	// Read every input, so that go test's cache knows them: a change to a
	// .tf file, the script or the provider runs the check again.
	inputs := []string{"check.sh", os.Getenv("TAGWARDEN_TF_PROVIDER"), os.Getenv("TAGWARDEN_TERRAFORM")}
	if err := filepath.WalkDir("functiongraph", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			inputs = append(inputs, path)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, in := range inputs {
		if in == "" {
			continue
		}
		if f, err := os.Open(in); err == nil { // a missing tool: check.sh says so
			f.Close()
		}
	}

	out, err := exec.Command("bash", "check.sh").CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() == 3:
		t.Skipf("deploy/check.sh skipped:\n%s", out)
	case err != nil:
		t.Fatalf("deploy/check.sh: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "all checks passed") {
		t.Fatalf("deploy/check.sh did not say that all checks passed:\n%s", out)
	}
	t.Logf("%s", out)
}
