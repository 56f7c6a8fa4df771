package outputs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/tagwarden/tagwarden/handler"
)

// Link stores the report of one invocation that is not its run's end (a
// link whose sweep continues itself): before the next link is dispatched,
// so that the run's end finds it. A fan-out's report goes to the fanouts
// folder. What was sent is added to rep.Outputs.
func (r *Recorder) Link(ctx context.Context, c Clients, rep *handler.Report) {
	if c.Store == nil {
		return
	}
	key := r.layout.Link(r.target(rep), runOf(rep), rep.Link)
	if rep.Mode == handler.ModeFanout {
		key = r.layout.Fanout(runOf(rep))
	}
	rep.Outputs = append(rep.Outputs, r.putReport(ctx, c.Store, key, rep))
	if rep.Mode == handler.ModeFanout && c.Notifier != nil {
		// A target that was not dispatched never ends: its done marker
		// lets the others tell when the run's last target ended.
		for _, t := range rep.Targets {
			if !t.Dispatched && t.Target != "" {
				rep.Outputs = append(rep.Outputs, r.putJSON(ctx, c.Store, "done", r.layout.FanoutDone(runOf(rep), t.Target),
					groupMark{Target: t.Target, At: r.opts.Now().UTC()}, false))
			}
		}
	}
}

// FanoutStart stores, before a fan-out dispatches its targets, the report
// that names them (each taken as dispatched until Link stores what
// became of it): a target's run that ends before the fan-out's own
// report is stored still knows the run's targets.
func (r *Recorder) FanoutStart(ctx context.Context, c Clients, rep *handler.Report, targets []string) {
	if c.Store == nil || c.Notifier == nil || len(targets) < 2 {
		return
	}
	early := *rep
	early.Outputs = nil
	early.Targets = make([]handler.TargetReport, len(targets))
	for i, t := range targets {
		early.Targets[i] = handler.TargetReport{Target: t, Dispatched: true}
	}
	early.Reason = "dispatching"
	o := r.putReport(ctx, c.Store, r.layout.Fanout(runOf(rep)), &early)
	o.What = "targets"
	rep.Outputs = append(rep.Outputs, o)
}

// putReport stores rep, gzip-compressed JSON, streamed through a
// temporary file.
func (r *Recorder) putReport(ctx context.Context, st Store, key string, rep *handler.Report) handler.OutputReport {
	return r.putSpooled(ctx, st, "report", key, PutOptions{ContentType: "application/json", ContentEncoding: "gzip"},
		func(w io.Writer) error { return writeGzipJSON(w, rep) })
}

// putSpooled writes an object through a temporary file (its size then
// known, a retry reading it again, memory not holding it) and stores it.
func (r *Recorder) putSpooled(ctx context.Context, st Store, what, key string, opts PutOptions, write func(io.Writer) error) handler.OutputReport {
	o := handler.OutputReport{Output: "obs", What: what, Where: st.Where(key)}
	sp, err := newSpool(r.opts.TempDir)
	if err == nil {
		defer sp.Close()
		err = write(sp)
	}
	var body io.ReadSeeker
	var size int64
	if err == nil {
		body, size, err = sp.finish()
	}
	if err != nil {
		o.Error = "write the " + what + ": " + err.Error()
		r.logOutput(o)
		return o
	}
	o.Items = size
	r.attempt(ctx, &o, func(ctx context.Context) error {
		if _, err := body.Seek(0, io.SeekStart); err != nil {
			return err
		}
		return st.Put(ctx, key, body, size, opts)
	})
	return o
}

// Latest is a target's latest pointer: the run that wrote it, and the
// state the next run reads.
type Latest struct {
	Target string       `json:"target"`
	Run    string       `json:"run"`
	Mode   handler.Mode `json:"mode"`
	// Started is when the run started (its first link): a run that
	// started before it and ends after it is late (stale).
	Started  time.Time `json:"started,omitempty"`
	Finished time.Time `json:"finished"`
	// State is the object of the findings and when each was notified.
	State string `json:"state"`
	// Sweep is the last sweep of the target (a key event's run keeps it).
	Sweep *RunRef `json:"sweep,omitempty"`
}

