package policy_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/bad")

// TestLoadBadGolden loads every testdata/bad/*.yaml on its own and checks
// the full error text against the file's .golden.
func TestLoadBadGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad policies: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			e, err := policy.Load(fstest.MapFS{name: {Data: data}}, policy.Options{})
			if err == nil {
				t.Fatalf("Load succeeded, want an error")
			}
			if e != nil {
				t.Errorf("Load returned an engine with its error: nothing may half-load")
			}
			var les policy.LoadErrors
			if !errors.As(err, &les) {
				t.Fatalf("error is %T, want policy.LoadErrors", err)
			}
			for _, le := range les {
				if le.File != name {
					t.Errorf("error %q names file %q, want %q", le, le.File, name)
				}
				if le.Line < 1 || le.Column < 1 {
					t.Errorf("error %q has no line and column", le)
				}
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./policy -run TestLoadBadGolden -update)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("error text differs from %s (-want +got):\n%s", golden, diff)
			}
		})
	}
}
