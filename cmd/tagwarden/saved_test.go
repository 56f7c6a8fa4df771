package main

// End to end against the emulator: saved plans (plan --out, show, apply
// FILE) and apply's confirmation.

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// The keys of testdata/seed.json.
const (
	keyPayments = "0d0466b0-e727-4d9c-b35d-f84bb474a37f" // no tags: planned
	keyOrders   = "2f9c6c1e-5a57-4f5e-9d41-3f0b6f9a1c22" // planned, a tag deleted
	keyDefault  = "5b1e8d0a-9c3f-4e2b-8a7d-6c5f4e3d2b1a" // a default key: skipped
	keyReports  = "7a3d2c1b-0e9f-4a8b-9c7d-1e2f3a4b5c6d" // planned
)

// decodeStrict decodes JSON output into v, refusing unknown fields.
func decodeStrict(t *testing.T, s string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("stdout is not a %T: %v\n%s", v, err, s)
	}
}

// tagsOf returns a key's tags in the emulator.
func (k kms) tagsOf(t *testing.T, id string) map[string]string {
	t.Helper()
	tags, ok := k.srv.Tags(emulator.DefaultProject, id)
	if !ok {
		t.Fatalf("key %s is not in the emulator", id)
	}
	return tags
}

// TestSavedPlan: plan --out saves what it read and planned; show prints
// it; another writer changes one key; apply FILE writes exactly the plan
// to the others and reports that one "changed since the plan", and a
// second apply writes nothing.
func TestSavedPlan(t *testing.T) {
	k := startKMS(t)
	file := filepath.Join(t.TempDir(), "plan.json")
	read := map[string]map[string]string{}
	for _, id := range []string{keyPayments, keyOrders, keyReports} {
		read[id] = k.tagsOf(t, id)
	}

	r := cli(t, k.env, "plan", "--endpoint", k.url, "--out", file)
	r.expect(t, 2, []string{"3 to change", "Saved the plan to " + file + ": 8 tag changes to 3 keys.", `"tagwarden apply ` + file + `"`}, nil)
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("plan file mode %v, want 0600", info.Mode().Perm())
	}
	if w := k.srv.Stats().Writes; w != 0 {
		t.Fatalf("plan --out wrote %d times", w)
	}

	// show: the plan's table and where it was made; -o json: the file.
	r = cli(t, nil, "show", file)
	r.expect(t, 2, []string{"Plan " + file + ", made ", "Target: project " + emulator.DefaultProject + " at " + k.url,
		"Policies: the shipped policies (digest ", keyOrders + "  prod-orders      planned  -temp-debug",
		"4 keys scanned: 0 compliant, 3 to change", "Applying it writes 8 tag changes to 3 keys"}, nil)
	r = cli(t, nil, "show", file, "-o", "json")
	var p savedPlan
	decodeStrict(t, r.stdout, &p)
	if r.code != 2 || p.FormatVersion != 1 || p.Target.ProjectID != emulator.DefaultProject || p.Target.Endpoint != k.url ||
		p.Policies != "embedded" || len(p.PolicyDigest) != 64 || p.Counts.Scanned != 4 || p.Counts.Planned != 3 {
		t.Fatalf("show -o json: exit %d, %+v", r.code, p)
	}
	planned := map[string]planKey{}
	for _, pk := range p.Keys {
		if pk.Outcome == handler.OutcomePlanned {
			planned[pk.KeyID] = pk
		}
	}
	for id, tags := range read {
		if diff := cmp.Diff(tags, planned[id].Read); diff != "" {
			t.Errorf("key %s: tags read in the plan (-emulator +plan):\n%s", id, diff)
		}
	}

	// Another writer changes prod-orders after the plan.
	other := k.kit.Store(t)
	if err := other.Apply(context.Background(), keyOrders, policy.Batch{Action: policy.ActionCreate, Tags: []policy.Tag{{Key: "owner", Value: "team-payments"}}}); err != nil {
		t.Fatal(err)
	}
	changedByOther := k.tagsOf(t, keyOrders)
	writesBefore := k.srv.Stats().Writes

	r = cli(t, k.env, "apply", "--endpoint", k.url, file)
	r.expect(t, 2, []string{
		keyPayments + "  app-payments     changed",
		keyOrders + "  prod-orders      skipped",
		"changed since the plan (owner team-orders → team-payments): not written; plan again",
		"4 keys scanned: 0 compliant, 2 changed, 0 with violations, 0 failed, 2 skipped; of the skipped: 1 changed since the plan, not written (plan again)",
	}, nil)
	if r.stderr != "" {
		t.Errorf("stderr: %q", r.stderr)
	}
	for _, id := range []string{keyPayments, keyReports} {
		pk := planned[id]
		if diff := cmp.Diff(pk.decision().Apply(pk.Read), k.tagsOf(t, id)); diff != "" {
			t.Errorf("key %s after apply (-planned +emulator):\n%s", id, diff)
		}
	}
	if diff := cmp.Diff(changedByOther, k.tagsOf(t, keyOrders)); diff != "" {
		t.Errorf("key %s, changed since the plan, was written (-other writer's +now):\n%s", keyOrders, diff)
	}
	// One create call for each key (no deletes planned for them).
	if w := k.srv.Stats().Writes - writesBefore; w != 2 {
		t.Errorf("apply made %d writes, want 2", w)
	}

	// Applied again: nothing to write; the two keys already as planned.
	writesBefore = k.srv.Stats().Writes
	r = cli(t, k.env, "apply", "--endpoint", k.url, file, "-o", "json")
	var res applyResult
	decodeStrict(t, r.stdout, &res)
	byID := map[string]applyKey{}
	for _, ak := range res.Keys {
		byID[ak.KeyID] = ak
	}
	if r.code != 2 || res.FormatVersion != 1 || res.Plan.File != file || res.Counts.Planned != 3 || res.Counts.AlreadyApplied != 2 ||
		res.Counts.ChangedSincePlan != 1 || res.Counts.Changed != 0 || res.Counts.Writes != 0 ||
		byID[keyPayments].Outcome != outcomeAlready || byID[keyOrders].Outcome != outcomeStale || byID[keyDefault].Outcome != handler.OutcomeSkipped {
		t.Errorf("apply again: exit %d, %+v", r.code, res)
	}
	if d := byID[keyOrders].Drift; len(d) != 1 || d[0].Tag != "owner" || *d[0].Read != "team-orders" || *d[0].Now != "team-payments" {
		t.Errorf("drift of %s: %+v, want owner team-orders → team-payments", keyOrders, d)
	}
	if w := k.srv.Stats().Writes - writesBefore; w != 0 {
		t.Errorf("apply again made %d writes", w)
	}
}

