package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tagwarden/tagwarden/handler"
)

func newRunsCmd(g *globals) *cobra.Command {
	var output, only string
	usage := func(err error) error { return &exitCodeError{code: exitError, err: err} }
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "Show the state of the function's sweeps (runs) from its JSON logs on stdin",
		Long: `Runs reads the function's JSON log lines on standard input (a FunctionGraph/LTS or
CloudWatch export: one JSON object per line, optionally after a text prefix) and shows each
sweep run, newest first: when it ran, dry run or not, its trigger, and whether it is complete
(every target's sweep ended "done"), running (a target waits for its next link) or incomplete
(a target stopped before the end, could not be dispatched or swept). Per target: the links
seen, the final state, the totals and the error. Warnings name what makes the story untrue:
a link served twice (a fork), a link missing from the logs, a target dispatched but never
started, lines of one run that disagree on dry_run.

Lines that are not JSON objects, or carry no event of a run, are ignored and counted.

Exit status: 0 every run shown is complete, 2 a run shown is running, incomplete or inexact, 1 an
error (no run found, a usage error).`,
		Example: `  tagwarden runs < logs.jsonl
  tagwarden runs --run r-20261207T100000Z-7c1e9a < logs.jsonl
  tagwarden runs -o json < logs.jsonl | jq '.runs[] | select(.status != "complete")'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usage(errors.New("runs takes no arguments: it reads the logs on standard input (tagwarden runs < logs.jsonl)"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(output); err != nil {
				return usage(err)
			}
			in := cmd.InOrStdin()
			if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				return usage(errors.New("runs reads the logs on standard input: tagwarden runs < logs.jsonl"))
			}
			rep, err := readRuns(in, only)
			if err != nil {
				return err
			}
			if output == formatJSON {
				err = writeJSON(g.stdout, rep)
			} else {
				err = writeRunsText(g.stdout, rep)
			}
			switch {
			case err != nil:
				return err
			case len(rep.Runs) == 0 && only != "":
				return fmt.Errorf("run %s is not in the logs", only)
			case len(rep.Runs) == 0:
				return errors.New("no run in the logs: they hold no fanout, dispatch, target_error, link_start or link_end line")
			}
			return withCode(rep.exitCode())
		},
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usage(fmt.Errorf("%w (see %q)", err, c.CommandPath()+" --help"))
	})
	cmd.Flags().StringVarP(&output, "output", "o", formatTable, "output format: table or json")
	cmd.Flags().StringVar(&only, "run", "", "show only the run with this id")
	return cmd
}

// maxLogLine is the longest log line read; a longer one is skipped and
// counted as too long.
const maxLogLine = 1 << 20

// readRuns reads log lines from r and returns the runs they tell of, newest
// first (only the run with id only, when only is not ""). Memory grows with
// the runs, targets and links, not with the lines.
func readRuns(r io.Reader, only string) (runsReport, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLogLine)
	tooLong := false
	sc.Split(skipLongLines(&tooLong))
	acc := runsAcc{only: only, runs: map[string]*runAcc{}}
	for sc.Scan() {
		switch {
		case tooLong:
			acc.lines.Read++
			acc.lines.TooLong++
			tooLong = false
		case len(bytes.TrimSpace(sc.Bytes())) > 0:
			acc.add(sc.Bytes())
		}
	}
	if err := sc.Err(); err != nil {
		return runsReport{}, fmt.Errorf("read logs: %w", err)
	}
	return acc.report(), nil
}

// skipLongLines splits lines as bufio.ScanLines does, except that a line
// longer than maxLogLine is skipped: it yields an empty token with
// *tooLong set instead of failing the scan.
func skipLongLines(tooLong *bool) bufio.SplitFunc {
	skipping := false
	return func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			if skipping {
				skipping, *tooLong = false, true
				return i + 1, []byte{}, nil
			}
			return i + 1, bytes.TrimSuffix(data[:i], []byte("\r")), nil
		}
		switch {
		case atEOF && skipping:
			skipping, *tooLong = false, true
			return len(data), []byte{}, nil
		case atEOF && len(data) == 0:
			return 0, nil, nil
		case atEOF:
			return len(data), bytes.TrimSuffix(data, []byte("\r")), nil
		case skipping || len(data) >= maxLogLine:
			skipping = true
			return len(data), nil, nil
		}
		return 0, nil, nil
	}
}

// runCounts are the key counts of a link, a target's sweep or a run: the
// report's (the log lines carry them under the same names).
type runCounts = handler.Counts

// runLine is one log line of a run: the fields of every event (fanout's
// "failed", the dispatches that failed, shares the field of link_end's
// failed keys).
type runLine struct {
	Event      string `json:"event"`
	Time       string `json:"time"`
	Run        string `json:"run"`
	Target     string `json:"target"`
	Link       int    `json:"link"`
	RequestID  string `json:"request_id"`
	Trigger    string `json:"trigger"`
	DryRun     *bool  `json:"dry_run"`
	Kind       string `json:"kind"`
	OK         *bool  `json:"ok"`
	Error      string `json:"error"`
	ErrorKind  string `json:"error_kind"`
	State      string `json:"state"`
	Targets    int    `json:"targets"`
	Dispatched int    `json:"dispatched"`
	// Duplicate marks a fan-out line of a second delivery that did nothing.
	Duplicate bool `json:"duplicate"`
	// Instance is the id of the process that logged the line.
	Instance string `json:"instance"`
	runCounts
	Totals *runCounts `json:"totals"`
	// Restarted, on a link_end, says why the link restarted its target's
	// sweep (as state "restarted" does).
	Restarted json.RawMessage `json:"restarted"`
}

// restarted reports whether a link_end says its link restarted the sweep.
func (l *runLine) restarted() bool {
	switch string(bytes.TrimSpace(l.Restarted)) {
	case "", "null", "false", `""`:
		return l.State == stateRestarted
	}
	return true
}

// Events of a run's log lines.
const (
	evFanout      = "fanout"
	evDispatch    = "dispatch"
	evTargetError = "target_error"
	evLinkStart   = "link_start"
	evLinkEnd     = "link_end"
)

// lineClass says what a log line is.
type lineClass int

const (
	lineUsed      lineClass = iota // an event of a run
	lineNotJSON                    // no JSON object from the first '{' to the end
	lineOther                      // a JSON object without an event of a run
	lineMalformed                  // an event of a run missing a field, or with one of the wrong type
)

// parseRunLine reads a line: the JSON object from its first '{' to its end.
func parseRunLine(b []byte) (runLine, lineClass) {
	var l runLine
	i := bytes.IndexByte(b, '{')
	if i < 0 {
		return l, lineNotJSON
	}
	err := json.Unmarshal(b[i:], &l)
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return l, lineNotJSON
	}
	switch l.Event {
	case evFanout, evDispatch, evTargetError, evLinkStart, evLinkEnd:
	default:
		return l, lineOther
	}
	if l.Run == "" {
		return l, lineOther // logged outside any run
	}
	ok := err == nil
	switch l.Event {
	case evDispatch:
		ok = ok && l.Target != "" && l.Link >= 1 && l.OK != nil
	case evLinkStart:
		ok = ok && l.Target != "" && l.Link >= 1
	case evLinkEnd:
		ok = ok && l.Target != "" && l.Link >= 1 && l.State != ""
	}
	if !ok {
		return l, lineMalformed
	}
	return l, lineUsed
}

// lineCounts say how the lines read were used.
type lineCounts struct {
	Read      int `json:"read"`
	Used      int `json:"used"`
	NotJSON   int `json:"not_json"`
	Other     int `json:"other"`
	Malformed int `json:"malformed"`
	TooLong   int `json:"too_long"`
}

// runsAcc accumulates the runs of the lines read.
type runsAcc struct {
	only  string
	lines lineCounts
	runs  map[string]*runAcc
}

// runAcc is what the lines of one run said.
type runAcc struct {
	id          string
	first, last time.Time
	fanout      *runLine // the first fanout line
	fanouts     int
	linkTrigger string // the trigger of the lowest link started
	triggerLink int
	dry         *bool  // dry_run of the first line that had one
	drySource   string // that line, for the warning
	dryOther    string // the first line that said otherwise
	targets     map[string]*targetAcc
}

// targetAcc is what the lines of one target of a run said.
type targetAcc struct {
	last           time.Time
	err, errKind   string // target_error
	hasTargetError bool
	links          map[int]*linkAcc
}

// maxForkIDs bounds the request ids kept of a link's working deliveries.
const maxForkIDs = 3

// linkAcc is what the lines of one link said.
type linkAcc struct {
	started        bool
	dispatched     bool // a dispatch of the link succeeded
	dispatchFailed bool
	dispatchErr    string
	end            *runLine // the first end that did work
	workers        []string // request ids of the ends that did work, at most maxForkIDs
	seenEnds       []string // what tells those ends apart (see endSignature)
	moreWorkers    bool
	refused        *runLine
	duplicates     int
}

func (a *runsAcc) add(b []byte) {
	a.lines.Read++
	l, class := parseRunLine(b)
	switch class {
	case lineNotJSON:
		a.lines.NotJSON++
		return
	case lineOther:
		a.lines.Other++
		return
	case lineMalformed:
		a.lines.Malformed++
		return
	}
	a.lines.Used++
	if a.only != "" && l.Run != a.only {
		return
	}
	r := a.runs[l.Run]
	if r == nil {
		r = &runAcc{id: l.Run, targets: map[string]*targetAcc{}}
		a.runs[l.Run] = r
	}
	r.add(&l)
}

func (r *runAcc) add(l *runLine) {
	t, err := time.Parse(time.RFC3339Nano, l.Time)
	if err == nil {
		if r.first.IsZero() || t.Before(r.first) {
			r.first = t
		}
		if t.After(r.last) {
			r.last = t
		}
	}
	// A duplicate did nothing: its payload's dry_run (which a replay may
	// have flipped) says nothing of the run's.
	if l.DryRun != nil && (l.Event == evFanout || l.Event == evLinkEnd && l.State != stateDuplicate && l.State != stateRefused) {
		src := "the fan-out"
		if l.Event != evFanout {
			src = fmt.Sprintf("the %s of %s link %d", l.Event, l.Target, l.Link)
		}
		switch {
		case r.dry == nil:
			r.dry, r.drySource = l.DryRun, src
		case *r.dry != *l.DryRun && r.dryOther == "":
			r.dryOther = src
		}
	}
	if l.Event == evFanout && l.Duplicate {
		return // a second delivery of the fan-out, which dispatched nothing
	}
	if l.Event == evFanout {
		r.fanouts++
		if r.fanout == nil {
			r.fanout = l
		}
		return
	}
	ta := r.targets[l.Target]
	if ta == nil {
		ta = &targetAcc{links: map[int]*linkAcc{}}
		r.targets[l.Target] = ta
	}
	if t.After(ta.last) {
		ta.last = t
	}
	if l.Event == evTargetError && l.Link < 1 {
		ta.hasTargetError, ta.err, ta.errKind = true, l.Error, l.ErrorKind
		return
	}
	la := ta.links[l.Link]
	if la == nil {
		la = &linkAcc{}
		ta.links[l.Link] = la
	}
	switch l.Event {
	case evDispatch:
		if *l.OK {
			la.dispatched = true
		} else if !la.dispatchFailed {
			la.dispatchFailed, la.dispatchErr = true, l.Error
		}
	case evLinkStart:
		la.started = true
		if r.triggerLink == 0 || l.Link < r.triggerLink {
			r.triggerLink, r.linkTrigger = l.Link, l.Trigger
		}
	case evTargetError: // one link refused: its link_end says "refused"
		l.State = stateRefused
		la.addEnd(l)
	case evLinkEnd:
		la.addEnd(l)
	}
}

// endSignature tells two link_end lines apart.
func endSignature(l *runLine) string {
	return fmt.Sprintf("%s|%s|%s|%s|%+v", l.RequestID, l.Instance, l.Time, l.State, l.runCounts)
}

// addEnd records a link_end: a duplicate delivery is only counted, a
// refused one kept apart; an end that did work is kept once per request id.
func (la *linkAcc) addEnd(l *runLine) {
	switch l.State {
	case stateDuplicate:
		la.duplicates++
		return
	case stateRefused:
		if la.refused == nil || la.refused.Error == "" {
			la.refused = l
		}
		return
	}
	// A platform delivers an invocation again under the same request id,
	// so two ends of one id that differ are two deliveries that both did
	// work (a fork); only the very same line twice is one end.
	sig := endSignature(l)
	if slices.Contains(la.seenEnds, sig) {
		return // the same line logged twice
	}
	if len(la.seenEnds) < maxForkIDs {
		la.seenEnds = append(la.seenEnds, sig)
	}
	if len(la.workers) < maxForkIDs {
		la.workers = append(la.workers, l.RequestID)
	} else {
		la.moreWorkers = true
	}
	if la.end == nil {
		la.end = l
	}
}
