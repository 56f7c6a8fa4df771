package handler_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/handlertest"
	"github.com/tagwarden/tagwarden/policy"
)

// genStore lists n compliant keys made up page by page, holding none of
// them, and samples the live heap (after a collection) as it goes.
type genStore struct {
	n, pageSize int
	heap        map[int]uint64 // live heap when page i was asked for
}

type genLister struct {
	s    *genStore
	next int
}

func (s *genStore) List(_ context.Context, cursor string) handler.Lister {
	from, _ := strconv.Atoi(strings.TrimPrefix(cursor, "gen:"))
	return &genLister{s: s, next: from}
}

func (l *genLister) Next(context.Context) (handler.Page, error) {
	if l.next >= l.s.n {
		return handler.Page{}, io.EOF
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	l.s.heap[l.next/l.s.pageSize] = ms.HeapAlloc
	from := l.next
	p := handler.Page{Cursor: "gen:" + strconv.Itoa(from)}
	p.After = func(n int) string { return "gen:" + strconv.Itoa(from+n) }
	for i := l.next; i < min(l.next+l.s.pageSize, l.s.n); i++ {
		p.Records = append(p.Records, handler.Record{
			Key:  policy.Key{ID: fmt.Sprintf("gen-%08d", i), State: policy.StateEnabled, Spec: "AES_256", Usage: "ENCRYPT_DECRYPT", Origin: "kms"},
			Tags: map[string]string{"owner": "team-a", "env": "prod", "cost-center": "cc-1"},
		})
	}
	l.next += len(p.Records)
	return p, nil
}

var errNotListed = errors.New("genStore: only listings")

func (s *genStore) Scope() string { return "gen" }

func (s *genStore) Key(context.Context, string) (handler.Record, error) {
	return handler.Record{}, errNotListed
}
func (s *genStore) Tags(context.Context, string) (map[string]string, error) {
	return nil, errNotListed
}
func (s *genStore) Apply(context.Context, string, policy.Batch) error { return errNotListed }

// TestSweepMemoryFlat sweeps 100k compliant keys and checks that the live
// heap does not grow with the keys seen: the handler keeps no per-key state
// for a compliant key (no set of seen ids, no report entry).
func TestSweepMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("sweeps 100k keys")
	}
	const n, pageSize = 100_000, 1000
	s := &genStore{n: n, pageSize: pageSize, heap: map[int]uint64{}}
	h := handler.New(testEngine(t), handler.Config{Concurrency: 4}, nil)
	rep := h.Handle(context.Background(), s, handler.Request{Mode: handler.ModeSweep})
	if rep.Scanned != n || rep.Compliant != n || rep.Error != "" {
		t.Fatalf("sweep: %s", handlertest.Counts(rep))
	}
	first, last := s.heap[10], s.heap[n/pageSize-1]
	growth := int64(last) - int64(first)
	t.Logf("live heap at page 10: %d KiB, at page %d: %d KiB", first>>10, n/pageSize-1, last>>10)
	// A set of the 89k ids seen in between, even as 64-bit hashes, would
	// take well over 1 MiB.
	if growth > 1<<20 {
		t.Errorf("live heap grew by %d KiB over %d keys", growth>>10, n-11*pageSize)
	}
}
