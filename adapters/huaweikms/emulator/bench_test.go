package emulator_test

import (
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
)

var (
	bigOnce sync.Once
	big     []emulator.SeedKey
)

func bigSeed() []emulator.SeedKey {
	bigOnce.Do(func() { big = emulator.SampleKeys(100_000, 1) })
	return big
}

// BenchmarkNew100k reports the memory 100k keys hold.
func BenchmarkNew100k(b *testing.B) {
	seed := bigSeed()
	var s *emulator.Server
	for b.Loop() {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		var err error
		s, err = emulator.New(emulator.Options{Seed: seed})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/1e6, "MB-heap")
	}
	runtime.KeepAlive(s)
}

// BenchmarkListKeysSweep100k lists 100k keys (key_spec ALL, pages of 1000)
// through the SDK over HTTP.
func BenchmarkListKeysSweep100k(b *testing.B) {
	s, err := emulator.New(emulator.Options{Seed: bigSeed()})
	if err != nil {
		b.Fatal(err)
	}
	url, err := s.Listen("")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c := client(&testing.T{}, url, defaultCreds())
	all := model.GetListKeysRequestBodyKeySpecEnum().ALL
	for b.Loop() {
		var marker *string
		n := 0
		for {
			resp, err := c.ListKeys(&model.ListKeysRequest{Body: &model.ListKeysRequestBody{KeySpec: &all, Limit: ptr("1000"), Marker: marker}})
			if err != nil {
				b.Fatal(err)
			}
			n += len(*resp.Keys)
			if resp.Truncated.Value() == "false" {
				break
			}
			marker = resp.NextMarker
		}
		if n != 100_000 {
			b.Fatalf("listed %d", n)
		}
	}
	b.ReportMetric(float64(s.Stats().Calls[emulator.APIListKeys])/float64(b.N), "calls/op")
}

// BenchmarkBulkPage100k serves one resource_instances page of 1000 from the
// middle of 100k keys, in process.
func BenchmarkBulkPage100k(b *testing.B) {
	s, err := emulator.New(emulator.Options{Seed: bigSeed()})
	if err != nil {
		b.Fatal(err)
	}
	t := &testing.T{}
	i := 0
	for b.Loop() {
		req := signed(t, "http://emulator.local", raw{method: "POST", path: path("resource_instances/action"),
			body: `{"action":"filter","limit":"1000","offset":"` + strconv.Itoa(i%100*1000) + `"}`})
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("got %d", rec.Code)
		}
		i++
	}
}
