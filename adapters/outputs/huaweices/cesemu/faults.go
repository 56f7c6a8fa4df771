package cesemu

import (
	"time"

	"github.com/tagwarden/tagwarden/adapters/internal/localsvc"
)

// Faults are injected failures and delays, changeable while serving with
// SetFaults. The zero value injects nothing. Its fields are
// localsvc.Faults', in the same order.
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

// SetFaults replaces the injected faults; safe while serving.
func (s *Server) SetFaults(f Faults) { s.faults.Set(localsvc.Faults(f)) }
