package memstore

import (
	"context"
	"fmt"
	"io"
	"maps"
	"sort"
	"strings"
	"sync"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// Operation names passed to Hook and counted in Stats.
const (
	OpList  = "list"
	OpKey   = "key"
	OpTags  = "tags"
	OpApply = "apply"
)

// DefaultPageSize is the page size when Options.PageSize is 0.
const DefaultPageSize = 100

// Options configure a Store.
type Options struct {
	// Limits are the tag rules enforced; zero fields take those of
	// policy.DefaultLimits (see policy.Limits.WithDefaults).
	Limits policy.Limits
	// PageSize is the number of records per listing page (default 100).
	PageSize int
	// Scope names the store's key set for continuations (default
	// "memstore"): two stores with the same scope accept each other's.
	Scope string
}

// Stats counts the calls a Store answered.
type Stats struct {
	// Calls counts calls by operation (OpList counts pages).
	Calls map[string]int
	// Writes counts successful Apply calls.
	Writes int
	// Rejected counts Apply calls refused with an error.
	Rejected int
	// WritesByKey counts successful Apply calls per key id.
	WritesByKey map[string]int
}

type entry struct {
	key  policy.Key
	tags map[string]string
}

// Store is an in-memory handler.KeyStore, safe for concurrent use.
type Store struct {
	// Hook, when set, is called at the start of every operation (op is one
	// of the Op constants, id the key id or the cursor for OpList); a
	// non-nil error is returned by that operation as it is. It may also
	// sleep or panic. Set it before the store is used.
	Hook func(ctx context.Context, op, id string) error

	limits   policy.Limits
	pageSize int
	scope    string

	mu     sync.Mutex
	keys   map[string]*entry
	hidden map[string]bool
	stats  Stats
}

var _ handler.KeyStore = (*Store)(nil)

// New returns an empty store.
func New(opts Options) *Store {
	opts.Limits = opts.Limits.WithDefaults()
	if opts.PageSize < 1 {
		opts.PageSize = DefaultPageSize
	}
	if opts.Scope == "" {
		opts.Scope = "memstore"
	}
	return &Store{
		limits:   opts.Limits,
		pageSize: opts.PageSize,
		scope:    opts.Scope,
		keys:     map[string]*entry{},
		hidden:   map[string]bool{},
		stats:    Stats{Calls: map[string]int{}, WritesByKey: map[string]int{}},
	}
}

// Put adds or replaces a key with its tags (copied; nil means none).
func (s *Store) Put(k policy.Key, tags map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := maps.Clone(tags)
	if t == nil {
		t = map[string]string{}
	}
	s.keys[k.ID] = &entry{key: k, tags: t}
}

// Delete removes a key, as if it were deleted behind the handler's back.
func (s *Store) Delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, id)
}

// HideTags makes listings return these keys with unknown tags (Record.Tags
// nil), as the bulk tag listing of KMS may, so the handler must read them.
func (s *Store) HideTags(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.hidden[id] = true
	}
}

// TagsOf returns a copy of a key's tags and whether the key exists.
func (s *Store) TagsOf(id string) (map[string]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.keys[id]
	if !ok {
		return nil, false
	}
	return maps.Clone(e.tags), true
}

// Keys returns every key, sorted by id.
func (s *Store) Keys() []policy.Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]policy.Key, 0, len(s.keys))
	for _, e := range s.keys {
		out = append(out, e.key)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Stats returns a copy of the call counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{
		Calls:       maps.Clone(s.stats.Calls),
		Writes:      s.stats.Writes,
		Rejected:    s.stats.Rejected,
		WritesByKey: maps.Clone(s.stats.WritesByKey),
	}
}

// ResetStats zeroes the call counters.
func (s *Store) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = Stats{Calls: map[string]int{}, WritesByKey: map[string]int{}}
}

// begin counts an operation and runs the hook and the context check.
func (s *Store) begin(ctx context.Context, op, id string) error {
	s.mu.Lock()
	s.stats.Calls[op]++
	s.mu.Unlock()
	if s.Hook != nil {
		if err := s.Hook(ctx, op, id); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, id, err)
	}
	return nil
}

// Scope returns Options.Scope.
func (s *Store) Scope() string { return "memstore:" + s.scope }

// List starts a listing at cursor: "", or the Cursor of a page it
// returned, or what that page's After returned.
func (s *Store) List(ctx context.Context, cursor string) handler.Lister {
	return &lister{s: s, next: cursor}
}

type lister struct {
	s    *Store
	next string // the next page: "" with done false = start
	done bool
	err  error
}

// Cursor prefixes: the listing from an id on (the start of a page), or
// after an id (after a record). Ids are listed in order, so a cursor after
// an id stays right whatever is added or removed before it.
const (
	cursorFrom  = "mem:"
	cursorAfter = "mem>"
)