// RunRef places a run's stored parts.
type RunRef struct {
	Run      string    `json:"run"`
	Finished time.Time `json:"finished"`
	Complete bool      `json:"complete"`
	Summary  string    `json:"summary"`
	Page     string    `json:"page,omitempty"`
}

// State is what the report store remembers of a target's findings: each
// finding's id, when it was first seen and when it was last notified.
type State struct {
	Run      string                   `json:"run"`
	Findings map[FindingID]StateEntry `json:"findings"`
	// Pending names the run over several targets whose one notification
	// was to list the entries marked P: the next run reads whether it was
	// published (Layout.FanoutNotified) and takes them as notified then,
	// or, if not, as never notified.
	Pending string `json:"pending,omitempty"`
}

// StateEntry is one finding remembered: first seen, last notified (Unix
// seconds; 0: never).
type StateEntry struct {
	First    int64 `json:"f"`
	Notified int64 `json:"n,omitempty"`
	// P is set (to when it was handed over) on a finding left to the
	// pending notification of a run over several targets.
	P int64 `json:"p,omitempty"`
	// due marks, in the run being ended, a finding its notification lists
	// (new, or due for a reminder).
	due bool
}

// StoredSummary is the summary object of a run: the summary, what its
// outputs did, and the key reports it was made from.
type StoredSummary struct {
	Summary
	Outputs []handler.OutputReport `json:"outputs,omitempty"`
	// Missing lists the reports of the run's links that could not be read:
	// their findings are not in the page nor the notification.
	Missing []string `json:"missing,omitempty"`
	// Notify, in a run over several targets, is this target's part of the
	// run's one notification, which the target that ends last sends.
	Notify *NotifyBlock `json:"notify,omitempty"`
}

// NotifyBlock is what one target gives to the notification of a run over
// several targets: the findings to notify (as many as a message can
// list), how many more, and their owners.
type NotifyBlock struct {
	Findings []Finding      `json:"findings"`
	More     int            `json:"more,omitempty"`
	MoreKeys int            `json:"more_keys,omitempty"`
	MoreNew  int            `json:"more_new,omitempty"`
	Owners   map[string]int `json:"owners,omitempty"`
	Due      int            `json:"due"`
}

