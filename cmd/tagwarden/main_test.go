package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/kmstest"
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
	return cliIn(t, "", env, args...)
}

// cliIn is cli with stdin.
func cliIn(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
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
	kit *kmstest.KMS
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
	return startKMSWith(t, emulator.Options{Seed: seed})
}

// startKMSWith starts an emulator with opts, in process.
func startKMSWith(t testing.TB, opts emulator.Options) kms {
	t.Helper()
	k := kmstest.Start(t, opts)
	return kms{srv: k.Server, url: k.URL, kit: k, env: []string{
		"HUAWEICLOUD_SDK_AK=" + k.Credentials.AccessKey,
		"HUAWEICLOUD_SDK_SK=" + k.Credentials.SecretKey,
		"HUAWEICLOUD_SDK_PROJECT_ID=" + k.Project,
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
	for _, cmd := range []string{"", "demo", "plan", "apply", "show", "validate", "test", "emulator", "invoke"} {
		t.Run("help "+cmd, func(t *testing.T) {
			args := strings.Fields(cmd + " --help")
			r := cli(t, nil, args...)
			r.expect(t, 0, []string{"Usage:", "Examples:", "tagwarden " + cmd}, nil)
		})
	}
}

func TestVersion(t *testing.T) {
	r := cli(t, nil, "--version")
	r.expect(t, 0, []string{"tagwarden version "}, nil)
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
	pages := t.TempDir()
	r := cli(t, nil, "demo", "--html-dir", pages)
	took := time.Since(start)
	r.expect(t, 0, []string{"== 1. plan", "KEY", "ALIAS", "CHANGES", "== 2. apply", "== 3. plan again", "0 to change", "nothing left to change",
		"== 4. two regions", "fanned out run", ": complete", "ap-southeast-1/0b1f2e3d4c5b6a79887766554433221a  done", "cn-north-4/0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f      done", "total (2 of 2 done)",
		"== 5. a policy change, previewed", "tagwarden plan --policies NEW --compare OLD", " KMS calls, 0 writes)",
		"+data-class=unclassified", `+ data-class-required: missing tag "data-class" (fixed by the plan)`, "Policy change preview: ",
		"== 6. what reaches people", "1 notification published", "2 targets", "Subject: tagwarden: ", "keys need a person", "HTML page written: " + pages}, nil)
	if r.stderr != "" {
		t.Errorf("stderr not empty (no progress bar on a pipe, no logs): %q", r.stderr)
	}
	// How long the demo takes depends on the machine: a figure for the
	// bench, not a test.
	t.Logf("demo took %s", took)

	// Without --html-dir, the pages go to a new folder of the temporary
	// folder, never to one another user could have made first (here a
	// link to theirs at the old fixed name).
	tmp, theirs := t.TempDir(), t.TempDir()
	if err := os.Symlink(theirs, filepath.Join(tmp, "tagwarden-demo")); err != nil {
		t.Fatal(err)
	}
	j := cli(t, []string{"TMPDIR=" + tmp}, "demo", "--keys", "40", "--output", "json")
	if j.code != 0 {
		t.Fatalf("demo --output json: exit %d: %s", j.code, j.stderr)
	}
	if left, _ := os.ReadDir(theirs); len(left) > 0 {
		t.Errorf("the demo wrote into the folder at the old fixed name: %v", left)
	}
	dir, ok := strings.CutPrefix(strings.TrimSpace(j.stderr), "Wrote the runs' HTML pages to ")
	if !ok || !strings.HasPrefix(dir, filepath.Join(tmp, "tagwarden-demo-pages-")) {
		t.Errorf("stderr %q: want the new folder of the pages, in %s", j.stderr, tmp)
	} else if pages, _ := filepath.Glob(filepath.Join(dir, "*.html")); len(pages) != 2 {
		t.Errorf("pages in %s: %v, want one per target", dir, pages)
	} else if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the pages' folder: %v, %v; want it readable by its owner only", fi.Mode(), err)
	}
	var parts map[string]json.RawMessage
	if err := json.Unmarshal([]byte(j.stdout), &parts); err != nil {
		t.Fatalf("demo --output json: %v", err)
	}
	reps := map[string]handler.Report{}
	for _, step := range []string{"plan", "apply", "replan"} {
		var rep handler.Report
		if err := json.Unmarshal(parts[step], &rep); err != nil {
			t.Fatalf("demo --output json: %s: %v", step, err)
		}
		reps[step] = rep
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
	var org struct {
		Organisation struct {
			Fanout handler.Report   `json:"fanout"`
			Links  []handler.Report `json:"links"`
		} `json:"organisation"`
	}
	if err := json.Unmarshal([]byte(j.stdout), &org); err != nil {
		t.Fatal(err)
	}
	done := map[string]int{}
	for _, l := range org.Organisation.Links {
		if l.Run != org.Organisation.Fanout.Run {
			t.Errorf("link of run %q, want %q", l.Run, org.Organisation.Fanout.Run)
		}
		if l.Chain != nil && l.Chain.State == handler.ChainDone {
			done[l.Target] = l.Totals.Scanned
		}
	}
	if len(org.Organisation.Fanout.Targets) != 2 || len(done) != 2 || done["cn-north-4/0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"] != 20 {
		t.Errorf("organisation: fan-out to %d targets, done %v; want 2 targets done, the second with 20 keys", len(org.Organisation.Fanout.Targets), done)
	}

	// The preview: after the apply, the new policy only adds violations
	// (TestPreview checks that they are exactly the keys lacking the tag).
	var change preview
	dec := json.NewDecoder(bytes.NewReader(parts["preview"]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&change); err != nil {
		t.Fatalf("demo --output json: preview: %v", err)
	}
	c := change.Counts
	if c.Scanned != 40 || c.Differ == 0 || c.Differ != c.NewViolations || c.ResolvedViolations != 0 || c.OldToChange != 0 || len(change.Keys) != c.Differ {
		t.Errorf("preview counts %+v, %d keys: want 40 keys read, keys gaining a violation and listed, none resolved, nothing to change before", c, len(change.Keys))
	}
	for _, k := range change.Keys {
		if len(k.NewViolations) != 1 || k.NewViolations[0].Policy != "data-class-required" {
			t.Errorf("preview of key %s: new violations %+v, want data-class-required only", k.KeyID, k.NewViolations)
		}
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
	// Not even when the function's configuration says to write.
	r = cli(t, append([]string{"TAGWARDEN_DRY_RUN=false"}, k.env...), append([]string{"plan"}, target...)...)
	r.expect(t, 2, []string{"dry run: nothing written"}, nil)
	if w := k.srv.Stats().Writes; w != 0 {
		t.Fatalf("plan with TAGWARDEN_DRY_RUN=false wrote %d times", w)
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

	// apply: writes exactly the plan; the shipped policies leave no
	// violation on these keys, so it exits 0.
	r = cli(t, k.env, append([]string{"apply", "--auto-approve"}, target...)...)
	r.expect(t, 0, []string{"changed", "3 changed, 0 with violations, 0 failed, 1 skipped"}, nil)
	if strings.Contains(r.stdout, "dry run") || r.stderr != "" {
		t.Errorf("apply output:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	if w := k.srv.Stats().Writes; w == 0 {
		t.Error("apply wrote nothing")
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

// TestApplyViolationsRemain: apply fixes what the enforced policy asks and
// exits 2 for the violations of a report-only policy, which it never writes.
func TestApplyViolationsRemain(t *testing.T) {
	k := startKMS(t)
	args := []string{"--endpoint", k.url, "--policies", "testdata/policies-report"}
	r := cli(t, k.env, append([]string{"apply", "--auto-approve"}, args...)...)
	r.expect(t, 2, []string{
		"0d0466b0-e727-4d9c-b35d-f84bb474a37f  app-payments     changed    +owner=unassigned  data-class-reviewed: missing tag \"data-class\"",
		"2f9c6c1e-5a57-4f5e-9d41-3f0b6f9a1c22  prod-orders      violation                     data-class-reviewed: missing tag \"data-class\"",
		"4 keys scanned: 0 compliant, 1 changed, 3 with violations, 0 failed, 1 skipped",
	}, nil)
	if tags, _ := k.srv.Tags(emulator.DefaultProject, "0d0466b0-e727-4d9c-b35d-f84bb474a37f"); tags["owner"] != "unassigned" || tags["data-class"] != "" {
		t.Errorf("tags after apply %v: want owner=unassigned and no data-class", tags)
	}
	// Nothing left to change, the violations remain: plan exits 2 too.
	r = cli(t, k.env, append([]string{"plan", "-o", "json"}, args...)...)
	if rep := decodeReport(t, r.stdout); r.code != 2 || rep.Planned != 0 || rep.Violating != 3 {
		t.Errorf("plan after apply: exit %d, planned %d, violating %d; want 2, 0, 3", r.code, rep.Planned, rep.Violating)
	}
}

// TestProfileCredentials: with no credentials in the environment, the
// SDK's chain reads the profile file, as for a real account.
func TestProfileCredentials(t *testing.T) {
	k := startKMS(t)
	home := t.TempDir()
	profile := "[basic]\nak = " + emulator.DefaultAK + "\nsk = " + emulator.DefaultSK + "\nproject_id = " + emulator.DefaultProject + "\n"
	if err := os.MkdirAll(filepath.Join(home, ".huaweicloud"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".huaweicloud", "credentials"), []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	r := cli(t, []string{"HOME=" + home}, "plan", "--endpoint", k.url, "-o", "json")
	if rep := decodeReport(t, r.stdout); r.code != 2 || rep.Scanned != 4 {
		t.Errorf("plan with a profile: exit %d, scanned %d; want 2, 4: %s", r.code, rep.Scanned, r.stderr)
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
		{"missing credentials, a real region", nil, []string{"plan", "--region", "ap-southeast-1", "--project-id", emulator.DefaultProject}, []string{"no Huawei Cloud credentials"}},
		{"missing project", []string{"HUAWEICLOUD_SDK_AK=a", "HUAWEICLOUD_SDK_SK=b"}, []string{"plan", "--endpoint", k.url}, []string{"project id"}},
		{"unknown region", k.env, []string{"plan", "--region", "mars-north-1"}, []string{`unknown region "mars-north-1"`}},
		{"no region", k.env, []string{"apply"}, []string{"no region", "--region"}},
		{"unreachable endpoint", k.env, []string{"plan", "--endpoint", "http://" + closedPort(t)}, []string{"cannot reach the KMS endpoint", "connection refused"}},
		{"not a URL", k.env, []string{"plan", "--endpoint", "ftp://kms.example"}, []string{`the KMS endpoint's scheme is "ftp"`, "give an http(s) URL"}},
		{"wrong secret key", badSK, []string{"plan", "--endpoint", k.url}, []string{"access denied: check HUAWEICLOUD_SDK_AK", "detail: "}},
		{"bad environment", append([]string{"TAGWARDEN_RATE_LIMIT=fast"}, k.env...), []string{"plan", "--endpoint", k.url}, []string{"TAGWARDEN_RATE_LIMIT"}},
		{"bad policies", k.env, []string{"plan", "--endpoint", k.url, "--policies", "testdata/policies-bad"}, []string{"bad policies in testdata/policies-bad: 4 errors", "\n  testdata/policies-bad/bad.yaml:9:32: "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, tc.env, tc.args...)
			r.expect(t, 1, nil, append([]string{"tagwarden: "}, tc.stderr...))
			if lines := strings.Count(strings.TrimSpace(r.stderr), "\n") + 1; lines > 8 {
				t.Errorf("stderr has %d lines, want a short message:\n%s", lines, r.stderr)
			}
		})
	}
	if w := k.srv.Stats().Writes; w != 0 {
		t.Errorf("failed commands wrote %d times", w)
	}
}

func TestEmulatorCommand(t *testing.T) {
	const sk = "my-own-emulator-secret-key-000000"
	cmd := exec.Command(binary, "emulator", "--listen", "127.0.0.1:0", "--seed", "testdata/seed.json", "--sample", "20", "--ak", "MYOWNEMULATORAK00001", "--sk", sk)
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
	rest := make(chan string, 1)
	go func() {
		var b strings.Builder
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
		}
		rest <- b.String()
	}()

	env := []string{"HUAWEICLOUD_SDK_AK=MYOWNEMULATORAK00001", "HUAWEICLOUD_SDK_SK=" + sk, "HUAWEICLOUD_SDK_PROJECT_ID=" + emulator.DefaultProject}
	r := cli(t, env, "plan", "--endpoint", url, "-o", "json")
	if rep := decodeReport(t, r.stdout); rep.Scanned != 24 {
		t.Errorf("plan against the emulator command scanned %d keys, want 24 (exit %d: %s)", rep.Scanned, r.code, r.stderr)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Read stdout to its end (the process closing it) before Wait.
	var tail string
	select {
	case tail = <-rest:
	case <-time.After(5 * time.Second):
		t.Fatal("emulator still running 5s after SIGTERM")
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("emulator after SIGTERM: %v, want exit 0", err)
	}
	out := first + "\n" + tail
	if !strings.Contains(out, "export TAGWARDEN_KMS_ENDPOINT="+url) || !strings.Contains(out, "export HUAWEICLOUD_SDK_AK=MYOWNEMULATORAK00001") {
		t.Errorf("the emulator does not say how to use it:\n%s", out)
	}
	if strings.Contains(out+stderr.String(), sk) {
		t.Errorf("the emulator printed the secret key it was given:\n%s", out)
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

// TestInvokeReportError: a request that fails as a whole prints its report
// (error, error_kind, continuation) as the function returns it, exits 1 with
// the message its kind calls for, and its continuation is accepted back:
// a check cut by denied access resumes as a check, without key_ids.
func TestInvokeReportError(t *testing.T) {
	k := startKMS(t)
	// Tokens verify across processes with one continuation key, as across
	// the function's instances.
	env := append([]string{"TAGWARDEN_CONTINUATION_KEY=" + strings.Repeat("k", 32)}, k.env...)
	const keyA, keyB = "0d0466b0-e727-4d9c-b35d-f84bb474a37f", "7a3d2c1b-0e9f-4a8b-9c7d-1e2f3a4b5c6d"
	invoke := func(payload string, args ...string) result {
		return cliIn(t, payload, env, append([]string{"invoke", "--endpoint", k.url, "--concurrency", "1"}, append(args, "-")...)...)
	}

	// The first key is decided, then KMS refuses the second.
	k.srv.SetFaults(emulator.Faults{FailKeys: map[string]int{keyB: 403}})
	r := invoke(`{"action":"check","key_ids":["` + keyA + `","` + keyB + `"],"dry_run":true}`)
	r.expect(t, 1, []string{`"error_kind": "denied"`}, []string{"tagwarden: access denied: check HUAWEICLOUD_SDK_AK", "detail: "})
	denied := decodeReport(t, r.stdout)
	if denied.Mode != handler.ModeKeys || denied.ErrorKind != handler.KindDenied || denied.Continuation == "" ||
		len(denied.Keys) != 1 || denied.Keys[0].KeyID != keyA || denied.Keys[0].Outcome != handler.OutcomePlanned {
		t.Fatalf("got %+v, want a denied check with the first key planned and a continuation", denied)
	}

	k.srv.SetFaults(emulator.Faults{})
	r = invoke(`{"action":"check","dry_run":true,"continuation":"` + denied.Continuation + `"}`)
	resumed := decodeReport(t, r.stdout)
	if r.code != 2 || resumed.Mode != handler.ModeKeys || resumed.Error != "" || resumed.Continuation != "" ||
		len(resumed.Keys) != 1 || resumed.Keys[0].KeyID != keyB || resumed.Keys[0].Outcome != handler.OutcomePlanned {
		t.Errorf("resumed check: exit %d, report %+v; want exit 2 and the second key planned (%s)", r.code, resumed, r.stderr)
	}

	// A check's token given to a sweep: the handler refuses it, and the
	// table still shows the report's summary.
	r = invoke(`{"action":"sweep","dry_run":true,"continuation":"`+denied.Continuation+`"}`, "-o", "table")
	r.expect(t, 1, []string{"0 keys scanned"}, []string{"tagwarden: invalid continuation: pass the continuation of a report back unchanged", "detail: invalid continuation: "})
	if w := k.srv.Stats().Writes; w != 0 {
		t.Errorf("dry runs wrote %d times", w)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name           string
		args           []string
		env            []string
		code           int
		stdout, stderr []string
	}{
		{"shipped", []string{"validate"}, nil, 0, []string{"the shipped policies: ok", "owner-required"}, nil},
		{"a folder", []string{"validate", "testdata/policies-failing"}, nil, 0,
			[]string{"testdata/policies-failing: ok, 1 policy", "owner-required  testdata/policies-failing/owner.yaml:2  enforce  require owner"}, nil},
		{"TAGWARDEN_POLICIES", []string{"validate"}, []string{"TAGWARDEN_POLICIES=testdata/policies-failing"}, 0, []string{"testdata/policies-failing: ok"}, nil},
		{"bad policies", []string{"validate", "testdata/policies-bad"}, nil, 1, nil, []string{
			"testdata/policies-bad/bad.yaml:9:32: policy \"env-values\": match: ",
			"    |     match: 'key.alias startsWith'\n    |                                ^\n",
			"testdata/policies-bad/bad.yaml:12:18: ",
			"testdata/policies-bad/more.yaml:2:11: duplicate policy name \"owner-required\"",
			"testdata/policies-bad/more.yaml:3:5: unknown field \"colour\"",
			"tagwarden: testdata/policies-bad: 4 errors\n",
		}},
		{"missing folder", []string{"validate", "testdata/nope"}, nil, 1, nil, []string{"tagwarden: policy folder testdata/nope does not exist\n"}},
		{"a file", []string{"validate", "testdata/policies-bad/bad.yaml"}, nil, 1, nil, []string{"policy folder testdata/policies-bad/bad.yaml is a file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, tc.env, tc.args...)
			r.expect(t, tc.code, tc.stdout, tc.stderr)
		})
	}
}

func TestPolicyTests(t *testing.T) {
	r := cli(t, nil, "test")
	r.expect(t, 0, []string{"PASS  owner_test.yaml:", " 0 failed"}, nil)
	if strings.Contains(r.stdout, "FAIL") {
		t.Errorf("a shipped case fails:\n%s", r.stdout)
	}

	r = cli(t, nil, "test", "testdata/policies-failing")
	r.expect(t, 2, []string{
		"PASS  testdata/policies-failing/owner_test.yaml:2: an owner complies\n",
		"FAIL  testdata/policies-failing/owner_test.yaml:6: a missing owner becomes nobody\n" +
			"        create: owner=\"unassigned\", want owner=\"nobody\"\n" +
			"        got: +owner=unassigned [owner-required/require owner: missing tag \"owner\", remediated]\n",
		"2 cases: 1 passed, 1 failed",
	}, nil)

	r = cli(t, nil, "test", "testdata/policies-failing", "--run", "complies", "-o", "json")
	var got []caseJSON
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 {
		t.Fatalf("test --run -o json: exit %d, %v:\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if len(got) != 1 || !got[0].Passed || got[0].Name != "an owner complies" {
		t.Errorf("test --run complies: %+v, want the one passing case", got)
	}

	r = cli(t, nil, "test", "testdata/policies-bad")
	r.expect(t, 1, nil, []string{"testdata/policies-bad/bad.yaml:9:32: ", "errors in the policies"})

	r = cli(t, nil, "test", "testdata/policies-badcases")
	r.expect(t, 1, nil, []string{"testdata/policies-badcases/owner_test.yaml:4:5: unknown field \"wnat\"", "1 error in the test cases"})
}

func TestInvokePlatforms(t *testing.T) {
	k := startKMS(t)
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		check func(t *testing.T, rep handler.Report)
	}{
		{"lambda scheduled event sweeps", "", []string{"--platform", "lambda", "--dry-run", "testdata/scheduled.json"}, 2,
			func(t *testing.T, rep handler.Report) {
				if rep.Mode != handler.ModeSweep || rep.Trigger != "schedule" || rep.Scanned != 4 {
					t.Errorf("mode %s, trigger %s, scanned %d; want a sweep of 4 keys from the schedule", rep.Mode, rep.Trigger, rep.Scanned)
				}
			}},
		{"manual payload on stdin", `{"action":"check","key_ids":["7a3d2c1b-0e9f-4a8b-9c7d-1e2f3a4b5c6d"],"dry_run":true}`, []string{"-"}, 2,
			func(t *testing.T, rep handler.Report) {
				if rep.Mode != handler.ModeKeys || rep.Trigger != "manual" || !rep.DryRun || rep.Scanned != 1 {
					t.Errorf("mode %s, trigger %s, dry run %t, scanned %d; want a dry check of one key", rep.Mode, rep.Trigger, rep.DryRun, rep.Scanned)
				}
			}},
		{"other service's trace is ignored", "", []string{"testdata/cts-vpc.json"}, 0,
			func(t *testing.T, rep handler.Report) {
				if rep.Mode != handler.ModeIgnore || !strings.Contains(rep.Reason, "VPC") {
					t.Errorf("mode %s, reason %q; want ignored, saying why", rep.Mode, rep.Reason)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cliIn(t, tc.stdin, k.env, append([]string{"invoke", "--endpoint", k.url}, tc.args...)...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d: %s", r.code, tc.code, r.stderr)
			}
			tc.check(t, decodeReport(t, r.stdout))
		})
	}
	if w := k.srv.Stats().Writes; w != 0 {
		t.Errorf("dry runs wrote %d times", w)
	}

	// A FunctionGraph function does not take EventBridge events.
	r := cli(t, k.env, "invoke", "--endpoint", k.url, "testdata/scheduled.json")
	r.expect(t, 1, nil, []string{"is not taken on this platform", "TIMER"})
}

func TestEnvironmentConfiguration(t *testing.T) {
	k := startKMS(t)
	// The function's own variables configure the command; flags win.
	env := append([]string{
		"TAGWARDEN_KMS_ENDPOINT=" + k.url,
		"TAGWARDEN_POLICIES=testdata/policies-failing",
	}, k.env...)
	r := cli(t, env, "plan", "-o", "json")
	rep := decodeReport(t, r.stdout)
	if r.code != 2 || rep.Scanned != 4 {
		t.Fatalf("plan from TAGWARDEN_*: exit %d, scanned %d; want 2 and 4 keys: %s", r.code, rep.Scanned, r.stderr)
	}
	for _, kr := range rep.Keys {
		for _, v := range kr.Violations {
			if v.Policy != "owner-required" {
				t.Errorf("key %s: violation of %q, want only the policies of TAGWARDEN_POLICIES", kr.KeyID, v.Policy)
			}
		}
	}
	r = cli(t, env, "plan", "--endpoint", "http://"+closedPort(t))
	r.expect(t, 1, nil, []string{"cannot reach"})
}

func TestSecretsStayOut(t *testing.T) {
	const ak, sk, token = "TESTAKSECRETSTAYSOUT1", "sk-must-never-be-printed-0123456789", "token-must-never-be-printed"
	k := kmstest.Start(t, emulator.Options{AccessKey: ak, SecretKey: sk, SecurityToken: token, Seed: emulator.SampleKeys(20, 3)})
	srv, url := k.Server, k.URL
	env := []string{"HUAWEICLOUD_SDK_AK=" + ak, "HUAWEICLOUD_SDK_SK=" + sk, "HUAWEICLOUD_SDK_SECURITY_TOKEN=" + token, "HUAWEICLOUD_SDK_PROJECT_ID=" + emulator.DefaultProject}
	runs := []result{
		cli(t, env, "apply", "--auto-approve", "--endpoint", url, "--log-level", "debug"),
		cli(t, env, "plan", "--endpoint", url, "--log-level", "debug", "-o", "json"),
		cli(t, append(env[:1:1], "HUAWEICLOUD_SDK_SK=wrong-"+sk[:8], env[2], env[3]), "plan", "--endpoint", url, "--log-level", "debug"),
	}
	if runs[0].code == 1 || runs[1].code == 1 || srv.Stats().Writes == 0 {
		t.Fatalf("apply/plan with temporary credentials failed: %v", runs[:2])
	}
	if runs[2].code != 1 {
		t.Errorf("wrong secret key: exit %d, want 1", runs[2].code)
	}
	for i, r := range runs {
		for _, secret := range []string{sk, token, "wrong-" + sk[:8]} {
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Errorf("run %d printed a secret %q", i, secret)
			}
		}
	}
}

// TestInterrupt: Ctrl-C while a KMS call is in flight stops the plan at
// once, with exit status 1 and the reason, instead of waiting for the
// answer, which the emulator would send only after a minute. The signal
// goes when the first call has reached the emulator: no sleep, whatever the
// machine's speed.
func TestInterrupt(t *testing.T) {
	k := startKMS(t)
	const latency = time.Minute
	k.srv.SetFaults(emulator.Faults{Latency: latency})
	// The emulator behind a listener of the test's own, which tells when
	// the first call arrives: the command is then waiting on KMS. It reads
	// the body first, so that the server notices the command going away and
	// cancels the emulator's wait.
	arrived := make(chan struct{})
	var once sync.Once
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		once.Do(func() { close(arrived) })
		k.srv.ServeHTTP(w, r)
	}))
	defer front.Close()

	cmd := exec.Command(binary, "plan", "--endpoint", front.URL)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, k.env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-arrived:
	case err := <-done:
		t.Fatalf("plan ended (%v) before calling KMS:\n%s", err, errb.String())
	}
	start := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(latency / 2):
		cmd.Process.Kill() //nolint:errcheck // it may have exited meanwhile
		<-done
		t.Fatalf("plan still running %s after Ctrl-C: it waits for the KMS call instead of stopping", latency/2)
	}
	t.Logf("plan stopped %s after Ctrl-C", time.Since(start))
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("plan after Ctrl-C: %v, want exit status 1", err)
	}
	if !strings.Contains(errb.String(), "tagwarden: interrupted") {
		t.Errorf("stderr %q, want it to say it was interrupted", errb.String())
	}
}

// emulatorCmd starts "tagwarden emulator" with args, reads what it prints
// up to "Press Ctrl-C to stop.", and stops it (SIGTERM, by its pid) when
// the test ends. It returns the URL and the printed lines.
func emulatorCmd(t *testing.T, args ...string) (url, banner string) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"emulator", "--listen", "127.0.0.1:0"}, args...)...)
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
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	var b strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
		if sc.Text() == "Press Ctrl-C to stop." {
			go io.Copy(io.Discard, stdout)
			f := strings.Fields(b.String())
			if len(f) < 5 {
				t.Fatalf("emulator printed %q", b.String())
			}
			return f[4], b.String()
		}
	}
	t.Fatalf("emulator stopped before serving: %s%s", b.String(), stderr.String())
	return "", ""
}

