package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
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
		section("API calls per sweep (lower bound = ListKeys pages + bulk tag pages + one write per batch)",
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
