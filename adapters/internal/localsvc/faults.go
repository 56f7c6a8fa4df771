package localsvc

import (
	"context"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Faults are the injected failures and delays every local service knows.
// Each service keeps its own exported Faults type, which documents what
// the knobs answer there; smnemu's and cesemu's have these fields in this
// order, so that they convert to this type.
type Faults struct {
	// Latency is added before the answer.
	Latency time.Duration
	// Sequence answers the next calls that reach it, one entry each in
	// order, with that status (0: serve the call); then calls are served
	// as usual.
	Sequence []int
	// Rate500 is the probability (0..1) of answering 500.
	Rate500 float64
	// DropRate is the probability (0..1) of closing the connection without
	// an answer.
	DropRate float64
	// Unauthorized answers every call as when the credentials have expired.
	Unauthorized bool
	// Seed makes the random draws repeatable (0: seeded from the clock).
	Seed uint64
}

// Rate is the probability P (0..1) of answering Status, drawn after
// DropRate and Rate500.
type Rate struct {
	Status int
	P      float64
}

// Drop is the outcome of a draw that closes the connection.
const Drop = -1

// FaultState is a snapshot of Faults while serving: the knobs, never
// changed, with their random source and the Sequence entries taken. Its
// methods are safe for concurrent use.
type FaultState struct {
	Faults
	more []Rate
	seq  atomic.Int64
	mu   sync.Mutex
	rng  *rand.Rand
}

// NewFaultState returns the state of f, with the further random statuses
// more. It copies f.Sequence; the zero Seed seeds from the clock.
func NewFaultState(f Faults, more ...Rate) *FaultState {
	fs := &FaultState{Faults: f, more: slices.Clone(more)}
	fs.Sequence = slices.Clone(f.Sequence)
	seed := f.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	fs.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return fs
}

// Draw returns one call's random outcome: 0 (serve), Drop, 500, or the
// status of one of the further rates. It draws one number, and none when
// every probability is zero: DropRate first, then Rate500, then the
// others in order, each taking its share of [0, 1).
func (fs *FaultState) Draw() int {
	if fs.DropRate <= 0 && fs.Rate500 <= 0 && !slices.ContainsFunc(fs.more, func(r Rate) bool { return r.P > 0 }) {
		return 0
	}
	fs.mu.Lock()
	x := fs.rng.Float64()
	fs.mu.Unlock()
	if x < fs.DropRate {
		return Drop
	}
	bound := fs.DropRate + fs.Rate500
	if x < bound {
		return http.StatusInternalServerError
	}
	for _, r := range fs.more {
		bound += r.P
		if x < bound {
			return r.Status
		}
	}
	return 0
}

// Next returns the status of the next Sequence entry, or 0 once they are
// all taken.
func (fs *FaultState) Next() int {
	if len(fs.Sequence) == 0 {
		return 0
	}
	i := fs.seq.Add(1) - 1
	if i >= int64(len(fs.Sequence)) {
		return 0
	}
	return fs.Sequence[i]
}

// Injector holds the faults in force, replaced while serving. The zero
// value injects nothing. Safe for concurrent use.
type Injector struct {
	p atomic.Pointer[FaultState]
}

// none is the state of the zero Faults: it draws nothing and takes no
// Sequence entry, so one serves every Injector never set.
var none = NewFaultState(Faults{Seed: 1})

// Set replaces the faults with f and the further random statuses more;
// Sequence starts again.
func (in *Injector) Set(f Faults, more ...Rate) { in.p.Store(NewFaultState(f, more...)) }

// Load returns the faults in force; one call uses the same snapshot
// throughout.
func (in *Injector) Load() *FaultState {
	if fs := in.p.Load(); fs != nil {
		return fs
	}
	return none
}

// Delay waits d, or until ctx ends; false when ctx ended first. A d of
// zero or less returns true at once.
func Delay(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// DropConn closes the connection of w without an answer, calling dropped
// first, so that the call is counted before its client can see the
// connection closed. It reports false, calling nothing, when w cannot be
// hijacked (httptest.ResponseRecorder, HTTP/2): the caller answers
// instead.
func DropConn(w http.ResponseWriter, dropped func()) bool {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return false
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return false
	}
	dropped()
	conn.Close()
	return true
}
