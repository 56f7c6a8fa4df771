package handler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// item is one unit of work: a listed record, or a key id to read fresh.
type item struct {
	rec   Record
	id    string
	fresh bool
	// read is when the record's tags were read (the listing page's request).
	read time.Time
	// touched, for a key whose writes an earlier request cut short, maps
	// each tag those writes changed to its value before (nil: absent).
	touched map[string]*string
	// order is the key's place in the dispatch order, from 1.
	order int64
}

// run is the state of one Handle call.
type run struct {
	h     *Handler
	ctx   context.Context // the invocation's context
	work  context.Context // every store call: done half the margin before the deadline
	stop  context.Context // done when no new work may start
	store KeyStore
	log   *logrus.Entry
	req   Request
	bind  binding
	dry   bool
	now   time.Time
	batch int

	cancel     context.CancelFunc // of stop
	cancelWork context.CancelFunc

	mu       sync.Mutex // guards everything below and *rep
	rep      *Report
	requeue  []string
	touched  map[string]map[string]*string // of requeued keys whose writes were cut
	halted   error                         // the error that stopped new work (access denied)
	deadline bool                          // stopped by the deadline margin
	full     bool                          // stopped because the report is full
	budget   budget
	passed   int          // listed records passed over as repeats: progress without a decision
	started  atomic.Int64 // listed records taken by the dispatcher: its pace, for reading ahead
	wrote    bool         // a write was cut in flight: keys may have changed
	inexact  bool         // the listing resumed at a position it could not find exactly

	// Dispatcher only. The Lister contract delivers every key once; these
	// guard against what a live listing can still do (a key inserted
	// mid-listing shifts an offset page, repeating a record at a page
	// boundary) without a set that grows with the project's key count.
	seen   map[string]struct{}    // the request's explicit ids (bounded by MaxKeyIDs)
	window [2]map[string]struct{} // ids of the previous and the current listing page
}

func newRun(ctx context.Context, h *Handler, store KeyStore, rep *Report, log *logrus.Entry, req Request, bind binding) *run {
	r := &run{
		h: h, ctx: ctx, store: store, rep: rep, log: log, req: req,
		dry: rep.DryRun, now: h.now(), seen: map[string]struct{}{}, bind: bind,
	}
	r.batch = h.cfg.BatchSize
	if r.batch < 1 {
		r.batch = h.engine.Limits().MaxBatch
	}
	if dl, ok := ctx.Deadline(); ok {
		// New work stops Margin before the deadline; calls still running
		// Margin/2 before it are cancelled, so that the report is returned
		// in time, their keys put in the continuation.
		r.stop, r.cancel = context.WithDeadline(ctx, dl.Add(-h.cfg.Margin))
		r.work, r.cancelWork = context.WithDeadline(ctx, dl.Add(-h.cfg.Margin/2))
	} else {
		r.stop, r.cancel = context.WithCancel(ctx)
		r.work, r.cancelWork = context.WithCancel(ctx)
	}
	return r
}

// close releases the run's contexts.
func (r *run) close() {
	r.cancel()
	r.cancelWork()
}

// resumable reports whether the caller of this request can follow a
// continuation. Key events (CTS, EventGrid) are delivered asynchronously
// and nobody reads their report: a key of theirs that the deadline leaves
// undecided is reported skipped, with the reason, instead.
func (r *run) resumable() bool {
	return r.req.Mode == ModeSweep || !IsEventTrigger(r.req.Trigger)
}

// IsEventTrigger reports whether trigger names an event source whose
// report no caller reads: cts or eventgrid.
func IsEventTrigger(trigger string) bool {
	return trigger == TriggerCTS || trigger == TriggerEventGrid
}

// stopped reports whether no new work may start, noting why.
func (r *run) stopped() bool {
	if r.stop.Err() == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.halted == nil && !r.full {
		r.deadline = true
	}
	return true
}

// halt stops new work after an error that every further call would share.
func (r *run) halt(err error) {
	r.mu.Lock()
	if r.halted == nil {
		r.halted = err
		r.rep.fail(KindDenied, fmt.Sprintf("access denied (expired or wrong credentials, or no permission), stopped starting new work: %v", err))
	}
	r.mu.Unlock()
	r.cancel()
}

// firstSeen records an explicit id and reports whether this run has not
// seen it before.
func (r *run) firstSeen(id string) bool {
	if _, ok := r.seen[id]; ok {
		return false
	}
	r.seen[id] = struct{}{}
	return true
}

