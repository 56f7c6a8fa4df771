package policy_test

import (
	"math/rand/v2"
	"runtime"
	"sync"
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
	rules     int
	mixed     []benchKey // generated keys, most of them needing changes
	compliant []benchKey // the same keys after their plans: the steady state
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
		for _, p := range e.Policies() {
			bench.rules += len(p.Rules)
		}
		rng := rand.New(rand.NewPCG(7, 11))
		for i := range benchKeys {
			k, tags := randomKey(rng, i)
			k.Spec = []string{"AES_256", "SM4", "RSA_2048"}[rng.IntN(3)]
			bench.mixed = append(bench.mixed, benchKey{k, tags})
			d := e.Evaluate(k, tags, now)
			bench.compliant = append(bench.compliant, benchKey{k, applyDecision(tags, d)})
		}
	})
	if len(bench.engine.Policies()) != 10 {
		b.Fatalf("got %d policies, want 10", len(bench.engine.Policies()))
	}
}

// BenchmarkEvaluate evaluates 10 policies over 100k generated keys per
// operation. rule-evals counts every rule of every policy for every key.
func BenchmarkEvaluate(b *testing.B) {
	benchSetup(b)
	for _, set := range []struct {
		name string
		keys []benchKey
	}{{"mixed", bench.mixed}, {"compliant", bench.compliant}} {
		b.Run(set.name, func(b *testing.B) {
			e := bench.engine
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			start := time.Now()
			passes := 0
			for b.Loop() {
				for i := range set.keys {
					k := &set.keys[i]
					_ = e.Evaluate(k.key, k.tags, now)
				}
				passes++
			}
			elapsed := time.Since(start).Seconds()
			runtime.ReadMemStats(&ms1)
			keys := float64(passes * len(set.keys))
			ruleEvals := keys * float64(bench.rules)
			b.ReportMetric(keys/elapsed, "keys/s")
			b.ReportMetric(ruleEvals/elapsed, "rule-evals/s")
			b.ReportMetric(ruleEvals/elapsed/1e6, "x-of-1M-target")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/keys, "allocs/key")
		})
	}
}

// BenchmarkEvaluateParallel checks that evaluation scales across cores
// (the engine is shared; each goroutine gets pooled scratch space).
func BenchmarkEvaluateParallel(b *testing.B) {
	benchSetup(b)
	e := bench.engine
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			k := &bench.compliant[i%benchKeys]
			_ = e.Evaluate(k.key, k.tags, now)
			i++
		}
	})
	b.ReportMetric(float64(b.N)*float64(bench.rules)/b.Elapsed().Seconds(), "rule-evals/s")
}
