// Package events decodes the payloads that start tagwarden, on every
// platform, into the one handler.Request: FunctionGraph TIMER events,
// Cloud Trace Service (CTS) audit traces ({"cts": trace}, or a bare trace
// relayed as it is), EventGrid CloudEvents (single and
// the {"events":[...]} batch), EventBridge Scheduled Events and the manual
// payload.
//
// Decoding of platform events is tolerant: CTS traces arrive with request,
// response and resource_id as objects or JSON-encoded strings, and time as
// a number or a string, and each form is accepted. The manual payload, which
// a person types, is strict: an unknown field, a wrong type or a missing
// action is an error that names what was expected.
//
// Every error returned for bad input wraps ErrInvalid. No decoder panics,
// whatever the input (the package's fuzz targets check this), and none
// takes more than linear time: a payload (or a JSON-encoded string in one)
// nesting objects and arrays more than MaxDepth deep is refused as "too
// deeply nested" before it is parsed.
//
// # The manual payload
//
// A JSON object with these fields and no others:
//
//	{"action": "sweep" | "check",   // required
//	 "key_ids": ["<key id>", ...],  // check only: 1 to 1000 key ids; required unless a continuation is given
//	 "dry_run": true | false,       // optional: overrides TAGWARDEN_DRY_RUN
//	 "continuation": "<token>"}     // optional: resumes a sweep or a check cut short
//
// "sweep" evaluates every key of the project; "check" evaluates the named
// keys. A key id is 1 to 64 letters, digits, '-' or '_'; duplicates are
// dropped. These limits, of key ids and of the continuation, are the
// handler's own (handler.MaxKeyIDs, handler.ValidKeyID,
// handler.MaxContinuationLen), checked here so that a bad payload is
// refused as an invalid event. A null field counts as absent. The
// continuation token is the "continuation" field of a previous report,
// passed back as it is with the
// same action and dry_run: {"action":"sweep","continuation":"..."} resumes
// a sweep, {"action":"check","continuation":"..."} a check (with key_ids
// too, the token wins: the keys left in it are processed).
//
// # EventBridge Scheduled Events
//
// A Scheduled Event is a sweep. Its "detail" may carry the manual payload's
// fields, decoded as strictly as the payload itself, with action "sweep"
// when it has none: {"dry_run": true} makes the rule a dry run. A detail
// that is {}, null or absent is a plain sweep; one that is not an object,
// or has an unknown field, is an error.
package events
