package huaweikms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator/emulatortest"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/handler/handlertest"
	"github.com/tagwarden/tagwarden/handler/storetest"
	"github.com/tagwarden/tagwarden/policy"
)

// testEnv is an emulator on a loopback port and a Store talking to it
// through the real SDK.
type testEnv struct {
	srv   *emulator.Server
	url   string
	store *Store
	logs  *handlertest.LogBuffer
	cfg   Config
}

func newEnv(t testing.TB, opts emulator.Options, mod func(*Config)) *testEnv {
	t.Helper()
	srv, url := emulatortest.Start(t, opts)
	log, logs := handlertest.JSONLogger(logrus.DebugLevel)
	cfg := Config{
		Endpoint:    url,
		ProjectID:   emulator.DefaultProject,
		Credentials: &Credentials{AccessKey: emulator.DefaultAK, SecretKey: emulator.DefaultSK},
		RateLimit:   -1,
		BaseBackoff: time.Millisecond,
		MaxBackoff:  20 * time.Millisecond,
		HTTPTimeout: 10 * time.Second,
		Log:         log,
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if l := logs.String(); strings.Contains(l, emulator.DefaultSK) || strings.Contains(l, emulator.DefaultAK) {
			t.Errorf("credentials in the log:\n%s", l)
		}
	})
	return &testEnv{srv: srv, url: url, store: s, logs: logs, cfg: cfg}
}

func testCtx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// seedFromFixtures converts conformance fixtures to the emulator's seed shape.
func seedFromFixtures(fx []storetest.Fixture) []emulator.SeedKey {
	codes := map[string]string{}
	for code, word := range states {
		codes[word] = code
	}
	out := make([]emulator.SeedKey, len(fx))
	for i, f := range fx {
		flag := "0"
		if f.Key.Default {
			flag = "1"
		}
		k := emulator.SeedKey{ResourceID: f.Key.ID, ResourceDetail: emulator.KeyDetails{
			KeyID: f.Key.ID, KeyAlias: f.Key.Alias, KeySpec: f.Key.Spec, KeyUsage: f.Key.Usage, KeyState: codes[f.Key.State],
			CreationDate: strconv.FormatInt(f.Key.Created.UnixMilli(), 10), DefaultKeyFlag: flag, Origin: f.Key.Origin,
			KeyRotationEnabled: strconv.FormatBool(f.Key.RotationEnabled), SysEnterpriseProjectID: f.Key.EnterpriseProject,
			KeystoreID: f.Key.Keystore, KeyDescription: f.Key.Description,
		}}
		for tk, tv := range f.Tags {
			k.Tags = append(k.Tags, emulator.Tag{Key: tk, Value: tv})
		}
		out[i] = k
	}
	return out
}

func TestConformance(t *testing.T) {
	variants := []struct {
		name string
		opts emulator.Options
	}{
		{"live shapes", emulator.Options{}},
		{"documented shapes", emulator.Options{DocumentedShapes: true}},
		{"documented shapes, numeric details", emulator.Options{DocumentedShapes: true, NumericDetails: true}},
		{"bulk omits untagged, KMS.0416 on missing tags", emulator.Options{BulkOmitUntagged: true, DeleteMissingTagError: true}},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, fx []storetest.Fixture) storetest.Backend {
				opts := v.opts
				opts.Seed = seedFromFixtures(fx)
				e := newEnv(t, opts, nil)
				return storetest.Backend{
					Store:  e.store,
					Tags:   func(id string) (map[string]string, bool) { return e.srv.Tags(emulator.DefaultProject, id) },
					Delete: func(id string) { e.srv.DeleteKey(emulator.DefaultProject, id) },
					Writes: func() int { return e.srv.Stats().Calls[emulator.APITagsAction] },
					Add: func(f storetest.Fixture) {
						e.srv.AddKey(emulator.DefaultProject, seedFromFixtures([]storetest.Fixture{f})[0])
					},
				}
			})
		})
	}
}