// End sends the end of a run: the run's own report was decided (the last
// link of a sweep, a key event, a manual check). With a report store it
// reads the latest pointer and state, gathers the findings of every link
// of the run, stores the page, the summary, the state and the pointer,
// and the invocation's report; it publishes the notification and the
// metrics. What was sent is added to rep.Outputs; nothing here changes
// rep's outcome.
func (r *Recorder) End(ctx context.Context, c Clients, rep *handler.Report) {
	if !c.On() {
		return
	}
	now := r.opts.Now()
	target, run := r.target(rep), runOf(rep)
	sum := r.summary(rep, target, run)

	// The previous state: new findings and repeats are decided against it.
	// An unknown one (it could not be read) makes no finding new, and
	// every finding due.
	var prev *State
	var latest *Latest
	unknown := false
	if c.Store != nil {
		latest, prev, unknown = r.readLatest(ctx, c.Store, target, rep)
	}
	// A run over several targets (a fan-out's) sends one notification,
	// for every target, from the target that ends last; this target's
	// part goes into its summary. Such a run started with its fan-out.
	group, fan := r.fanoutTargets(ctx, c, rep, run)
	if latest != nil && latest.Run == run && rep.Run != "" {
		// The pointer names this very run: its end was stored already, by
		// an earlier delivery of its last link (a copy served on another
		// instance, which re-read the keys the first one fixed, or the
		// platform's retry of an end cut short). Its view would overwrite
		// the run's with one in which nothing was left to do: nothing is
		// stored or sent again but, in a run over several targets, the
		// part the first delivery may not have reached: the done marker
		// and, when every target ended, the run's one message (unless it
		// is being sent or went out).
		o := handler.OutputReport{Output: "obs", What: "summary", Where: c.Store.Where(r.layout.Summary(target, run)), OK: true, Skipped: true,
			Reason: "this run's end was stored already, by an earlier delivery of its last link: nothing is overwritten"}
		r.logOutput(o)
		rep.Outputs = append(rep.Outputs, o)
		// The first delivery may have stopped before it stored its own
		// report, the one the run's summary names last: store this one
		// in its place then, never over it.
		key := r.layout.Link(target, run, rep.Link)
		switch there, err := r.exists(ctx, c.Store, key); {
		case err != nil:
			rep.Outputs = append(rep.Outputs, handler.OutputReport{Output: "obs", What: "read", Where: c.Store.Where(key), Error: err.Error(),
				Reason: "whether the first delivery stored its report is not known: this one is not stored"})
		case !there:
			rep.Outputs = append(rep.Outputs, r.putReport(ctx, c.Store, key, rep))
		}
		if len(group) > 1 && c.Notifier != nil {
			rep.Outputs = append(rep.Outputs, r.endOfGroup(ctx, c, rep, target, run, group, false)...)
		}
		return
	}
	g, err := r.gather(ctx, c.Store, rep, target, run, prev, unknown, c.Notifier != nil, now)
	if err != nil {
		rep.Outputs = append(rep.Outputs, handler.OutputReport{Output: "obs", What: "read", Error: err.Error()})
	}
	defer g.close()
	sum.Findings, sum.New = g.findings, g.new
	sum.Reports = g.reports
	// The run started with its fan-out, or else its first link; what
	// triggered it is what triggered that (not a dispatch).
	switch {
	case !fan.Started.IsZero():
		sum.Started, sum.Trigger = fan.Started, fan.Trigger
	case !g.started.IsZero():
		sum.Started, sum.Trigger = g.started, g.trigger
	}
	missing := g.missing
	if len(missing) > 0 {
		msg := fmt.Sprintf("%d earlier reports of the run could not be read: their keys' findings are not listed", len(missing))
		rep.Outputs = append(rep.Outputs, handler.OutputReport{Output: "obs", What: "read", Where: c.Store.Where(r.layout.RunDir(target, run)),
			Error: msg})
		sum.Error = joinErrors(sum.Error, msg)
	} else if rep.Link > 1 && rep.Totals != nil && g.scanned+rep.Scanned != rep.Totals.Scanned {
		// The links' reports do not add up to the totals the chain
		// carried: a link was served twice, on two instances, and the two
		// chains' reports overwrote each other. Which keys each decided is
		// not known from them.
		sum.Error = joinErrors(sum.Error, fmt.Sprintf("the run's stored reports scanned %d keys, its totals %d: a link was served twice, on two instances (the run is inexact), and the reports of the two do not add up: findings may be missing", g.scanned+rep.Scanned, rep.Totals.Scanned))
		sum.Complete, sum.State = false, "inexact"
	}
	// A run that started before the run the pointer names ends late (a
	// link held by the platform, retried): the newer run's state stays
	// the base, this run's findings merge into it, and a run over several
	// targets leaves its notification to the newer run.
	stale := latest != nil && latest.Run != run && latest.Started.After(sum.Started)
	// A sweep's findings replace the previous state only when they are
	// all of the target's: every key decided, every report read, and no
	// newer run has ended.
	replace := rep.Mode == handler.ModeSweep && sum.Complete && len(missing) == 0 && err == nil && !stale

	if c.Store != nil {
		// Where the page goes: the notification links to it.
		sum.Page = c.Store.Where(r.layout.Page(target, run))
	}
	// The notification first: the page then shows what it did.
	notified, pending := false, false
	var block *NotifyBlock
	if c.Notifier != nil {
		if len(group) > 1 {
			block = g.block()
			pending = g.due > 0
			sum.Suppressed = g.suppressed
		} else {
			var o handler.OutputReport
			o, notified = r.notify(ctx, c.Notifier, sum, g)
			rep.Outputs = append(rep.Outputs, o)
			sum.Notified = g.due
			if !notified {
				sum.Notified = 0
			}
			sum.Suppressed = g.suppressed
		}
	}
	if c.Store != nil {
		o := r.putPage(ctx, c.Store, r.layout.Page(target, run), sum, g)
		rep.Outputs = append(rep.Outputs, o)
		if !o.OK {
			sum.Page = ""
		}
	}
	if c.Metrics != nil {
		if rep.Mode == handler.ModeSweep && (!sum.Complete || stale) {
			// Partial counts would show keys as gone, and a late run's
			// older ones would come after the newer run's: a graph or
			// alarm keeps the last complete sweep's figures.
			reason := "the sweep did not decide every key: its counts are partial"
			if stale {
				reason = "a newer sweep of this target has ended: this one's counts are older"
			}
			o := handler.OutputReport{Output: "ces", What: "metrics", Where: c.Metrics.Where(), OK: true, Skipped: true,
				Reason: reason}
			r.logOutput(o)
			rep.Outputs = append(rep.Outputs, o)
		} else {
			rep.Outputs = append(rep.Outputs, r.putMetrics(ctx, c.Metrics, sum))
		}
	}
	if c.Store != nil {
		pendingRun := ""
		if pending {
			pendingRun = run
		}
		stateKey := r.layout.State(target, run)
		var so handler.OutputReport
		if unknown && !replace {
			// Merged into a state not read, the findings would stand for
			// all of the target's: the previous pointer stays, and the
			// findings notified now may be notified again.
			so = handler.OutputReport{Output: "obs", What: "state", Where: c.Store.Where(stateKey), Skipped: true,
				Reason: "the previous state could not be read and this run did not see every key: the state is left as it was"}
			r.logOutput(so)
		} else {
			st := g.state(run, prev, now, notified, replace, pendingRun)
			so = r.putState(ctx, c.Store, stateKey, st)
		}
		rep.Outputs = append(rep.Outputs, so)
		sumKey := r.layout.Summary(target, run)
		stored := StoredSummary{Summary: sum, Outputs: slices.Clone(rep.Outputs), Missing: missing, Notify: block}
		sumOut := r.putJSON(ctx, c.Store, "summary", sumKey, stored, false)
		rep.Outputs = append(rep.Outputs, sumOut)
		if so.OK && !so.Skipped {
			// The pointer moves only to a state that was stored: a run whose
			// state failed leaves the previous one in force.
			next := Latest{Target: target, Run: run, Mode: rep.Mode, Started: sum.Started, Finished: sum.Finished, State: stateKey}
			if latest != nil {
				next.Sweep = latest.Sweep
			}
			if stale {
				next.Started = latest.Started // the newer run stays the one to compare with
			}
			if rep.Mode == handler.ModeSweep && sumOut.OK && !stale {
				next.Sweep = &RunRef{Run: run, Finished: sum.Finished, Complete: sum.Complete,
					Summary: c.Store.Where(sumKey), Page: sum.Page}
			}
			rep.Outputs = append(rep.Outputs, r.putJSON(ctx, c.Store, "latest", r.layout.Latest(target), next, false))
		}
		if len(group) > 1 && c.Notifier != nil && sumOut.OK {
			rep.Outputs = append(rep.Outputs, r.endOfGroup(ctx, c, rep, target, run, group, stale)...)
		}
		rep.Outputs = append(rep.Outputs, r.putReport(ctx, c.Store, r.layout.Link(target, run, rep.Link), rep))
	}
}

