package handler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/policy"
)

// Handler turns requests into remediated keys and reports. It is safe for
// concurrent use; build one per process and call Handle per invocation.
type Handler struct {
	engine *policy.Engine
	cfg    Config
	log    *logrus.Logger
	now    func() time.Time
}

// New returns a handler evaluating keys with engine. Zero or invalid
// numeric fields of cfg take their defaults; a nil log discards logs.
func New(engine *policy.Engine, cfg Config, log *logrus.Logger) *Handler {
	def := DefaultConfig()
	if cfg.Concurrency < 1 {
		cfg.Concurrency = def.Concurrency
	}
	if cfg.MaxReportKeys < 1 {
		cfg.MaxReportKeys = def.MaxReportKeys
	}
	if cfg.Margin < 0 {
		cfg.Margin = 0
	}
	if cfg.KeyRetries < 0 {
		cfg.KeyRetries = 0
	}
	if cfg.KeyRetryDelay <= 0 {
		cfg.KeyRetryDelay = def.KeyRetryDelay
	}
	if cfg.KeyRetryMaxDelay < cfg.KeyRetryDelay {
		cfg.KeyRetryMaxDelay = cfg.KeyRetryDelay
	}
	if log == nil {
		log = logrus.New()
		log.SetOutput(io.Discard)
	}
	return &Handler{engine: engine, cfg: cfg, log: log, now: time.Now}
}

// Config returns the configuration the handler runs with, defaults applied.
func (h *Handler) Config() Config { return h.cfg }

// MaxKeyIDs bounds the key ids of one key request, so that its
// continuation stays small.
const MaxKeyIDs = 1000

type requestIDKey struct{}

// WithRequestID returns a context carrying the invocation's request id,
// which the handler puts in the report and in every log entry.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id stored by WithRequestID, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Handle serves one request against store and returns its report. It never
// panics and always returns a report: errors of the whole request are in
// Report.Error, errors of one key in that key's entry. It stops starting new
// work Config.Margin before ctx's deadline, waits for the work in flight, and
// returns a Report.Continuation that the next request passes to resume.
func (h *Handler) Handle(ctx context.Context, store KeyStore, req Request) (rep Report) {
	rep = Report{
		RequestID: RequestID(ctx),
		Mode:      req.Mode,
		Trigger:   req.Trigger,
		DryRun:    h.cfg.DryRun,
		Started:   h.now().UTC(),
		Keys:      []KeyReport{},
	}
	if req.DryRun != nil {
		rep.DryRun = *req.DryRun
	}
	log := h.log.WithFields(logrus.Fields{
		"request_id": rep.RequestID,
		"mode":       string(req.Mode),
		"trigger":    req.Trigger,
		"dry_run":    rep.DryRun,
	})
	defer func() {
		if p := recover(); p != nil {
			rep.Error = fmt.Sprintf("internal error: %v", p)
			log.WithField("stack", string(debug.Stack())).Error("handler panic")
		}
		rep.Finished = h.now().UTC()
		sort.Slice(rep.Keys, func(i, j int) bool { return rep.Keys[i].KeyID < rep.Keys[j].KeyID })
		h.summary(log, &rep)
	}()

	var tok continuation
	switch req.Mode {
	case ModeIgnore:
		rep.Reason = req.Reason
		if rep.Reason == "" {
			rep.Reason = "nothing to do"
		}
		return rep
	case ModeSweep, ModeKeys:
	default:
		rep.Error = fmt.Sprintf("unknown request mode %q: want %q, %q or %q", req.Mode, ModeSweep, ModeKeys, ModeIgnore)
		return rep
	}
	if store == nil {
		rep.Error = "no key store"
		return rep
	}
	if h.engine == nil {
		rep.Error = "no policy engine"
		return rep
	}
	if req.Continuation != "" {
		var err error
		tok, err = decodeContinuation(req.Continuation, req.Mode, rep.DryRun)
		if err != nil {
			rep.Error = "invalid continuation: " + err.Error()
			rep.Reason = rep.Error
			return rep
		}
	} else {
		tok = continuation{V: continuationVersion, Mode: req.Mode, DryRun: rep.DryRun}
		if req.Mode == ModeSweep {
			tok.List = true
		} else {
			tok.IDs = cleanIDs(req.KeyIDs)
			if len(tok.IDs) == 0 {
				rep.Error = "key request names no key ids"
				return rep
			}
			if len(tok.IDs) > MaxKeyIDs {
				rep.Error = fmt.Sprintf("key request names %d keys, at most %d: use a sweep", len(tok.IDs), MaxKeyIDs)
				return rep
			}
		}
	}
	if req.Mode == ModeKeys {
		rep.Reason = req.Reason
	}
	r := newRun(ctx, h, store, &rep, log, req.Mode)
	defer r.close()
	r.execute(tok)
	return rep
}

