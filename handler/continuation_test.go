package handler

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestContinuationRoundTrip(t *testing.T) {
	tests := []continuation{
		{V: 1, Mode: ModeSweep, List: true},
		{V: 1, Mode: ModeSweep, DryRun: true, List: true, Cursor: "b:1000", Done: 17, LastID: "k-17", IDs: []string{"a", "b"}},
		{V: 1, Mode: ModeKeys, IDs: []string{"x"}},
		{V: 1, Mode: ModeSweep, List: true, IDs: []string{"a"}, Touched: map[string]map[string]*string{"a": {"env": ptr("PROD "), "owner": nil}}},
	}
	for _, c := range tests {
		tok := c.encode()
		if strings.ContainsAny(tok, "+/=") {
			t.Errorf("token %q is not base64url without padding", tok)
		}
		got, err := decodeContinuation(tok, c.Mode, c.DryRun)
		if err != nil {
			t.Fatalf("decode %+v: %v", c, err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestContinuationInvalid(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, tok string
		mode      Mode
		dry       bool
		want      string
	}{
		{"not base64", "!!!", ModeSweep, false, "bad encoding"},
		{"not json", enc("hello"), ModeSweep, false, "bad content"},
		{"version", enc(`{"v":2,"m":"sweep","l":true}`), ModeSweep, false, "token version 2, want 1"},
		{"mode", enc(`{"v":1,"m":"keys","k":["a"]}`), ModeSweep, false, `resumes a "keys" request, not "sweep"`},
		{"dry run", enc(`{"v":1,"m":"sweep","l":true}`), ModeSweep, true, "dry_run=false, not true"},
		{"negative", enc(`{"v":1,"m":"sweep","l":true,"n":-1}`), ModeSweep, false, "negative record count"},
		{"keys listing", enc(`{"v":1,"m":"keys","l":true}`), ModeKeys, false, "no listing"},
		{"position without listing", enc(`{"v":1,"m":"sweep","c":"x"}`), ModeSweep, false, "without a listing"},
		{"empty id", enc(`{"v":1,"m":"keys","k":[""]}`), ModeKeys, false, "empty key id"},
		{"touched key not resumed", enc(`{"v":1,"m":"keys","k":["a"],"t":{"b":{"env":null}}}`), ModeKeys, false, `key "b", which is not to be resumed`},
		{"too long", strings.Repeat("A", maxContinuationLen+1), ModeSweep, false, "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeContinuation(tt.tok, tt.mode, tt.dry)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func FuzzDecodeContinuation(f *testing.F) {
	f.Add(continuation{V: 1, Mode: ModeSweep, List: true, Cursor: "c", Done: 3, LastID: "k"}.encode(), false)
	f.Add(continuation{V: 1, Mode: ModeKeys, IDs: []string{"a"}}.encode(), false)
	f.Add("", true)
	f.Add("e30", false)
	f.Fuzz(func(t *testing.T, tok string, dry bool) {
		for _, mode := range []Mode{ModeSweep, ModeKeys} {
			c, err := decodeContinuation(tok, mode, dry)
			if err != nil {
				continue
			}
			if c.Mode != mode || c.DryRun != dry || c.Done < 0 || c.V != continuationVersion {
				t.Fatalf("accepted inconsistent token %+v", c)
			}
			again, err := decodeContinuation(c.encode(), mode, dry)
			if err != nil {
				t.Fatalf("re-encoded token refused: %v", err)
			}
			if diff := cmp.Diff(c, again); diff != "" {
				t.Fatalf("re-encode changed the token (-first +again):\n%s", diff)
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
	c := continuation{V: 1, Mode: ModeKeys, IDs: ids}
	if _, err := decodeContinuation(c.encode(), ModeKeys, false); err != nil {
		t.Errorf("token of %d key ids refused: %v", MaxKeyIDs, err)
	}
}
