package outputs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/tagwarden/tagwarden/handler"
)

// A run over several targets (a fan-out) sends one notification. Its
// targets end independently, on any instance, and tagwarden has no store
// of its own but the report store; so each target's end writes its part
// (the findings it would notify, in its summary) and a "done" marker, and
// the one that finds every target's marker there writes a claim, reads it
// back after claimWait, and, if the claim is still its own, gathers the
// parts and publishes. The targets' states mark the findings handed over
// as pending on the run; the next run of each target reads whether the
// run's notification went out (its "notified" record) and takes them as
// notified then, or as never notified: a finding is never lost, and is
// notified at most once more than needed when two ends race past the
// claim (docs/outputs.md).

// claimWait is how long a target that claims a run's notification waits
// before it reads the claim back.
const claimWait = 300 * time.Millisecond

// maxGroupReads bounds the reads of a group's markers in flight at once.
const maxGroupReads = 16

// fanoutTargets returns the targets a run's fan-out dispatched, and the
// fan-out's report without its keys (when it started, what triggered it),
// when the run is a sweep started by a fan-out whose report was stored
// (nil otherwise: a run of one target).
func (r *Recorder) fanoutTargets(ctx context.Context, c Clients, rep *handler.Report, run string) ([]string, handler.Report) {
	if !c.Group || c.Store == nil || rep.Mode != handler.ModeSweep || rep.Run == "" {
		return nil, handler.Report{}
	}
	key := r.layout.Fanout(run)
	var fan handler.Report
	o := handler.OutputReport{Output: "obs", What: "read", Where: c.Store.Where(key)}
	var notFound bool
	err := r.attempt(ctx, &o, func(ctx context.Context) error {
		rc, err := c.Store.Get(ctx, key)
		if absent(err) {
			notFound = true
			return nil
		}
		if err != nil {
			return err
		}
		defer rc.Close()
		fan = handler.Report{}
		return EachKey(rc, func(h handler.Report) error { fan = h; return nil }, func(handler.KeyReport) error { return nil })
	})
	if err != nil {
		// Not knowing the run's targets, the target notifies alone.
		o.Reason = "the fan-out's report could not be read: this target's run is notified on its own"
		rep.Outputs = append(rep.Outputs, o)
		return nil, handler.Report{}
	}
	if notFound {
		return nil, handler.Report{}
	}
	var names []string
	for _, t := range fan.Targets {
		if t.Dispatched {
			names = append(names, t.Target)
		}
	}
	return names, fan
}

// block is the target's part of a group's notification.
func (g *gathered) block() *NotifyBlock {
	return &NotifyBlock{Findings: g.notify, More: g.more, MoreKeys: g.moreKeys, MoreNew: g.moreNew, Owners: g.owners, Due: g.due}
}

// groupMark is a done marker, a claim or the record of a published
// notification.
type groupMark struct {
	Target    string    `json:"target,omitempty"`
	Token     string    `json:"token,omitempty"`
	At        time.Time `json:"at"`
	MessageID string    `json:"message_id,omitempty"`
	// Sending, in the run's notified record, is when an end started to
	// send the message (At is then zero until it was published).
	Sending time.Time `json:"sending,omitempty"`
}

