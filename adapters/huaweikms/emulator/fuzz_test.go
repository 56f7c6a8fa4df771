package emulator_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
)

func FuzzLoadSeed(f *testing.F) {
	f.Add(`[{"resource_id":"k1","resource_detail":{"key_spec":"SM4"},"tags":[{"key":"a","value":"b"}]}]`)
	f.Add(`{"resources":[{"key_details":{"key_id":"k1"},"tags":[]}]}`)
	f.Add(`[{"project_id":"p","resource_id":"k","resource_name":"n"}]`)
	f.Add(`[]`)
	f.Add(`{}`)
	f.Add(`[{"resource_id":"k1","tags":[{"key":"_sys_","value":"\u0000"}]}]`)
	f.Fuzz(func(t *testing.T, in string) {
		keys, err := emulator.LoadSeed(strings.NewReader(in))
		if err != nil {
			return
		}
		// What loads, round-trips.
		data, err := json.Marshal(keys)
		if err != nil {
			t.Fatal(err)
		}
		again, err := emulator.LoadSeed(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("reload of %s: %v", data, err)
		}
		if diff := cmp.Diff(keys, again, cmp.Comparer(func(a, b []emulator.Tag) bool {
			return len(a) == len(b) && (len(a) == 0 || cmp.Equal(a, b))
		})); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}

// FuzzTagsAction sends arbitrary bodies to tags/action: the answer is 204 or
// a 4xx error, and the key's tags always obey the rules.
func FuzzTagsAction(f *testing.F) {
	for _, s := range []string{
		`{"action":"create","tags":[{"key":"env","value":"prod"}]}`,
		`{"action":"delete","tags":[{"key":"owner"}]}`,
		`{"action":"create","tags":[{"key":"a*","value":""}]}`,
		`{"action":"create","tags":[{"key":"k","value":"v"}],"sequence":"919c82d4-8046-4722-9094-35c3c6524cff"}`,
		`{"action":"update","tags":[]}`,
		`{"action":"create","tags":[{"key":"` + strings.Repeat("x", 37) + `"}]}`,
		`not json`,
		``,
	} {
		f.Add(s)
	}
	s, err := emulator.New(emulator.Options{Seed: tagSeed()})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		before, _ := s.Tags("", plainKey)
		req := signed(t, "http://emulator.local", raw{method: "POST", path: path(plainKey + "/tags/action"), body: body})
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		after, _ := s.Tags("", plainKey)
		switch {
		case rec.Code == 204:
		case rec.Code == 400:
			var e struct {
				Error struct {
					Code string `json:"error_code"`
					Msg  string `json:"error_msg"`
				} `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || !strings.HasPrefix(e.Error.Code, "KMS.") || e.Error.Msg == "" {
				t.Fatalf("400 body %q: %v", rec.Body, err)
			}
			if !cmp.Equal(before, after) {
				t.Fatalf("a rejected write changed the tags: %v -> %v", before, after)
			}
		default:
			t.Fatalf("got status %d %s", rec.Code, rec.Body)
		}
		if len(after) > emulator.DefaultMaxTags {
			t.Fatalf("key has %d tags", len(after))
		}
		for k, v := range after {
			if k == "" || utf8.RuneCountInString(k) > emulator.MaxTagKeyLen || utf8.RuneCountInString(v) > emulator.MaxTagValueLen ||
				strings.ContainsAny(k+v, "*<>\\=") || strings.HasPrefix(k, "_sys_") {
				t.Fatalf("stored an invalid tag %q=%q", k, v)
			}
			for _, c := range k + v {
				if c < 32 {
					t.Fatalf("stored a control character in %q=%q", k, v)
				}
			}
		}
	})
}

// FuzzListBodies sends arbitrary bodies to the listing calls: the answer is
// 200 with the documented fields or 400 with a KMS error.
func FuzzListBodies(f *testing.F) {
	for _, s := range []string{`{"key_spec":"ALL","limit":"2"}`, `{"marker":"1.x"}`, `{"action":"filter","limit":"3","offset":"1"}`,
		`{"action":"count","tags":[{"key":"env","values":["prod"]}]}`, `{"limit":"-1"}`, `[]`, `null`} {
		f.Add(false, s)
		f.Add(true, s)
	}
	s, err := emulator.New(emulator.Options{Seed: emulator.SampleKeys(30, 1)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, bulk bool, body string) {
		p := path("list-keys")
		if bulk {
			p = path("resource_instances/action")
		}
		req := signed(t, "http://emulator.local", raw{method: "POST", path: p, body: body})
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("status %d body %q: %v", rec.Code, rec.Body, err)
		}
		switch rec.Code {
		case 200:
			_, ok1 := m["total"]
			_, ok2 := m["total_count"]
			if !ok1 && !ok2 {
				t.Fatalf("200 without a total: %v", m)
			}
		case 400:
			if !strings.HasPrefix(errorCode(m), "KMS.") {
				t.Fatalf("400 without a KMS code: %v", m)
			}
		default:
			t.Fatalf("got status %d %v", rec.Code, m)
		}
	})
}
