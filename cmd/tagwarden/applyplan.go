package main

// Applying a plan, saved or just made: per key, the tags are read again and
// the planned changes written only if the key still has exactly the tags
// the plan read. Nothing is planned anew.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// applyFormatVersion is the version of apply's JSON output.
const applyFormatVersion = 1

// Outcomes of apply's keys beyond the handler's (changed, violation,
// skipped, failed).
const (
	// outcomeStale: the key's tags are not those the plan read, so the
	// planned change was not written.
	outcomeStale handler.Outcome = "changed_since_plan"
	// outcomeAlready: the key already has the tags the plan would leave it
	// with (the plan was applied before, or someone made the same change).
	outcomeAlready handler.Outcome = "already_applied"
	// outcomeNotPolicy: the plan's changes for the key are not what the
	// policies decide for it (its attributes changed since the plan, or the
	// file was edited): nothing written.
	outcomeNotPolicy handler.Outcome = "not_policy_decision"
	// outcomeNotAttempted: apply stopped (access denied, Ctrl-C) before
	// the key's turn.
	outcomeNotAttempted handler.Outcome = "not_attempted"
)

// applyResult is what apply did with a plan: its JSON output.
type applyResult struct {
	FormatVersion int         `json:"format_version"`
	Plan          appliedPlan `json:"plan"`
	Started       time.Time   `json:"started"`
	Finished      time.Time   `json:"finished"`
	Counts        applyCounts `json:"counts"`
	Keys          []applyKey  `json:"keys"`
	// Error says what stopped apply before every key's turn (access
	// denied, interrupted); the keys left are not_attempted.
	Error string `json:"error,omitempty"`
}

// appliedPlan names the plan applied.
type appliedPlan struct {
	File         string     `json:"file,omitempty"` // empty: made by this apply
	Created      string     `json:"created"`
	PolicyDigest string     `json:"policy_digest"`
	Target       planTarget `json:"target"`
	Scanned      int        `json:"scanned"`
	Compliant    int        `json:"compliant"`
}

// applyCounts count apply's keys by outcome, and its writes.
type applyCounts struct {
	Planned          int `json:"planned"`             // keys the plan changes
	Changed          int `json:"changed"`             // ... whose changes were written
	ChangedSincePlan int `json:"changed_since_plan"`  // ... left alone: their tags are not those the plan read
	NotPolicy        int `json:"not_policy_decision"` // ... left alone: the policies do not decide the plan's changes for them
	AlreadyApplied   int `json:"already_applied"`     // ... left alone: they already have the tags the plan leaves them with
	Failed           int `json:"failed"`              // ... whose read or write failed
	NotAttempted     int `json:"not_attempted"`       // ... not tried: apply stopped
	Skipped          int `json:"skipped"`             // keys deleted since the plan, default keys, and the plan's skipped and failed keys
	Unread           int `json:"unread"`              // ... of which the plan could not read (failed in the plan): nothing planned
	Violating        int `json:"violating"`           // keys left with violations no change fixes
	Writes           int `json:"writes"`              // BatchCreateKmsTags calls made
}

// applyKey is one key of apply's result.
type applyKey struct {
	KeyID   string          `json:"key_id"`
	Alias   string          `json:"alias,omitempty"`
	Outcome handler.Outcome `json:"outcome"`
	// Create and Delete are the planned changes: written when the outcome
	// is changed, in part at most when failed.
	Create     []policy.Tag       `json:"create,omitempty"`
	Delete     []policy.Tag       `json:"delete,omitempty"`
	Violations []policy.Violation `json:"violations,omitempty"`
	// Drift says how the tags of a key changed_since_plan differ from
	// those the plan read.
	Drift  []tagDrift `json:"drift,omitempty"`
	Error  string     `json:"error,omitempty"`
	Reason string     `json:"reason,omitempty"`
}

// tagDrift is a tag whose value differs from the one the plan read; nil is
// absent.
type tagDrift struct {
	Tag  string  `json:"tag"`
	Read *string `json:"read"`
	Now  *string `json:"now"`
}

// drift lists the tags whose values differ between read and now, in order.
func drift(read, now map[string]string) []tagDrift {
	var out []tagDrift
	for _, t := range sortedTags(unionKeys(read, now)) {
		r, rok := read[t]
		n, nok := now[t]
		if rok == nok && r == n {
			continue
		}
		d := tagDrift{Tag: t}
		if rok {
			d.Read = &r
		}
		if nok {
			d.Now = &n
		}
		out = append(out, d)
	}
	return out
}

