// Package localsvc holds what the strict local services (the output
// emulators smnemu, cesemu and obsemu, the local IAM iamemu, and in part
// the KMS emulator, whose faults are richer) share: serving on a port and
// stopping (Listener), the request ids of their answers (RequestIDs), the
// injected faults every one of them knows and their state while serving
// (Faults, Injector, FaultState, Delay, DropConn), the SignedHeaders of a
// verified SDK-HMAC-SHA256 call, the API gateway's flat error body
// (Gateway) and a JSON answer (WriteJSON). What a service checks, answers
// and counts stays the service's.
//
// It depends on the standard library only.
package localsvc

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Listener serves one http.Handler on a TCP port, once at a time. The
// zero value is not listening. Its methods are safe for concurrent use.
type Listener struct {
	// Name is the service as the error of a second Listen names it:
	// "<Name> is already listening".
	Name string

	mu  sync.Mutex
	srv *http.Server
	url string
}

// Listen serves h on addr (empty: "127.0.0.1:0", a free loopback port)
// and returns the base URL, e.g. http://127.0.0.1:40123 (URL returns it
// too). It fails when already listening, or when addr cannot be listened
// on.
func (l *Listener) Listen(addr string, h http.Handler) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.srv != nil {
		return "", errors.New(l.Name + " is already listening")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listen on %s: %w", addr, err)
	}
	l.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	l.url = "http://" + ln.Addr().String()
	go l.srv.Serve(ln) //nolint:errcheck // Serve returns ErrServerClosed on Close
	return l.url, nil
}

// URL returns the base URL Listen serves on ("" when not listening).
func (l *Listener) URL() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.url
}

// Close stops serving, closing open connections; a Listener not listening
// returns nil. Listen may serve again after it.
func (l *Listener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.srv == nil {
		return nil
	}
	err := l.srv.Close()
	l.srv, l.url = nil, ""
	return err
}

// RequestIDs makes the request ids of one service's answers: 32
// lower-case hexadecimal digits, a random base of 16 then a sequence
// number of 16, so that ids are unique within the service and unlikely
// to repeat across services or runs. The zero value is ready. Safe for
// concurrent use.
type RequestIDs struct {
	once sync.Once
	base uint64
	seq  atomic.Uint64
}

// Next returns the next request id.
func (r *RequestIDs) Next() string {
	r.once.Do(func() { r.base = rand.Uint64() })
	return fmt.Sprintf("%016x%016x", r.base, r.seq.Add(1))
}

// SignedHeaders returns the SignedHeaders list of an SDK-HMAC-SHA256
// Authorization header (one already verified), nil when there is none.
func SignedHeaders(r *http.Request) []string {
	_, rest, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	for _, part := range strings.Split(rest, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "SignedHeaders="); ok {
			return strings.Split(v, ";")
		}
	}
	return nil
}

// The API gateway's answers that do not depend on the service behind it.
const (
	// NoAPICode and NoAPIMessage answer (404) a path or method that is no
	// API of the service, before authentication.
	NoAPICode    = "APIGW.0101"
	NoAPIMessage = "The API does not exist or has not been published in the environment"
	// AuthCode answers (401) a call whose signature or credentials fail;
	// AuthMessage starts its message, the reason follows.
	AuthCode    = "APIGW.0301"
	AuthMessage = "Incorrect IAM authentication information: "
)

// WriteJSON answers status with body encoded as JSON, with the headers
// Content-Type (application/json;charset=UTF-8) and Content-Length. Should
// body not encode, it answers 500 with fallback, a JSON body, instead.
func WriteJSON(w http.ResponseWriter, status int, body any, fallback string) {
	data, err := json.Marshal(body)
	if err != nil {
		data, status = []byte(fallback), http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	w.Write(data) //nolint:errcheck // the client may be gone
}

// Gateway is the API gateway's flat error body, as the live gateway and
// the KMS emulator answer it: {"error_msg","error_code","request_id"}.
func Gateway(code, msg, reqID string) map[string]string {
	return map[string]string{"error_msg": msg, "error_code": code, "request_id": reqID}
}
