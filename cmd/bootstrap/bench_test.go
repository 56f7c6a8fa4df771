package main

import (
	"context"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/functiongraph/runtimetest"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
)

// lambdaTiming is what one function measures under the emulator.
type lambdaTiming struct{ cold, warm time.Duration }

// measureLambda starts bin under the runtime interface emulator three times
// and keeps the median time from process start to the first response (cold
// start), then times n warm invocations of one instance.
func measureLambda(b *testing.B, bin string, env map[string]string, payload string, n int) lambdaTiming {
	b.Helper()
	var colds []time.Duration
	for range 3 {
		t0 := time.Now()
		r := startRIE(b, bin, b.TempDir(), env)
		body := r.invoke(b, payload)
		colds = append(colds, time.Since(t0))
		if len(body) == 0 {
			b.Fatal("empty response")
		}
		r.Close()
	}
	sort.Slice(colds, func(i, j int) bool { return colds[i] < colds[j] })

	r := startRIE(b, bin, b.TempDir(), env)
	r.invoke(b, payload)
	t0 := time.Now()
	for range n {
		r.invoke(b, payload)
	}
	warm := time.Since(t0) / time.Duration(n)
	r.Close()
	return lambdaTiming{cold: colds[1], warm: warm}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkLambda reports the cold start (emulator and function start to
// the first response) and a warm invocation of tagwarden under the Lambda
// runtime interface emulator, a dry-run check of one key against the KMS
// emulator, beside the same figures for an empty echo function measured in
// the same run (docs/performance.md gives both), and the ratios. Run: go test ./cmd/bootstrap -run '^$' -bench Lambda -benchtime 20x
func BenchmarkLambda(b *testing.B) {
	_, kmsURL := newEmulator(b, emulator.DefaultAK, emulator.DefaultSK, "")
	env := map[string]string{
		"HUAWEICLOUD_SDK_AK":         emulator.DefaultAK,
		"HUAWEICLOUD_SDK_SK":         emulator.DefaultSK,
		"HUAWEICLOUD_SDK_PROJECT_ID": emulator.DefaultProject,
		"TAGWARDEN_KMS_ENDPOINT":     kmsURL,
		"TAGWARDEN_POLICIES":         testPolicies(b),
		"TAGWARDEN_LOG_LEVEL":        "warn",
		"TAGWARDEN_RATE_LIMIT":       "1000", // measure the function, not the KMS rate limit
	}
	bin, echo := bootstrapBinary(b), echoBinary(b)
	rieBinary(b)
	b.ResetTimer()
	tw := measureLambda(b, bin, env, `{"action":"check","key_ids":["`+keyOwned+`"],"dry_run":true}`, b.N)
	base := measureLambda(b, echo, nil, `{}`, b.N)
	b.StopTimer()
	b.ReportMetric(ms(tw.cold), "cold-ms")
	b.ReportMetric(ms(tw.warm), "warm-ms")
	b.ReportMetric(ms(base.cold), "echo-cold-ms")
	b.ReportMetric(ms(base.warm), "echo-warm-ms")
	b.ReportMetric(float64(tw.cold)/float64(base.cold), "cold-x-echo")
	b.ReportMetric(float64(tw.warm)/float64(base.warm), "warm-x-echo")
}

// BenchmarkFunctionGraph reports the cold start (process start to the first
// response) and a warm invocation of tagwarden under the FunctionGraph
// runtime API test server: a dry-run check of one key against the KMS
// emulator, with temporary credentials in the headers.
func BenchmarkFunctionGraph(b *testing.B) {
	const ak, sk, token = "FGBENCHAK00000000001", "fg-bench-secret-key-0000000000000000001", "fg-bench-token"
	_, kmsURL := newEmulator(b, ak, sk, token)
	api, err := runtimetest.New()
	if err != nil {
		b.Fatal(err)
	}
	defer api.Close()
	bin := bootstrapBinary(b)
	ev := func(i int) runtimetest.Event {
		return runtimetest.Event{
			RequestID: "bench-" + strconv.Itoa(i),
			Payload:   []byte(`{"action":"check","key_ids":["` + keyOwned + `"],"dry_run":true}`),
			Header:    header("X-CFF-Access-Key", ak, "X-CFF-Secret-Key", sk, "X-CFF-Security-Token", token),
		}
	}
	invoke := func(i int) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := api.Invoke(ctx, ev(i))
		if err != nil || res.Error {
			b.Fatalf("invoke: %v %s", err, res.Body)
		}
	}
	b.ResetTimer()
	t0 := time.Now()
	p := start(b, b.TempDir(), map[string]string{
		"RUNTIME_API_ADDR":       api.Addr(),
		"RUNTIME_TIMEOUT":        "60",
		"RUNTIME_PROJECT_ID":     emulator.DefaultProject,
		"TAGWARDEN_KMS_ENDPOINT": kmsURL,
		"TAGWARDEN_POLICIES":     testPolicies(b),
		"TAGWARDEN_RATE_LIMIT":   "1000",
		"TAGWARDEN_LOG_LEVEL":    "warn",
	}, bin)
	invoke(0)
	cold := time.Since(t0)
	t0 = time.Now()
	for i := range b.N {
		invoke(i + 1)
	}
	warm := time.Since(t0) / time.Duration(b.N)
	b.StopTimer()
	p.stop()
	b.ReportMetric(ms(cold), "cold-ms")
	b.ReportMetric(ms(warm), "warm-ms")
}
