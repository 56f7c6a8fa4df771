package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// Output formats.
const (
	formatTable    = "table"
	formatJSON     = "json"
	formatMarkdown = "markdown" // the policy-change preview only
)

// checkFormat checks an --output value of the commands whose output is a
// table or JSON.
func checkFormat(f string) error { return checkFormatOf(f, formatTable, formatJSON) }

// checkFormatOf checks an --output value against the formats a command has.
func checkFormatOf(f string, formats ...string) error {
	if slices.Contains(formats, f) {
		return nil
	}
	return fmt.Errorf("--output: %q is not one of %s", f, strings.Join(formats, ", "))
}

// writeJSON writes v as indented JSON: for a report, exactly the report the
// function returns.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// tableOptions limit a table.
type tableOptions struct {
	// MaxKeys shows at most this many keys (0 = all) and says how many more.
	MaxKeys int
	// NoSummary leaves out the summary line.
	NoSummary bool
}

// printable escapes what would act on a terminal or break the table: a
// value read from a file or a service (an alias, a message) is shown, never
// obeyed.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// writeTable writes the keys of a report as a table (key, alias, outcome,
// changes, violations), one line per change or violation, then a summary.
func writeTable(w io.Writer, r handler.Report, opt tableOptions) error {
	keys := r.Keys
	more := 0
	if opt.MaxKeys > 0 && len(keys) > opt.MaxKeys {
		more = len(keys) - opt.MaxKeys
		keys = keys[:opt.MaxKeys]
	}
	if len(keys) > 0 {
		var buf bytes.Buffer
		tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tALIAS\tOUTCOME\tCHANGES\tVIOLATIONS")
		for _, k := range keys {
			changes := changeLines(k)
			viols := violationLines(k)
			n := max(len(changes), len(viols), 1)
			for i := range n {
				id, alias, outcome := "", "", ""
				if i == 0 {
					id, alias, outcome = k.KeyID, orDash(k.Alias), string(k.Outcome)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", printable(id), printable(alias), printable(outcome),
					printable(at(changes, i)), printable(at(viols, i)))
			}
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write table: %w", err)
		}
		for _, line := range strings.SplitAfter(buf.String(), "\n") {
			if line != "" {
				fmt.Fprintln(w, strings.TrimRight(line, " \n"))
			}
		}
		if more > 0 {
			fmt.Fprintf(w, "... and %d more keys (--all shows every key)\n", more)
		}
		if !opt.NoSummary {
			fmt.Fprintln(w)
		}
	}
	if opt.NoSummary {
		return nil
	}
	_, err := fmt.Fprintln(w, summary(r))
	return err
}

// changeLines renders a key's tag changes: "+key=value" to create (or
// overwrite), "-key" to delete, and "due DATE (rule)" for a fix a grace
// period holds back, instead of the due tag's value.
func changeLines(k handler.KeyReport) []string {
	var out []string
	for _, t := range k.Delete {
		out = append(out, "-"+t.Key)
	}
	for _, t := range k.Create {
		if t.Key == policy.DueTag {
			continue
		}
		out = append(out, "+"+t.Key+"="+quoteIfNeeded(t.Value))
	}
	for _, v := range k.Violations {
		if v.Due != "" {
			out = append(out, fmt.Sprintf("due %s (%s/%s)", v.Due, v.Policy, v.Rule))
		}
	}
	return out
}

