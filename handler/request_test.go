package handler_test

// Requests as a whole: refused requests and continuations, no time to
// work, cancellation, the report's JSON.

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/handlertest"
	"github.com/tagwarden/tagwarden/handler/memstore"
)

func TestRequestErrors(t *testing.T) {
	s := newStore(20, 5)
	h, _ := newHandler(t, handler.Config{})
	// A sweep cut by a full report: a real continuation of a real run.
	sweepTok := func() string {
		hm, _ := newHandler(t, handler.Config{MaxReportKeys: 1, Concurrency: 1})
		rep := hm.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep})
		if rep.Continuation == "" {
			t.Fatalf("no continuation from a full report: %s", handlertest.Counts(rep))
		}
		return rep.Continuation
	}()
	foreign, _ := newHandler(t, handler.Config{ContinuationKey: []byte("another-deployment-key-000000000000"), MaxReportKeys: 1, Concurrency: 1})
	foreignTok := foreign.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep, DryRun: ptr(true)}).Continuation
	otherScope := memstore.New(memstore.Options{Scope: "another project"})
	tests := []struct {
		name                string
		store               handler.KeyStore
		req                 handler.Request
		kind                handler.ErrorKind
		wantErr, wantReason string
	}{
		{name: "too many keys", req: handler.Request{Mode: handler.ModeKeys, KeyIDs: func() []string {
			ids := make([]string, handler.MaxKeyIDs+1)
			for i := range ids {
				ids[i] = keyID(i)
			}
			return ids
		}()}, kind: handler.KindInvalidRequest, wantErr: "key request names 1001 keys, at most 1000: use a sweep"},
		{name: "ignore", req: handler.Request{Mode: handler.ModeIgnore, Reason: "not a key event"}, wantReason: "not a key event"},
		{name: "unknown mode", req: handler.Request{Mode: "purge"}, kind: handler.KindInvalidRequest, wantErr: `unknown request mode "purge": want "sweep", "keys" or "ignore"`},
		{name: "garbage continuation", req: handler.Request{Mode: handler.ModeSweep, Continuation: "%%%"}, kind: handler.KindInvalidContinuation,
			wantErr: "invalid continuation: not a continuation token of this version (no signature)", wantReason: "nothing was done"},
		{name: "hand-made continuation", req: handler.Request{Mode: handler.ModeSweep, Continuation: "eyJ2IjoxLCJtIjoic3dlZXAiLCJsIjp0cnVlLCJuIjo5OTl9"}, kind: handler.KindInvalidContinuation,
			wantErr: "invalid continuation: not a continuation token of this version (no signature)", wantReason: "nothing was done"},
		{name: "altered continuation", req: handler.Request{Mode: handler.ModeSweep, Continuation: "e30" + sweepTok[strings.Index(sweepTok, "."):]}, kind: handler.KindInvalidContinuation,
			wantErr: "invalid continuation: " + handlerErrForeignKey, wantReason: "nothing was done"},
		{name: "continuation of another mode", req: handler.Request{Mode: handler.ModeKeys, Continuation: sweepTok}, kind: handler.KindInvalidContinuation,
			wantErr: `invalid continuation: the token resumes a "sweep" request, not "keys"`, wantReason: "nothing was done"},
		{name: "continuation of a real run in a dry run", req: handler.Request{Mode: handler.ModeSweep, DryRun: ptr(true), Continuation: sweepTok}, kind: handler.KindInvalidContinuation,
			wantErr: "invalid continuation: the token resumes a request with dry_run=false, not true", wantReason: "nothing was done"},
		{name: "continuation of another project", store: otherScope, req: handler.Request{Mode: handler.ModeSweep, Continuation: sweepTok}, kind: handler.KindStaleContinuation,
			wantErr: `stale continuation: the token continues a request on "memstore:memstore", not on "memstore:another project"`, wantReason: "nothing was done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := tt.store
			if store == nil {
				store = s
			}
			rep := h.Handle(context.Background(), store, tt.req)
			if rep.Error != tt.wantErr || rep.Reason != tt.wantReason || rep.Scanned != 0 || rep.Mode != tt.req.Mode || rep.ErrorKind != tt.kind {
				t.Errorf("got error %q (%s) reason %q scanned %d mode %q, want error %q (%s) reason %q", rep.Error, rep.ErrorKind, rep.Reason, rep.Scanned, rep.Mode, tt.wantErr, tt.kind, tt.wantReason)
			}
			if rep.Continuation != "" {
				t.Errorf("a refused request returned a continuation")
			}
			if tt.req.Continuation != "" && strings.Contains(rep.Error+rep.Reason, tt.req.Continuation) {
				t.Errorf("the error repeats the token it was given")
			}
			if rep.Keys == nil {
				t.Error("Keys is nil, want an empty list in the JSON")
			}
		})
	}
	if st := s.Stats(); st.Writes != 0 {
		t.Errorf("invalid requests wrote %d times", st.Writes)
	}
	// The foreign token: from another deployment, refused whatever the request.
	rep := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep, DryRun: ptr(true), Continuation: foreignTok})
	if foreignTok == "" || rep.ErrorKind != handler.KindInvalidContinuation || rep.Scanned != 0 {
		t.Errorf("token of another deployment: %s (%s)", handlertest.Counts(rep), rep.ErrorKind)
	}
}

