// Package policy is tagwarden's policy language and planner: it compiles
// tag policies written in YAML with expr expressions, and turns one KMS key
// and its tags into the violations found and the exact tag changes that fix
// them.
//
// Load (or LoadDir) compiles every *.yaml file at the root of a file system
// into an Engine. Loading is strict and all-or-nothing: every problem is
// reported as a LoadError with file, line and column, and no engine is
// returned when there is any.
//
// Engine.Evaluate is pure and safe for concurrent use: it reads a Key, its
// tags and the evaluation time, and returns a Decision. Engine.EvaluateEvent
// also takes the key event that named the key (an Event: the CTS trace's
// operation, user and source IP), which expressions read as `event`. It never fails and
// never writes; violations are results, not errors. Its contracts:
//   - only tags some rule targets are touched, and a compliant key gets no
//     change at all;
//   - every planned key and value obeys Limits (the KMS tag rules), at most
//     Limits.MaxTags tags remain after the change, reserved (_sys_) tags and
//     default keys are never changed;
//   - policies that disagree on a tag are a conflict, reported and not
//     written, unless one has a higher priority;
//   - evaluating the planned result again plans nothing (convergence);
//   - a rule with a grace period writes nothing but its mark in the
//     reserved tag DueTag until the mark is due, and the mark of a rule no
//     longer violated is removed; only an engine with such a rule touches
//     DueTag;
//   - a key named by an entry of the exemptions file (ExemptionsFile) is
//     skipped by its policies until the entry's date;
//   - a policy's notify expression names who is responsible for its
//     violations (Violation.Notify): it runs once per policy with
//     violations, on the key as found, and never changes the plan.
//
// Decision.Batches groups the changes into BatchCreateKmsTags calls of at
// most Limits.MaxBatch tags.
//
// Policies are tested as data: RunTests runs the cases of *_test.yaml files
// against an engine and reports a readable diff per failing case.
//
// The language is documented in docs/policies.md. The package uses only the
// standard library, expr and a YAML library: no cloud SDK and no logging.
package policy
