package policies

import "embed"

// FS holds the shipped policy files and their test case files at its root.
// Load it with policy.Load(policies.FS, opts) and test it with
// policy.RunTests(policies.FS, engine).
//
//go:embed *.yaml
var FS embed.FS