// summary logs the one summary entry of a request.
func (h *Handler) summary(log *logrus.Entry, rep *Report) {
	e := log.WithFields(logrus.Fields{
		"scanned":      rep.Scanned,
		"compliant":    rep.Compliant,
		"changed":      rep.Changed,
		"planned":      rep.Planned,
		"violating":    rep.Violating,
		"failed":       rep.Failed,
		"skipped":      rep.Skipped,
		"continuation": rep.Continuation != "",
		"duration_ms":  rep.Finished.Sub(rep.Started).Milliseconds(),
	})
	if rep.Error != "" {
		e.WithField("error", rep.Error).Error("request finished with an error")
		return
	}
	e.Info("request finished")
}

// cleanIDs trims ids, drops empty ones and duplicates, keeping order.
func cleanIDs(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	var out []string
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, id)
	}
	return out
}

// item is one unit of work: a listed record, or a key id to read fresh.
type item struct {
	rec   Record
	id    string
	fresh bool
	// touched, for a key whose writes an earlier request cut short, maps
	// each tag those writes changed to its value before (nil: absent).
	touched map[string]*string
}

// run is the state of one Handle call.
type run struct {
	h     *Handler
	ctx   context.Context // the invocation's context
	work  context.Context // every store call: done half the margin before the deadline
	stop  context.Context // done when no new work may start
	store KeyStore
	log   *logrus.Entry
	mode  Mode
	dry   bool
	now   time.Time
	batch int

	cancel     context.CancelFunc // of stop
	cancelWork context.CancelFunc

	mu       sync.Mutex // guards everything below and *rep
	rep      *Report
	requeue  []string
	touched  map[string]map[string]*string // of requeued keys whose writes were cut
	halted   bool
	deadline bool // stopped by the deadline margin
	full     bool // stopped because the report holds MaxReportKeys keys

	// Dispatcher only. The Lister contract delivers every key once; these
	// guard against what a live listing can still do (a key inserted
	// mid-listing shifts an offset page, repeating a record at a page
	// boundary) without a set that grows with the project's key count.
	seen   map[string]struct{}    // the request's explicit ids (bounded by MaxKeyIDs)
	window [2]map[string]struct{} // ids of the previous and the current listing page
}

