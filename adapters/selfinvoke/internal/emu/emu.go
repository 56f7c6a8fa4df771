// Package emu holds what the local asynchronous invocation endpoints
// (fgasync, lambdaasync) share: the HTTP server on a loopback port, the
// count of calls, the injected failures, the duplicate switch, the
// invocations accepted, the count of work accepted and not finished, and
// Close. How an invocation is checked and delivered stays the endpoint's.
package emu

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Delivery is one run of an invocation by a local endpoint.
type Delivery struct {
	// Started and Finished bound the run.
	Started, Finished time.Time
	// Result is the body the function answered (its error body for a
	// function error).
	Result []byte
	// Error is true for a function error.
	Error bool
	// Err is set when the run did not happen or failed as a delivery (the
	// server closed).
	Err error
}

// Server is the machinery of one local endpoint, whose invocations are of
// type I: it serves on a free loopback port, counts the calls, answers
// the injected failures, records the invocations in the order accepted,
// counts the work pending for Wait, and on Close refuses new work, ends
// the context of the deliveries and waits for the goroutines it started.
// Safe for concurrent use.
type Server[I any] struct {
	ln    net.Listener
	srv   *http.Server
	clone func(*I) I

	ctx    context.Context // ends with Close: deliveries stop
	cancel context.CancelFunc
	wg     sync.WaitGroup // the goroutines of Start and Go

	pending   Pending
	faults    Faults
	duplicate atomic.Bool
	requests  atomic.Int64

	mu          sync.Mutex
	closed      bool
	invocations []*I
}

// Listen opens a free loopback port; Serve starts answering on it.
// duplicate is the initial duplicate switch; clone copies an invocation
// for Invocations, deep enough that the copy does not change with it.
func Listen[I any](duplicate bool, clone func(*I) I) (*Server[I], error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &Server[I]{ln: ln, srv: &http.Server{ReadHeaderTimeout: 10 * time.Second}, clone: clone}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.duplicate.Store(duplicate)
	return s, nil
}

// Serve answers the calls with h until Close.
func (s *Server[I]) Serve(h http.Handler) {
	s.srv.Handler = h
	go s.srv.Serve(s.ln) //nolint:errcheck // returns on Close
}

// URL is http://127.0.0.1:port.
func (s *Server[I]) URL() string { return "http://" + s.ln.Addr().String() }

// Called counts one call received, refused ones included.
func (s *Server[I]) Called() { s.requests.Add(1) }

// Requests counts the calls received, refused ones included.
func (s *Server[I]) Requests() int { return int(s.requests.Load()) }

// FailNext makes the next n calls that ask for a fault fail with status
// (n ≤ 0 clears it).
func (s *Server[I]) FailNext(n, status int) { s.faults.FailNext(n, status) }

// Fault returns the status to answer this call with, if one is injected.
func (s *Server[I]) Fault() (status int, ok bool) { return s.faults.Take() }

// SetDuplicate turns the duplicate delivery on or off for the invocations
// accepted from now on.
func (s *Server[I]) SetDuplicate(on bool) { s.duplicate.Store(on) }

// Deliveries is how many times an invocation accepted now is delivered:
// 1, or 2 with the duplicate switch on.
func (s *Server[I]) Deliveries() int {
	if s.duplicate.Load() {
		return 2
	}
	return 1
}

// Record appends inv to the invocations.
func (s *Server[I]) Record(inv *I) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invocations = append(s.invocations, inv)
}

// Update runs f under the lock that guards the recorded invocations: to
// add a delivery to one.
func (s *Server[I]) Update(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

// Invocations returns a copy of every recorded invocation, in the order
// recorded.
func (s *Server[I]) Invocations() []I {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]I, len(s.invocations))
	for i, inv := range s.invocations {
		out[i] = s.clone(inv)
	}
	return out
}

// Start records inv and runs deliver in a goroutine, inv counted pending
// until deliver returns, unless Close has begun (false: nothing recorded,
// nothing run). deliver's ctx ends with Close, which waits for it.
func (s *Server[I]) Start(inv *I, deliver func(ctx context.Context)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.invocations = append(s.invocations, inv)
	s.pending.Add()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.pending.Done()
		deliver(s.ctx)
	}()
	return true
}

// Queue counts one delivery pending and runs push, which queues it, unless
// Close has begun (false: push not run). Done counts it finished.
func (s *Server[I]) Queue(push func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.pending.Add()
	push()
	return true
}

// Done counts a delivery of Queue finished, delivered or dropped.
func (s *Server[I]) Done() { s.pending.Done() }

// Go runs work in a goroutine, unless Close has begun (false). work's ctx
// ends with Close, which waits for it.
func (s *Server[I]) Go(work func(ctx context.Context)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		work(s.ctx)
	}()
	return true
}

// Wait returns once no work is pending, or with ctx's error. Work added
// while it waits (an invocation that invokes again) is waited for too.
func (s *Server[I]) Wait(ctx context.Context) error { return s.pending.Wait(ctx) }

// Close refuses new work and calls, ends the context of the deliveries and
// returns once the goroutines of Start and Go have ended.
func (s *Server[I]) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	err := s.srv.Close()
	s.wg.Wait()
	return err
}

// Pending counts the invocations accepted and not yet finished (queued or
// running); Wait blocks until there are none. The zero value is ready.
type Pending struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed while n == 0; nil means closed
}

// Add counts one more invocation.
func (p *Pending) Add() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == 0 {
		p.idle = make(chan struct{})
	}
	p.n++
}

// Done counts one invocation finished.
func (p *Pending) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n--
	if p.n == 0 {
		close(p.idle)
	}
}

// Wait returns nil once nothing is queued or running, or ctx's error. Work
// added while it waits (an invocation that invokes again) is waited for:
// an invocation accepted during another is counted before that other
// finishes.
func (p *Pending) Wait(ctx context.Context) error {
	for {
		p.mu.Lock()
		n, idle := p.n, p.idle
		p.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Faults answers the next calls with an injected status.
type Faults struct {
	mu     sync.Mutex
	n      int
	status int
}

// FailNext makes the next n calls fail with status (n ≤ 0 clears it).
func (f *Faults) FailNext(n, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n, f.status = max(n, 0), status
}

// Take returns the status to answer this call with, if one is injected.
func (f *Faults) Take() (status int, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n <= 0 {
		return 0, false
	}
	f.n--
	return f.status, true
}
