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
			checkGolden(t, f, name, func(data []byte) fstest.MapFS { return fstest.MapFS{name: {Data: data}} })
		})
	}
}

// TestLoadBadExemptionsGolden loads every testdata/bad-exemptions/*.yaml as
// the exemptions file beside a valid policy file, and checks the full error
// text against the file's .golden.
func TestLoadBadExemptionsGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/bad-exemptions/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad exemption files: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			checkGolden(t, f, policy.ExemptionsFile, func(data []byte) fstest.MapFS {
				return fstest.MapFS{
					"p.yaml":              {Data: []byte("policies:\n  - name: owner\n    rules: [{require: owner}]\n")},
					policy.ExemptionsFile: {Data: data},
				}
			})
		})
	}
}

// checkGolden loads the file system files makes of fixture f's contents,
// expects errors that all name file name with a line and a column, and
// compares their text with f's .golden (-update rewrites it).
func checkGolden(t *testing.T, f, name string, files func([]byte) fstest.MapFS) {
	t.Helper()
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	e, err := policy.Load(files(data), policy.Options{})
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
		t.Fatalf("%v (run go test ./policy -run TestLoadBad -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("error text differs from %s (-want +got):\n%s", golden, diff)
	}
}

// TestDigest: the digest identifies the policy set: the same files give
// the same digest, any change to a file or to the limits another.
func TestDigest(t *testing.T) {
	files := func(owner string) fstest.MapFS {
		return fstest.MapFS{"p.yaml": {Data: []byte("policies:\n  - name: p\n    rules:\n      - require: " + owner + "\n")}}
	}
	load := func(fsys fstest.MapFS, l policy.Limits) string {
		t.Helper()
		e, err := policy.Load(fsys, policy.Options{Limits: l})
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Digest()) != 64 {
			t.Fatalf("digest %q is not a hex SHA-256", e.Digest())
		}
		return e.Digest()
	}
	a := load(files("owner"), policy.Limits{})
	if b := load(files("owner"), policy.Limits{}); a != b {
		t.Errorf("the same files gave digests %s and %s", a, b)
	}
	if b := load(files("team"), policy.Limits{}); a == b {
		t.Error("a changed policy file kept the digest")
	}
	if b := load(files("owner"), policy.Limits{MaxBatch: 5}); a == b {
		t.Error("changed limits kept the digest")
	}
	e, _ := policy.Load(files("owner"), policy.Options{})
	sub, err := e.Subset("p")
	if err != nil {
		t.Fatal(err)
	}
	if sub.Digest() == a || sub.Digest() == "" {
		t.Errorf("subset digest %q: want one of its own", sub.Digest())
	}
}
