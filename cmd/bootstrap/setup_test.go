package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/functiongraph/runtimetest"
	"github.com/tagwarden/tagwarden/adapters/huaweikms"
)

func TestSetup(t *testing.T) {
	withPolicies := t.TempDir()
	if err := os.MkdirAll(filepath.Join(withPolicies, "policies"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/policies/owner.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(withPolicies, "policies", "owner.yaml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "bad.yaml"), []byte("policies: [{name: x, rules: [{require: owner, when: '1 +'}]}]"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		env          map[string]string
		wantErr      string
		wantPolicies string  // "" = embedded
		wantRate     float64 // the shared pacer's rate (0: huaweikms.DefaultRateLimit)
	}{
		{"embedded policies", map[string]string{"TAGWARDEN_REGION": "ap-southeast-1"}, "", "", 0},
		{"code root policies", map[string]string{"TAGWARDEN_REGION": "ap-southeast-1", "RUNTIME_CODE_ROOT": withPolicies}, "", filepath.Join(withPolicies, "policies"), 0},
		{"task root policies", map[string]string{"TAGWARDEN_REGION": "ap-southeast-1", "LAMBDA_TASK_ROOT": withPolicies}, "", filepath.Join(withPolicies, "policies"), 0},
		{"root without policies", map[string]string{"TAGWARDEN_REGION": "ap-southeast-1", "LAMBDA_TASK_ROOT": t.TempDir()}, "", "", 0},
		{"explicit policies win", map[string]string{"TAGWARDEN_REGION": "ap-southeast-1", "LAMBDA_TASK_ROOT": withPolicies, "TAGWARDEN_POLICIES": broken}, "bad.yaml", "", 0},
		{"no region", map[string]string{}, "set TAGWARDEN_REGION", "", 0},
		{"bad variable", map[string]string{"TAGWARDEN_REGION": "ap-southeast-1", "TAGWARDEN_RATE_LIMIT": "fast"}, "TAGWARDEN_RATE_LIMIT", "", 0},
		{"rate limit", map[string]string{"TAGWARDEN_REGION": "ap-southeast-1", "TAGWARDEN_RATE_LIMIT": "7.5"}, "", "", 7.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			inst := setup(getenv)
			if tt.wantErr != "" {
				if inst.initErr == nil || !strings.Contains(inst.initErr.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", inst.initErr, tt.wantErr)
				}
				return
			}
			if inst.initErr != nil {
				t.Fatal(inst.initErr)
			}
			if got := inst.process.PoliciesDir; got != tt.wantPolicies {
				t.Errorf("got policies %q, want %q", got, tt.wantPolicies)
			}
			want := tt.wantRate
			if want == 0 {
				want = huaweikms.DefaultRateLimit
			}
			// One pacer per process, at the configured rate, shared by
			// the store of every invocation (built from inst.kms).
			if inst.kms.Pacer == nil || inst.kms.Pacer.Rate() != want {
				t.Errorf("got pacer %v, want one at %v requests per second", inst.kms.Pacer, want)
			}
		})
	}
}

// TestConfigurationError: a bad configuration does not stop the process;
// every invocation answers it.
func TestConfigurationError(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantMsg string
	}{
		{"bad variable", map[string]string{
			"RUNTIME_PROJECT_ID":   "0b1f2e3d4c5b6a79887766554433221a",
			"TAGWARDEN_REGION":     "ap-southeast-1",
			"TAGWARDEN_RATE_LIMIT": "fast",
		}, `TAGWARDEN_RATE_LIMIT="fast"`},
		{"no project id", map[string]string{"TAGWARDEN_REGION": "ap-southeast-1"}, "no project id: RUNTIME_PROJECT_ID is not set"},
		{"no region", map[string]string{"RUNTIME_PROJECT_ID": "0b1f2e3d4c5b6a79887766554433221a"}, "set TAGWARDEN_REGION"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api, err := runtimetest.New()
			if err != nil {
				t.Fatal(err)
			}
			defer api.Close()
			tt.env["RUNTIME_API_ADDR"] = api.Addr()
			start(t, t.TempDir(), tt.env, bootstrapBinary(t))
			for i := range 2 {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				res, err := api.Invoke(ctx, runtimetest.Event{RequestID: "cfg-" + string(rune('a'+i)), Payload: []byte(`{"action":"sweep"}`),
					Header: header("X-CFF-Access-Key", "AK", "X-CFF-Secret-Key", "SK")})
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				e := asError(t, res.Body)
				if e.ErrorType != "ConfigurationError" || !strings.Contains(e.ErrorMessage, tt.wantMsg) {
					t.Errorf("invocation %d: got %+v, want a ConfigurationError containing %q", i, e, tt.wantMsg)
				}
			}
		})
	}
}
