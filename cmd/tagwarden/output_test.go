package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// sampleReport is a dry-run report with one key of each kind.
func sampleReport(dry bool) handler.Report {
	planned := handler.OutcomePlanned
	if !dry {
		planned = handler.OutcomeChanged
	}
	return handler.Report{
		Mode: handler.ModeSweep, DryRun: dry, Scanned: 5, Compliant: 1, Planned: 1, Violating: 1, Skipped: 1, Failed: 1,
		Keys: []handler.KeyReport{
			{KeyID: "0d0466b0-e727-4d9c-b35d-f84bb474a37f", Alias: "app-payments", Outcome: planned,
				Create:     []policy.Tag{{Key: "env", Value: "prod"}, {Key: "owner", Value: "unassigned"}},
				Delete:     []policy.Tag{{Key: "temp-debug", Value: "1"}},
				Violations: []policy.Violation{{Policy: "owner-required", Rule: "require owner", Message: "tag owner is missing", Remediated: true}}},
			{KeyID: "2f9c6c1e-5a57-4f5e-9d41-3f0b6f9a1c22", Outcome: handler.OutcomeViolation,
				Violations: []policy.Violation{{Policy: "no-temp-in-prod", Rule: "forbid env", Message: "env is\n tmp"}}},
			{KeyID: "5b1e8d0a-9c3f-4e2b-8a7d-6c5f4e3d2b1a", Alias: "evs/default", Outcome: handler.OutcomeSkipped, Reason: "default key"},
			{KeyID: "7a3d2c1b-0e9f-4a8b-9c7d-1e2f3a4b5c6d", Alias: "x", Outcome: handler.OutcomeFailed, Error: "show tags: transient failure"},
		},
	}
}

// graceReport is a dry-run report with a key in a grace period and keys
// named by exemption entries, active and expired.
func graceReport() handler.Report {
	return handler.Report{
		Mode: handler.ModeSweep, DryRun: true, Scanned: 3, Compliant: 1, Planned: 1, Violating: 1,
		Keys: []handler.KeyReport{
			{KeyID: "k-grace", Alias: "app-a", Outcome: handler.OutcomePlanned,
				Create: []policy.Tag{{Key: "env", Value: "dev"}, {Key: policy.DueTag, Value: "261210:8jn"}},
				Violations: []policy.Violation{
					{Policy: "environment", Rule: "require env", Message: `missing tag "env"`, Remediated: true},
					{Policy: "cost-center", Rule: "require cost-center", Message: `missing tag "cost-center"; due 2026-12-10 (grace 7d)`, Due: "2026-12-10"},
				}},
			{KeyID: "k-exempt", Alias: "vendor-a", Outcome: handler.OutcomeCompliant,
				Exemptions: []policy.ExemptionMatch{{Entry: "exemptions.yaml:2", Policies: []string{"cost-center"}, Until: "2027-03-31", Reason: "vendor billing"}}},
			{KeyID: "k-expired", Outcome: handler.OutcomeViolation,
				Violations: []policy.Violation{{Policy: "owner", Rule: "require owner", Message: "no default or value to set"}},
				Exemptions: []policy.ExemptionMatch{{Entry: "exemptions.yaml:7", Until: "2026-01-31", Reason: "migration", Expired: true}}},
		},
	}
}

