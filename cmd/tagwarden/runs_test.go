package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// runsFixture reads testdata/runs/NAME.jsonl.
func runsFixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "runs", name+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkGolden compares got with testdata/runs/NAME, rewriting it first
// when UPDATE_GOLDEN is set.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden := filepath.Join("testdata", "runs", name)
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", golden, diff)
	}
}

// decodeRuns parses the output of runs --output json, refusing unknown
// fields.
func decodeRuns(t *testing.T, s string) runsReport {
	t.Helper()
	var rep runsReport
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not the runs report: %v\n%s", err, s)
	}
	return rep
}

// TestRuns runs the command on each fixture: its text and JSON against the
// goldens (UPDATE_GOLDEN=1 rewrites them), its exit status, and the
// statuses and warnings that make the case.
func TestRuns(t *testing.T) {
	for _, tc := range []struct {
		name     string
		code     int
		stderr   string
		statuses []string // of the runs, newest first
		targets  []string // the state of each target of the first run
		warnings []string // the kinds of the first run's warnings
	}{
		{name: "complete", code: 0, statuses: []string{"complete"}, targets: []string{"done", "done"}},
		{name: "running", code: 2, statuses: []string{"running"}, targets: []string{"waiting", "in_progress", "waiting"},
			warnings: []string{warnNeverStarted}},
		{name: "incomplete", code: 2, statuses: []string{"incomplete"},
			targets: []string{"chain_limit", "target_error", "dispatch_failed", "failed", "dispatch_failed", "refused"}},
		{name: "forked", code: 2, statuses: []string{"inexact"}, targets: []string{"done"}, warnings: []string{warnFork}},
		{name: "duplicate", code: 0, statuses: []string{"complete"}, targets: []string{"done"}},
		{name: "gap", code: 2, statuses: []string{"inexact"}, targets: []string{"done", "done"},
			warnings: []string{warnDryRun, warnGap, warnGap}},
		{name: "interleaved", code: 2, statuses: []string{"running", "complete", "complete"}, targets: []string{"done", "waiting"}},
		{name: "empty", code: 1, stderr: "tagwarden: no run in the logs", statuses: []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := runsFixture(t, tc.name)
			text := cliIn(t, in, nil, "runs")
			text.expect(t, tc.code, nil, []string{tc.stderr})
			checkGolden(t, tc.name+".golden", text.stdout)

			js := cliIn(t, in, nil, "runs", "--output", "json")
			js.expect(t, tc.code, nil, []string{tc.stderr})
			checkGolden(t, tc.name+".json.golden", js.stdout)

			rep := decodeRuns(t, js.stdout)
			statuses := []string{}
			for _, r := range rep.Runs {
				statuses = append(statuses, r.Status)
			}
			if diff := cmp.Diff(tc.statuses, statuses); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
			if len(rep.Runs) == 0 {
				return
			}
			var targets, warnings []string
			for _, tg := range rep.Runs[0].Targets {
				targets = append(targets, tg.State)
			}
			for _, w := range rep.Runs[0].Warnings {
				warnings = append(warnings, w.Kind)
			}
			if diff := cmp.Diff(tc.targets, targets); diff != "" {
				t.Errorf("target states (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.warnings, warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRunsCounts pins the numbers the goldens show: a duplicate delivery
// and a line the export repeats count once; a running target counts its
// links since its last restart; a run's totals add its done targets.
func TestRunsCounts(t *testing.T) {
	read := func(name string) runsReport {
		rep, err := readRuns(strings.NewReader(runsFixture(t, name)), "")
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	dup := read("duplicate").Runs[0]
	if got, want := dup.Totals, (runCounts{Scanned: 1250, Compliant: 1200, Changed: 38, Violating: 12}); !cmp.Equal(got, want) {
		t.Errorf("duplicate: totals %+v, want %+v", got, want)
	}
	if got := dup.Targets[0]; got.Duplicates != 1 || !got.TotalsLogged {
		t.Errorf("duplicate: target %+v, want 1 duplicate and logged totals", got)
	}

	y := read("interleaved").Runs[0]
	b := y.Targets[1]
	if b.WaitsFor != 3 || b.TotalsLogged || b.Totals.Scanned != 300 || !cmp.Equal(b.RestartedAt, []int{2}) {
		t.Errorf("interleaved: restarted target %+v, want waiting for link 3, 300 scanned since the restart at link 2", b)
	}
	if y.DoneTargets != 1 || y.Totals.Scanned != 1200 {
		t.Errorf("interleaved: %d done targets, %d scanned, want 1 and 1200 (the done target only)", y.DoneTargets, y.Totals.Scanned)
	}
	z := read("interleaved").Runs[1]
	if z.Trigger != "manual" || z.Fanout != nil || z.DryRun == nil || !*z.DryRun || !cmp.Equal(z.Targets[0].RestartedAt, []int{2}) {
		t.Errorf("interleaved: run without fan-out %+v, want trigger manual, dry run, restarted at link 2", z)
	}
}

func TestRunsFilter(t *testing.T) {
	in := runsFixture(t, "interleaved")
	for _, tc := range []struct {
		run    string
		code   int
		stdout string
		stderr string
	}{
		{"r-20261206T020000Z-0a1b2c", 0, "run r-20261206T020000Z-0a1b2c: complete", ""},
		{"r-20261207T020000Z-3d4e5f", 2, "run r-20261207T020000Z-3d4e5f: running", ""},
		{"r-nope", 1, "0 runs; 45 lines read", "tagwarden: run r-nope is not in the logs"},
	} {
		t.Run(tc.run, func(t *testing.T) {
			r := cliIn(t, in, nil, "runs", "--run", tc.run)
			r.expect(t, tc.code, []string{tc.stdout}, []string{tc.stderr})
			if n := strings.Count("\n"+r.stdout, "\nrun "); n > 1 {
				t.Errorf("%d runs shown, want at most 1:\n%s", n, r.stdout)
			}
		})
	}
}

func TestRunsUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"argument", []string{"runs", "logs.jsonl"}, "runs takes no arguments: it reads the logs on standard input"},
		{"unknown flag", []string{"runs", "--since", "1h"}, "unknown flag: --since"},
		{"bad output", []string{"runs", "-o", "yaml"}, `--output: "yaml" is not one of table, json`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cliIn(t, runsFixture(t, "complete"), nil, tc.args...)
			r.expect(t, exitError, nil, []string{"tagwarden: ", tc.stderr})
			if r.stdout != "" {
				t.Errorf("stdout not empty: %q", r.stdout)
			}
		})
	}
}

func TestRunsParseLine(t *testing.T) {
	const end = `{"event":"link_end","run":"r1","target":"ap-southeast-1/p","link":2,"request_id":"q","state":"done","time":"2026-12-07T10:00:00Z"}`
	for _, tc := range []struct {
		name string
		line string
		want lineClass
	}{
		{"json", end, lineUsed},
		{"cloudwatch export prefix", "2026-12-07T10:00:00.123Z " + end, lineUsed},
		{"lambda text prefix", "2026-12-07T10:00:00.123Z\t9f1c\tINFO\t" + end, lineUsed},
		{"crlf and spaces", end + "  \r", lineUsed},
		{"brace in the prefix", "START RequestId: {9f1c} " + end, lineNotJSON},
		{"text", "REPORT RequestId: 9f1c Duration: 812.33 ms", lineNotJSON},
		{"truncated", end[:40], lineNotJSON},
		{"two objects", end + end, lineNotJSON},
		{"array", `[` + end + `]`, lineNotJSON},
		{"no event", `{"level":"info","msg":"request finished","scanned":3}`, lineOther},
		{"another event", `{"event":"key_decided","run":"r1"}`, lineOther},
		{"event not a string", `{"event":3,"run":"r1"}`, lineOther},
		{"outside a run", `{"event":"link_end","run":"","target":"t","link":1,"state":"done"}`, lineOther},
		{"no run field", `{"event":"fanout","targets":2}`, lineOther},
		{"fanout", `{"event":"fanout","run":"r1","targets":2,"dispatched":2,"failed":0,"dry_run":true,"trigger":"timer"}`, lineUsed},
		{"link as a string", `{"event":"link_start","run":"r1","target":"t","link":"2"}`, lineMalformed},
		{"link 0", `{"event":"link_start","run":"r1","target":"t","link":0}`, lineMalformed},
		{"end without state", `{"event":"link_end","run":"r1","target":"t","link":1}`, lineMalformed},
		{"dispatch without ok", `{"event":"dispatch","run":"r1","target":"t","link":1,"kind":"fanout"}`, lineMalformed},
		{"start without target", `{"event":"link_start","run":"r1","link":1}`, lineMalformed},
		{"target_error without target", `{"event":"target_error","run":"r1","target":"","error":"bad target"}`, lineUsed},
		{"totals of the wrong shape", `{"event":"link_end","run":"r1","target":"t","link":1,"state":"done","totals":[1]}`, lineMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, got := parseRunLine([]byte(tc.line)); got != tc.want {
				t.Errorf("class %d, want %d", got, tc.want)
			}
		})
	}
}

// TestRunsLongLines: a line past maxLogLine is skipped and counted, and
// the lines after it are read.
func TestRunsLongLines(t *testing.T) {
	start := `{"event":"link_start","run":"r1","target":"t","link":1,"request_id":"q","time":"2026-12-07T10:00:00Z"}`
	end := `{"event":"link_end","run":"r1","target":"t","link":1,"request_id":"q","state":"done","totals":{"scanned":4},"time":"2026-12-07T10:01:00Z"}`
	long := `{"event":"link_start","run":"r1","pad":"` + strings.Repeat("x", 2*maxLogLine) + `"}`
	for _, tc := range []struct {
		name string
		in   string
	}{
		{"in the middle", start + "\n" + long + "\n" + end + "\n"},
		{"last, without a newline", start + "\n" + end + "\r\n" + long},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := readRuns(strings.NewReader(tc.in), "")
			if err != nil {
				t.Fatal(err)
			}
			if want := (lineCounts{Read: 3, Used: 2, TooLong: 1}); rep.Lines != want {
				t.Errorf("lines %+v, want %+v", rep.Lines, want)
			}
			if len(rep.Runs) != 1 || rep.Runs[0].Status != statusComplete || rep.Runs[0].Totals.Scanned != 4 {
				t.Errorf("runs %+v, want r1 complete with 4 keys scanned", rep.Runs)
			}
		})
	}
}

