package main

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/tagwarden/tagwarden/handler"
)

// progressDelay is how long a sweep runs before the bar appears, so that
// quick sweeps print nothing.
const progressDelay = 500 * time.Millisecond

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// wantProgress decides whether to draw a progress bar: only for table output
// on a stderr that is a terminal, never with JSON or a pipe.
func (g *globals) wantProgress(format string) bool {
	if format != formatTable {
		return false
	}
	if g.progress != nil {
		return *g.progress
	}
	return isTerminal(g.stderr)
}

// progress counts the keys a sweep has finished (through the handler's
// Config.OnKey) and, past progressDelay, draws a spinner with the count and
// the time elapsed on stderr. A nil *progress does nothing.
type progress struct {
	n    atomic.Int64
	stop chan struct{}
	done sync.WaitGroup
}

// startProgress starts drawing on w when on is true; otherwise it returns nil.
func startProgress(w io.Writer, on bool, description string) *progress {
	if !on {
		return nil
	}
	p := &progress{stop: make(chan struct{})}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		var bar *progressbar.ProgressBar
		delay := time.NewTimer(progressDelay)
		defer delay.Stop()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				if bar != nil {
					_ = bar.Set64(p.n.Load())
					_ = bar.Clear()
				}
				return
			case <-delay.C:
				bar = progressbar.NewOptions64(-1,
					progressbar.OptionSetWriter(w),
					progressbar.OptionSetDescription(description),
					progressbar.OptionShowCount(),
					progressbar.OptionSpinnerType(14),
					progressbar.OptionThrottle(100*time.Millisecond),
					progressbar.OptionClearOnFinish(),
				)
			case <-tick.C:
				if bar != nil {
					_ = bar.Set64(p.n.Load())
				}
			}
		}
	}()
	return p
}

// Stop removes the bar; safe on nil.
func (p *progress) Stop() {
	if p == nil {
		return
	}
	close(p.stop)
	p.done.Wait()
}

// hook returns the handler's Config.OnKey that counts every key given an
// outcome; on nil it returns nil (no hook).
func (p *progress) hook() func(handler.Outcome) {
	if p == nil {
		return nil
	}
	return func(handler.Outcome) { p.n.Add(1) }
}
