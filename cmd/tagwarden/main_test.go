package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/handler"
)

// binary is the tagwarden command built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tagwarden-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "tagwarden")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build tagwarden:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one run of the command produced.
type result struct {
	stdout, stderr string
	code           int
}

// cli runs the binary with a clean environment (PATH, an empty HOME so that
// no profile is found, and env) and returns its output and exit code.
func cli(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return result{out.String(), errb.String(), code}
}

// expect checks a run's exit code and that stdout and stderr contain the
// given strings.
func (r result) expect(t *testing.T, code int, stdout, stderr []string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range stdout {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout does not contain %q:\n%s", s, r.stdout)
		}
	}
	for _, s := range stderr {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr does not contain %q:\n%s", s, r.stderr)
		}
	}
}

// kms is an emulator seeded from testdata/seed.json, in process.
type kms struct {
	srv *emulator.Server
	url string
	env []string // credentials and project for the SDK chain
}

func startKMS(t *testing.T) kms {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "seed.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seed, err := emulator.LoadSeed(f)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := emulator.New(emulator.Options{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	url, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return kms{srv: srv, url: url, env: []string{
		"HUAWEICLOUD_SDK_AK=" + emulator.DefaultAK,
		"HUAWEICLOUD_SDK_SK=" + emulator.DefaultSK,
		"HUAWEICLOUD_SDK_PROJECT_ID=" + emulator.DefaultProject,
	}}
}

// decodeReport parses a report printed with --output json.
func decodeReport(t *testing.T, s string) handler.Report {
	t.Helper()
	var rep handler.Report
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not a report: %v\n%s", err, s)
	}
	return rep
}

