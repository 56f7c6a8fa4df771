package emulator

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
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
	// WindowLimit, when positive, counts calls as the live API gateway does:
	// per sliding Window over all calls of all projects. A call that would
	// make the last Window hold more than WindowLimit accepted calls gets
	// 429 APIG.0308 (the body RateLimit's bucket answers); refused calls do
	// not count. With RateLimit also set, a call must pass both.
	WindowLimit int
	// Window is WindowLimit's window (0: one second).
	Window time.Duration
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
	// Sequence answers the next calls that pass the gateway (signature,
	// project, rate limits), one entry each in order, with that status and
	// FailKeys' body for it (0: serve the call); then calls are served as
	// usual. SetFaults starts it again.
	Sequence []int
	// Seed makes the random draws repeatable (0: seeded from the clock).
	Seed uint64
}

// faultState is an immutable snapshot of Faults plus its live limiter and
// random source.
type faultState struct {
	f       Faults
	limiter *rate.Limiter
	window  *slidingWindow // nil: no WindowLimit
	seq     atomic.Int64   // Sequence entries taken
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
	fs.f.Sequence = slices.Clone(f.Sequence)
	if f.WindowLimit > 0 {
		if fs.f.Window <= 0 {
			fs.f.Window = time.Second
		}
		fs.window = &slidingWindow{limit: f.WindowLimit, d: fs.f.Window, times: make([]time.Time, f.WindowLimit)}
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

// admit reports whether the gateway lets a call through at now: room in the
// sliding window and a token in the bucket, whichever are set. A call let
// through counts in the window. The message is the 429's when it does not.
func (fs *faultState) admit(now time.Time) (ok bool, message string) {
	w := fs.window
	if w != nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		if !w.room(now) {
			return false, throttleMessage(strconv.Itoa(w.limit), w.d)
		}
	}
	if fs.limiter != nil && !fs.limiter.AllowN(now, 1) {
		return false, throttleMessage(strconv.FormatFloat(fs.f.RateLimit, 'g', -1, 64), time.Second)
	}
	if w != nil {
		w.add(now)
	}
	return true, ""
}

// throttleMessage is the gateway's 429 message for limit calls per d.
func throttleMessage(limit string, d time.Duration) string {
	per := d.String()
	switch {
	case d%time.Minute == 0:
		per = strconv.FormatInt(int64(d/time.Minute), 10) + " minute"
	case d%time.Second == 0:
		per = strconv.FormatInt(int64(d/time.Second), 10) + " second"
	}
	return "The throttling threshold has been reached: policy user over ratelimit,limit:" + limit + ",time:" + per
}

// next returns the status of the next Sequence entry, or 0 once they are
// all taken (serve the call).
func (fs *faultState) next() int {
	if len(fs.f.Sequence) == 0 {
		return 0
	}
	i := fs.seq.Add(1) - 1
	if i >= int64(len(fs.f.Sequence)) {
		return 0
	}
	return fs.f.Sequence[i]
}

// slidingWindow is the gateway's count: the times of the last limit calls
// it let through, in order; next is the oldest once full.
type slidingWindow struct {
	mu    sync.Mutex
	limit int
	d     time.Duration
	times []time.Time
	next  int
	n     int
}

// room reports whether a call at now leaves at most limit calls in the
// window (now-d, now]. w.mu held.
func (w *slidingWindow) room(now time.Time) bool {
	return w.n < w.limit || now.Sub(w.times[w.next]) >= w.d
}

// add counts a call let through at now. w.mu held.
func (w *slidingWindow) add(now time.Time) {
	w.times[w.next] = now
	w.next = (w.next + 1) % w.limit
	w.n = min(w.n+1, w.limit)
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
