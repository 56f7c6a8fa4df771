package obsemu

import (
	"time"

	"github.com/tagwarden/tagwarden/adapters/internal/localsvc"
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

// SetFaults replaces the injected faults; safe while serving.
func (s *Server) SetFaults(f Faults) {
	s.faults.Set(localsvc.Faults{Latency: f.Latency, Sequence: f.Sequence, Rate500: f.Rate500,
		DropRate: f.DropRate, Unauthorized: f.Unauthorized, Seed: f.Seed},
		localsvc.Rate{Status: 503, P: f.Rate503})
}

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
