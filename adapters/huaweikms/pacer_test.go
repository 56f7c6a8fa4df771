package huaweikms

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/handler"
)

func TestNewPacer(t *testing.T) {
	cases := []struct {
		rps     float64
		rate    float64
		perWin  int
		str     string
		limited bool
	}{
		{20, 20, 20, "20 requests per second, at most 20 in any 1.02s", true},
		{0, DefaultRateLimit, DefaultRateLimit, "20 requests per second, at most 20 in any 1.02s", true},
		{math.NaN(), DefaultRateLimit, DefaultRateLimit, "20 requests per second, at most 20 in any 1.02s", true},
		{7.9, 7.9, 7, "7.9 requests per second, at most 7 in any 1.02s", true},
		{0.5, 0.5, 1, "0.5 requests per second, at most 1 in any 1.02s", true},
		{1e6, 1e6, 0, "1e+06 requests per second", true}, // spacing only
		{-1, math.Inf(1), 0, "unlimited", false},
		{math.Inf(1), math.Inf(1), 0, "unlimited", false},
	}
	for _, tc := range cases {
		p := NewPacer(tc.rps)
		if p.Rate() != tc.rate || p.perWin != tc.perWin || p.String() != tc.str || (p.lim != nil) != tc.limited {
			t.Errorf("NewPacer(%v): rate %v, %d per window, %q, limited %t; want %v, %d, %q, %t",
				tc.rps, p.Rate(), p.perWin, p.String(), p.lim != nil, tc.rate, tc.perWin, tc.str, tc.limited)
		}
		if tc.limited && p.lim.Burst() != 1 {
			t.Errorf("NewPacer(%v): burst %d, want 1", tc.rps, p.lim.Burst())
		}
	}
}

// TestPacerAroundLimiter: a pacer built around a token bucket uses it as given
// (rate and burst) with the window guard; a zero rate pauses a whole window
// at most; rate.Inf is unlimited.
func TestPacerAroundLimiter(t *testing.T) {
	cases := []struct {
		name     string
		lim      *rate.Limiter
		rate     float64
		perWin   int
		burst    int
		interval time.Duration
	}{
		{"burst kept", rate.NewLimiter(2000, 4), 2000, 2000, 4, 500 * time.Microsecond},
		{"zero rate", rate.NewLimiter(0, 1), 0, 1, 1, GatewayWindow + WindowSlack},
		{"unlimited", rate.NewLimiter(rate.Inf, 0), math.Inf(1), 0, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newPacer(tc.lim)
			if p.Rate() != tc.rate || p.perWin != tc.perWin || p.interval != tc.interval || (p.lim != nil && p.lim.Burst() != tc.burst) {
				t.Errorf("rate %v, %d per window, interval %v; want %v, %d, %v, burst %d", p.Rate(), p.perWin, p.interval, tc.rate, tc.perWin, tc.interval, tc.burst)
			}
			p.strikes = 5
			p.throttled(time.Now())
			if d := time.Until(p.pause); d > GatewayWindow+WindowSlack+maxPauseJitter {
				t.Errorf("paused %v, want at most a window and the jitter", d)
			}
		})
	}
}

