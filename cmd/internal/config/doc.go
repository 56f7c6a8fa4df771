// Package config is the process's configuration, read in one place for
// every command: the function (cmd/bootstrap), the CLI (cmd/tagwarden) and
// the bench (cmd/tagwarden-bench).
//
// FromEnv reads the TAGWARDEN_* environment variables once, applies the
// defaults and validates every value, reporting every problem at once, each
// naming the variable and the value. The result, a Process, holds the
// process's own settings (policy folder, KMS region, endpoint and project,
// rate limit, logging) and the handler's options (Process.Handler). From
// it, NewLogger builds the logger, LoadEngine loads the policy set (a
// folder, or the policies embedded in the binary) and KMS gives the
// configuration of the KMS adapter, with the one rate limiter that every
// store of the process shares.
//
// docs/configuration.md documents every variable; a test checks that the
// variables FromEnv reads are exactly those it lists.
package config
