// Package functiongraph runs tagwarden as a Huawei FunctionGraph custom
// runtime: the invocation loop over the runtime HTTP API at
// $RUNTIME_API_ADDR (GET the next event, POST the response or the error),
// written with net/http.
//
// For each invocation it takes the request id from X-Cff-Request-Id, the
// agency's temporary credentials from the X-CFF-Access-Key /
// X-CFF-Secret-Key / X-CFF-Security-Token headers (or the
// X-CFF-Security-Access-Key / X-CFF-Security-Secret-Key family), and sets
// the deadline to the event's arrival plus $RUNTIME_TIMEOUT seconds. The
// rest (decode the event, open the store, handle, answer) is the one
// invocation pipeline of package invocation, with FunctionGraph's events
// (TIMER, CTS, EventGrid, the manual payload; package events).
//
// Contracts: a broken connection to the runtime API is retried with
// backoff, never fatal; bad input, a function without an agency and a
// configuration error get an error response {"errorMessage","errorType"}
// and the loop keeps serving; whenever the handler ran, the success
// response is its handler.Report as JSON, also for a request that failed
// as a whole (its "error" and "error_kind" set, beside the keys already
// handled and the "continuation"). When the loop's context ends
// during an invocation (SIGTERM), the invocation's context ends with it and
// its result is still posted (within PostGrace) before Serve returns.
package functiongraph