// TestPacerWindow sends from several goroutines through one pacer for about
// two windows: calls are spaced by the rate, and no window of
// GatewayWindow+WindowSlack holds more than floor(rate) sends, which even
// spacing alone would break (101 sends 10 ms apart span 1.00 s).
func TestPacerWindow(t *testing.T) {
	t.Parallel() // it mostly sleeps
	const rps, n, workers = 100, 205, 4
	p := NewPacer(rps)
	var (
		mu    sync.Mutex
		sends []time.Time
		wg    sync.WaitGroup
	)
	ctx := testCtx(t)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n / workers {
				at, err := p.wait(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				sends = append(sends, at)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	slices.SortFunc(sends, func(a, b time.Time) int { return a.Compare(b) })
	for i := 0; i+rps < len(sends); i++ {
		if d := sends[i+rps].Sub(sends[i]); d < GatewayWindow+WindowSlack {
			t.Fatalf("sends %d and %d are %v apart: %d sends in less than %v", i, i+rps, d, rps+1, GatewayWindow+WindowSlack)
		}
	}
	// The window costs 2% over even spacing: two windows of 100 sends and a
	// few more take at least 2.04 s.
	if least := 2 * (GatewayWindow + WindowSlack); took < least {
		t.Errorf("%d sends took %v, want at least %v", len(sends), took, least)
	}
}

// TestPacerSpacing: with a burst of 1, the second of two back-to-back
// calls waits one interval.
func TestPacerSpacing(t *testing.T) {
	p := NewPacer(10)
	ctx := testCtx(t)
	a, err := p.wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := b.Sub(a); d < 95*time.Millisecond {
		t.Errorf("second call %v after the first, want 100ms at 10 per second", d)
	}
}

// TestPacerThrottled checks the pause after a 429: jitter alone for the
// first, then one interval, doubling each time a call sent after the latest
// pause is throttled again, never past the window after the throttled send;
// a 429 to a call sent before the latest pause changes nothing.
func TestPacerThrottled(t *testing.T) {
	const ms = time.Millisecond
	w := GatewayWindow + WindowSlack
	cases := []struct {
		name        string
		rps         float64
		strikes     int           // before
		pausedAt    time.Duration // latest pause set, relative to now (0: never)
		sent        time.Duration // the throttled send, relative to now
		want        time.Duration // pause end relative to now, before jitter
		none        bool          // no pause at all
		wantStrikes int
	}{
		{"first 429: jitter alone", 20, 0, 0, -5 * ms, 0, false, 1},
		{"throttled again after the pause: one interval", 20, 1, -10 * ms, -5 * ms, 50 * ms, false, 2},
		{"fourth in a row: doubled twice", 20, 3, -10 * ms, -5 * ms, 200 * ms, false, 4},
		{"then the window after the send", 20, 6, -10 * ms, -5 * ms, w - 5*ms, false, 7},
		{"many in a row", 20, 40, -10 * ms, -5 * ms, w - 5*ms, false, 41},
		{"a slow answer: never past the window after the send", 20, 1, -1500 * ms, -1000 * ms, w - 1000*ms, false, 2},
		{"faster rate, shorter interval", 200, 1, -10 * ms, 0, 5 * ms, false, 2},
		{"sent before the latest pause: same episode", 20, 2, -10 * ms, -20 * ms, 0, true, 2},
		{"unlimited: no pause", -1, 0, 0, 0, 0, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPacer(tc.rps)
			now := time.Now()
			p.strikes = tc.strikes
			if tc.pausedAt != 0 {
				p.pausedAt = now.Add(tc.pausedAt)
			}
			p.throttled(now.Add(tc.sent))
			after := time.Now()
			if p.strikes != tc.wantStrikes {
				t.Errorf("strikes %d, want %d", p.strikes, tc.wantStrikes)
			}
			if tc.none {
				if !p.pause.IsZero() {
					t.Errorf("paused until %v after now, want no pause", p.pause.Sub(now))
				}
				return
			}
			if lo, hi := now.Add(tc.want), after.Add(tc.want+p.jitter); p.pause.Before(lo) || p.pause.After(hi) {
				t.Errorf("paused until %v after now, want %v plus jitter up to %v", p.pause.Sub(now), tc.want, p.jitter)
			}
			if p.jitter <= 0 || p.jitter > maxPauseJitter || p.jitter > time.Duration(float64(time.Second)/tc.rps) {
				t.Errorf("jitter up to %v, want up to one interval and %v", p.jitter, maxPauseJitter)
			}
		})
	}
}

// TestPacerPassed: a call let through after the latest pause ends the
// doubling; one sent before it does not.
func TestPacerPassed(t *testing.T) {
	cases := []struct {
		name        string
		sent        time.Duration // relative to the latest pause
		wantStrikes int
	}{
		{"sent after the pause", time.Millisecond, 0},
		{"sent before the pause", -time.Millisecond, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPacer(20)
			p.strikes, p.pausedAt = 3, time.Now()
			p.passed(p.pausedAt.Add(tc.sent))
			if p.strikes != tc.wantStrikes {
				t.Errorf("strikes %d, want %d", p.strikes, tc.wantStrikes)
			}
		})
	}
}

