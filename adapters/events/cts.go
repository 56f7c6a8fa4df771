package events

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// Trace names that concern tagwarden, lower-cased. createKey brings a new
// key; the tag operations may have broken a policy.
var (
	createTrace = "createkey"
	tagTraces   = map[string]bool{
		"createkeytag":       true,
		"deletekeytag":       true,
		"batchcreatekeytags": true,
		"batchdeletekeytags": true,
		"batchcreatekmstags": true,
		"dealunifiedtags":    true,
	}
)

// Trace is what tagwarden reads from one CTS audit trace.
type Trace struct {
	// Name is trace_name, e.g. createKey.
	Name string
	// ID is trace_id, for logs.
	ID string
	// Service is service_type, e.g. KMS.
	Service string
	// ResourceType is resource_type, e.g. cmk.
	ResourceType string
	// Code is the HTTP status of the audited call (0 when absent).
	Code int
	// KeyID is the key concerned: from resource_id, or from the response's
	// key_info.key_id, or from the request's key_id ("" when none).
	KeyID string
	// Time is when the call happened (zero when absent or unreadable).
	Time time.Time
	// UserName and UserID are the trace's user.name and user.id (who made
	// the call), SourceIP its source_ip; "" when absent.
	UserName, UserID, SourceIP string
}

// ParseTrace decodes one CTS audit trace tolerantly: request, response and
// resource_id as objects or JSON-encoded strings, time and code as numbers
// or strings. Only a payload that is not an object with a trace_name is an
// error.
func ParseTrace(data []byte) (Trace, error) {
	obj, err := embeddedObject(data)
	if errors.Is(err, errDeep) {
		return Trace{}, deep("cts trace")
	}
	if err != nil {
		return Trace{}, invalid("cts trace is %s: expected an object with trace_name", jsonType(data))
	}
	t := Trace{
		Name:         flexString(obj["trace_name"]),
		ID:           flexString(obj["trace_id"]),
		Service:      flexString(obj["service_type"]),
		ResourceType: flexString(obj["resource_type"]),
		Time:         flexTime(obj["time"]),
	}
	if t.Name == "" {
		return Trace{}, invalid("cts trace has no trace_name (fields %s): expected a CTS audit trace", fieldList(obj))
	}
	code, err := traceCode(obj["code"])
	if err != nil {
		return Trace{}, invalid("cts trace %q: %v", t.Name, err)
	}
	t.Code = code
	t.KeyID = traceKeyID(obj)
	t.SourceIP = flexString(obj["source_ip"])
	if user, err := embeddedObject(obj["user"]); err == nil {
		t.UserName, t.UserID = flexString(user["name"]), flexString(user["id"])
	}
	return t, nil
}

// Event is what policies see of the trace (policy.Event): the operation,
// the user who made the call, and where from.
func (t Trace) Event() policy.Event {
	return policy.Event{Operation: t.Name, UserName: t.UserName, UserID: t.UserID, SourceIP: t.SourceIP}
}

// Request says what the trace asks of tagwarden: the key to evaluate, or
// nothing, with the reason.
func (t Trace) Request(trigger string) handler.Request {
	ignore := func(format string, args ...any) handler.Request {
		return handler.Request{Mode: handler.ModeIgnore, Trigger: trigger, Reason: fmt.Sprintf(format, args...)}
	}
	name := strings.ToLower(t.Name)
	switch {
	case t.Service != "" && !strings.EqualFold(t.Service, "KMS"):
		return ignore("trace %s of service %s, not KMS", snippet(t.Name), snippet(t.Service))
	case t.ResourceType != "" && !strings.EqualFold(t.ResourceType, "cmk"):
		return ignore("trace %s on resource type %s, not cmk", snippet(t.Name), snippet(t.ResourceType))
	case name != createTrace && !tagTraces[name]:
		return ignore("trace %s neither creates a key nor changes its tags", snippet(t.Name))
	case t.Code >= 400:
		return ignore("trace %s records a failed call (code %d)", snippet(t.Name), t.Code)
	case t.KeyID == "":
		return ignore("trace %s names no key id (resource_id, response key_info.key_id)", snippet(t.Name))
	}
	reason := t.Name
	if !t.Time.IsZero() {
		reason += " at " + t.Time.UTC().Format(time.RFC3339)
	}
	if t.ID != "" {
		reason += " (trace " + t.ID + ")"
	}
	return handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{t.KeyID}, Trigger: trigger, Reason: reason,
		Events: map[string]policy.Event{t.KeyID: t.Event()}}
}

