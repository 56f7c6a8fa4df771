package main

import (
	"context"
	"io"
	"maps"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/cmd/internal/config"
	"github.com/tagwarden/tagwarden/handler"
)

// previewBenchKeys is the size of the project BenchmarkPreview sweeps.
const previewBenchKeys = 10000

// BenchmarkPreview measures the policy-change preview ("tagwarden plan
// --compare") against one plan of the same 10,000 sample keys in the
// emulator, through the real adapter and SDK: the demo's change (the
// shipped policies plus one required tag) against the shipped policies.
//
// Each iteration runs one plan and one preview. Reported: the KMS calls of
// each (the emulator's counts: the benchmark fails if they differ), the
// time of each sweep and their ratio; then the evaluation time alone, the
// best of seven rounds over the keys as the plan read them: as a plan
// evaluates them (the policies in force), with the old policies alone, and
// as the preview does (both sets and the comparison), and the ratio of the
// preview's to the plan's; and the ratio for a preview of the policies in
// force against themselves (two sets as costly as each other).
//
//	go test ./cmd/tagwarden -run '^$' -bench Preview -benchtime 3x
func BenchmarkPreview(b *testing.B) {
	k := startKMSWith(b, emulator.Options{Seed: emulator.SampleKeys(previewBenchKeys, demoSeed)})
	oldDir, newDir, err := writeDemoPolicySets(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	cfg := config.Default()
	cfg.Endpoint, cfg.ProjectID, cfg.RateLimit, cfg.PoliciesDir = k.url, emulator.DefaultProject, demoRateLimit, newDir
	oldCfg := cfg
	oldCfg.PoliciesDir = oldDir
	cur, err := loadPolicies(cfg)
	if err != nil {
		b.Fatal(err)
	}
	old, err := loadPolicies(oldCfg)
	if err != nil {
		b.Fatal(err)
	}
	g := &globals{stdout: io.Discard, stderr: io.Discard, logLevel: "fatal"}
	store, err := newStore(cfg, cur, &huaweikms.Credentials{AccessKey: emulator.DefaultAK, SecretKey: emulator.DefaultSK}, g)
	if err != nil {
		b.Fatal(err)
	}
	dry := true
	s := sweep{g: g, cfg: cfg, engine: cur, store: store, output: formatJSON,
		req: handler.Request{Mode: handler.ModeSweep, DryRun: &dry, Trigger: "bench"}}
	ctx := context.Background()

	// The keys as a plan reads them, for the evaluation alone.
	var (
		mu   sync.Mutex
		read []handler.Decided
	)
	if rep := s.run(ctx, func(d handler.Decided) {
		mu.Lock()
		read = append(read, d)
		mu.Unlock()
	}); rep.Scanned != previewBenchKeys || rep.Error != "" {
		b.Fatalf("plan: %d keys scanned, error %q", rep.Scanned, rep.Error)
	}

	var planWall, previewWall time.Duration
	var differ int
	var planCalls, previewCalls map[string]int
	b.ResetTimer()
	for range b.N {
		k.srv.ResetStats()
		start := time.Now()
		rep := s.run(ctx, nil)
		planWall += time.Since(start)
		planCalls = k.srv.Stats().Calls
		if rep.Scanned != previewBenchKeys {
			b.Fatalf("plan scanned %d keys", rep.Scanned)
		}

		k.srv.ResetStats()
		start = time.Now()
		p, err := s.previewOf(ctx, old, oldDir)
		previewWall += time.Since(start)
		previewCalls = k.srv.Stats().Calls
		if err != nil || p.Counts.Scanned != previewBenchKeys || p.Counts.Differ == 0 {
			b.Fatalf("preview: %v, counts %+v", err, p.Counts)
		}
		differ = p.Counts.Differ
		if !maps.Equal(planCalls, previewCalls) {
			b.Fatalf("the preview's calls %v differ from the plan's %v", previewCalls, planCalls)
		}
	}
	b.StopTimer()

	// The evaluation alone, on the keys as the plan read them: each way
	// in turn, round after round, after a collection, and the best round
	// of each, so that neither pays for the other's garbage or for a
	// moment the machine was busy.
	ways := []func(){
		func() { // a plan: the policies in force
			for _, d := range read {
				cur.Evaluate(d.Key, d.Tags, d.Now)
			}
		},
		func() { // the old policies alone
			for _, d := range read {
				old.Evaluate(d.Key, d.Tags, d.Now)
			}
		},
		func() { // the preview: both, and the comparison
			pv := &previewer{old: old}
			for _, d := range read {
				d.Decision = cur.Evaluate(d.Key, d.Tags, d.Now)
				pv.add(d)
			}
		},
		func() { // a preview of no change: the policies in force twice
			pv := &previewer{old: cur}
			for _, d := range read {
				d.Decision = cur.Evaluate(d.Key, d.Tags, d.Now)
				pv.add(d)
			}
		},
	}
	bests := make([]time.Duration, len(ways))
	for range 11 {
		for i, f := range ways {
			runtime.GC()
			start := time.Now()
			f()
			if d := time.Since(start); bests[i] == 0 || d < bests[i] {
				bests[i] = d
			}
		}
	}
	planEval, oldEval, previewEval, selfEval := bests[0], bests[1], bests[2], bests[3]

	n := float64(b.N)
	total := func(m map[string]int) float64 {
		t := 0
		for _, c := range m {
			t += c
		}
		return float64(t)
	}
	ms := func(d time.Duration) float64 { return d.Seconds() * 1000 }
	b.ReportMetric(float64(differ), "keys-differ")
	b.ReportMetric(total(planCalls), "plan-calls")
	b.ReportMetric(total(previewCalls), "preview-calls")
	b.ReportMetric(ms(planWall)/n, "plan-ms")
	b.ReportMetric(ms(previewWall)/n, "preview-ms")
	b.ReportMetric(previewWall.Seconds()/planWall.Seconds(), "sweep-ratio")
	b.ReportMetric(ms(planEval), "plan-eval-ms")
	b.ReportMetric(ms(oldEval), "old-eval-ms")
	b.ReportMetric(ms(previewEval), "preview-eval-ms")
	b.ReportMetric(previewEval.Seconds()/planEval.Seconds(), "eval-ratio")
	b.ReportMetric(selfEval.Seconds()/planEval.Seconds(), "self-eval-ratio")
}