// TestSavedPlanRefused: a plan from another project, endpoint or policy
// set, or edited into an inconsistent state, is refused as a whole before
// anything is written; --policies with the plan's folder is accepted.
func TestSavedPlanRefused(t *testing.T) {
	const project2 = "5f0e1d2c3b4a59687766554433221100"
	f, err := os.Open(filepath.Join("testdata", "seed.json"))
	if err != nil {
		t.Fatal(err)
	}
	seed, err := emulator.LoadSeed(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	k := startKMSWith(t, emulator.Options{Seed: seed, Projects: []string{emulator.DefaultProject, project2}})
	k2 := startKMS(t) // another endpoint
	dir := t.TempDir()
	shipped, report := filepath.Join(dir, "shipped.json"), filepath.Join(dir, "report.json")
	r := cli(t, k.env, "plan", "--endpoint", k.url, "--out", shipped)
	r.expect(t, 2, []string{"Saved the plan"}, nil)
	r = cli(t, k.env, "plan", "--endpoint", k.url, "--policies", "testdata/policies-report", "--out", report)
	r.expect(t, 2, []string{"Saved the plan"}, nil)

	for _, tc := range []struct {
		name   string
		args   []string
		stderr []string
	}{
		{"another project", []string{"--endpoint", k.url, "--project-id", project2, shipped}, []string{
			"refusing the plan " + shipped + ": it is for project " + emulator.DefaultProject + " at " + k.url + ", and this apply works on project " + project2 + " at " + k.url,
			"give the plan's --region, --endpoint and --project-id, or plan again"}},
		{"another endpoint", []string{"--endpoint", k2.url, shipped}, []string{"it is for project " + emulator.DefaultProject + " at " + k.url + ", and this apply works on project " + emulator.DefaultProject + " at " + k2.url}},
		{"another region", []string{"--endpoint", k.url, "--region", "cn-north-4", shipped}, []string{"(region cn-north-4)"}},
		{"another policy set", []string{"--endpoint", k.url, "--policies", "testdata/policies-report", shipped}, []string{
			"refusing the plan " + shipped + ": it was made with another policy set: the shipped policies (digest ",
			"and the policies in force are testdata/policies-report (digest ", "pass --policies with the folder the plan was made with, or plan again"}},
		{"policies in force by default", []string{"--endpoint", k.url, report}, []string{
			"it was made with another policy set: testdata/policies-report (digest ", "the policies in force are the shipped policies (digest "}},
		{"the environment's policies", []string{"--endpoint", k.url, "--policies", "testdata/policies-failing", report}, []string{"another policy set"}},
		{"a change that breaks the tag rules", []string{"--endpoint", k.url, "testdata/plans/bad-value.json"}, []string{
			"refusing the plan testdata/plans/bad-value.json: 1 problem (nothing was applied)",
			`testdata/plans/bad-value.json:134:20: keys[3].create[1]: tag "env": value "sta=ging" contains '='`}},
		{"a truncated file", []string{"--endpoint", k.url, "testdata/plans/truncated.json"}, []string{"testdata/plans/truncated.json:74:17: the file ends in the middle of the JSON"}},
		{"no such file", []string{"--endpoint", k.url, filepath.Join(dir, "nope.json")}, []string{"plan file: open "}},
		{"--key with a file", []string{"--endpoint", k.url, "--key", keyOrders, shipped}, []string{"--key: a saved plan applies the keys it holds"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, k.env, append([]string{"apply"}, tc.args...)...)
			r.expect(t, 1, nil, append([]string{"tagwarden: "}, tc.stderr...))
			if r.stdout != "" {
				t.Errorf("stdout: %q", r.stdout)
			}
		})
	}
	if w := k.srv.Stats().Writes + k2.srv.Stats().Writes; w != 0 {
		t.Fatalf("refused plans wrote %d times", w)
	}

	// The plan's policy folder given: applied (the report-only policy's
	// violations remain: exit 2).
	r = cli(t, k.env, "apply", "--endpoint", k.url, "--policies", "testdata/policies-report", report)
	r.expect(t, 2, []string{keyPayments + "  app-payments     changed    +owner=unassigned"}, nil)
	if got := k.tagsOf(t, keyPayments); !maps.Equal(got, map[string]string{"owner": "unassigned"}) {
		t.Errorf("tags of %s: %v, want owner=unassigned", keyPayments, got)
	}
}