// violationLines renders what is wrong with a key: violations no change
// fixes, then the error or the reason of a failed or skipped key.
func violationLines(k handler.KeyReport) []string {
	var out []string
	for _, v := range k.Violations {
		if v.Remediated {
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s", v.Policy, oneLine(v.Message)))
	}
	for _, x := range k.Exemptions {
		if x.Expired {
			out = append(out, fmt.Sprintf("exemption %s expired (until %s): not applied", x.Entry, x.Until))
			continue
		}
		out = append(out, fmt.Sprintf("exempt from %s by %s until %s: %s", policiesOf(x), x.Entry, x.Until, oneLine(x.Reason)))
	}
	if k.Error != "" {
		out = append(out, "error: "+oneLine(k.Error))
	}
	if k.Reason != "" {
		out = append(out, oneLine(k.Reason))
	}
	return out
}

// counts are the numbers of a report, recomputed from the keys so that a
// dry run's planned keys are told apart from changed ones.
type counts struct {
	scanned, compliant, planned, changed, violating, failed, skipped int
}

func countReport(r handler.Report) counts {
	c := counts{scanned: r.Scanned, failed: r.Failed, skipped: r.Skipped}
	for _, k := range r.Keys {
		switch k.Outcome {
		case handler.OutcomePlanned:
			c.planned++
		case handler.OutcomeChanged:
			c.changed++
		}
		if hasUnremediated(k) {
			c.violating++
		}
	}
	c.compliant = max(r.Compliant, 0)
	return c
}

// hasUnremediated reports whether a key has a violation that its changes do
// not fix (or is a violation outcome).
func hasUnremediated(k handler.KeyReport) bool {
	if k.Outcome == handler.OutcomeViolation {
		return true
	}
	for _, v := range k.Violations {
		if !v.Remediated {
			return true
		}
	}
	return false
}

// summary is the one-line account of a report.
func summary(r handler.Report) string {
	c := countReport(r)
	var b strings.Builder
	fmt.Fprintf(&b, "%d keys scanned: %d compliant", c.scanned, c.compliant)
	if r.DryRun {
		fmt.Fprintf(&b, ", %d to change", c.planned)
	} else {
		fmt.Fprintf(&b, ", %d changed", c.changed)
	}
	fmt.Fprintf(&b, ", %d with violations, %d failed, %d skipped", c.violating, c.failed, c.skipped)
	if r.DryRun {
		b.WriteString(" (dry run: nothing written)")
	}
	if r.Reason != "" {
		b.WriteString("; " + oneLine(r.Reason))
	}
	if r.Continuation != "" {
		b.WriteString("; stopped early: not every key was scanned")
	}
	for _, w := range r.Warnings {
		b.WriteString("\nwarning: " + oneLine(w))
	}
	return b.String()
}

// exitCodeFor maps a report to the exit code scripts rely on: 1 if a key
// failed, 2 if changes are needed (dry run) or violations remain, else 0.
func exitCodeFor(r handler.Report) int {
	c := countReport(r)
	switch {
	case c.failed > 0:
		return exitError
	case c.violating > 0:
		return exitFound
	case r.DryRun && c.planned > 0:
		return exitFound
	case r.Continuation != "":
		return exitFound
	}
	return exitOK
}

// policiesOf names the policies an exemption entry covers.
func policiesOf(x policy.ExemptionMatch) string {
	if len(x.Policies) == 0 {
		return "all policies"
	}
	return strings.Join(x.Policies, ", ")
}

// exemptionNotes describes the exemption entries that need attention after
// a plan or apply: those expired at now, and, when rep covers a whole sweep
// (no continuation left, no error), those that named no key.
func exemptionNotes(e *policy.Engine, rep handler.Report, now time.Time) []string {
	named := map[string]bool{}
	for _, k := range rep.Keys {
		for _, x := range k.Exemptions {
			named[x.Entry] = true
		}
	}
	whole := rep.Mode == handler.ModeSweep && rep.Continuation == "" && rep.Error == ""
	var out []string
	for _, x := range e.Exemptions(now) {
		where := fmt.Sprintf("%s:%d", x.File, x.Line)
		switch {
		case x.Expired:
			out = append(out, fmt.Sprintf("%s: exemption expired (until %s): it no longer applies; remove it or extend it", where, x.UntilText))
		case whole && !named[x.Entry]:
			out = append(out, fmt.Sprintf("%s: exemption stale: it named no key in this sweep; remove it or fix its keys and aliases", where))
		}
	}
	return out
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\"'") || strings.TrimSpace(s) != s {
		return fmt.Sprintf("%q", s)
	}
	return s
}
