package handler

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/policy"
)

// process handles one key, recording its outcome or putting it back in the
// continuation when its processing was interrupted, or when its entry does
// not fit in the report.
func (r *run) process(it item) {
	id := it.id
	var prior map[string]*string // of the tags written, for a changed key
	var ev Decided               // what the key's decision rested on, for Config.OnDecision
	kr, requeue := func() (kr KeyReport, requeue bool) {
		defer func() {
			if p := recover(); p != nil {
				kr = KeyReport{KeyID: id, Outcome: OutcomeFailed, Error: fmt.Sprintf("internal error: %v", p)}
				requeue, prior, ev = false, nil, Decided{}
				r.log.WithFields(logrus.Fields{"key_id": id, "stack": string(debug.Stack())}).Error("panic while processing a key")
			}
		}()
		return r.decide(it, &prior, &ev)
	}()
	kr = fitEntry(kr)
	r.mu.Lock()
	if requeue {
		r.putBack(id, it.touched)
		r.mu.Unlock()
		return
	}
	if kr.listed() && !r.resumable() {
		// A key event's report has no continuation to defer to: its keys
		// (at most MaxKeyIDs) are all reported.
		kr = r.budget.force(kr)
	} else if kr.listed() {
		fits, full := r.budget.admit(kr, len(r.rep.Keys))
		if full && !r.full && r.halted == nil {
			// Stop starting new work; keys in flight still finish.
			r.full = true
			r.cancel()
		}
		if !fits {
			// The entry would cross the report's byte budget: the key goes
			// to the continuation, with what its writes changed, so that
			// the next request reports it as this one would have.
			r.putBack(id, prior)
			r.rep.Deferred++
			r.mu.Unlock()
			return
		}
	}
	r.record(kr)
	r.mu.Unlock()
	r.notify(kr.Outcome)
	if ev.Tags != nil {
		ev.Report = kr
		r.notifyDecision(ev)
	}
}

// putBack puts a key in the continuation with the prior values of the tags
// written to it, if any; r.mu is held.
func (r *run) putBack(id string, prior map[string]*string) {
	r.requeue = append(r.requeue, id)
	if _, ok := r.touched[id]; !ok && prior != nil {
		if r.touched == nil {
			r.touched = map[string]map[string]*string{}
		}
		r.touched[id] = prior
	}
}

// decide reads, evaluates and remediates one key. It reports true when the
// key must go back in the continuation (its processing was interrupted).
// For a key it changed, it sets *prior to the values the written tags had
// before (nil: absent). For a key it evaluated, it sets *ev to the key, the
// tags and the decision its outcome rests on.
func (r *run) decide(it item, prior *map[string]*string, ev *Decided) (KeyReport, bool) {
	// The key's calls carry its place in the dispatch order: a store that
	// schedules calls can let the keys started first finish first.
	ctx := WithKeyOrder(r.work, it.order)
	rec := it.rec
	kr := KeyReport{KeyID: it.id}
	if it.fresh {
		var (
			err      error
			attempts int
			requeue  bool
		)
		rec, attempts, it.read, requeue, err = r.readFresh(ctx, it.id)
		if requeue {
			return kr, true
		}
		if err != nil {
			if errors.Is(err, ErrNotFound) && r.req.Mode == ModeKeys {
				kr.Outcome = OutcomeSkipped
				kr.Reason = fmt.Sprintf("key not found after %d reads: deleted, or not visible yet", attempts)
				return kr, false
			}
			return r.classify(kr, fmt.Errorf("read key: %w", err))
		}
		if rec.Key.State == policy.StatePendingActivation && r.req.Mode == ModeKeys {
			kr.Alias = rec.Key.Alias
			kr.Outcome = OutcomeSkipped
			kr.Reason = fmt.Sprintf("key still pending activation after %d reads; the next sweep checks it", attempts)
			return kr, false
		}
	}
	kr.Alias = rec.Key.Alias
	if why := untaggable(rec.Key); why != "" {
		kr.Outcome, kr.Reason = OutcomeSkipped, why
		return kr, false
	}
	tags := rec.Tags
	if tags == nil {
		it.read = r.h.now()
		var err error
		if tags, err = r.tags(ctx, it.id); err != nil {
			return r.classify(kr, fmt.Errorf("read tags: %w", err))
		}
	}
	d := r.evaluate(it.id, rec.Key, tags)
	if d.HasChanges() && !r.dry && r.h.now().Sub(it.read) > r.h.cfg.MaxSnapshotAge {
		// The tags were read too long ago to write on: someone may have
		// changed them since. Read them again and decide on what is there.
		var err error
		if tags, err = r.tags(ctx, it.id); err != nil {
			return r.classify(kr, fmt.Errorf("read tags again before writing: %w", err))
		}
		d = r.evaluate(it.id, rec.Key, tags)
	}
	if d.HasChanges() && !r.dry {
		if kr, requeue, failed := r.write(ctx, it, tags, d, kr); failed {
			return kr, requeue
		}
	}
	kr, *prior = r.outcome(it, rec.Key, tags, d, kr)
	if r.h.cfg.OnDecision != nil {
		*ev = Decided{Key: rec.Key, Tags: tags, Now: r.now, Decision: d}
	}
	return kr, false
}

