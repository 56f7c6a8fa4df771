// Package invocation is the one path from a platform's payload to the
// platform's answer, shared by every platform adapter (functiongraph,
// awslambda) and by the CLI's invoke, so that "exactly as the function
// would" holds by construction:
//
//  1. decode the payload into a handler.Request with the platform's kinds
//     of event (package events);
//  2. open the key store, unless the request is one to ignore;
//  3. run handler.Handle;
//  4. answer with the report as JSON.
//
// Contracts: whenever the handler runs, the answer is its report, also for
// a request that failed as a whole (the report's error and error_kind set,
// beside the keys already handled and the continuation). Only what leaves
// no report is an *Error, with the errorType the platforms post:
// InvalidEvent (a payload of no known shape, not JSON, too deeply nested or
// too large), ConfigurationError (a configuration error found at start-up,
// no key store, a key store that does not open) and InternalError (a
// report that does not encode); a platform's own error from opening the
// store (FunctionGraph's NoCredentials) is answered as it is.
//
// What is the platform's own stays in its package: the runtime loop, the
// request id and deadline (set on the context before Invoke), and the
// credentials (in the function that opens the store).
package invocation
