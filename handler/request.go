package handler

import (
	"fmt"
	"slices"
	"time"

	"github.com/tagwarden/tagwarden/policy"
)

// Mode says what a request asks for.
type Mode string

// Request modes.
const (
	// ModeSweep evaluates every key of the project.
	ModeSweep Mode = "sweep"
	// ModeKeys evaluates the named keys (a key event, or a manual check).
	ModeKeys Mode = "keys"
	// ModeIgnore does nothing; Request.Reason says why (an event that concerns no key).
	ModeIgnore Mode = "ignore"
)

// Request is the one shape every trigger on every platform becomes.
type Request struct {
	Mode   Mode     `json:"mode"`
	KeyIDs []string `json:"key_ids,omitempty"`
	// DryRun overrides the configured default when set.
	DryRun *bool `json:"dry_run,omitempty"`
	// Continuation resumes a sweep cut short by a deadline.
	Continuation string `json:"continuation,omitempty"`
	// Trigger names the source for the report and logs: one of the
	// Trigger constants, or cli. Key requests of an event trigger
	// (IsEventTrigger) return no continuation.
	Trigger string `json:"trigger,omitempty"`
	// Reason explains a ModeIgnore request, or why a key event was raised.
	Reason string `json:"reason,omitempty"`
	// Run and Link place the request in a run (a sweep of several targets,
	// or one target's sweep continuing itself): the run's id and this
	// link's number, from 1. A continuation issued in a run carries both
	// and must match them; the report repeats them and adds the totals of
	// the target's sweep so far. Empty for a request outside a run.
	Run  string `json:"run,omitempty"`
	Link int    `json:"link,omitempty"`
	// EventID is the trigger event's own id when it has one that every
	// delivery of the event repeats (an EventBridge event's id): a run
	// started by the event takes its id from it, so that a second delivery
	// starts the same run. The handler does not read it.
	EventID string `json:"event_id,omitempty"`
	// Resumed, set by the invocation (never by a payload), says a person
	// passed the continuation on by hand (the payload named no run): a
	// new stretch of the chain starts at this link (Report.ChainBase).
	Resumed bool `json:"-"`
	// Restart, set by the invocation (never by a payload), lets a later
	// link start its target's sweep afresh, without a continuation: the
	// link's own, stale, continuation verified (KindStaleContinuation).
	Restart bool `json:"-"`
	// Target names the one target (region/project) a sweep is for, and
	// Targets the targets a sweep fans out to: the invocation resolves
	// them against the configured set and chooses the store; the handler
	// does not read them.
	Target  string   `json:"target,omitempty"`
	Targets []string `json:"targets,omitempty"`
	// Events holds, by key id, the event that named each key of a key event
	// (ModeKeys): policies see it as `event` (policy.Event). Keys without
	// one, sweeps and manual checks are evaluated with no event.
	Events map[string]policy.Event `json:"events,omitempty"`
}

// The form of a key id (see ValidKeyID).
const (
	// MaxKeyIDLen is the longest key id, in bytes.
	MaxKeyIDLen = 64
	// KeyIDForm says what a key id is, for messages.
	KeyIDForm = "1 to 64 letters, digits, '-' or '_'"
)

// ValidKeyID checks that id has the form of a KMS key id: 1 to MaxKeyIDLen
// letters, digits, '-' or '_' (real ids are UUIDs). It is the one rule of
// a key id: the event decoders refuse others, and the KMS adapter never
// puts another into a URL path. The error, wrapping ErrInvalid, says what
// a key id is and never repeats id.
func ValidKeyID(id string) error {
	ok := id != "" && len(id) <= MaxKeyIDLen
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
	}
	if !ok {
		return fmt.Errorf("not a key id (%s): %w", KeyIDForm, ErrInvalid)
	}
	return nil
}

// Triggers of requests.
const (
	TriggerTimer     = "timer"
	TriggerSchedule  = "schedule"
	TriggerCTS       = "cts"
	TriggerEventGrid = "eventgrid"
	TriggerManual    = "manual"
)

// Outcome of one key.
type Outcome string

// Key outcomes in a report.
const (
	OutcomeCompliant Outcome = "compliant"
	OutcomeChanged   Outcome = "changed"   // changes were applied
	OutcomePlanned   Outcome = "planned"   // dry run: changes would be applied
	OutcomeViolation Outcome = "violation" // violations that no change fixes (report-only, conflict, cannot remediate)
	OutcomeFailed    Outcome = "failed"    // an error; Error says which
	OutcomeSkipped   Outcome = "skipped"   // default key, exempt; Reason says why
)

