package huaweikms

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/handler"
)

// benchWorkers is how many ShowKmsTags calls run at once, for the sweep's
// unknown-tag keys and for the baseline alike (as the handler does).
const benchWorkers = 8

// BenchmarkListWithTags lists 10k keys with their tags through the SDK and
// the emulator, and in the same run a per-key baseline (ListKeys, then
// ShowKmsTags for every key). ns/op and sweep-ms are the sweep's wall time
// (the baseline runs with the timer stopped; baseline-ms is its own). It
// reports the API calls of both (the sweep's split into bulk, ListKeys and
// ShowKmsTags calls), the lower bound (bulk pages of 1000: the sweep's
// ListKeys walk comes on top, to find keys the bulk listing leaves out), and
// the ratios. The store has no rate limit and the emulator adds the latency
// given, so wall times measure the work and the round trips; what the calls
// cost against the real service, at its 20 requests per second, is
// calls / 20 (the *-s@20rps metrics).
//
//	go test ./adapters/huaweikms -run '^$' -bench ListWithTags -benchtime 1x
func BenchmarkListWithTags(b *testing.B) {
	const n = 10000
	seed := emulator.SampleKeys(n, 1)
	for _, bc := range []struct {
		name    string
		opts    emulator.Options
		latency time.Duration
	}{
		{"bulk lists every key", emulator.Options{Seed: seed}, 0},
		{"bulk omits untagged keys", emulator.Options{Seed: seed, BulkOmitUntagged: true}, 0},
		{"bulk lists every key, 1ms latency", emulator.Options{Seed: seed}, time.Millisecond},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b, bc.opts, nil)
			e.srv.SetFaults(emulator.Faults{Latency: bc.latency})
			ctx := context.Background()
			var sweepCalls, baseCalls int
			var sweepTime, baseTime time.Duration
			byAPI := map[string]int{}
			for b.Loop() {
				e.srv.ResetStats()
				start := time.Now()
				got := sweep(b, ctx, e.store, e.store.List(ctx, ""))
				sweepTime += time.Since(start)
				st := e.srv.Stats()
				sweepCalls += total(st)
				for api, c := range st.Calls {
					byAPI[api] += c
				}
				if got != n {
					b.Fatalf("sweep listed %d keys, want %d", got, n)
				}

				b.StopTimer()
				e.srv.ResetStats()
				start = time.Now()
				// The baseline: phase 2 alone lists every key with unknown tags.
				got = sweep(b, ctx, e.store, &lister{s: e.store, pos: cursor{Phase: phaseKeys}, seen: newIDSet(), limit: e.store.cfg.PageSize})
				baseTime += time.Since(start)
				baseCalls += total(e.srv.Stats())
				if got != n {
					b.Fatalf("baseline listed %d keys, want %d", got, n)
				}
				b.StartTimer()
			}
			runs := float64(b.N)
			lower := float64((n + DefaultBulkPageSize - 1) / DefaultBulkPageSize)
			b.ReportMetric(float64(sweepCalls)/runs, "calls")
			b.ReportMetric(float64(byAPI[emulator.APIResourceInstances])/runs, "bulk-calls")
			b.ReportMetric(float64(byAPI[emulator.APIListKeys])/runs, "listkeys-calls")
			b.ReportMetric(float64(byAPI[emulator.APIShowTags])/runs, "showtags-calls")
			b.ReportMetric(lower, "lower-bound-calls")
			b.ReportMetric(float64(baseCalls)/runs, "baseline-calls")
			b.ReportMetric(float64(sweepCalls)/runs/lower, "calls/lower-bound")
			b.ReportMetric(float64(baseCalls)/float64(sweepCalls), "baseline-calls/calls")
			b.ReportMetric(float64(sweepTime.Milliseconds())/runs, "sweep-ms")
			b.ReportMetric(float64(baseTime.Milliseconds())/runs, "baseline-ms")
			b.ReportMetric(float64(baseTime)/float64(sweepTime), "baseline-time/sweep-time")
			b.ReportMetric(float64(sweepCalls)/runs/DefaultRateLimit, "sweep-s@20rps")
			b.ReportMetric(float64(baseCalls)/runs/DefaultRateLimit, "baseline-s@20rps")
		})
	}
}

func total(st emulator.Stats) int {
	t := 0
	for _, c := range st.Calls {
		t += c
	}
	return t
}

// sweep drains a listing and reads the tags of keys listed without them,
// benchWorkers at a time; it returns the number of keys.
func sweep(b *testing.B, ctx context.Context, s *Store, l handler.Lister) int {
	ids := make(chan string)
	var wg sync.WaitGroup
	errs := make(chan error, benchWorkers)
	for range benchWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				if _, err := s.Tags(ctx, id); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	count := 0
	for {
		p, err := l.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range p.Records {
			count++
			if r.Tags == nil {
				ids <- r.Key.ID
			}
		}
	}
	close(ids)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	return count
}

// BenchmarkSeenSet reports the heap the listing's set of seen key ids keeps
// (the bulk listing's ids, then a ListKeys walk looking each key up), in
// bytes per key, and the time per id of those two steps.
func BenchmarkSeenSet(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 300_000} {
		ids := make([]string, n)
		for i, k := range emulator.SampleKeys(n, 1) {
			ids[i] = k.ResourceID
		}
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			var perKey float64
			for b.Loop() {
				b.StopTimer()
				before := heapInUse()
				b.StartTimer()
				s := newIDSet()
				for _, id := range ids {
					s.add(id)
				}
				for _, id := range ids {
					if s.add(id) {
						b.Fatalf("key %s added twice", id)
					}
				}
				b.StopTimer()
				perKey = float64(heapInUse()-before) / float64(n)
				runtime.KeepAlive(s)
				b.StartTimer()
			}
			b.ReportMetric(perKey, "B/key")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(2*n), "ns/id")
		})
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
