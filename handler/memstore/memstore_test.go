package memstore_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/memstore"
	"github.com/tagwarden/tagwarden/policy"
)

func newStore(t *testing.T) *memstore.Store {
	t.Helper()
	s := memstore.New(memstore.Options{PageSize: 2})
	s.Put(policy.Key{ID: "k1", Alias: "one", State: policy.StateEnabled}, map[string]string{"owner": "a"})
	s.Put(policy.Key{ID: "k2", Alias: "evs/default", State: policy.StateEnabled, Default: true}, nil)
	s.Put(policy.Key{ID: "k3", Alias: "three", State: policy.StatePendingDeletion}, nil)
	s.Put(policy.Key{ID: "k4", Alias: "four", State: policy.StateEnabled}, map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6", "g": "7", "h": "8", "i": "9"})
	return s
}

func TestApply(t *testing.T) {
	create := func(kv ...string) policy.Batch {
		b := policy.Batch{Action: policy.ActionCreate}
		for i := 0; i+1 < len(kv); i += 2 {
			b.Tags = append(b.Tags, policy.Tag{Key: kv[i], Value: kv[i+1]})
		}
		return b
	}
	del := func(keys ...string) policy.Batch {
		b := policy.Batch{Action: policy.ActionDelete}
		for _, k := range keys {
			b.Tags = append(b.Tags, policy.Tag{Key: k})
		}
		return b
	}
	tests := []struct {
		name     string
		id       string
		batch    policy.Batch
		wantErr  error
		wantTags map[string]string
	}{
		{"create", "k1", create("env", "prod"), nil, map[string]string{"owner": "a", "env": "prod"}},
		{"overwrite", "k1", create("owner", "b"), nil, map[string]string{"owner": "b"}},
		{"empty value", "k1", create("env", ""), nil, map[string]string{"owner": "a", "env": ""}},
		{"delete", "k1", del("owner"), nil, map[string]string{}},
		{"delete missing is done", "k1", del("nope"), nil, map[string]string{"owner": "a"}},
		{"missing key", "k9", create("a", "b"), handler.ErrNotFound, nil},
		{"default key", "k2", create("a", "b"), handler.ErrDefaultKey, map[string]string{}},
		{"pending deletion still takes tags, as the emulator does", "k3", create("a", "b"), nil, map[string]string{"a": "b"}},
		{"key too long", "k1", create(strings.Repeat("k", 37), "v"), handler.ErrInvalid, map[string]string{"owner": "a"}},
		{"unicode key fits", "k1", create(strings.Repeat("é", 36), "v"), nil, map[string]string{"owner": "a", strings.Repeat("é", 36): "v"}},
		{"value too long", "k1", create("k", strings.Repeat("v", 44)), handler.ErrInvalid, map[string]string{"owner": "a"}},
		{"empty key", "k1", create("", "v"), handler.ErrInvalid, map[string]string{"owner": "a"}},
		{"forbidden char", "k1", create("a=b", "v"), handler.ErrInvalid, map[string]string{"owner": "a"}},
		{"control char in value", "k1", create("a", "x\ny"), handler.ErrInvalid, map[string]string{"owner": "a"}},
		{"invalid UTF-8 value", "k1", create("a", "x\xffy"), handler.ErrInvalid, map[string]string{"owner": "a"}},
		{"reserved prefix", "k1", create("_sys_x", "v"), handler.ErrInvalid, map[string]string{"owner": "a"}},
		{"duplicate in batch", "k1", create("a", "1", "a", "2"), handler.ErrInvalid, map[string]string{"owner": "a"}},
		{"empty batch is a no-op", "k1", policy.Batch{Action: policy.ActionCreate}, nil, map[string]string{"owner": "a"}},
		{"empty batch on a default key is a no-op", "k2", policy.Batch{Action: policy.ActionDelete}, nil, map[string]string{}},
		{"empty batch of a bad action", "k1", policy.Batch{Action: "update"}, handler.ErrInvalid, map[string]string{"owner": "a"}},
		{"bad action", "k1", policy.Batch{Action: "update", Tags: []policy.Tag{{Key: "a"}}}, handler.ErrInvalid, map[string]string{"owner": "a"}},
		{"batch too big", "k1", create("1", "", "2", "", "3", "", "4", "", "5", "", "6", "", "7", "", "8", "", "9", "", "10", "", "11", ""), handler.ErrInvalid, map[string]string{"owner": "a"}},
		{"tenth tag fits", "k4", create("j", "10"), nil, map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6", "g": "7", "h": "8", "i": "9", "j": "10"}},
		{"eleventh tag refused, all or nothing", "k4", create("a", "x", "j", "10", "k", "11"), handler.ErrInvalid, map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6", "g": "7", "h": "8", "i": "9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			err := s.Apply(context.Background(), tt.id, tt.batch)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Apply: got error %v, want %v", err, tt.wantErr)
			}
			got, _ := s.TagsOf(tt.id)
			if diff := cmp.Diff(tt.wantTags, got); diff != "" {
				t.Errorf("tags after Apply (-want +got):\n%s", diff)
			}
			st := s.Stats()
			if wantWrites := map[bool]int{true: 1, false: 0}[err == nil && len(tt.batch.Tags) > 0]; st.Writes != wantWrites {
				t.Errorf("Writes = %d, want %d", st.Writes, wantWrites)
			}
		})
	}
}