func newRun(ctx context.Context, h *Handler, store KeyStore, rep *Report, log *logrus.Entry, mode Mode) *run {
	r := &run{
		h: h, ctx: ctx, store: store, rep: rep, log: log, mode: mode,
		dry: rep.DryRun, now: h.now(), seen: map[string]struct{}{},
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

// stopped reports whether no new work may start, noting why.
func (r *run) stopped() bool {
	if r.stop.Err() == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.halted && !r.full {
		r.deadline = true
	}
	return true
}

// halt stops new work after an error that every further call would share.
func (r *run) halt(err error) {
	r.mu.Lock()
	if !r.halted {
		r.halted = true
		r.rep.Error = fmt.Sprintf("access denied (expired or wrong credentials, or no permission), stopped starting new work: %v; resume with the continuation", err)
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

// nextPage starts the dedupe window of a new listing page.
func (r *run) nextPage(size int) {
	r.window[0], r.window[1] = r.window[1], make(map[string]struct{}, size)
}

// firstListed records a listed id and reports whether it is new: not an
// explicit id of this run, nor on this or the previous page.
func (r *run) firstListed(id string) bool {
	if _, ok := r.seen[id]; ok {
		return false
	}
	for _, w := range r.window {
		if _, ok := w[id]; ok {
			return false
		}
	}
	r.window[1][id] = struct{}{}
	return true
}

// execute dispatches the work tok describes and sets the report's
// continuation from where it stopped.
func (r *run) execute(tok continuation) {
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
	dispatched := 0
	dispatch := func(it item) bool {
		if r.stopped() {
			return false
		}
		select {
		case jobs <- it:
			dispatched++
			return true
		case <-r.stop.Done():
			r.stopped()
			return false
		}
	}

	next := continuation{V: continuationVersion, Mode: tok.Mode, DryRun: tok.DryRun}
	func() {
		defer func() {
			close(jobs)
			wg.Wait()
		}()
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
				next.List, next.Cursor, next.Done, next.LastID = tok.List, tok.Cursor, tok.Done, tok.LastID
				return
			}
		}
		if !tok.List {
			return
		}
		pos, done := r.sweep(tok, dispatch)
		if !done {
			next.List, next.Cursor, next.Done, next.LastID = true, pos.Cursor, pos.Done, pos.LastID
		}
	}()

	next.IDs = append(next.IDs, r.requeue...)
	next.Touched = r.touched
	if len(next.IDs) > 0 || next.List {
		r.rep.Continuation = next.encode()
		r.stopped() // keys in flight may have been cut after the last dispatch
		if r.full {
			why := fmt.Sprintf("report full: %d keys listed (%s); resume with the continuation", len(r.rep.Keys), EnvMaxReportKeys)
			if r.rep.Reason != "" {
				why = r.rep.Reason + "; " + why
			}
			r.rep.Reason = why
		}
		if r.deadline {
			why := fmt.Sprintf("stopped %s before the deadline; resume with the continuation", r.h.cfg.Margin)
			if errors.Is(r.ctx.Err(), context.Canceled) {
				why = "cancelled; resume with the continuation"
			}
			if r.rep.Reason != "" {
				why = r.rep.Reason + "; " + why
			}
			r.rep.Reason = why
			if dispatched == 0 && r.rep.Error == "" && r.ctx.Err() != context.Canceled {
				r.rep.Error = fmt.Sprintf("no time to work: no key was started before the deadline margin (%s); raise the function timeout or lower %s", r.h.cfg.Margin, EnvMargin)
			}
		}
	}
}

// sweep walks the listing from tok's position, dispatching each record once.
// It returns the position to resume from and whether the listing finished.
func (r *run) sweep(tok continuation, dispatch func(item) bool) (continuation, bool) {
	pos := continuation{Cursor: tok.Cursor, Done: tok.Done, LastID: tok.LastID}
	lister := r.store.List(r.work, tok.Cursor)
	first := true
	for {
		if r.stopped() {
			return pos, false
		}
		page, err := safeNext(r.work, lister)
		if errors.Is(err, io.EOF) {
			return pos, true
		}
		if err != nil {
			switch {
			case errors.Is(err, ErrDenied):
				r.halt(fmt.Errorf("list keys: %w", err))
			case r.work.Err() != nil:
				r.stopped()
			default:
				r.mu.Lock()
				r.rep.Error = fmt.Sprintf("list keys: %v; resume with the continuation", err)
				r.mu.Unlock()
			}
			return pos, false
		}
		start := 0
		if first {
			start = resumeIndex(page.Records, tok.Done, tok.LastID)
			first = false
		}
		r.nextPage(len(page.Records))
		pos = continuation{Cursor: page.Cursor, Done: start}
		if start > 0 {
			pos.LastID = page.Records[start-1].Key.ID
		}
		// The records done by an earlier invocation join the window: the
		// next page may repeat the last of them.
		for _, rec := range page.Records[:start] {
			r.window[1][rec.Key.ID] = struct{}{}
		}
		for j := start; j < len(page.Records); j++ {
			rec := page.Records[j]
			if r.firstListed(rec.Key.ID) && !dispatch(item{rec: rec, id: rec.Key.ID}) {
				return pos, false
			}
			pos.Done, pos.LastID = j+1, rec.Key.ID
		}
	}
}

// resumeIndex finds where to resume in the first page of a resumed listing:
// after the done records, checked against the id of the last of them. When
// that key is gone (deleted since), the records after it moved up by one:
// resuming one record earlier processes the first record not done rather
// than skip it.
func resumeIndex(recs []Record, done int, lastID string) int {
	if done <= 0 {
		return 0
	}
	if done <= len(recs) && (lastID == "" || recs[done-1].Key.ID == lastID) {
		return done
	}
	for i, rec := range recs {
		if rec.Key.ID == lastID {
			return i + 1
		}
	}
	return min(done-1, len(recs))
}

// safeNext calls Next, turning a panic of the store into an error.
func safeNext(ctx context.Context, l Lister) (p Page, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("listing panicked: %v", v)
		}
	}()
	return l.Next(ctx)
}