// summary returns the summary of a run from its last report.
func (r *Recorder) summary(rep *handler.Report, target, run string) Summary {
	counts := rep.Counts()
	if rep.Totals != nil {
		counts = *rep.Totals
	}
	state := handler.ChainDone
	if rep.Chain != nil {
		state = rep.Chain.State
	} else if rep.Continuation != "" {
		state = handler.ChainCut
	} else if rep.Error != "" {
		state = handler.ChainFailed
	}
	s := Summary{Run: run, Target: target, Mode: rep.Mode, Trigger: rep.Trigger, DryRun: rep.DryRun,
		Started: rep.Started, Finished: rep.Finished, State: state, Error: rep.Error, Counts: counts,
		Complete: state == handler.ChainDone && rep.Continuation == ""}
	for p, n := range counts.Policies {
		s.Policies = append(s.Policies, PolicyCount{Policy: p, Violating: n})
	}
	sort.Slice(s.Policies, func(i, j int) bool {
		if s.Policies[i].Violating != s.Policies[j].Violating {
			return s.Policies[i].Violating > s.Policies[j].Violating
		}
		return s.Policies[i].Policy < s.Policies[j].Policy
	})
	return s
}

// readLatest reads a target's pointer and the state it names; a missing
// pointer is a first run (nil, nil, false); what fails to read is
// reported, and unknown is true.
func (r *Recorder) readLatest(ctx context.Context, st Store, target string, rep *handler.Report) (latestp *Latest, prev *State, unknown bool) {
	key := r.layout.Latest(target)
	var latest Latest
	o := handler.OutputReport{Output: "obs", What: "read", Where: st.Where(key)}
	var notFound bool
	err := r.attempt(ctx, &o, func(ctx context.Context) error {
		rc, err := st.Get(ctx, key)
		if errors.Is(err, ErrNotFound) {
			notFound = true
			return nil
		}
		if err != nil {
			return err
		}
		defer rc.Close()
		return json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&latest)
	})
	if err != nil {
		rep.Outputs = append(rep.Outputs, o)
		return nil, nil, true
	}
	if notFound {
		return nil, nil, false
	}
	// The pointer names this target's own state of the run it names, as
	// End writes it: anything else (another target's, an object elsewhere
	// in the bucket, no state) is not a pointer tagwarden wrote.
	if latest.Target != target || latest.Run == "" || latest.State != r.layout.State(target, latest.Run) {
		o.OK, o.Error = false, fmt.Sprintf("the latest pointer is not one this target's runs write (target %q, run %q, state %q): the previous state is not known",
			latest.Target, latest.Run, latest.State)
		r.logOutput(o)
		rep.Outputs = append(rep.Outputs, o)
		return nil, nil, true
	}
	var state State
	so := handler.OutputReport{Output: "obs", What: "read", Where: st.Where(latest.State)}
	err = r.attempt(ctx, &so, func(ctx context.Context) error {
		rc, err := st.Get(ctx, latest.State)
		if err != nil {
			return err
		}
		defer rc.Close()
		state, err = readState(rc)
		return err
	})
	if err != nil {
		rep.Outputs = append(rep.Outputs, so)
		return &latest, nil, true
	}
	r.resolvePending(ctx, st, &state, rep)
	state.pastOnly(r.opts.Now())
	return &latest, &state, false
}

