package storetest

import (
	"testing"

	"github.com/tagwarden/tagwarden/policy"
)

// TestFixtures checks that the fixtures are what the suite relies on: more
// than a page of keys, unique ids, every spec, default keys without tags and
// only tags the API accepts.
func TestFixtures(t *testing.T) {
	fx := Fixtures(ListingSize)
	if len(fx) <= 1000 {
		t.Fatalf("got %d fixtures, want more than 1000", len(fx))
	}
	lim := policy.DefaultLimits()
	ids := map[string]bool{}
	specs := map[string]bool{}
	defaults := 0
	for _, f := range fx {
		if ids[f.Key.ID] {
			t.Errorf("id %s twice", f.Key.ID)
		}
		ids[f.Key.ID] = true
		specs[f.Key.Spec] = true
		if f.Key.Default {
			defaults++
			if len(f.Tags) > 0 {
				t.Errorf("default key %s has tags", f.Key.ID)
			}
		}
		for k, v := range f.Tags {
			if err := lim.CheckKey(k); err != nil {
				t.Error(err)
			}
			if err := lim.CheckValue(v); err != nil {
				t.Error(err)
			}
		}
	}
	if len(specs) != len(Specs) || defaults < 2 {
		t.Errorf("got %d specs and %d default keys, want %d and at least 2", len(specs), defaults, len(Specs))
	}
}
