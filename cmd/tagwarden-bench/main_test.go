package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestMain lets the test binary serve as the child emulator process of the
// memory measurements (they run os.Executable with -serve-emulator or
// -serve-outputs).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == "-serve-emulator" || os.Args[1] == "-serve-outputs") {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// benchJSON runs the command with args and -json and decodes its output.
func benchJSON(t *testing.T, args ...string) Results {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append(args, "-json"), strings.NewReader(""), &out, &errOut)
	var res Results
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("decode the JSON output: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	if code != 0 || len(res.Errors) > 0 {
		t.Fatalf("exit %d, errors %q\n%s", code, res.Errors, errOut.String())
	}
	return res
}

func TestBenchSmoke(t *testing.T) {
	start := time.Now()
	res := benchJSON(t, "-only", "calls,rate,window,memory,eval", "-keys", "200,1200", "-memory-keys", "200,400",
		"-rate-keys", "200", "-rate", "400", "-rate-burst", "5", "-rate-latency", "1ms", "-eval-duration", "50ms",
		"-window-rates", "100", "-window-keys", "200")
	t.Logf("smoke run in %s", time.Since(start))

	if len(res.Calls) != 2 {
		t.Fatalf("got %d calls results, want 2", len(res.Calls))
	}
	for _, c := range res.Calls {
		// 200 keys: one page of each listing; 1200: two.
		pages := (c.Keys + 999) / 1000
		if c.NonCompliant != c.Keys/10 || c.ListPages != pages || c.BulkPages != pages || c.Batches < c.NonCompliant {
			t.Errorf("%d keys: bound parts %+v, want %d non-compliant and %d pages of each listing", c.Keys, c, c.Keys/10, pages)
		}
		if c.Calls != c.LowerBound || c.Ratio != 1 {
			t.Errorf("%d keys: %d calls, want the lower bound %d", c.Keys, c.Calls, c.LowerBound)
		}
		if !c.NaiveMeasured || c.Naive != c.ListPages+c.Keys+c.Batches {
			t.Errorf("%d keys: naive baseline %d (measured %t), want %d", c.Keys, c.Naive, c.NaiveMeasured, c.ListPages+c.Keys+c.Batches)
		}
		if c.SecondWrites != 0 || c.SecondSweep != sweepListKeys+c.BulkPages {
			t.Errorf("%d keys: second sweep made %d calls, %d writes; want %d, 0", c.Keys, c.SecondSweep, c.SecondWrites, sweepListKeys+c.BulkPages)
		}
	}
	if len(res.Rate) != 1 {
		t.Fatalf("got %d rate results, want 1", len(res.Rate))
	}
	if q := res.Rate[0]; q.Failed != 0 || q.LowerBound != res.Calls[0].LowerBound || q.Calls < q.LowerBound || q.WallSeconds < 0.9*q.BoundSeconds {
		t.Errorf("rate-limited sweep %+v: want no failure, at least the lower bound's calls, and no faster than calls/N", q)
	}
	if len(res.Window) != 1 {
		t.Fatalf("got %d window results, want 1", len(res.Window))
	}
	// 200 keys are about 24 calls: a quarter of a window at 100 per second,
	// so no call may be throttled.
	if q := res.Window[0]; q.Failed != 0 || q.Throttled != 0 || q.ThrottledShare != 0 || q.WindowLimit != 100 || q.WindowSeconds != 1 ||
		q.Calls < q.LowerBound || q.LowerBound != res.Calls[0].LowerBound || q.WallSeconds < 0.9*q.BoundSeconds ||
		q.Ratio != q.WallSeconds/q.BoundSeconds || !strings.Contains(q.Pacer, "at most 100 in any 1.02s") ||
		q.SnapshotBound != q.LowerBound+q.NonCompliant || q.Calls > q.SnapshotBound || q.Rereads != q.ByAPI["show-tags"] {
		t.Errorf("window sweep %+v: want no failure and no 429, the window at the rate, the calls between the lower bound and the bound with re-reads, no faster than calls/N", q)
	}
	var mem []string
	for _, m := range res.Memory {
		mem = append(mem, fmt.Sprintf("%d@%g", m.Keys, m.NonCompliant))
	}
	if want := []string{"200@0.1", "400@0.1", "200@0", "400@0"}; !cmp.Equal(mem, want) {
		t.Fatalf("got memory runs %v, want %v", mem, want)
	}
	for _, m := range res.Memory {
		if m.PeakMiB <= 0 || m.PeakMiB >= memTargetMiB || m.PeakLiveMiB <= 0 || m.PeakLiveMiB > m.PeakMiB || m.Samples < 1 || m.AllocPerKeyB <= 0 {
			t.Errorf("memory at %d keys: %+v", m.Keys, m)
		}
	}
	if len(res.Eval) != 2 {
		t.Fatalf("got %d eval results, want 2", len(res.Eval))
	}
	// Keys with changes to plan take more rule checks (a second round).
	if res.Eval[1].RulesPerKey <= res.Eval[0].RulesPerKey {
		t.Errorf("rule checks per key: %.2f with every key non-compliant, %.2f with 10%%; want more", res.Eval[1].RulesPerKey, res.Eval[0].RulesPerKey)
	}
	for _, e := range res.Eval {
		if e.Policies < 5 || e.Rules < e.Policies || e.RulesPerSec <= 0 || e.ParallelPerCore <= 0 || e.RulesPerKey <= 0 {
			t.Errorf("eval %+v", e)
		}
	}
	// Every target has its verdict: 2 per calls size, 2 per rate run, 4 per
	// window run, the heap budget, flatness at the mix and when compliant,
	// 1 per eval set.
	if got, want := len(res.Verdicts), 2*2+2*1+4*1+3+2; got != want {
		t.Errorf("got %d verdicts, want %d: %+v", got, want, res.Verdicts)
	}
}

