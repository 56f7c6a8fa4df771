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
	for i, q := range r.Rate {
		if i == 0 {
			v = append(v, Verdict{
				Target: fmt.Sprintf("rate-limited sweep (burst %d) within %.0f%% of calls/N", q.Burst, (rateTarget-1)*100),
				Got:    fmt.Sprintf("%.2fs / %.2fs = %.3f", q.WallSeconds, q.BoundSeconds, q.Ratio),
				Met:    q.Ratio <= rateTarget,
			})
		}
		v = append(v, Verdict{
			Target: fmt.Sprintf("burst %d: no throttled call surfaces as a failure", q.Burst),
			Got:    fmt.Sprintf("%d answers 429, %d keys failed", q.Throttled, q.Failed),
			Met:    q.Failed == 0,
		})
	}
	var mem []MemoryResult // the rows at the run's mix, by key count
	for _, m := range r.Memory {
		if m.NonCompliant == r.Memory[0].NonCompliant {
			mem = append(mem, m)
		}
	}
	if n := len(mem); n > 0 {
		big := mem[n-1]
		v = append(v, Verdict{
			Target: fmt.Sprintf("peak heap of a %d-key sweep < %d MiB", big.Keys, memTargetMiB),
			Got:    fmt.Sprintf("%.1f MiB", big.PeakMiB),
			Met:    big.PeakMiB < memTargetMiB,
		})
		if n > 1 {
			small := mem[0]
			ratio := big.PeakMiB / small.PeakMiB
			slope := (big.PeakMiB - small.PeakMiB) / float64(big.Keys-small.Keys) * 1000
			got := fmt.Sprintf("%.1f / %.1f MiB = %.2fx for %.0fx the keys (+%.3f MiB per 1000 keys", big.PeakMiB, small.PeakMiB,
				ratio, float64(big.Keys)/float64(small.Keys), slope)
			if slope > 0 {
				got += fmt.Sprintf("; %d MiB at about %.0fk keys", memTargetMiB, (float64(small.Keys)+(memTargetMiB-small.PeakMiB)/slope*1000)/1000)
			}
			v = append(v, Verdict{
				Target: fmt.Sprintf("flat: peak at %d keys <= %.1fx peak at %d", big.Keys, memFlatTarget, small.Keys),
				Got:    got + ")",
				Met:    ratio <= memFlatTarget,
			})
		}
	}
	for _, e := range r.Eval {
		v = append(v, Verdict{
			Target: fmt.Sprintf("policy evaluation (%s) >= 1M rule evaluations/s per core", e.Set),
			Got:    fmt.Sprintf("%.2fM", e.RulesPerSec/1e6),
			Met:    e.RulesPerSec >= evalTarget,
		})
	}
	return v
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
		section("Sweep under a rate limit (emulator token bucket of N per second, adapter limiter at the same N)",
			"keys\tN rps\tburst\tlatency ms\tcalls\tcalls/N s\twall s\twall/(calls/N)\tlower bound\twall/(bound/N)\t429s\tfailed\t")
		for _, q := range r.Rate {
			fmt.Fprintf(tw, "%d\t%g\t%d\t%g\t%d\t%.2f\t%.2f\t%.3f\t%d\t%.3f\t%d\t%d\t\n", q.Keys, q.RateLimit, q.Burst, q.LatencyMS, q.Calls,
				q.BoundSeconds, q.WallSeconds, q.Ratio, q.LowerBound, q.LowerRatio, q.Throttled, q.Failed)
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
		section("Policy evaluation (shipped policies)",
			"keys\tpolicies\trules\tkeys/s (1 core)\trule evals/s (1 core)\tper core, all cores busy\t")
		for _, e := range r.Eval {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.2fM\t%.2fM\t\n", e.Set, e.Policies, e.Rules, e.KeysPerSec, e.RulesPerSec/1e6, e.ParallelPerCore/1e6)
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
