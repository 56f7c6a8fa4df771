package main

import (
	"context"
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

// progress counts the keys a sweep has listed and, past progressDelay, draws
// a bar on stderr. The zero of a nil *progress does nothing.
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

// wrap returns a KeyStore that counts the keys its listings deliver; on nil
// it returns s unchanged.
func (p *progress) wrap(s handler.KeyStore) handler.KeyStore {
	if p == nil {
		return s
	}
	return countingStore{KeyStore: s, n: &p.n}
}

// countingStore is a KeyStore whose listings count the records they deliver.
type countingStore struct {
	handler.KeyStore
	n *atomic.Int64
}

func (s countingStore) List(ctx context.Context, cursor string) handler.Lister {
	return countingLister{Lister: s.KeyStore.List(ctx, cursor), n: s.n}
}

type countingLister struct {
	handler.Lister
	n *atomic.Int64
}

func (l countingLister) Next(ctx context.Context) (handler.Page, error) {
	p, err := l.Lister.Next(ctx)
	l.n.Add(int64(len(p.Records)))
	return p, err
}
