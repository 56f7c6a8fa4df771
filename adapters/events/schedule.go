package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tagwarden/tagwarden/handler"
)

// timer decodes a FunctionGraph TIMER event. Its user_event (the trigger's
// free text) may be empty or plain text (a sweep), or carry the manual
// payload: as a JSON-encoded string (what the console stores) or as an
// object. A user_event that looks like JSON but is not a valid manual
// payload is an error: a mistyped "dry_run" must not run for real.
func timer(obj map[string]json.RawMessage) (handler.Request, error) {
	var typ string
	if err := json.Unmarshal(obj["trigger_type"], &typ); err != nil || !strings.EqualFold(typ, "TIMER") {
		return handler.Request{}, invalid(`trigger_type is %s: expected "TIMER"`, rawSnippet(obj["trigger_type"]))
	}
	name := flexString(obj["trigger_name"])
	sweep := handler.Request{Mode: handler.ModeSweep, Trigger: handler.TriggerTimer, Reason: strings.TrimSpace("timer " + name)}

	raw := bytes.TrimSpace(obj["user_event"])
	if isNull(raw) {
		return sweep, nil
	}
	var payload []byte
	switch raw[0] {
	case '{':
		payload = raw
	case '"':
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return handler.Request{}, invalid("user_event: %v", err)
		}
		text = strings.TrimSpace(text)
		if !strings.HasPrefix(text, "{") {
			// Plain text (the console's default is "User Event"): a sweep.
			return sweep, nil
		}
		payload = []byte(text)
	default:
		return handler.Request{}, invalid("user_event is %s: expected a string (plain text, or the manual payload as JSON)", jsonType(raw))
	}
	m, err := object(payload)
	if err != nil {
		return handler.Request{}, fmt.Errorf("user_event: %w: expected %s", err, describe[KindManual])
	}
	req, err := manual(m, handler.TriggerTimer)
	if err != nil {
		return handler.Request{}, fmt.Errorf("user_event: %w", err)
	}
	req.Reason = strings.TrimSpace("timer " + name + ": " + req.Reason)
	return req, nil
}

// scheduled decodes an EventBridge Scheduled Event: a sweep, unless its
// detail carries the manual payload's fields. A detail that is absent,
// null or {} is a plain sweep; an object with any field is decoded as the
// manual payload (strictly: an unknown field or a wrong type is an error),
// with action "sweep" when it names none, so that {"dry_run": true} is a
// dry-run sweep. A detail that is not an object is an error: a rule meant
// as a dry run must not sweep for real.
func scheduled(obj map[string]json.RawMessage) (handler.Request, error) {
	if dt := flexString(obj["detail-type"]); dt != "Scheduled Event" {
		return handler.Request{}, invalid(`detail-type is %s: expected "Scheduled Event" (other EventBridge events are not taken)`, snippet(dt))
	}
	if src := flexString(obj["source"]); src != "" && src != "aws.events" {
		return handler.Request{}, invalid(`scheduled event source is %s: expected "aws.events"`, snippet(src))
	}
	reason := "scheduled event"
	var resources []string
	if json.Unmarshal(obj["resources"], &resources) == nil && len(resources) > 0 {
		reason += " " + resources[0]
	}
	// The event's id is the same in every delivery of one event: a second
	// delivery starts the same run.
	id := flexString(obj["id"])
	if len(id) > MaxRunLen*2 {
		id = ""
	}
	sweep := handler.Request{Mode: handler.ModeSweep, Trigger: handler.TriggerSchedule, Reason: reason, EventID: id}

	raw := bytes.TrimSpace(obj["detail"])
	if isNull(raw) {
		return sweep, nil
	}
	if raw[0] != '{' {
		return handler.Request{}, invalid("scheduled event detail is %s: expected an object: {} or the manual payload's fields, e.g. {\"dry_run\":true}", jsonType(raw))
	}
	var detail map[string]json.RawMessage
	if err := json.Unmarshal(raw, &detail); err != nil {
		return handler.Request{}, invalid("scheduled event detail: %v", err)
	}
	if len(detail) == 0 {
		return sweep, nil
	}
	if isNull(detail["action"]) {
		detail["action"] = json.RawMessage(`"` + ActionSweep + `"`)
	}
	req, err := manual(detail, handler.TriggerSchedule)
	if err != nil {
		return handler.Request{}, fmt.Errorf("scheduled event detail: %w", err)
	}
	req.Reason = reason + ": " + req.Reason
	req.EventID = id
	return req, nil
}

// flexString reads a JSON string or number as text; anything else is "".
func flexString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			return n.String()
		}
	}
	return ""
}

// rawSnippet shows a raw JSON value in a message.
func rawSnippet(raw json.RawMessage) string {
	if len(bytes.TrimSpace(raw)) == 0 {
		return "missing"
	}
	if s := flexString(raw); s != "" {
		return snippet(s)
	}
	return jsonType(raw)
}
