package memstore_test

import (
	"testing"

	"github.com/tagwarden/tagwarden/handler/memstore"
	"github.com/tagwarden/tagwarden/handler/storetest"
)

// TestConformance runs the key store contract suite against the in-memory
// store, with every fourth key listed with unknown tags.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, fixtures []storetest.Fixture) storetest.Backend {
		s := memstore.New(memstore.Options{PageSize: 1000})
		for i, f := range fixtures {
			s.Put(f.Key, f.Tags)
			if i%4 == 3 {
				s.HideTags(f.Key.ID)
			}
		}
		return storetest.Backend{Store: s, Tags: s.TagsOf, Delete: s.Delete,
			Add:    func(f storetest.Fixture) { s.Put(f.Key, f.Tags) },
			Writes: func() int { st := s.Stats(); return st.Writes + st.Rejected }}
	})
}
