package main

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// runKind names a run of the calls table.
func runKind(run int) string {
	if run == 1 {
		return "first run"
	}
	return "next run"
}

func renderLinks(n int) string {
	if n == 1 {
		return "1 link"
	}
	return fmt.Sprintf("%d links", n)
}

// outputsVerdicts judges the outputs measurement.
func outputsVerdicts(o *OutputsResult) []Verdict {
	if o == nil {
		return nil
	}
	var v []Verdict
	// Calls per run at the largest count against the smallest, run by run.
	if n := len(o.Calls); n > 0 {
		small, big := o.Calls[0].Keys, o.Calls[n-1].Keys
		for _, b := range o.Calls {
			if b.Keys != big || big == small {
				continue
			}
			for _, s := range o.Calls {
				if s.Keys != small || s.Run != b.Run {
					continue
				}
				v = append(v, Verdict{
					Target: fmt.Sprintf("output calls per run do not grow with the keys (%s): %d keys = %d keys", runKind(b.Run), big, small),
					Got:    fmt.Sprintf("%d / %d = %.2f (%s; %s)", b.Services.Total(), s.Services.Total(), float64(b.Services.Total())/float64(max(1, s.Services.Total())), b.Services, s.Services),
					Met:    b.Services == s.Services,
				})
			}
		}
	}
	for _, c := range o.Calls {
		v = append(v, Verdict{
			Target: fmt.Sprintf("output calls of the %s at %d keys (%s) = the design's handful", runKind(c.Run), c.Keys, renderLinks(c.Links)),
			Got:    firstProblem(c.Problems, fmt.Sprintf("%d = %d (%s)", c.Services.Total(), c.Expected.Total(), c.Services)),
			Met:    c.Services == c.Expected && len(c.Problems) == 0,
		})
	}
	if c := o.Chain; c != nil {
		ok := len(c.Links) == len(c.Expected)
		for i := range c.Links {
			ok = ok && i < len(c.Expected) && c.Links[i].Calls == c.Expected[i]
		}
		v = append(v, Verdict{
			Target: fmt.Sprintf("chained run of %d keys (%d links): 1 PUT a link, the end's handful + 1 GET per earlier link", c.Keys, len(c.Links)),
			Got:    firstProblem(c.Run.Problems, fmt.Sprintf("%d = %d (%s)", c.Run.Services.Total(), c.Run.Expected.Total(), c.Run.Services)),
			Met:    ok && c.Run.Services == c.Run.Expected && len(c.Run.Problems) == 0,
		})
	}
	for _, m := range o.Memory {
		if !m.Outputs {
			continue
		}
		base := "no baseline"
		for _, b := range o.Memory {
			if !b.Outputs && b.Run == m.Run && b.Keys == m.Keys && b.Person == m.Person {
				base = fmt.Sprintf("without outputs %.1f MiB", b.PeakMiB)
			}
		}
		v = append(v, Verdict{
			Target: fmt.Sprintf("peak heap of a %d-key sweep with its reports stored (%s, %d need a person) < %d MiB", m.Keys, runKind(m.Run), m.NeedPerson, outputsMemTarget),
			Got:    firstProblem(m.Problems, fmt.Sprintf("%.1f / %d MiB = %.2f (%s; %s)", m.PeakMiB, outputsMemTarget, m.PeakMiB/outputsMemTarget, base, renderLinks(m.Links))),
			Met:    m.PeakMiB < outputsMemTarget && len(m.Problems) == 0,
		})
	}
	if nt := o.Notify; nt != nil {
		v = append(v, Verdict{
			Target: fmt.Sprintf("notification of %d keys needing a person fits SMN's %d KiB and is accepted", nt.NeedPerson, nt.Limit/1024),
			Got: firstProblem(nt.Problems, fmt.Sprintf("%d / %d bytes = %.3f; %d keys listed, %d more; %.0f ms in process",
				nt.BodyBytes, nt.Limit, nt.Ratio, nt.ListedKeys, nt.MoreKeys, nt.EndMS)),
			Met: nt.BodyBytes <= nt.Limit && nt.Accepted && len(nt.Problems) == 0,
		})
	}
	return v
}