// process handles one key, recording its outcome or putting it back in the
// continuation when its processing was interrupted.
func (r *run) process(it item) {
	id := it.id
	kr, requeue := func() (kr KeyReport, requeue bool) {
		defer func() {
			if p := recover(); p != nil {
				kr = KeyReport{KeyID: id, Outcome: OutcomeFailed, Error: fmt.Sprintf("internal error: %v", p)}
				requeue = false
				r.log.WithFields(logrus.Fields{"key_id": id, "stack": string(debug.Stack())}).Error("panic while processing a key")
			}
		}()
		return r.decide(it)
	}()
	r.mu.Lock()
	if requeue {
		r.requeue = append(r.requeue, id)
		if _, ok := r.touched[id]; !ok && it.touched != nil {
			// Cut again before it could be checked: keep what is known.
			if r.touched == nil {
				r.touched = map[string]map[string]*string{}
			}
			r.touched[id] = it.touched
		}
		r.mu.Unlock()
		return
	}
	r.record(kr)
	r.mu.Unlock()
	r.notify(kr.Outcome)
}

// record counts and logs one key's outcome; r.mu is held.
func (r *run) record(kr KeyReport) {
	rep := r.rep
	rep.Scanned++
	switch kr.Outcome {
	case OutcomeCompliant:
		rep.Compliant++
	case OutcomeChanged:
		rep.Changed++
	case OutcomePlanned:
		rep.Planned++
	case OutcomeViolation:
		rep.Violating++
	case OutcomeSkipped:
		rep.Skipped++
	default:
		rep.Failed++
	}
	if kr.Outcome != OutcomeCompliant {
		rep.Keys = append(rep.Keys, kr)
		if len(rep.Keys) >= r.h.cfg.MaxReportKeys && !r.full && !r.halted {
			// Stop starting new work; keys in flight still finish and are
			// reported, so the cap may be passed by at most Concurrency.
			r.full = true
			r.cancel()
		}
	}
	r.logKey(kr)
}

// notify calls Config.OnKey, if any, containing a panic of the hook.
func (r *run) notify(o Outcome) {
	if r.h.cfg.OnKey == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			r.log.WithField("panic", fmt.Sprint(p)).Error("OnKey hook panicked")
		}
	}()
	r.h.cfg.OnKey(o)
}

