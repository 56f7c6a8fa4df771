package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/tagwarden/tagwarden/handler"
)

// Targets the verdicts check (docs/performance.md says why).
const (
	rateTarget   = 1.10 // sweep wall time within 10% of calls/N
	memTargetMiB = 64   // half of FunctionGraph's smallest instance
	// memFlatTarget bounds peak(largest)/peak(smallest) of the memory
	// measurement: a sweep holding every key would grow with the count.
	memFlatTarget = 1.5
	evalTarget    = 1e6 // rule evaluations per second per core
)

// windowTarget and windowThrottleTarget judge the sweep against the
// gateway's sliding window at exactly the adapter's rate: within 5% of
// calls/N, and fewer than 1% of the calls answered 429.
const (
	windowTarget         = 1.05
	windowThrottleTarget = 0.01
)

func verdicts(r Results) []Verdict {
	var v []Verdict
	for _, c := range r.Calls {
		v = append(v, Verdict{
			Target: fmt.Sprintf("calls at %d keys = lower bound", c.Keys),
			Got:    fmt.Sprintf("%d / %d = %.3f", c.Calls, c.LowerBound, c.Ratio),
			Met:    c.Calls == c.LowerBound,
		}, Verdict{
			Target: fmt.Sprintf("second sweep at %d keys writes nothing", c.Keys),
			Got:    fmt.Sprintf("%d writes", c.SecondWrites),
			Met:    c.SecondWrites == 0,
		})
	}
	for _, q := range r.Rate {
		v = append(v, Verdict{
			Target: fmt.Sprintf("rate-limited sweep (burst %d) within %.0f%% of calls/N", q.Burst, (rateTarget-1)*100),
			Got:    fmt.Sprintf("%.2fs / %.2fs = %.3f", q.WallSeconds, q.BoundSeconds, q.Ratio),
			Met:    q.Ratio <= rateTarget,
		})
		v = append(v, Verdict{
			Target: fmt.Sprintf("burst %d: no throttled call surfaces as a failure", q.Burst),
			Got:    fmt.Sprintf("%d answers 429, %d keys failed", q.Throttled, q.Failed),
			Met:    q.Failed == 0,
		})
	}
	for _, q := range r.Window {
		v = append(v, Verdict{
			Target: fmt.Sprintf("window gateway at %g/s: under %.0f%% of the calls answered 429", q.RateLimit, windowThrottleTarget*100),
			Got:    fmt.Sprintf("%d / %d = %.2f%%", q.Throttled, q.Calls, q.ThrottledShare*100),
			Met:    q.ThrottledShare < windowThrottleTarget,
		}, Verdict{
			Target: fmt.Sprintf("window gateway at %g/s: sweep within %.0f%% of calls/N", q.RateLimit, (windowTarget-1)*100),
			Got:    fmt.Sprintf("%.2fs / %.2fs = %.3f", q.WallSeconds, q.BoundSeconds, q.Ratio),
			Met:    q.Ratio <= windowTarget,
		}, Verdict{
			Target: fmt.Sprintf("window gateway at %g/s: calls within the bound with snapshot re-reads", q.RateLimit),
			Got:    fmt.Sprintf("%d answered calls <= %d (lower bound %d + one re-read per key to change, %d)", q.Calls-q.Throttled, q.SnapshotBound, q.LowerBound, q.NonCompliant),
			Met:    q.Calls-q.Throttled <= q.SnapshotBound,
		}, Verdict{
			Target: fmt.Sprintf("window gateway at %g/s: no key failed", q.RateLimit),
			Got:    fmt.Sprintf("%d keys failed", q.Failed),
			Met:    q.Failed == 0,
		})
	}
	v = append(v, orgVerdicts(r.Org)...)
	v = append(v, outputsVerdicts(r.Outputs)...)
	// The rows at the run's mix, then those with every key compliant, each
	// by key count: the first shows the whole footprint, report included;
	// the second what the streaming of keys and tags itself holds.
	var mix, compliant []MemoryResult
	for _, m := range r.Memory {
		if m.NonCompliant == r.Memory[0].NonCompliant {
			mix = append(mix, m)
		} else if m.NonCompliant == 0 {
			compliant = append(compliant, m)
		}
	}
	if n := len(mix); n > 0 {
		big := mix[n-1]
		v = append(v, Verdict{
			Target: fmt.Sprintf("peak heap of a %d-key sweep (%.0f%% non-compliant) < %d MiB", big.Keys, big.NonCompliant*100, memTargetMiB),
			Got:    fmt.Sprintf("%.1f MiB", big.PeakMiB),
			Met:    big.PeakMiB < memTargetMiB,
		})
	}
	v = append(v, flatVerdict(mix)...)
	v = append(v, flatVerdict(compliant)...)
	for _, e := range r.Eval {
		v = append(v, Verdict{
			Target: fmt.Sprintf("policy evaluation (%s) >= 1M rule evaluations/s per core", e.Set),
			Got:    fmt.Sprintf("%.2fM", e.RulesPerSec/1e6),
			Met:    e.RulesPerSec >= evalTarget,
		})
	}
	return v
}

