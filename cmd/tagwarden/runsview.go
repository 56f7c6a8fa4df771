package main

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The states of a link_end line.
const (
	stateContinued      = "continued"
	stateDone           = "done"
	stateChainLimit     = "chain_limit"
	stateDispatchFailed = "dispatch_failed"
	stateCut            = "cut"
	stateFailed         = "failed"
	stateDuplicate      = "duplicate"
	stateRefused        = "refused"
	stateRestarted      = "restarted"
)

// The states of a target that no link_end names.
const (
	stateWaiting     = "waiting"      // for the link in WaitsFor, dispatched or about to be
	stateInProgress  = "in_progress"  // its last link started and has not ended
	stateTargetError = "target_error" // it could not be swept at all
)

// The statuses of a run and of a target.
const (
	statusComplete   = "complete"
	statusRunning    = "running"
	statusIncomplete = "incomplete"
	// statusInexact: every target ended done, but the logs show a fork, a
	// gap or a second fan-out: a key may have been decided twice or not
	// at all.
	statusInexact = "inexact"
)

// Kinds of warnings.
const (
	warnFork = "fork"
	// warnRefusedLate: a payload refused after the sweep was done; the run
	// stays as it was.
	warnRefusedLate  = "refused_after_done"
	warnGap          = "gap"
	warnNeverStarted = "never_started"
	warnDryRun       = "dry_run_mismatch"
	warnAfterEnd     = "continued_after_end"
	warnFanout       = "fanout"
)

// runsReport is what tagwarden runs prints.
type runsReport struct {
	Runs  []runView  `json:"runs"` // newest first
	Lines lineCounts `json:"lines"`
}

// runView is the state of one run.
type runView struct {
	Run         string       `json:"run"`
	Status      string       `json:"status"`
	First       string       `json:"first,omitempty"`
	Last        string       `json:"last,omitempty"`
	DryRun      *bool        `json:"dry_run"`
	Trigger     string       `json:"trigger,omitempty"`
	Fanout      *fanoutView  `json:"fanout,omitempty"`
	Targets     []targetView `json:"targets"`
	DoneTargets int          `json:"done_targets"`
	Totals      runCounts    `json:"totals"` // over the targets done
	Warnings    []runWarning `json:"warnings,omitempty"`
	first       time.Time
}

// fanoutView is the run's fanout line.
type fanoutView struct {
	Targets    int `json:"targets"`
	Dispatched int `json:"dispatched"`
	Failed     int `json:"failed"`
}

// targetView is the state of one target of a run.
type targetView struct {
	Target       string    `json:"target"`
	Status       string    `json:"status"`
	State        string    `json:"state"`
	WaitsFor     int       `json:"waits_for,omitempty"`
	Links        int       `json:"links"`
	LastLink     int       `json:"last_link"`
	Error        string    `json:"error,omitempty"`
	ErrorKind    string    `json:"error_kind,omitempty"`
	Totals       runCounts `json:"totals"`
	TotalsLogged bool      `json:"totals_logged"` // else summed from the links since the last restart
	RestartedAt  []int     `json:"restarted_at,omitempty"`
	Duplicates   int       `json:"duplicates,omitempty"`
	Last         string    `json:"last,omitempty"`
}

// runWarning is something that makes a run's story untrue.
type runWarning struct {
	Kind    string `json:"kind"`
	Target  string `json:"target,omitempty"`
	Link    int    `json:"link,omitempty"`
	Message string `json:"message"`
}

// exitCode is 0 when there are runs and every one is complete, else 1.
func (r runsReport) exitCode() int {
	if len(r.Runs) == 0 {
		return exitError
	}
	for _, v := range r.Runs {
		if v.Status != statusComplete {
			return exitFound
		}
	}
	return exitOK
}

