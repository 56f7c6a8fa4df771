package cesemu

import (
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Faults are injected failures and delays, changeable while serving with
// SetFaults. The zero value injects nothing.
type Faults struct {
	// Latency is added before every answer to the metric-data API; a
	// client that gives up meanwhile gets none and nothing is stored.
	Latency time.Duration
	// Sequence answers the next calls that pass authentication and the
	// project checks, one entry each in order, with that status (0: serve
	// the call): 401 and 429 with the gateway's bodies (APIGW.0301,
	// APIG.0308), 502 and 504 the gateway's too, 400 ces.0014, 403
	// ces.0017, 404 ces.0016, another 5xx ces.0007, another 4xx ces.0011.
	// Then calls are served as usual. SetFaults starts it again.
	Sequence []int
	// Rate500 is the probability (0..1) of answering 500 ces.0007 instead
	// of serving a call.
	Rate500 float64
	// DropRate is the probability of closing the connection without an
	// answer (502 when the writer cannot be hijacked).
	DropRate float64
	// Unauthorized answers every call 401 APIGW.0301, as when credentials
	// have expired.
	Unauthorized bool
	// Seed makes the random draws repeatable (0: seeded from the clock).
	Seed uint64
}

// drop is the outcome of a draw that drops the connection.
const drop = -1

// faultState is an immutable snapshot of Faults with its random source
// and the Sequence entries taken.
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

// SetFaults replaces the injected faults; safe while serving.
func (s *Server) SetFaults(f Faults) { s.faults.Store(newFaultState(f)) }

// next returns the next Sequence entry, or 0 once they are all taken.
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

// draw returns one call's random outcome: 0 (serve), drop or 500.
func (fs *faultState) draw() int {
	if fs.f.DropRate <= 0 && fs.f.Rate500 <= 0 {
		return 0
	}
	fs.mu.Lock()
	x := fs.rng.Float64()
	fs.mu.Unlock()
	switch {
	case x < fs.f.DropRate:
		return drop
	case x < fs.f.DropRate+fs.f.Rate500:
		return 500
	}
	return 0
}
