package policy_test

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tagwarden/tagwarden/policies"
	"github.com/tagwarden/tagwarden/policy"
)

// benchPolicies are five more policies, to make ten with the shipped five.
const benchPolicies = `
policies:
  - name: classification
    match: '!key.default'
    rules:
      - require: classification
        normalize: [trim, lower]
        allowed: [public, internal, confidential, secret]
        default: internal
  - name: rotation
    match: 'key.spec in ["AES_256", "SM4"]'
    rules:
      - require: rotation
        value: 'key.rotation_enabled ? "on" : "off"'
  - name: project
    rules:
      - require: project
        value: 'key.enterprise_project == "" ? "default" : key.enterprise_project'
  - name: no-scratch
    rules:
      - forbid_key: '^(scratch|tmp)'
      - forbid: lifecycle
        values: [scratch]
  - name: review
    enforce: false
    rules:
      - require: review-date
        pattern: '^\d{4}-\d{2}-\d{2}$'
        when: 'key.age_days > 365'
`

const benchKeys = 100_000

type benchKey struct {
	key  policy.Key
	tags map[string]string
}

var bench struct {
	once      sync.Once
	engine    *policy.Engine
	mixed     []benchKey // generated keys, most of them needing changes
	steady    []benchKey // the same keys after their plans: what a second sweep sees
	compliant []benchKey // the keys of steady that break no policy at all
}

func benchSetup(b *testing.B) {
	bench.once.Do(func() {
		fsys := fstest.MapFS{"bench.yaml": {Data: []byte(benchPolicies)}}
		for _, name := range []string{"owner.yaml", "cost-center.yaml", "environment.yaml", "no-temporary-in-production.yaml", "exemption.yaml"} {
			data, err := policies.FS.ReadFile(name)
			if err != nil {
				panic(err)
			}
			fsys[name] = &fstest.MapFile{Data: data}
		}
		e, err := policy.Load(fsys, policy.Options{})
		if err != nil {
			panic(err)
		}
		bench.engine = e
		rng := rand.New(rand.NewPCG(7, 11))
		for i := range benchKeys {
			k, tags := randomKey(rng, i)
			k.Spec = []string{"AES_256", "SM4", "RSA_2048"}[rng.IntN(3)]
			bench.mixed = append(bench.mixed, benchKey{k, tags})
			d := e.Evaluate(k, tags, now)
			after := benchKey{k, d.Apply(tags)}
			bench.steady = append(bench.steady, after)
			if e.Evaluate(after.key, after.tags, now).Compliant() {
				bench.compliant = append(bench.compliant, after)
			}
		}
	})
	if len(bench.engine.Policies()) != 10 {
		b.Fatalf("got %d policies, want 10", len(bench.engine.Policies()))
	}
	if len(bench.compliant) < benchKeys/20 {
		b.Fatalf("only %d compliant keys: the generator or the policies changed", len(bench.compliant))
	}
}

// BenchmarkEvaluate evaluates 10 policies over 100k generated keys per
// operation (mixed: as generated, most needing changes; steady: the same
// keys after their plans were applied; compliant: the steady keys that break
// nothing, a subset), on one core (GOMAXPROCS 1, so the garbage collector
// shares it). It reports:
//   - keys/s and policy-evals/s (keys × 10 policies);
//   - rule-checks/s: the rules really checked, counted by the engine — a
//     rule counts once per round in which its policy matches the key and
//     does not exempt it; rules of policies that do not match are not
//     counted — and x-of-1M-target, that figure over the 1M per core aim;
//   - allocs/key: heap allocations per evaluated key.
func BenchmarkEvaluate(b *testing.B) {
	benchSetup(b)
	for _, set := range []struct {
		name string
		keys []benchKey
	}{{"mixed", bench.mixed}, {"steady", bench.steady}, {"compliant", bench.compliant}} {
		b.Run(set.name, func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			e := bench.engine
			var ms0, ms1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms0)
			start := time.Now()
			passes, checks := 0, 0
			for b.Loop() {
				for i := range set.keys {
					k := &set.keys[i]
					_, n := e.EvaluateCounted(k.key, k.tags, now)
					checks += n
				}
				passes++
			}
			elapsed := time.Since(start).Seconds()
			runtime.ReadMemStats(&ms1)
			keys := float64(passes * len(set.keys))
			b.ReportMetric(keys/elapsed, "keys/s")
			b.ReportMetric(keys*float64(len(e.Policies()))/elapsed, "policy-evals/s")
			b.ReportMetric(float64(checks)/elapsed, "rule-checks/s")
			b.ReportMetric(float64(checks)/keys, "rule-checks/key")
			b.ReportMetric(float64(checks)/elapsed/1e6, "x-of-1M-target")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/keys, "allocs/key")
		})
	}
}

// BenchmarkEvaluateParallel checks that evaluation scales across cores
// (the engine is shared; each goroutine gets pooled scratch space).
func BenchmarkEvaluateParallel(b *testing.B) {
	benchSetup(b)
	e := bench.engine
	var checks atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i, n := 0, 0
		for pb.Next() {
			k := &bench.steady[i%benchKeys]
			_, c := e.EvaluateCounted(k.key, k.tags, now)
			n += c
			i++
		}
		checks.Add(int64(n))
	})
	b.ReportMetric(float64(checks.Load())/b.Elapsed().Seconds(), "rule-checks/s")
}

// TestAllocsPerCompliantKey keeps the cost of the common case in check: a
// key that complies with every shipped policy (with values that need no
// trimming or lowering) is evaluated with a handful of allocations.
func TestAllocsPerCompliantKey(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocations differ under coverage or the race detector")
	}
	e, err := policy.Load(policies.FS, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k := policy.Key{ID: "k", Alias: "prod-orders", State: policy.StateEnabled, Spec: "AES_256"}
	tags := map[string]string{"owner": "team-a", "cost-center": "cc-ops", "env": "prod", "lifecycle": "permanent"}
	if d := e.Evaluate(k, tags, now); !d.Compliant() || d.HasChanges() {
		t.Fatalf("the key is not compliant: %+v", d)
	}
	got := testing.AllocsPerRun(200, func() { e.Evaluate(k, tags, now) })
	// One boxed environment per round, and what expr allocates reading
	// tags["env"] and calling lower/trim on it (no-temporary-in-production).
	t.Logf("allocs %.1f", got)
	if got > 5 {
		t.Errorf("got %.1f allocations per compliant key, want at most 5", got)
	}
}