// TestBenchOrg runs the organisation measurement at a few hundred keys a
// target, a chain of 1,000 keys cut every 300 calls, and a
// fan-out of 20 targets, and checks the figures: every target's sweep done
// with each key decided once, no faster than its calls/N; the chain
// finishing by itself, link after link, every key decided once and written
// as planned; every dispatch of the fan-outs accepted.
func TestBenchOrg(t *testing.T) {
	start := time.Now()
	res := benchJSON(t, "-only", "org", "-org-keys", "300", "-org-rate", "400", "-org-latency", "1ms",
		"-org-chain-keys", "1000", "-org-chain-rate", "300", "-org-chain-calls", "300", "-org-chain-margin", "200ms",
		"-org-fanout", "20", "-org-fanout-runs", "2")
	t.Logf("org run in %s", time.Since(start))
	o := res.Org
	if o == nil || o.Sweep == nil || o.Chain == nil || o.Fanout == nil {
		t.Fatalf("org results %+v: want the three parts", o)
	}

	s := o.Sweep
	if len(s.Targets) != 3 || len(s.Problems) != 0 || s.Failed != 0 {
		t.Fatalf("fanned-out sweep %+v: want 3 targets, no problem, no failure", s)
	}
	var sum, slowest float64
	for _, tr := range s.Targets {
		if tr.Keys != 300 || tr.Scanned != 300 || tr.Changed != 30 || tr.Links < 1 || tr.Calls < tr.LowerBound ||
			tr.BoundSeconds != float64(tr.Calls)/400 || tr.DoneSeconds > s.WallSeconds || tr.DoneSeconds < 0.9*tr.BoundSeconds {
			t.Errorf("target %+v: want 300 keys scanned, 30 changed, the lower bound's calls, done no sooner than calls/N", tr)
		}
		sum += tr.BoundSeconds
		slowest = max(slowest, tr.BoundSeconds)
	}
	if s.MaxBoundSeconds != slowest || s.SumBoundSeconds != sum || s.Ratio != s.WallSeconds/slowest || s.SumRatio != s.WallSeconds/sum ||
		s.SumRatio >= s.Ratio || s.FanoutMS <= 0 || !strings.Contains(s.Gateways, "A: 2 projects, 800 calls") {
		t.Errorf("fanned-out sweep %+v: bounds, ratios or gateways wrong", s)
	}

	c := o.Chain
	if c.LastState != "done" || c.Links < 2 || c.CutByDeadline != c.Links-1 || c.CutByReport != 0 || len(c.Problems) != 0 {
		t.Errorf("chain: %d links (%d cut by the deadline, %d by the report), last %q, problems %q; want several links cut by the deadline, the last done",
			c.Links, c.CutByDeadline, c.CutByReport, c.LastState, c.Problems)
	}
	if c.Decided != 1000 || c.DecidedTwice != 0 || c.Undecided != 0 || c.NonCompliant != 500 || c.Writes != c.Batches || c.WritesOff != 0 ||
		c.TotalsScanned != 1000 || c.TotalsChanged != 500 || c.TotalsFailed != 0 {
		t.Errorf("chain %+v: want every key decided once, half of them written as planned", c)
	}
	if c.LowerBound != 2+c.Batches || c.Bound != c.LowerBound+c.Links || c.Calls < c.LowerBound || c.Calls != total(c.ByAPI) ||
		c.Ratio != float64(c.Calls)/float64(c.Bound) || c.ExtraListing != c.ByAPI["list-keys"]+c.ByAPI["resource-instances"]-2 {
		t.Errorf("chain %+v: bound parts wrong", c)
	}
	var writes, scanned int
	for i, l := range c.PerLink {
		writes += l.Writes
		scanned += l.Scanned
		if l.Link != i+1 || (i < len(c.PerLink)-1) != (l.Cut == "deadline") {
			t.Errorf("link %+v at %d", l, i)
		}
	}
	if len(c.PerLink) != c.Links || writes != c.Writes || scanned != 1000 {
		t.Errorf("links %+v: want %d, with %d writes and 1000 keys in all", c.PerLink, c.Links, c.Writes)
	}

	f := o.Fanout
	if f.Targets != 20 || len(f.MS) != 2 || f.Dispatched != 40 || f.Accepted != 40 || len(f.Problems) != 0 ||
		f.MaxSeconds >= f.BoundSeconds || f.BoundSeconds != 2 || f.Ratio != f.MaxSeconds/2 {
		t.Errorf("fan-out %+v: want 2 fan-outs of 20 targets, each dispatched and accepted, under 2 s", f)
	}

	// Two verdicts per part, three for the chain; those on what must hold
	// whatever the machine are met.
	if len(res.Verdicts) != 6 {
		t.Fatalf("got %d verdicts, want 6: %+v", len(res.Verdicts), res.Verdicts)
	}
	for _, i := range []int{1, 2, 3, 5} {
		if !res.Verdicts[i].Met {
			t.Errorf("verdict %+v not met", res.Verdicts[i])
		}
	}
}

