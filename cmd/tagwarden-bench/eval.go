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
	// KeysPerSec and RulesPerSec are for one goroutine with GOMAXPROCS 1
	// (one core, the garbage collector's work included). A rule
	// evaluation is a rule check the engine counts (policy.EvaluateCounted):
	// one rule of a policy that matches the key and does not exempt it, per
	// planning round; rules of policies that do not match are not counted.
	KeysPerSec  float64 `json:"keys_per_sec"`
	RulesPerSec float64 `json:"rule_evals_per_sec_per_core"`
	// RulesPerKey is the rule checks per key of the set.
	RulesPerKey float64 `json:"rule_evals_per_key"`
	// ParallelPerCore is the rule evaluations per second of GOMAXPROCS
	// goroutines sharing the engine, divided by GOMAXPROCS.
	ParallelPerCore float64 `json:"parallel_rule_evals_per_sec_per_core"`
	Cores           int     `json:"cores"`
}

// measureEval evaluates generated keys with e for about d, on one
// goroutine and then on GOMAXPROCS goroutines, counting rule evaluations as
// the policy package's benchmark does (the engine's own count of rule
// checks, not rules × keys).
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
	// loop evaluates keys until stop; it returns the keys evaluated and
	// the rule checks the engine made.
	loop := func(stop time.Time, offset int) (n, checks int) {
		for time.Now().Before(stop) {
			for j := 0; j < 1000; j++ {
				k := &keys[(offset+n)%len(keys)]
				_, c := e.EvaluateCounted(k.k, k.tags, now)
				checks += c
				n++
			}
		}
		return n, checks
	}
	loop(time.Now().Add(d/10), 0) // warm up the engine's pools
	// One core: GOMAXPROCS 1, so that the garbage collector shares it.
	prev := runtime.GOMAXPROCS(1)
	start := time.Now()
	n, checks := loop(start.Add(d), 0)
	el := time.Since(start).Seconds()
	runtime.GOMAXPROCS(prev)
	r.KeysPerSec = float64(n) / el
	r.RulesPerSec = float64(checks) / el
	r.RulesPerKey = float64(checks) / float64(n)

	var wg sync.WaitGroup
	counts := make([]int, r.Cores)
	start = time.Now()
	stop := start.Add(d)
	for g := range r.Cores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, counts[g] = loop(stop, g*len(keys)/r.Cores)
		}()
	}
	wg.Wait()
	el = time.Since(start).Seconds()
	sum := 0
	for _, c := range counts {
		sum += c
	}
	r.ParallelPerCore = float64(sum) / el / float64(r.Cores)
	return r
}