// TestExemptionNotes: expired entries are always named; entries that
// named no key only after a whole sweep.
func TestExemptionNotes(t *testing.T) {
	fsys := fstest.MapFS{
		"p.yaml": {Data: []byte("policies:\n  - name: owner\n    rules: [{require: owner}]\n")},
		policy.ExemptionsFile: {Data: []byte(`exemptions:
  - {keys: [k-1], until: 2027-01-01, reason: used}
  - {keys: [k-9], until: 2027-01-01, reason: unused}
  - {keys: [k-1], until: 2026-02-01, reason: old}
`)},
	}
	e, err := policy.Load(fsys, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	rep := handler.Report{Mode: handler.ModeSweep, Keys: []handler.KeyReport{{KeyID: "k-1", Outcome: handler.OutcomeCompliant,
		Exemptions: []policy.ExemptionMatch{{Entry: "exemptions.yaml:2"}, {Entry: "exemptions.yaml:4", Expired: true}}}}}
	for _, tc := range []struct {
		name string
		rep  handler.Report
		want []string
	}{
		{"whole sweep", rep, []string{
			"exemptions.yaml:3: exemption stale: it named no key in this sweep; remove it or fix its keys and aliases",
			"exemptions.yaml:4: exemption expired (until 2026-02-01): it no longer applies; remove it or extend it",
		}},
		{"cut sweep", func() handler.Report { r := rep; r.Continuation = "c"; return r }(), []string{
			"exemptions.yaml:4: exemption expired (until 2026-02-01): it no longer applies; remove it or extend it",
		}},
		{"key check", func() handler.Report { r := rep; r.Mode = handler.ModeKeys; return r }(), []string{
			"exemptions.yaml:4: exemption expired (until 2026-02-01): it no longer applies; remove it or extend it",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, exemptionNotes(e, tc.rep, now)); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		report handler.Report
		opt    tableOptions
	}{
		{"plan", sampleReport(true), tableOptions{}},
		{"apply", sampleReport(false), tableOptions{}},
		{"truncated", sampleReport(true), tableOptions{MaxKeys: 2}},
		{"compliant", handler.Report{Mode: handler.ModeSweep, DryRun: true, Scanned: 3, Compliant: 3}, tableOptions{}},
		{"grace", graceReport(), tableOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := writeTable(&b, tc.report, tc.opt); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "table-"+tc.name+".golden")
			if os.Getenv("UPDATE_GOLDEN") != "" {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), b.String()); diff != "" {
				t.Errorf("table (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExitCodeFor(t *testing.T) {
	viol := handler.KeyReport{KeyID: "k", Outcome: handler.OutcomeViolation, Violations: []policy.Violation{{Policy: "p"}}}
	fixed := handler.KeyReport{KeyID: "k", Outcome: handler.OutcomeChanged, Violations: []policy.Violation{{Policy: "p", Remediated: true}}}
	planned := fixed
	planned.Outcome = handler.OutcomePlanned
	for _, tc := range []struct {
		name string
		r    handler.Report
		want int
	}{
		{"compliant", handler.Report{Scanned: 2, Compliant: 2}, exitOK},
		{"plan with changes", handler.Report{DryRun: true, Keys: []handler.KeyReport{planned}}, exitFound},
		{"apply fixed all", handler.Report{Keys: []handler.KeyReport{fixed}}, exitOK},
		{"violations remain", handler.Report{Keys: []handler.KeyReport{fixed, viol}}, exitFound},
		{"skipped only", handler.Report{Keys: []handler.KeyReport{{KeyID: "d", Outcome: handler.OutcomeSkipped}}}, exitOK},
		{"a key failed", handler.Report{Failed: 1, Keys: []handler.KeyReport{viol, {KeyID: "f", Outcome: handler.OutcomeFailed}}}, exitError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := exitCodeFor(tc.r); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

// TestReportError: the message is chosen by the report's error kind, never
// by its wording: a message that mentions access denied is not taken for a
// denial, and a denial is explained whatever its message says.
func TestReportError(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind handler.ErrorKind
		msg  string
		want string // "" = no error
	}{
		{"no error", "", "", ""},
		{"denied", handler.KindDenied, "stopped: 401", "access denied: check HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (and the security token), " +
			"that the project id belongs to the region, and the KMS permissions\n  detail: stopped: 401"},
		{"listing", handler.KindListing, "list keys: throttled", "listing the keys failed after the retries: if KMS throttled the calls, " +
			"lower --rate-limit or --concurrency\n  detail: list keys: throttled"},
		{"invalid continuation", handler.KindInvalidContinuation, "invalid continuation: expired",
			"invalid continuation: pass the continuation of a report back unchanged, with the same action and dry_run\n  detail: invalid continuation: expired"},
		{"internal", handler.KindInternal, "internal error: boom", "internal error (a bug in tagwarden): internal error: boom"},
		{"other kinds as they are", handler.KindInvalidRequest, "key request names 1001 keys, at most 1000: use a sweep",
			"key request names 1001 keys, at most 1000: use a sweep"},
		{"wording does not decide", handler.KindInvalidRequest, "access denied is not what happened", "access denied is not what happened"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := reportError(handler.Report{Error: tc.msg, ErrorKind: tc.kind})
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWantProgress(t *testing.T) {
	on, off := true, false
	for _, tc := range []struct {
		name   string
		stderr io.Writer
		force  *bool
		format string
		want   bool
	}{
		{"pipe", &bytes.Buffer{}, nil, formatTable, false},
		{"json never", &bytes.Buffer{}, &on, formatJSON, false},
		{"forced on", &bytes.Buffer{}, &on, formatTable, true},
		{"forced off", &bytes.Buffer{}, &off, formatTable, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &globals{stderr: tc.stderr, progress: tc.force}
			if got := g.wantProgress(tc.format); got != tc.want {
				t.Errorf("got %t, want %t", got, tc.want)
			}
		})
	}
}

func TestProgressCounts(t *testing.T) {
	var b bytes.Buffer
	p := startProgress(&b, true, "keys checked")
	hook := p.hook()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 250 {
				hook(handler.OutcomeCompliant)
			}
		}()
	}
	wg.Wait()
	p.Stop()
	if got := p.n.Load(); got != 1000 {
		t.Errorf("counted %d keys, want 1000", got)
	}
	if b.Len() != 0 {
		t.Errorf("a bar drawn before %s: %q", progressDelay, b.String())
	}
	if (*progress)(nil).hook() != nil {
		t.Error("a nil progress must set no hook")
	}
}

// TestTableEscapesControls: a value read from a plan file or a service is
// shown, never obeyed: control characters are escaped.
func TestTableEscapesControls(t *testing.T) {
	var b strings.Builder
	rep := handler.Report{Keys: []handler.KeyReport{{KeyID: "k1", Alias: "\x1b[2J\x1b[31mevil\nfake line", Outcome: handler.OutcomeSkipped}}}
	if err := writeTable(&b, rep, tableOptions{NoSummary: true}); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(b.String(), "\x1b") || !strings.Contains(b.String(), `\x1b[2J\x1b[31mevil\x0afake line`) {
		t.Errorf("table %q: want the escape codes and the newline escaped", b.String())
	}
}