// inProcess runs the command in this process, with stdin and whether it
// is a terminal as given, and env as the environment's only tagwarden and
// Huawei Cloud variables.
func inProcess(t *testing.T, stdin string, interactive bool, env []string, args ...string) result {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "TAGWARDEN_") || strings.HasPrefix(name, "HUAWEICLOUD_") {
			t.Setenv(name, "")
		}
	}
	t.Setenv("HOME", t.TempDir())
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		t.Setenv(name, value)
	}
	var out, errb bytes.Buffer
	g := &globals{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, interactive: &interactive}
	code := run(context.Background(), g, args)
	return result{out.String(), errb.String(), code}
}

// TestConfirm: on a terminal, apply shows the plan and asks; only "yes"
// writes. Without a terminal and without --auto-approve it refuses before
// any call.
func TestConfirm(t *testing.T) {
	const question = "Apply these 8 changes to 3 keys? Only 'yes' is accepted: "
	for _, tc := range []struct {
		name, answer string
		code         int
		stderr       string
	}{
		{"no", "no\n", 1, `tagwarden: apply cancelled: the answer was "no", not 'yes': nothing was written`},
		{"y", "y\n", 1, `the answer was "y", not 'yes'`},
		{"YES", "YES\n", 1, `the answer was "YES", not 'yes'`},
		{"empty line", "\n", 1, `the answer was "", not 'yes'`},
		{"end of input", "", 1, "tagwarden: apply cancelled: no answer (end of input), nothing was written"},
		{"yes", "yes\n", 0, ""},
		{"yes among spaces", "  yes \t\n", 0, ""},
		{"yes without a newline", "yes", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := startKMS(t)
			r := inProcess(t, tc.answer, true, k.env, "apply", "--endpoint", k.url)
			r.expect(t, tc.code, []string{keyOrders + "  prod-orders      planned  -temp-debug", "3 to change"}, []string{question, tc.stderr})
			writes := k.srv.Stats().Writes
			if tc.code != 0 {
				if writes != 0 {
					t.Errorf("answered %q: %d writes, want none", tc.answer, writes)
				}
				return
			}
			if writes == 0 {
				t.Fatalf("answered %q: nothing written", tc.answer)
			}
			if !strings.Contains(r.stdout, "3 changed, 0 with violations, 0 failed, 1 skipped") {
				t.Errorf("stdout after yes:\n%s", r.stdout)
			}
			if tags := k.tagsOf(t, keyPayments); tags["owner"] != "unassigned" {
				t.Errorf("tags of %s after yes: %v", keyPayments, tags)
			}
		})
	}

	t.Run("json keeps stdout for the result", func(t *testing.T) {
		k := startKMS(t)
		r := inProcess(t, "yes\n", true, k.env, "apply", "--endpoint", k.url, "-o", "json")
		var res applyResult
		decodeStrict(t, r.stdout, &res)
		if r.code != 0 || res.Counts.Changed != 3 || !strings.Contains(r.stderr, "3 to change") || !strings.Contains(r.stderr, question) {
			t.Errorf("exit %d, counts %+v; stderr:\n%s", r.code, res.Counts, r.stderr)
		}
	})

	t.Run("nothing to change: no question", func(t *testing.T) {
		k := startKMS(t)
		if r := cli(t, k.env, "apply", "--endpoint", k.url, "--auto-approve"); r.code != 0 {
			t.Fatalf("apply --auto-approve: exit %d: %s", r.code, r.stderr)
		}
		r := inProcess(t, "", true, k.env, "apply", "--endpoint", k.url)
		r.expect(t, 0, []string{"4 keys scanned: 3 compliant, 0 changed"}, nil)
		if strings.Contains(r.stderr, "Apply these") {
			t.Errorf("asked with nothing to apply: %q", r.stderr)
		}
	})

	t.Run("no terminal", func(t *testing.T) {
		k := startKMS(t)
		r := cli(t, k.env, "apply", "--endpoint", k.url)
		r.expect(t, 1, nil, []string{"tagwarden: apply asks before it writes, and standard input is not a terminal: pass --auto-approve",
			`"tagwarden plan --out FILE"`})
		if s := k.srv.Stats(); calls(s) != 0 {
			t.Errorf("apply without a terminal made %d calls: %v", calls(s), s.Calls)
		}
	})
}