// endOfGroup ends one target's part of a run over several targets: its
// done marker, and, when it is the last, the run's one notification.
func (r *Recorder) endOfGroup(ctx context.Context, c Clients, rep *handler.Report, target, run string, group []string, stale bool) []handler.OutputReport {
	now := r.opts.Now().UTC()
	out := []handler.OutputReport{r.putJSON(ctx, c.Store, "done", r.layout.FanoutDone(run, target), groupMark{Target: target, At: now}, false)}
	if !out[0].OK {
		return out
	}
	note := handler.OutputReport{Output: "smn", What: "notification", Where: c.Notifier.Where(), OK: true, Skipped: true}
	if stale {
		// A newer run of this target has ended: the run's findings still
		// pending were due again in it, and notified there.
		note.Reason = "a newer run of this target has ended: this run's notification is left to it"
		r.logOutput(note)
		return append(out, note)
	}
	missing, err := r.othersDone(ctx, c.Store, run, target, group)
	switch {
	case err != nil:
		note.OK, note.Skipped, note.Error = false, false, "could not tell whether the run's other targets ended: "+err.Error()+"; their findings stay due for the next run"
		return append(out, note)
	case missing > 0:
		note.Reason = fmt.Sprintf("the run's one notification is sent by the last of its %d targets to end; others have not ended yet", len(group))
		r.logOutput(note)
		return append(out, note)
	}
	// Every target ended. Another end (a target that ended at the same
	// time, a link delivered again) may be sending the message already.
	if sent, _ := r.sent(ctx, c.Store, run); sent {
		note.Reason = alreadySent
		r.logOutput(note)
		return append(out, note)
	}
	// Claim the notification.
	b := make([]byte, 8)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	token := hex.EncodeToString(b)
	claim := r.putJSON(ctx, c.Store, "claim", r.layout.FanoutClaim(run), groupMark{Target: target, Token: token, At: now}, false)
	out = append(out, claim)
	if !claim.OK {
		return out
	}
	select {
	case <-ctx.Done():
		return out
	case <-time.After(claimWait):
	}
	var got groupMark
	switch err := r.getJSON(ctx, c.Store, r.layout.FanoutClaim(run), &got); {
	case err != nil:
		note.OK, note.Skipped, note.Error = false, false, "could not read the claim back ("+err.Error()+"): not sent, lest it go out twice; unless another end sent it, the run's findings are due again in the next run"
		r.logOutput(note)
		return append(out, note)
	case got.Token != token:
		note.Reason = "the run's notification is sent by another of its targets, which ended at the same time"
		r.logOutput(note)
		return append(out, note)
	}
	switch sent, err := r.sent(ctx, c.Store, run); {
	case err != nil:
		note.OK, note.Skipped, note.Error = false, false, "could not read whether another end is sending the run's notification ("+err.Error()+"): not sent, lest it go out twice; unless another end sent it, the run's findings are due again in the next run"
		r.logOutput(note)
		return append(out, note)
	case sent:
		note.Reason = alreadySent
		r.logOutput(note)
		return append(out, note)
	}
	// Say it is being sent, before sending: an end whose claim landed late
	// (a slow PUT) then finds this record rather than publishing too. If
	// the message then fails, the record has no time sent: the next runs
	// take the findings as never notified.
	out = append(out, r.putJSON(ctx, c.Store, "sending", r.layout.FanoutNotified(run), groupMark{Target: target, Token: token, Sending: r.opts.Now().UTC()}, false))
	sum, g, reads := r.gatherGroup(ctx, c.Store, rep, run, group)
	out = append(out, reads...)
	o, ok := r.notify(ctx, c.Notifier, sum, g)
	out = append(out, o)
	if ok {
		out = append(out, r.putJSON(ctx, c.Store, "notified", r.layout.FanoutNotified(run), groupMark{Target: target, At: r.opts.Now().UTC(), MessageID: o.ID}, false))
	}
	return out
}

// alreadySent is the reason of an end that leaves the run's message to
// another that is sending it or sent it.
const alreadySent = "the run's notification is being sent or went out already, from another end of the run"

// sent reports whether the run's notification is recorded as being sent
// or published (Layout.FanoutNotified); err when the record could not be
// read (an absent record is not sent).
func (r *Recorder) sent(ctx context.Context, st Store, run string) (bool, error) {
	var mark groupMark
	err := r.getJSON(ctx, st, r.layout.FanoutNotified(run), &mark)
	switch {
	case absent(err):
		return false, nil
	case err != nil:
		return false, err
	}
	return !mark.At.IsZero() || !mark.Sending.IsZero(), nil
}

// othersDone counts the targets of group, other than target, whose done
// marker is not there yet (absent). It reads the markers maxGroupReads
// at a time, in random order, and stops at the first batch that finds one missing:
// a target that does not end last learns it from a batch or so, and only
// the last reads every marker.
func (r *Recorder) othersDone(ctx context.Context, st Store, run, target string, group []string) (int, error) {
	var others []string
	for _, t := range group {
		if t != target {
			others = append(others, t)
		}
	}
	mrand.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
	var first error
	for start := 0; start < len(others); start += maxGroupReads {
		batch := others[start:min(start+maxGroupReads, len(others))]
		var (
			mu      sync.Mutex
			missing int
			wg      sync.WaitGroup
		)
		for _, t := range batch {
			wg.Add(1)
			go func(t string) {
				defer wg.Done()
				var m groupMark
				err := r.getJSON(ctx, st, r.layout.FanoutDone(run, t), &m)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case absent(err):
					// Taken as not ended: the last target, which finds
					// every marker, still sends.
					missing++
				case err != nil && first == nil:
					first = err
				}
			}(t)
		}
		wg.Wait()
		if missing > 0 {
			return missing, nil // not the last: whether a read failed does not matter
		}
	}
	return 0, first
}

