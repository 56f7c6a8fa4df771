package e2e_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/handlertest"
)

// editAfterListing is a transport that, once the first bulk listing page
// has been answered, lets a person set tags on keys (before the handler
// sees the page): the page the sweep decides from is then stale.
type editAfterListing struct {
	base http.RoundTripper
	once sync.Once
	edit func()
}

func (e *editAfterListing) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := e.base.RoundTrip(r)
	if err == nil && strings.HasSuffix(r.URL.Path, "/resource_instances/action") {
		e.once.Do(e.edit)
	}
	return resp, err
}

// TestConcurrentEditsNotOverwritten: a person sets owner, cost-center and
// env on untagged keys while a sweep is under way, after it read the
// listing page. A write never rests on tags older than
// TAGWARDEN_MAX_SNAPSHOT_AGE: the sweep reads the tags again, finds the
// keys compliant and writes nothing, where deciding from the page alone
// overwrites every one of them with the defaults.
func TestConcurrentEditsNotOverwritten(t *testing.T) {
	const n = 100
	var seed []emulator.SeedKey
	for _, k := range emulator.SampleKeys(3*n, 51) {
		if k.ResourceDetail.DefaultKeyFlag != "1" && k.ResourceDetail.KeyState == "2" && len(seed) < n {
			k.Tags = nil
			seed = append(seed, k)
		}
	}
	if len(seed) != n {
		t.Fatalf("%d enabled customer keys in the sample, want %d", len(seed), n)
	}
	person := map[string]string{"owner": "alice", "cost-center": "cc-42", "env": "staging"}

	for _, tc := range []struct {
		name        string
		maxAge      time.Duration
		overwritten int // keys whose person's tags the sweep overwrites
	}{
		{"snapshot age bounded", 10 * time.Millisecond, 0},
		{"snapshot age unbounded", time.Hour, n}, // what a sweep did before the bound
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := fltStart(t, seed)
			// Every call takes 20 ms: the listing page is older than the
			// bound by the time any key's turn comes.
			k.Server.SetFaults(emulator.Faults{Latency: 20 * time.Millisecond})
			tr := &editAfterListing{base: http.DefaultTransport.(*http.Transport).Clone(), edit: func() {
				for _, sk := range seed {
					sk.Tags = nil
					for key, v := range person {
						sk.Tags = append(sk.Tags, emulator.Tag{Key: key, Value: v})
					}
					k.Server.AddKey("", sk)
				}
			}}
			h := handler.New(shipped(t), handler.Config{ContinuationKey: testContinuationKey, Concurrency: 4, MaxSnapshotAge: tc.maxAge}, nil)
			k.Server.ResetStats()
			rep := h.Handle(fltCtx(t), k.fltStore(t, tr, nil), handler.Request{Mode: handler.ModeSweep})
			handlertest.CheckCounts(t, rep)
			if rep.Error != "" || rep.Continuation != "" || rep.Scanned != n {
				t.Fatalf("sweep: scanned %d, error %q", rep.Scanned, rep.Error)
			}
			overwritten := 0
			for _, sk := range seed {
				tags, _ := k.Server.Tags("", sk.ResourceID)
				for key, v := range person {
					if tags[key] != v {
						overwritten++
						break
					}
				}
			}
			st := k.Server.Stats()
			t.Logf("%d of %d keys' tags overwritten; %d writes, %d tag reads", overwritten, n, st.Writes, st.Calls[emulator.APIShowTags])
			if overwritten != tc.overwritten {
				t.Errorf("%d keys had the person's tags overwritten, want %d", overwritten, tc.overwritten)
			}
			if tc.overwritten == 0 {
				if st.Writes != 0 || rep.Changed != 0 || rep.Compliant != n {
					t.Errorf("%d writes, %d changed, %d compliant: want no write and every key compliant", st.Writes, rep.Changed, rep.Compliant)
				}
				// The cost: one tag read for each key that needed a change.
				if got := st.Calls[emulator.APIShowTags]; got != n {
					t.Errorf("%d tag reads, want %d (one per key the stale page said needed a change)", got, n)
				}
			}
		})
	}
}
