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

// checkMissing names the tools deploy/check.sh needs that are not here:
// bash, terraform (TAGWARDEN_TERRAFORM or PATH) and the huaweicloud
// provider binary (TAGWARDEN_TF_PROVIDER).
func checkMissing(env func(string) string, lookPath func(string) (string, error), stat func(string) (fs.FileInfo, error)) []string {
	var missing []string
	if _, err := lookPath("bash"); err != nil {
		missing = append(missing, "bash")
	}
	if tf := env("TAGWARDEN_TERRAFORM"); tf != "" {
		if fi, err := stat(tf); err != nil || fi.IsDir() {
			missing = append(missing, "terraform (TAGWARDEN_TERRAFORM="+tf+" is not a file)")
		}
	} else if _, err := lookPath("terraform"); err != nil {
		missing = append(missing, "terraform (not on PATH; or set TAGWARDEN_TERRAFORM)")
	}
	switch p := env("TAGWARDEN_TF_PROVIDER"); {
	case p == "":
		missing = append(missing, "the huaweicloud provider (set TAGWARDEN_TF_PROVIDER=/path/to/terraform-provider-huaweicloud, built from source as docs/deploy.md says)")
	default:
		if fi, err := stat(p); err != nil || fi.IsDir() {
			missing = append(missing, "the huaweicloud provider (TAGWARDEN_TF_PROVIDER="+p+" is not a file)")
		}
	}
	return missing
}

// TestCheckMissing checks how the missing tools are named.
func TestCheckMissing(t *testing.T) {
	file, dir := fakeInfo{}, fakeInfo{dir: true}
	for _, tc := range []struct {
		name string
		env  map[string]string
		path map[string]bool
		fs   map[string]fs.FileInfo
		want []string // substrings, one per missing tool, in order
	}{
		{"all here", map[string]string{"TAGWARDEN_TF_PROVIDER": "/p"}, map[string]bool{"bash": true, "terraform": true}, map[string]fs.FileInfo{"/p": file}, nil},
		{"terraform by path", map[string]string{"TAGWARDEN_TERRAFORM": "/tf", "TAGWARDEN_TF_PROVIDER": "/p"}, map[string]bool{"bash": true}, map[string]fs.FileInfo{"/p": file, "/tf": file}, nil},
		{"no provider", nil, map[string]bool{"bash": true, "terraform": true}, nil, []string{"TAGWARDEN_TF_PROVIDER=/path/to/terraform-provider-huaweicloud"}},
		{"provider is a folder", map[string]string{"TAGWARDEN_TF_PROVIDER": "/p"}, map[string]bool{"bash": true, "terraform": true}, map[string]fs.FileInfo{"/p": dir}, []string{"TAGWARDEN_TF_PROVIDER=/p is not a file"}},
		{"nothing", nil, nil, nil, []string{"bash", "terraform (not on PATH", "huaweicloud provider"}},
		{"terraform path wrong", map[string]string{"TAGWARDEN_TERRAFORM": "/tf", "TAGWARDEN_TF_PROVIDER": "/p"}, map[string]bool{"bash": true, "terraform": true}, map[string]fs.FileInfo{"/p": file}, []string{"TAGWARDEN_TERRAFORM=/tf is not a file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkMissing(
				func(k string) string { return tc.env[k] },
				func(name string) (string, error) {
					if tc.path[name] {
						return "/usr/bin/" + name, nil
					}
					return "", exec.ErrNotFound
				},
				func(name string) (fs.FileInfo, error) {
					if fi, ok := tc.fs[name]; ok {
						return fi, nil
					}
					return nil, fs.ErrNotExist
				})
			if len(got) != len(tc.want) {
				t.Fatalf("missing %q, want %d entries like %q", got, len(tc.want), tc.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("missing[%d] = %q, want it to contain %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

type fakeInfo struct {
	fs.FileInfo
	dir bool
}

func (f fakeInfo) IsDir() bool { return f.dir }

// TestDeployCheck runs deploy/check.sh (terraform fmt -check, validate
// against the provider built from source, and the module's terraform test)
// when its tools are present, and skips naming what is missing otherwise.
func TestDeployCheck(t *testing.T) {
	if missing := checkMissing(os.Getenv, exec.LookPath, os.Stat); len(missing) > 0 {
		t.Skipf("deploy/check.sh not run: missing %s", strings.Join(missing, "; "))
	}
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
		f, err := os.Open(in)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
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
