package handler

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	testKey  = []byte("0123456789abcdef0123456789abcdef")
	testNow  = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	testBind = binding{scope: "kms https://kms.example project p1", policy: "digest-1", mode: ModeSweep}
)

// sealed returns c sealed under testKey, bound to testBind and issued now.
func sealed(c continuation) string {
	c.V, c.Scope, c.Policy, c.Issued = continuationVersion, testBind.scope, testBind.policy, testNow.Unix()
	return newSealer(testKey, 0).seal(c)
}

func TestContinuationRoundTrip(t *testing.T) {
	s := newSealer(testKey, 0)
	tests := []continuation{
		{Mode: ModeSweep, List: true},
		{Mode: ModeSweep, DryRun: true, List: true, Cursor: "b:1000", IDs: []string{"a", "b"}},
		{Mode: ModeKeys, IDs: []string{"x"}},
		{Mode: ModeSweep, List: true, IDs: []string{"a"}, Touched: map[string]map[string]*string{"a": {"env": ptr("PROD "), "owner": nil}}},
	}
	for _, c := range tests {
		c.V, c.Scope, c.Policy, c.Issued = continuationVersion, testBind.scope, testBind.policy, testNow.Unix()
		tok := s.seal(c)
		if strings.ContainsAny(tok, "+/=") {
			t.Errorf("token %q is not base64url without padding", tok)
		}
		want := testBind
		want.mode, want.dryRun = c.Mode, c.DryRun
		got, err := s.open(tok, want, testNow.Add(time.Hour))
		if err != nil {
			t.Fatalf("open %+v: %v", c, err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

// TestContinuationRefused: forged, altered, foreign and stale tokens are
// refused, each with a reason that does not repeat the token.
func TestContinuationRefused(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	good := sealed(continuation{Mode: ModeSweep, List: true, Cursor: "c"})
	payload, _, _ := strings.Cut(good, ".")
	other := newSealer([]byte("another-deployment-key-0123456789"), 0)
	foreign := func(mut func(*continuation)) string {
		c := continuation{V: continuationVersion, Scope: testBind.scope, Policy: testBind.policy, Issued: testNow.Unix(), Mode: ModeSweep, List: true}
		mut(&c)
		return newSealer(testKey, 0).seal(c)
	}
	tests := []struct {
		name, tok string
		want      string
	}{
		// Hand-made: the example of a token that skipped keys.
		{"hand-made v1", enc(`{"v":1,"m":"sweep","l":true,"n":999}`), "no signature"},
		{"hand-made with a made-up mac", enc(`{"v":2,"m":"sweep","l":true}`) + "." + enc("mac"), "does not verify"},
		{"altered payload", enc(`{"v":2,"s":"`+testBind.scope+`","m":"sweep","l":true,"c":"far"}`) + good[strings.Index(good, "."):], "does not verify"},
		{"another key", other.seal(continuation{V: continuationVersion, Scope: testBind.scope, Policy: testBind.policy, Issued: testNow.Unix(), Mode: ModeSweep, List: true}), "does not verify"},
		{"truncated", good[:len(good)-3], "does not verify"},
		{"no mac", payload, "no signature"},
		{"another project", foreign(func(c *continuation) { c.Scope = "kms https://kms.example project p2" }), `on "kms https://kms.example project p2", not on`},
		{"another policy set", foreign(func(c *continuation) { c.Policy = "digest-0" }), "another policy set"},
		{"another mode", foreign(func(c *continuation) { c.Mode, c.List, c.IDs = ModeKeys, false, []string{"a"} }), `resumes a "keys" request, not "sweep"`},
		{"dry run", foreign(func(c *continuation) { c.DryRun = true }), "dry_run=true, not false"},
		{"stale", foreign(func(c *continuation) { c.Issued = testNow.Add(-25 * time.Hour).Unix() }), "more than 24h0m0s"},
		{"future", foreign(func(c *continuation) { c.Issued = testNow.Add(time.Hour).Unix() }), "in the future"},
		{"version", foreign(func(c *continuation) { c.V = 1 }), "token version 1, want 2"},
		{"position without listing", foreign(func(c *continuation) { c.List, c.Cursor, c.IDs = false, "x", []string{"a"} }), "without a listing"},
		{"nothing to do", foreign(func(c *continuation) { c.List = false }), "nothing left to do"},
		{"empty id", foreign(func(c *continuation) { c.IDs = []string{""} }), "empty key id"},
		{"touched key not resumed", foreign(func(c *continuation) {
			c.IDs, c.Touched = []string{"a"}, map[string]map[string]*string{"b": {"env": nil}}
		}), `key "b", which is not to be resumed`},
		{"too long", strings.Repeat("A", MaxContinuationLen+1), "more than"},
	}
	s := newSealer(testKey, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.open(tt.tok, testBind, testNow)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
			if len(tt.tok) > 8 && strings.Contains(err.Error(), tt.tok) {
				t.Errorf("the error repeats the token: %v", err)
			}
		})
	}
}

// TestContinuationRandomKey: a handler built without a key issues tokens
// that only it accepts.
func TestContinuationRandomKey(t *testing.T) {
	a, b := newSealer(nil, 0), newSealer(nil, 0)
	c := continuation{V: continuationVersion, Scope: testBind.scope, Policy: testBind.policy, Issued: testNow.Unix(), Mode: ModeSweep, List: true}
	tok := a.seal(c)
	if _, err := a.open(tok, testBind, testNow); err != nil {
		t.Errorf("own token refused: %v", err)
	}
	if _, err := b.open(tok, testBind, testNow); err == nil {
		t.Error("another process's random key accepted the token")
	}
}

func FuzzOpenContinuation(f *testing.F) {
	f.Add(sealed(continuation{Mode: ModeSweep, List: true, Cursor: "c"}), false)
	f.Add(sealed(continuation{Mode: ModeKeys, IDs: []string{"a"}}), false)
	f.Add("", true)
	f.Add("e30.e30", false)
	s := newSealer(testKey, 0)
	f.Fuzz(func(t *testing.T, tok string, dry bool) {
		for _, mode := range []Mode{ModeSweep, ModeKeys} {
			want := testBind
			want.mode, want.dryRun = mode, dry
			c, err := s.open(tok, want, testNow)
			if err != nil {
				continue
			}
			if c.Mode != mode || c.DryRun != dry || c.V != continuationVersion || c.Scope != want.scope {
				t.Fatalf("accepted inconsistent token %+v", c)
			}
			again, err := s.open(s.seal(c), want, testNow)
			if err != nil {
				t.Fatalf("re-sealed token refused: %v", err)
			}
			if diff := cmp.Diff(c, again); diff != "" {
				t.Fatalf("re-sealing changed the token (-first +again):\n%s", diff)
			}
		}
	})
}

func ptr[T any](v T) *T { return &v }

func TestContinuationOfMaxKeysFits(t *testing.T) {
	ids := make([]string, MaxKeyIDs)
	for i := range ids {
		ids[i] = "0b1f2e3d-4c5b-4a79-8877-665544332211"
	}
	tok := sealed(continuation{Mode: ModeKeys, IDs: ids})
	want := testBind
	want.mode = ModeKeys
	if _, err := newSealer(testKey, 0).open(tok, want, testNow); err != nil {
		t.Errorf("token of %d key ids refused: %v", MaxKeyIDs, err)
	}
}

// TestContinuationCanonical: a token is accepted in its one encoding only;
// another spelling of the same bytes (spare bits set in the last
// character) is refused like any altered token.
func TestContinuationCanonical(t *testing.T) {
	good := sealed(continuation{Mode: ModeSweep, List: true, Cursor: "c"})
	s := newSealer(testKey, 0)
	if _, err := s.open(good, testBind, testNow); err != nil {
		t.Fatalf("the token itself: %v", err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	want, _ := base64.RawURLEncoding.DecodeString(good[strings.Index(good, ".")+1:])
	tried := 0
	for _, c := range alphabet {
		alt := good[:len(good)-1] + string(c)
		if alt == good {
			continue
		}
		if got, err := base64.RawURLEncoding.DecodeString(alt[strings.Index(alt, ".")+1:]); err != nil || string(got) != string(want) {
			continue // not the same bytes
		}
		tried++
		if _, err := s.open(alt, testBind, testNow); err == nil {
			t.Errorf("another spelling of the signature, ending %q, was accepted", c)
		}
	}
	if tried == 0 {
		t.Fatal("no other spelling found: the test checks nothing")
	}
}