// untaggable says why a key is left alone whatever its tags, or "".
func untaggable(k policy.Key) string {
	switch {
	case k.Default:
		return "default key: a service's default key cannot be tagged"
	case k.State == policy.StatePendingDeletion:
		return "key pending deletion: not tagged"
	}
	return ""
}

// tags reads a key's current tags, never nil.
func (r *run) tags(ctx context.Context, id string) (map[string]string, error) {
	tags, err := r.store.Tags(ctx, id)
	if err == nil && tags == nil {
		tags = map[string]string{}
	}
	return tags, err
}

// write applies d's batches. On a failure it returns the key's report and
// whether the key goes back in the continuation, with failed set.
func (r *run) write(ctx context.Context, it item, tags map[string]string, d policy.Decision, kr KeyReport) (KeyReport, bool, bool) {
	for _, b := range d.Batches(r.batch) {
		if err := r.store.Apply(ctx, it.id, b); err != nil {
			kr, requeue := r.classify(kr, fmt.Errorf("%s %d tags: %w", b.Action, len(b.Tags), err))
			if requeue {
				// The write may have landed: keep what it was changing,
				// so that the resumed request can tell.
				r.setTouched(it.id, firstValues(priorValues(tags, d), it.touched))
				r.mu.Lock()
				r.wrote = true
				r.mu.Unlock()
			}
			return kr, requeue, true
		}
	}
	return kr, false, false
}

// outcome fills in the report of a key decided with d (and written, unless
// a dry run), and returns the prior values of the tags written, if any.
func (r *run) outcome(it item, key policy.Key, tags map[string]string, d policy.Decision, kr KeyReport) (KeyReport, map[string]*string) {
	// A key whose writes an earlier request cut in flight: when they had
	// landed, wholly or in part, and the key now ends where the earlier plan
	// would have, report that plan, as the uncut request would have.
	if it.touched != nil && !r.dry {
		if p, ok := r.priorPlan(key, tags, it.touched, d.Apply(tags)); ok {
			kr.Violations, kr.Create, kr.Delete, kr.Exemptions = p.Violations, p.Create, p.Delete, p.Exemptions
			kr.Outcome = OutcomeChanged
			return kr, it.touched
		}
	}
	kr.Violations, kr.Exemptions = d.Violations, d.Exemptions
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
		} else {
			return kr, firstValues(priorValues(tags, d), it.touched)
		}
	}
	return kr, nil
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

// firstValues returns now with the values of earlier put over it: a key cut
// twice keeps the values it had before the first cut.
func firstValues(now, earlier map[string]*string) map[string]*string {
	maps.Copy(now, earlier)
	return now
}

// priorPlan rebuilds the tags a key had before writes that were cut in
// flight (its current tags with the touched ones restored) and returns the
// plan made of them. ok reports whether that plan changes something and
// ends with exactly the tags after.
func (r *run) priorPlan(key policy.Key, current map[string]string, touched map[string]*string, after map[string]string) (d policy.Decision, ok bool) {
	prior := maps.Clone(current)
	if prior == nil {
		prior = map[string]string{}
	}
	for k, v := range touched {
		if v == nil {
			delete(prior, k)
		} else {
			prior[k] = *v
		}
	}
	d = r.evaluate(key.ID, key, prior)
	return d, d.HasChanges() && maps.Equal(d.Apply(prior), after)
}

// classify turns a store error into the key's outcome, or asks for the key
// to be put back in the continuation when the error is not the key's own.
func (r *run) classify(kr KeyReport, err error) (KeyReport, bool) {
	switch {
	case errors.Is(err, ErrDenied):
		r.halt(err)
		return kr, true
	case r.work.Err() != nil, errors.Is(err, context.DeadlineExceeded):
		// Cut by the deadline (the store saw it would not finish in time):
		// the key is not failed, it goes to the continuation.
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
// read is when the last read was sent.
func (r *run) readFresh(ctx context.Context, id string) (rec Record, attempts int, read time.Time, requeue bool, err error) {
	delay := r.h.cfg.KeyRetryDelay
	for {
		attempts++
		read = r.h.now()
		rec, err = r.store.Key(ctx, id)
		retry := errors.Is(err, ErrNotFound) || (err == nil && rec.Key.State == policy.StatePendingActivation)
		if !retry || r.req.Mode != ModeKeys || attempts > r.h.cfg.KeyRetries {
			return rec, attempts, read, false, err
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.stop.Done():
			t.Stop()
			r.stopped()
			return rec, attempts, read, true, nil
		}
		delay = min(delay*2, r.h.cfg.KeyRetryMaxDelay)
	}
}
