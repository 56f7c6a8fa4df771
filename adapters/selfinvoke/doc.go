// Package selfinvoke lets the function invoke itself asynchronously: a
// sweep fans out one invocation per target, and a sweep cut by its deadline
// hands its continuation to a new invocation. A Dispatcher sends one
// payload (a JSON object) to the platform's asynchronous invocation API and
// returns the platform's request id once the platform has accepted it.
//
// Two dispatchers, each over the platform's official SDK:
//   - FunctionGraph: AsyncInvokeFunction of the Huawei Cloud SDK
//     (services/functiongraph/v2; POST
//     /v2/{project_id}/fgs/functions/{function_urn}/invocations-async),
//     signed with the invocation's temporary credentials; the target is a
//     URN, built from the runtime's environment with URNFromRuntime.
//   - Lambda: Invoke of aws-sdk-go-v2 with InvocationType Event, with the
//     SDK's default credential chain (the execution role); the target is
//     the function's name or ARN (lambdacontext's InvokedFunctionArn).
//
// Contracts:
//   - The payload must be a JSON object within the platform's limit for
//     asynchronous invocations (FunctionGraphMaxAsyncPayload,
//     LambdaMaxAsyncPayload); anything else is refused before sending
//     (ErrInvalidPayload, ErrTooLarge). On FunctionGraph the SDK re-encodes
//     the object: numbers keep their literal text (json.Number), and the
//     limit is checked on the bytes actually sent.
//   - A call is retried only when the platform certainly did not accept it:
//     an answer 429 or 503, or a failure before a connection was made (no
//     byte of the request was sent). A request that was sent and got no
//     answer (a timeout, a reset), or a 500, 502 or 504 (a gateway may
//     answer those after the backend accepted the call), is never retried:
//     the platform may have accepted it, and a retry could deliver it
//     twice, forking a chain. Attempts are bounded
//     (RetryPolicy) with exponential backoff and full jitter, within ctx: a
//     backoff that would cross ctx's deadline is not started.
//   - Every error is an *Error that matches exactly one kind with
//     errors.Is: ErrRefused (refused for good, or the call cannot be made:
//     denied, not found, too large, invalid; the same call fails again),
//     ErrUnavailable (certainly not accepted: try later) or
//     ErrUnknownOutcome (sent without an answer, or answered 500, 502 or
//     504: it may have been accepted). It names the target and carries the service's status,
//     error code and request id. It never carries the payload (it holds a
//     continuation, a bearer capability): strings of the payload are masked
//     in the service's message. Secrets never appear: Credentials print
//     masked.
//
// The limits and their sources:
//   - FunctionGraph, asynchronous request body: 256 KB. FunctionGraph user
//     guide, "Notes and Constraints" / "Quotas and Usage Restrictions"
//     (https://support.huaweicloud.com/intl/en-us/productdesc-functiongraph/functiongraph_01_0150.html):
//     "Valid payload size of invocation request body (asynchronous
//     invocation): 256 KB"; taken as 256 KiB.
//   - Lambda, asynchronous (Event) payload: 1 MB since October 2025. Lambda
//     API reference, Invoke
//     (https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html): "For
//     asynchronous invocations, the maximum payload size is 1 MB"; AWS
//     Compute Blog, "More room to build: serverless services now support
//     payloads up to 1 MB". Taken as 1 MiB, as the old limit (256 KB) was
//     262144 bytes in the service's own error message.
//   - Lambda, synchronous payload: 6 MB, 6291456 bytes in the service's
//     error message ("Request must be smaller than 6291456 bytes for the
//     InvokeFunction operation").
//
// The local endpoints in fgasync and lambdaasync emulate both APIs strictly
// and run every accepted invocation through a real function loop.
package selfinvoke