// flatVerdict judges whether the peak heap of the rows (one mix, by key
// count) stays flat from the smallest count to the largest.
func flatVerdict(rows []MemoryResult) []Verdict {
	n := len(rows)
	if n < 2 {
		return nil
	}
	small, big := rows[0], rows[n-1]
	ratio := big.PeakMiB / small.PeakMiB
	slope := (big.PeakMiB - small.PeakMiB) / float64(big.Keys-small.Keys) * 1000
	got := fmt.Sprintf("%.1f / %.1f MiB = %.2fx for %.0fx the keys (%+.3f MiB per 1000 keys", big.PeakMiB, small.PeakMiB,
		ratio, float64(big.Keys)/float64(small.Keys), slope)
	if slope > 0 {
		got += fmt.Sprintf("; %d MiB at about %.0fk keys", memTargetMiB, (float64(small.Keys)+(memTargetMiB-small.PeakMiB)/slope*1000)/1000)
	}
	what := fmt.Sprintf("%.0f%% non-compliant, report included", small.NonCompliant*100)
	if small.NonCompliant == 0 {
		what = "every key compliant, no report entries"
	}
	return []Verdict{{
		Target: fmt.Sprintf("flat (%s): peak at %d keys <= %.1fx peak at %d", what, big.Keys, memFlatTarget, small.Keys),
		Got:    got + ")",
		Met:    ratio <= memFlatTarget,
	}}
}