func (a *runsAcc) report() runsReport {
	rep := runsReport{Runs: []runView{}, Lines: a.lines}
	for _, r := range a.runs {
		rep.Runs = append(rep.Runs, r.view())
	}
	sort.Slice(rep.Runs, func(i, j int) bool {
		a, b := rep.Runs[i], rep.Runs[j]
		if !a.first.Equal(b.first) {
			return a.first.After(b.first)
		}
		return a.Run < b.Run
	})
	return rep
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func (r *runAcc) view() runView {
	v := runView{Run: r.id, First: formatTime(r.first), Last: formatTime(r.last), first: r.first,
		DryRun: r.dry, Trigger: r.linkTrigger, Targets: []targetView{}}
	if r.fanout != nil {
		if r.fanout.DryRun != nil {
			v.DryRun = r.fanout.DryRun
		}
		if r.fanout.Trigger != "" {
			v.Trigger = r.fanout.Trigger
		}
		v.Fanout = &fanoutView{Targets: r.fanout.Targets, Dispatched: r.fanout.Dispatched, Failed: r.fanout.Failed}
	}
	if r.dryOther != "" {
		v.Warnings = append(v.Warnings, runWarning{Kind: warnDryRun, Message: fmt.Sprintf(
			"lines disagree on dry_run: %s says %t, %s says %t", r.drySource, *r.dry, r.dryOther, !*r.dry)})
	}
	if r.fanouts > 1 {
		v.Warnings = append(v.Warnings, runWarning{Kind: warnFanout, Message: fmt.Sprintf(
			"the fan-out is logged %d times: the run may have been dispatched more than once", r.fanouts)})
	}
	names := make([]string, 0, len(r.targets))
	for name := range r.targets {
		names = append(names, name)
	}
	sort.Strings(names)
	running, incomplete, dispatched := false, false, 0
	for _, name := range names {
		t, ws := r.targets[name].view(name)
		v.Targets = append(v.Targets, t)
		v.Warnings = append(v.Warnings, ws...)
		switch t.Status {
		case statusComplete:
			v.DoneTargets++
			v.Totals = v.Totals.Add(t.Totals)
		case statusRunning:
			running = true
		default:
			incomplete = true
		}
		if t.Links > 0 || t.State == stateWaiting {
			dispatched++
		}
	}
	if f := v.Fanout; f != nil {
		if f.Failed > 0 {
			incomplete = true
		}
		if f.Dispatched > dispatched {
			incomplete = true
			v.Warnings = append(v.Warnings, runWarning{Kind: warnFanout, Message: fmt.Sprintf(
				"the fan-out dispatched %d targets, the logs show %d", f.Dispatched, dispatched)})
		}
	}
	switch {
	case incomplete:
		v.Status = statusIncomplete
	case running:
		v.Status = statusRunning
	case inexact(v.Warnings):
		// Every target ended done, but the story has a hole or a fork: a
		// key may have been decided twice or not at all.
		v.Status = statusInexact
	default:
		v.Status = statusComplete
	}
	return v
}

// inexact reports whether warnings leave a finished run's "every key
// decided exactly once" unproven.
func inexact(ws []runWarning) bool {
	for _, w := range ws {
		switch w.Kind {
		case warnFork, warnGap, warnAfterEnd, warnFanout:
			return true
		}
	}
	return false
}

// continues reports whether a link_end state goes on to a next link.
func continues(state string) bool {
	return state == stateContinued || state == stateRestarted
}

// resumable reports whether a link_end state keeps the continuation for a
// person to pass on: the next link then follows by hand.
func resumable(state string) bool {
	return state == stateChainLimit || state == stateCut || state == stateDispatchFailed
}

// view derives a target's state from its links: the highest link seen
// decides; lower links only raise warnings.
func (ta *targetAcc) view(name string) (targetView, []runWarning) {
	t := targetView{Target: name, Last: formatTime(ta.last)}
	var ws []runWarning
	warn := func(kind string, link int, format string, args ...any) {
		ws = append(ws, runWarning{Kind: kind, Target: name, Link: link, Message: name + ": " + fmt.Sprintf(format, args...)})
	}
	var seen, dispatched []int // links logged by the link itself; links only dispatched
	done := 0                  // the lowest link that ended the sweep done
	for n, l := range ta.links {
		if l.end != nil && l.end.State == stateDone && (done == 0 || n < done) {
			done = n
		}
	}
	for n, l := range ta.links {
		switch {
		case done > 0 && n > done && l.end == nil && l.refused != nil:
			// A payload refused after the sweep was done (a replay, a
			// forgery): it did nothing and changes nothing of the story.
			warn(warnRefusedLate, n, "a payload for link %d was refused after the sweep was done: %s", n, l.refused.Error)
		case l.started || l.end != nil || l.refused != nil || l.duplicates > 0:
			seen = append(seen, n)
		case l.dispatched:
			dispatched = append(dispatched, n)
		}
	}
	slices.Sort(seen)
	slices.Sort(dispatched)
	next := 1
	for _, n := range seen {
		l := ta.links[n]
		if n > next {
			warn(warnGap, next, "%s missing from the logs", linkRange(next, n-1))
		}
		next = n + 1
		t.Duplicates += l.duplicates
		switch {
		case len(l.workers) > 1:
			many, ids := strconv.Itoa(len(l.workers)), strings.Join(l.workers, ", ")
			if l.moreWorkers {
				many, ids = many+" or more", ids+", ..."
			}
			warn(warnFork, n, "link %d was served by %s requests (%s): a fork, keys may have been decided twice", n, many, ids)
		case n == seen[len(seen)-1]:
		case l.end == nil && l.refused == nil && l.duplicates > 0:
			warn(warnGap, n, "link %d is logged only as a duplicate delivery: the delivery that served it is missing", n)
		case l.end == nil && l.refused == nil:
			warn(warnGap, n, "link %d started, its link_end is missing from the logs", n)
		case l.end == nil:
			warn(warnAfterEnd, n, "link %d was refused, yet link %d follows", n, seen[len(seen)-1])
		case resumable(l.end.State) && slices.Contains(seen, n+1):
			// Its continuation was passed on by hand: the next link follows.
		case !continues(l.end.State):
			warn(warnAfterEnd, n, "link %d ended %s, yet link %d follows", n, l.end.State, seen[len(seen)-1])
		}
		if l.end != nil && l.end.restarted() {
			t.RestartedAt = append(t.RestartedAt, n)
		}
	}
	t.Links = len(seen)
	if len(seen) > 0 {
		t.LastLink = seen[len(seen)-1]
	}
	ta.decide(&t, seen, dispatched)
	if t.State == stateWaiting && len(seen) == 0 {
		warn(warnNeverStarted, t.WaitsFor, "link %d dispatched, never started", t.WaitsFor)
	}
	// Totals: the last link's, when it logged them, else the links' counts
	// since the last restart.
	if last := ta.links[t.LastLink]; last != nil && last.end != nil && last.end.Totals != nil && !continues(last.end.State) {
		t.Totals, t.TotalsLogged = *last.end.Totals, true
	} else {
		from := 0
		if len(t.RestartedAt) > 0 {
			from = t.RestartedAt[len(t.RestartedAt)-1]
		}
		for _, n := range seen {
			if l := ta.links[n]; n >= from && l.end != nil {
				t.Totals = t.Totals.Add(l.end.runCounts)
			}
		}
	}
	return t, ws
}

// decide sets a target's status, state and error.
func (ta *targetAcc) decide(t *targetView, seen, dispatched []int) {
	t.Status = statusIncomplete
	if ta.hasTargetError {
		t.State, t.Error, t.ErrorKind = stateTargetError, ta.err, ta.errKind
		return
	}
	if len(seen) == 0 {
		if len(dispatched) > 0 {
			t.Status, t.State, t.WaitsFor = statusRunning, stateWaiting, dispatched[0]
			return
		}
		t.State = stateDispatchFailed
		for n, l := range ta.links {
			if l.dispatchFailed && (t.WaitsFor == 0 || n < t.WaitsFor) {
				t.Error, t.WaitsFor = l.dispatchErr, n // the first link that could not be dispatched
			}
		}
		t.WaitsFor = 0
		return
	}
	last := ta.links[t.LastLink]
	switch {
	case last.end != nil && continues(last.end.State):
		if n := ta.links[t.LastLink+1]; n != nil && n.dispatchFailed && !n.dispatched {
			t.State, t.Error = stateDispatchFailed, n.dispatchErr
			return
		}
		t.Status, t.State, t.WaitsFor = statusRunning, stateWaiting, t.LastLink+1
	case last.end != nil:
		t.State, t.Error, t.ErrorKind = last.end.State, last.end.Error, last.end.ErrorKind
		if t.State == stateDone {
			t.Status = statusComplete
		}
		if n := ta.links[t.LastLink+1]; t.Error == "" && n != nil && n.dispatchFailed {
			t.Error = n.dispatchErr
		}
	case last.refused != nil:
		t.State, t.Error, t.ErrorKind = stateRefused, last.refused.Error, last.refused.ErrorKind
	default:
		t.Status, t.State = statusRunning, stateInProgress
	}
}

// linkRange names links from to to.
func linkRange(from, to int) string {
	if from == to {
		return "link " + strconv.Itoa(from)
	}
	return fmt.Sprintf("links %d-%d", from, to)
}

// writeRunsText writes the runs as text: per run a header, a table of its
// targets and its total, then its notes and warnings; last, how the lines
// were used.
func writeRunsText(w io.Writer, rep runsReport) error {
	var b bytes.Buffer
	for i, r := range rep.Runs {
		if i > 0 {
			b.WriteString("\n")
		}
		writeRunText(&b, r)
	}
	if len(rep.Runs) > 0 {
		b.WriteString("\n")
	}
	l := rep.Lines
	fmt.Fprintf(&b, "%d %s; %d lines read: %d used", len(rep.Runs), plural(len(rep.Runs), "run", "runs"), l.Read, l.Used)
	var ignored []string
	for _, c := range []struct {
		n    int
		what string
	}{{l.NotJSON, "not JSON"}, {l.Other, "other logs"}, {l.Malformed, "malformed"}, {l.TooLong, "too long"}} {
		if c.n > 0 {
			ignored = append(ignored, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	if len(ignored) > 0 {
		fmt.Fprintf(&b, ", %d ignored (%s)", l.Read-l.Used, strings.Join(ignored, ", "))
	}
	b.WriteString("\n")
	_, err := w.Write(b.Bytes())
	return err
}

func writeRunText(b *bytes.Buffer, r runView) {
	fmt.Fprintf(b, "run %s: %s\n", r.Run, r.Status)
	head := []string{fmt.Sprintf("%s to %s", orDash(r.First), orDash(r.Last))}
	if r.Trigger != "" {
		head = append(head, "trigger "+r.Trigger)
	}
	switch {
	case r.DryRun == nil:
		head = append(head, "dry run unknown")
	case *r.DryRun:
		head = append(head, "dry run")
	default:
		head = append(head, "not a dry run")
	}
	if f := r.Fanout; f != nil {
		head = append(head, fmt.Sprintf("fan-out: %d %s, %d dispatched, %d failed", f.Targets, plural(f.Targets, "target", "targets"), f.Dispatched, f.Failed))
	}
	fmt.Fprintf(b, "  %s\n", strings.Join(head, ", "))
	var tb bytes.Buffer
	tw := tabwriter.NewWriter(&tb, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  TARGET\tSTATE\tLINKS\tLAST\tSCANNED\tCOMPLIANT\tCHANGED\tPLANNED\tVIOLATING\tFAILED\tSKIPPED\tERROR")
	for _, t := range r.Targets {
		links, last := "-", "-"
		if t.Links > 0 {
			links, last = strconv.Itoa(t.Links), strconv.Itoa(t.LastLink)
		}
		errText := oneLine(t.Error)
		if t.ErrorKind != "" {
			errText = t.ErrorKind + ": " + errText
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", orDash(t.Target), targetState(t), links, last, countCells(t.Totals), errText)
	}
	fmt.Fprintf(tw, "  total (%d of %d done)\t\t\t\t%s\t\n", r.DoneTargets, len(r.Targets), countCells(r.Totals))
	tw.Flush()
	for _, line := range strings.SplitAfter(tb.String(), "\n") {
		if line != "" {
			fmt.Fprintln(b, strings.TrimRight(line, " \n"))
		}
	}
	for _, t := range r.Targets {
		for _, n := range t.RestartedAt {
			fmt.Fprintf(b, "  note: %s: link %d restarted the sweep from the beginning (the policies or targets changed)\n", t.Target, n)
		}
		if t.Duplicates > 0 {
			fmt.Fprintf(b, "  note: %s: %d duplicate %s ignored\n", t.Target, t.Duplicates, plural(t.Duplicates, "delivery", "deliveries"))
		}
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(b, "  warning: %s\n", w.Message)
	}
}

// targetState is a target's state in words.
func targetState(t targetView) string {
	switch t.State {
	case stateWaiting:
		return fmt.Sprintf("waits for link %d", t.WaitsFor)
	case stateInProgress:
		return fmt.Sprintf("link %d in progress", t.LastLink)
	}
	return t.State
}

func countCells(c runCounts) string {
	return fmt.Sprintf("%d\t%d\t%d\t%d\t%d\t%d\t%d", c.Scanned, c.Compliant, c.Changed, c.Planned, c.Violating, c.Failed, c.Skipped)
}