// TestPacerPauseHoldsEveryCaller: a 429 reported by one caller holds the
// others until the pause ends, then they go one interval apart.
func TestPacerPauseHoldsEveryCaller(t *testing.T) {
	p := NewPacer(50)
	ctx := testCtx(t)
	sent, err := p.wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p.strikes = 3 // the fourth in a row: four intervals, 80 ms
	p.throttled(sent)
	until := p.pause
	if d := time.Until(until); d < 60*time.Millisecond {
		t.Fatalf("pause of %v, want about 80ms", d)
	}
	var (
		mu  sync.Mutex
		got []time.Time
		wg  sync.WaitGroup
	)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at, err := p.wait(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got = append(got, at)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.SortFunc(got, func(a, b time.Time) int { return a.Compare(b) })
	if len(got) != 3 || got[0].Before(until) {
		t.Fatalf("sends at %v, want none before the pause's end %v", got, until)
	}
	for i := 1; i < len(got); i++ {
		if d := got[i].Sub(got[i-1]); d < 15*time.Millisecond {
			t.Errorf("sends %d and %d %v apart after the pause, want about 20ms (no burst)", i-1, i, d)
		}
	}
}

// TestPacerDeadline: a wait that would pass the deadline returns at once,
// whatever holds it (the spacing, the window, a pause), and gives its token
// back.
func TestPacerDeadline(t *testing.T) {
	cases := []struct {
		name  string
		rps   float64
		setup func(p *Pacer)
	}{
		// 2.5 per second: the second call waits 400 ms for its token while
		// the window (2 per 1.02 s) still has room.
		{"spacing", 2.5, func(p *Pacer) { p.wait(context.Background()) }},
		{"window", 1000, func(p *Pacer) {
			p.mu.Lock()
			defer p.mu.Unlock()
			for range p.perWin {
				p.record(time.Now())
			}
		}},
		{"pause", 20, func(p *Pacer) { p.strikes = 10; p.throttled(time.Now()) }}, // a whole window
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPacer(tc.rps)
			tc.setup(p)
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := p.wait(ctx)
			if !errors.Is(err, errNoRoom) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("got %v, want errNoRoom", err)
			}
			// At once, not at the 100ms deadline it could not meet.
			if took := time.Since(start); took >= 90*time.Millisecond {
				t.Errorf("returned after %v, want at once, not at the deadline", took)
			}
			if tc.name == "spacing" {
				// The cancelled reservation gave its token back: the next
				// call waits one interval from the first, not two.
				if d := p.lim.Reserve().Delay(); d > 400*time.Millisecond {
					t.Errorf("next call waits %v, want at most 400ms", d)
				}
			}
		})
	}
	p := NewPacer(1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v", err)
	}
}

