// Package cesemu is a strict local Huawei Cloud Eye (CES) serving the one
// call of custom metrics, for tests and the demo. Clients talk to it
// through the official SDK over HTTP: New builds a Server (an
// http.Handler, usable with httptest), Listen serves it on a loopback
// port and returns the endpoint to give the SDK, Close stops it. It has
// the KMS emulator's shape (adapters/huaweikms/emulator) and checks
// signatures with its VerifySignature.
//
// # The call
//
// POST /V1.0/{project_id}/metric-data (CreateMetricData) with a JSON array
// of items
//
//	{"metric":{"namespace","metric_name","dimensions":[{"name","value"}]},
//	 "ttl","collect_time","value","unit"?,"type"?}
//
// answers 201 Created with no body, as the API reference documents, and
// stores the items as Points. Any other method or path gets 404
// APIGW.0101 from the "gateway", before authentication (GET of the same
// path, the query API, is not served).
//
// Every documented rule is checked; the sources are cited in decode.go:
//
//   - the body: at most MaxBodyBytes (512 KB read as 512,000 bytes),
//     Content-Type application/json, valid UTF-8, one JSON array and
//     nothing after it, no unknown field at any level, no key twice in an
//     object, not empty (ces.0001);
//   - namespace: service.item, 3 to 32 characters, each part a letter
//     then letters, digits or "_"; a service starting with SYS, AGT or
//     SRE (any case), or SERVICE.BMS, is a system namespace: 403
//     ces.0009 "Adding SYS metric is not allowed";
//   - metric_name: a letter, then letters, digits, "_" or "-", 1 to 96;
//   - dimensions: 1 to 4; name a letter then letters, digits, "_" or "-",
//     1 to 32; value a letter or digit then letters, digits, "_" or "-",
//     1 to 256 (Open Telekom Cloud's copy of Huawei's text; the SDK's
//     says only 1 to 256, the stricter rule is kept); no name twice (the
//     emulator's reading);
//   - ttl: an integer, 1 to 604800 seconds;
//   - collect_time: an integer (milliseconds) between three days before
//     and 10 minutes after Options.Now;
//   - value: a JSON number (a quoted number is refused), finite;
//   - unit: a string of at most 32 characters;
//   - type: "int" or "float"; an int value has no fraction (the
//     emulator's reading);
//   - Options.MaxItems items at most, when set (no item limit is
//     documented).
//
// A request with one bad item stores nothing.
//
// # Errors
//
// Cloud Eye's errors have the documented body
//
//	{"code":400,"element":"Bad Request","message":"The system received a
//	 request which cannot be recognized","details":{"details":"<what was
//	 wrong>","code":"ces.0014"}}
//
// (the details line is the emulator's wording, naming the item and the
// field):
//
//	400 ces.0001  empty body or empty array
//	400 ces.0003  a project id that is not ^[A-Za-z0-9-]{1,64}$
//	400 ces.0011  Content-Type not application/json; unreadable body
//	400 ces.0014  anything else wrong in the body (see above)
//	403 ces.0009  a system namespace
//
// The gateway's errors have its flat body {"error_msg","error_code",
// "request_id"}, as the KMS emulator answers:
//
//	401 APIGW.0301  "Incorrect IAM authentication information: <reason>"
//	403 APIGW.0302  the project is not served, or not X-Project-Id
//	404 APIGW.0101  unknown API
//	413 APIG.0201   a body over 8 MiB (refused before authentication)
//	429 APIG.0308   throttled (injected)
//
// Every answer carries an X-Request-Id header.
//
// # Authentication
//
// Every call must be signed SDK-HMAC-SHA256 as the SDK signs it, checked
// with emulator.VerifySignature against Options.AccessKey, SecretKey and
// SecurityToken (with a token set, X-Security-Token must be sent, signed
// and equal; without, a request carrying one is refused), X-Sdk-Date
// within 15 minutes of Options.Now.
//
// # Faults and inspection
//
// SetFaults changes, while serving, the added Latency, a scripted
// Sequence of statuses, the probabilities Rate500 and DropRate (Seed makes
// them repeatable) and Unauthorized. The order of the checks is
// ServeHTTP's. Points returns what was stored; Calls counts the answers
// by status and keeps the sizes of the bodies read; Reset forgets both.
package cesemu
