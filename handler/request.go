package handler

import (
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
	// Trigger names the source for the report and logs: timer, schedule, cts, eventgrid, manual, cli.
	Trigger string `json:"trigger,omitempty"`
	// Reason explains a ModeIgnore request, or why a key event was raised.
	Reason string `json:"reason,omitempty"`
}

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
	Error      string             `json:"error,omitempty"`
	Reason     string             `json:"reason,omitempty"`
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
	// Keys lists every key that was not compliant: changed or planned, with
	// violations, failed, or skipped.
	Keys []KeyReport `json:"keys"`
	// Continuation, when set, resumes the sweep in the next request.
	Continuation string `json:"continuation,omitempty"`
	Reason       string `json:"reason,omitempty"`
	// Error is set when the request as a whole failed or stopped early: an
	// invalid request or continuation, a listing error, denied access.
	// Errors of one key are in its KeyReport.
	Error string `json:"error,omitempty"`
}