// TestPartialLimits checks that Options.Limits fills its zero fields from
// policy.DefaultLimits one by one: setting some fields must not leave the
// others at zero (no key, tag or value would fit) nor drop the ones set.
func TestPartialLimits(t *testing.T) {
	tests := []struct {
		name   string
		limits policy.Limits
		tags   []policy.Tag
		want   error
	}{
		{"only MaxBatch: ordinary tags fit", policy.Limits{MaxBatch: 20}, []policy.Tag{{Key: "owner", Value: "alice"}}, nil},
		{"only MaxBatch: the batch limit holds", policy.Limits{MaxBatch: 1}, []policy.Tag{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}}, handler.ErrInvalid},
		{"only MaxValueLen: the value limit holds", policy.Limits{MaxValueLen: 3}, []policy.Tag{{Key: "owner", Value: "alice"}}, handler.ErrInvalid},
		{"only MaxValueLen: the key limit is the default", policy.Limits{MaxValueLen: 3}, []policy.Tag{{Key: strings.Repeat("k", 37), Value: "v"}}, handler.ErrInvalid},
		{"no reserved prefixes", policy.Limits{ReservedPrefixes: []string{}}, []policy.Tag{{Key: "_sys_x", Value: "v"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := memstore.New(memstore.Options{Limits: tt.limits})
			s.Put(policy.Key{ID: "k1", State: policy.StateEnabled}, nil)
			err := s.Apply(context.Background(), "k1", policy.Batch{Action: policy.ActionCreate, Tags: tt.tags})
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// listAll walks a listing, restarting from each page's cursor once to check
// that a cursor yields its page again.
func listAll(t *testing.T, s *memstore.Store) ([][]string, []string) {
	t.Helper()
	ctx := context.Background()
	l := s.List(ctx, "")
	var pages [][]string
	var cursors []string
	for {
		p, err := l.Next(ctx)
		if errors.Is(err, io.EOF) {
			return pages, cursors
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		var ids []string
		for _, r := range p.Records {
			ids = append(ids, r.Key.ID)
		}
		pages = append(pages, ids)
		cursors = append(cursors, p.Cursor)
	}
}

func TestList(t *testing.T) {
	s := newStore(t)
	s.HideTags("k4")
	pages, cursors := listAll(t, s)
	if diff := cmp.Diff([][]string{{"k1", "k2"}, {"k3", "k4"}}, pages); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}
	ctx := context.Background()
	p, err := s.List(ctx, cursors[1]).Next(ctx)
	if err != nil {
		t.Fatalf("Next from cursor: %v", err)
	}
	if got := p.Records[0].Key.ID; got != "k3" || p.Cursor != cursors[1] {
		t.Errorf("resumed page starts at %s with cursor %q, want k3 and %q", got, p.Cursor, cursors[1])
	}
	if p.Records[1].Tags != nil {
		t.Errorf("hidden key k4 listed with tags %v, want nil (unknown)", p.Records[1].Tags)
	}
	if p.Records[0].Tags == nil {
		t.Error("k3 listed with nil tags, want an empty map")
	}
	if _, err := s.List(ctx, "garbage").Next(ctx); !errors.Is(err, handler.ErrInvalid) {
		t.Errorf("bad cursor: got %v, want ErrInvalid", err)
	}
}

func TestReadAndHook(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	rec, err := s.Key(ctx, "k1")
	if err != nil || rec.Key.Alias != "one" || rec.Tags["owner"] != "a" {
		t.Errorf("Key(k1) = %+v, %v", rec, err)
	}
	rec.Tags["owner"] = "changed"
	if tags, _ := s.Tags(ctx, "k1"); tags["owner"] != "a" {
		t.Errorf("caller's change leaked into the store: %v", tags)
	}
	if _, err := s.Key(ctx, "nope"); !errors.Is(err, handler.ErrNotFound) {
		t.Errorf("Key(nope): got %v, want ErrNotFound", err)
	}
	if _, err := s.Tags(ctx, "nope"); !errors.Is(err, handler.ErrNotFound) {
		t.Errorf("Tags(nope): got %v, want ErrNotFound", err)
	}
	s.Hook = func(_ context.Context, op, id string) error {
		if op == memstore.OpTags && id == "k1" {
			return handler.ErrTransient
		}
		return nil
	}
	if _, err := s.Tags(ctx, "k1"); !errors.Is(err, handler.ErrTransient) {
		t.Errorf("hooked Tags: got %v, want ErrTransient", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Key(cctx, "k1"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Key: got %v, want context.Canceled", err)
	}
	if got := s.Stats().Calls; got[memstore.OpTags] != 3 || got[memstore.OpKey] != 3 {
		t.Errorf("calls = %v, want 3 tags and 3 key", got)
	}
}
