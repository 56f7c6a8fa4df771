package events

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/tagwarden/tagwarden/handler"
)

// Manual payload actions.
const (
	ActionSweep = "sweep"
	ActionCheck = "check"
)

// The manual payload takes the handler's own limits: at most
// handler.MaxKeyIDs key ids in one check, each of the form handler.ValidKeyID
// accepts, and a continuation of at most handler.MaxContinuationLen bytes
// (a sweep's token carries the keys cut in flight, with the tags their
// writes were changing).

// Manual is the manual payload, as documented in the package comment. It is
// what a person types in the FunctionGraph console's test event, passes to
// a CLI invoke, or sets as an EventBridge Scheduler Input.
type Manual struct {
	Action       string   `json:"action"`
	KeyIDs       []string `json:"key_ids,omitempty"`
	DryRun       *bool    `json:"dry_run,omitempty"`
	Continuation string   `json:"continuation,omitempty"`
	// Target sweeps one target (region/project) in place; Targets fans the
	// sweep out, one asynchronous invocation per target. Names are checked
	// against the configured set by the invocation, each on its own: one
	// that does not parse fails alone.
	Target  string   `json:"target,omitempty"`
	Targets []string `json:"targets,omitempty"`
	// Run and Link are set by the function on the invocations it makes
	// itself: the run's id and the link's number.
	Run  string `json:"run,omitempty"`
	Link int    `json:"link,omitempty"`
}

// Bounds of the run fields of the manual payload.
const (
	// MaxTargets bounds the targets of one fan-out payload.
	MaxTargets = 1000
	// MaxTargetLen bounds one target name (region/project).
	MaxTargetLen = 128
	// MaxRunLen bounds a run id.
	MaxRunLen = 64
)

// manualFields are the manual payload's fields, with the JSON type each takes.
var manualFields = map[string]string{
	"action":       `"sweep" or "check"`,
	"key_ids":      "an array of key id strings",
	"dry_run":      "true or false",
	"continuation": "a string (the continuation of a previous report of the same action)",
	"target":       "a target name region/project_id",
	"targets":      "an array of target names region/project_id",
	"run":          "a run id (letters, digits, '-')",
	"link":         "a link number (an integer from 1)",
}

// isKeyID reports whether s has the form of a KMS key id (handler.ValidKeyID).
func isKeyID(s string) bool { return handler.ValidKeyID(s) == nil }

// ParseManual decodes the manual payload strictly.
func ParseManual(payload []byte) (handler.Request, error) {
	obj, err := object(payload)
	if err != nil {
		return handler.Request{}, fmt.Errorf("%w: expected %s", err, describe[KindManual])
	}
	return manual(obj, handler.TriggerManual)
}

// Request turns a decoded manual payload into a request, validating it.
//
// The continuation, an opaque token, goes with either action: a sweep's
// resumes a sweep, a check's resumes a check, which then needs no key_ids
// (the handler refuses a token of the other action, or of another dry-run
// flag). A check's key_ids are still validated with a continuation, but the
// token wins: the handler processes the keys left in it and ignores them.
func (m Manual) Request(trigger string) (handler.Request, error) {
	switch m.Action {
	case ActionSweep, ActionCheck:
	case "":
		return handler.Request{}, invalid(`manual payload: action is missing: expected "sweep" or "check"`)
	default:
		return handler.Request{}, invalid(`manual payload: action is %s: expected "sweep" or "check"`, snippet(m.Action))
	}
	if len(m.Continuation) > handler.MaxContinuationLen {
		return handler.Request{}, invalid("manual payload: continuation is %d bytes: expected at most %d", len(m.Continuation), handler.MaxContinuationLen)
	}
	req := handler.Request{Trigger: trigger, DryRun: m.DryRun, Continuation: m.Continuation}
	if m.Action == ActionSweep {
		if len(m.KeyIDs) > 0 {
			return handler.Request{}, invalid(`manual payload: key_ids is for action "check", not "sweep"`)
		}
		if err := m.runFields(&req); err != nil {
			return handler.Request{}, err
		}
		req.Mode = handler.ModeSweep
		req.Reason = "manual sweep"
		if m.Continuation != "" {
			req.Reason = "manual sweep, resumed"
		}
		return req, nil
	}
	if m.Target != "" || len(m.Targets) > 0 || m.Run != "" || m.Link != 0 {
		return handler.Request{}, invalid(`manual payload: target, targets, run and link are for action "sweep", not "check"`)
	}
	if len(m.KeyIDs) == 0 && m.Continuation == "" {
		return handler.Request{}, invalid(`manual payload: action "check" needs key_ids: expected 1 to %d key ids (or the continuation of a check cut short)`, handler.MaxKeyIDs)
	}
	if len(m.KeyIDs) > handler.MaxKeyIDs {
		return handler.Request{}, invalid("manual payload: %d key_ids: expected at most %d", len(m.KeyIDs), handler.MaxKeyIDs)
	}
	seen := make(map[string]bool, len(m.KeyIDs))
	for i, id := range m.KeyIDs {
		if !isKeyID(id) {
			return handler.Request{}, invalid("manual payload: key_ids[%d] is %s: expected a key id (%s)", i, snippet(id), handler.KeyIDForm)
		}
		if !seen[id] {
			seen[id] = true
			req.KeyIDs = append(req.KeyIDs, id)
		}
	}
	req.Mode = handler.ModeKeys
	req.Reason = fmt.Sprintf("manual check of %d key(s)", len(req.KeyIDs))
	if m.Continuation != "" {
		req.Reason = "manual check, resumed"
	}
	return req, nil
}

