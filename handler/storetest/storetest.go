package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// Fixture is one key with its tags, to seed a backend with.
type Fixture struct {
	Key  policy.Key
	Tags map[string]string
}

// Backend is a store under test with access to its true state.
type Backend struct {
	// Store is the KeyStore under test.
	Store handler.KeyStore
	// Tags reads back the true tags of a key and whether it exists.
	Tags func(id string) (map[string]string, bool)
	// Delete deletes a key behind the store's back.
	Delete func(id string)
	// Writes, when set, counts the tag writes the backend received (calls
	// that reached it, accepted or not), to check that a store sends none
	// where the contract says so.
	Writes func() int
	// Add, when set, adds a key behind the store's back, as a CreateKey
	// elsewhere would.
	Add func(f Fixture)
}

// ListingSize is the number of keys of the listing fixtures: more than one
// page of the KMS APIs (1000).
const ListingSize = 1234

// Specs cycled through by the fixtures.
var Specs = []string{"AES_256", "SM4", "RSA_2048", "RSA_3072", "RSA_4096", "EC_P256", "EC_P384", "SM2"}

// KeyID returns the deterministic, well-formed key id of fixture i.
func KeyID(i int) string {
	return fmt.Sprintf("%08x-5a5a-4b4b-8c8c-%012x", 0x7a6b0000+i, 0xd00d0000+i)
}

// Fixtures returns n keys of mixed specs, states and usages; every 97th key
// is a service's default key (alias ".../default"); tags vary from none to
// three.
func Fixtures(n int) []Fixture {
	states := []string{policy.StateEnabled, policy.StateEnabled, policy.StateDisabled, policy.StatePendingDeletion, policy.StatePendingActivation}
	base := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	out := make([]Fixture, n)
	for i := range out {
		spec := Specs[i%len(Specs)]
		usage := "ENCRYPT_DECRYPT"
		if strings.HasPrefix(spec, "RSA") || strings.HasPrefix(spec, "EC") || spec == "SM2" {
			usage = "SIGN_VERIFY"
		}
		k := policy.Key{
			ID:                KeyID(i),
			Alias:             fmt.Sprintf("app-%04d", i),
			State:             states[i%len(states)],
			Spec:              spec,
			Usage:             usage,
			Origin:            "kms",
			Created:           base.Add(time.Duration(i) * time.Minute),
			EnterpriseProject: "0",
			Keystore:          "0",
		}
		tags := map[string]string{}
		if i%97 == 13 {
			k.Alias = fmt.Sprintf("svc%d/default", i)
			k.Default = true
			k.Spec, k.Usage, k.State = "AES_256", "ENCRYPT_DECRYPT", policy.StateEnabled
		} else {
			for j := 0; j < i%4; j++ {
				tags[fmt.Sprintf("tag%d", j)] = fmt.Sprintf("v%d-%d", i, j)
			}
		}
		out[i] = Fixture{Key: k, Tags: tags}
	}
	return out
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// Run runs the conformance suite. newBackend returns a fresh store seeded
// with exactly the fixtures given.
func Run(t *testing.T, newBackend func(t *testing.T, fixtures []Fixture) Backend) {
	t.Run("ListEveryKeyOnce", func(t *testing.T) { testList(t, newBackend) })
	t.Run("ResumeFromEveryCursor", func(t *testing.T) { testResume(t, newBackend) })
	t.Run("ResumeAfterRecordsWithWritesBetween", func(t *testing.T) { testResumeAfter(t, newBackend) })
	t.Run("ResumeAfterKeysAddedAndDeleted", func(t *testing.T) { testResumeAfterChanges(t, newBackend) })
	t.Run("KeyAndTagsFresh", func(t *testing.T) { testFresh(t, newBackend) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, newBackend) })
	t.Run("Apply", func(t *testing.T) { testApply(t, newBackend) })
	t.Run("EmptyBatchIsANoOp", func(t *testing.T) { testEmptyBatch(t, newBackend) })
	t.Run("Refused", func(t *testing.T) { testRefused(t, newBackend) })
	t.Run("DeletedBehindTheStoresBack", func(t *testing.T) { testDeleted(t, newBackend) })
	t.Run("CancelledContext", func(t *testing.T) { testCancelled(t, newBackend) })
}