// execute dispatches the work tok describes and sets the report's
// continuation from where it stopped.
func (r *run) execute(tok continuation) {
	next := r.dispatchAll(tok)
	next.IDs = append(next.IDs, r.requeue...)
	next.Touched = r.touched
	if tok.Inexact || r.inexact {
		next.Inexact = true
		r.rep.Warnings = append(r.rep.Warnings, warnInexact)
		r.log.Warn(warnInexact)
	}
	if len(next.IDs) == 0 && !next.List {
		return
	}
	r.stopped() // keys in flight may have been cut after the last dispatch
	r.explain()
	if !r.resumable() {
		r.leftOver(next.IDs)
		return
	}
	if r.rep.ErrorKind == KindInvalidContinuation {
		return // resuming from here cannot help: the report says what is left undone
	}
	if r.rep.Scanned == 0 && r.passed == 0 {
		// Writes cut in flight changed keys: hand them over, but only so
		// many times in a row.
		if !r.wrote || tok.Stalls+1 >= maxStalls {
			r.noProgress()
			return
		}
		next.Stalls = tok.Stalls + 1
	}
	next.Issued = r.h.now().Unix()
	if r.rep.Run != "" {
		t := r.totals(tok)
		next.Run, next.Link, next.Totals, next.Base = r.rep.Run, r.rep.Link+1, &t, max(r.rep.ChainBase, 1)
	}
	r.rep.Continuation = r.h.seal.seal(next)
}

// totals returns the counts of the target's sweep up to this request: the
// token's, plus the report's own.
func (r *run) totals(tok continuation) Counts {
	var t Counts
	if tok.Totals != nil {
		t = *tok.Totals
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return t.Add(r.rep.Counts())
}

// dispatchAll hands tok's keys, then its listing, to Concurrency workers,
// waits for them, and returns the work left: where dispatching stopped
// (the keys put back by the workers are added by the caller).
func (r *run) dispatchAll(tok continuation) continuation {
	jobs := make(chan item)
	var wg sync.WaitGroup
	for range r.h.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range jobs {
				r.process(it)
			}
		}()
	}
	defer func() {
		close(jobs)
		wg.Wait()
	}()
	var order int64
	dispatch := func(it item) bool {
		if r.stopped() {
			return false
		}
		order++
		it.order = order
		select {
		case jobs <- it:
			return true
		case <-r.stop.Done():
			r.stopped()
			return false
		}
	}
	next := continuation{V: continuationVersion, Scope: r.bind.scope, Policy: r.bind.policy, Mode: tok.Mode, DryRun: tok.DryRun, Target: r.bind.target}
	for i, id := range tok.IDs {
		if !r.firstSeen(id) {
			continue
		}
		if !dispatch(item{id: id, fresh: true, touched: tok.Touched[id]}) {
			next.IDs = append(next.IDs, tok.IDs[i:]...)
			for _, id := range tok.IDs[i:] {
				if t, ok := tok.Touched[id]; ok {
					r.setTouched(id, t)
				}
			}
			next.List, next.Cursor = tok.List, tok.Cursor
			return next
		}
	}
	if tok.List {
		if cur, done := r.sweep(tok, dispatch); !done {
			next.List, next.Cursor = true, cur
		}
	}
	return next
}

// warnInexact is the report's warning for a sweep that resumed at a
// position the store could not find exactly.
const warnInexact = "this sweep resumed at a listing position the store could not find exactly (keys were added or removed around it between invocations): keys near it may have been skipped or decided twice; a new sweep decides every key"

// explain says in the report why the request stopped before finishing.
func (r *run) explain() {
	add := func(why string) {
		if r.rep.Reason != "" {
			why = r.rep.Reason + "; " + why
		}
		r.rep.Reason = why
	}
	if r.full {
		add(r.budget.reason(len(r.rep.Keys)))
	}
	if r.deadline {
		if errors.Is(r.ctx.Err(), context.Canceled) {
			add("cancelled")
		} else {
			add(fmt.Sprintf("stopped %s before the deadline", r.h.cfg.Margin))
		}
	}
}

// noProgress ends a request that decided no key and moved the listing by
// nothing: it returns no continuation (the caller still holds the one it
// sent, if any), and says why, so that a chain of invocations never loops.
func (r *run) noProgress() {
	switch {
	case r.rep.Error != "":
		r.rep.Error += "; nothing was done: send the same request again once this is resolved"
	case errors.Is(r.ctx.Err(), context.Canceled):
		r.rep.fail(KindNoTime, "cancelled before any key was decided; nothing was done")
	default:
		r.rep.fail(KindNoTime, fmt.Sprintf("no time to work: the invocation ended its work %s before the deadline (%s) before deciding any key; nothing was done: raise the function timeout or lower %s",
			r.h.cfg.Margin, settingMargin, settingMargin))
	}
}

// skipAll reports keys skipped with the reason, whatever the report's
// budget.
func (r *run) skipAll(ids []string, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		kr := KeyReport{KeyID: id, Outcome: OutcomeSkipped, Reason: reason}
		kr = r.budget.force(kr)
		r.record(kr)
	}
}

// leftOver reports the keys of an event that the request could not decide:
// skipped when the deadline or a full report stopped it, failed when
// access was denied. No key named by an event is left unreported.
func (r *run) leftOver(ids []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		kr := KeyReport{KeyID: id, Outcome: OutcomeSkipped}
		switch {
		case r.halted != nil:
			kr.Outcome, kr.Error = OutcomeFailed, r.halted.Error()
		case r.full:
			kr.Reason = "not decided: the report was full; the next sweep checks it"
		default:
			kr.Reason = "not decided before the deadline margin; the next sweep checks it"
		}
		if _, cut := r.touched[id]; cut {
			kr.Reason += " (a tag write to it was cut in flight: it may have landed)"
		}
		kr = r.budget.force(kr)
		r.record(kr)
	}
}
