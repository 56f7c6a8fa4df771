package main

// The policy-change preview, "tagwarden plan --compare OLD_DIR": one
// listing of the keys, each evaluated with the policies in force and with
// the old ones, and what differs.

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// previewFormatVersion is the version of the preview's JSON output.
const previewFormatVersion = 1

// previewMarkdownRows bounds the keys of the Markdown output, so that it
// fits in a pull request comment (GitHub takes 65,536 characters).
const previewMarkdownRows = 100

// preview is what a policy change alone would change: its JSON output.
type preview struct {
	FormatVersion int           `json:"format_version"`
	Target        planTarget    `json:"target"`
	Old           policySet     `json:"old"`
	New           policySet     `json:"new"`
	Started       time.Time     `json:"started"`
	Finished      time.Time     `json:"finished"`
	Counts        previewCounts `json:"counts"`
	// Summary is the one-line account, for a pull request comment.
	Summary string `json:"summary"`
	// Keys lists the keys for which something differs, by id.
	Keys []previewKey `json:"keys"`
}

// policySet names a policy set: its folder (or "embedded") and digest.
type policySet struct {
	Policies string `json:"policies"`
	Digest   string `json:"digest"`
}

func (s policySet) String() string {
	name := s.Policies
	if name == embeddedPolicies {
		name = "the shipped policies"
	}
	return fmt.Sprintf("%s (digest %s)", name, shortDigest(s.Digest))
}

