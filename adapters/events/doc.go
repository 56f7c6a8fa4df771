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
// whatever the input (the package's fuzz targets check this).
//
// # The manual payload
//
// A JSON object with these fields and no others:
//
//	{"action": "sweep" | "check",   // required
//	 "key_ids": ["<key id>", ...],  // check only, required there: 1 to 100 key ids
//	 "dry_run": true | false,       // optional: overrides TAGWARDEN_DRY_RUN
//	 "continuation": "<token>"}     // sweep only, optional: resumes a sweep cut short
//
// "sweep" evaluates every key of the project; "check" evaluates the named
// keys. A key id is 1 to 64 letters, digits, '-' or '_'; duplicates are
// dropped. A null field counts as absent. The continuation token is the
// "continuation" field of a previous report.
package events
