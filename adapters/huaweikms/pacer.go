package huaweikms

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tagwarden/tagwarden/handler"
)

// Pacing constants: the API gateway's counting window and the pacer's margin
// over it.
const (
	// GatewayWindow is the window in which the KMS API gateway counts an IAM
	// user's requests (20 per second).
	GatewayWindow = time.Second
	// WindowSlack widens the pacer's window over GatewayWindow (2%), for the
	// jitter between a send here and its arrival at the gateway: two sends
	// floor(rate) apart are always at least GatewayWindow+WindowSlack apart.
	WindowSlack = 20 * time.Millisecond
	// maxGuarded is the highest rate with a window guard; above it (far
	// beyond any KMS limit) the pacer only spaces calls, so that its ring
	// of send times stays small.
	maxGuarded = 10000
	// maxPauseJitter bounds the jitter added to a pause after a 429.
	maxPauseJitter = GatewayWindow / 20
)

// Pacer paces the KMS calls of every store sharing it, so that together they
// stay under the API gateway's limit, which counts requests per IAM user in
// one-second windows (20 per second for KMS; 429 APIG.0308 beyond):
//
//   - calls are spaced evenly, 1/rate apart: a golang.org/x/time/rate token
//     bucket with a burst of 1;
//   - no sliding window of GatewayWindow+WindowSlack ever holds more than
//     floor(rate) sends (at least 1): even spacing alone lets a window hold
//     floor(rate)+1 sends, and jitter pushes sends closer together;
//   - when a call is answered 429, every caller pauses, so that many
//     workers do not keep hammering: for a random jitter of up to one
//     interval (at most 50 ms) after a first 429, then, each time a call
//     sent after the pause is throttled again, one interval more, doubling,
//     until the window that produced the 429 has passed
//     (GatewayWindow+WindowSlack after its send), as a gateway whose window
//     is exhausted (by other clients of the same user, say) needs; a call
//     sent after the pause and let through ends the doubling. An isolated
//     429 (jitter on the way) costs about half a slot; a run of them backs
//     off to the window within a few calls.
//
// The window guard is hand-written (a ring of the latest send times) because
// golang.org/x/time/rate has no sliding-window mode: a token bucket bounds
// the average rate and the burst, not the count in every window, and the
// gateway counts per window.
//
// Share one Pacer between the stores of a process (Config.Pacer): a store is
// built per invocation, the gateway's count is per user. A Pacer is safe for
// concurrent use; build it with NewPacer.
type Pacer struct {
	lim      *rate.Limiter // nil: unlimited
	rps      float64
	perWin   int           // most sends in one window; 0: no window guard
	window   time.Duration // GatewayWindow + WindowSlack
	interval time.Duration // 1/rate, at most window
	jitter   time.Duration // upper bound of the jitter added to a pause

	mu       sync.Mutex
	ring     []time.Time // the last perWin sends, in order; next is the oldest once full
	next     int         // where the next send is written
	count    int         // sends recorded, at most len(ring)
	pause    time.Time   // no send before this (after a 429)
	pausedAt time.Time   // when the latest pause was set
	strikes  int         // pauses in a row followed by another 429

	qmu      sync.Mutex
	queue    []*waiter // callers waiting for their turn, in order
	active   *waiter   // the caller whose turn it is
	arrivals uint64
}

// NewPacer returns a pacer for rps requests per second. Zero or NaN means
// DefaultRateLimit; a negative rps or +Inf means unlimited (no spacing, no
// window, no pause).
func NewPacer(rps float64) *Pacer {
	if rps == 0 || math.IsNaN(rps) {
		rps = DefaultRateLimit
	}
	if rps < 0 || math.IsInf(rps, 1) {
		return &Pacer{rps: math.Inf(1)}
	}
	return newPacer(rate.NewLimiter(rate.Limit(rps), 1))
}