// TestEmulatorKnobs runs the emulator command with its flags and checks
// that each one changes what a plan against it meets.
func TestEmulatorKnobs(t *testing.T) {
	creds := []string{"HUAWEICLOUD_SDK_AK=" + emulator.DefaultAK, "HUAWEICLOUD_SDK_SK=" + emulator.DefaultSK}
	const project = "5f0e1d2c3b4a59687766554433221100"
	for _, tc := range []struct {
		name   string
		args   []string
		env    []string
		code   int
		stderr string
		banner string
		check  func(t *testing.T, rep handler.Report, took time.Duration)
	}{
		{name: "project id", args: []string{"--project-id", project, "--sample", "7"}, env: []string{"HUAWEICLOUD_SDK_PROJECT_ID=" + project}, code: 2,
			banner: "(7 keys, project " + project + ")",
			check: func(t *testing.T, rep handler.Report, _ time.Duration) {
				if rep.Scanned != 7 {
					t.Errorf("scanned %d keys of project %s, want 7", rep.Scanned, project)
				}
			}},
		{name: "another project is refused", args: []string{"--project-id", project, "--sample", "7"}, env: []string{"HUAWEICLOUD_SDK_PROJECT_ID=" + emulator.DefaultProject}, code: 1,
			stderr: "does not belong to this account"},
		{name: "security token required", args: []string{"--sample", "5", "--security-token", "tok-123"},
			env: []string{"HUAWEICLOUD_SDK_PROJECT_ID=" + emulator.DefaultProject}, code: 1, stderr: "access denied", banner: "export HUAWEICLOUD_SDK_SECURITY_TOKEN=<the --security-token you gave>"},
		{name: "security token given", args: []string{"--sample", "5", "--security-token", "tok-123"},
			env: []string{"HUAWEICLOUD_SDK_PROJECT_ID=" + emulator.DefaultProject, "HUAWEICLOUD_SDK_SECURITY_TOKEN=tok-123"}, code: 2,
			check: func(t *testing.T, rep handler.Report, _ time.Duration) {
				if rep.Scanned != 5 {
					t.Errorf("scanned %d keys, want 5", rep.Scanned)
				}
			}},
		{name: "unauthorized", args: []string{"--sample", "5", "--unauthorized"}, env: []string{"HUAWEICLOUD_SDK_PROJECT_ID=" + emulator.DefaultProject}, code: 1, stderr: "access denied"},
		{name: "server errors", args: []string{"--sample", "5", "--rate-500", "1"}, env: []string{"HUAWEICLOUD_SDK_PROJECT_ID=" + emulator.DefaultProject}, code: 1, stderr: "http 500"},
		{name: "latency", args: []string{"--sample", "5", "--latency", "150ms"}, env: []string{"HUAWEICLOUD_SDK_PROJECT_ID=" + emulator.DefaultProject}, code: 2,
			check: func(t *testing.T, rep handler.Report, took time.Duration) {
				// The bulk listing, then ListKeys: two answers one after the other.
				if took < 300*time.Millisecond || rep.Scanned != 5 {
					t.Errorf("plan took %s and scanned %d keys, want at least 300ms for two answers of 150ms, and 5 keys", took, rep.Scanned)
				}
			}},
		{name: "rate limit", args: []string{"--sample", "5", "--rate-limit", "4", "--burst", "1"}, env: []string{"HUAWEICLOUD_SDK_PROJECT_ID=" + emulator.DefaultProject}, code: 2,
			check: func(t *testing.T, rep handler.Report, took time.Duration) {
				// The second call is answered 429 until a quarter of a second
				// has passed; the adapter retries it.
				if took < 240*time.Millisecond || rep.Scanned != 5 || rep.Failed != 0 {
					t.Errorf("plan took %s, scanned %d, failed %d; want at least 250ms for two calls at 4 per second, 5 keys, none failed", took, rep.Scanned, rep.Failed)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, banner := emulatorCmd(t, tc.args...)
			if !strings.Contains(banner, tc.banner) {
				t.Errorf("emulator printed:\n%s\nwant %q", banner, tc.banner)
			}
			if strings.Contains(banner, "tok-123") {
				t.Errorf("emulator printed the security token:\n%s", banner)
			}
			start := time.Now()
			r := cli(t, append(tc.env, creds...), "plan", "--endpoint", url, "-o", "json")
			took := time.Since(start)
			r.expect(t, tc.code, nil, []string{tc.stderr})
			if strings.Contains(r.stderr, "continuation") {
				t.Errorf("plan, which takes no continuation, tells to resume with one:\n%s", r.stderr)
			}
			if tc.check != nil {
				tc.check(t, decodeReport(t, r.stdout), took)
			}
		})
	}
}

// onTerminal runs the binary with stderr on a pseudo-terminal (util-linux
// script(1)) and stdout in a file; it returns what the terminal showed,
// stdout and the exit code. The test is skipped without script(1).
func onTerminal(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return onTerminalIn(t, "", env, args...)
}

// onTerminalIn is onTerminal with stdin typed on the terminal.
func onTerminalIn(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) is not installed: no pseudo-terminal to run the command on")
	}
	out := filepath.Join(t.TempDir(), "stdout")
	line := binary
	for _, a := range args {
		line += " '" + a + "'"
	}
	cmd := exec.Command(script, "-q", "-e", "-c", line+" >"+out, os.DevNull)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "SHELL=/bin/sh", "TERM=xterm"}, env...)
	var term bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &term, &term
	err = cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("script %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	stdout, rerr := os.ReadFile(out)
	if rerr != nil {
		t.Fatalf("script %v: %v (terminal: %q)", args, rerr, term.String())
	}
	return result{stdout: string(stdout), stderr: term.String(), code: code}
}