// TestRunsMemoryBounded: what a link keeps does not grow with the lines
// that tell of it, however many deliveries they log.
func TestRunsMemoryBounded(t *testing.T) {
	acc := runsAcc{runs: map[string]*runAcc{}}
	for i := range 2000 {
		for _, state := range []string{"continued", "duplicate", "refused"} {
			acc.add(fmt.Appendf(nil, `{"event":"link_end","run":"r1","target":"t","link":1,"request_id":"q%d","state":%q,"scanned":1}`, i, state))
		}
		acc.add(fmt.Appendf(nil, `{"event":"link_start","run":"r1","target":"t","link":1,"request_id":"q%d","dry_run":%t}`, i, i%2 == 0))
	}
	l := acc.runs["r1"].targets["t"].links[1]
	if len(l.workers) > maxForkIDs || !l.moreWorkers || l.duplicates != 2000 {
		t.Errorf("link keeps %d request ids (more: %t), %d duplicates; want at most %d ids, more, 2000 duplicates",
			len(l.workers), l.moreWorkers, l.duplicates, maxForkIDs)
	}
	v := acc.report().Runs[0]
	if got := v.Targets[0].Totals.Scanned; got != 1 {
		t.Errorf("link 1 counted %d keys, want 1: a link counts once however often it is delivered", got)
	}
	// The link_start lines' dry_run says nothing of the run (a refused
	// replay logs one too): only the fork is warned of.
	if len(v.Warnings) != 1 || !strings.Contains(v.Warnings[0].Message, "3 or more requests") {
		t.Errorf("warnings %+v, want a fork of 3 or more requests", v.Warnings)
	}
}

