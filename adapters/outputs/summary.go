package outputs

import (
	"time"

	"github.com/tagwarden/tagwarden/handler"
)

// Kinds of findings.
const (
	// KindViolation: a violation no tag change of this run fixes (a
	// report-only policy, a conflict, a value that cannot be written).
	KindViolation = "violation"
	// KindFailed: the key could not be decided or written.
	KindFailed = "failed"
	// KindChanged: tags were written (or, in a dry run, would be); listed
	// only when TAGWARDEN_NOTIFY_CHANGES is set.
	KindChanged = "changed"
)

// Finding is one thing a person should know about one key: what is wrong
// and what to do. A key with several problems has several findings, next
// to each other.
type Finding struct {
	// ID identifies the finding across runs (a digest of target, key,
	// kind, policy, rule and tag): the notification state remembers it.
	ID     string `json:"id"`
	Target string `json:"target,omitempty"`
	KeyID  string `json:"key_id"`
	Alias  string `json:"alias,omitempty"`
	Kind   string `json:"kind"`
	Policy string `json:"policy,omitempty"`
	Rule   string `json:"rule,omitempty"`
	Tag    string `json:"tag,omitempty"`
	// Problem says what is wrong (or, for a change, what was written).
	Problem string `json:"problem"`
	// Action says what to do.
	Action string `json:"action"`
	// Owner is who is responsible, from the policy's notify expression
	// ("" when the policy names none).
	Owner string `json:"owner,omitempty"`
	// New is true when the previous run did not have this finding.
	New bool `json:"new,omitempty"`
}

// PolicyCount is the number of violating keys of one policy.
type PolicyCount struct {
	Policy    string `json:"policy"`
	Violating int    `json:"violating"`
}

// Summary is what a run's end knows: its counts, per policy, its findings
// counted, and where its parts are stored.
type Summary struct {
	Run     string       `json:"run"`
	Target  string       `json:"target,omitempty"`
	Mode    handler.Mode `json:"mode"`
	Trigger string       `json:"trigger,omitempty"`
	DryRun  bool         `json:"dry_run"`
	Started time.Time    `json:"started"`
	// Finished is when the run's last invocation ended.
	Finished time.Time `json:"finished"`
	// State is the chain state of the run's last link (handler.Chain*),
	// or "done" for a run of one invocation that finished.
	State string `json:"state"`
	// Complete is true when every key of the run was decided.
	Complete bool `json:"complete"`
	// Error is the run's last error, if any.
	Error  string         `json:"error,omitempty"`
	Counts handler.Counts `json:"counts"`
	// Policies counts violating keys per policy, by name.
	Policies []PolicyCount `json:"policies"`
	// Findings counts the findings of the run; New those no message has
	// listed yet (with notifications off: those the previous state did not
	// have); Notified those the notification listed as new or repeated;
	// Suppressed those notified within the repeat interval.
	Findings   int `json:"findings"`
	New        int `json:"new"`
	Notified   int `json:"notified"`
	Suppressed int `json:"suppressed"`
	// Reports are the stored reports of the run's invocations; Page is
	// the stored HTML page (locations, obs://bucket/key).
	Reports []string `json:"reports,omitempty"`
	Page    string   `json:"page,omitempty"`
	// Targets, in the summary of a run over several targets (its one
	// notification), is each target's part.
	Targets []TargetSummary `json:"targets,omitempty"`
}

// TargetSummary is one target's part of a run over several targets.
type TargetSummary struct {
	Target   string         `json:"target"`
	State    string         `json:"state"`
	Complete bool           `json:"complete"`
	Counts   handler.Counts `json:"counts"`
	Findings int            `json:"findings"`
	New      int            `json:"new"`
	Page     string         `json:"page,omitempty"`
	// Error is the target's run's error, if any.
	Error string `json:"error,omitempty"`
	// Missing is set when the target's summary could not be read: its
	// keys are not in the notification.
	Missing string `json:"missing,omitempty"`
}
