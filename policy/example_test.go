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