func (l *lister) Next(ctx context.Context) (handler.Page, error) {
	if l.done {
		return handler.Page{}, io.EOF
	}
	from, after := "", false
	switch {
	case l.next == "":
	case strings.HasPrefix(l.next, cursorFrom):
		from = strings.TrimPrefix(l.next, cursorFrom)
	case strings.HasPrefix(l.next, cursorAfter):
		from, after = strings.TrimPrefix(l.next, cursorAfter), true
	default:
		return handler.Page{}, fmt.Errorf("list keys: cursor %q: %w", l.next, handler.ErrInvalid)
	}
	if err := l.s.begin(ctx, OpList, l.next); err != nil {
		return handler.Page{}, err
	}
	s := l.s
	s.mu.Lock()
	ids := make([]string, 0, len(s.keys))
	for id := range s.keys {
		if id > from || id == from && !after {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var page handler.Page
	n := min(len(ids), s.pageSize)
	for _, id := range ids[:n] {
		e := s.keys[id]
		rec := handler.Record{Key: e.key}
		if !s.hidden[id] {
			rec.Tags = maps.Clone(e.tags)
		}
		page.Records = append(page.Records, rec)
	}
	s.mu.Unlock()
	if n == 0 {
		l.done = true
		return handler.Page{}, io.EOF
	}
	page.Cursor = l.next
	if page.Cursor == "" {
		page.Cursor = cursorFrom + ids[0]
	}
	recs := page.Records
	page.After = func(n int) string {
		if n <= 0 {
			return page.Cursor
		}
		return cursorAfter + recs[n-1].Key.ID
	}
	if n < len(ids) {
		l.next = cursorAfter + ids[n-1]
	} else {
		l.done = true
	}
	return page, nil
}

// Key reads one key and its tags. ErrNotFound if it does not exist.
func (s *Store) Key(ctx context.Context, id string) (handler.Record, error) {
	if err := s.begin(ctx, OpKey, id); err != nil {
		return handler.Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.keys[id]
	if !ok {
		return handler.Record{}, fmt.Errorf("read key %s: %w", id, handler.ErrNotFound)
	}
	return handler.Record{Key: e.key, Tags: maps.Clone(e.tags)}, nil
}

// Tags reads one key's tags. ErrNotFound if it does not exist.
func (s *Store) Tags(ctx context.Context, id string) (map[string]string, error) {
	if err := s.begin(ctx, OpTags, id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.keys[id]
	if !ok {
		return nil, fmt.Errorf("read tags of key %s: %w", id, handler.ErrNotFound)
	}
	return maps.Clone(e.tags), nil
}

// Apply creates (overwriting values) or deletes tags as one batch: all or
// nothing. Deleting a missing tag is done. A batch of no tags (of a valid
// action) is a no-op, as in the KMS adapter: nothing to write, whatever the
// key, not counted in Stats.Writes. ErrNotFound, ErrDefaultKey, or
// ErrInvalid for a batch the API would refuse.
func (s *Store) Apply(ctx context.Context, id string, b policy.Batch) error {
	if err := s.begin(ctx, OpApply, id); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(b.Tags) == 0 && (b.Action == policy.ActionCreate || b.Action == policy.ActionDelete) {
		return nil
	}
	err := s.apply(id, b)
	if err != nil {
		s.stats.Rejected++
		return fmt.Errorf("%s tags of key %s: %w", b.Action, id, err)
	}
	s.stats.Writes++
	s.stats.WritesByKey[id]++
	return nil
}

func (s *Store) apply(id string, b policy.Batch) error {
	e, ok := s.keys[id]
	if !ok {
		return handler.ErrNotFound
	}
	if e.key.Default {
		return handler.ErrDefaultKey
	}
	if b.Action != policy.ActionCreate && b.Action != policy.ActionDelete {
		return fmt.Errorf("action %q: %w", b.Action, handler.ErrInvalid)
	}
	if len(b.Tags) > s.limits.MaxBatch {
		return fmt.Errorf("%d tags in one call, at most %d: %w", len(b.Tags), s.limits.MaxBatch, handler.ErrInvalid)
	}
	seen := map[string]bool{}
	for _, t := range b.Tags {
		if seen[t.Key] {
			return fmt.Errorf("tag %q twice: %w", t.Key, handler.ErrInvalid)
		}
		seen[t.Key] = true
		if err := s.limits.CheckKey(t.Key); err != nil {
			return fmt.Errorf("%w: %w", err, handler.ErrInvalid)
		}
		if b.Action == policy.ActionCreate {
			if err := s.limits.CheckValue(t.Value); err != nil {
				return fmt.Errorf("tag %q: %w: %w", t.Key, err, handler.ErrInvalid)
			}
		}
	}
	if b.Action == policy.ActionDelete {
		for _, t := range b.Tags {
			delete(e.tags, t.Key)
		}
		return nil
	}
	n := len(e.tags)
	for _, t := range b.Tags {
		if _, ok := e.tags[t.Key]; !ok {
			n++
		}
	}
	if n > s.limits.MaxTags {
		return fmt.Errorf("key would have %d tags, at most %d: %w", n, s.limits.MaxTags, handler.ErrInvalid)
	}
	for _, t := range b.Tags {
		e.tags[t.Key] = t.Value
	}
	return nil
}
