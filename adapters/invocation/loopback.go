package invocation

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tagwarden/tagwarden/handler"
)

// Loopback is asynchronous invocation within this process, for the CLI's
// demo and the bench: each payload dispatched is served through Pipeline
// in a goroutine of its own, under Timeout, as a platform serves an
// asynchronous invocation on an instance of its own. The function's tests
// on the platforms use their real asynchronous endpoints instead
// (adapters/selfinvoke).
type Loopback struct {
	// Pipeline serves each invocation; set before the first Dispatch.
	Pipeline Pipeline
	// Cloud returns what each invocation reaches (its Dispatcher is
	// typically the Loopback itself).
	Cloud func(ctx context.Context) Cloud
	// Timeout is each invocation's time (0: none).
	Timeout time.Duration
	// Duplicate delivers every invocation twice, one after the other, as
	// a platform may.
	Duplicate bool
	// Elsewhere serves the second copy of a duplicated invocation as
	// another instance would: with a memory of links of its own, so that
	// the copy is served again rather than answered as a duplicate.
	Elsewhere bool
	// Hold, when set, keeps the invocations whose payload it returns true
	// for until Release: a platform's delivery held back, late.
	Hold func(payload []byte) bool

	held []heldInvocation

	seq  atomic.Int64
	wg   sync.WaitGroup
	mu   sync.Mutex
	done []Delivery
}

// Delivery is one invocation the Loopback served.
type Delivery struct {
	RequestID string
	Payload   []byte
	// Report is the answer, when the invocation had one.
	Report handler.Report
	// Err is the invocation's error (no report).
	Err error
}

// Dispatch queues payload and returns at once.
func (l *Loopback) Dispatch(_ context.Context, payload []byte) (string, error) {
	if !json.Valid(payload) {
		return "", fmt.Errorf("payload is not JSON")
	}
	id := fmt.Sprintf("loopback-%d", l.seq.Add(1))
	payload = append([]byte(nil), payload...)
	if l.Hold != nil && l.Hold(payload) {
		l.mu.Lock()
		l.held = append(l.held, heldInvocation{id, payload})
		l.mu.Unlock()
		return id, nil
	}
	l.deliver(id, payload)
	return id, nil
}

// heldInvocation is an invocation Hold kept back.
type heldInvocation struct {
	id      string
	payload []byte
}

// Release delivers the invocations held so far and returns how many.
func (l *Loopback) Release() int {
	l.mu.Lock()
	held := l.held
	l.held = nil
	l.mu.Unlock()
	for _, h := range held {
		l.deliver(h.id, h.payload)
	}
	return len(held)
}

// deliver serves payload in a goroutine of its own (twice with
// Duplicate).
func (l *Loopback) deliver(id string, payload []byte) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.serve(l.Pipeline, id, payload)
		if l.Duplicate {
			p := l.Pipeline
			if l.Elsewhere {
				p.Runs.Memory = &Memory{}
			}
			l.serve(p, id, payload)
		}
	}()
}

func (l *Loopback) serve(p Pipeline, id string, payload []byte) {
	ctx := handler.WithRequestID(context.Background(), id)
	if l.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.Timeout)
		defer cancel()
	}
	d := Delivery{RequestID: id, Payload: payload}
	body, err := p.Invoke(ctx, payload, l.Cloud(ctx))
	if err == nil {
		err = json.Unmarshal(body, &d.Report)
	}
	d.Err = err
	l.mu.Lock()
	l.done = append(l.done, d)
	l.mu.Unlock()
}

// Wait waits until every invocation dispatched, and every one they
// dispatched, has been served.
func (l *Loopback) Wait() { l.wg.Wait() }

// Deliveries returns the invocations served so far, in the order they
// ended.
func (l *Loopback) Deliveries() []Delivery {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Delivery(nil), l.done...)
}
