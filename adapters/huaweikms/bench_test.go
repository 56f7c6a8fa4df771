package huaweikms

import (
	"context"
	"errors"
	"io"
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
// the emulator (no rate limit), and in the same run a per-key baseline
// (ListKeys, then ShowKmsTags for every key). It reports API calls and wall
// time of both, the lower bound (bulk pages of 1000), and the ratios.
//
//	go test ./adapters/huaweikms -run '^$' -bench ListWithTags -benchtime 1x
func BenchmarkListWithTags(b *testing.B) {
	const n = 10000
	seed := emulator.SampleKeys(n, 1)
	for _, bc := range []struct {
		name string
		opts emulator.Options
	}{
		{"bulk lists every key", emulator.Options{Seed: seed}},
		{"bulk omits untagged keys", emulator.Options{Seed: seed, BulkOmitUntagged: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b, bc.opts, nil)
			ctx := context.Background()
			var sweepCalls, baseCalls int
			var sweepTime, baseTime time.Duration
			for b.Loop() {
				e.srv.ResetStats()
				start := time.Now()
				got := sweep(b, ctx, e.store, e.store.List(ctx, ""))
				sweepTime += time.Since(start)
				sweepCalls += total(e.srv.Stats())
				if got != n {
					b.Fatalf("sweep listed %d keys, want %d", got, n)
				}

				e.srv.ResetStats()
				start = time.Now()
				// The baseline: phase 2 alone lists every key with unknown tags.
				got = sweep(b, ctx, e.store, &lister{s: e.store, pos: cursor{Phase: phaseKeys}, seen: newIDSet()})
				baseTime += time.Since(start)
				baseCalls += total(e.srv.Stats())
				if got != n {
					b.Fatalf("baseline listed %d keys, want %d", got, n)
				}
			}
			runs := float64(b.N)
			lower := float64((n + DefaultBulkPageSize - 1) / DefaultBulkPageSize)
			b.ReportMetric(float64(sweepCalls)/runs, "calls")
			b.ReportMetric(lower, "lower-bound-calls")
			b.ReportMetric(float64(baseCalls)/runs, "baseline-calls")
			b.ReportMetric(float64(sweepCalls)/runs/lower, "calls/lower-bound")
			b.ReportMetric(float64(baseCalls)/float64(sweepCalls), "baseline-calls/calls")
			b.ReportMetric(float64(sweepTime.Milliseconds())/runs, "sweep-ms")
			b.ReportMetric(float64(baseTime.Milliseconds())/runs, "baseline-ms")
			b.ReportMetric(float64(baseTime)/float64(sweepTime), "baseline-time/sweep-time")
			// What the calls cost at the service's 20 requests per second.
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
