package huaweikms

import (
	"cmp"
	"encoding/binary"
	"slices"

	"github.com/google/uuid"
)

// idSet is a compact set of key ids. UUIDs (what KMS key ids are) are kept
// as 16 bytes in a sorted slice, searched by bisection; those added since
// the last merge wait in a small map (at most a sixteenth of the slice, or
// minRecent), so that a merge costs one pass over the slice and the merges
// add up to a few passes in all. Other ids are kept in a map.
type idSet struct {
	sorted []uuid128            // sorted, no duplicates
	recent map[uuid128]struct{} // added since the last merge, none in sorted
	other  map[string]struct{}
}

// uuid128 is a UUID as two big-endian halves, so that comparing two is two
// integer comparisons.
type uuid128 struct{ hi, lo uint64 }

// minRecent is the number of recent ids that triggers a merge into a small
// sorted slice: one page of the bulk listing.
const minRecent = 1024

func newIDSet() *idSet {
	return &idSet{recent: make(map[uuid128]struct{}), other: make(map[string]struct{})}
}

func compareUUID(a, b uuid128) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

func parseID(id string) (uuid128, bool) {
	if len(id) != 36 {
		return uuid128{}, false
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return uuid128{}, false
	}
	return uuid128{binary.BigEndian.Uint64(u[:8]), binary.BigEndian.Uint64(u[8:])}, true
}

func (s *idSet) hasUUID(u uuid128) bool {
	if _, ok := s.recent[u]; ok {
		return true
	}
	lo, hi := 0, len(s.sorted)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if v := s.sorted[m]; v.hi < u.hi || v.hi == u.hi && v.lo < u.lo {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(s.sorted) && s.sorted[lo] == u
}

// add inserts id and reports whether it was new.
func (s *idSet) add(id string) bool {
	u, ok := parseID(id)
	if !ok {
		if _, ok := s.other[id]; ok {
			return false
		}
		s.other[id] = struct{}{}
		return true
	}
	if s.hasUUID(u) {
		return false
	}
	s.recent[u] = struct{}{}
	if len(s.recent) >= max(minRecent, len(s.sorted)/16) {
		s.merge()
	}
	return true
}

// merge moves the recent ids into the sorted slice, merging from the back
// in place.
func (s *idSet) merge() {
	add := make([]uuid128, 0, len(s.recent))
	for u := range s.recent {
		add = append(add, u)
	}
	slices.SortFunc(add, compareUUID)
	n := len(s.sorted)
	s.sorted = slices.Grow(s.sorted, len(add))[:n+len(add)]
	i, j := n-1, len(add)-1
	for w := len(s.sorted) - 1; j >= 0; w-- {
		if i >= 0 && compareUUID(s.sorted[i], add[j]) > 0 {
			s.sorted[w] = s.sorted[i]
			i--
		} else {
			s.sorted[w] = add[j]
			j--
		}
	}
	clear(s.recent)
}

func (s *idSet) has(id string) bool {
	if u, ok := parseID(id); ok {
		return s.hasUUID(u)
	}
	_, ok := s.other[id]
	return ok
}

// len is the number of ids in the set.
func (s *idSet) len() int { return len(s.sorted) + len(s.recent) + len(s.other) }
