package policy_test

import (
	"fmt"
	"testing/fstest"
	"time"

	"github.com/tagwarden/tagwarden/policy"
)

func ExampleLoad() {
	fsys := fstest.MapFS{"owner.yaml": {Data: []byte(`
policies:
  - name: owner-required
    match: '!key.default'
    rules:
      - require: owner
        defualt: unassigned
`)}}
	_, err := policy.Load(fsys, policy.Options{})
	fmt.Println(err)
	// Output:
	// owner.yaml:7:9: unknown field "defualt" in a rule (did you mean "default"?)
	//     |         defualt: unassigned
	//     |         ^
}

func ExampleEngine_Evaluate() {
	fsys := fstest.MapFS{"baseline.yaml": {Data: []byte(`
policies:
  - name: owner-required
    match: '!key.default'
    rules:
      - require: owner
        default: unassigned
  - name: environment
    rules:
      - require: env
        normalize: [trim, lower]
        allowed: [prod, staging, dev]
        value: 'key.alias startsWith "prod-" ? "prod" : "dev"'
      - forbid_key: '^temp-'
`)}}
	e, err := policy.Load(fsys, policy.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	key := policy.Key{ID: "0d0466b0-e727-4d9c-b35d-f84bb474a37f", Alias: "prod-payments", State: policy.StateEnabled}
	tags := map[string]string{"env": "PROD ", "temp-ticket": "OPS-1"}
	d := e.Evaluate(key, tags, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	for _, v := range d.Violations {
		fmt.Printf("%s / %s: %s (remediated: %t)\n", v.Policy, v.Rule, v.Message, v.Remediated)
	}
	for _, b := range d.Batches(e.Limits().MaxBatch) {
		fmt.Println(b.Action, b.Tags)
	}
	// Output:
	// owner-required / require owner: missing tag "owner" (remediated: true)
	// environment / require env: tag "env" has value "PROD ": it is not normalized (normalize trim, lower makes it "prod") (remediated: true)
	// environment / forbid_key ^temp-: tag key "temp-ticket" is forbidden (matches ^temp-) (remediated: true)
	// delete [{temp-ticket OPS-1}]
	// create [{env prod} {owner unassigned}]
}

// A policy's notify names who is responsible for its violations: every
// violation of the policy carries the value, for reports and notifications.
func ExampleEngine_Evaluate_notify() {
	fsys := fstest.MapFS{"cost-center.yaml": {Data: []byte(`
policies:
  - name: cost-center
    notify: 'tags["owner"]'   # "" when the key has no owner: no one
    rules:
      - require: cost-center
        pattern: '^cc-'
        default: cc-unknown
`)}}
	e, err := policy.Load(fsys, policy.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	key := policy.Key{ID: "0d0466b0-e727-4d9c-b35d-f84bb474a37f", Alias: "app-payments", State: policy.StateEnabled}
	for _, tags := range []map[string]string{{"owner": "team-payments", "cost-center": "finance"}, {"cost-center": "finance"}} {
		for _, v := range e.Evaluate(key, tags, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).Violations {
			fmt.Printf("%s / %s: notify %q\n", v.Policy, v.Rule, v.Notify)
		}
	}
	// Output:
	// cost-center / require cost-center: notify "team-payments"
	// cost-center / require cost-center: notify ""
}

func ExampleLoadDir() {
	e, err := policy.LoadDir("../policies", policy.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range e.Policies() {
		fmt.Printf("%s (%s): %v\n", p.Name, p.File, p.Rules)
	}
	// Output:
	// cost-center (cost-center.yaml): [require cost-center]
	// environment (environment.yaml): [require env]
	// exemption (exemption.yaml): [require tagwarden-exempt require exempt-reason]
	// no-temporary-in-production (no-temporary-in-production.yaml): [no-temporary-tag-keys forbid lifecycle]
	// owner-required (owner.yaml): [require owner]
}

func ExampleRunTests() {
	fsys := fstest.MapFS{
		"owner.yaml": {Data: []byte(`
policies:
  - name: owner-required
    rules:
      - require: owner
        default: unassigned
`)},
		"owner_test.yaml": {Data: []byte(`
cases:
  - name: a missing owner becomes unassigned
    tags: {env: dev}
    want:
      create: {owner: unassigned}
      violations:
        - {policy: owner-required, rule: require owner, remediated: true}
  - name: a wrong expectation
    want:
      create: {owner: nobody}
`)},
	}
	e, err := policy.Load(fsys, policy.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	results, err := policy.RunTests(fsys, e)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range results {
		fmt.Printf("%s:%d: %q passed=%t\n", r.File, r.Line, r.Name, r.Passed)
		if !r.Passed {
			fmt.Println(r.Diff)
		}
	}
	// Output:
	// owner_test.yaml:3: "a missing owner becomes unassigned" passed=true
	// owner_test.yaml:9: "a wrong expectation" passed=false
	// create: owner="unassigned", want owner="nobody"
	// violation: unexpected policy="owner-required" rule="require owner" tag="owner" remediated=true message="missing tag \"owner\""
}

func ExampleDecision_Batches() {
	d := policy.Decision{
		Create: []policy.Tag{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}, {Key: "c", Value: "3"}},
		Delete: []policy.Tag{{Key: "temp-x", Value: "y"}},
	}
	for _, b := range d.Batches(2) {
		fmt.Println(b.Action, b.Tags)
	}
	// Output:
	// delete [{temp-x y}]
	// create [{a 1} {b 2}]
	// create [{c 3}]
}