// logKey writes the one log entry of a key decision.
func (r *run) logKey(kr KeyReport) {
	fields := logrus.Fields{
		"key_id":  kr.KeyID,
		"alias":   kr.Alias,
		"outcome": string(kr.Outcome),
		"create":  len(kr.Create),
		"delete":  len(kr.Delete),
	}
	if len(kr.Violations) > 0 {
		var pols []string
		for _, v := range kr.Violations {
			if len(pols) == 0 || pols[len(pols)-1] != v.Policy {
				pols = append(pols, v.Policy)
			}
		}
		fields["policy"] = strings.Join(pols, ",")
		fields["violations"] = len(kr.Violations)
	}
	if kr.Error != "" {
		fields["error"] = kr.Error
	}
	if kr.Reason != "" {
		fields["reason"] = kr.Reason
	}
	e := r.log.WithFields(fields)
	switch kr.Outcome {
	case OutcomeCompliant:
		e.Debug("key compliant")
	case OutcomeFailed:
		e.Warn("key failed")
	default:
		e.Info("key " + string(kr.Outcome))
	}
}

// decide reads, evaluates and remediates one key.
func (r *run) decide(it item) (KeyReport, bool) {
	rec := it.rec
	kr := KeyReport{KeyID: it.id}
	if it.fresh {
		var (
			err      error
			attempts int
			requeue  bool
		)
		rec, attempts, requeue, err = r.readFresh(it.id)
		if requeue {
			return kr, true
		}
		if err != nil {
			if errors.Is(err, ErrNotFound) && r.mode == ModeKeys {
				kr.Outcome = OutcomeSkipped
				kr.Reason = fmt.Sprintf("key not found after %d reads: deleted, or not visible yet", attempts)
				return kr, false
			}
			return r.classify(kr, fmt.Errorf("read key: %w", err))
		}
		kr.Alias = rec.Key.Alias
		if rec.Key.State == policy.StatePendingActivation && r.mode == ModeKeys {
			kr.Outcome = OutcomeSkipped
			kr.Reason = fmt.Sprintf("key still pending activation after %d reads; the next sweep checks it", attempts)
			return kr, false
		}
	}
	kr.Alias = rec.Key.Alias
	if rec.Key.Default {
		kr.Outcome = OutcomeSkipped
		kr.Reason = "default key: a service's default key cannot be tagged"
		return kr, false
	}
	if rec.Key.State == policy.StatePendingDeletion {
		kr.Outcome = OutcomeSkipped
		kr.Reason = "key pending deletion: not tagged"
		return kr, false
	}
	tags := rec.Tags
	if tags == nil {
		var err error
		tags, err = r.store.Tags(r.work, it.id)
		if err != nil {
			return r.classify(kr, fmt.Errorf("read tags: %w", err))
		}
		if tags == nil {
			tags = map[string]string{}
		}
	}
	d := r.h.engine.Evaluate(rec.Key, tags, r.now)
	if d.HasChanges() && !r.dry {
		for _, b := range d.Batches(r.batch) {
			if err := r.store.Apply(r.work, it.id, b); err != nil {
				kr, requeue := r.classify(kr, fmt.Errorf("%s %d tags: %w", b.Action, len(b.Tags), err))
				if requeue {
					// The write may have landed: keep what it was changing,
					// so that the resumed request can tell.
					t := priorValues(tags, d)
					for k, v := range it.touched { // cut before too: the first values
						t[k] = v
					}
					r.setTouched(it.id, t)
				}
				return kr, requeue
			}
		}
	}
	// A key whose writes an earlier request cut in flight: when they had
	// landed, wholly or in part, and the key now ends where the earlier plan
	// would have, report that plan, as the uncut request would have.
	if it.touched != nil && !r.dry {
		if p, ok := r.priorPlan(rec.Key, tags, it.touched, applied(tags, d)); ok {
			kr.Violations, kr.Create, kr.Delete = p.Violations, p.Create, p.Delete
			kr.Outcome = OutcomeChanged
			return kr, false
		}
	}
	kr.Violations = d.Violations
	switch {
	case !d.HasChanges() && d.Compliant():
		kr.Outcome = OutcomeCompliant
	case !d.HasChanges():
		kr.Outcome = OutcomeViolation
	default:
		kr.Create, kr.Delete = d.Create, d.Delete
		kr.Outcome = OutcomeChanged
		if r.dry {
			kr.Outcome = OutcomePlanned
		}
	}
	return kr, false
}