// resolvePending settles the entries a state left to the pending
// notification of a run over several targets: notified when the run's
// notification was published, else never notified (they are due again).
func (r *Recorder) resolvePending(ctx context.Context, st Store, state *State, rep *handler.Report) {
	if state.Pending == "" {
		return
	}
	var mark groupMark
	key := r.layout.FanoutNotified(state.Pending)
	err := r.getJSON(ctx, st, key, &mark)
	if err != nil && !absent(err) {
		rep.Outputs = append(rep.Outputs, handler.OutputReport{Output: "obs", What: "read", Where: st.Where(key), Error: err.Error(),
			Reason: "whether run " + state.Pending + "'s notification went out is not known: its findings are notified again"})
	}
	for id, e := range state.Findings {
		if e.P == 0 {
			continue
		}
		if err == nil && !mark.At.IsZero() {
			e.Notified = mark.At.Unix()
		}
		e.P = 0
		state.Findings[id] = e
	}
	state.Pending = ""
}

// exists reports whether the object key is stored (not absent), reading
// none of it but its first bytes.
func (r *Recorder) exists(ctx context.Context, st Store, key string) (bool, error) {
	var o handler.OutputReport
	there := false
	err := r.attemptQuiet(ctx, &o, func(ctx context.Context) error {
		rc, err := st.Get(ctx, key)
		switch {
		case absent(err):
			return nil
		case err != nil:
			return err
		}
		rc.Close()
		there = true
		return nil
	})
	return there, err
}

// putJSON stores v as JSON (gzip-compressed when zip).
func (r *Recorder) putJSON(ctx context.Context, st Store, what, key string, v any, zip bool) handler.OutputReport {
	o := handler.OutputReport{Output: "obs", What: what, Where: st.Where(key)}
	var buf bytes.Buffer
	var err error
	opts := PutOptions{ContentType: "application/json"}
	if zip {
		err = writeGzipJSON(&buf, v)
		opts.ContentEncoding = "gzip"
	} else {
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		err = enc.Encode(v)
	}
	if err != nil {
		o.Error = "encode: " + err.Error()
		r.logOutput(o)
		return o
	}
	o.Items = int64(buf.Len())
	body := bytes.NewReader(buf.Bytes())
	r.attempt(ctx, &o, func(ctx context.Context) error {
		body.Seek(0, io.SeekStart) //nolint:errcheck // a bytes.Reader seeks
		return st.Put(ctx, key, body, int64(buf.Len()), opts)
	})
	return o
}