// collect lists everything, failing on errors.
func collect(t *testing.T, s handler.KeyStore) ([]handler.Record, int) {
	t.Helper()
	c := testCtx(t)
	l := s.List(c, "")
	var out []handler.Record
	pages := 0
	for {
		p, err := l.Next(c)
		if errors.Is(err, io.EOF) {
			return out, pages
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		pages++
		out = append(out, p.Records...)
	}
}

func TestListPagingMixedSpecs(t *testing.T) {
	for _, documented := range []bool{false, true} {
		t.Run("documented="+strconv.FormatBool(documented), func(t *testing.T) {
			seed := emulator.SampleKeys(2500, 7)
			e := newEnv(t, emulator.Options{Seed: seed, DocumentedShapes: documented}, func(c *Config) { c.PageSize = 300 })
			hidden := seed[10].ResourceID
			e.srv.HideFromBulk(hidden)
			recs, _ := collect(t, e.store)
			if len(recs) != len(seed) {
				t.Errorf("got %d records, want %d", len(recs), len(seed))
			}
			specs := map[string]int{}
			seen := map[string]bool{}
			defaults := 0
			for _, r := range recs {
				if seen[r.Key.ID] {
					t.Errorf("key %s listed twice", r.Key.ID)
				}
				seen[r.Key.ID] = true
				specs[r.Key.Spec]++
				if r.Key.Default {
					defaults++
				}
				want, ok := e.srv.Tags(emulator.DefaultProject, r.Key.ID)
				if !ok {
					t.Errorf("unknown key %s", r.Key.ID)
					continue
				}
				switch {
				case r.Key.ID == hidden && r.Tags != nil:
					t.Errorf("key hidden from the bulk listing has tags %v, want nil (unknown)", r.Tags)
				case r.Key.ID != hidden && r.Tags == nil:
					t.Errorf("key %s has unknown tags, want them from the bulk listing", r.Key.ID)
				case r.Tags != nil && !equalTags(r.Tags, want):
					t.Errorf("key %s: got tags %v, want %v", r.Key.ID, r.Tags, want)
				}
			}
			if len(specs) < 4 || defaults == 0 {
				t.Errorf("fixture not mixed enough: specs %v, %d default keys", specs, defaults)
			}
			got, err := e.store.Tags(testCtx(t), hidden)
			want, _ := e.srv.Tags(emulator.DefaultProject, hidden)
			if err != nil || !equalTags(got, want) {
				t.Errorf("Tags(hidden) = %v, %v; want %v", got, err, want)
			}
			st := e.srv.Stats()
			if st.Calls[emulator.APIResourceInstances] != 3 || st.Calls[emulator.APIListKeys] != 9 {
				t.Errorf("calls: got %v, want 3 resource-instances and 9 list-keys", st.Calls)
			}
		})
	}
}

func equalTags(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// failBulk is a transport that answers resource_instances/action itself
// (a failure the emulator cannot produce on that call alone) and passes
// every other call through.
type failBulk struct {
	status int
	body   string
	after  int // pass this many bulk calls through first
	mu     sync.Mutex
	n      int
}

func (f *failBulk) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "resource_instances") {
		f.mu.Lock()
		f.n++
		n := f.n
		f.mu.Unlock()
		if n > f.after {
			if f.status == 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return &http.Response{StatusCode: f.status, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(f.body)), Request: r}, nil
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestBulkFailureFallsBack(t *testing.T) {
	cases := []struct {
		name      string
		fail      *failBulk
		wantTags  int // records delivered with known tags
		wantError error
	}{
		{"500 every time", &failBulk{status: 500, body: `{"error":{"error_code":"KMS.0500","error_msg":"boom"}}`}, 0, nil},
		{"network error", &failBulk{}, 0, nil},
		{"undecodable 200", &failBulk{status: 200, body: `{"resources": "not a list"`}, 0, nil},
		{"400 unsupported", &failBulk{status: 400, body: `{"error":{"error_code":"KMS.0308","error_msg":"no"}}`}, 0, nil},
		{"second page fails", &failBulk{status: 502, body: `bad gateway`, after: 1}, 1000, nil},
		{"403 is fatal", &failBulk{status: 403, body: `{"error_code":"APIGW.0302","error_msg":"denied","request_id":"r"}`}, 0, handler.ErrDenied},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seed := emulator.SampleKeys(1500, 3)
			e := newEnv(t, emulator.Options{Seed: seed}, func(c *Config) { c.Transport = tc.fail; c.MaxRetries = 2 })
			c := testCtx(t)
			l := e.store.List(c, "")
			var recs []handler.Record
			var err error
			for {
				var p handler.Page
				p, err = l.Next(c)
				if err != nil {
					break
				}
				recs = append(recs, p.Records...)
			}
			if tc.wantError != nil {
				if !errors.Is(err, tc.wantError) {
					t.Fatalf("got %v, want %v", err, tc.wantError)
				}
				return
			}
			if !errors.Is(err, io.EOF) {
				t.Fatalf("listing: %v", err)
			}
			seen := map[string]bool{}
			known := 0
			for _, r := range recs {
				if seen[r.Key.ID] {
					t.Errorf("key %s listed twice", r.Key.ID)
				}
				seen[r.Key.ID] = true
				if r.Tags != nil {
					known++
				}
			}
			if len(seen) != len(seed) || known != tc.wantTags {
				t.Errorf("got %d keys (%d with tags), want %d (%d)", len(seen), known, len(seed), tc.wantTags)
			}
			if logs := e.logs.String(); !strings.Contains(logs, "falling back") || !strings.Contains(logs, `"level":"warning"`) {
				t.Errorf("no fallback warning in the log:\n%s", logs)
			}
		})
	}
}

