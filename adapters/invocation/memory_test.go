package invocation

import (
	"context"
	"fmt"
	"testing"

	"github.com/tagwarden/tagwarden/handler"
)

// TestMemoryKeepsServedLinks: links refused, failed or cut are forgotten
// (a retry is served again) without pushing out the links served: after
// more forgotten claims than the memory holds, a served link is still
// answered as served, and a link claimed again is not evicted by the
// leftover of its earlier claim.
func TestMemoryKeepsServedLinks(t *testing.T) {
	var m Memory
	if !m.claim("served") {
		t.Fatal("first claim refused")
	}
	m.release("served", true)
	for i := range 2 * maxLinks {
		k := fmt.Sprintf("cut-%d", i)
		if !m.claim(k) {
			t.Fatalf("claim %s refused", k)
		}
		m.release(k, false)
	}
	if m.claim("served") {
		t.Error("a served link was forgotten after forgotten claims")
	}
	if !m.claim("again") {
		t.Fatal("claim refused")
	}
	m.release("again", false)
	if !m.claim("again") {
		t.Fatal("a forgotten link is not served again")
	}
	for i := range maxLinks - 2 {
		m.claim(fmt.Sprintf("more-%d", i))
	}
	if m.claim("again") {
		t.Error("a running link was evicted by its earlier claim's leftover")
	}
}

// TestStartKey: the start key of an event is its id with what it asks,
// so that the same event delivered twice starts one run and an event id
// reused for another request starts another; without an event id it is
// the request id.
func TestStartKey(t *testing.T) {
	ctx := handler.WithRequestID(context.Background(), "req-1")
	dry := true
	sweep := handler.Request{Mode: handler.ModeSweep, EventID: "e1"}
	dryRun := handler.Request{Mode: handler.ModeSweep, EventID: "e1", DryRun: &dry}
	if startKey(ctx, sweep) != startKey(handler.WithRequestID(context.Background(), "req-2"), sweep) {
		t.Error("one event, two request ids: two start keys")
	}
	if startKey(ctx, sweep) == startKey(ctx, dryRun) {
		t.Error("one event id, two requests: one start key")
	}
	if got := startKey(ctx, handler.Request{Mode: handler.ModeSweep}); got != "req-1" {
		t.Errorf("start key %q without an event id, want the request id", got)
	}
}