// newPacer builds a pacer around lim, used as given (its rate and burst;
// rate.Inf: unlimited).
func newPacer(lim *rate.Limiter) *Pacer {
	l := lim.Limit()
	if l == rate.Inf || math.IsInf(float64(l), 1) {
		return &Pacer{rps: math.Inf(1)}
	}
	p := &Pacer{lim: lim, rps: float64(l), window: GatewayWindow + WindowSlack}
	if p.rps <= maxGuarded {
		p.perWin = max(1, int(math.Floor(p.rps)))
		p.ring = make([]time.Time, p.perWin)
	}
	p.interval = p.window
	if iv := float64(time.Second) / p.rps; p.rps > 0 && iv < float64(p.window) {
		p.interval = time.Duration(iv)
	}
	p.jitter = min(maxPauseJitter, p.interval)
	return p
}

// Rate returns the pacer's requests per second (+Inf: unlimited).
func (p *Pacer) Rate() float64 { return p.rps }

// String describes the pacing, e.g. "20 requests per second, at most 20 in
// any 1.02s".
func (p *Pacer) String() string {
	if p.lim == nil {
		return "unlimited"
	}
	s := strconv.FormatFloat(p.rps, 'g', -1, 64) + " requests per second"
	if p.perWin > 0 {
		s += fmt.Sprintf(", at most %d in any %s", p.perWin, p.window)
	}
	return s
}

// limit is the rate for throttleHint (rate.Inf: unlimited).
func (p *Pacer) limit() rate.Limit {
	if p.lim == nil {
		return rate.Inf
	}
	return p.lim.Limit()
}

// errNoRoom is returned when the wait for a send would pass ctx's deadline.
var errNoRoom = fmt.Errorf("the rate limit leaves no room before the deadline: %w", context.DeadlineExceeded)

// waiter is a caller queued for a send.
type waiter struct {
	order int64  // handler.KeyOrder of its call: lower goes first, 0 first of all
	seq   uint64 // arrival, among equal orders
	turn  chan struct{}
}

