package obsemu

import (
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Faults are injected failures and delays, changeable at run time with
// SetFaults. The zero value injects nothing.
type Faults struct {
	// Latency is added before every answer, after the body of a PUT is
	// read; a client that gives up meanwhile gets nothing, and its PUT
	// stores nothing.
	Latency time.Duration
	// Sequence answers the next calls whose signature verifies, one entry
	// each in order, with that status and a body that fits it (0: serve
	// the call); then calls are served as usual. SetFaults starts it
	// again. 500 is InternalError, 503 SlowDown, 403 AccessDenied, 404
	// NoSuchKey, 429 TooManyRequests, 400 InvalidArgument.
	Sequence []int
	// Rate500 and Rate503 are the probabilities (0..1) of answering a call
	// 500 InternalError, or 503 SlowDown, before its signature is checked.
	Rate500, Rate503 float64
	// DropRate is the probability of closing the connection without an
	// answer.
	DropRate float64
	// Unauthorized answers every call 403 InvalidAccessKeyId, as when
	// temporary credentials have expired.
	Unauthorized bool
	// Seed makes the random draws repeatable (0: seeded from the clock).
	Seed uint64
}

// faultState is an immutable snapshot of Faults with its random source and
// the Sequence entries taken.
type faultState struct {
	f   Faults
	seq atomic.Int64
	mu  sync.Mutex
	rng *rand.Rand
}

func newFaultState(f Faults) *faultState {
	fs := &faultState{f: f}
	fs.f.Sequence = slices.Clone(f.Sequence)
	seed := f.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	fs.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return fs
}

// draw returns the injected outcome for one call: 0 (serve), -1 (drop the
// connection), 500 or 503.
func (fs *faultState) draw() int {
	f := &fs.f
	if f.DropRate <= 0 && f.Rate500 <= 0 && f.Rate503 <= 0 {
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
	case x < f.DropRate+f.Rate500+f.Rate503:
		return 503
	}
	return 0
}

// next returns the status of the next Sequence entry, or 0 once they are
// all taken.
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

// SetFaults replaces the injected faults; safe while serving.
func (s *Server) SetFaults(f Faults) { s.faults.Store(newFaultState(f)) }

// injected is the answer of an injected status.
func injected(status int) *apiError {
	switch status {
	case 500:
		return errInternal()
	case 503:
		return &apiError{503, "SlowDown", "Please reduce your request rate."}
	case 403:
		return &apiError{403, "AccessDenied", "Access Denied (injected)"}
	case 404:
		return &apiError{404, "NoSuchKey", "The specified key does not exist. (injected)"}
	case 429:
		return &apiError{429, "TooManyRequests", "Too many requests (injected)"}
	case 400:
		return &apiError{400, "InvalidArgument", "Invalid argument (injected)"}
	}
	return &apiError{status, "InjectedError", "Injected failure"}
}

func errInternal() *apiError {
	return &apiError{500, "InternalError", "We encountered an internal error. Please try again."}
}
