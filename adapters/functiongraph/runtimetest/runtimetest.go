// Package runtimetest is a FunctionGraph custom-runtime API server for
// tests, written from the documented contract: GET
// /v1/runtime/invocation/request blocks until an event is queued and
// answers it with the X-Cff-Request-Id header (plus any headers of the
// event, such as temporary credentials); POST
// /v1/runtime/invocation/response/{request_id} and
// /v1/runtime/invocation/error/{request_id} deliver the result. It listens on
// 127.0.0.1 only.
package runtimetest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Event is one invocation to deliver.
type Event struct {
	// RequestID is sent as X-Cff-Request-Id.
	RequestID string
	// Payload is the body of the next-invocation response.
	Payload []byte
	// Header holds further headers: X-CFF-Access-Key, X-CFF-Invoke-Type, ...
	Header http.Header
}

// Result is what the function posted for one invocation.
type Result struct {
	RequestID string
	// Error is true for a post to the error endpoint.
	Error bool
	Body  []byte
	// Elapsed is the time from the event's delivery to the result.
	Elapsed time.Duration
}

// Server is a runtime API server; safe for concurrent use.
type Server struct {
	ln      net.Listener
	srv     *http.Server
	queue   chan Event
	mu      sync.Mutex
	waiting map[string]chan Result
	sent    map[string]time.Time
	drop    atomic.Int32
	dropRes atomic.Int32
	polls   atomic.Int32
	posts   atomic.Int32
}

// New starts a server on a free loopback port.
func New() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &Server{
		ln:      ln,
		queue:   make(chan Event, 64),
		waiting: map[string]chan Result{},
		sent:    map[string]time.Time{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/runtime/invocation/request", s.next)
	mux.HandleFunc("POST /v1/runtime/invocation/response/{id}", s.result(false))
	mux.HandleFunc("POST /v1/runtime/invocation/error/{id}", s.result(true))
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln) //nolint:errcheck // returns on Close
	return s, nil
}

// Addr is the host:port to give the function as RUNTIME_API_ADDR.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server and its connections.
func (s *Server) Close() error { return s.srv.Close() }

// DropNext makes the next n next-invocation calls fail: the connection is
// closed without an answer, as when the runtime API restarts.
func (s *Server) DropNext(n int) { s.drop.Store(int32(n)) }

// DropResults makes the next n result posts (response or error) fail: the
// connection is closed without an answer and the result is not recorded.
func (s *Server) DropResults(n int) { s.dropRes.Store(int32(n)) }

// Posts counts the result posts received, dropped ones included.
func (s *Server) Posts() int { return int(s.posts.Load()) }

// Polls counts the next-invocation calls received, dropped ones included.
func (s *Server) Polls() int { return int(s.polls.Load()) }

// Invoke queues ev and waits for the function's result, or ctx's end.
func (s *Server) Invoke(ctx context.Context, ev Event) (Result, error) {
	if ev.RequestID == "" {
		return Result{}, fmt.Errorf("event without a request id")
	}
	ch := make(chan Result, 1)
	s.mu.Lock()
	if _, dup := s.waiting[ev.RequestID]; dup {
		s.mu.Unlock()
		return Result{}, fmt.Errorf("request id %s is already in flight", ev.RequestID)
	}
	s.waiting[ev.RequestID] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waiting, ev.RequestID)
		delete(s.sent, ev.RequestID)
		s.mu.Unlock()
	}()
	select {
	case s.queue <- ev:
	case <-ctx.Done():
		return Result{}, fmt.Errorf("queue event %s: %w", ev.RequestID, ctx.Err())
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return Result{}, fmt.Errorf("wait for the result of %s: %w", ev.RequestID, ctx.Err())
	}
}

// dropped closes the connection without an answer when counter is
// positive, decrementing it, and reports whether it did.
func dropped(counter *atomic.Int32, w http.ResponseWriter) bool {
	for {
		n := counter.Load()
		if n <= 0 {
			return false
		}
		if counter.CompareAndSwap(n, n-1) {
			break
		}
	}
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return true
		}
	}
	http.Error(w, "dropped", http.StatusBadGateway)
	return true
}

func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	s.polls.Add(1)
	if dropped(&s.drop, w) {
		return
	}
	select {
	case ev := <-s.queue:
		for k, vs := range ev.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.Header().Set("X-Cff-Request-Id", ev.RequestID)
		w.Header().Set("Content-Type", "application/json")
		s.mu.Lock()
		s.sent[ev.RequestID] = time.Now()
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		w.Write(ev.Payload) //nolint:errcheck // the function sees a short body
	case <-r.Context().Done():
	}
}

func (s *Server) result(isErr bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.posts.Add(1)
		id := r.PathValue("id")
		body, err := io.ReadAll(io.LimitReader(r.Body, 6<<20))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		if dropped(&s.dropRes, w) {
			return
		}
		s.mu.Lock()
		ch, ok := s.waiting[id]
		sent := s.sent[id]
		s.mu.Unlock()
		if !ok {
			http.Error(w, fmt.Sprintf("unknown request id %q", id), http.StatusNotFound)
			return
		}
		select {
		case ch <- Result{RequestID: id, Error: isErr, Body: body, Elapsed: time.Since(sent)}:
			w.WriteHeader(http.StatusAccepted)
		default:
			http.Error(w, fmt.Sprintf("request id %q already answered", id), http.StatusConflict)
		}
	}
}