// TestProgressOnTerminal: a sweep longer than half a second shows a bar on
// a terminal's stderr, cleared at the end; never with --output json.
func TestProgressOnTerminal(t *testing.T) {
	k := startKMS(t)
	k.srv.SetFaults(emulator.Faults{Latency: 400 * time.Millisecond})

	r := onTerminal(t, k.env, "plan", "--endpoint", k.url)
	r.expect(t, 2, []string{"4 keys scanned: 0 compliant, 3 to change"}, []string{"keys checked"})
	if strings.Contains(r.stdout, "keys checked") {
		t.Errorf("the bar went to stdout:\n%s", r.stdout)
	}

	r = onTerminal(t, k.env, "plan", "--endpoint", k.url, "-o", "json")
	if rep := decodeReport(t, r.stdout); r.code != 2 || rep.Scanned != 4 {
		t.Errorf("plan -o json on a terminal: exit %d, scanned %d; want 2, 4", r.code, rep.Scanned)
	}
	if strings.TrimSpace(r.stderr) != "" {
		t.Errorf("plan -o json drew on the terminal: %q", r.stderr)
	}
}

// TestDocsPlanExample keeps the plan table shown in docs/cli.md true: it is
// the output of "tagwarden plan" against testdata/seed.json.
func TestDocsPlanExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "`tagwarden emulator --seed cmd/tagwarden/testdata/seed.json`:\n\n```\n")
	want, _, ok2 := strings.Cut(after, "```\n")
	if !ok || !ok2 {
		t.Fatal("docs/cli.md: the plan example after \"tagwarden emulator --seed cmd/tagwarden/testdata/seed.json\" is gone")
	}
	k := startKMS(t)
	r := cli(t, k.env, "plan", "--endpoint", k.url)
	if r.code != 2 {
		t.Errorf("exit %d, want 2: %s", r.code, r.stderr)
	}
	if diff := cmp.Diff(want, r.stdout); diff != "" {
		t.Errorf("docs/cli.md's plan example differs from the output (-doc +output):\n%s", diff)
	}
}