// TestBenchOutputs runs the outputs measurement at a few hundred keys
// (about four seconds) and checks what must hold on any machine: the
// output calls of a run are the design's handful whatever the key count,
// a chained run's links each store their report and the end reads them
// back, every output is sent, the heap stays under 64 MiB, and a
// notification too long for SMN is cut to its limit and accepted.
func TestBenchOutputs(t *testing.T) {
	res := benchJSON(t, "-only", "outputs", "-outputs-keys", "100,400", "-outputs-chain-keys", "1000", "-outputs-chain-report-keys", "150",
		"-outputs-memory-keys", "3000", "-outputs-person", "0.3", "-outputs-notify-keys", "1300")
	o := res.Outputs
	if o == nil || len(o.Calls) != 4 || o.Chain == nil || len(o.Memory) != 4 || o.Notify == nil {
		t.Fatalf("outputs result %+v", o)
	}
	for _, c := range o.Calls {
		if c.Links != 1 || c.Services != c.Expected || len(c.Problems) > 0 {
			t.Errorf("%d keys, run %d: %d links, calls %s, want %s; problems %q", c.Keys, c.Run, c.Links, c.Services, c.Expected, c.Problems)
		}
		if want := expectedCalls(1, c.Run > 1, c.Run == 1); c.Expected != want {
			t.Errorf("%d keys, run %d: expected %s, want %s (a first run notifies the sample's findings, the next has none due)", c.Keys, c.Run, c.Expected, want)
		}
	}
	if o.Calls[0].Services != o.Calls[2].Services || o.Calls[1].Services != o.Calls[3].Services {
		t.Errorf("calls grow with the keys: %+v", o.Calls)
	}
	c := o.Chain
	if len(c.Links) < 3 || c.Run.Services != c.Run.Expected || len(c.Run.Problems) > 0 {
		t.Errorf("chained run: %d links, calls %s, want %s; problems %q", len(c.Links), c.Run.Services, c.Run.Expected, c.Run.Problems)
	}
	for i, l := range c.Links {
		if l.Calls != c.Expected[i] {
			t.Errorf("chained run, link %d: calls %s, want %s", l.Link, l.Calls, c.Expected[i])
		}
	}
	for _, m := range o.Memory {
		if len(m.Problems) > 0 || m.PeakMiB <= 0 || m.PeakMiB >= memTargetMiB || m.NeedPerson < 900 || m.NeedPerson > 903 {
			t.Errorf("memory %+v", m)
		}
		if m.Outputs && (m.Objects == 0 || m.Calls != expectedCalls(m.Links, m.Run > 1, m.Calls.SMN > 0)) {
			t.Errorf("memory with outputs: %d objects stored, calls %s", m.Objects, m.Calls)
		}
	}
	n := o.Notify
	if n.NeedPerson != 1300 || !n.Accepted || n.BodyBytes > n.Limit || n.MoreKeys == 0 || n.ListedKeys+n.MoreKeys != 1300 || len(n.Problems) > 0 {
		t.Errorf("notification %+v", n)
	}
	for _, v := range res.Verdicts {
		if !v.Met {
			t.Errorf("missed: %s: %s", v.Target, v.Got)
		}
	}
}