// KeyReport is what happened to one key.
type KeyReport struct {
	KeyID      string             `json:"key_id"`
	Alias      string             `json:"alias,omitempty"`
	Outcome    Outcome            `json:"outcome"`
	Create     []policy.Tag       `json:"create,omitempty"`
	Delete     []policy.Tag       `json:"delete,omitempty"`
	Violations []policy.Violation `json:"violations,omitempty"`
	// Exemptions lists the entries of the exemptions file that name the
	// key, expired ones included: a key an entry names is listed in the
	// report even when compliant, so that a sweep shows what each entry
	// exempts (and which entries exempt nothing).
	Exemptions []policy.ExemptionMatch `json:"exemptions,omitempty"`
	Error      string                  `json:"error,omitempty"`
	Reason     string                  `json:"reason,omitempty"`
}

// listed reports whether a key's entry goes in Report.Keys: a key that is
// not compliant, or that an exemption entry names.
func (kr KeyReport) listed() bool {
	return kr.Outcome != OutcomeCompliant || len(kr.Exemptions) > 0
}

// Report is the result of one request.
type Report struct {
	RequestID string    `json:"request_id,omitempty"`
	Mode      Mode      `json:"mode"`
	Trigger   string    `json:"trigger,omitempty"`
	DryRun    bool      `json:"dry_run"`
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`
	Scanned   int       `json:"scanned"`
	Compliant int       `json:"compliant"`
	// Changed counts keys whose changes were applied; Planned counts keys
	// whose changes a dry run would apply. Every scanned key counts in
	// exactly one of Compliant, Changed, Planned, Violating, Failed, Skipped.
	Changed   int `json:"changed"`
	Planned   int `json:"planned"`
	Violating int `json:"violating"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"`
	// Policies counts, per policy name, the keys with a violation of the
	// policy that this request did not fix (report-only policies,
	// conflicts, values that cannot be written, fixes held back or only
	// planned): the "violating keys per policy" of metrics and pages.
	Policies map[string]int `json:"policies,omitempty"`
	// Keys lists every key that was not compliant (changed or planned, with
	// violations, failed, or skipped), and every compliant key an exemption
	// entry names.
	Keys []KeyReport `json:"keys"`
	// Warnings say what makes the report less than exact, for instance a
	// sweep that resumed at a position the store could not find exactly
	// (keys added or removed around it between two invocations): some keys
	// near it may have been skipped or decided twice. A new sweep decides
	// every key.
	Warnings []string `json:"warnings,omitempty"`
	// Deferred counts keys decided by this request whose entries did not
	// fit in the report (Config.MaxReportBytes): they are in the
	// continuation, and the next request reports them as this one would
	// have (a change it made included). They are not counted in Scanned.
	Deferred int `json:"deferred,omitempty"`
	// Continuation, when set, resumes the sweep in the next request.
	Continuation string `json:"continuation,omitempty"`
	// Run, Link and Target place the report in a run (see Request.Run);
	// Target is the target's name (region/project), set by the invocation
	// that chose the store.
	Run    string `json:"run,omitempty"`
	Link   int    `json:"link,omitempty"`
	Target string `json:"target,omitempty"`
	// ChainBase, in a run, is the first link of the chain's current
	// stretch: 1, or the link a person resumed by hand. The chain's bound
	// (TAGWARDEN_MAX_CHAIN) counts links from it.
	ChainBase int `json:"chain_base,omitempty"`
	// Totals, in a run, counts the target's sweep so far: every link up to
	// and including this one (carried from link to link in the
	// continuation).
	Totals *Counts `json:"totals,omitempty"`
	// Chain says what became of the sweep after this link, in a run: see
	// ChainReport. Set by the invocation.
	Chain *ChainReport `json:"chain,omitempty"`
	// Targets lists, for a sweep fanned out over several targets, what was
	// dispatched to each. Set by the invocation.
	Targets []TargetReport `json:"targets,omitempty"`
	Reason  string         `json:"reason,omitempty"`
	// Error is set when the request as a whole failed or stopped early: an
	// invalid request or continuation, a listing error, denied access.
	// Errors of one key are in its KeyReport.
	Error string `json:"error,omitempty"`
	// ErrorKind classifies Error; set exactly when Error is.
	ErrorKind ErrorKind `json:"error_kind,omitempty"`
	// Outputs lists what the invocation sent to its outputs (stored
	// reports, notification, metrics) and what failed. Set by the
	// invocation; an output that fails never fails the request.
	Outputs []OutputReport `json:"outputs,omitempty"`
}