// printOutputs writes the outputs measurement's tables.
func printOutputs(w io.Writer, tw *tabwriter.Writer, section func(title, header string), o *OutputsResult) {
	if len(o.Calls) > 0 {
		small := o.Calls[0].Keys
		section(fmt.Sprintf("Output calls per run (sample keys, one target, through the pipeline and invocation.Loopback; calls the local OBS, SMN and Cloud Eye answered; expected: OBS links+4 PUTs and links GETs, +1 GET after a first run; SMN 1 when a finding is new or due; CES 1; vs %d keys: calls/calls of that run at %d keys)", small, small),
			"keys\trun\tlinks\treport entries\tneed a person\tOBS PUT\tOBS GET\tSMN\tCES\tcalls\texpected\tper invocation\tvs "+fmt.Sprint(small)+" keys\twall s\twithout outputs s\twall ratio\tnotification\t")
		for _, c := range o.Calls {
			vs := ""
			for _, s := range o.Calls {
				if s.Keys == small && s.Run == c.Run {
					vs = fmt.Sprintf("%.2f", float64(c.Services.Total())/float64(max(1, s.Services.Total())))
				}
			}
			per := ""
			for i, p := range c.PerInvocation {
				if i > 0 {
					per += " + "
				}
				per += fmt.Sprint(p.Total())
			}
			fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%.2f\t%.2f\t%.2f\t%s\t\n", c.Keys, c.Run, c.Links, c.Entries, c.NeedPerson,
				c.Services.OBSPut, c.Services.OBSGet, c.Services.SMN, c.Services.CES, c.Services.Total(), c.Expected.Total(), per, vs,
				c.WallSeconds, c.BaseWallSeconds, c.WallRatio, c.Notification)
		}
	}
	if c := o.Chain; c != nil {
		section(fmt.Sprintf("Chained run with outputs: %d sample keys, report budget %d entries, %d links (calls counted at the clients, by invocation)", c.Keys, c.MaxReportKeys, len(c.Links)),
			"link\treport entries\tcut by\tOBS PUT\tOBS GET\tSMN\tCES\tcalls\texpected\t")
		for i, l := range c.Links {
			exp := 0
			if i < len(c.Expected) {
				exp = c.Expected[i].Total()
			}
			fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", l.Link, l.Entries, l.Cut, l.Calls.OBSPut, l.Calls.OBSGet, l.Calls.SMN, l.Calls.CES, l.Calls.Total(), exp)
		}
		s := c.Run.Services
		fmt.Fprintf(tw, "run\t%d\t\t%d\t%d\t%d\t%d\t%d\t%d\t\n", c.Run.Entries, s.OBSPut, s.OBSGet, s.SMN, s.CES, s.Total(), c.Run.Expected.Total())
		tw.Flush()
		fmt.Fprintf(w, "wall %.2f s with outputs, %.2f s without: %.2f; %d keys need a person; notification %s\n",
			c.Run.WallSeconds, c.Run.BaseWallSeconds, c.Run.WallRatio, c.Run.NeedPerson, c.Run.Notification)
	}
	if len(o.Memory) > 0 {
		section("Heap of the function's side of a sweep with its reports stored (KMS and output emulators in a child process; links served one after another, the default report budget)",
			"keys\tneed a person\trun\toutputs\tlinks\treport entries\tbaseline MiB\tpeak heap MiB\tpeak live MiB\tpeak RSS MiB\tpeak/64 MiB\toutput calls\tstored objects\tstored MiB\tlargest KiB\tsweep s\tGCs\tsamples\t")
		for _, m := range o.Memory {
			on := "off"
			if m.Outputs {
				on = "on"
			}
			fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.2f\t%d\t%d\t%.2f\t%.0f\t%.2f\t%d\t%d\t\n", m.Keys, m.NeedPerson, m.Run, on, m.Links, m.Entries,
				m.BaselineMiB, m.PeakMiB, m.PeakLiveMiB, m.PeakRSSMiB, m.PeakMiB/outputsMemTarget, m.Calls.Total(), m.Objects, m.StoredMiB, m.LargestKiB, m.Seconds, m.GCs, m.Samples)
		}
	}
	if nt := o.Notify; nt != nil {
		section(fmt.Sprintf("Notification of a run whose %d keys all need a person (the local SMN refuses a message over %d bytes)", nt.Keys, nt.Limit),
			"keys\tneed a person\tbody bytes\tlimit\tbody/limit\tkeys listed\tfindings listed\tmore keys\tmore findings\tsubject bytes\tend in process ms\tpublish ms\tother calls ms\taccepted\t")
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%.3f\t%d\t%d\t%d\t%d\t%d\t%.0f\t%.1f\t%.1f\t%t\t\n", nt.Keys, nt.NeedPerson, nt.BodyBytes, nt.Limit, nt.Ratio,
			nt.ListedKeys, nt.ListedFindings, nt.MoreKeys, nt.MoreFindings, nt.SubjectBytes, nt.EndMS, nt.PublishMS, nt.OtherMS, nt.Accepted)
		tw.Flush()
		fmt.Fprintf(w, "subject: %s\n", nt.Subject)
	}
}