func TestHelp(t *testing.T) {
	for _, cmd := range []string{"", "demo", "plan", "apply", "validate", "test", "emulator", "invoke"} {
		t.Run("help "+cmd, func(t *testing.T) {
			args := strings.Fields(cmd + " --help")
			r := cli(t, nil, args...)
			r.expect(t, 0, []string{"Usage:", "Examples:", "tagwarden " + cmd}, nil)
		})
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"unknown command", []string{"plans"}, `unknown command "plans"`},
		{"unknown flag", []string{"plan", "--regoin", "x"}, "unknown flag: --regoin"},
		{"bad output", []string{"plan", "--output", "yaml", "--region", "ap-southeast-1"}, `--output: "yaml" is not one of table, json`},
		{"invoke without file", []string{"invoke"}, "accepts 1 arg(s)"},
		{"bad log level", []string{"validate", "--log-level", "loud"}, `--log-level: "loud"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, nil, tc.args...)
			r.expect(t, 1, nil, []string{"tagwarden: ", tc.stderr})
			if r.stdout != "" {
				t.Errorf("stdout not empty: %q", r.stdout)
			}
		})
	}
}

func TestDemo(t *testing.T) {
	start := time.Now()
	r := cli(t, nil, "demo")
	took := time.Since(start)
	r.expect(t, 0, []string{"== 1. plan", "KEY", "ALIAS", "CHANGES", "== 2. apply", "== 3. plan again", "0 to change", "nothing left to change"}, nil)
	if r.stderr != "" {
		t.Errorf("stderr not empty (no progress bar on a pipe, no logs): %q", r.stderr)
	}
	if took > 15*time.Second {
		t.Errorf("demo took %s, want a few seconds", took)
	}

	j := cli(t, nil, "demo", "--keys", "40", "--output", "json")
	if j.code != 0 {
		t.Fatalf("demo --output json: exit %d: %s", j.code, j.stderr)
	}
	var reps map[string]handler.Report
	if err := json.Unmarshal([]byte(j.stdout), &reps); err != nil {
		t.Fatalf("demo --output json: %v", err)
	}
	if got := reps["plan"].Planned; got == 0 {
		t.Errorf("first plan: %d keys to change, want some", got)
	}
	if got, want := reps["apply"].Changed, reps["plan"].Planned; got != want {
		t.Errorf("apply changed %d keys, want the %d planned", got, want)
	}
	if got := reps["replan"].Planned; got != 0 {
		t.Errorf("second plan: %d keys to change, want 0", got)
	}
}

func TestPlanApply(t *testing.T) {
	k := startKMS(t)
	target := []string{"--endpoint", k.url}

	// plan: a table, changes needed (exit 2), nothing written.
	r := cli(t, k.env, append([]string{"plan"}, target...)...)
	r.expect(t, 2, []string{"KEY", "0d0466b0-e727-4d9c-b35d-f84bb474a37f", "app-payments", "planned", "dry run: nothing written"}, nil)
	if r.stderr != "" {
		t.Errorf("stderr not empty: %q", r.stderr)
	}
	if w := k.srv.Stats().Writes; w != 0 {
		t.Fatalf("plan wrote %d times", w)
	}

	// plan --output json: the report; remember what it plans.
	r = cli(t, k.env, append([]string{"plan", "-o", "json"}, target...)...)
	if r.code != 2 {
		t.Fatalf("plan -o json: exit %d, want 2: %s", r.code, r.stderr)
	}
	plan := decodeReport(t, r.stdout)
	if !plan.DryRun || plan.Mode != handler.ModeSweep || plan.Scanned != 4 || plan.Planned == 0 {
		t.Fatalf("plan report: dry_run %t, mode %s, scanned %d, planned %d; want a dry sweep of 4 keys with changes",
			plan.DryRun, plan.Mode, plan.Scanned, plan.Planned)
	}
	want := map[string]map[string]string{}
	for _, kr := range plan.Keys {
		if kr.Outcome != handler.OutcomePlanned {
			continue
		}
		tags, _ := k.srv.Tags(emulator.DefaultProject, kr.KeyID)
		for _, d := range kr.Delete {
			delete(tags, d.Key)
		}
		for _, c := range kr.Create {
			tags[c.Key] = c.Value
		}
		want[kr.KeyID] = tags
	}

	// apply: writes exactly the plan.
	r = cli(t, k.env, append([]string{"apply"}, target...)...)
	if r.code != 0 && r.code != 2 {
		t.Fatalf("apply: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "changed") || strings.Contains(r.stdout, "dry run") {
		t.Errorf("apply output:\n%s", r.stdout)
	}
	for id, tags := range want {
		got, _ := k.srv.Tags(emulator.DefaultProject, id)
		if diff := cmp.Diff(tags, got); diff != "" {
			t.Errorf("tags of %s after apply (-planned +got):\n%s", id, diff)
		}
	}

	// plan again: nothing to change; exit 0 unless violations remain.
	r = cli(t, k.env, append([]string{"plan", "-o", "json"}, target...)...)
	again := decodeReport(t, r.stdout)
	if again.Planned != 0 {
		t.Errorf("second plan: %d keys to change, want 0", again.Planned)
	}
	wantCode := 0
	if again.Violating > 0 {
		wantCode = 2
	}
	if r.code != wantCode {
		t.Errorf("second plan: exit %d, want %d", r.code, wantCode)
	}
}

func TestPlanKey(t *testing.T) {
	k := startKMS(t)
	r := cli(t, k.env, "plan", "--endpoint", k.url, "--key", "0d0466b0-e727-4d9c-b35d-f84bb474a37f", "-o", "json")
	rep := decodeReport(t, r.stdout)
	if r.code != 2 || rep.Mode != handler.ModeKeys || rep.Scanned != 1 || len(rep.Keys) != 1 || rep.Keys[0].KeyID != "0d0466b0-e727-4d9c-b35d-f84bb474a37f" {
		t.Errorf("plan --key: exit %d, report %+v; want exit 2 and that one key", r.code, rep)
	}

	r = cli(t, k.env, "plan", "--endpoint", k.url, "--key", "5b1e8d0a-9c3f-4e2b-8a7d-6c5f4e3d2b1a")
	r.expect(t, 0, []string{"skipped"}, nil)
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestTargetErrors(t *testing.T) {
	k := startKMS(t)
	badSK := []string{"HUAWEICLOUD_SDK_AK=" + emulator.DefaultAK, "HUAWEICLOUD_SDK_SK=wrong", "HUAWEICLOUD_SDK_PROJECT_ID=" + emulator.DefaultProject}
	for _, tc := range []struct {
		name   string
		env    []string
		args   []string
		stderr []string
	}{
		{"missing credentials", nil, []string{"plan", "--endpoint", k.url, "--project-id", emulator.DefaultProject}, []string{"credentials", "HUAWEICLOUD_SDK_AK"}},
		{"missing project", []string{"HUAWEICLOUD_SDK_AK=a", "HUAWEICLOUD_SDK_SK=b"}, []string{"plan", "--endpoint", k.url}, []string{"project id"}},
		{"unknown region", k.env, []string{"plan", "--region", "mars-north-1"}, []string{`unknown region "mars-north-1"`}},
		{"no region", k.env, []string{"apply"}, []string{"no region", "--region"}},
		{"unreachable endpoint", k.env, []string{"plan", "--endpoint", "http://" + closedPort(t)}, []string{"cannot reach the KMS endpoint", "connection refused"}},
		{"not a URL", k.env, []string{"plan", "--endpoint", "kms.example"}, []string{"is not an http(s) URL"}},
		{"wrong secret key", badSK, []string{"plan", "--endpoint", k.url}, []string{"access denied", "secret key"}},
		{"bad environment", append([]string{"TAGWARDEN_RATE_LIMIT=fast"}, k.env...), []string{"plan", "--endpoint", k.url}, []string{"TAGWARDEN_RATE_LIMIT"}},
		{"bad policies", k.env, []string{"plan", "--endpoint", k.url, "--policies", "testdata/policies-bad"}, []string{"bad policies", "bad.yaml:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, tc.env, tc.args...)
			r.expect(t, 1, nil, append([]string{"tagwarden: "}, tc.stderr...))
			if lines := strings.Count(strings.TrimSpace(r.stderr), "\n") + 1; lines > 6 {
				t.Errorf("stderr has %d lines, want a short message:\n%s", lines, r.stderr)
			}
		})
	}
	if w := k.srv.Stats().Writes; w != 0 {
		t.Errorf("failed commands wrote %d times", w)
	}
}

func TestEmulatorCommand(t *testing.T) {
	cmd := exec.Command(binary, "emulator", "--listen", "127.0.0.1:0", "--seed", "testdata/seed.json", "--sample", "20")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		t.Fatalf("no output from the emulator: %s", stderr.String())
	}
	first := sc.Text()
	f := strings.Fields(first)
	if len(f) < 5 || !strings.HasPrefix(first, "KMS emulator listening on http://127.0.0.1:") || !strings.Contains(first, "24 keys") {
		t.Fatalf("first line %q, want where it listens and 24 keys", first)
	}
	url := f[4]
	go func() {
		for sc.Scan() {
		}
	}()

	env := []string{"HUAWEICLOUD_SDK_AK=" + emulator.DefaultAK, "HUAWEICLOUD_SDK_SK=" + emulator.DefaultSK, "HUAWEICLOUD_SDK_PROJECT_ID=" + emulator.DefaultProject}
	r := cli(t, env, "plan", "--endpoint", url, "-o", "json")
	if rep := decodeReport(t, r.stdout); rep.Scanned != 24 {
		t.Errorf("plan against the emulator command scanned %d keys, want 24 (exit %d: %s)", rep.Scanned, r.code, r.stderr)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("emulator after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("emulator still running 5s after SIGTERM")
	}
}

func TestEmulatorFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"missing seed", []string{"--seed", "testdata/nope.json"}, "no such file"},
		{"bad seed", []string{"--seed", "testdata/cts-create-key.json"}, "seed testdata/cts-create-key.json"},
		{"bad rate", []string{"--error-rate", "2"}, "--error-rate: 2 is not a fraction"},
		{"busy port", []string{"--listen", "256.0.0.1:1"}, "listen on 256.0.0.1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, nil, append([]string{"emulator"}, tc.args...)...)
			r.expect(t, 1, nil, []string{tc.stderr})
		})
	}
}

func TestInvoke(t *testing.T) {
	k := startKMS(t)
	r := cli(t, k.env, "invoke", "--endpoint", k.url, "--dry-run", "testdata/cts-create-key.json")
	rep := decodeReport(t, r.stdout)
	if r.code != 2 {
		t.Errorf("invoke: exit %d, want 2 (changes needed): %s", r.code, r.stderr)
	}
	if rep.Mode != handler.ModeKeys || rep.Trigger != "cts" || !rep.DryRun || rep.RequestID == "" ||
		len(rep.Keys) != 1 || rep.Keys[0].KeyID != "0d0466b0-e727-4d9c-b35d-f84bb474a37f" || rep.Keys[0].Outcome != handler.OutcomePlanned {
		t.Errorf("invoke report %+v; want a dry run of the created key, planned", rep)
	}
	if w := k.srv.Stats().Writes; w != 0 {
		t.Errorf("dry-run invoke wrote %d times", w)
	}

	// Without --dry-run the function writes; the event's key then complies.
	r = cli(t, k.env, "invoke", "--endpoint", k.url, "testdata/cts-create-key.json")
	if rep := decodeReport(t, r.stdout); rep.DryRun || rep.Changed != 1 {
		t.Errorf("invoke: dry_run %t, changed %d; want 1 key changed (exit %d: %s)", rep.DryRun, rep.Changed, r.code, r.stderr)
	}
	if k.srv.Stats().Writes == 0 {
		t.Error("invoke wrote nothing")
	}

	r = cli(t, k.env, "invoke", "--endpoint", k.url, "testdata/unknown-event.json")
	r.expect(t, 1, nil, []string{"testdata/unknown-event.json", "expected", "manual payload"})
	if r.stdout != "" {
		t.Errorf("stdout not empty for a refused event: %q", r.stdout)
	}
}
