package main

import (
	"context"
	"fmt"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/policy"
)

// CallsResult is the API call count of one sweep beside its bounds.
type CallsResult struct {
	Keys         int `json:"keys"`
	NonCompliant int `json:"non_compliant"`
	// The lower bound of the adapter's design: every ListKeys page, every
	// bulk tag listing page and one write per needed batch.
	ListPages  int `json:"list_pages"`
	BulkPages  int `json:"bulk_pages"`
	Batches    int `json:"batches"`
	LowerBound int `json:"lower_bound"`
	// Calls is what the emulator counted, by API in ByAPI.
	Calls int            `json:"calls"`
	ByAPI map[string]int `json:"by_api"`
	// Ratio is Calls / LowerBound (target 1).
	Ratio float64 `json:"ratio"`
	// Naive is the per-key baseline: ListKeys pages, one ShowKmsTags per
	// key, the writes. NaiveMeasured says it was counted by running the same
	// sweep with every key hidden from the bulk listing (so the adapter reads
	// each key's tags one by one); otherwise it is computed.
	Naive         int     `json:"naive"`
	NaiveMeasured bool    `json:"naive_measured"`
	NaiveRatio    float64 `json:"naive_over_calls"`
	// SecondSweep is the call count of a sweep right after (nothing to
	// write), SecondWrites its writes (target 0).
	SecondSweep  int     `json:"second_sweep_calls"`
	SecondWrites int     `json:"second_sweep_writes"`
	Seconds      float64 `json:"sweep_seconds"`
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// listPages returns the ListKeys and bulk tag pages a sweep of n keys reads.
func listPages(n int) (list, bulk int) {
	return ceilDiv(n, huaweikms.DefaultPageSize), ceilDiv(n, huaweikms.DefaultBulkPageSize)
}

// sweepListKeys is the ListKeys calls of a sweep whose bulk listing lists
// every key, as the emulator's does: one, whose total equals the bulk
// listing's total_count, so that phase 2 ends there (huaweikms, nextKeys).
const sweepListKeys = 1

// lowerBound is the fewest calls a sweep of n keys needing batches writes
// can make with this design: every bulk listing page, the ListKeys page
// that counts the keys, and one call per write.
func lowerBound(n, batches int) int {
	_, bulk := listPages(n)
	return sweepListKeys + bulk + batches
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// measureCalls sweeps n keys (ratio non-compliant) and counts the calls.
// When naive is set it also measures the per-key baseline.
func measureCalls(ctx context.Context, e *policy.Engine, n int, ratio float64, naive bool, concurrency int) (CallsResult, error) {
	keys := genKeys(n, ratio)
	p := planFor(e, keys, time.Now())
	r := CallsResult{Keys: n, NonCompliant: p.nonCompliant, Batches: p.batches, LowerBound: lowerBound(n, p.batches)}
	r.ListPages, r.BulkPages = listPages(n)
	r.Naive = r.ListPages + n + r.Batches

	k, err := startKMS(keys)
	if err != nil {
		return r, err
	}
	defer k.close()
	store, err := newStore(k.url, storeOptions{})
	if err != nil {
		return r, err
	}
	rep, d, err := runSweep(ctx, e, store, concurrency)
	if err != nil {
		return r, err
	}
	st := k.srv.Stats()
	r.ByAPI, r.Calls, r.Seconds = st.Calls, total(st.Calls), d.Seconds()
	r.Ratio = float64(r.Calls) / float64(r.LowerBound)
	if rep.Scanned != n || rep.Changed != p.nonCompliant || rep.Failed != 0 {
		return r, fmt.Errorf("%d keys: sweep scanned %d, changed %d, failed %d; want %d, %d, 0", n, rep.Scanned, rep.Changed, rep.Failed, n, p.nonCompliant)
	}
	if st.Writes != p.batches || st.RejectedWrites != 0 {
		return r, fmt.Errorf("%d keys: %d writes (%d rejected), want %d", n, st.Writes, st.RejectedWrites, p.batches)
	}

	k.srv.ResetStats()
	store2, err := newStore(k.url, storeOptions{})
	if err != nil {
		return r, err
	}
	if _, _, err := runSweep(ctx, e, store2, concurrency); err != nil {
		return r, fmt.Errorf("second sweep: %w", err)
	}
	st = k.srv.Stats()
	r.SecondSweep, r.SecondWrites = total(st.Calls), st.Writes

	if naive {
		k.close()
		nk, err := startKMS(keys)
		if err != nil {
			return r, err
		}
		defer nk.close()
		ids := make([]string, len(keys))
		for i, key := range keys {
			ids[i] = key.id
		}
		nk.srv.HideFromBulk(ids...)
		ns, err := newStore(nk.url, storeOptions{})
		if err != nil {
			return r, err
		}
		if _, _, err := runSweep(ctx, e, ns, concurrency); err != nil {
			return r, fmt.Errorf("naive sweep: %w", err)
		}
		st := nk.srv.Stats()
		// The one empty bulk page the adapter reads first is not part of
		// the naive baseline.
		r.Naive = st.Calls[emulator.APIListKeys] + st.Calls[emulator.APIShowTags] + st.Calls[emulator.APITagsAction]
		r.NaiveMeasured = true
	}
	r.NaiveRatio = float64(r.Naive) / float64(r.Calls)
	return r, nil
}