func TestResumeInPhaseTwoRebuildsSeen(t *testing.T) {
	seed := emulator.SampleKeys(1200, 11)
	e := newEnv(t, emulator.Options{Seed: seed, BulkOmitUntagged: true}, func(c *Config) { c.PageSize = 100 })
	c := testCtx(t)
	l := e.store.List(c, "")
	var phase2 []handler.Page
	for {
		p, err := l.Next(c)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if cur, _ := decodeCursor(p.Cursor); cur.Phase == phaseKeys {
			phase2 = append(phase2, p)
		}
	}
	if len(phase2) < 2 {
		t.Fatalf("got %d phase-2 pages, want at least 2", len(phase2))
	}
	e.srv.ResetStats()
	rest := e.store.List(c, phase2[1].Cursor)
	p, err := rest.Next(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != len(phase2[1].Records) || p.Records[0].Key.ID != phase2[1].Records[0].Key.ID {
		t.Errorf("resumed page differs: %d records, want %d", len(p.Records), len(phase2[1].Records))
	}
	if got := e.srv.Stats().Calls[emulator.APIResourceInstances]; got != 2 {
		t.Errorf("rebuilding the seen set took %d bulk calls, want 2 (1200 keys)", got)
	}
}

func TestErrorMappingEndToEnd(t *testing.T) {
	seed := emulator.SampleKeys(30, 5)
	var plain, def string
	for _, k := range seed {
		if k.ResourceDetail.DefaultKeyFlag == "1" && def == "" {
			def = k.ResourceID
		}
		if k.ResourceDetail.DefaultKeyFlag != "1" && plain == "" {
			plain = k.ResourceID
		}
	}
	create := policy.Batch{Action: policy.ActionCreate, Tags: []policy.Tag{{Key: "owner", Value: "x"}}}
	for _, documented := range []bool{false, true} {
		cases := []struct {
			name     string
			faults   emulator.Faults
			cfg      func(*Config)
			call     func(s *Store, c context.Context) error
			want     error
			wantCode string
			wantText string
		}{
			{"unknown key", emulator.Faults{}, nil, func(s *Store, c context.Context) error {
				_, err := s.Tags(c, "0badc0de-1111-4222-8333-444455556666")
				return err
			}, handler.ErrNotFound, "KMS.0207", "key not found"},
			{"describe unknown key", emulator.Faults{}, nil, func(s *Store, c context.Context) error {
				_, err := s.Key(c, "0badc0de-1111-4222-8333-444455556666")
				return err
			}, handler.ErrNotFound, "KMS.0207", "kms describe-key key 0badc0de"},
			{"default key", emulator.Faults{}, nil, func(s *Store, c context.Context) error { return s.Apply(c, def, create) },
				handler.ErrDefaultKey, "KMS.0211", "default keys cannot be tagged"},
			{"expired credentials", emulator.Faults{Unauthorized: true}, nil, func(s *Store, c context.Context) error {
				_, err := s.Tags(c, plain)
				return err
			}, handler.ErrDenied, "APIGW.0301", "authentication failed: check the AK/SK"},
			{"wrong secret key", emulator.Faults{}, func(c *Config) { c.Credentials = &Credentials{AccessKey: emulator.DefaultAK, SecretKey: "wrong"} },
				func(s *Store, c context.Context) error { _, err := s.List(c, "").Next(c); return err },
				handler.ErrDenied, "APIGW.0301", "authentication failed: check the AK/SK"},
			{"wrong project", emulator.Faults{}, func(c *Config) { c.ProjectID = "ffffffffffffffffffffffffffffffff" },
				func(s *Store, c context.Context) error { _, err := s.Tags(c, plain); return err },
				handler.ErrDenied, "APIGW.0302", "permission denied"},
			{"403 on a key", emulator.Faults{FailKeys: map[string]int{plain: 403}}, nil,
				func(s *Store, c context.Context) error { return s.Apply(c, plain, create) }, handler.ErrDenied, "", "kms tags-action key " + plain},
			{"throttled past retries", emulator.Faults{RateLimit: 0.001, Burst: 1}, func(c *Config) { c.MaxRetries = 2 },
				func(s *Store, c context.Context) error {
					s.Tags(c, plain) // takes the only token
					_, err := s.Tags(c, plain)
					return err
				}, handler.ErrThrottled, "APIG.0308", "throttled by the API gateway (its limit: 0.001 requests per second, over every caller of the same IAM user); tagwarden's own rate limit is off"},
			{"500 past retries", emulator.Faults{Rate500: 1}, func(c *Config) { c.MaxRetries = 2 },
				func(s *Store, c context.Context) error { _, err := s.Tags(c, plain); return err }, handler.ErrTransient, "KMS.0500", "server error"},
			{"502 past retries", emulator.Faults{Rate502: 1}, func(c *Config) { c.MaxRetries = 1 },
				func(s *Store, c context.Context) error { _, err := s.Key(c, plain); return err }, handler.ErrTransient, "KMS.0502", "bad gateway"},
			{"504 past retries", emulator.Faults{Rate504: 1}, func(c *Config) { c.MaxRetries = 1 },
				func(s *Store, c context.Context) error { return s.Apply(c, plain, create) }, handler.ErrTransient, "KMS.0504", "gateway timeout"},
			{"dropped connections", emulator.Faults{DropRate: 1}, func(c *Config) { c.MaxRetries = 1 },
				func(s *Store, c context.Context) error { _, err := s.Tags(c, plain); return err }, handler.ErrTransient, "", "network error"},
			{"invalid tag sent raw", emulator.Faults{}, func(c *Config) {
				c.Limits = policy.Limits{MaxKeyLen: 100, MaxValueLen: 100, ReservedPrefixes: []string{}}
			},
				func(s *Store, c context.Context) error {
					return s.Apply(c, plain, policy.Batch{Action: policy.ActionCreate, Tags: []policy.Tag{{Key: strings.Repeat("k", 37), Value: "v"}}})
				}, handler.ErrInvalid, "KMS.0401", "request rejected as invalid"},
		}
		for _, tc := range cases {
			t.Run(tc.name+" documented="+strconv.FormatBool(documented), func(t *testing.T) {
				e := newEnv(t, emulator.Options{Seed: seed, DocumentedShapes: documented}, tc.cfg)
				e.srv.SetFaults(tc.faults)
				err := tc.call(e.store, testCtx(t))
				if !errors.Is(err, tc.want) {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
				var ke *Error
				if !errors.As(err, &ke) {
					t.Fatalf("got %T, want *Error", err)
				}
				if tc.wantCode != "" && ke.Code != tc.wantCode {
					t.Errorf("code: got %q, want %q", ke.Code, tc.wantCode)
				}
				if !strings.Contains(err.Error(), tc.wantText) {
					t.Errorf("message %q does not contain %q", err.Error(), tc.wantText)
				}
				if ke.Status != 0 && ke.RequestID == "" {
					t.Errorf("no request id in %v", err)
				}
			})
		}
	}
}

func TestNoRetryOnClientErrors(t *testing.T) {
	seed := emulator.SampleKeys(10, 5)
	id := seed[len(seed)-1].ResourceID
	for _, status := range []int{400, 401, 403, 404} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			e := newEnv(t, emulator.Options{Seed: seed}, nil)
			e.srv.SetFaults(emulator.Faults{FailKeys: map[string]int{id: status}})
			if _, err := e.store.Tags(testCtx(t), id); err == nil {
				t.Fatal("no error")
			}
			if got := e.srv.Stats().Calls[emulator.APIShowTags]; got != 1 {
				t.Errorf("got %d calls, want 1 (no retry)", got)
			}
		})
	}
}