// handlerErrForeignKey is the handler's reason for a token that does not verify.
const handlerErrForeignKey = "it does not verify: it was altered, made by hand, or issued by a deployment or process with another continuation key (TAGWARDEN_CONTINUATION_KEY)"

// TestNoTimeToWork: an invocation too short for any work never hands back
// a continuation (the same chain would loop for ever), and says so with
// its own error kind; the same request with time to work then completes.
func TestNoTimeToWork(t *testing.T) {
	s := newStore(20, 5)
	h, _ := newHandler(t, handler.Config{Margin: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	rep := h.Handle(ctx, s, handler.Request{Mode: handler.ModeSweep})
	if rep.Scanned != 0 || rep.Continuation != "" || rep.ErrorKind != handler.KindNoTime || !strings.Contains(rep.Error, "no time to work") {
		t.Fatalf("got %s (%s), want no work, a no_time error and no continuation", handlertest.Counts(rep), rep.ErrorKind)
	}
	// Resumed from a real continuation, an invocation with no time does not
	// hand the token back either.
	tok := func() string {
		hm, _ := newHandler(t, handler.Config{MaxReportKeys: 1, Concurrency: 1})
		return hm.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep, DryRun: ptr(true)}).Continuation
	}()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	again := h.Handle(ctx2, s, handler.Request{Mode: handler.ModeSweep, DryRun: ptr(true), Continuation: tok})
	if tok == "" || again.Continuation != "" || again.ErrorKind != handler.KindNoTime {
		t.Errorf("resumed with no time: %s (%s), want a no_time error and no continuation", handlertest.Counts(again), again.ErrorKind)
	}
	h2, _ := newHandler(t, handler.Config{})
	next := h2.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep})
	if next.Scanned != 20 || next.Continuation != "" {
		t.Errorf("the same request with time: %s", handlertest.Counts(next))
	}
}

func TestReportJSON(t *testing.T) {
	s := newStore(10, 5)
	h, _ := newHandler(t, handler.Config{})
	rep := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyID(5)}, DryRun: ptr(true)})
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"mode":"keys"`, `"dry_run":true`, `"planned":1`, `"outcome":"planned"`, `"delete":[{"key":"temp-build","value":"1"}`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("report JSON %s lacks %s", b, want)
		}
	}
}

func TestCancelled(t *testing.T) {
	s := newStore(30, 10)
	h, _ := newHandler(t, handler.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A manual check: nothing done, no continuation, an error saying so.
	rep := h.Handle(ctx, s, handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyID(3)}, Reason: "manual"})
	if rep.Scanned != 0 || rep.Continuation != "" || rep.ErrorKind != handler.KindNoTime || rep.Reason != "manual; cancelled" {
		t.Fatalf("cancelled request: %s (%s)", handlertest.Counts(rep), rep.ErrorKind)
	}
	// A key event: nobody follows a continuation, so the key is reported
	// skipped with the reason.
	ev := h.Handle(ctx, s, handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyID(3)}, Trigger: "cts", Reason: "cts createKey"})
	if ev.Scanned != 1 || ev.Skipped != 1 || ev.Continuation != "" || len(ev.Keys) != 1 || !strings.Contains(ev.Keys[0].Reason, "not decided before the deadline") {
		t.Fatalf("cancelled key event: %s %+v", handlertest.Counts(ev), ev.Keys)
	}
	next := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeKeys, KeyIDs: []string{keyID(3)}})
	if next.Changed != 1 || next.Continuation != "" {
		t.Errorf("sent again: %s", handlertest.Counts(next))
	}
}
