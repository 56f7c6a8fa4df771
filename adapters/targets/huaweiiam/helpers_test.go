package huaweiiam_test

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/tagwarden/tagwarden/adapters/targets"
)

// The projects of ../testdata/auth-projects.json, the fixture the targets
// package's tests share.
const (
	projAP   = "0b1f2e3d4c5b6a79887766554433221a" // ap-southeast-1 (the KMS emulator's project)
	projCN   = "5c6d7e8f90a1b2c3d4e5f60718293a4b" // cn-north-4
	projProd = "7a8b9c0d1e2f30415263748596a7b8c9" // cn-north-4_prod
	projOld  = "1d2e3f405162738495a6b7c8d9e0f1a2" // cn-north-4_old, disabled
	projEU   = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b" // eu-west-101
	projMOS  = "0c5e8a1f2b3d4c6e8f9a0b1c2d3e4f5a" // MOS
)

var (
	tAP = targets.Target{Region: "ap-southeast-1", ProjectID: projAP, ProjectName: "ap-southeast-1"}
	tCN = targets.Target{Region: "cn-north-4", ProjectID: projCN, ProjectName: "cn-north-4"}
)

func withEndpoint(t targets.Target, ep string) targets.Target {
	t.Endpoint = ep
	return t
}

// fixtureProjects reads ../testdata/auth-projects.json.
func fixtureProjects(t *testing.T) []targets.Project {
	t.Helper()
	data, err := os.ReadFile("../testdata/auth-projects.json")
	if err != nil {
		t.Fatal(err)
	}
	var ap struct {
		Projects []struct {
			ID      string `json:"id"`
			Name    string `json:"name"`
			Enabled bool   `json:"enabled"`
		} `json:"projects"`
	}
	if err := json.Unmarshal(data, &ap); err != nil {
		t.Fatalf("auth-projects.json: %v", err)
	}
	var out []targets.Project
	for _, p := range ap.Projects {
		out = append(out, targets.Project{ID: p.ID, Name: p.Name, Enabled: p.Enabled})
	}
	return out
}

func mustFilter(t *testing.T, expr string) *regexp.Regexp {
	t.Helper()
	re, err := targets.CompileFilter(expr)
	if err != nil {
		t.Fatal(err)
	}
	return re
}

// checkErr checks err: none when kinds and contains are empty, else
// wrapping each kind, saying each of contains and none of absent.
func checkErr(t *testing.T, err error, kinds []error, contains, absent []string) {
	t.Helper()
	if len(kinds) == 0 && len(contains) == 0 {
		if err != nil {
			t.Fatalf("got error %v, want none", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("got no error, want one wrapping %v and saying %q", kinds, contains)
	}
	for _, k := range kinds {
		if !errors.Is(err, k) {
			t.Errorf("got error %q, want it to wrap %q", err, k)
		}
	}
	for _, s := range contains {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("got error %q, want it to say %q", err, s)
		}
	}
	for _, s := range absent {
		if strings.Contains(err.Error(), s) {
			t.Errorf("got error %q, want it never to show %q", err, s)
		}
	}
}
