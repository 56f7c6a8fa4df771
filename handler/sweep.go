package handler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// nextPage starts the dedupe window of a new listing page.
func (r *run) nextPage(size int) {
	r.window[0], r.window[1] = r.window[1], make(map[string]struct{}, size)
}

// firstListed records a listed id and reports whether it is new: not an
// explicit id of this run, nor on this or the previous page.
func (r *run) firstListed(id string) bool {
	if _, ok := r.seen[id]; ok {
		return false
	}
	for _, w := range r.window {
		if _, ok := w[id]; ok {
			return false
		}
	}
	r.window[1][id] = struct{}{}
	return true
}

// fetched is a listing page, or the error of reading it.
type fetched struct {
	page Page
	read time.Time // when it was asked for
	err  error
}

// prefetch reads the listing one page ahead of the dispatcher, so that the
// workers do not wait for the next page while the rate limit has room:
// while the dispatcher works through a page, the next one is read and
// held. Near the deadline it reads ahead only when the dispatcher is
// likely to finish its page before it stops (aheadWorthwhile): a page read
// ahead and then cut away is a listing call spent for nothing, as the next
// link reads it again. Otherwise it waits until the dispatcher asks
// (want). The channel closes after an error (io.EOF included) or when ctx
// ends.
func (r *run) prefetch(ctx context.Context, lister Lister, want <-chan struct{}) <-chan fetched {
	pages := make(chan fetched)
	go func() {
		defer close(pages)
		for {
			f := fetched{read: r.h.now()}
			f.page, f.err = safeNext(ctx, lister)
			select {
			case pages <- f:
			case <-ctx.Done():
				return
			}
			if f.err != nil {
				return
			}
			select {
			case <-want: // the dispatcher's ask for the page just sent
			default:
			}
			if !r.aheadWorthwhile(len(f.page.Records)) {
				select {
				case <-want:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return pages
}

// aheadWorthwhile reports whether the dispatcher, going at the pace it has
// kept so far, will be done with a page of n records before new work
// stops: only then is the next page worth reading now.
func (r *run) aheadWorthwhile(n int) bool {
	dl, ok := r.stop.Deadline()
	started := r.started.Load()
	if !ok || started < minPaceSample {
		return true
	}
	now := r.h.now()
	perRecord := now.Sub(r.now) / time.Duration(started)
	return now.Add(perRecord * time.Duration(n)).Before(dl)
}

// minPaceSample is how many records the dispatcher must have started for
// its pace to say when a page will be done.
const minPaceSample = 50

// sweep walks the listing from tok's cursor, dispatching each record once.
// It returns the cursor to resume from (right after the records finished)
// and whether the listing finished.
func (r *run) sweep(tok continuation, dispatch func(item) bool) (string, bool) {
	var (
		page Page
		done int // records of page dispatched or passed, a prefix
	)
	pos := func() string {
		if page.After == nil || done == 0 {
			if page.Cursor == "" {
				return tok.Cursor
			}
			return page.Cursor
		}
		return page.After(done)
	}
	ctx, cancel := context.WithCancel(r.work)
	want := make(chan struct{}, 1)
	pages := r.prefetch(ctx, r.store.List(ctx, tok.Cursor), want)
	defer func() {
		cancel()
		for range pages { // the reader ends with the listing call it is in
		}
	}()
	first := true
	for {
		if r.stopped() {
			return pos(), false
		}
		select {
		case want <- struct{}{}: // the next page is needed now
		default:
		}
		f, ok := <-pages
		if !ok {
			r.stopped()
			return pos(), false
		}
		if errors.Is(f.err, io.EOF) {
			return "", true
		}
		if f.err != nil {
			r.listingFailed(f.err, first && tok.Cursor != "")
			return pos(), false
		}
		first = false
		page, done = f.page, 0
		if page.Inexact {
			r.mu.Lock()
			r.inexact = true
			r.mu.Unlock()
		}
		r.nextPage(len(page.Records))
		for _, rec := range page.Records {
			r.started.Add(1)
			if r.firstListed(rec.Key.ID) {
				if !dispatch(item{rec: rec, id: rec.Key.ID, read: f.read}) {
					return pos(), false
				}
			} else {
				r.mu.Lock()
				r.passed++
				r.mu.Unlock()
			}
			done++
		}
	}
}

// listingFailed records an error of the listing. A store that refuses the
// cursor of a verified continuation (its format changed, say) makes the
// continuation invalid: resuming with it again cannot help.
func (r *run) listingFailed(err error, resumed bool) {
	switch {
	case errors.Is(err, ErrDenied):
		r.halt(fmt.Errorf("list keys: %w", err))
	case r.work.Err() != nil, errors.Is(err, context.DeadlineExceeded):
		// Cut by the deadline, or the store saw it would not finish in time.
		r.stopped()
		r.mu.Lock()
		r.deadline = true
		r.mu.Unlock()
	case resumed && errors.Is(err, ErrInvalid):
		r.mu.Lock()
		r.rep.fail(KindInvalidContinuation, fmt.Sprintf("invalid continuation: the store refused its listing position: %v", err))
		r.mu.Unlock()
	default:
		r.mu.Lock()
		r.rep.fail(KindListing, fmt.Sprintf("list keys: %v", err))
		r.mu.Unlock()
	}
}

// safeNext calls Next, turning a panic of the store into an error.
func safeNext(ctx context.Context, l Lister) (p Page, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("listing panicked: %v", v)
		}
	}()
	return l.Next(ctx)
}