// Merge adds next, the report of the request that resumed r's
// continuation, to r: the counts add up and next's key entries follow r's;
// next's continuation and deferred count (the keys that continuation
// carries), finish time, and its reason, error and error kind when set,
// replace r's. Mode, trigger, dry run, request id and start time stay r's.
func (r *Report) Merge(next Report) {
	r.Finished = next.Finished
	r.Scanned += next.Scanned
	r.Compliant += next.Compliant
	r.Changed += next.Changed
	r.Planned += next.Planned
	r.Violating += next.Violating
	r.Failed += next.Failed
	r.Skipped += next.Skipped
	r.Policies = addPolicies(r.Policies, next.Policies)
	r.Keys = append(r.Keys, next.Keys...)
	for _, w := range next.Warnings {
		if !slices.Contains(r.Warnings, w) {
			r.Warnings = append(r.Warnings, w)
		}
	}
	r.Deferred = next.Deferred
	r.Continuation = next.Continuation
	if next.Reason != "" {
		r.Reason = next.Reason
	}
	if next.Error != "" {
		r.Error, r.ErrorKind = next.Error, next.ErrorKind
	}
}

// ReasonNothingDone is the Reason of a report whose request was refused
// before any key was read: its token did not verify or no longer fits,
// or the request cannot be served as given.
const ReasonNothingDone = "nothing was done"

// Refused reports whether the report's request was refused before any
// key was read: an invalid request, the function's configuration, or a
// continuation that was not served (ReasonNothingDone).
func (r *Report) Refused() bool {
	switch r.ErrorKind {
	case KindInvalidRequest, KindConfiguration:
		return true
	}
	return r.Error != "" && r.Reason == ReasonNothingDone
}

// ErrorKind says what kind of failure a report's Error is, so that callers
// decide without parsing the message.
type ErrorKind string

// Report error kinds.
const (
	// KindInvalidRequest: the request cannot be served as given (unknown
	// mode, no key ids, too many key ids). Retrying it cannot help.
	KindInvalidRequest ErrorKind = "invalid_request"
	// KindInvalidContinuation: the continuation does not verify, belongs to
	// another scope, policy set or request, or is malformed. Nothing was
	// done; retrying with the same token cannot help.
	KindInvalidContinuation ErrorKind = "invalid_continuation"
	// KindStaleContinuation: the continuation verifies (this deployment
	// issued it) but no longer matches the configuration: it was issued
	// under another policy set, for another store scope (endpoint or
	// project), or longer ago than the continuation TTL. Nothing was done;
	// a new sweep of the same target starts clean.
	KindStaleContinuation ErrorKind = "stale_continuation"
	// KindChainStopped: a sweep that continues itself stopped before it
	// finished: its chain reached TAGWARDEN_MAX_CHAIN, or the next link
	// could not be dispatched. The report keeps the continuation (set by
	// the invocation; see ChainReport).
	KindChainStopped ErrorKind = "chain_stopped"
	// KindDenied: the store refused the credentials or the permission;
	// new work stopped. Resume with the continuation after fixing access.
	KindDenied ErrorKind = "denied"
	// KindListing: listing the keys failed (after the store's retries).
	KindListing ErrorKind = "listing_failed"
	// KindNoTime: the invocation's time before the deadline margin was too
	// short for any work. Raise the timeout or lower the margin.
	KindNoTime ErrorKind = "no_time"
	// KindInternal: a bug (a panic was contained).
	KindInternal ErrorKind = "internal"
	// KindConfiguration: the function is not configured to serve requests
	// (set by the platform adapters, never by the handler).
	KindConfiguration ErrorKind = "configuration"
)

// Err returns the report's error as a *ReportError carrying its kind (test
// it with errors.As), or nil.
func (r Report) Err() error {
	if r.Error == "" {
		return nil
	}
	return &ReportError{Kind: r.ErrorKind, Message: r.Error}
}

// ReportError is a report's error as a Go error.
type ReportError struct {
	Kind    ErrorKind
	Message string
}

func (e *ReportError) Error() string { return e.Message }
