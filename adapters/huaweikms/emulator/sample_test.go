package emulator_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/policies"
	"github.com/tagwarden/tagwarden/policy"
)

// TestSampleKeysShowEveryOutcome evaluates small samples (the golden file's
// and the CLI's sizes) against the shipped policies: each must hold keys
// that comply, keys the policies fix, keys whose violations the policies can
// only report, default keys and keys pending deletion, so that a demo or a
// test over a sample shows every outcome.
func TestSampleKeysShowEveryOutcome(t *testing.T) {
	engine, err := policy.Load(policies.FS, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{"1": policy.StatePendingActivation, "2": policy.StateEnabled, "3": policy.StateDisabled,
		"4": policy.StatePendingDeletion, "5": policy.StatePendingImport}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		n    int
		seed int64
	}{{13, 1}, {20, 1}, {40, 5}, {300, 20261129}} {
		t.Run(strconv.Itoa(tc.n), func(t *testing.T) {
			got := map[string]int{}
			reportOnly := map[string]bool{}
			for _, sk := range emulator.SampleKeys(tc.n, tc.seed) {
				d := sk.ResourceDetail
				k := policy.Key{ID: sk.ResourceID, Alias: d.KeyAlias, State: states[d.KeyState], Spec: d.KeySpec,
					Usage: d.KeyUsage, Default: d.DefaultKeyFlag == "1"}
				tags := map[string]string{}
				for _, tg := range sk.Tags {
					tags[tg.Key] = tg.Value
				}
				dec := engine.Evaluate(k, tags, now)
				switch {
				case k.Default:
					got["default"]++
				case k.State == policy.StatePendingDeletion:
					got["pending deletion"]++
				case dec.Compliant():
					got["compliant"]++
				case dec.HasChanges():
					got["fixed"]++
				default:
					got["report only"]++
					for _, v := range dec.Violations {
						if v.Remediated {
							t.Errorf("key %s: violation %+v remediated without a change", k.ID, v)
						}
						reportOnly[v.Policy+": "+v.Rule] = true
					}
				}
			}
			for _, o := range []string{"default", "pending deletion", "compliant", "fixed", "report only"} {
				if got[o] == 0 {
					t.Errorf("no %q key among %d: %v", o, tc.n, got)
				}
			}
			for _, r := range []string{"exemption: require exempt-reason", "exemption: require tagwarden-exempt", "owner-required: require owner"} {
				if !reportOnly[r] {
					t.Errorf("no key breaking %q that only a report can show; report-only rules: %v", r, reportOnly)
				}
			}
			t.Logf("%d keys: %v", tc.n, got)
		})
	}
}