// putState stores a state, gzip-compressed JSON written entry by entry
// through a temporary file.
func (r *Recorder) putState(ctx context.Context, st Store, key string, state State) handler.OutputReport {
	return r.putSpooled(ctx, st, "state", key, PutOptions{ContentType: "application/json", ContentEncoding: "gzip"},
		func(w io.Writer) error { return writeState(w, state) })
}

// putPage writes the run's page through a temporary file and stores it.
func (r *Recorder) putPage(ctx context.Context, st Store, key string, sum Summary, g *gathered) handler.OutputReport {
	return r.putSpooled(ctx, st, "page", key, PutOptions{ContentType: "text/html; charset=utf-8"}, func(w io.Writer) error {
		if err := WritePage(w, sum, g.needsPerson()); err != nil {
			return err
		}
		return g.err
	})
}

// gathered is the findings of a run: those that need a person in a
// temporary file (JSON lines, for the page), those to notify in memory
// (bounded), and the state's entries.
type gathered struct {
	file     *os.File
	w        *bufio.Writer
	findings int // findings that need a person
	new      int
	due      int // findings notified (new or repeated) and changes
	dueKeys  int
	// notify holds the findings to notify, up to what a message can list;
	// more counts the rest (findings) and moreKeys their keys.
	notify     []Finding
	notifySize int
	more       int
	moreKeys   int
	lastKey    string
	keptKey    string // the key of the last finding kept in notify
	lastNew    bool   // the key counted last in moreKeys has a new finding counted in moreNew
	suppressed int
	owners     map[string]int // owner attribute value -> findings notified
	entries    map[FindingID]StateEntry
	moreNew    int // keys counted in moreKeys with a new finding
	reports    []string
	missing    []string
	err        error
	// started and trigger are those of the run's first link, read back;
	// scanned adds up the keys scanned of the links read back.
	started time.Time
	trigger string
	scanned int
}

func (g *gathered) close() {
	if g.file != nil {
		name := g.file.Name()
		g.file.Close()
		os.Remove(name)
	}
}

// needsPerson iterates the findings that need a person, from the file.
func (g *gathered) needsPerson() iter.Seq[Finding] {
	return func(yield func(Finding) bool) {
		if g.file == nil {
			return
		}
		if err := g.w.Flush(); err != nil {
			g.err = err
			return
		}
		if _, err := g.file.Seek(0, io.SeekStart); err != nil {
			g.err = err
			return
		}
		dec := json.NewDecoder(bufio.NewReaderSize(g.file, 64<<10))
		for dec.More() {
			var f Finding
			if err := dec.Decode(&f); err != nil {
				g.err = err
				return
			}
			if !yield(f) {
				return
			}
		}
		g.file.Seek(0, io.SeekEnd) //nolint:errcheck // appends go on at the end
	}
}

// keep keeps f among the findings to notify while a message has room for
// them (with room for the texts' own size), and always beside the other
// findings of the key kept last: a key is listed whole or counted whole.
// It counts the rest in more, moreKeys and moreNew.
func (g *gathered) keep(f Finding, budget int) {
	k := f.Target + "/" + f.KeyID
	if g.notifySize < budget || k == g.keptKey {
		g.notify = append(g.notify, f)
		g.notifySize += len(f.Problem) + len(f.Action) + len(f.KeyID) + len(f.Alias) + len(f.Policy) + len(f.Owner) + 40
		g.keptKey = k
		return
	}
	g.more++
	if k != g.lastKey {
		g.moreKeys++
		g.lastKey = k
		g.lastNew = false
	}
	if f.New && !g.lastNew {
		g.moreNew++
		g.lastNew = true
	}
}

