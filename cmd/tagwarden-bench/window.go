package main

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/policy"
)

// WindowResult is a sweep against a gateway that counts calls per sliding
// second, as KMS's does, at exactly the adapter's rate.
type WindowResult struct {
	Keys      int     `json:"keys"`
	RateLimit float64 `json:"rate_limit_rps"`
	// WindowLimit calls in any WindowSeconds: the emulator's gateway.
	WindowLimit   int     `json:"window_limit"`
	WindowSeconds float64 `json:"window_seconds"`
	LatencyMS     float64 `json:"latency_ms"`
	// Pacer describes the adapter's pacing (huaweikms.Pacer).
	Pacer string `json:"pacer"`
	// Calls is what the emulator answered, 429s included; LowerBound the
	// calls of the sweep without any retry (see CallsResult).
	Calls      int            `json:"calls"`
	ByAPI      map[string]int `json:"by_api"`
	LowerBound int            `json:"lower_bound"`
	// Rereads counts the tag reads before writes (ShowKmsTags: every key of
	// this sweep is in the bulk listing, so these are only the reads of keys
	// whose listing page was older than TAGWARDEN_MAX_SNAPSHOT_AGE when
	// their turn came). SnapshotBound is LowerBound plus one such read per
	// key that needs a write: the most the sweep may make without retries.
	Rereads       int `json:"snapshot_rereads"`
	NonCompliant  int `json:"non_compliant"`
	SnapshotBound int `json:"bound_with_rereads"`
	// Throttled counts 429 answers, ThrottledShare Throttled/Calls (target
	// < 1%).
	Throttled      int     `json:"throttled"`
	ThrottledShare float64 `json:"throttled_share"`
	// BoundSeconds is Calls/RateLimit: no client can finish sooner.
	BoundSeconds float64 `json:"bound_seconds"`
	WallSeconds  float64 `json:"wall_seconds"`
	// Ratio is WallSeconds / BoundSeconds (target <= 1.05).
	Ratio float64 `json:"ratio"`
	// Failed counts keys reported failed (target 0); FailedErrors are the
	// errors of the first ones.
	Failed       int      `json:"failed"`
	FailedErrors []string `json:"failed_errors,omitempty"`
}

// measureWindow sweeps n keys against an emulator whose gateway lets
// floor(rps) calls through in any sliding second (the live gateway's count,
// "limit:20,time:1 second") and adds latency to every answer, through the
// adapter paced at rps by a huaweikms.Pacer, as the function runs.
func measureWindow(ctx context.Context, e *policy.Engine, n int, ratio, rps float64, latency time.Duration, concurrency int) (WindowResult, error) {
	limit := max(1, int(math.Floor(rps)))
	pacer := huaweikms.NewPacer(rps)
	r := WindowResult{Keys: n, RateLimit: rps, WindowLimit: limit, WindowSeconds: time.Second.Seconds(),
		LatencyMS: float64(latency) / float64(time.Millisecond), Pacer: pacer.String()}
	keys := genKeys(n, ratio)
	p := planFor(e, keys, time.Now())
	r.LowerBound = lowerBound(n, p.batches)
	r.NonCompliant = p.nonCompliant
	r.SnapshotBound = r.LowerBound + p.nonCompliant
	faults := emulator.Faults{WindowLimit: limit, Window: time.Second, Latency: latency}
	rep, d, st, err := pacedSweep(ctx, e, keys, faults, pacer, concurrency)
	if err != nil {
		return r, err
	}
	r.Calls, r.ByAPI = total(st.Calls), st.Calls
	r.Throttled = st.Status[429]
	r.Rereads = st.Calls[emulator.APIShowTags]
	r.ThrottledShare = float64(r.Throttled) / float64(max(1, r.Calls))
	r.Failed, r.FailedErrors = rep.Failed, failedErrors(rep)
	r.WallSeconds = d.Seconds()
	r.BoundSeconds = float64(r.Calls) / rps
	r.Ratio = r.WallSeconds / r.BoundSeconds
	if rep.Scanned != n || rep.Changed+rep.Failed != p.nonCompliant {
		return r, fmt.Errorf("sweep against the window gateway scanned %d keys and changed %d (%d failed), want %d and %d",
			rep.Scanned, rep.Changed, rep.Failed, n, p.nonCompliant)
	}
	return r, nil
}