// FuzzReadRuns: any input is read without a panic, every line is counted
// once, and every run has a status.
func FuzzReadRuns(f *testing.F) {
	for _, name := range []string{"complete", "incomplete", "forked", "interleaved"} {
		sc := bufio.NewScanner(strings.NewReader(runsFixture(f, name)))
		for sc.Scan() {
			f.Add(sc.Text())
		}
	}
	f.Add(`{"event":"link_end","run":"r","target":"t","link":9223372036854775807,"state":"continued"}` + "\n" +
		`{"event":"dispatch","run":"r","target":"t","link":1,"ok":false}`)
	f.Fuzz(func(t *testing.T, in string) {
		rep, err := readRuns(strings.NewReader(in), "")
		if err != nil {
			t.Fatal(err)
		}
		l := rep.Lines
		if l.Read != l.Used+l.NotJSON+l.Other+l.Malformed+l.TooLong {
			t.Errorf("lines %+v do not add up", l)
		}
		for _, r := range rep.Runs {
			switch r.Status {
			case statusComplete, statusRunning, statusIncomplete, statusInexact:
			default:
				t.Errorf("run %s: status %q", r.Run, r.Status)
			}
		}
		if err := writeRunsText(&bytes.Buffer{}, rep); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRunsDocsExample keeps the example of docs/cli.md true.
func TestRunsDocsExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	const intro = "`tagwarden runs --run r-20261207T020000Z-3d4e5f < cmd/tagwarden/testdata/runs/interleaved.jsonl`:\n\n```\n"
	_, after, ok := strings.Cut(string(doc), intro)
	want, _, ok2 := strings.Cut(after, "```\n")
	if !ok || !ok2 {
		t.Fatal("docs/cli.md: the runs example is gone")
	}
	r := cliIn(t, runsFixture(t, "interleaved"), nil, "runs", "--run", "r-20261207T020000Z-3d4e5f")
	r.expect(t, exitFound, nil, nil)
	if diff := cmp.Diff(want, r.stdout); diff != "" {
		t.Errorf("docs/cli.md's runs example differs from the output (-doc +output):\n%s", diff)
	}
}

func TestRunsHelp(t *testing.T) {
	r := cli(t, nil, "runs", "--help")
	r.expect(t, 0, []string{"Usage:", "Examples:", "tagwarden runs < logs.jsonl", "Exit status: 0"}, nil)
}

// TestRunsSameIDFork: a platform delivers an invocation again under the
// same request id; two link_end lines of one link with that id that both
// did work are a fork, and the run is inexact, not complete. The very same
// line logged twice is one end.
func TestRunsSameIDFork(t *testing.T) {
	line := func(link int, state string, scanned, changed int, ts string) string {
		return fmt.Sprintf(`{"event":"link_end","run":"r","target":"ap-southeast-1/p1","link":%d,"request_id":"req-%d","state":%q,"scanned":%d,"changed":%d,"time":%q,"totals":{"scanned":%d,"changed":%d}}`,
			link, link, state, scanned, changed, ts, scanned, changed)
	}
	on := func(l, instance string) string { return strings.Replace(l, "{", `{"instance":"`+instance+`",`, 1) }
	end1 := line(1, "done", 40, 26, "2026-12-07T10:00:01Z")
	refused := `{"event":"link_end","run":"r","target":"ap-southeast-1/p1","link":50,"request_id":"x","state":"refused","error":"link 50 of run \"r\" has no continuation","time":"2026-12-07T11:00:00Z"}`
	for _, tc := range []struct {
		name   string
		lines  []string
		status string
	}{
		{"two deliveries of one id", []string{end1, line(1, "done", 40, 14, "2026-12-07T10:00:02Z")}, statusInexact},
		{"one line logged twice", []string{end1, end1}, statusComplete},
		// Two instances served one delivery at the same second with the
		// same counts: their lines differ by the instance alone.
		{"the same line from two instances", []string{on(end1, "a1"), on(end1, "b2")}, statusInexact},
		{"a refused replay after the sweep was done", []string{end1, refused}, statusComplete},
		// A person passed the continuation of a stopped chain on by hand.
		{"resumed by hand after the chain's bound", []string{line(1, "chain_limit", 10, 10, "2026-12-07T10:00:01Z"),
			line(2, "done", 30, 30, "2026-12-07T10:05:00Z")}, statusComplete},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := readRuns(strings.NewReader(strings.Join(tc.lines, "\n")), "")
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Runs) != 1 || rep.Runs[0].Status != tc.status {
				t.Fatalf("runs %+v, want one run %s", rep.Runs, tc.status)
			}
		})
	}
}