// traceKeyID finds the key id: resource_id (a string, possibly a URN whose
// last segment is the id, or an object with key_id), then the response's
// key_info.key_id, then key_id in the response or the request.
func traceKeyID(obj map[string]json.RawMessage) string {
	if id := resourceKeyID(obj["resource_id"]); id != "" {
		return id
	}
	resp, _ := embeddedObject(obj["response"])
	if info, err := embeddedObject(resp["key_info"]); err == nil {
		if id := flexString(info["key_id"]); isKeyID(id) {
			return id
		}
	}
	if id := flexString(resp["key_id"]); isKeyID(id) {
		return id
	}
	req, _ := embeddedObject(obj["request"])
	if id := flexString(req["key_id"]); isKeyID(id) {
		return id
	}
	return ""
}

func resourceKeyID(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	if raw[0] == '"' {
		s := strings.TrimSpace(flexString(raw))
		if strings.HasPrefix(s, "{") {
			return resourceKeyID(json.RawMessage(s))
		}
		if i := strings.LastIndexAny(s, ":/"); i >= 0 {
			s = s[i+1:]
		}
		if isKeyID(s) {
			return s
		}
		return ""
	}
	if o, err := embeddedObject(raw); err == nil {
		for _, f := range []string{"key_id", "id"} {
			if id := flexString(o[f]); isKeyID(id) {
				return id
			}
		}
	}
	return ""
}

// embeddedObject decodes an object given as itself or as a JSON-encoded
// string. Its error is errDeep for one nested more than MaxDepth deep.
func embeddedObject(raw []byte) (map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if tooDeep(raw) {
		return nil, errDeep
	}
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		raw = bytes.TrimSpace([]byte(s))
		if tooDeep(raw) {
			return nil, errDeep
		}
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("not an object")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// flexTime reads a time as epoch milliseconds (number or digits; seconds
// when small) or an RFC 3339 string; anything else is the zero time.
func flexTime(raw json.RawMessage) time.Time {
	s := strings.TrimSpace(flexString(raw))
	if s == "" {
		return time.Time{}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f <= 0 || f > 1e15 {
			return time.Time{}
		}
		if f < 1e11 {
			return time.Unix(int64(f), 0).UTC()
		}
		return time.UnixMilli(int64(f)).UTC()
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t
	}
	return time.Time{}
}

// ctsEnvelope decodes the FunctionGraph CTS trigger event {"cts": trace}, or
// a bare trace (an object with trace_name), as relayed to another platform.
func ctsEnvelope(obj map[string]json.RawMessage) (handler.Request, error) {
	raw, ok := obj["cts"]
	if !ok {
		b, err := json.Marshal(obj)
		if err != nil {
			return handler.Request{}, invalid("cts trace: %v", err)
		}
		raw = b
	}
	t, err := ParseTrace(raw)
	if err != nil {
		return handler.Request{}, err
	}
	return t.Request(handler.TriggerCTS), nil
}

// cloudEventTrace reads the CTS trace carried by one CloudEvent: data as an
// object, a JSON-encoded string or data_base64, holding the trace itself or
// {"cts": trace}.
func cloudEventTrace(obj map[string]json.RawMessage) (Trace, error) {
	data := obj["data"]
	if isNull(data) {
		if b64 := flexString(obj["data_base64"]); b64 != "" {
			dec, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				return Trace{}, invalid("data_base64 is not base64: expected the CTS trace, base64-encoded")
			}
			data = dec
		}
	}
	if isNull(data) {
		return Trace{}, invalid("cloud event %s has no data: expected the CTS trace in data", snippet(flexString(obj["id"])))
	}
	d, err := embeddedObject(data)
	if errors.Is(err, errDeep) {
		return Trace{}, deep("cloud event data")
	}
	if err != nil {
		return Trace{}, invalid("cloud event data is %s: expected the CTS trace as an object", jsonType(data))
	}
	if inner, ok := d["cts"]; ok {
		return ParseTrace(inner)
	}
	return ParseTrace(data)
}

