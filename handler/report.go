package handler

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

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
	if kr.listed() {
		rep.Keys = append(rep.Keys, kr)
	}
	countPolicies(rep, kr)
	r.logKey(kr)
}

// countPolicies counts kr once in Report.Policies for each policy with a
// violation of kr that was not fixed.
func countPolicies(rep *Report, kr KeyReport) {
	for i, v := range kr.Violations {
		if v.Remediated && kr.Outcome == OutcomeChanged {
			continue
		}
		seen := false
		for _, w := range kr.Violations[:i] {
			if w.Policy == v.Policy && (!w.Remediated || kr.Outcome != OutcomeChanged) {
				seen = true
				break
			}
		}
		if seen {
			continue
		}
		if rep.Policies == nil {
			rep.Policies = map[string]int{}
		}
		rep.Policies[v.Policy]++
	}
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

// notifyDecision calls Config.OnDecision, if any, containing a panic of the
// hook.
func (r *run) notifyDecision(ev Decided) {
	if r.h.cfg.OnDecision == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			r.log.WithField("panic", fmt.Sprint(p)).Error("OnDecision hook panicked")
		}
	}()
	r.h.cfg.OnDecision(ev)
}

// logKey writes the one log entry of a key decision.
func (r *run) logKey(kr KeyReport) {
	fields := map[string]any{
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
		due := ""
		for _, v := range kr.Violations {
			if v.Due != "" && (due == "" || v.Due < due) {
				due = v.Due
			}
		}
		if due != "" {
			fields["due"] = due // the earliest fix held back by a grace period
		}
	}
	if len(kr.Exemptions) > 0 {
		var xs []string
		for _, x := range kr.Exemptions {
			if !x.Expired {
				xs = append(xs, x.Entry)
			}
		}
		if len(xs) > 0 {
			fields["exempted_by"] = strings.Join(xs, ",")
		}
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

// budget bounds a report by its encoded size, so that it always fits in a
// platform's synchronous response (6 MB on Lambda and FunctionGraph), and
// by its number of key entries, so that memory stays bounded.
//
// The report's fixed fields, the longest continuation the request can
// return and room for the reason are reserved first; each key entry costs
// its JSON encoding. An entry that would cross the budget is not added:
// its key goes to the continuation. The report is "full", and no new key
// starts, once the entries of every worker still in flight, each as large
// as the largest seen, might not fit.
type budget struct {
	limit    int // Config.MaxReportBytes
	used     int // reserved bytes plus the entries added
	reserved int // for the report's other fields and the continuation
	largest  int // the largest entry seen
	workers  int
	maxKeys  int
	deferred int
}

// Reserves of the budget, in bytes: the report's other fields (counts,
// times, request id, reason, error), and per key a continuation may name.
const (
	reserveFixed  = 8 << 10
	reservePerID  = 48  // a key id the continuation carries
	reservePerCut = 700 // a key put back, with the prior values of up to 10 tags
)

// Bounds of one key entry, so that no single entry can cross a budget:
// a violation's message is clipped, and the violations past the first
// maxEntryViolations are counted in the reason instead of listed.
const (
	maxEntryViolations = 20
	maxEntryText       = 300
)

func newBudget(cfg Config, rep *Report, ids int) budget {
	b := budget{limit: cfg.MaxReportBytes, workers: cfg.Concurrency, maxKeys: cfg.MaxReportKeys}
	// Keys the continuation may carry: those it was given, and those in
	// flight or deferred when the request stops.
	// At most half the budget, so that entries always have room.
	b.reserved = min(reserveFixed+reservePerID*ids+reservePerCut*2*cfg.Concurrency, b.limit/2)
	b.used = b.reserved
	return b
}

// fitEntry bounds one key entry (see maxEntryViolations): the report then
// holds any key, whatever its policies' messages or the values they quote.
func fitEntry(kr KeyReport) KeyReport {
	if n := len(kr.Violations); n > maxEntryViolations {
		kr.Violations = slices.Clone(kr.Violations[:maxEntryViolations])
		more := fmt.Sprintf("%d more violations not listed", n-maxEntryViolations)
		if kr.Reason != "" {
			more = kr.Reason + "; " + more
		}
		kr.Reason = more
	} else if n > 0 {
		kr.Violations = slices.Clone(kr.Violations)
	}
	for i := range kr.Violations {
		kr.Violations[i].Message = clipText(kr.Violations[i].Message)
	}
	kr.Error, kr.Reason = clipText(kr.Error), clipText(kr.Reason)
	return kr
}

// clipText shortens a text past maxEntryText bytes, on a rune boundary.
func clipText(s string) string {
	if len(s) <= maxEntryText {
		return s
	}
	cut := maxEntryText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// entrySize is the bytes kr adds to the encoded report (with its comma).
func entrySize(kr KeyReport) int {
	b, err := json.Marshal(kr)
	if err != nil {
		return 4 << 10
	}
	return len(b) + 1
}

// admit adds kr's entry if it fits (nkeys entries are in the report) and
// reports whether it did, and whether the report is now full.
func (b *budget) admit(kr KeyReport, nkeys int) (fits, full bool) {
	n := entrySize(kr)
	b.largest = max(b.largest, n)
	if b.used+n > b.limit && nkeys > 0 { // the first entry always goes in: a request moves on
		b.deferred++
		return false, true
	}
	b.used += n
	full = b.used+b.workers*b.largest > b.limit || nkeys+1 >= b.maxKeys
	return true, full
}

// force adds kr's entry whatever the budget: entries the request must
// report (the keys of a key event, which has no continuation). Past the
// budget an entry keeps what was done (outcome, changes, error, reason)
// and drops its violations, counted in the reason: at most MaxKeyIDs short
// entries, so that the report stays far under a platform's limit.
func (b *budget) force(kr KeyReport) KeyReport {
	if n := len(kr.Violations); n > 0 && b.used+entrySize(kr) > b.limit {
		kr.Violations = nil
		why := fmt.Sprintf("%d violations not listed: the report is full", n)
		if kr.Reason != "" {
			why = kr.Reason + "; " + why
		}
		kr.Reason = why
	}
	b.used += entrySize(kr)
	return kr
}

// reason says why the report was full.
func (b *budget) reason(nkeys int) string {
	why := fmt.Sprintf("report full: %d key entries in about %d bytes, with %d kept for the rest of the report and its continuation (%s=%d, %s=%d)",
		nkeys, b.used-b.reserved, b.reserved, settingMaxReportBytes, b.limit, settingMaxReportKeys, b.maxKeys)
	if b.deferred > 0 {
		why += fmt.Sprintf("; %d decided keys did not fit and are left to the continuation, which reports them", b.deferred)
	}
	return why
}
