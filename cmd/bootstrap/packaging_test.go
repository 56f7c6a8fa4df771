package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// runMake runs make in the module root, as a user or `sam build` would.
func runMake(t *testing.T, args ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed: the package is built by function.zip.mk")
	}
	out, err := exec.Command("make", append([]string{"-s", "-C", "../.."}, args...)...).CombinedOutput()
	return string(out), err
}

// checkELF checks a built bootstrap: a static Linux executable for machine, mode 0755.
func checkELF(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("%s mode %v, want 0755", path, fi.Mode().Perm())
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s is not an ELF executable: %v", path, err)
	}
	defer f.Close()
	if f.Machine != machine || f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		t.Errorf("%s is for %v (%v), want %v Linux", path, f.Machine, f.OSABI, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s is dynamically linked (%v), want a static binary", path, p.Type)
		}
	}
	if f.Section(".symtab") != nil {
		t.Errorf("%s has a symbol table, want it stripped (-s -w)", path)
	}
}

// shippedPolicies are the repository's policy files the package carries.
func shippedPolicies(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../policies/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no policies in ../../policies: %v", err)
	}
	var out []string
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.yaml") {
			out = append(out, filepath.Base(f))
		}
	}
	sort.Strings(out)
	return out
}

// TestSAMBuild runs what `sam build` runs for template.yaml's function:
// `make build-TagwardenFunction` from Makefile, with ARTIFACTS_DIR set.
func TestSAMBuild(t *testing.T) {
	out, err := runMake(t, "build-TagwardenFunction", "ARTIFACTS_DIR=")
	if err == nil || !strings.Contains(out, "ARTIFACTS_DIR is not set") {
		t.Errorf("without ARTIFACTS_DIR: got %v and %q, want a failure saying it is not set", err, out)
	}

	artifacts := filepath.Join(t.TempDir(), "TagwardenFunction")
	if out, err := runMake(t, "build-TagwardenFunction", "ARTIFACTS_DIR="+artifacts); err != nil {
		t.Fatalf("make build-TagwardenFunction: %v\n%s", err, out)
	}
	checkELF(t, filepath.Join(artifacts, "bootstrap"), elf.EM_X86_64)
	entries, err := os.ReadDir(filepath.Join(artifacts, "policies"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if diff := cmp.Diff(shippedPolicies(t), got); diff != "" {
		t.Errorf("ARTIFACTS_DIR/policies differ from the repository's policies (-repo +artifacts):\n%s", diff)
	}
}

// TestMakeArch: ARCH=amd64|arm64 builds for that machine; anything else is
// refused with what is expected.
func TestMakeArch(t *testing.T) {
	dist := t.TempDir()
	t.Run("arm64", func(t *testing.T) {
		if testing.Short() {
			t.Skip("cross-compiles the function")
		}
		if out, err := runMake(t, "-f", "function.zip.mk", "bootstrap", "ARCH=arm64", "DIST="+dist); err != nil {
			t.Fatalf("make ARCH=arm64: %v\n%s", err, out)
		}
		checkELF(t, filepath.Join(dist, ".build", "arm64", "bootstrap"), elf.EM_AARCH64)
	})

	for _, arch := range []string{"x86_64", "", "amd64 arm64"} {
		out, err := runMake(t, "-f", "function.zip.mk", "bootstrap", "ARCH="+arch, "DIST="+dist)
		if err == nil || !strings.Contains(out, "expected amd64 or arm64") {
			t.Errorf("ARCH=%q: got %v and %q, want a failure naming amd64 and arm64", arch, err, out)
		}
	}
}

// TestMakeSize: the size target prints the zip's and the binary's sizes.
func TestMakeSize(t *testing.T) {
	dist := t.TempDir()
	out, err := runMake(t, "-f", "function.zip.mk", "size", "DIST="+dist)
	if err != nil {
		t.Fatalf("make size: %v\n%s", err, out)
	}
	for _, f := range []struct{ label, path string }{
		{"function.zip", filepath.Join(dist, "function.zip")},
		{"bootstrap", filepath.Join(dist, ".build", "amd64", "bootstrap")},
	} {
		fi, err := os.Stat(f.path)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(f.label) + `\s+(\d+) bytes`).FindStringSubmatch(out)
		if m == nil {
			t.Errorf("make size does not print the size of %s:\n%s", f.label, out)
			continue
		}
		if n, _ := strconv.ParseInt(m[1], 10, 64); n != fi.Size() {
			t.Errorf("make size prints %d bytes for %s, the file has %d", n, f.label, fi.Size())
		}
	}
	if strings.Contains(out, "warning") {
		t.Errorf("make size warns:\n%s", out)
	}
}