func unionKeys(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, b)
	return out
}

// describeDrift says what changed, in a few words.
func describeDrift(ds []tagDrift) string {
	var parts []string
	for _, d := range ds {
		switch {
		case d.Read == nil:
			parts = append(parts, fmt.Sprintf("%s=%s added", d.Tag, quoteIfNeeded(*d.Now)))
		case d.Now == nil:
			parts = append(parts, fmt.Sprintf("%s removed", d.Tag))
		default:
			parts = append(parts, fmt.Sprintf("%s %s → %s", d.Tag, quoteIfNeeded(*d.Read), quoteIfNeeded(*d.Now)))
		}
	}
	if len(parts) > 3 {
		parts = append(parts[:3], fmt.Sprintf("%d more", len(parts)-3))
	}
	return strings.Join(parts, ", ")
}

// applyPlan applies p through store with conc keys at once: for each key
// with changes, its tags are read again and its batches (at most maxBatch
// tags each) written only if they are exactly the tags the plan read. p
// must have passed check. Denied access or a cancelled ctx stops the keys
// not yet started. Each key tried is logged (info) on log.
func applyPlan(ctx context.Context, store handler.KeyStore, engine *policy.Engine, p *savedPlan, conc, maxBatch int, log logrus.FieldLogger) applyResult {
	res := applyResult{
		FormatVersion: applyFormatVersion,
		Plan: appliedPlan{File: p.file, Created: p.Created, PolicyDigest: p.PolicyDigest, Target: p.Target,
			Scanned: p.Counts.Scanned, Compliant: p.Counts.Compliant},
		Started: time.Now().UTC(),
		Keys:    make([]applyKey, len(p.Keys)),
	}
	// Ctrl-C (ctx) stops starting keys; the writes of keys already started
	// finish, so that what the result says was written is what was.
	// Denied access stops the calls too.
	work, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	var (
		mu      sync.Mutex
		stopped error
		writes  int
	)
	halt := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if stopped == nil {
			stopped = err
		}
		stop()
	}
	// The time the plan decided at (checked by check; the policies may
	// depend on it: grace periods, exemptions that expire).
	planned, _ := time.Parse(time.RFC3339, p.Created)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range max(conc, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				k, n, err := applyKeyPlan(handler.WithKeyOrder(work, int64(i+1)), store, engine, planned, p.Keys[i], maxBatch)
				res.Keys[i] = k
				log.WithFields(logrus.Fields{"key_id": k.KeyID, "outcome": string(k.Outcome), "create": len(k.Create),
					"delete": len(k.Delete), "writes": n, "error": k.Error, "reason": k.Reason}).Info("apply planned change")
				mu.Lock()
				writes += n
				mu.Unlock()
				if err != nil {
					halt(err)
				}
			}
		}()
	}
	for i, k := range p.Keys {
		ak := applyKey{KeyID: k.KeyID, Alias: k.Alias, Outcome: k.Outcome, Create: k.Create, Delete: k.Delete,
			Violations: k.Violations, Error: k.Error, Reason: k.Reason}
		switch k.Outcome {
		case handler.OutcomePlanned:
			if work.Err() == nil && ctx.Err() == nil {
				select {
				case jobs <- i:
					continue
				case <-work.Done():
				case <-ctx.Done():
				}
			}
			ak.Outcome, ak.Reason = outcomeNotAttempted, "not attempted: apply stopped before this key"
		case handler.OutcomeFailed:
			ak.Outcome = handler.OutcomeSkipped
			ak.Reason = "nothing planned: the plan could not read this key (" + oneLine(k.Error) + "); plan again"
			ak.Error = ""
			res.Counts.Unread++
		}
		res.Keys[i] = ak
	}
	close(jobs)
	wg.Wait()
	res.Finished = time.Now().UTC()
	switch {
	case ctx.Err() != nil:
		res.Error = "interrupted"
	case stopped != nil:
		res.Error = "stopped: " + stopped.Error()
	}
	for _, k := range res.Keys {
		switch k.Outcome {
		case handler.OutcomeChanged:
			res.Counts.Changed++
		case outcomeStale:
			res.Counts.ChangedSincePlan++
		case outcomeNotPolicy:
			res.Counts.NotPolicy++
		case outcomeAlready:
			res.Counts.AlreadyApplied++
		case handler.OutcomeFailed:
			res.Counts.Failed++
		case outcomeNotAttempted:
			res.Counts.NotAttempted++
		case handler.OutcomeSkipped:
			res.Counts.Skipped++
		}
		if len(k.Create)+len(k.Delete) > 0 {
			res.Counts.Planned++
		}
		if hasUnremediated(handler.KeyReport{Outcome: k.Outcome, Violations: k.Violations}) {
			res.Counts.Violating++
		}
	}
	res.Counts.Writes = writes
	return res
}

