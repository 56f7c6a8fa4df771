package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tagwarden/tagwarden/handler"
)

// ErrInvalid is wrapped by every error about a payload that cannot be
// decoded: not JSON, JSON of no known shape, or a known shape with a bad
// field. The message names what was expected.
var ErrInvalid = errors.New("invalid event")

// Kind is a shape of payload the package decodes.
type Kind string

// The payload shapes, detected by a marker field of the top-level object.
const (
	// KindTimer is a FunctionGraph TIMER trigger event (marker "trigger_type").
	KindTimer Kind = "timer"
	// KindCTS is a FunctionGraph CTS trigger event: one audit trace under
	// "cts", or the trace itself, relayed bare (marker "trace_name").
	KindCTS Kind = "cts"
	// KindCloudEvent is one EventGrid CloudEvent (marker "specversion") whose
	// data is a CTS trace.
	KindCloudEvent Kind = "cloudevent"
	// KindCloudEventBatch is the EventGrid batch envelope {"events":[...]}.
	KindCloudEventBatch Kind = "cloudevent-batch"
	// KindScheduled is an EventBridge Scheduled Event (marker "detail-type").
	KindScheduled Kind = "scheduled"
	// KindManual is the manual payload (marker "action", or any of its other fields).
	KindManual Kind = "manual"
)

// describe says what each kind looks like, for error messages.
var describe = map[Kind]string{
	KindTimer:           `a FunctionGraph TIMER event {"trigger_type":"TIMER","user_event":...}`,
	KindCTS:             `a CTS event {"cts":{"trace_name":...}} (or the bare trace)`,
	KindCloudEvent:      `an EventGrid CloudEvent {"specversion":"1.0","data":{...CTS trace...}}`,
	KindCloudEventBatch: `an EventGrid batch {"events":[...]}`,
	KindScheduled:       `an EventBridge {"detail-type":"Scheduled Event","detail":{} (or the manual payload's fields, e.g. {"dry_run":true}),...}`,
	KindManual:          `the manual payload {"action":"sweep"|"check","key_ids":[...],"dry_run":true|false,"continuation":"..."}`,
}

// AllKinds lists every kind, in the order Decode reports them.
var AllKinds = []Kind{KindManual, KindTimer, KindScheduled, KindCTS, KindCloudEvent, KindCloudEventBatch}

// Expected describes the given kinds as a list of alternatives, for error
// messages ("expected one of: ...").
func Expected(kinds ...Kind) string {
	parts := make([]string, 0, len(kinds))
	for _, k := range kinds {
		if d, ok := describe[k]; ok {
			parts = append(parts, d)
		}
	}
	return strings.Join(parts, "; or ")
}

// Classify reports the kind of payload by its marker fields, with the
// decoded top-level object. A payload that is not a JSON object, or an
// object with none of the markers, is an error wrapping ErrInvalid.
func Classify(payload []byte) (Kind, map[string]json.RawMessage, error) {
	obj, err := object(payload)
	if err != nil {
		return "", nil, err
	}
	has := func(name string) bool { _, ok := obj[name]; return ok }
	switch {
	case has("cts"):
		return KindCTS, obj, nil
	case has("specversion"):
		return KindCloudEvent, obj, nil
	case has("events"):
		return KindCloudEventBatch, obj, nil
	case has("trigger_type"):
		return KindTimer, obj, nil
	case has("detail-type"):
		return KindScheduled, obj, nil
	case has("trace_name"):
		return KindCTS, obj, nil
	}
	for name := range manualFields {
		if has(name) {
			return KindManual, obj, nil
		}
	}
	return "", obj, invalid("an object with fields %s matches no known payload", fieldList(obj))
}

// Decode turns a payload into a request. accept lists the kinds the caller
// takes (none means every kind); a payload of another kind, or of no known
// kind, is an error naming the accepted kinds.
func Decode(payload []byte, accept ...Kind) (handler.Request, error) {
	if len(accept) == 0 {
		accept = AllKinds
	}
	kind, obj, err := Classify(payload)
	if err != nil {
		return handler.Request{}, fmt.Errorf("%w: expected %s", err, Expected(accept...))
	}
	if !accepts(accept, kind) {
		return handler.Request{}, invalid("%s is not taken on this platform: expected %s", describe[kind], Expected(accept...))
	}
	switch kind {
	case KindManual:
		return manual(obj, handler.TriggerManual)
	case KindTimer:
		return timer(obj)
	case KindScheduled:
		return scheduled(obj)
	case KindCTS:
		return ctsEnvelope(obj)
	case KindCloudEvent:
		return cloudEvent(obj)
	default:
		return cloudEventBatch(obj)
	}
}

func accepts(kinds []Kind, k Kind) bool {
	for _, a := range kinds {
		if a == k {
			return true
		}
	}
	return false
}

// invalid builds an error wrapping ErrInvalid.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// MaxDepth is the deepest nesting of objects and arrays a payload may have
// (a JSON value inside a JSON-encoded string counts on its own). No event
// tagwarden takes comes near it; a deeper payload is refused as such,
// before it is parsed.
const MaxDepth = 1000

// errDeep marks JSON nested more than MaxDepth deep, for the callers of
// embeddedObject to say so.
var errDeep = errors.New("too deeply nested")

// tooDeep reports whether data nests objects and arrays more than MaxDepth
// deep, in one pass that ignores brackets inside strings. It reads any
// input, JSON or not.
func tooDeep(data []byte) bool {
	depth := 0
	inString, escaped := false, false
	for _, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			if depth++; depth > MaxDepth {
				return true
			}
		case '}', ']':
			depth--
		}
	}
	return false
}

// deep is the error for a value (what) nested more than MaxDepth deep.
func deep(what string) error {
	return invalid("%s is too deeply nested: more than %d levels of objects and arrays", what, MaxDepth)
}

// object decodes a JSON object, naming what it got otherwise.
func object(data []byte) (map[string]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, invalid("empty payload")
	}
	if tooDeep(trimmed) {
		return nil, deep("payload")
	}
	if !json.Valid(trimmed) {
		return nil, invalid("payload is not JSON (starts %s)", snippet(string(trimmed)))
	}
	if trimmed[0] != '{' {
		return nil, invalid("payload is %s, not a JSON object", jsonType(trimmed))
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &obj); err != nil {
		return nil, invalid("payload is not a JSON object: %v", err)
	}
	return obj, nil
}

// jsonType names the type of a valid JSON value.
func jsonType(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// fieldList names an object's fields, sorted, for messages.
func fieldList(obj map[string]json.RawMessage) string {
	if len(obj) == 0 {
		return "{}"
	}
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, snippet(k))
	}
	sort.Strings(names)
	if len(names) > 8 {
		names = append(names[:8], fmt.Sprintf("and %d more", len(names)-8))
	}
	return strings.Join(names, ", ")
}

// snippet quotes s, cut to a length fit for a message.
func snippet(s string) string {
	const max = 48
	if len(s) <= max {
		return fmt.Sprintf("%q", s)
	}
	cut := max
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q…", s[:cut])
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
