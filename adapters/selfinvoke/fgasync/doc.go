// Package fgasync is a local, strict FunctionGraph asynchronous invocation
// API, POST /v2/{project_id}/fgs/functions/{function_urn}/invocations-async,
// for tests and the local demo. Every accepted invocation runs through a
// real function loop: it is queued on the FunctionGraph custom-runtime API
// of the function (runtimetest.Server), which the bootstrap processes poll.
//
// It checks, in this order, as the API gateway and the service do:
//   - the body is at most 6 MB (413 FSS.0413);
//   - the SDK-HMAC-SHA256 signature, with emulator.VerifySignature: the
//     access key, X-Sdk-Date within 15 minutes, the security token when
//     the Signer has one (and none when it has not), the signature over
//     the request as received (401 APIGW.0301, the gateway's flat body
//     {"error_code","error_msg","request_id"});
//   - X-Project-Id is the project in the path, and the path's project is
//     the account's (403 APIGW.0302);
//   - then any injected failure (FailNext), in the shape of that status;
//   - the function URN parses (selfinvoke.ParseURN) and holds the path's
//     project (400 FSS.0400);
//   - the function is registered (404 FSS.1051 "Not found the function",
//     the API reference's example; older references show FSS.0404);
//   - the body is within Options.MaxPayload, default 256 KB (the
//     FunctionGraph user guide's limit for asynchronous invocations; 413
//     FSS.0413 [the code is not documented]) and is one JSON object (400
//     FSS.0400).
//
// An accepted call is answered 202 {"request_id": id} (with the same id in
// X-Request-Id), recorded, and delivered with X-Cff-Request-Id: id,
// X-Cff-Invoke-Type: async and the temporary credentials of
// Options.FunctionCredentials as X-Cff-Access-Key, X-Cff-Secret-Key and
// X-Cff-Security-Token. Deliveries run concurrently, as many as the
// processes polling the runtime API. Errors are the service's body
// {"error_code","error_msg"} and the X-Request-Id header.
//
// For tests: Invocations (payload, request id, each delivery's result,
// error flag and times), Requests, Wait (until nothing is queued or
// running, also when invocations keep invoking), FailNext (the next n calls
// answer a status), Duplicate (every invocation delivered twice, as a
// platform retry may). It listens on 127.0.0.1 only; Close stops the
// deliveries.
package fgasync