// applyKeyPlan applies one planned key: reads it (attributes and tags),
// compares its tags with those the plan read, checks that the plan's
// changes are what the policies (engine, whose digest the plan names)
// decide for the key and those tags at the plan's time, and writes the
// batches. It returns the key's result, the writes made, and an error that
// stops the other keys (access denied, ctx done).
//
// The check against the policies is what keeps a file edited by hand, yet
// consistent, from writing what no policy decides (a tag no policy
// targets deleted, another key's tags): the file is a record of a
// decision, not an authority to write.
func applyKeyPlan(ctx context.Context, store handler.KeyStore, engine *policy.Engine, planned time.Time, k planKey, maxBatch int) (applyKey, int, error) {
	ak := applyKey{KeyID: k.KeyID, Alias: k.Alias, Outcome: handler.OutcomeChanged, Create: k.Create, Delete: k.Delete, Violations: k.Violations}
	if ctx.Err() != nil {
		ak.Outcome, ak.Reason = outcomeNotAttempted, "not attempted: apply stopped before this key"
		return ak, 0, nil
	}
	rec, err := store.Key(ctx, k.KeyID)
	now := rec.Tags
	if err == nil && now == nil {
		now, err = store.Tags(ctx, k.KeyID)
	}
	if now == nil {
		now = map[string]string{}
	}
	switch {
	case err == nil:
	case errors.Is(err, handler.ErrNotFound):
		ak.Outcome, ak.Reason = handler.OutcomeSkipped, "key not found: deleted since the plan"
		return ak, 0, nil
	case ctx.Err() != nil:
		ak.Outcome, ak.Reason = outcomeNotAttempted, "not attempted: apply stopped before this key"
		return ak, 0, nil
	case errors.Is(err, handler.ErrDenied):
		ak.Outcome, ak.Error = handler.OutcomeFailed, "read tags: "+err.Error()
		return ak, 0, err
	default:
		ak.Outcome, ak.Error = handler.OutcomeFailed, "read tags: "+err.Error()
		return ak, 0, nil
	}
	if !maps.Equal(now, k.Read) {
		if maps.Equal(now, k.decision().Apply(k.Read)) {
			ak.Outcome, ak.Reason = outcomeAlready, "already has the tags the plan leaves it with (applied before?): nothing written"
			return ak, 0, nil
		}
		ak.Outcome, ak.Drift = outcomeStale, drift(k.Read, now)
		ak.Reason = "changed since the plan (" + describeDrift(ak.Drift) + "): not written; plan again"
		return ak, 0, nil
	}
	if d := engine.Evaluate(rec.Key, k.Read, planned); !sameChanges(d, k.decision()) {
		ak.Outcome = outcomeNotPolicy
		ak.Reason = fmt.Sprintf("the plan's changes (%s) are not what the policies decide for this key (%s): not written; plan again",
			describeChanges(k.decision()), describeChanges(d))
		return ak, 0, nil
	}
	batches := k.decision().Batches(maxBatch)
	for i, b := range batches {
		if err := store.Apply(ctx, k.KeyID, b); err != nil {
			done := ""
			if i > 0 {
				done = fmt.Sprintf(" (after %d of %d calls: the key is partly changed)", i, len(batches))
			}
			switch {
			case errors.Is(err, handler.ErrDefaultKey):
				ak.Outcome, ak.Reason = handler.OutcomeSkipped, "default key: a service's default key cannot be tagged"
				return ak, i, nil
			case errors.Is(err, handler.ErrDenied):
				ak.Outcome, ak.Error = handler.OutcomeFailed, fmt.Sprintf("%s %d tags: %v%s", b.Action, len(b.Tags), err, done)
				return ak, i, err
			}
			ak.Outcome, ak.Error = handler.OutcomeFailed, fmt.Sprintf("%s %d tags: %v%s", b.Action, len(b.Tags), err, done)
			if ctx.Err() != nil {
				return ak, i, ctx.Err()
			}
			return ak, i, nil
		}
	}
	return ak, len(batches), nil
}

