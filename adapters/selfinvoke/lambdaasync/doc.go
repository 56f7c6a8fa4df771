// Package lambdaasync is a local, strict Lambda Invoke API, POST
// /2015-03-31/functions/{FunctionName}/invocations, for tests and the local
// demo. Every accepted invocation runs through a Function: a Go func in
// tests, (*lambdarie.Emulator).Invoke in the demo, which runs the real
// bootstrap under the AWS Lambda runtime interface emulator. A function's
// invocations run one at a time, in the order accepted (the emulator
// crashes on concurrent ones): a function that invokes itself with
// RequestResponse waits for itself forever; Event invocations are fine.
//
// It checks, in this order:
//   - the body is at most 6 MB (6291456 bytes; 413
//     RequestEntityTooLargeException "Request must be smaller than 6291456
//     bytes for the InvokeFunction operation");
//   - the Signature Version 4, recomputed with aws-sdk-go-v2's signer for
//     the configured credentials: the access key (403
//     UnrecognizedClientException), the credential scope (the request's
//     date, Options.Region, "lambda", aws4_request), X-Amz-Date within 15
//     minutes, host and x-amz-date signed, the security token when one is
//     configured and none when none is (403 UnrecognizedClientException),
//     the signature (403 InvalidSignatureException); no Authorization:
//     403 MissingAuthenticationTokenException;
//   - then any injected failure (FailNext), in the shape of that status;
//   - X-Amz-Invocation-Type is Event, RequestResponse (the default) or
//     DryRun (400 ValidationException);
//   - FunctionName is a name, a partial ARN (account:function:name) or a
//     full ARN, with an optional qualifier, of a registered function of
//     this region and account, the qualifier $LATEST or a registered one,
//     and not in conflict with the Qualifier query parameter (400
//     ValidationException, 400 InvalidParameterValueException, 404
//     ResourceNotFoundException "Function not found: arn:...");
//   - an Event payload is at most Options.MaxAsyncPayload, default 1 MB
//     (413 RequestEntityTooLargeException "N byte payload is too large for
//     the Event invocation type (limit L bytes)");
//   - the payload is JSON (400 InvalidRequestContentException); an empty
//     one is {}.
//
// Errors carry x-amzn-RequestId, x-amzn-ErrorType and the body
// {"Type":"User"|"Service","message":...}. The 413 error type is the one
// the service sends on the wire, RequestEntityTooLargeException, which
// aws-sdk-go-v2 reads as a generic API error (its model names it
// RequestTooLargeException).
//
// Event: 202, an empty body, x-amzn-RequestId; the invocation is queued and
// run later. RequestResponse: the function runs and its body is answered
// with 200, X-Amz-Executed-Version, and X-Amz-Function-Error: Unhandled
// when it failed (an error returned, or a body {"errorMessage","errorType"}
// as the runtime interface emulator answers a failed function). DryRun:
// 204 and nothing runs.
//
// For tests: Invocations (payload, request id, each run's result, error
// flag and times), Requests, Wait (until nothing is queued or running, also
// when invocations keep invoking), FailNext (the next n calls answer a
// status), Duplicate (every Event invocation delivered twice). It listens on
// 127.0.0.1 only; Close stops the workers and drops what is queued.
package lambdaasync
