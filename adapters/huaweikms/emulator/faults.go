package emulator

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Faults are injected failures and delays, changeable at run time with
// SetFaults. The zero value injects nothing.
type Faults struct {
	// Latency is added before every answer.
	Latency time.Duration
	// RateLimit is a token bucket in requests per second over all calls of
	// all projects (0: unlimited); calls over it get 429 APIG.0308.
	RateLimit float64
	// Burst is the bucket size (0: RateLimit rounded up, at least 1).
	Burst int
	// Rate500, Rate502 and Rate504 are the probabilities (0..1) of answering
	// a call with that status instead of serving it.
	Rate500, Rate502, Rate504 float64
	// DropRate is the probability of closing the connection without an answer.
	DropRate float64
	// Unauthorized answers every call 401, as when credentials have expired.
	Unauthorized bool
	// FailKeys answers calls on these key ids (describe-key, tags, tags/action)
	// with the given status and a matching error body.
	FailKeys map[string]int
	// Seed makes the random draws repeatable (0: seeded from the clock).
	Seed uint64
}

// faultState is an immutable snapshot of Faults plus its live limiter and
// random source.
type faultState struct {
	f       Faults
	limiter *rate.Limiter
	mu      sync.Mutex
	rng     *rand.Rand
}

func newFaultState(f Faults) *faultState {
	fs := &faultState{f: f}
	if len(f.FailKeys) > 0 {
		m := make(map[string]int, len(f.FailKeys))
		for k, v := range f.FailKeys {
			m[k] = v
		}
		fs.f.FailKeys = m
	}
	if f.RateLimit > 0 {
		b := f.Burst
		if b <= 0 {
			b = max(1, int(math.Ceil(f.RateLimit)))
		}
		fs.limiter = rate.NewLimiter(rate.Limit(f.RateLimit), b)
	}
	seed := f.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	fs.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return fs
}

// draw returns the injected outcome for one call: 0 (serve), -1 (drop the
// connection) or a status.
func (fs *faultState) draw() int {
	f := &fs.f
	if f.DropRate <= 0 && f.Rate500 <= 0 && f.Rate502 <= 0 && f.Rate504 <= 0 {
		return 0
	}
	fs.mu.Lock()
	x := fs.rng.Float64()
	fs.mu.Unlock()
	switch {
	case x < f.DropRate:
		return -1
	case x < f.DropRate+f.Rate500:
		return 500
	case x < f.DropRate+f.Rate500+f.Rate502:
		return 502
	case x < f.DropRate+f.Rate500+f.Rate502+f.Rate504:
		return 504
	}
	return 0
}

// SetFaults replaces the injected faults; safe while serving.
func (s *Server) SetFaults(f Faults) { s.faults.Store(newFaultState(f)) }

// Stats counts calls answered by the emulator.
type Stats struct {
	// Calls by API: list-keys, describe-key, resource-instances, show-tags,
	// tags-action (unknown paths are not counted here).
	Calls map[string]int
	// Status counts answers by HTTP status (dropped connections count as 0).
	Status map[int]int
	// RejectedWrites counts tags-action calls answered with a 4xx status.
	RejectedWrites int
	// Writes counts tags-action calls answered 204.
	Writes int
}

// API names used in Stats.Calls.
const (
	APIListKeys          = "list-keys"
	APIDescribeKey       = "describe-key"
	APIResourceInstances = "resource-instances"
	APIShowTags          = "show-tags"
	APITagsAction        = "tags-action"
)

type stats struct {
	mu sync.Mutex
	s  Stats
}

func newStats() Stats { return Stats{Calls: map[string]int{}, Status: map[int]int{}} }

func (st *stats) record(api string, status int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if api != "" {
		st.s.Calls[api]++
	}
	st.s.Status[status]++
	if api == APITagsAction {
		switch {
		case status == 204:
			st.s.Writes++
		case status >= 400 && status < 500:
			st.s.RejectedWrites++
		}
	}
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	out := newStats()
	for k, v := range s.stats.s.Calls {
		out.Calls[k] = v
	}
	for k, v := range s.stats.s.Status {
		out.Status[k] = v
	}
	out.RejectedWrites = s.stats.s.RejectedWrites
	out.Writes = s.stats.s.Writes
	return out
}

// ResetStats zeroes the counters.
func (s *Server) ResetStats() {
	s.stats.mu.Lock()
	s.stats.s = newStats()
	s.stats.mu.Unlock()
}
