// Package emu holds what the local asynchronous invocation endpoints
// (fgasync, lambdaasync) share: the count of work accepted and not
// finished, and the injected failures.
package emu

import (
	"context"
	"sync"
)

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