// getJSON reads a small JSON object, with the outputs' retries; a missing
// object is an error that Is ErrNotFound.
func (r *Recorder) getJSON(ctx context.Context, st Store, key string, v any) error {
	o := handler.OutputReport{}
	var nf error
	err := r.attemptQuiet(ctx, &o, func(ctx context.Context) error {
		rc, err := st.Get(ctx, key)
		if errors.Is(err, ErrNotFound) {
			nf = err
			return nil
		}
		if err != nil {
			return err
		}
		defer rc.Close()
		return json.NewDecoder(io.LimitReader(rc, 8<<20)).Decode(v)
	})
	if err != nil {
		return err
	}
	return nf
}

// gatherGroup reads every target's summary of the run and merges their
// parts into one summary and one list to notify, as long as a message
// can list, counting the rest.
func (r *Recorder) gatherGroup(ctx context.Context, st Store, rep *handler.Report, run string, group []string) (Summary, *gathered, []handler.OutputReport) {
	sum := Summary{Run: run, Target: fmt.Sprintf("%d targets", len(group)), Mode: rep.Mode, DryRun: rep.DryRun,
		State: handler.ChainDone, Complete: true}
	g := &gathered{owners: map[string]int{}}
	var outs []handler.OutputReport
	sorted := append([]string(nil), group...)
	sort.Strings(sorted)
	var counts handler.Counts
	failed, unread := 0, 0
	for _, t := range sorted {
		key := r.layout.Summary(t, run)
		var ss StoredSummary
		if err := r.getJSON(ctx, st, key, &ss); err != nil {
			sum.Targets = append(sum.Targets, TargetSummary{Target: t, Missing: err.Error()})
			sum.Complete, sum.State = false, "incomplete"
			outs = append(outs, handler.OutputReport{Output: "obs", What: "read", Where: st.Where(key), Error: err.Error()})
			unread++
			continue
		}
		if ss.Error != "" {
			failed++
		}
		counts = counts.Add(ss.Counts)
		sum.Findings += ss.Findings
		sum.New += ss.New
		if sum.Started.IsZero() || ss.Started.Before(sum.Started) {
			sum.Started = ss.Started
		}
		if sum.Trigger == "" {
			sum.Trigger = ss.Trigger // the fan-out's, as each target's end took it
		}
		if ss.Finished.After(sum.Finished) {
			sum.Finished = ss.Finished
		}
		if !ss.Complete {
			sum.Complete, sum.State = false, "incomplete"
		}
		sum.Targets = append(sum.Targets, TargetSummary{Target: t, State: ss.State, Complete: ss.Complete, Counts: ss.Counts,
			Findings: ss.Findings, New: ss.New, Page: ss.Page, Error: ss.Error})
		b := ss.Notify
		if b == nil {
			continue
		}
		g.due += b.Due
		for o, n := range b.Owners {
			g.owners[o] += n
		}
		for _, f := range b.Findings {
			g.keep(f, r.opts.MessageLimit)
		}
		g.more += b.More
		g.moreKeys += b.MoreKeys
		g.moreNew += b.MoreNew
	}
	if failed > 0 {
		sum.Error = fmt.Sprintf("%d of the run's %d targets ended with an error (below)", failed, len(group))
	}
	if unread > 0 {
		sum.Error = joinErrors(sum.Error, fmt.Sprintf("the summaries of %d targets could not be read: their keys are not listed", unread))
	}
	sum.Counts = counts
	for p, n := range counts.Policies {
		sum.Policies = append(sum.Policies, PolicyCount{Policy: p, Violating: n})
	}
	sort.Slice(sum.Policies, func(i, j int) bool { return sum.Policies[i].Policy < sum.Policies[j].Policy })
	return sum, g, outs
}
