// Package lambdarie runs a function under the AWS Lambda runtime interface
// emulator, for the tests of cmd/bootstrap and the measurements of
// cmd/tagwarden-bench.
//
// Contracts:
//   - Install returns the pinned emulator (Module@Version), installing it
//     with `go install`, outside this module, into a cache folder beside the
//     Go build cache when it is missing; the project's go.mod never sees it.
//   - Build builds a function as the package is built: CGO_ENABLED=0 and
//     BuildFlags (`-tags lambda.norpc -trimpath -buildvcs=false
//     -ldflags=-s -w -buildid=`).
//   - Start binds both of the emulator's addresses to 127.0.0.1 (it listens
//     on 0.0.0.0:8080 otherwise) and gives it a clean environment: HOME,
//     PATH, AWS_LAMBDA_FUNCTION_TIMEOUT and the given variables only (the
//     emulator hands its whole environment to the function).
//   - Invoke sends one invocation at a time (the emulator crashes on two
//     concurrent ones) and returns the body; the emulator answers function
//     errors with status 200, so ParseError tells an error body apart.
package lambdarie
