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
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.serve(id, payload)
		if l.Duplicate {
			l.serve(id, payload)
		}
	}()
	return id, nil
}

func (l *Loopback) serve(id string, payload []byte) {
	ctx := handler.WithRequestID(context.Background(), id)
	if l.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.Timeout)
		defer cancel()
	}
	d := Delivery{RequestID: id, Payload: payload}
	body, err := l.Pipeline.Invoke(ctx, payload, l.Cloud(ctx))
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
