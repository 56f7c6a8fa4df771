package main

import (
	"context"
	"fmt"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/policy"
)

// RateResult is a sweep's wall time under a rate limit beside calls/N.
type RateResult struct {
	Keys      int     `json:"keys"`
	RateLimit float64 `json:"rate_limit_rps"`
	Burst     int     `json:"emulator_burst"`
	LatencyMS float64 `json:"latency_ms"`
	Calls     int     `json:"calls"`
	// Bound is Calls/RateLimit: no client can finish sooner.
	BoundSeconds float64 `json:"bound_seconds"`
	WallSeconds  float64 `json:"wall_seconds"`
	// Ratio is WallSeconds / BoundSeconds (target <= 1.10).
	Ratio float64 `json:"ratio"`
	// LowerBound is the calls of the sweep without any retry (see
	// CallsResult), LowerRatio WallSeconds / (LowerBound/RateLimit): what
	// the retries of throttled calls cost on top.
	LowerBound int     `json:"lower_bound"`
	LowerRatio float64 `json:"wall_over_lower_bound"`
	// Throttled counts 429 answers (retried by the adapter); Failed counts
	// keys reported failed (target 0).
	Throttled int `json:"throttled"`
	Failed    int `json:"failed"`
	// FailedErrors are the errors of the first failed keys.
	FailedErrors []string `json:"failed_errors,omitempty"`
}

// measureRate sweeps n keys against an emulator enforcing rps requests per
// second (token bucket of burst) with latency added to every answer, the
// adapter's pacer set to the same rps.
func measureRate(ctx context.Context, e *policy.Engine, n int, ratio, rps float64, burst int, latency time.Duration, concurrency int) (RateResult, error) {
	r := RateResult{Keys: n, RateLimit: rps, Burst: burst, LatencyMS: float64(latency) / float64(time.Millisecond)}
	keys := genKeys(n, ratio)
	p := planFor(e, keys, time.Now())
	r.LowerBound = lowerBound(n, p.batches)
	faults := emulator.Faults{RateLimit: rps, Burst: burst, Latency: latency}
	rep, d, st, err := pacedSweep(ctx, e, keys, faults, huaweikms.NewPacer(rps), concurrency)
	if err != nil {
		return r, err
	}
	r.Calls = total(st.Calls)
	r.Throttled = st.Status[429]
	r.Failed, r.FailedErrors = rep.Failed, failedErrors(rep)
	r.WallSeconds = d.Seconds()
	r.BoundSeconds = float64(r.Calls) / rps
	r.Ratio = r.WallSeconds / r.BoundSeconds
	r.LowerRatio = r.WallSeconds / (float64(r.LowerBound) / rps)
	if rep.Scanned != n || rep.Changed+rep.Failed != p.nonCompliant {
		return r, fmt.Errorf("rate-limited sweep scanned %d keys and changed %d (%d failed), want %d and %d",
			rep.Scanned, rep.Changed, rep.Failed, n, p.nonCompliant)
	}
	return r, nil
}
