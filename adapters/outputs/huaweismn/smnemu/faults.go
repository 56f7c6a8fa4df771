package smnemu

import (
	"net/http"
	"time"

	"github.com/tagwarden/tagwarden/adapters/internal/localsvc"
)

// Faults are injected failures and delays, changeable at run time with
// SetFaults, as the KMS emulator's. The zero value injects nothing. Its
// fields are localsvc.Faults', in the same order.
type Faults struct {
	// Latency is added before every answer; a client that leaves during it
	// gets nothing, and nothing is published.
	Latency time.Duration
	// Sequence answers the next calls that pass the gateway (signature,
	// X-Project-Id), one entry each in order, with that status and a body
	// that fits it (0: serve the call); then calls are served as usual.
	// SetFaults starts it again. The bodies: 401 the gateway's
	// APIGW.0301, 403 SMN.0001, 404 SMN.0006, 429 the gateway's
	// APIG.0308, 500 SMN.0018, 502/503/504 the gateway's, any other
	// status the emulator's SMN.0010.
	Sequence []int
	// Rate500 is the probability (0..1) of answering 500 SMN.0018 instead
	// of serving a call that passed the gateway.
	Rate500 float64
	// DropRate is the probability (0..1) of closing the connection without
	// an answer, once the request is read (before its signature is checked).
	DropRate float64
	// Unauthorized answers every call 401 APIGW.0301, as when temporary
	// credentials have expired.
	Unauthorized bool
	// Seed makes the random draws repeatable (0: seeded from the clock).
	Seed uint64
}

// SetFaults replaces the injected faults; safe while serving.
func (s *Server) SetFaults(f Faults) { s.faults.Set(localsvc.Faults(f)) }

// injected is the answer of an injected server fault.
func injected(status int, reqID string) reply {
	if status == http.StatusInternalServerError {
		return smnErr(status, "SMN.0018", "Service internal error. (injected)", reqID)
	}
	// The gateway's answers when the service behind it fails; the codes
	// are the emulator's choice.
	return gatewayErr(status, "APIGW.0"+itoa3(status), http.StatusText(status)+" (injected)", reqID)
}

func itoa3(n int) string {
	return string([]byte{byte('0' + n/100%10), byte('0' + n/10%10), byte('0' + n%10)})
}

// failure answers a Sequence status with a body that fits it.
func failure(status int, reqID string) reply {
	switch status {
	case http.StatusUnauthorized:
		return unauthorized("Unauthorized (injected)", reqID)
	case http.StatusForbidden:
		return smnErr(status, "SMN.0001", "No permission to request resources. (injected)", reqID)
	case http.StatusNotFound:
		return smnErr(status, "SMN.0006", "Topic not found. (injected)", reqID)
	case http.StatusTooManyRequests:
		return gatewayErr(status, "APIG.0308", "The throttling threshold has been reached: policy user over ratelimit,limit:20,time:1 second (injected)", reqID)
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return injected(status, reqID)
	}
	return smnErr(status, codeBadRequest, http.StatusText(status)+" (injected)", reqID)
}