// TestBenchLambda runs the lambda measurement once, quickly. It builds the
// function zip and installs the runtime interface emulator when missing,
// so it runs only with TAGWARDEN_BENCH_LAMBDA=1 (cmd/bootstrap's tests
// cover the function under the emulator in every run).
func TestBenchLambda(t *testing.T) {
	if os.Getenv("TAGWARDEN_BENCH_LAMBDA") != "1" || testing.Short() {
		t.Skip("set TAGWARDEN_BENCH_LAMBDA=1 to build the function and time it under the Lambda runtime interface emulator")
	}
	res := benchJSON(t, "-only", "lambda", "-lambda-starts", "1", "-lambda-warm", "2", "-lambda-keys", "50")
	l := res.Lambda
	if l == nil || l.BinaryMiB <= 0 || l.ZipMiB <= 0 || l.ZipMiB >= l.BinaryMiB || l.ColdMS <= 0 || l.WarmMS <= 0 || l.EchoColdMS <= 0 || l.WarmSweepMS <= 0 {
		t.Errorf("lambda %+v", l)
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "defaults"},
		{name: "suffixes", args: []string{"-keys", "1k,10K, 100_000"}},
		{name: "bad size", args: []string{"-keys", "1000,ten"}, wantErr: `-keys: "ten" is not a positive whole number`},
		{name: "too big", args: []string{"-keys", "11m"}, wantErr: `-keys: "11m" is more than 10000000`},
		{name: "zero size", args: []string{"-memory-keys", "0"}, wantErr: `-memory-keys: "0" is not a positive whole number`},
		{name: "unknown measurement", args: []string{"-only", "calls,speed"}, wantErr: `-only: unknown measurement "speed"`},
		{name: "bad ratio", args: []string{"-non-compliant", "1.5"}, wantErr: "-non-compliant: 1.5 is not a fraction"},
		{name: "bad rate", args: []string{"-rate", "0"}, wantErr: "-rate and -rate-keys must be positive"},
		{name: "bad burst", args: []string{"-rate-burst", "0"}, wantErr: `-rate-burst: "0" is not a positive whole number`},
		{name: "bad window rate", args: []string{"-window-rates", "20,x"}, wantErr: `-window-rates: "x" is not a positive whole number`},
		{name: "window keys for every rate", args: []string{"-window-rates", "20,50,100", "-window-keys", "1000,2000"}, wantErr: "-window-keys: 2 counts for 3 rates"},
		{name: "bad org rate", args: []string{"-org-rate", "0"}, wantErr: "-org-keys, -org-rate"},
		{name: "bad org chain mix", args: []string{"-org-chain-non-compliant", "1.5"}, wantErr: "-org-chain-non-compliant a fraction"},
		{name: "bad org margin", args: []string{"-org-chain-margin", "-1s"}, wantErr: "-org-chain-margin not negative"},
		{name: "bad outputs person", args: []string{"-outputs-person", "0.3,2"}, wantErr: `-outputs-person: "2" is not a fraction`},
		{name: "bad outputs chain", args: []string{"-outputs-chain-report-keys", "0"}, wantErr: "-outputs-chain-keys, -outputs-chain-report-keys"},
		{name: "bad concurrency", args: []string{"-concurrency", "0"}, wantErr: "-concurrency: want 1..64"},
		{name: "argument", args: []string{"extra"}, wantErr: `unexpected arguments ["extra"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(tt.args, io.Discard)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				if len(o.keys) != 3 || o.keys[2] != 100000 || len(o.only) != len(allMeasurements) {
					t.Errorf("got keys %v, only %v", o.keys, o.only)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want %q", err, tt.wantErr)
			}
			var out, errOut bytes.Buffer
			if code := run(context.Background(), tt.args, strings.NewReader(""), &out, &errOut); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
		})
	}
}

func TestGenKeys(t *testing.T) {
	for _, tt := range []struct {
		n     int
		ratio float64
		bad   int
	}{{1000, 0.1, 100}, {200, 0.1, 20}, {10, 0, 0}, {10, 1, 10}, {7, 0.5, 4}} {
		keys := genKeys(tt.n, tt.ratio)
		bad, ids := 0, map[string]bool{}
		for _, k := range keys {
			ids[k.id] = true
			if _, ok := k.tags["owner"]; !ok || k.tags["env"] == "PROD " || k.tags["env"] == "Production" || len(k.tags) != 3+btoi(k.tags["app"] != "") ||
				strings.HasPrefix(k.alias, "prod-") {
				bad++
			}
		}
		if bad != tt.bad || len(ids) != tt.n {
			t.Errorf("genKeys(%d, %v): %d non-compliant, %d distinct ids; want %d, %d", tt.n, tt.ratio, bad, len(ids), tt.bad, tt.n)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestTable checks the table against a golden file (go test -run TestTable -update).
func TestTable(t *testing.T) {
	res := Results{Go: "go1.26", OS: "linux/amd64", CPUs: 2, Concurrent: 4, Seconds: 12.5,
		Calls: []CallsResult{{Keys: 1000, NonCompliant: 100, ListPages: 1, BulkPages: 1, Batches: 120, LowerBound: 122,
			Calls: 122, Ratio: 1, Naive: 1121, NaiveMeasured: true, NaiveRatio: 9.19, SecondSweep: 2, Seconds: 0.04}},
		Rate: []RateResult{{Keys: 10000, RateLimit: 200, Burst: 10, LatencyMS: 5, Calls: 1220, BoundSeconds: 6.1, WallSeconds: 6.29, Ratio: 1.031, LowerBound: 1220, LowerRatio: 1.031},
			{Keys: 10000, RateLimit: 200, Burst: 1, LatencyMS: 5, Calls: 1471, BoundSeconds: 7.36, WallSeconds: 8.09, Ratio: 1.099, LowerBound: 1220, LowerRatio: 1.326, Throttled: 251}},
		Window: []WindowResult{{Keys: 1000, RateLimit: 20, WindowLimit: 20, WindowSeconds: 1, LatencyMS: 5, Calls: 139, LowerBound: 122, BoundSeconds: 6.95,
			Rereads: 17, NonCompliant: 100, SnapshotBound: 222, WallSeconds: 7.21, Ratio: 1.037}, {Keys: 5000, RateLimit: 100, WindowLimit: 100, WindowSeconds: 1, LatencyMS: 5, Calls: 612, LowerBound: 610,
			NonCompliant: 500, SnapshotBound: 1110, Throttled: 2, ThrottledShare: 2.0 / 612, BoundSeconds: 6.12, WallSeconds: 6.5, Ratio: 1.062}},
		Memory: []MemoryResult{{Keys: 10000, NonCompliant: 0.1, BaselineMiB: 0.4, PeakMiB: 6.6, PeakLiveMiB: 3.1, PeakOverBaselineMiB: 6.2, PeakRSSMiB: 25, AllocPerKeyB: 15000, GCs: 70, Samples: 180, Seconds: 0.4},
			{Keys: 100000, NonCompliant: 0.1, BaselineMiB: 0.5, PeakMiB: 22.4, PeakLiveMiB: 11.8, PeakOverBaselineMiB: 21.9, PeakRSSMiB: 50, AllocPerKeyB: 15000, GCs: 290, Samples: 1600, Seconds: 3.4},
			{Keys: 10000, BaselineMiB: 0.4, PeakMiB: 5.1, PeakLiveMiB: 2.2, PeakOverBaselineMiB: 4.7, PeakRSSMiB: 24, AllocPerKeyB: 13000, GCs: 60, Samples: 150, Seconds: 0.3},
			{Keys: 100000, BaselineMiB: 0.5, PeakMiB: 12.9, PeakLiveMiB: 6.3, PeakOverBaselineMiB: 12.4, PeakRSSMiB: 40, AllocPerKeyB: 13000, GCs: 340, Samples: 1200, Seconds: 2.6}},
		Org: &OrgResult{
			Sweep: &OrgSweepResult{KeysPerTarget: 10000, RateLimit: 100, LatencyMS: 5, Gateways: "A: 2 projects, 200 calls in any sliding second; B: 1 project, 100 calls in any sliding second",
				Targets: []OrgTargetResult{{Target: "ap-southeast-1/0a01", Emulator: "A", Keys: 10000, LowerBound: 1220, Calls: 1221, BoundSeconds: 12.21, DoneSeconds: 12.7, Links: 1, Scanned: 10000, Changed: 1000},
					{Target: "cn-north-4/0c03", Emulator: "B", Keys: 10000, LowerBound: 1220, Calls: 1220, BoundSeconds: 12.2, DoneSeconds: 12.68, Links: 1, Scanned: 10000, Changed: 1000}},
				FanoutMS: 1.8, WallSeconds: 12.71, MaxBoundSeconds: 12.21, SumBoundSeconds: 24.41, Ratio: 1.041, SumRatio: 0.521},
			Chain: &OrgChainResult{Keys: 50000, NonCompliant: 25000, RateLimit: 1000, TimeoutSeconds: 5.5, MarginSeconds: 0.5, CallsPerLink: 5000, MaxReportKeys: 10000,
				Links: 8, LastState: "done", CutByDeadline: 7, Decided: 50000, Writes: 30000, Batches: 30000, TotalsScanned: 50000, TotalsChanged: 25000,
				LowerBound: 30100, Bound: 30108, Calls: 30250, ExtraListing: 150, Ratio: 1.005, LowerRatio: 1.005, WallSeconds: 38.2, BoundSeconds: 30.25,
				PerLink: []OrgLink{{Link: 1, Bulk: 9, Writes: 4000, Scanned: 6700, Seconds: 5, Cut: "deadline"}, {Link: 2, Bulk: 60, ListKeys: 50, Writes: 300, Scanned: 500, Seconds: 1.2, Cut: "done"}}},
			Fanout: &OrgFanoutResult{Targets: 100, MS: []float64{21.4, 9.2, 8.8}, MaxSeconds: 0.0214, BoundSeconds: 2, Ratio: 0.0107, Dispatched: 300, Accepted: 300},
		},
		Lambda: &LambdaResult{Build: "go build", BinaryMiB: 12.1, ZipMiB: 4.8, ColdMS: 14.2, WarmMS: 1.1, WarmSweepMS: 30, SweepKeys: 1000,
			EchoBinaryMiB: 6, EchoColdMS: 10.1, EchoWarmMS: 0.51, ColdRatio: 1.41, WarmRatio: 2.16},
		Eval:   []EvalResult{{Set: "10% non-compliant", Policies: 5, Rules: 7, RulesPerKey: 4.2, KeysPerSec: 600000, RulesPerSec: 2.52e6, ParallelPerCore: 2e6, Cores: 2}},
		Errors: []string{"lambda: example failure"},
	}
	res.Verdicts = verdicts(res)
	var out bytes.Buffer
	printTable(&out, res)
	golden := filepath.Join("testdata", "table.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), out.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func FuzzParseInts(f *testing.F) {
	for _, s := range []string{"1000,10000,100000", "1k, 10K,100_000", "2m", "", ",", "0", "-5", "9999999999999999999", "1kk", "k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ns, err := parseInts(s)
		if err != nil {
			if ns != nil {
				t.Errorf("parseInts(%q) = %v with error %v", s, ns, err)
			}
			return
		}
		if len(ns) == 0 {
			t.Errorf("parseInts(%q) = no sizes and no error", s)
		}
		for _, n := range ns {
			if n <= 0 || n > maxKeys {
				t.Errorf("parseInts(%q) gave %d", s, n)
			}
		}
	})
}

// TestWindowFlags checks how -window-keys pairs with -window-rates.
func TestWindowFlags(t *testing.T) {
	tests := []struct {
		args        []string
		rates, keys []int
	}{
		{nil, []int{20, 100}, []int{1000, 5000}},
		{[]string{"-window-rates", "20,50,100", "-window-keys", "2k"}, []int{20, 50, 100}, []int{2000, 2000, 2000}},
		{[]string{"-window-rates", "10", "-window-keys", "300"}, []int{10}, []int{300}},
	}
	for _, tt := range tests {
		o, err := parseFlags(tt.args, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		if !cmp.Equal(o.windowRates, tt.rates) || !cmp.Equal(o.windowKeys, tt.keys) {
			t.Errorf("%q: got rates %v keys %v, want %v %v", tt.args, o.windowRates, o.windowKeys, tt.rates, tt.keys)
		}
	}
}