// gather reads every key report of the run: the links before this one
// from the store, then rep's own.
//
// A finding is new when the previous state did not have it or, with
// notifications on, had it but no message ever listed it (a message that
// failed, a fan-out's that never went out): a person has not been told.
// When the previous state is unknown, none is.
func (r *Recorder) gather(ctx context.Context, st Store, rep *handler.Report, target, run string, prev *State, unknown, notifying bool, now time.Time) (*gathered, error) {
	g := &gathered{entries: map[FindingID]StateEntry{}, owners: map[string]int{}}
	f, err := os.CreateTemp(r.opts.TempDir, "tagwarden-findings-*")
	if err != nil {
		return g, fmt.Errorf("temporary file: %w", err)
	}
	g.file, g.w = f, bufio.NewWriterSize(f, 64<<10)
	enc := json.NewEncoder(g.w)
	budget := r.opts.MessageLimit
	add := func(kr handler.KeyReport) error {
		for _, fd := range FindingsOf(target, kr, r.opts.NotifyChanges) {
			due := true
			if fd.NeedsPerson() {
				g.findings++
				id, err := ParseFindingID(fd.ID)
				if err != nil {
					return err
				}
				var pe StateEntry
				seen := false
				if prev != nil {
					pe, seen = prev.Findings[id]
				}
				fd.New = !unknown && (!seen || notifying && pe.Notified == 0)
				if fd.New {
					g.new++
				}
				if !seen {
					pe = StateEntry{First: now.Unix()}
				}
				due = pe.Notified == 0 || now.Sub(time.Unix(pe.Notified, 0)) >= r.opts.NotifyRepeat
				if !due {
					g.suppressed++
				}
				pe.due = due
				g.entries[id] = pe
				if err := enc.Encode(fd); err != nil {
					return err
				}
			}
			if !due {
				continue
			}
			g.due++
			if o := OwnerValue(fd.Owner); o != "" {
				g.owners[o]++
			}
			g.keep(fd, budget)
		}
		return nil
	}
	if st != nil {
		for link := 1; link < rep.Link; link++ {
			key := r.layout.Link(target, run, link)
			o := handler.OutputReport{Output: "obs", What: "read", Where: st.Where(key)}
			header := func(h handler.Report) error {
				if link == 1 {
					g.started, g.trigger = h.Started, h.Trigger
				}
				g.scanned += h.Scanned
				return nil
			}
			err := r.attempt(ctx, &o, func(ctx context.Context) error {
				rc, err := st.Get(ctx, key)
				if err != nil {
					return err
				}
				defer rc.Close()
				return EachKey(rc, header, add)
			})
			if err != nil {
				g.missing = append(g.missing, st.Where(key))
				continue
			}
			g.reports = append(g.reports, st.Where(key))
		}
		g.reports = append(g.reports, st.Where(r.layout.Link(target, run, rep.Link)))
	}
	for _, kr := range rep.Keys {
		if err := add(kr); err != nil {
			return g, err
		}
	}
	return g, nil
}

// state returns the state the next run reads: a complete sweep's
// findings replace the previous state when replace is true (a resolved
// finding is forgotten, so that its return is new); others' are merged
// into it. Findings notified now get
// now.
func (g *gathered) state(run string, prev *State, now time.Time, notified, replace bool, pendingRun string) State {
	st := State{Run: run, Findings: g.entries, Pending: pendingRun}
	if !replace && prev != nil {
		for id, e := range prev.Findings {
			if _, ok := st.Findings[id]; !ok {
				st.Findings[id] = e
			}
		}
	}
	if notified || pendingRun != "" {
		// Those the message counted as "more" were named by its count and
		// its link to the page: they are notified too.
		for id, e := range g.entries {
			if !e.due {
				continue
			}
			if notified {
				e.Notified = now.Unix()
			} else {
				e.P = now.Unix()
			}
			st.Findings[id] = e
		}
	}
	return st
}

// SummaryOf returns the summary of a report read whole (a plan, a stored
// run's reports merged), and its findings: those that need a person and,
// when changes is true, the tags written or planned.
func SummaryOf(rep handler.Report, target string, changes bool) (Summary, []Finding) {
	r := New(Options{Own: target})
	sum := r.summary(&rep, r.target(&rep), runOf(&rep))
	var fs []Finding
	for _, kr := range rep.Keys {
		for _, f := range FindingsOf(sum.Target, kr, changes) {
			if f.NeedsPerson() {
				sum.Findings++
			}
			fs = append(fs, f)
		}
	}
	return sum, fs
}

// joinErrors joins two error texts with "; ", either may be empty.
func joinErrors(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
