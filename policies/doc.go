// Package policies holds tagwarden's shipped baseline policies and their
// test cases, embedded so that every binary carries them.
//
// Each *.yaml file (other than *_test.yaml) is a policy file in the
// language described in docs/policies.md; each *_test.yaml file holds test
// cases for them (owner.yaml's in owner_test.yaml, ...; baseline_test.yaml
// tests them together), run by policy.RunTests, `tagwarden test policies/`
// and, each once, `go test ./policies/`.
// The baseline: owner-required, cost-center, environment,
// no-temporary-in-production and exemption.
package policies