// printTable writes the results as aligned tables.
func printTable(w io.Writer, r Results) {
	fmt.Fprintf(w, "tagwarden-bench: %s %s, %d CPUs, concurrency %d, %.1fs\n", r.Go, r.OS, r.CPUs, r.Concurrent, r.Seconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	section := func(title, header string) {
		tw.Flush()
		fmt.Fprintf(w, "\n%s\n", title)
		fmt.Fprintln(tw, header)
	}
	if len(r.Calls) > 0 {
		section("API calls per sweep (lower bound = the ListKeys call that counts the keys + bulk tag pages + one write per batch; list pages: what ListKeys alone would read)",
			"keys\tnon-compliant\tlist pages\tbulk pages\twrites\tlower bound\tcalls\tcalls/bound\tnaive\tnaive/calls\t2nd sweep calls\t2nd writes\tsweep s\t")
		for _, c := range r.Calls {
			naive := fmt.Sprint(c.Naive)
			if !c.NaiveMeasured {
				naive += " (computed)"
			}
			fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.3f\t%s\t%.1fx\t%d\t%d\t%.2f\t\n", c.Keys, c.NonCompliant, c.ListPages, c.BulkPages,
				c.Batches, c.LowerBound, c.Calls, c.Ratio, naive, c.NaiveRatio, c.SecondSweep, c.SecondWrites, c.Seconds)
		}
	}
	if len(r.Rate) > 0 {
		section("Sweep under a rate limit (emulator token bucket of N per second, adapter pacer at the same N)",
			"keys\tN rps\tburst\tlatency ms\tcalls\tcalls/N s\twall s\twall/(calls/N)\tlower bound\twall/(bound/N)\t429s\tfailed\t")
		for _, q := range r.Rate {
			fmt.Fprintf(tw, "%d\t%g\t%d\t%g\t%d\t%.2f\t%.2f\t%.3f\t%d\t%.3f\t%d\t%d\t\n", q.Keys, q.RateLimit, q.Burst, q.LatencyMS, q.Calls,
				q.BoundSeconds, q.WallSeconds, q.Ratio, q.LowerBound, q.LowerRatio, q.Throttled, q.Failed)
		}
	}
	if len(r.Window) > 0 {
		section("Sweep against the gateway's count (emulator: N calls in any sliding second, the live gateway's rule; adapter: huaweikms.NewPacer(N))",
			"keys\tN rps\tlatency ms\tcalls\tlower bound\tre-reads\tbound with re-reads\t429s\t429 share\ttarget\tcalls/N s\twall s\twall/(calls/N)\ttarget\tfailed\t")
		for _, q := range r.Window {
			fmt.Fprintf(tw, "%d\t%g\t%g\t%d\t%d\t%d\t%d\t%d\t%.2f%%\t< %.0f%%\t%.2f\t%.2f\t%.3f\t<= %.2f\t%d\t\n", q.Keys, q.RateLimit, q.LatencyMS, q.Calls, q.LowerBound,
				q.Rereads, q.SnapshotBound, q.Throttled, q.ThrottledShare*100, windowThrottleTarget*100, q.BoundSeconds, q.WallSeconds, q.Ratio, windowTarget, q.Failed)
		}
	}
	if r.Org != nil {
		printOrg(w, tw, section, r.Org)
	}
	if r.Outputs != nil {
		printOutputs(w, tw, section, r.Outputs)
	}
	if len(r.Memory) > 0 {
		section("Heap of the sweeping process (emulator in a child process)",
			"keys\tnon-compliant\tbaseline MiB\tpeak heap MiB\tpeak live MiB\tpeak-baseline MiB\tpeak RSS MiB\talloc B/key\tGCs\tsamples\tsweep s\t")
		for _, m := range r.Memory {
			fmt.Fprintf(tw, "%d\t%.0f%%\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.0f\t%d\t%d\t%.2f\t\n", m.Keys, m.NonCompliant*100, m.BaselineMiB, m.PeakMiB, m.PeakLiveMiB, m.PeakOverBaselineMiB,
				m.PeakRSSMiB, m.AllocPerKeyB, m.GCs, m.Samples, m.Seconds)
		}
	}
	if l := r.Lambda; l != nil {
		section("Under the Lambda runtime interface emulator ("+l.Build+")",
			"function\tbinary MiB\tzip MiB\tcold ms (median)\twarm ms (mean)\t")
		fmt.Fprintf(tw, "tagwarden\t%.1f\t%.1f\t%.1f\t%.2f\t\n", l.BinaryMiB, l.ZipMiB, l.ColdMS, l.WarmMS)
		fmt.Fprintf(tw, "empty echo\t%.1f\t\t%.1f\t%.2f\t\n", l.EchoBinaryMiB, l.EchoColdMS, l.EchoWarmMS)
		fmt.Fprintf(tw, "ratio\t%.1fx\t\t%.2fx\t%.2fx\t\n", l.BinaryMiB/l.EchoBinaryMiB, l.ColdRatio, l.WarmRatio)
		tw.Flush()
		fmt.Fprintf(w, "warm dry-run sweep of %d keys: %.0f ms\n", l.SweepKeys, l.WarmSweepMS)
	}
	if len(r.Eval) > 0 {
		section("Policy evaluation (shipped policies; a rule evaluation is a rule check the engine counts)",
			"keys\tpolicies\trules\trule evals/key\tkeys/s (1 core)\trule evals/s (1 core)\tper core, all cores busy\t")
		for _, e := range r.Eval {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.0f\t%.2fM\t%.2fM\t\n", e.Set, e.Policies, e.Rules, e.RulesPerKey, e.KeysPerSec, e.RulesPerSec/1e6, e.ParallelPerCore/1e6)
		}
	}
	tw.Flush()
	if len(r.Verdicts) > 0 {
		fmt.Fprintln(w, "\nTargets")
		vw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, v := range r.Verdicts {
			mark := "met"
			if !v.Met {
				mark = "MISSED"
			}
			fmt.Fprintf(vw, "  %s\t%s\t%s\n", mark, v.Target, v.Got)
		}
		vw.Flush()
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "\nErrors\n  %s\n", strings.Join(r.Errors, "\n  "))
	}
}