// cloudEvent decodes one EventGrid CloudEvent.
func cloudEvent(obj map[string]json.RawMessage) (handler.Request, error) {
	t, err := cloudEventTrace(obj)
	if err != nil {
		return handler.Request{}, err
	}
	return t.Request(handler.TriggerEventGrid), nil
}

// cloudEventBatch decodes the {"events":[...]} envelope into one request:
// the union of the keys its events name, or ignore when none does.
func cloudEventBatch(obj map[string]json.RawMessage) (handler.Request, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(obj["events"], &list); err != nil {
		return handler.Request{}, invalid("events is %s: expected an array of CloudEvents", jsonType(obj["events"]))
	}
	if len(list) == 0 {
		return handler.Request{Mode: handler.ModeIgnore, Trigger: handler.TriggerEventGrid, Reason: "empty event batch"}, nil
	}
	var keys, reasons, ignored []string
	var bad []error
	seen := map[string]bool{}
	evs := map[string]policy.Event{}
	for i, raw := range list {
		ev, err := object(raw)
		if err != nil {
			bad = append(bad, fmt.Errorf("events[%d]: %w: expected a CloudEvent", i, err))
			continue
		}
		t, err := cloudEventTrace(ev)
		if err != nil {
			bad = append(bad, fmt.Errorf("events[%d]: %w", i, err))
			continue
		}
		r := t.Request(handler.TriggerEventGrid)
		if r.Mode == handler.ModeIgnore {
			ignored = append(ignored, r.Reason)
			continue
		}
		reasons = append(reasons, r.Reason)
		for _, k := range r.KeyIDs {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
			// A key named by several events is evaluated once, under the
			// event that created it if one did, else under the first.
			if prev, ok := evs[k]; !ok || !strings.EqualFold(prev.Operation, createTrace) && strings.EqualFold(t.Name, createTrace) {
				evs[k] = r.Events[k]
			}
		}
	}
	// One malformed event does not cost the batch's good ones: they are
	// handled, and the report's reason names the malformed ones. A batch
	// with no key to evaluate and a malformed event is an error.
	if len(keys) == 0 {
		if len(bad) > 0 {
			return handler.Request{}, bad[0]
		}
		return handler.Request{Mode: handler.ModeIgnore, Trigger: handler.TriggerEventGrid, Reason: summarize(ignored)}, nil
	}
	reason := summarize(reasons)
	if len(ignored) > 0 {
		reason += fmt.Sprintf("; %d event(s) ignored", len(ignored))
	}
	if len(bad) > 0 {
		msgs := make([]string, len(bad))
		for i, err := range bad {
			msgs[i] = err.Error()
		}
		reason += fmt.Sprintf("; %d malformed event(s) skipped: %s", len(bad), summarize(msgs))
	}
	return handler.Request{Mode: handler.ModeKeys, KeyIDs: keys, Trigger: handler.TriggerEventGrid, Reason: reason, Events: evs}, nil
}

// summarize joins reasons, keeping the first few.
func summarize(reasons []string) string {
	const keep = 3
	if len(reasons) <= keep {
		return strings.Join(reasons, "; ")
	}
	return strings.Join(reasons[:keep], "; ") + fmt.Sprintf("; and %d more", len(reasons)-keep)
}

// traceCode reads a trace's code, the HTTP status of the audited call: a
// whole number from 100 to 599, as a JSON number or a string ("204",
// 204.0); absent, null or "" is 0 (unknown). Anything else is refused: a
// call whose outcome cannot be read is neither a success nor a failure.
func traceCode(raw json.RawMessage) (int, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" || string(raw) == `""` {
		return 0, nil
	}
	text := strings.TrimSpace(flexString(raw))
	f, err := strconv.ParseFloat(text, 64)
	if text == "" || err != nil || f != math.Trunc(f) || f < 100 || f > 599 {
		return 0, fmt.Errorf("code %s is not an HTTP status (a whole number from 100 to 599)", rawSnippet(raw))
	}
	return int(f), nil
}