// TestPacerAgainstWindowGateway runs two stores sharing one pacer against an
// emulator whose gateway counts a sliding second at exactly the pacer's
// rate, as KMS's does: over two windows of calls, none is answered 429,
// and the calls take no longer than the rate requires plus the slack.
func TestPacerAgainstWindowGateway(t *testing.T) {
	t.Parallel() // it mostly sleeps
	const rps, calls = 20, 45
	cases := []struct {
		name   string
		mod    func(*Config)
		stores int
	}{
		{"two stores sharing a Pacer", func(c *Config) { c.Pacer = NewPacer(rps) }, 2},
		{"one store with its own pacer", func(c *Config) { c.RateLimit = rps }, 1},
	}
	seed := emulator.SampleKeys(5, 1)
	id := seed[len(seed)-1].ResourceID
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newEnv(t, emulator.Options{Seed: seed}, tc.mod)
			stores := []*Store{a.store}
			for len(stores) < tc.stores {
				b, err := New(a.cfg) // the same Pacer
				if err != nil {
					t.Fatal(err)
				}
				stores = append(stores, b)
			}
			a.srv.SetFaults(emulator.Faults{WindowLimit: rps})
			ctx := testCtx(t)
			start := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, calls)
			for i := range calls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := stores[i%len(stores)].Tags(ctx, id)
					errs <- err
				}()
			}
			wg.Wait()
			took := time.Since(start)
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			st := a.srv.Stats()
			if st.Status[429] != 0 {
				t.Errorf("%d calls answered 429, want none", st.Status[429])
			}
			// Two windows of 20 and 5 more: at least 2.04 s. The upper
			// bound only catches a stall (the bench measures how close to
			// calls/rate, 2.25 s, a sweep comes).
			if lo, hi := 2*(GatewayWindow+WindowSlack), 10*time.Second; took < lo || took > hi {
				t.Errorf("%d calls took %v, want %v..%v", calls, took, lo, hi)
			}
			if got := st.Calls[emulator.APIShowTags]; got != calls {
				t.Errorf("emulator saw %d calls, want %d", got, calls)
			}
		})
	}
}

// TestPacerOrder: callers queued behind the rate take their turns by the
// order of their keys (handler.KeyOrder), calls for no key first, then by
// arrival; so the keys started first finish first.
func TestPacerOrder(t *testing.T) {
	p := NewPacer(50) // one send every 20 ms
	ctx := context.Background()
	if _, err := p.wait(ctx); err != nil { // the first send: the others queue behind the spacing
		t.Fatal(err)
	}
	orders := []int64{5, 3, 0, 4, 1, 0, 2}
	var mu sync.Mutex
	var got []int64
	var wg sync.WaitGroup
	for _, o := range orders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := ctx
			if o > 0 {
				c = handler.WithKeyOrder(ctx, o)
			}
			if _, err := p.wait(c); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got = append(got, o)
			mu.Unlock()
		}()
		time.Sleep(2 * time.Millisecond) // arrive in this order, within the first interval
	}
	wg.Wait()
	// The first arrival takes its turn before the others queue; the rest
	// go in key order.
	want := append([]int64{orders[0]}, slices.Sorted(slices.Values(orders[1:]))...)
	if !slices.Equal(got, want) {
		t.Errorf("turns taken in order %v, want %v", got, want)
	}
}

// TestPacerQueueDeadline: a caller with more callers ahead of it than its
// deadline leaves intervals for is refused at once, as a deadline cut.
func TestPacerQueueDeadline(t *testing.T) {
	p := NewPacer(10) // 100 ms apart
	ctx := context.Background()
	if _, err := p.wait(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 5 { // 500 ms of turns ahead
		wg.Add(1)
		go func() { defer wg.Done(); p.wait(ctx) }() //nolint:errcheck // only fills the queue
	}
	time.Sleep(10 * time.Millisecond)
	c, cancel := context.WithTimeout(handler.WithKeyOrder(ctx, 9), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.wait(c)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) >= 100*time.Millisecond {
		t.Errorf("got %v after %v, want an immediate deadline error", err, time.Since(start))
	}
	wg.Wait()
}

// TestPacersPerTarget: each target has its own pacer, the same on every
// call, at the configured rate.
func TestPacersPerTarget(t *testing.T) {
	ps := NewPacers(7)
	a, b := ps.For("ap-southeast-1/p1"), ps.For("cn-north-4/p2")
	if a == b {
		t.Fatal("two targets share one pacer")
	}
	if ps.For("ap-southeast-1/p1") != a {
		t.Fatal("a target got a second pacer")
	}
	if a.Rate() != 7 || b.Rate() != 7 {
		t.Fatalf("rates %g and %g, want 7", a.Rate(), b.Rate())
	}
}