func shortDigest(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

// previewCounts are the preview's numbers.
type previewCounts struct {
	Scanned   int `json:"scanned"`   // keys read
	Evaluated int `json:"evaluated"` // ... evaluated with both policy sets
	Skipped   int `json:"skipped"`   // ... left alone by both (default keys, keys pending deletion)
	Failed    int `json:"failed"`    // ... that could not be read
	// Keys for which something differs, and what.
	Differ             int `json:"differ"`
	ChangesDiffer      int `json:"changes_differ"`
	NewViolations      int `json:"new_violations"`
	ResolvedViolations int `json:"resolved_violations"`
	// Keys with changes, and keys with violations no change fixes, under
	// each policy set.
	OldToChange  int `json:"old_to_change"`
	NewToChange  int `json:"new_to_change"`
	OldViolating int `json:"old_violating"`
	NewViolating int `json:"new_violating"`
}

// previewKey is a key for which the two policy sets decide differently.
type previewKey struct {
	KeyID         string      `json:"key_id"`
	Alias         string      `json:"alias,omitempty"`
	ChangesDiffer bool        `json:"changes_differ"`
	Old           previewSide `json:"old"`
	New           previewSide `json:"new"`
	// NewViolations are broken under the new policies only; resolved
	// ones under the old only (a violation is its policy, rule and tag).
	NewViolations      []policy.Violation `json:"new_violations,omitempty"`
	ResolvedViolations []policy.Violation `json:"resolved_violations,omitempty"`
}

// previewSide is one policy set's decision on a key.
type previewSide struct {
	Create     []policy.Tag       `json:"create,omitempty"`
	Delete     []policy.Tag       `json:"delete,omitempty"`
	Violations []policy.Violation `json:"violations,omitempty"`
}

func sideOf(d policy.Decision) previewSide {
	return previewSide{Create: d.Create, Delete: d.Delete, Violations: d.Violations}
}

// sameViolation reports whether two violations are the same one across
// policy sets: the same policy, rule and tag (messages may differ).
func sameViolation(a, b policy.Violation) bool {
	return a.Policy == b.Policy && a.Rule == b.Rule && a.Tag == b.Tag
}

// onlyIn returns the violations of a that b does not have.
func onlyIn(a, b []policy.Violation) []policy.Violation {
	var out []policy.Violation
	for _, v := range a {
		if !slices.ContainsFunc(b, func(w policy.Violation) bool { return sameViolation(v, w) }) {
			out = append(out, v)
		}
	}
	return out
}

// compareDecisions returns what differs between a key's decisions under
// the old and the new policies, and whether anything does.
func compareDecisions(k policy.Key, old, cur policy.Decision) (previewKey, bool) {
	pk := previewKey{KeyID: k.ID, Alias: k.Alias, Old: sideOf(old), New: sideOf(cur),
		ChangesDiffer:      !slices.Equal(old.Create, cur.Create) || !slices.Equal(old.Delete, cur.Delete),
		NewViolations:      onlyIn(cur.Violations, old.Violations),
		ResolvedViolations: onlyIn(old.Violations, cur.Violations),
	}
	return pk, pk.ChangesDiffer || len(pk.NewViolations)+len(pk.ResolvedViolations) > 0
}

// unfixed reports whether a decision leaves a violation no change fixes.
func unfixed(d policy.Decision) bool {
	return slices.ContainsFunc(d.Violations, func(v policy.Violation) bool { return !v.Remediated })
}

// previewer evaluates each key the handler evaluated with the old policies
// too (as its Config.OnDecision), and keeps what differs.
type previewer struct {
	old *policy.Engine
	mu  sync.Mutex
	c   previewCounts
	ks  []previewKey
}

// add compares one key's decisions; safe for concurrent use.
func (pv *previewer) add(d handler.Decided) {
	old := pv.old.Evaluate(d.Key, d.Tags, d.Now)
	pk, differ := compareDecisions(d.Key, old, d.Decision)
	pv.mu.Lock()
	defer pv.mu.Unlock()
	c := &pv.c
	c.Evaluated++
	if old.HasChanges() {
		c.OldToChange++
	}
	if d.Decision.HasChanges() {
		c.NewToChange++
	}
	if unfixed(old) {
		c.OldViolating++
	}
	if unfixed(d.Decision) {
		c.NewViolating++
	}
	if !differ {
		return
	}
	c.Differ++
	if pk.ChangesDiffer {
		c.ChangesDiffer++
	}
	if len(pk.NewViolations) > 0 {
		c.NewViolations++
	}
	if len(pk.ResolvedViolations) > 0 {
		c.ResolvedViolations++
	}
	pv.ks = append(pv.ks, pk)
}

// result is the preview of the sweep whose report is rep.
func (pv *previewer) result(rep handler.Report, t planTarget, old, cur policySet) preview {
	pv.mu.Lock()
	defer pv.mu.Unlock()
	p := preview{FormatVersion: previewFormatVersion, Target: t, Old: old, New: cur, Started: rep.Started, Finished: rep.Finished,
		Counts: pv.c, Keys: slices.Clone(pv.ks)}
	p.Counts.Scanned, p.Counts.Failed = rep.Scanned, rep.Failed
	p.Counts.Skipped = rep.Scanned - rep.Failed - p.Counts.Evaluated
	slices.SortFunc(p.Keys, func(a, b previewKey) int { return cmp.Compare(a.KeyID, b.KeyID) })
	if p.Keys == nil {
		p.Keys = []previewKey{}
	}
	p.Summary = p.summary()
	return p
}

// summary is the one-line account of a preview, fit for a pull request
// comment.
func (p preview) summary() string {
	c := p.Counts
	var b strings.Builder
	if c.Differ == 0 {
		fmt.Fprintf(&b, "Policy change preview: no key would be changed or judged differently (%d %s read)", c.Scanned, plural(c.Scanned, "key", "keys"))
	} else {
		fmt.Fprintf(&b, "Policy change preview: %d of %d %s affected: %d would be changed differently, %d gain violations, %d lose violations",
			c.Differ, c.Scanned, plural(c.Scanned, "key", "keys"), c.ChangesDiffer, c.NewViolations, c.ResolvedViolations)
	}
	fmt.Fprintf(&b, "; keys to change %d → %d, keys with violations no change fixes %d → %d", c.OldToChange, c.NewToChange, c.OldViolating, c.NewViolating)
	if c.Failed > 0 {
		fmt.Fprintf(&b, "; %d %s could not be read", c.Failed, plural(c.Failed, "key", "keys"))
	}
	return b.String() + "."
}

// exitCode: 1 if a key could not be read (the preview is incomplete), 2
// if the policy change changes something, else 0.
func (p preview) exitCode() int {
	switch {
	case p.Counts.Failed > 0:
		return exitError
	case p.Counts.Differ > 0:
		return exitFound
	}
	return exitOK
}

// violationChanges renders a key's new (+) and resolved (-) violations.
func violationChanges(k previewKey) []string {
	var out []string
	for _, v := range k.NewViolations {
		out = append(out, "+ "+violationText(v))
	}
	for _, v := range k.ResolvedViolations {
		out = append(out, "- "+violationText(v))
	}
	return out
}

func violationText(v policy.Violation) string {
	s := v.Policy + ": " + oneLine(v.Message)
	if v.Remediated {
		s += " (fixed by the plan)"
	}
	return s
}

func sideChanges(s previewSide) []string {
	out := changeLines(handler.KeyReport{Create: s.Create, Delete: s.Delete, Violations: s.Violations})
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

// writePreviewTable writes the keys that differ as a table (changes under
// the old and the new policies, violations gained and lost), at most
// maxKeys of them (0: all), then the summary.
func writePreviewTable(w io.Writer, p preview, maxKeys int) error {
	fmt.Fprintf(w, "Policy change: %s, against %s\n", p.New, p.Old)
	fmt.Fprintf(w, "Keys of %s, read once and evaluated with both (read only: nothing written)\n\n", p.Target)
	keys := p.Keys
	if maxKeys > 0 && len(keys) > maxKeys {
		keys = keys[:maxKeys]
	}
	if len(keys) > 0 {
		var buf bytes.Buffer
		tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tALIAS\tCHANGES BEFORE\tCHANGES AFTER\tVIOLATIONS (+ new, - resolved)")
		for _, k := range keys {
			before, after, viols := sideChanges(k.Old), sideChanges(k.New), violationChanges(k)
			if !k.ChangesDiffer {
				before, after = []string{"same"}, nil
			}
			for i := range max(len(before), len(after), len(viols), 1) {
				id, alias := "", ""
				if i == 0 {
					id, alias = k.KeyID, orDash(k.Alias)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, alias, at(before, i), at(after, i), at(viols, i))
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
		if more := len(p.Keys) - len(keys); more > 0 {
			fmt.Fprintf(w, "... and %d more keys\n", more)
		}
		fmt.Fprintln(w)
	}
	_, err := fmt.Fprintln(w, p.Summary)
	return err
}

// writePreviewMarkdown writes the preview for a pull request comment: a
// heading, the summary, the policy sets, and a table of at most
// previewMarkdownRows keys.
func writePreviewMarkdown(w io.Writer, p preview) error {
	fmt.Fprintln(w, "### tagwarden: policy change preview")
	fmt.Fprintln(w)
	fmt.Fprintln(w, p.Summary)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Policies %s (digest %s) against %s (digest %s); the keys of project %s at %s, read once, nothing written.\n",
		mdCode(p.New.Policies), mdCode(shortDigest(p.New.Digest)), mdCode(p.Old.Policies), mdCode(shortDigest(p.Old.Digest)),
		mdCode(p.Target.ProjectID), mdCode(p.Target.Endpoint))
	if len(p.Keys) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| Key | Alias | Changes before | Changes after | New violations | Resolved violations |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	cell := func(lines []string, code bool) string {
		for i, l := range lines {
			if code && !(len(lines) == 1 && l == "none") {
				lines[i] = mdCode(l)
			} else {
				lines[i] = mdText(l)
			}
		}
		return strings.Join(lines, "<br>")
	}
	texts := func(vs []policy.Violation) []string {
		var out []string
		for _, v := range vs {
			out = append(out, violationText(v))
		}
		return out
	}
	for i, k := range p.Keys {
		if i == previewMarkdownRows {
			fmt.Fprintf(w, "\n_… and %d more keys: `--output json` lists them all._\n", len(p.Keys)-i)
			break
		}
		before, after := cell(sideChanges(k.Old), true), cell(sideChanges(k.New), true)
		if !k.ChangesDiffer {
			before, after = "same", "same"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", mdCode(k.KeyID), mdText(k.Alias), before, after,
			cell(texts(k.NewViolations), false), cell(texts(k.ResolvedViolations), false))
	}
	return nil
}

// mdCode writes s as a Markdown code span inside a table cell: fenced with
// more backticks than s holds in a row, its pipes escaped.
func mdCode(s string) string {
	if s == "" {
		return ""
	}
	run, longest := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	s = strings.ReplaceAll(oneLine(s), "|", `\|`)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdText escapes s for Markdown text inside a table cell.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range oneLine(s) {
		if strings.ContainsRune("\\`*_[]<>|#!~", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