func TestRetriesSucceed(t *testing.T) {
	seed := emulator.SampleKeys(25, 9)
	cases := []struct {
		name   string
		faults emulator.Faults
		check  func(t *testing.T, st emulator.Stats)
	}{
		{"429 storm", emulator.Faults{RateLimit: 50, Burst: 2}, func(t *testing.T, st emulator.Stats) {
			if st.Status[429] == 0 {
				t.Errorf("no 429 answered: %v", st.Status)
			}
		}},
		{"500 502 504 and drops", emulator.Faults{Rate500: 0.1, Rate502: 0.1, Rate504: 0.1, DropRate: 0.1, Seed: 42}, func(t *testing.T, st emulator.Stats) {
			for _, s := range []int{500, 502, 504, 0} {
				if st.Status[s] == 0 {
					t.Errorf("no %d answered: %v", s, st.Status)
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, emulator.Options{Seed: seed}, func(c *Config) {
				c.MaxRetries = 12
				c.BaseBackoff = 10 * time.Millisecond
				c.MaxBackoff = 500 * time.Millisecond
			})
			e.srv.SetFaults(tc.faults)
			c := testCtx(t)
			var wg sync.WaitGroup
			errs := make(chan error, len(seed))
			for _, k := range seed {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got, err := e.store.Tags(c, k.ResourceID)
					if err == nil && len(got) != len(k.Tags) {
						err = errors.New("wrong tags for " + k.ResourceID)
					}
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			recs, _ := collect(t, e.store)
			if len(recs) != len(seed) {
				t.Errorf("listing under faults: got %d keys, want %d", len(recs), len(seed))
			}
			tc.check(t, e.srv.Stats())
			if !strings.Contains(e.logs.String(), "retrying kms call") {
				t.Error("no retry logged")
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	seed := emulator.SampleKeys(5, 1)
	id := seed[len(seed)-1].ResourceID
	cases := []struct {
		name   string
		faults emulator.Faults
		limit  *rate.Limiter
		want   error
	}{
		{"slow server", emulator.Faults{Latency: 5 * time.Second}, nil, handler.ErrTransient},
		{"throttled", emulator.Faults{RateLimit: 0.001, Burst: 1}, nil, handler.ErrThrottled},
		{"server errors", emulator.Faults{Rate504: 1}, nil, handler.ErrTransient},
		{"local rate limit", emulator.Faults{}, rate.NewLimiter(0.01, 1), handler.ErrThrottled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, emulator.Options{Seed: seed}, func(c *Config) {
				c.MaxRetries = 50
				c.BaseBackoff = 50 * time.Millisecond
				c.MaxBackoff = 5 * time.Second // a blind sleep would overshoot by seconds
				if tc.limit != nil {
					c.Pacer = newPacer(tc.limit)
				}
			})
			e.srv.SetFaults(tc.faults)
			if tc.limit != nil || tc.faults.RateLimit > 0 {
				e.store.Tags(testCtx(t), id) // spend the only token
			}
			c, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := e.store.Tags(c, id)
			took := time.Since(start)
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			// Without the deadline the retries (and the 10s HTTP timeout)
			// would go on for seconds; the slack absorbs a loaded machine.
			if took > 2*time.Second {
				t.Errorf("returned after %v, long past the 300ms deadline", took)
			}
			if !errors.Is(err, context.DeadlineExceeded) && tc.limit == nil && tc.faults.RateLimit == 0 && tc.faults.Rate504 == 0 {
				t.Errorf("error %v does not unwrap to context.DeadlineExceeded", err)
			}
		})
	}
}

func TestInvalidTagRejectedLocally(t *testing.T) {
	seed := emulator.SampleKeys(10, 2)
	id := seed[len(seed)-1].ResourceID
	e := newEnv(t, emulator.Options{Seed: seed}, nil)
	for _, tg := range []policy.Tag{{Key: "a=b", Value: "v"}, {Key: "owner", Value: "x*y"}, {Key: "_sys_x", Value: ""}, {Key: strings.Repeat("键", 37), Value: ""}} {
		err := e.store.Apply(testCtx(t), id, policy.Batch{Action: policy.ActionCreate, Tags: []policy.Tag{tg}})
		if !errors.Is(err, handler.ErrInvalid) || !strings.Contains(err.Error(), "refused locally") {
			t.Errorf("Apply(%q=%q): got %v, want a local ErrInvalid", tg.Key, tg.Value, err)
		}
	}
	if n := e.srv.Stats().Calls[emulator.APITagsAction]; n != 0 {
		t.Errorf("%d calls sent, want none", n)
	}
	for _, bad := range []string{"", "../x", "a/b", "k?x=1", strings.Repeat("k", handler.MaxKeyIDLen+1)} {
		if _, err := e.store.Tags(testCtx(t), bad); !errors.Is(err, handler.ErrInvalid) {
			t.Errorf("Tags(%q): got %v, want ErrInvalid", bad, err)
		}
	}
}

// TestInvalidTagSentRaw bypasses the local checks and sends through the SDK
// client itself: the emulator answers as the API reference says (400 with a
// nested error body) and changes nothing.
func TestInvalidTagSentRaw(t *testing.T) {
	seed := emulator.SampleKeys(10, 2)
	id := seed[len(seed)-1].ResourceID
	e := newEnv(t, emulator.Options{Seed: seed}, nil)
	before, _ := e.srv.Tags(emulator.DefaultProject, id)
	cases := []struct{ key, value, code string }{
		{"a=b", "v", "KMS.0401"},
		{strings.Repeat("k", 37), "v", "KMS.0401"},
		{"owner", strings.Repeat("v", 44), "KMS.0402"},
		{"owner", "<script>", "KMS.0402"},
		{"ctl\x01", "v", "KMS.0401"},
	}
	for _, tc := range cases {
		err := e.store.send(testCtx(t), id, policy.Batch{Action: policy.ActionCreate, Tags: []policy.Tag{{Key: tc.key, Value: tc.value}}})
		var ke *Error
		if !errors.As(err, &ke) || ke.Status != 400 || ke.Code != tc.code || !errors.Is(err, handler.ErrInvalid) {
			t.Errorf("%q=%q: got %v, want 400 %s", tc.key, tc.value, err, tc.code)
		}
	}
	after, _ := e.srv.Tags(emulator.DefaultProject, id)
	if !equalTags(before, after) {
		t.Errorf("tags changed by refused calls: %v -> %v", before, after)
	}
}

func TestSecurityToken(t *testing.T) {
	seed := emulator.SampleKeys(5, 2)
	id := seed[len(seed)-1].ResourceID
	opts := emulator.Options{Seed: seed, SecurityToken: "session-token-1"}
	good := newEnv(t, opts, func(c *Config) { c.Credentials.SecurityToken = "session-token-1" })
	if _, err := good.store.Tags(testCtx(t), id); err != nil {
		t.Errorf("with the token: %v", err)
	}
	bad := newEnv(t, opts, func(c *Config) {
		c.Credentials = &Credentials{AccessKey: emulator.DefaultAK, SecretKey: emulator.DefaultSK, SecurityToken: "stale"}
	})
	if _, err := bad.store.Tags(testCtx(t), id); !errors.Is(err, handler.ErrDenied) {
		t.Errorf("with a stale token: got %v, want ErrDenied", err)
	}
	if strings.Contains(bad.logs.String(), "stale") {
		t.Error("token in the log")
	}
}

func TestCredentialChain(t *testing.T) {
	seed := emulator.SampleKeys(5, 2)
	id := seed[len(seed)-1].ResourceID
	t.Setenv("HUAWEICLOUD_SDK_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("HUAWEICLOUD_SDK_AK", emulator.DefaultAK)
	t.Setenv("HUAWEICLOUD_SDK_SK", emulator.DefaultSK)
	t.Setenv("HUAWEICLOUD_SDK_PROJECT_ID", emulator.DefaultProject)
	e := newEnv(t, emulator.Options{Seed: seed}, func(c *Config) { c.Credentials = nil; c.ProjectID = "" })
	if _, err := e.store.Tags(testCtx(t), id); err != nil {
		t.Errorf("credentials from the environment: %v", err)
	}
	t.Setenv("HUAWEICLOUD_SDK_PROJECT_ID", "")
	_, err := New(Config{Endpoint: e.url})
	if err == nil || !strings.Contains(err.Error(), "no project id") {
		t.Errorf("no project id anywhere: got %v", err)
	}
	if _, err := New(Config{Endpoint: e.url, ProjectID: emulator.DefaultProject}); err != nil {
		t.Errorf("project id from the configuration: %v", err)
	}
	t.Setenv("HUAWEICLOUD_SDK_AK", "")
	if _, err := New(Config{Endpoint: e.url, ProjectID: emulator.DefaultProject}); err == nil || !strings.Contains(err.Error(), "no credentials") {
		t.Errorf("no credentials: got %v", err)
	}
}

func TestNewConfig(t *testing.T) {
	cred := &Credentials{AccessKey: "AK", SecretKey: "SK"}
	cases := []struct {
		name, wantErr, wantEndpoint string
		cfg                         Config
	}{
		{"region", "", "https://kms.ap-southeast-1.myhuaweicloud.com", Config{Region: "ap-southeast-1", ProjectID: "p", Credentials: cred}},
		{"endpoint wins", "", "http://127.0.0.1:1", Config{Region: "ap-southeast-1", Endpoint: "http://127.0.0.1:1/", ProjectID: "p", Credentials: cred}},
		{"bare host", "", "https://kms.example.com", Config{Endpoint: "kms.example.com", ProjectID: "p", Credentials: cred}},
		{"nothing", "set a region or an endpoint", "", Config{ProjectID: "p", Credentials: cred}},
		{"unknown region", "unknown KMS region", "", Config{Region: "mars-1", ProjectID: "p", Credentials: cred}},
		{"no project", "no project id", "", Config{Region: "ap-southeast-1", Credentials: cred}},
		{"no secret", "both an access key and a secret key", "", Config{Region: "ap-southeast-1", ProjectID: "p", Credentials: &Credentials{AccessKey: "AK"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Endpoint() != tc.wantEndpoint || s.ProjectID() != "p" {
				t.Errorf("got %s %s", s.Endpoint(), s.ProjectID())
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	seed := emulator.SampleKeys(5, 2)
	id := seed[len(seed)-1].ResourceID
	shared := NewPacer(20)
	a := newEnv(t, emulator.Options{Seed: seed}, func(c *Config) { c.Pacer = shared })
	b := newEnv(t, emulator.Options{Seed: seed}, func(c *Config) { c.Pacer = shared })
	start := time.Now()
	for i := 0; i < 5; i++ {
		for _, s := range []*Store{a.store, b.store} {
			if _, err := s.Tags(testCtx(t), id); err != nil {
				t.Fatal(err)
			}
		}
	}
	// 10 calls at 20/s with a burst of 1 through one shared bucket: >= 450ms.
	if took := time.Since(start); took < 430*time.Millisecond {
		t.Errorf("10 calls took %v, want at least 450ms at 20 rps", took)
	}
}

// bodyRecorder passes requests through and keeps the bodies of tags/action.
type bodyRecorder struct {
	mu     sync.Mutex
	bodies []string
}

func (r *bodyRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/tags/action") && req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
		r.mu.Lock()
		r.bodies = append(r.bodies, string(b))
		r.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestApplySendsFreshSequence(t *testing.T) {
	seed := emulator.SampleKeys(10, 2)
	id := seed[len(seed)-1].ResourceID
	rec := &bodyRecorder{}
	e := newEnv(t, emulator.Options{Seed: seed}, func(c *Config) { c.Transport = rec })
	for _, v := range []string{"a", "b"} {
		if err := e.store.Apply(testCtx(t), id, policy.Batch{Action: policy.ActionCreate, Tags: []policy.Tag{{Key: "owner", Value: v}}}); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.bodies) != 2 {
		t.Fatalf("got %d calls, want 2", len(rec.bodies))
	}
	var seqs []string
	for _, b := range rec.bodies {
		var body struct {
			Action   string       `json:"action"`
			Tags     []policy.Tag `json:"tags"`
			Sequence string       `json:"sequence"`
		}
		if err := json.Unmarshal([]byte(b), &body); err != nil {
			t.Fatal(err)
		}
		if len(body.Sequence) != 36 || body.Action != "create" || len(body.Tags) != 1 {
			t.Errorf("body %s: want action create, one tag and a 36-character sequence", b)
		}
		seqs = append(seqs, body.Sequence)
	}
	if seqs[0] == seqs[1] {
		t.Errorf("sequence %s reused", seqs[0])
	}
	if got, _ := e.srv.Tags(emulator.DefaultProject, id); got["owner"] != "b" {
		t.Errorf("owner = %q, want b", got["owner"])
	}
}

// TestRecordedBulkThroughStore seeds the emulator with the live bulk
// response and lists it through the SDK in the live shape.
func TestRecordedBulkThroughStore(t *testing.T) {
	ex := recorded(t)
	seed, err := emulator.LoadSeed(bytes.NewReader(ex[2].ResponseBody))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, emulator.Options{Seed: seed}, nil)
	recs, _ := collect(t, e.store)
	if len(recs) != 1 {
		t.Fatalf("got %d records, want 1", len(recs))
	}
	r := recs[0]
	if r.Key.ID != "17368998-bdca-4302-95ee-8925d139a29f" || r.Key.Alias != "KMS-2990" || r.Key.State != policy.StateEnabled ||
		r.Tags == nil || len(r.Tags) != 0 || r.Key.Created.UnixMilli() != 1716661217000 {
		t.Errorf("got %+v", r)
	}
}

// TestThrottleRetryBudget checks that throttled calls have their own retry
// budget (MaxThrottleRetries), separate from MaxRetries, and that neither
// outlives the caller's deadline.
func TestThrottleRetryBudget(t *testing.T) {
	seed := emulator.SampleKeys(5, 1)
	id := seed[len(seed)-1].ResourceID
	budgets := func(retries, throttle int) func(*Config) {
		return func(c *Config) { c.MaxRetries, c.MaxThrottleRetries = retries, throttle }
	}
	t.Run("counts", func(t *testing.T) {
		cases := []struct {
			name      string
			status    int
			cfg       func(*Config)
			want      error
			wantCalls int
		}{
			{"429 uses the throttle budget", 429, budgets(1, 5), handler.ErrThrottled, 6},
			{"500 uses the other budget", 500, budgets(1, 5), handler.ErrTransient, 2},
			{"no throttle retries", 429, budgets(3, -1), handler.ErrThrottled, 1},
			{"default throttle budget", 429, budgets(1, 0), handler.ErrThrottled, DefaultMaxThrottleRetries + 1},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t, emulator.Options{Seed: seed}, func(c *Config) { tc.cfg(c); c.MaxBackoff = time.Millisecond })
				e.srv.SetFaults(emulator.Faults{FailKeys: map[string]int{id: tc.status}})
				_, err := e.store.Tags(testCtx(t), id)
				if !errors.Is(err, tc.want) {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
				if got := e.srv.Stats().Calls[emulator.APIShowTags]; got != tc.wantCalls {
					t.Errorf("got %d calls, want %d", got, tc.wantCalls)
				}
			})
		}
	})
	t.Run("survives more 429s in a row than MaxRetries", func(t *testing.T) {
		// The emulator's bucket refills every 400ms and the client retries
		// within 10ms: the call meets a run of 429s before a token is back.
		e := newEnv(t, emulator.Options{Seed: seed}, func(c *Config) {
			c.MaxRetries, c.MaxThrottleRetries = 1, 1000
			c.BaseBackoff, c.MaxBackoff = 5*time.Millisecond, 10*time.Millisecond
		})
		e.srv.SetFaults(emulator.Faults{RateLimit: 2.5, Burst: 1})
		if _, err := e.store.Tags(testCtx(t), id); err != nil { // takes the token
			t.Fatal(err)
		}
		e.srv.ResetStats()
		got, err := e.store.Tags(testCtx(t), id)
		if err != nil {
			t.Fatalf("throttled call: %v", err)
		}
		want, _ := e.srv.Tags(emulator.DefaultProject, id)
		if !equalTags(got, want) {
			t.Errorf("got tags %v, want %v", got, want)
		}
		st := e.srv.Stats()
		if st.Status[429] <= e.cfg.MaxRetries || st.Status[200] != 1 {
			t.Errorf("answers %v: want more 429s than MaxRetries (%d), then one 200", st.Status, e.cfg.MaxRetries)
		}
	})
	t.Run("stops at the deadline", func(t *testing.T) {
		e := newEnv(t, emulator.Options{Seed: seed}, func(c *Config) {
			c.MaxRetries, c.MaxThrottleRetries = 1, 100000
			c.BaseBackoff, c.MaxBackoff = 5*time.Millisecond, 20*time.Millisecond
		})
		e.srv.SetFaults(emulator.Faults{FailKeys: map[string]int{id: 429}})
		c, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := e.store.Tags(c, id)
		took := time.Since(start)
		if !errors.Is(err, handler.ErrThrottled) {
			t.Errorf("got %v, want ErrThrottled", err)
		}
		if took > 2*time.Second { // the retries alone would take longer; slack for a loaded machine
			t.Errorf("returned after %v, long past the 300ms deadline", took)
		}
		if n := e.srv.Stats().Calls[emulator.APIShowTags]; n <= e.cfg.MaxRetries+1 {
			t.Errorf("%d calls before the deadline, want more than MaxRetries+1 (%d)", n, e.cfg.MaxRetries+1)
		}
	})
}

// TestSeparateRetryBudgets runs scripted sequences of failures (the
// emulator's Faults.Sequence) through one call: 429s spend only
// MaxThrottleRetries and 5xx only MaxRetries, in any order.
func TestSeparateRetryBudgets(t *testing.T) {
	seed := emulator.SampleKeys(5, 1)
	id := seed[len(seed)-1].ResourceID
	cases := []struct {
		name              string
		seq               []int
		retries, throttle int   // 0: the defaults (4 and 12)
		want              error // nil: the call succeeds
		wantCalls         int
	}{
		{"one 500 then five 429s", []int{500, 429, 429, 429, 429, 429}, 1, 5, nil, 7},
		{"four 429s then a 500, default budgets", []int{429, 429, 429, 429, 500}, 0, 0, nil, 6},
		{"429s around four 500s", []int{429, 500, 429, 500, 429, 500, 429, 500, 429}, 0, 0, nil, 10},
		{"a second 500 spends MaxRetries 1", []int{500, 429, 429, 500}, 1, 5, handler.ErrTransient, 4},
		{"a third 429 spends MaxThrottleRetries 2", []int{429, 500, 429, 429}, 4, 2, handler.ErrThrottled, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, emulator.Options{Seed: seed}, func(c *Config) {
				c.MaxRetries, c.MaxThrottleRetries, c.MaxBackoff = tc.retries, tc.throttle, time.Millisecond
			})
			e.srv.SetFaults(emulator.Faults{Sequence: tc.seq})
			got, err := e.store.Tags(testCtx(t), id)
			if tc.want == nil {
				want, _ := e.srv.Tags(emulator.DefaultProject, id)
				if err != nil || !equalTags(got, want) {
					t.Errorf("got %v, %v; want the tags %v", got, err, want)
				}
			} else if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			if n := e.srv.Stats().Calls[emulator.APIShowTags]; n != tc.wantCalls {
				t.Errorf("got %d calls, want %d", n, tc.wantCalls)
			}
		})
	}
}

// echoSecrets answers every call itself with status and body, after putting
// the store's access key, secret key and token into the body: a server
// echoing credentials in its error messages.
type echoSecrets struct {
	status int
	body   string // with {AK}, {SK}, {TOKEN} and {TOKEN_ESCAPED} ("/" as "\/") replaced
	ak, sk string
	token  string
}

func (e *echoSecrets) RoundTrip(r *http.Request) (*http.Response, error) {
	body := strings.NewReplacer("{AK}", e.ak, "{SK}", e.sk, "{TOKEN}", e.token,
		"{TOKEN_ESCAPED}", strings.ReplaceAll(e.token, "/", `\/`)).Replace(e.body)
	return &http.Response{StatusCode: e.status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
}

// TestErrorsRedactCredentials: whatever a response echoes of the store's
// credentials never reaches an error or a log: the access key is masked
// (its first four characters and ****), the secret key and the token are
// replaced.
func TestErrorsRedactCredentials(t *testing.T) {
	const token = "tok/en+secret=="
	long := strings.Repeat("x", 290) // puts the access key across the 300-character clip
	cases := []struct {
		name, body string
		status     int
		want       error
		wantText   string
	}{
		{"gateway 401 echoing the access key", `{"error_msg":"access key {AK} is invalid","error_code":"APIGW.0301","request_id":"r1"}`, 401,
			handler.ErrDenied, "access key TAGW**** is invalid"},
		{"kms 400 echoing every secret", `{"error":{"error_code":"KMS.0308","error_msg":"bad signature by {AK} with {SK} and {TOKEN}"}}`, 400,
			handler.ErrInvalid, "bad signature by TAGW**** with <secret key redacted> and <security token redacted>"},
		{"escaped token in a 429", `{"error_msg":"limit:20,time:1 second for {TOKEN_ESCAPED}","error_code":"APIG.0308","request_id":"{AK}"}`, 429,
			handler.ErrThrottled, "for <security token redacted>"},
		{"access key across the clip", `{"error":{"error_code":"KMS.0500","error_msg":"` + long + `{AK}"}}`, 500,
			handler.ErrTransient, long + "TAGW****"},
		{"not json", `<html>denied for {AK}</html>`, 502, handler.ErrTransient, "denied for TAGW****"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := &echoSecrets{status: tc.status, body: tc.body, ak: emulator.DefaultAK, sk: emulator.DefaultSK, token: token}
			e := newEnv(t, emulator.Options{}, func(c *Config) {
				c.Transport = tr
				c.Credentials.SecurityToken = token
				c.MaxRetries, c.MaxThrottleRetries = 1, 1
			})
			_, err := e.store.Tags(testCtx(t), "k1")
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("got %v, want %v containing %q", err, tc.want, tc.wantText)
			}
			for _, secret := range []string{emulator.DefaultAK, emulator.DefaultSK, token, strings.ReplaceAll(token, "/", `\/`), "tok/en"} {
				if err != nil && strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains %q", err, secret)
				}
				if strings.Contains(e.logs.String(), secret) {
					t.Errorf("log contains %q:\n%s", secret, e.logs.String())
				}
			}
		})
	}
}

// TestListNumericDetails sweeps a listing whose resource_detail carries the
// numeric fields as JSON numbers (the API reference's example): every key
// comes from the bulk listing with its state, creation date and default
// flag read from the numbers, without falling back to per-key reads.
func TestListNumericDetails(t *testing.T) {
	seed := emulator.SampleKeys(1200, 4)
	cases := []struct {
		name string
		opts emulator.Options
	}{
		{"documented shapes", emulator.Options{DocumentedShapes: true}},
		{"documented shapes, numeric details", emulator.Options{DocumentedShapes: true, NumericDetails: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Seed = seed
			e := newEnv(t, opts, nil)
			want := map[string]handler.Record{}
			for _, k := range e.srv.Keys(emulator.DefaultProject) {
				d := k.ResourceDetail
				tags, _ := e.srv.Tags(emulator.DefaultProject, k.ResourceID)
				want[k.ResourceID] = handler.Record{Key: keyDetails{KeyID: flexString(d.KeyID), KeyState: flexString(d.KeyState),
					CreationDate: flexString(d.CreationDate), DefaultKeyFlag: flexString(d.DefaultKeyFlag)}.key(), Tags: tags}
			}
			recs, _ := collect(t, e.store)
			if len(recs) != len(want) {
				t.Errorf("got %d records, want %d", len(recs), len(want))
			}
			states := map[string]bool{}
			for _, r := range recs {
				w := want[r.Key.ID]
				if r.Key.State != w.Key.State || !r.Key.Created.Equal(w.Key.Created) || r.Key.Default != w.Key.Default || !equalTags(r.Tags, w.Tags) {
					t.Errorf("key %s: got %s created %v default %t tags %v; want %s %v %t %v", r.Key.ID, r.Key.State, r.Key.Created,
						r.Key.Default, r.Tags, w.Key.State, w.Key.Created, w.Key.Default, w.Tags)
				}
				states[r.Key.State] = true
			}
			if len(states) < 3 || states["unknown"] {
				t.Errorf("states %v: want several, none unknown", states)
			}
			if n := e.srv.Stats().Calls[emulator.APIShowTags]; n != 0 || strings.Contains(e.logs.String(), `"level":"warning"`) {
				t.Errorf("%d per-key tag reads, log:\n%s\nwant the bulk listing alone", n, e.logs.String())
			}
		})
	}
}

// TestListKeysPageSizeAdapts: a service that refuses the ListKeys page size
// (1000 here is over its largest, 300) gets smaller pages asked, and the
// listing completes, instead of every sweep failing for ever; a resumed
// listing keeps the smaller size.
func TestListKeysPageSizeAdapts(t *testing.T) {
	seed := emulator.SampleKeys(700, 9)
	e := newEnv(t, emulator.Options{Seed: seed, MaxListLimit: 300, BulkOmitUntagged: true}, nil)
	var ids []string
	for _, k := range seed {
		ids = append(ids, k.ResourceID)
	}
	e.srv.HideFromBulk(ids...) // every key comes from ListKeys
	recs, pages := collect(t, e.store)
	if len(recs) != len(seed) {
		t.Fatalf("listed %d keys, want %d", len(recs), len(seed))
	}
	st := e.srv.Stats()
	// 1000 and 500 refused, then 250 a page: 3 pages.
	if got := st.Calls[emulator.APIListKeys]; got != 5 || st.Status[400] != 2 || pages != 3 {
		t.Errorf("%d list-keys calls (%d answered 400), %d pages; want 5 calls, 2 refused, 3 pages", got, st.Status[400], pages)
	}
	if !strings.Contains(e.logs.String(), "refused the ListKeys page size") {
		t.Errorf("no warning logged:\n%s", e.logs.String())
	}
	// Resuming at the second page asks for the size that worked.
	c := testCtx(t)
	l := e.store.List(c, "")
	first, err := l.Next(c)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.ResetStats()
	rest := e.store.List(c, first.After(len(first.Records)))
	if _, err := rest.Next(c); err != nil {
		t.Fatalf("resumed: %v", err)
	}
	if st := e.srv.Stats(); st.Status[400] != 0 {
		t.Errorf("the resumed listing was refused %d times: it forgot the page size", st.Status[400])
	}
}

// TestThrottlePausesThePacer: the store reports each 429 to its pacer, which
// pauses every caller, longer for each 429 in a row (jitter, then 50, 100,
// 200 ms at 20 per second), and reports the call let through, which ends
// the doubling.
func TestThrottlePausesThePacer(t *testing.T) {
	seed := emulator.SampleKeys(5, 1)
	id := seed[len(seed)-1].ResourceID
	p := NewPacer(20)
	e := newEnv(t, emulator.Options{Seed: seed}, func(c *Config) { c.Pacer, c.MaxBackoff = p, time.Millisecond })
	e.srv.SetFaults(emulator.Faults{Sequence: []int{429, 429, 429, 429}})
	start := time.Now()
	if _, err := e.store.Tags(testCtx(t), id); err != nil {
		t.Fatal(err)
	}
	// Spacing alone would take 200 ms; the backoff is at most 1 ms a retry.
	if took := time.Since(start); took < 390*time.Millisecond {
		t.Errorf("5 calls, 4 throttled in a row, took %v; want at least 400ms (50 + 100 + 200 ms of pauses)", took)
	}
	p.mu.Lock()
	strikes := p.strikes
	p.mu.Unlock()
	if strikes != 0 {
		t.Errorf("%d strikes after a call got through, want 0", strikes)
	}
	if n := e.srv.Stats().Calls[emulator.APIShowTags]; n != 5 {
		t.Errorf("%d calls, want 5", n)
	}
}

// TestCutInFlightKeepsKind: a retry cut in flight by the deadline reports the
// kind of the answer before it (429: throttled), not the cut.
func TestCutInFlightKeepsKind(t *testing.T) {
	seed := emulator.SampleKeys(5, 1)
	id := seed[len(seed)-1].ResourceID
	cases := []struct {
		first int
		want  error
	}{
		{429, handler.ErrThrottled},
		{503, handler.ErrTransient},
	}
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.first), func(t *testing.T) {
			e := newEnv(t, emulator.Options{Seed: seed}, func(c *Config) { c.MaxBackoff = time.Millisecond })
			// Every answer takes 150 ms: the retry is in flight at the 250 ms deadline.
			e.srv.SetFaults(emulator.Faults{Latency: 150 * time.Millisecond, Sequence: []int{tc.first}})
			c, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
			defer cancel()
			_, err := e.store.Tags(c, id)
			if !errors.Is(err, tc.want) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("got %v, want %v unwrapping to context.DeadlineExceeded", err, tc.want)
			}
			var ke *Error
			if !errors.As(err, &ke) || ke.Status != tc.first {
				t.Errorf("got %#v, want the error of the %d answer", err, tc.first)
			}
		})
	}
}

