// Command bootstrap is tagwarden's function: one binary for Huawei
// FunctionGraph (custom runtime) and Lambda-compatible runtimes.
//
// It picks the platform from the environment: AWS_LAMBDA_RUNTIME_API set
// means a Lambda-compatible runtime (package awslambda), RUNTIME_API_ADDR
// set means FunctionGraph (package functiongraph); with neither it prints
// how to run tagwarden locally and exits with status 2.
//
// Once per instance (cold start) it reads the TAGWARDEN_* configuration,
// loads the policies and builds the handler and one KMS rate limiter shared
// by every invocation, all through package cmd/internal/config. Policies
// come from TAGWARDEN_POLICIES when set; otherwise from the policies/
// folder beside the code
// ($RUNTIME_CODE_ROOT/policies on FunctionGraph, $LAMBDA_TASK_ROOT/policies
// on Lambda) when it exists; otherwise from the policies embedded in the
// binary. A configuration or policy error does not stop the process: every
// invocation answers it as a ConfigurationError, so that it shows in the
// invocation result as well as in the log.
package main