// orgVerdicts judges the organisation measurement.
func orgVerdicts(o *OrgResult) []Verdict {
	if o == nil {
		return nil
	}
	var v []Verdict
	if s := o.Sweep; s != nil {
		v = append(v, Verdict{
			Target: fmt.Sprintf("sweep of %d targets fanned out (%d keys each, %g/s per target) within %.2fx the slowest target's calls/N", len(s.Targets), s.KeysPerTarget, s.RateLimit, orgSweepTarget),
			Got:    fmt.Sprintf("%.2fs / %.2fs = %.3f (sum of the targets' calls/N %.2fs: %.3f)", s.WallSeconds, s.MaxBoundSeconds, s.Ratio, s.SumBoundSeconds, s.SumRatio),
			Met:    s.Ratio <= orgSweepTarget,
		}, Verdict{
			Target: "fanned-out sweep: every target done, each key decided once, writes as planned, no key failed",
			Got:    firstProblem(s.Problems, fmt.Sprintf("%d targets done, %d keys failed, %d answers 429", len(s.Targets), s.Failed, s.Throttled)),
			Met:    len(s.Problems) == 0 && s.Failed == 0,
		})
	}
	if c := o.Chain; c != nil {
		v = append(v, Verdict{
			Target: fmt.Sprintf("%d-key sweep (about %d calls an invocation) finishes by itself", c.Keys, c.CallsPerLink),
			Got:    fmt.Sprintf("%d links (%d cut by the deadline, %d by the report), the last %s", c.Links, c.CutByDeadline, c.CutByReport, c.LastState),
			Met:    c.LastState == handler.ChainDone,
		}, Verdict{
			Target: fmt.Sprintf("%d-key chain: every key decided exactly once, writes as planned", c.Keys),
			Got: firstProblem(c.Problems, fmt.Sprintf("%d once, %d twice, %d never; %d writes, %d planned, %d keys otherwise; totals %d scanned",
				c.Decided, c.DecidedTwice, c.Undecided, c.Writes, c.Batches, c.WritesOff, c.TotalsScanned)),
			Met: c.Decided == c.Keys && c.DecidedTwice == 0 && c.Undecided == 0 && c.WritesOff == 0 && c.TotalsScanned == c.Keys && len(c.Problems) == 0,
		}, Verdict{
			Target: fmt.Sprintf("%d-key chain: calls <= lower bound + one listing page per link", c.Keys),
			Got: fmt.Sprintf("%d / %d = %.4f (lower bound %d + %d links; %d listing calls over the bound's pages, %d re-reads, %d answers 429)",
				c.Calls, c.Bound, c.Ratio, c.LowerBound, c.Links, c.ExtraListing, c.Rereads, c.Throttled),
			Met: c.Calls <= c.Bound,
		})
	}
	if f := o.Fanout; f != nil {
		v = append(v, Verdict{
			Target: fmt.Sprintf("fan-out of %d targets through the FunctionGraph SDK under %.0fs", f.Targets, f.BoundSeconds),
			Got: firstProblem(f.Problems, fmt.Sprintf("%.3fs / %.0fs = %.3f (slowest of %d; %d of %d invocations accepted)",
				f.MaxSeconds, f.BoundSeconds, f.Ratio, len(f.MS), f.Accepted, f.Targets*len(f.MS))),
			Met: f.MaxSeconds < f.BoundSeconds && len(f.Problems) == 0,
		})
	}
	return v
}