// TestResumePositionLost: when every key the cursor kept to find its place
// again is gone, the resumed listing cannot tell where it stopped: it says
// so on its first page (Page.Inexact), and only then.
func TestResumePositionLost(t *testing.T) {
	fx := storetest.Fixtures(1200)
	e := newEnv(t, emulator.Options{Seed: seedFromFixtures(fx)}, nil)
	c := testCtx(t)
	first, err := e.store.List(c, "").Next(c)
	if err != nil {
		t.Fatal(err)
	}
	at := first.After(500)
	for _, tc := range []struct {
		name    string
		delete  bool
		inexact bool
	}{{"anchors present", false, false}, {"anchors deleted", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.delete {
				cur, err := decodeCursor(at)
				if err != nil || len(cur.Anchors) != maxAnchors {
					t.Fatalf("cursor %+v, %v: want %d anchors", cur, err, maxAnchors)
				}
				for _, id := range cur.Anchors {
					e.srv.DeleteKey(emulator.DefaultProject, id)
				}
			}
			l := e.store.List(c, at)
			p, err := l.Next(c)
			if err != nil {
				t.Fatal(err)
			}
			if p.Inexact != tc.inexact {
				t.Errorf("first resumed page Inexact = %t, want %t", p.Inexact, tc.inexact)
			}
			if next, err := l.Next(c); err == nil && next.Inexact {
				t.Error("a later page is marked inexact too")
			}
		})
	}
}