// setTouched records the prior tag values of a key whose writes were cut.
func (r *run) setTouched(id string, t map[string]*string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.touched == nil {
		r.touched = map[string]map[string]*string{}
	}
	r.touched[id] = t
}

// priorValues returns, for every tag d changes, its value in tags (nil
// where absent).
func priorValues(tags map[string]string, d policy.Decision) map[string]*string {
	out := make(map[string]*string, len(d.Create)+len(d.Delete))
	for _, set := range [][]policy.Tag{d.Create, d.Delete} {
		for _, t := range set {
			if v, ok := tags[t.Key]; ok {
				out[t.Key] = &v
			} else {
				out[t.Key] = nil
			}
		}
	}
	return out
}

// priorPlan rebuilds the tags a key had before writes that were cut in
// flight (its current tags with the touched ones restored) and returns the
// plan made of them. ok reports whether that plan changes something and
// ends with exactly the tags after.
func (r *run) priorPlan(key policy.Key, current map[string]string, touched map[string]*string, after map[string]string) (d policy.Decision, ok bool) {
	prior := make(map[string]string, len(current)+len(touched))
	for k, v := range current {
		prior[k] = v
	}
	for k, v := range touched {
		if v == nil {
			delete(prior, k)
		} else {
			prior[k] = *v
		}
	}
	d = r.h.engine.Evaluate(key, prior, r.now)
	return d, d.HasChanges() && sameTags(applied(prior, d), after)
}

// applied returns tags as they are once d is written.
func applied(tags map[string]string, d policy.Decision) map[string]string {
	out := make(map[string]string, len(tags)+len(d.Create))
	for k, v := range tags {
		out[k] = v
	}
	for _, t := range d.Delete {
		delete(out, t.Key)
	}
	for _, t := range d.Create {
		out[t.Key] = t.Value
	}
	return out
}

// sameTags reports whether a and b hold the same tags.
func sameTags(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// classify turns a store error into the key's outcome, or asks for the key
// to be put back in the continuation when the error is not the key's own.
func (r *run) classify(kr KeyReport, err error) (KeyReport, bool) {
	switch {
	case errors.Is(err, ErrDenied):
		r.halt(err)
		return kr, true
	case r.work.Err() != nil:
		return kr, true
	case errors.Is(err, ErrNotFound):
		kr.Outcome = OutcomeSkipped
		kr.Reason = "key not found: deleted during the run"
		kr.Error = err.Error()
	case errors.Is(err, ErrDefaultKey):
		kr.Outcome = OutcomeSkipped
		kr.Reason = "default key: a service's default key cannot be tagged"
	default:
		kr.Outcome = OutcomeFailed
		kr.Error = err.Error()
	}
	return kr, false
}

// readFresh reads a key by id. For key requests it retries, with doubling
// waits, while the key is not found or pending activation; a wait cut by the
// stop time asks for the key to be put back in the continuation.
func (r *run) readFresh(id string) (rec Record, attempts int, requeue bool, err error) {
	delay := r.h.cfg.KeyRetryDelay
	for {
		attempts++
		rec, err = r.store.Key(r.work, id)
		retry := errors.Is(err, ErrNotFound) || (err == nil && rec.Key.State == policy.StatePendingActivation)
		if !retry || r.mode != ModeKeys || attempts > r.h.cfg.KeyRetries {
			return rec, attempts, false, err
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.stop.Done():
			t.Stop()
			r.stopped()
			return rec, attempts, true, nil
		}
		delay = min(delay*2, r.h.cfg.KeyRetryMaxDelay)
	}
}