// sameChanges reports whether two decisions create and delete the same
// tags, whatever their order.
func sameChanges(a, b policy.Decision) bool {
	set := func(d policy.Decision) map[string]bool {
		m := map[string]bool{}
		for _, t := range d.Create {
			m["+"+t.Key+"="+t.Value] = true
		}
		for _, t := range d.Delete {
			m["-"+t.Key+"="+t.Value] = true
		}
		return m
	}
	return maps.Equal(set(a), set(b))
}

// describeChanges shows a decision's changes in a message.
func describeChanges(d policy.Decision) string {
	var parts []string
	for _, t := range d.Create {
		parts = append(parts, "+"+t.Key+"="+t.Value)
	}
	for _, t := range d.Delete {
		parts = append(parts, "-"+t.Key)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// report shows the result as a handler report, for the table and the
// summary: keys changed since the plan are skipped, with the reason.
func (r applyResult) report() handler.Report {
	rep := handler.Report{Mode: handler.ModeSweep, Scanned: r.Plan.Scanned, Compliant: r.Plan.Compliant,
		Changed: r.Counts.Changed, Failed: r.Counts.Failed,
		Skipped: r.Counts.Skipped + r.Counts.ChangedSincePlan + r.Counts.NotPolicy + r.Counts.AlreadyApplied + r.Counts.NotAttempted}
	for _, k := range r.Keys {
		kr := handler.KeyReport{KeyID: k.KeyID, Alias: k.Alias, Outcome: k.Outcome, Violations: k.Violations, Error: k.Error, Reason: k.Reason}
		switch k.Outcome {
		case handler.OutcomeChanged:
			kr.Create, kr.Delete = k.Create, k.Delete
		case outcomeStale, outcomeNotPolicy, outcomeAlready, outcomeNotAttempted:
			kr.Outcome = handler.OutcomeSkipped
		case handler.OutcomeViolation:
			rep.Violating++
		}
		rep.Keys = append(rep.Keys, kr)
	}
	return rep
}

// summary is apply's one-line account.
func (r applyResult) summary() string {
	s := summary(r.report())
	var more []string
	if n := r.Counts.ChangedSincePlan; n > 0 {
		more = append(more, fmt.Sprintf("%d changed since the plan, not written (plan again)", n))
	}
	if n := r.Counts.NotPolicy; n > 0 {
		more = append(more, fmt.Sprintf("%d whose planned changes the policies do not decide, not written (plan again)", n))
	}
	if n := r.Counts.AlreadyApplied; n > 0 {
		more = append(more, fmt.Sprintf("%d already as planned", n))
	}
	if n := r.Counts.NotAttempted; n > 0 {
		more = append(more, fmt.Sprintf("%d not attempted", n))
	}
	if len(more) > 0 {
		s += "; of the skipped: " + strings.Join(more, ", ")
	}
	return s
}

// exitCode: 1 if a key failed or apply stopped, or the plan this apply
// made could not read a key; 2 if keys were changed since the plan, a saved
// plan could not read some, or violations remain that no change fixes;
// else 0.
func (r applyResult) exitCode() int {
	switch {
	case r.Error != "" || r.Counts.Failed > 0 || r.Counts.NotAttempted > 0:
		return exitError
	case r.Counts.Unread > 0 && r.Plan.File == "":
		return exitError
	case r.Counts.ChangedSincePlan > 0 || r.Counts.NotPolicy > 0 || r.Counts.Violating > 0 || r.Counts.Unread > 0:
		return exitFound
	}
	return exitOK
}

// storeTarget is the target a store works on: cfg's region, the store's
// project and endpoint.
func storeTarget(region string, store handler.KeyStore) planTarget {
	t := planTarget{Region: region}
	if s, ok := store.(*huaweikms.Store); ok {
		t.ProjectID, t.Endpoint = s.ProjectID(), s.Endpoint()
	}
	return t
}