// TestConfirmUnit: the answers confirm takes, and Ctrl-C while it waits.
func TestConfirmUnit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" = approved
	}{
		{"yes\n", ""},
		{" yes\r\n", ""},
		{"yes", ""},
		{"yes please\n", `the answer was "yes please"`},
		{"no\n", `the answer was "no"`},
		{"", "no answer (end of input)"},
		{"\nyes\n", `the answer was ""`},
	} {
		var w bytes.Buffer
		err := confirm(context.Background(), strings.NewReader(tc.in), &w, "Q? ")
		got := ""
		if err != nil {
			got = err.Error()
		}
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("answer %q: got %q, want %q", tc.in, got, tc.want)
		}
		if !strings.HasPrefix(w.String(), "Q? ") {
			t.Errorf("answer %q: the question is not asked: %q", tc.in, w.String())
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	blocked, unwritten, err := os.Pipe() // nothing is ever written: the read waits
	if err != nil {
		t.Fatal(err)
	}
	defer blocked.Close()
	defer unwritten.Close()
	if err := confirm(ctx, blocked, &bytes.Buffer{}, "Q? "); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("cancelled while waiting: %v, want interrupted", err)
	}
	if got := confirmQuestion(1, 1); got != "Apply this 1 change to 1 key? Only 'yes' is accepted: " {
		t.Errorf("question for one change: %q", got)
	}
}

// TestConfirmOnTerminal: with stdin on a real pseudo-terminal (script(1)),
// apply asks, and writes after "yes" only.
func TestConfirmOnTerminal(t *testing.T) {
	for _, tc := range []struct {
		answer string
		code   int
	}{{"no", 1}, {"yes", 0}} {
		t.Run(tc.answer, func(t *testing.T) {
			k := startKMS(t)
			r := onTerminalIn(t, tc.answer+"\n", k.env, "apply", "--endpoint", k.url)
			r.expect(t, tc.code, nil, []string{"Apply these 8 changes to 3 keys? Only 'yes' is accepted:"})
			if w := k.srv.Stats().Writes; (w > 0) != (tc.code == 0) {
				t.Errorf("answered %s: %d writes", tc.answer, w)
			}
		})
	}
}