// firstProblem is the first of problems, with how many more, or else ok.
func firstProblem(problems []string, ok string) string {
	switch len(problems) {
	case 0:
		return ok
	case 1:
		return problems[0]
	}
	return fmt.Sprintf("%s (and %d more)", problems[0], len(problems)-1)
}

// printOrg writes the organisation measurement's tables.
func printOrg(w io.Writer, tw *tabwriter.Writer, section func(title, header string), o *OrgResult) {
	if s := o.Sweep; s != nil {
		section(fmt.Sprintf("Sweep of %d targets fanned out through the pipeline (asynchronous invocations looped back), N = %g req/s per target, %g ms latency; gateways %s",
			len(s.Targets), s.RateLimit, s.LatencyMS, s.Gateways),
			"target\temulator\tkeys\tlower bound\tcalls\t429s\tcalls/N s\tdone s\tlinks\tscanned\tchanged\tfailed\t")
		for _, t := range s.Targets {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%.2f\t%.2f\t%d\t%d\t%d\t%d\t\n", t.Target, t.Emulator, t.Keys, t.LowerBound, t.Calls, t.Throttled,
				t.BoundSeconds, t.DoneSeconds, t.Links, t.Scanned, t.Changed, t.Failed)
		}
		tw.Flush()
		fmt.Fprintf(w, "fan-out %.1f ms; dispatch to the last link's end %.2f s; slowest target's calls/N %.2f s: %.3f (target <= %.2f); sum of the targets' calls/N %.2f s: %.3f\n",
			s.FanoutMS, s.WallSeconds, s.MaxBoundSeconds, s.Ratio, orgSweepTarget, s.SumBoundSeconds, s.SumRatio)
	}
	if c := o.Chain; c != nil {
		section(fmt.Sprintf("Sweep continuing itself (one target, N = %g req/s, %g ms latency; each invocation %.2f s with a %.2f s margin: about %d calls)",
			c.RateLimit, c.LatencyMS, c.TimeoutSeconds, c.MarginSeconds, c.CallsPerLink),
			"keys\tnon-compliant\tlinks\tcut by deadline\tcalls/link\tlower bound\tbound (+1 page a link)\tcalls\tcalls/bound\textra listing\tre-reads\t429s\tdecided once\twrites\tplanned\twall s\tcalls/N s\tlast link\t")
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%.0f\t%d\t%d\t%d\t%.4f\t%d\t%d\t%d\t%d\t%d\t%d\t%.2f\t%.2f\t%s\t\n", c.Keys, c.NonCompliant, c.Links, c.CutByDeadline,
			float64(c.Calls)/float64(max(1, c.Links)), c.LowerBound, c.Bound, c.Calls, c.Ratio, c.ExtraListing, c.Rereads, c.Throttled, c.Decided, c.Writes, c.Batches,
			c.WallSeconds, c.BoundSeconds, c.LastState)
		section("Its links (the calls its emulator answered while each ran)",
			"link\tbulk pages\tListKeys pages\twrites\tre-reads\tscanned\ts\tcut by\t")
		for _, l := range c.PerLink {
			fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%.2f\t%s\t\n", l.Link, l.Bulk, l.ListKeys, l.Writes, l.Rereads, l.Scanned, l.Seconds, l.Cut)
		}
	}
	if f := o.Fanout; f != nil {
		section("Fan-out through the FunctionGraph dispatcher (SDK AsyncInvokeFunction over HTTP to the local asynchronous endpoint)",
			"targets\tfan-outs\teach ms\tslowest s\tbound s\tslowest/bound\taccepted\t")
		ms := make([]string, len(f.MS))
		for i, m := range f.MS {
			ms[i] = fmt.Sprintf("%.0f", m)
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%.3f\t%.0f\t%.3f\t%d\t\n", f.Targets, len(f.MS), strings.Join(ms, ", "), f.MaxSeconds, f.BoundSeconds, f.Ratio, f.Accepted)
	}
}