// listAll walks a listing from cur to the end.
func listAll(t *testing.T, s handler.KeyStore, cur string) []handler.Page {
	t.Helper()
	c := ctx(t)
	l := s.List(c, cur)
	var pages []handler.Page
	for {
		p, err := l.Next(c)
		if errors.Is(err, io.EOF) {
			return pages
		}
		if err != nil {
			t.Fatalf("listing page %d: %v", len(pages), err)
		}
		if len(pages) > 100000 {
			t.Fatal("listing does not end")
		}
		pages = append(pages, p)
	}
}

func ids(pages []handler.Page) []string {
	var out []string
	for _, p := range pages {
		for _, r := range p.Records {
			out = append(out, r.Key.ID)
		}
	}
	return out
}

// duplicates returns the ids listed more than once.
func duplicates(list []string) []string {
	seen := map[string]int{}
	var dup []string
	for _, id := range list {
		seen[id]++
		if seen[id] == 2 {
			dup = append(dup, id)
		}
	}
	sort.Strings(dup)
	return dup
}

func testList(t *testing.T, newBackend func(*testing.T, []Fixture) Backend) {
	fx := Fixtures(ListingSize)
	b := newBackend(t, fx)
	pages := listAll(t, b.Store, "")
	if len(pages) < 2 {
		t.Errorf("got %d pages for %d keys, want more than one", len(pages), len(fx))
	}
	listed := ids(pages)
	if d := duplicates(listed); len(d) > 0 {
		t.Errorf("keys listed more than once: %d, e.g. %v", len(d), d[:min(3, len(d))])
	}
	byID := map[string]Fixture{}
	for _, f := range fx {
		byID[f.Key.ID] = f
	}
	got := map[string]handler.Record{}
	for _, p := range pages {
		if p.Cursor == "" {
			t.Errorf("page without a cursor")
		}
		for _, r := range p.Records {
			got[r.Key.ID] = r
		}
	}
	var missing []string
	for id := range byID {
		if _, ok := got[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Errorf("%d keys not listed, e.g. %v", len(missing), missing[:min(3, len(missing))])
	}
	unknown := 0
	c := ctx(t)
	for id, r := range got {
		f, ok := byID[id]
		if !ok {
			t.Errorf("listed key %s is not a fixture", id)
			continue
		}
		if diff := cmp.Diff(keyView(f.Key), keyView(r.Key)); diff != "" {
			t.Errorf("key %s attributes (-want +got):\n%s", id, diff)
		}
		tags := r.Tags
		if tags == nil {
			unknown++
			var err error
			if tags, err = b.Store.Tags(c, id); err != nil {
				t.Errorf("Tags(%s) of a key listed with unknown tags: %v", id, err)
				continue
			}
			if tags == nil {
				t.Errorf("Tags(%s) returned a nil map, want non-nil", id)
			}
		}
		if diff := cmp.Diff(nonNil(f.Tags), nonNil(tags)); diff != "" {
			t.Errorf("tags of key %s (-want +got):\n%s", id, diff)
		}
	}
	t.Logf("%d keys in %d pages, %d with unknown tags", len(listed), len(pages), unknown)
}

// keyView is what the suite compares of a key: what every store can keep.
type keyViewT struct {
	ID, Alias, State, Spec, Usage string
	Default                       bool
	Created                       int64
}

func keyView(k policy.Key) keyViewT {
	return keyViewT{ID: k.ID, Alias: k.Alias, State: k.State, Spec: k.Spec, Usage: k.Usage, Default: k.Default, Created: k.Created.UnixMilli()}
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func testResume(t *testing.T, newBackend func(*testing.T, []Fixture) Backend) {
	fx := Fixtures(ListingSize)
	b := newBackend(t, fx)
	pages := listAll(t, b.Store, "")
	for i, p := range pages {
		rest := listAll(t, b.Store, p.Cursor)
		if len(rest) == 0 {
			t.Errorf("resume at page %d: no pages, want the page again first", i)
			continue
		}
		if diff := cmp.Diff(sorted(ids(pages[i:i+1])), sorted(ids(rest[:1]))); diff != "" {
			t.Errorf("resume at page %d: first page differs from the page of the cursor (-want +got):\n%s", i, diff)
		}
		want := sorted(ids(pages[i:]))
		got := ids(rest)
		if d := duplicates(got); len(d) > 0 {
			t.Errorf("resume at page %d: %d keys listed twice, e.g. %v", i, len(d), d[:min(3, len(d))])
		}
		if diff := cmp.Diff(want, sorted(got)); diff != "" {
			t.Errorf("resume at page %d: keys differ from the rest of the listing (-want +got):\n%s", i, diff)
		}
	}
}

// testResumeAfter cuts a listing inside and at the end of every page
// (Page.After), tags the untagged keys listed before the cut, as the
// invocations before a cut do, and resumes: the resumed listing yields
// exactly the keys after the cut, each once, whatever the writes changed
// (a bulk listing that leaves untagged keys out grows with them).
func testResumeAfter(t *testing.T, newBackend func(*testing.T, []Fixture) Backend) {
	fx := Fixtures(ListingSize)
	b := newBackend(t, fx)
	c := ctx(t)
	pages := listAll(t, b.Store, "")
	byID := map[string]Fixture{}
	for _, f := range fx {
		byID[f.Key.ID] = f
	}
	written := map[string]bool{}
	// writeBefore tags every untagged, taggable key listed before the cut.
	writeBefore := func(upto []handler.Record) {
		for _, r := range upto {
			f := byID[r.Key.ID]
			if written[r.Key.ID] || len(f.Tags) > 0 || f.Key.Default || f.Key.State == policy.StatePendingDeletion {
				continue
			}
			written[r.Key.ID] = true
			if err := b.Store.Apply(c, r.Key.ID, policy.Batch{Action: policy.ActionCreate, Tags: []policy.Tag{{Key: "owner", Value: "tagged-before-the-cut"}}}); err != nil {
				t.Fatalf("tag %s: %v", r.Key.ID, err)
			}
		}
	}
	var before []handler.Record
	for i, p := range pages {
		if p.After == nil {
			t.Fatalf("page %d has no After", i)
		}
		if p.After(0) != p.Cursor {
			t.Errorf("page %d: After(0) is not the page's Cursor", i)
		}
		for _, n := range []int{1, len(p.Records) / 2, len(p.Records)} {
			if n == 0 {
				continue
			}
			writeBefore(append(before, p.Records[:n]...))
			var want []string
			for _, r := range p.Records[n:] {
				want = append(want, r.Key.ID)
			}
			want = append(want, ids(pages[i+1:])...)
			got := ids(listAll(t, b.Store, p.After(n)))
			if d := duplicates(got); len(d) > 0 {
				t.Errorf("resume after %d records of page %d: %d keys listed twice, e.g. %v", n, i, len(d), d[:min(3, len(d))])
			}
			if diff := cmp.Diff(sorted(want), sorted(got)); diff != "" {
				t.Errorf("resume after %d records of page %d, %d keys tagged before: keys differ from the rest of the listing (-want +got):\n%s", n, i, len(written), diff)
			}
		}
		before = append(before, p.Records...)
	}
	if len(written) == 0 {
		t.Error("no key was tagged between the cuts: the fixtures changed")
	}
}

// testResumeAfterChanges cuts a listing in the middle of every page, then,
// as other users of the project would between two invocations, deletes the
// last key listed before the cut and many others before it (on earlier
// pages too), and adds keys listed before all others: the resumed listing
// yields exactly the keys after the cut, each once. A listing that counts
// positions (offsets) must find its place again by the keys it had done.
func testResumeAfterChanges(t *testing.T, newBackend func(*testing.T, []Fixture) Backend) {
	fx := Fixtures(ListingSize)
	pages := listAll(t, newBackend(t, fx).Store, "")
	for i, p := range pages {
		// Cut early in the page (fewer done there than deleted: the
		// position moves to the page before), in its middle, and late (the
		// keys added push it to the page after).
		for _, n := range []int{min(10, len(p.Records)/2), len(p.Records) / 2, len(p.Records) - min(5, len(p.Records)/2)} {
			if n > 0 {
				resumeAfterChanges(t, newBackend, fx, pages, i, n)
			}
		}
	}
}

// resumeAfterChanges is one case of testResumeAfterChanges: a cut after n
// records of page i.
func resumeAfterChanges(t *testing.T, newBackend func(*testing.T, []Fixture) Backend, fx []Fixture, pages []handler.Page, i, n int) {
	t.Run(fmt.Sprintf("page %d after %d", i, n), func(t *testing.T) {
		b := newBackend(t, fx)
		// The listing of this backend, as the invocation before the cut saw it.
		mine := listAll(t, b.Store, "")
		if len(mine) != len(pages) {
			t.Fatalf("%d pages, then %d", len(pages), len(mine))
		}
		cut := mine[i]
		var done []string
		for _, q := range mine[:i] {
			for _, r := range q.Records {
				done = append(done, r.Key.ID)
			}
		}
		for _, r := range cut.Records[:n] {
			done = append(done, r.Key.ID)
		}
		// The last done key, and every third done key before it, up to 60.
		deleted := []string{done[len(done)-1]}
		for j := len(done) - 2; j >= 0 && len(deleted) < 60; j -= 3 {
			deleted = append(deleted, done[j])
		}
		for _, id := range deleted {
			b.Delete(id)
		}
		added := map[string]bool{}
		if b.Add != nil {
			for j := range 40 {
				f := fx[j%len(fx)]
				f.Key.ID = fmt.Sprintf("00000000-0000-4000-8000-%012d", j) // listed before every fixture
				f.Key.Default, f.Key.Alias = false, fmt.Sprintf("added-%02d", j)
				b.Add(f)
				added[f.Key.ID] = true
			}
		}
		var want []string
		for _, r := range cut.Records[n:] {
			want = append(want, r.Key.ID)
		}
		want = append(want, ids(mine[i+1:])...)
		all := ids(listAll(t, b.Store, cut.After(n)))
		if d := duplicates(all); len(d) > 0 {
			t.Errorf("%d keys listed twice, e.g. %v", len(d), d[:min(3, len(d))])
		}
		// A key added during the listing may be listed or not (once);
		// every key that was there is listed if and only if it comes
		// after the cut.
		var got []string
		for _, id := range all {
			if !added[id] {
				got = append(got, id)
			}
		}
		if diff := cmp.Diff(sorted(want), sorted(got)); diff != "" {
			t.Errorf("resume after %d records of page %d, %d keys deleted and %d added before the cut: keys differ from the rest of the listing (-want +got):\n%s",
				n, i, len(deleted), len(added), diff)
		}
	})
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

// small returns a few fixtures: plain keys, one default key, one key with
// nine tags.
func small() []Fixture {
	fx := Fixtures(20)
	nine := map[string]string{}
	for j := 0; j < 9; j++ {
		nine[fmt.Sprintf("k%d", j)] = "v"
	}
	fx[5].Tags = nine
	return fx
}

func defaultFixture(t *testing.T, fx []Fixture) Fixture {
	t.Helper()
	for _, f := range fx {
		if f.Key.Default {
			return f
		}
	}
	t.Fatal("no default key among the fixtures")
	return Fixture{}
}

func checkTags(t *testing.T, b Backend, id string, want map[string]string) {
	t.Helper()
	got, ok := b.Tags(id)
	if !ok {
		t.Fatalf("key %s is gone", id)
	}
	if diff := cmp.Diff(nonNil(want), nonNil(got)); diff != "" {
		t.Errorf("true tags of %s (-want +got):\n%s", id, diff)
	}
}

func testFresh(t *testing.T, newBackend func(*testing.T, []Fixture) Backend) {
	fx := small()
	b := newBackend(t, fx)
	c := ctx(t)
	f := fx[2]
	r, err := b.Store.Key(c, f.Key.ID)
	if err != nil {
		t.Fatalf("Key(%s): %v", f.Key.ID, err)
	}
	if diff := cmp.Diff(keyView(f.Key), keyView(r.Key)); diff != "" {
		t.Errorf("Key attributes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(nonNil(f.Tags), r.Tags); diff != "" || r.Tags == nil {
		t.Errorf("Key tags (-want +got):\n%s", diff)
	}
	d := defaultFixture(t, fx)
	if r, err := b.Store.Key(c, d.Key.ID); err != nil || !r.Key.Default {
		t.Errorf("Key(default key) = %+v, %v; want Default true", r.Key, err)
	}
	// A change made through the store is visible at once.
	if err := b.Store.Apply(c, f.Key.ID, policy.Batch{Action: policy.ActionCreate, Tags: []policy.Tag{{Key: "owner", Value: "alice"}}}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	want := maps.Clone(nonNil(f.Tags))
	want["owner"] = "alice"
	tags, err := b.Store.Tags(c, f.Key.ID)
	if err != nil {
		t.Fatalf("Tags: %v", err)
	}
	if diff := cmp.Diff(want, tags); diff != "" {
		t.Errorf("Tags after Apply (-want +got):\n%s", diff)
	}
	if r, err := b.Store.Key(c, f.Key.ID); err != nil {
		t.Errorf("Key after Apply: %v", err)
	} else if diff := cmp.Diff(want, r.Tags); diff != "" {
		t.Errorf("Key tags after Apply (-want +got):\n%s", diff)
	}
	// An untagged key has an empty, non-nil map.
	if tags, err := b.Store.Tags(c, fx[0].Key.ID); err != nil || tags == nil || len(tags) != 0 {
		t.Errorf("Tags(untagged) = %v, %v; want an empty map", tags, err)
	}
}

func testNotFound(t *testing.T, newBackend func(*testing.T, []Fixture) Backend) {
	b := newBackend(t, small())
	c := ctx(t)
	id := "0badc0de-1111-4222-8333-444455556666"
	if _, err := b.Store.Key(c, id); !errors.Is(err, handler.ErrNotFound) {
		t.Errorf("Key(unknown): got %v, want ErrNotFound", err)
	}
	if _, err := b.Store.Tags(c, id); !errors.Is(err, handler.ErrNotFound) {
		t.Errorf("Tags(unknown): got %v, want ErrNotFound", err)
	}
	err := b.Store.Apply(c, id, policy.Batch{Action: policy.ActionCreate, Tags: []policy.Tag{{Key: "owner", Value: "x"}}})
	if !errors.Is(err, handler.ErrNotFound) {
		t.Errorf("Apply(unknown): got %v, want ErrNotFound", err)
	}
}

func testApply(t *testing.T, newBackend func(*testing.T, []Fixture) Backend) {
	fx := small()
	b := newBackend(t, fx)
	id := fx[3].Key.ID // tags tag0..tag2
	want := maps.Clone(fx[3].Tags)
	steps := []struct {
		name  string
		batch policy.Batch
		apply func(map[string]string)
	}{
		{"create", policy.Batch{Action: policy.ActionCreate, Tags: []policy.Tag{{Key: "owner", Value: "alice"}, {Key: "cost-center", Value: ""}}},
			func(m map[string]string) { m["owner"] = "alice"; m["cost-center"] = "" }},
		{"overwrite", policy.Batch{Action: policy.ActionCreate, Tags: []policy.Tag{{Key: "owner", Value: "bob"}}},
			func(m map[string]string) { m["owner"] = "bob" }},
		{"unicode", policy.Batch{Action: policy.ActionCreate, Tags: []policy.Tag{{Key: "项目", Value: "密钥管理"}}},
			func(m map[string]string) { m["项目"] = "密钥管理" }},
		{"delete", policy.Batch{Action: policy.ActionDelete, Tags: []policy.Tag{{Key: "tag0", Value: want["tag0"]}, {Key: "owner", Value: "bob"}}},
			func(m map[string]string) { delete(m, "tag0"); delete(m, "owner") }},
		{"delete missing", policy.Batch{Action: policy.ActionDelete, Tags: []policy.Tag{{Key: "never-there", Value: "x"}}},
			func(map[string]string) {}},
		{"delete missing and present", policy.Batch{Action: policy.ActionDelete, Tags: []policy.Tag{{Key: "gone", Value: ""}, {Key: "tag1", Value: want["tag1"]}}},
			func(m map[string]string) { delete(m, "tag1") }},
	}
	c := ctx(t)
	for _, st := range steps {
		if err := b.Store.Apply(c, id, st.batch); err != nil {
			t.Fatalf("%s: Apply: %v", st.name, err)
		}
		st.apply(want)
		checkTags(t, b, id, want)
		got, err := b.Store.Tags(c, id)
		if err != nil {
			t.Fatalf("%s: Tags: %v", st.name, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: Tags (-want +got):\n%s", st.name, diff)
		}
	}
}

// testEmptyBatch: a batch of no tags, of either action, is accepted and
// changes nothing: no call, whatever the key (a plain one, a default key, a
// key that does not exist).
func testEmptyBatch(t *testing.T, newBackend func(*testing.T, []Fixture) Backend) {
	fx := small()
	b := newBackend(t, fx)
	c := ctx(t)
	writes := func() int {
		if b.Writes == nil {
			return 0
		}
		return b.Writes()
	}
	before := writes()
	cases := []struct {
		name, id string
	}{
		{"plain key", fx[3].Key.ID},
		{"default key", defaultFixture(t, fx).Key.ID},
		{"unknown key", KeyID(len(fx) + 1000)},
	}
	for _, tc := range cases {
		for _, action := range []policy.Action{policy.ActionCreate, policy.ActionDelete} {
			t.Run(tc.name+" "+string(action), func(t *testing.T) {
				want, exists := b.Tags(tc.id)
				for _, tags := range [][]policy.Tag{nil, {}} {
					if err := b.Store.Apply(c, tc.id, policy.Batch{Action: action, Tags: tags}); err != nil {
						t.Fatalf("Apply(%v tags): got %v, want nil (nothing to do)", tags, err)
					}
				}
				if exists {
					checkTags(t, b, tc.id, want)
				} else if _, ok := b.Tags(tc.id); ok {
					t.Errorf("key %s exists after an empty batch", tc.id)
				}
			})
		}
	}
	if n := writes() - before; n != 0 {
		t.Errorf("%d tag writes reached the backend, want none", n)
	}
}

func testRefused(t *testing.T, newBackend func(*testing.T, []Fixture) Backend) {
	fx := small()
	b := newBackend(t, fx)
	c := ctx(t)
	plain := fx[1].Key.ID
	nine := fx[5].Key.ID
	def := defaultFixture(t, fx)
	tag := func(k, v string) []policy.Tag { return []policy.Tag{{Key: k, Value: v}} }
	eleven := make([]policy.Tag, 11)
	for i := range eleven {
		eleven[i] = policy.Tag{Key: fmt.Sprintf("many%d", i), Value: "v"}
	}
	cases := []struct {
		name  string
		id    string
		batch policy.Batch
		want  error
	}{
		{"default key", def.Key.ID, policy.Batch{Action: policy.ActionCreate, Tags: tag("owner", "x")}, handler.ErrDefaultKey},
		{"key with =", plain, policy.Batch{Action: policy.ActionCreate, Tags: tag("a=b", "x")}, handler.ErrInvalid},
		{"value with <", plain, policy.Batch{Action: policy.ActionCreate, Tags: tag("owner", "<x>")}, handler.ErrInvalid},
		{"control character", plain, policy.Batch{Action: policy.ActionCreate, Tags: tag("own\ner", "x")}, handler.ErrInvalid},
		{"empty key", plain, policy.Batch{Action: policy.ActionCreate, Tags: tag("", "x")}, handler.ErrInvalid},
		{"key of 37 characters", plain, policy.Batch{Action: policy.ActionCreate, Tags: tag(strings.Repeat("k", 37), "x")}, handler.ErrInvalid},
		{"value of 44 characters", plain, policy.Batch{Action: policy.ActionCreate, Tags: tag("owner", strings.Repeat("v", 44))}, handler.ErrInvalid},
		{"unknown action", plain, policy.Batch{Action: "update", Tags: tag("owner", "x")}, handler.ErrInvalid},
		{"11 tags in one call", plain, policy.Batch{Action: policy.ActionCreate, Tags: eleven}, handler.ErrInvalid},
		{"11th tag on a key", nine, policy.Batch{Action: policy.ActionCreate, Tags: []policy.Tag{{Key: "x1", Value: "1"}, {Key: "x2", Value: "2"}}}, handler.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := b.Tags(tc.id)
			err := b.Store.Apply(c, tc.id, tc.batch)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			checkTags(t, b, tc.id, before)
		})
	}
	// The longest key and value allowed are accepted.
	long := policy.Batch{Action: policy.ActionCreate, Tags: tag(strings.Repeat("键", 36), strings.Repeat("值", 43))}
	if err := b.Store.Apply(c, plain, long); err != nil {
		t.Errorf("key of 36 and value of 43 characters: %v", err)
	}
}

func testDeleted(t *testing.T, newBackend func(*testing.T, []Fixture) Backend) {
	fx := small()
	b := newBackend(t, fx)
	c := ctx(t)
	id := fx[3].Key.ID
	if _, err := b.Store.Key(c, id); err != nil {
		t.Fatalf("Key before deletion: %v", err)
	}
	b.Delete(id)
	if _, err := b.Store.Key(c, id); !errors.Is(err, handler.ErrNotFound) {
		t.Errorf("Key: got %v, want ErrNotFound", err)
	}
	if _, err := b.Store.Tags(c, id); !errors.Is(err, handler.ErrNotFound) {
		t.Errorf("Tags: got %v, want ErrNotFound", err)
	}
	if err := b.Store.Apply(c, id, policy.Batch{Action: policy.ActionCreate, Tags: []policy.Tag{{Key: "owner", Value: "x"}}}); !errors.Is(err, handler.ErrNotFound) {
		t.Errorf("Apply: got %v, want ErrNotFound", err)
	}
	for _, got := range ids(listAll(t, b.Store, "")) {
		if got == id {
			t.Errorf("deleted key %s is still listed", id)
		}
	}
}

// testCancelled checks that every method honours its context: with a
// cancelled one, each fails with an error that unwraps to context.Canceled
// and nothing is written.
func testCancelled(t *testing.T, newBackend func(*testing.T, []Fixture) Backend) {
	fx := small()
	b := newBackend(t, fx)
	c, cancel := context.WithCancel(context.Background())
	cancel()
	id := fx[3].Key.ID
	before, _ := b.Tags(id)
	calls := []struct {
		name string
		call func() error
	}{
		{"List", func() error { _, err := b.Store.List(c, "").Next(c); return err }},
		{"Key", func() error { _, err := b.Store.Key(c, id); return err }},
		{"Tags", func() error { _, err := b.Store.Tags(c, id); return err }},
		{"Apply", func() error {
			return b.Store.Apply(c, id, policy.Batch{Action: policy.ActionCreate, Tags: []policy.Tag{{Key: "owner", Value: "x"}}})
		}},
	}
	for _, tc := range calls {
		if err := tc.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: got %v, want an error unwrapping to context.Canceled", tc.name, err)
		}
	}
	checkTags(t, b, id, before)
}