// runFields checks and copies a sweep's target and run fields.
func (m Manual) runFields(req *handler.Request) error {
	switch {
	case m.Target != "" && len(m.Targets) > 0:
		return invalid("manual payload: target and targets together: name one target to sweep it here, or several to fan out")
	case len(m.Targets) > MaxTargets:
		return invalid("manual payload: %d targets: expected at most %d", len(m.Targets), MaxTargets)
	case len(m.Target) > MaxTargetLen:
		return invalid("manual payload: target is %d bytes: expected a name region/project_id of at most %d", len(m.Target), MaxTargetLen)
	case m.Link < 0:
		return invalid("manual payload: link is %d: expected a link number from 1", m.Link)
	case m.Link > 0 && m.Run == "":
		return invalid("manual payload: link without run")
	case m.Run != "" && len(m.Targets) > 0:
		return invalid("manual payload: run with targets: a link sweeps one target")
	case m.Run != "" && !validRunID(m.Run):
		return invalid("manual payload: run is %s: expected 1 to %d letters, digits or '-'", snippet(m.Run), MaxRunLen)
	}
	seen := make(map[string]bool, len(m.Targets))
	for i, t := range m.Targets {
		if len(t) > MaxTargetLen {
			return invalid("manual payload: targets[%d] is %d bytes: expected a name region/project_id of at most %d", i, len(t), MaxTargetLen)
		}
		if !seen[t] {
			seen[t] = true
			req.Targets = append(req.Targets, t)
		}
	}
	req.Target, req.Run, req.Link = m.Target, m.Run, m.Link
	if m.Run != "" && m.Link == 0 {
		req.Link = 1
	}
	return nil
}

func validRunID(s string) bool {
	if s == "" || len(s) > MaxRunLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// manual decodes the manual payload's fields from a top-level object: no
// unknown field, each field of its type.
func manual(obj map[string]json.RawMessage, trigger string) (handler.Request, error) {
	var unknown []string
	for name := range obj {
		if _, ok := manualFields[name]; !ok {
			unknown = append(unknown, snippet(name))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return handler.Request{}, invalid("manual payload: unknown field(s) %s: expected only action, key_ids, dry_run, continuation, target, targets, run, link",
			strings.Join(unknown, ", "))
	}
	var m Manual
	for name, raw := range obj {
		if isNull(raw) {
			continue
		}
		var dst any
		switch name {
		case "action":
			dst = &m.Action
		case "key_ids":
			dst = &m.KeyIDs
		case "dry_run":
			m.DryRun = new(bool)
			dst = m.DryRun
		case "continuation":
			dst = &m.Continuation
		case "target":
			dst = &m.Target
		case "targets":
			dst = &m.Targets
		case "run":
			dst = &m.Run
		case "link":
			dst = &m.Link
		}
		if name == "continuation" && strings.TrimSpace(string(raw)) == `""` {
			// An empty token is no "start over": a follower that passes on the
			// continuation of a finished report would restart the sweep.
			return handler.Request{}, invalid(`manual payload: continuation is empty: omit it (or send null) to start a new request; a report without a continuation is finished`)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			if name == "key_ids" && jsonType(raw) == "an array" {
				return handler.Request{}, invalid("manual payload: key_ids has an element that is not a string: expected %s", manualFields[name])
			}
			return handler.Request{}, invalid("manual payload: %s is %s: expected %s", name, jsonType(raw), manualFields[name])
		}
	}
	return m.Request(trigger)
}
