package main

import (
	"runtime"
	"sync"
	"time"

	"github.com/tagwarden/tagwarden/policy"
)

// EvalResult is the policy engine's throughput.
type EvalResult struct {
	Set      string `json:"set"`
	Policies int    `json:"policies"`
	Rules    int    `json:"rules"`
	// KeysPerSec and RulesPerSec are for one goroutine (one core).
	KeysPerSec  float64 `json:"keys_per_sec"`
	RulesPerSec float64 `json:"rule_evals_per_sec_per_core"`
	// ParallelPerCore is the rule evaluations per second of GOMAXPROCS
	// goroutines sharing the engine, divided by GOMAXPROCS.
	ParallelPerCore float64 `json:"parallel_rule_evals_per_sec_per_core"`
	Cores           int     `json:"cores"`
}

// measureEval evaluates generated keys with e for about d, on one
// goroutine and then on GOMAXPROCS goroutines. A rule evaluation is one
// rule of one policy for one key, as in the policy package's benchmark.
func measureEval(e *policy.Engine, set string, ratio float64, d time.Duration) EvalResult {
	bk := genKeys(20000, ratio)
	type kt struct {
		k    policy.Key
		tags map[string]string
	}
	keys := make([]kt, len(bk))
	for i, k := range bk {
		keys[i] = kt{k.policyKey(), k.tags}
	}
	r := EvalResult{Set: set, Cores: runtime.GOMAXPROCS(0)}
	for _, p := range e.Policies() {
		r.Policies++
		r.Rules += len(p.Rules)
	}
	now := time.Now()
	loop := func(stop time.Time, offset int) int {
		n := 0
		for time.Now().Before(stop) {
			for j := 0; j < 1000; j++ {
				k := &keys[(offset+n)%len(keys)]
				_ = e.Evaluate(k.k, k.tags, now)
				n++
			}
		}
		return n
	}
	loop(time.Now().Add(d/10), 0) // warm up the engine's pools
	start := time.Now()
	n := loop(start.Add(d), 0)
	el := time.Since(start).Seconds()
	r.KeysPerSec = float64(n) / el
	r.RulesPerSec = r.KeysPerSec * float64(r.Rules)

	var wg sync.WaitGroup
	counts := make([]int, r.Cores)
	start = time.Now()
	stop := start.Add(d)
	for g := range r.Cores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[g] = loop(stop, g*len(keys)/r.Cores)
		}()
	}
	wg.Wait()
	el = time.Since(start).Seconds()
	sum := 0
	for _, c := range counts {
		sum += c
	}
	r.ParallelPerCore = float64(sum) * float64(r.Rules) / el / float64(r.Cores)
	return r
}
