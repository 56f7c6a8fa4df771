package emu

import (
	"context"
	"net/http"
	"testing"
	"time"
)

type call struct{ deliveries []int }

func listen(t *testing.T) *Server[call] {
	t.Helper()
	s, err := Listen(false, func(c *call) call { return call{append([]int(nil), c.deliveries...)} })
	if err != nil {
		t.Fatal(err)
	}
	s.Serve(http.NotFoundHandler())
	t.Cleanup(func() { s.Close() })
	return s
}

// TestWaitStartQueue: Wait waits for what Start runs and what Queue counts,
// work added meanwhile included; Invocations are copies.
func TestWaitStartQueue(t *testing.T) {
	s := listen(t)
	release := make(chan struct{})
	inv := &call{}
	if !s.Start(inv, func(context.Context) {
		<-release
		s.Update(func() { inv.deliveries = append(inv.deliveries, 1) })
		if !s.Queue(func() {}) { // a delivery queued by a running one
			t.Error("Queue refused before Close")
		}
	}) {
		t.Fatal("Start refused before Close")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.Wait(ctx); err == nil {
		t.Fatal("Wait returned while a delivery was running")
	}
	close(release)
	done := make(chan error, 1)
	go func() { done <- s.Wait(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("Wait returned %v with a queued delivery not done", err)
	case <-time.After(20 * time.Millisecond):
	}
	s.Done()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := s.Invocations()
	if len(got) != 1 || len(got[0].deliveries) != 1 {
		t.Fatalf("got %v, want one invocation with one delivery", got)
	}
	got[0].deliveries[0] = 9
	if inv.deliveries[0] != 1 {
		t.Error("Invocations shares its deliveries with the server's")
	}
}

// TestClose: Close ends the context of what runs and waits for it; after
// it, Start, Queue and Go refuse.
func TestClose(t *testing.T) {
	s := listen(t)
	ended := make(chan struct{})
	if !s.Go(func(ctx context.Context) { <-ctx.Done(); close(ended) }) {
		t.Fatal("Go refused before Close")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
	default:
		t.Fatal("Close returned before the work ended")
	}
	if s.Start(&call{}, func(context.Context) {}) || s.Queue(func() {}) || s.Go(func(context.Context) {}) {
		t.Error("work started after Close")
	}
	if n := len(s.Invocations()); n != 0 {
		t.Errorf("got %d invocations, want 0", n)
	}
}

// TestDeliveriesAndFaults: the duplicate switch and the injected failures.
func TestDeliveriesAndFaults(t *testing.T) {
	s := listen(t)
	if n := s.Deliveries(); n != 1 {
		t.Errorf("got %d deliveries, want 1", n)
	}
	s.SetDuplicate(true)
	if n := s.Deliveries(); n != 2 {
		t.Errorf("got %d deliveries with the duplicate switch on, want 2", n)
	}
	s.FailNext(2, 503)
	for i, want := range []bool{true, true, false} {
		if status, ok := s.Fault(); ok != want || ok && status != 503 {
			t.Errorf("call %d: got %d, %t, want 503, %t", i+1, status, ok, want)
		}
	}
}
