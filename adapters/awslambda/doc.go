// Package awslambda runs tagwarden on Lambda-compatible runtimes (AWS
// Lambda provided.al2023, the runtime interface emulator, SAM local and
// other platforms implementing the Lambda Runtime API) through
// github.com/aws/aws-lambda-go.
//
// Function implements lambda.Handler over raw bytes, so that a payload that
// is not JSON gets the same clear error body as JSON of no known shape. The
// request id comes from lambdacontext, the deadline from the invocation's
// context (the handler stops its margin before it). Decoded payloads:
// EventBridge Scheduled Events (a sweep), the manual payload (a direct
// invoke or an EventBridge Scheduler Input), and CTS traces and EventGrid
// CloudEvents relayed as they are. Huawei credentials come from the SDK's
// credential chain (environment variables, profile), set up by the store
// factory. Decoding, opening the store, handling and the answer are the one
// invocation pipeline of package invocation.
//
// The result is the handler's report as JSON whenever the handler ran,
// also for a request that failed as a whole (denied access, a failed
// listing, an invalid continuation, no time before the deadline margin):
// the report then has "error" and "error_kind" (handler.ErrorKind) beside
// the keys already handled and the "continuation" that resumes the rest.
// Only what leaves no report is an invocation error, returned as
// messages.InvokeResponse_Error ({"errorMessage","errorType"}) with an
// errorType of InvalidEvent (a payload of no known shape),
// ConfigurationError (a bad configuration, or a key store that does not
// open) or InternalError (a report that does not encode).
package awslambda