// wait blocks until a call may be sent and returns its send time, which the
// caller passes to throttled if the call is answered 429. It returns at
// once with an error when ctx ends, or when the wait would pass ctx's
// deadline (errNoRoom).
//
// Callers take turns in the order of their keys (handler.KeyOrder), calls
// for no key first, then by arrival: with many workers behind a slow rate,
// the keys started first finish first, instead of every key advancing a
// call at a time and none finishing before the deadline. A queue of its
// own, because golang.org/x/time/rate serves its waiters in no order.
func (p *Pacer) wait(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	if p.lim == nil {
		return time.Now(), nil
	}
	w, err := p.enqueue(ctx)
	if err != nil {
		return time.Time{}, err
	}
	defer p.dequeue(w)
	select {
	case <-w.turn:
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
	return p.paced(ctx)
}

// enqueue queues a caller, or refuses with errNoRoom when the callers ahead
// of it alone, one interval each, would take it past ctx's deadline.
func (p *Pacer) enqueue(ctx context.Context) (*waiter, error) {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	p.arrivals++
	w := &waiter{order: handler.KeyOrder(ctx), seq: p.arrivals, turn: make(chan struct{})}
	i := sort.Search(len(p.queue), func(i int) bool {
		q := p.queue[i]
		return q.order > w.order || q.order == w.order && q.seq > w.seq
	})
	ahead := i
	if p.active != nil {
		ahead++
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < time.Duration(ahead)*p.interval {
		return nil, errNoRoom
	}
	p.queue = slices.Insert(p.queue, i, w)
	p.grant()
	return w, nil
}

// dequeue ends a caller's turn, or takes it out of the queue, and gives
// the turn to the next.
func (p *Pacer) dequeue(w *waiter) {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	if p.active == w {
		p.active = nil
	} else if i := slices.Index(p.queue, w); i >= 0 {
		p.queue = slices.Delete(p.queue, i, i+1)
	}
	p.grant()
}

// grant gives the turn to the first queued caller when nobody has it.
// p.qmu held.
func (p *Pacer) grant() {
	if p.active != nil || len(p.queue) == 0 {
		return
	}
	p.active = p.queue[0]
	p.queue = slices.Delete(p.queue, 0, 1)
	close(p.active.turn)
}

// paced waits, as the caller whose turn it is, for the spacing, the window
// and any pause, and records the send.
func (p *Pacer) paced(ctx context.Context) (time.Time, error) {
	for {
		p.mu.Lock()
		now := time.Now()
		if at := p.earliest(); now.Before(at) {
			p.mu.Unlock()
			if err := sleep(ctx, now, at.Sub(now)); err != nil {
				return time.Time{}, err
			}
			continue
		}
		r := p.lim.ReserveN(now, 1)
		if !r.OK() {
			p.mu.Unlock()
			return time.Time{}, errNoRoom
		}
		if d := r.DelayFrom(now); d > 0 {
			p.mu.Unlock()
			if err := sleep(ctx, now, d); err != nil {
				r.CancelAt(time.Now())
				return time.Time{}, err
			}
			p.mu.Lock()
			now = time.Now()
			if at := p.earliest(); now.Before(at) {
				// Another caller took the window's last slot, or a 429 paused
				// every caller, while this one waited for its token: wait for
				// both again (the token is spent, which only slows down).
				p.mu.Unlock()
				continue
			}
		}
		p.record(now)
		p.mu.Unlock()
		return now, nil
	}
}

// earliest is the first time a send may go: after any pause, and, once the
// window holds perWin sends, when the oldest of them leaves it. p.mu held.
func (p *Pacer) earliest() time.Time {
	at := p.pause
	if p.perWin > 0 && p.count == p.perWin {
		if t := p.ring[p.next].Add(p.window); t.After(at) {
			at = t
		}
	}
	return at
}

// record notes a send at now (never earlier than the last one). p.mu held.
func (p *Pacer) record(now time.Time) {
	if len(p.ring) == 0 {
		return
	}
	p.ring[p.next] = now
	p.next = (p.next + 1) % len(p.ring)
	p.count = min(p.count+1, len(p.ring))
}

// throttled pauses every caller after a call sent at sent was answered 429
// (see Pacer). A 429 to a call sent before the latest pause was set belongs
// to the episode that pause answers: it changes nothing.
func (p *Pacer) throttled(sent time.Time) {
	if p.lim == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !sent.After(p.pausedAt) {
		return
	}
	now := time.Now()
	p.strikes++
	// 0 (jitter alone) for the first 429, then one interval, doubling, up
	// to the window.
	var d time.Duration
	if p.strikes > 1 {
		d = p.window // the window that produced the 429 has passed
		if p.strikes < 32 && p.interval < d>>(p.strikes-2) {
			d = p.interval << (p.strikes - 2)
		}
	}
	until := now.Add(d)
	if end := sent.Add(p.window); end.Before(until) {
		until = end
	}
	if p.jitter > 0 {
		until = until.Add(rand.N(p.jitter))
	}
	p.pausedAt = now
	if until.After(p.pause) {
		p.pause = until
	}
}

// passed notes that a call sent at sent got through the gateway (any answer
// but 429): if it was sent after the latest pause, the pauses stop doubling.
func (p *Pacer) passed(sent time.Time) {
	if p.lim == nil {
		return
	}
	p.mu.Lock()
	if p.strikes > 0 && sent.After(p.pausedAt) {
		p.strikes = 0
	}
	p.mu.Unlock()
}

// sleep waits d from now, or returns ctx's error, or errNoRoom at once when
// ctx's deadline comes first.
func sleep(ctx context.Context, now time.Time, d time.Duration) error {
	if dl, ok := ctx.Deadline(); ok && dl.Sub(now) < d {
		return errNoRoom
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Pacers hands out one Pacer per target, each at the same rate: KMS counts
// requests per user and region, and the sweeps of a process's targets run
// side by side, each within its own limit. Safe for concurrent use.
type Pacers struct {
	rps float64
	mu  sync.Mutex
	m   map[string]*Pacer
}

// NewPacers returns pacers at rps requests per second each (see NewPacer).
func NewPacers(rps float64) *Pacers { return &Pacers{rps: rps, m: map[string]*Pacer{}} }

// For returns the pacer of target, the same one on every call.
func (ps *Pacers) For(target string) *Pacer {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p, ok := ps.m[target]
	if !ok {
		p = NewPacer(ps.rps)
		ps.m[target] = p
	}
	return p
}
