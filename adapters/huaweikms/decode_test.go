package huaweikms

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/utils"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/policy"
)

type exchange struct {
	Method       string          `json:"method"`
	URI          string          `json:"uri"`
	Status       int             `json:"status"`
	ResponseBody json.RawMessage `json:"response_body"`
}

func recorded(t *testing.T) []exchange {
	t.Helper()
	b, err := os.ReadFile("testdata/kms_query.json")
	if err != nil {
		t.Fatal(err)
	}
	var ex []exchange
	if err := json.Unmarshal(b, &ex); err != nil {
		t.Fatal(err)
	}
	if len(ex) != 3 {
		t.Fatalf("got %d recorded exchanges, want 3", len(ex))
	}
	return ex
}

// TestRecordedListKeys decodes the live list-keys page with the SDK's model
// (as the adapter does) and converts it.
func TestRecordedListKeys(t *testing.T) {
	ex := recorded(t)[0]
	var resp model.ListKeysResponse
	if err := utils.Unmarshal(ex.ResponseBody, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Truncated == nil || resp.Truncated.Value() != "false" || resp.NextMarker == nil || *resp.NextMarker != "" {
		t.Errorf("paging fields: %+v %+v", resp.Truncated, resp.NextMarker)
	}
	var keys []policy.Key
	for i := range *resp.KeyDetails {
		keys = append(keys, fromModel(&(*resp.KeyDetails)[i]).key())
	}
	if len(keys) != 6 {
		t.Fatalf("got %d keys, want 6", len(keys))
	}
	want0 := policy.Key{ID: "17368998-bdca-4302-95ee-8925d139a29f", Alias: "KMS-2990", State: policy.StateEnabled, Spec: "AES_256",
		Usage: "ENCRYPT_DECRYPT", Origin: "kms", Created: time.UnixMilli(1716661217000).UTC(), EnterpriseProject: "0", Keystore: "0"}
	if diff := cmp.Diff(want0, keys[0]); diff != "" {
		t.Errorf("first key (-want +got):\n%s", diff)
	}
	var defaults []string
	for _, k := range keys {
		if k.Default {
			defaults = append(defaults, k.Alias)
		}
	}
	if diff := cmp.Diff([]string{"evs/default", "kps/default", "csms/default"}, defaults); diff != "" {
		t.Errorf("default keys (-want +got):\n%s", diff)
	}
	if keys[2].EnterpriseProject != "1812c907-ecef-41ac-b5da-1d99d17e15ce" {
		t.Errorf("enterprise project: got %q", keys[2].EnterpriseProject)
	}
}

// TestRecordedBulk decodes the live resource_instances page: the key sits
// under key_details with no resource_id.
func TestRecordedBulk(t *testing.T) {
	ex := recorded(t)[2]
	recs, n, total, skipped, err := decodeBulk(ex.ResponseBody)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || total != 1 || skipped != 0 || len(recs) != 1 {
		t.Fatalf("got n=%d total=%d skipped=%d recs=%d, want 1 1 0 1", n, total, skipped, len(recs))
	}
	if recs[0].Key.ID != "17368998-bdca-4302-95ee-8925d139a29f" || recs[0].Tags == nil || len(recs[0].Tags) != 0 {
		t.Errorf("got %+v, want the key with an empty tag map", recs[0])
	}
	// The SDK's own model loses the id: why the adapter decodes it itself.
	var sdk model.ListKmsByTagsResponse
	if err := utils.Unmarshal(ex.ResponseBody, &sdk); err != nil {
		t.Fatal(err)
	}
	if r := (*sdk.Resources)[0]; r.ResourceId != nil || r.ResourceDetail != nil {
		t.Errorf("the SDK model now decodes the live shape: %+v", r)
	}
}

func TestRecordedAuthFailure(t *testing.T) {
	ex := recorded(t)[1]
	if ex.Status != 401 || !strings.Contains(string(ex.ResponseBody), "APIGW.0301") {
		t.Fatalf("unexpected fixture %+v", ex)
	}
	if got := requestIDFromBody(ex.ResponseBody); got != "59a2e407ee471a94573b2510cc6db323" {
		t.Errorf("request id: got %q", got)
	}
}

func TestDecodeBulkShapes(t *testing.T) {
	const id1, id2 = "11111111-2222-4333-8444-555555555555", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
	cases := []struct {
		name        string
		body        string
		wantIDs     []string
		wantTags    []map[string]string
		wantSkipped int
		wantTotal   int
		wantErr     bool
	}{
		{"documented", `{"resources":[{"resource_id":"` + id1 + `","resource_name":"a","resource_detail":{"key_id":"` + id1 + `","key_state":"2","creation_date":"1700000000000"},"tags":[{"key":"owner","value":"x"}]}],"total_count":1}`,
			[]string{id1}, []map[string]string{{"owner": "x"}}, 0, 1, false},
		{"documented numbers", `{"resources":[{"resource_id":"` + id1 + `","resource_detail":{"key_state":2,"creation_date":1700000000000,"default_key_flag":0,"key_rotation_enabled":true},"tags":[]}],"total_count":"1"}`,
			[]string{id1}, []map[string]string{{}}, 0, 1, false},
		{"live", `{"resources":[{"key_details":{"key_id":"` + id2 + `"},"tags":[{"key":"a","value":""}]}],"total_count":1}`,
			[]string{id2}, []map[string]string{{"a": ""}}, 0, 1, false},
		{"id only", `{"resources":[{"resource_id":"` + id1 + `","tags":[]}]}`,
			[]string{id1}, []map[string]string{{}}, 0, -1, false},
		{"no id", `{"resources":[{"resource_detail":{"key_alias":"x"},"tags":[]},{"key_details":{"key_id":"` + id2 + `"},"tags":[]}],"total_count":2}`,
			[]string{id2}, []map[string]string{{}}, 1, 2, false},
		{"no tags field", `{"resources":[{"resource_id":"` + id1 + `"}],"total_count":1}`,
			nil, nil, 1, 1, false},
		{"bad entry", `{"resources":[{"resource_id":{"x":1},"tags":[]},{"resource_id":"` + id2 + `","tags":null}],"total_count":2}`,
			nil, nil, 2, 2, false},
		{"conflicting ids", `{"resources":[{"resource_id":"` + id1 + `","resource_detail":{"key_id":"` + id2 + `"},"tags":[]}]}`,
			nil, nil, 1, -1, false},
		{"empty page", `{"resources":[],"total_count":0}`, nil, nil, 0, 0, false},
		{"not json", `<html>`, nil, nil, 0, 0, true},
		{"no resources", `{"total_count":3}`, nil, nil, 0, 0, true},
		{"resources not array", `{"resources":{}}`, nil, nil, 0, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			recs, _, total, skipped, err := decodeBulk([]byte(tc.body))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			var gotIDs []string
			var gotTags []map[string]string
			for _, r := range recs {
				gotIDs = append(gotIDs, r.Key.ID)
				gotTags = append(gotTags, r.Tags)
			}
			if diff := cmp.Diff(tc.wantIDs, gotIDs); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantTags, gotTags); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
			if skipped != tc.wantSkipped || total != tc.wantTotal {
				t.Errorf("skipped %d total %d, want %d %d", skipped, total, tc.wantSkipped, tc.wantTotal)
			}
		})
	}
}

func TestKeyDetailsToKey(t *testing.T) {
	cases := []struct {
		name string
		d    keyDetails
		want policy.Key
	}{
		{"states and flags", keyDetails{KeyID: "k", KeyState: "4", DefaultKeyFlag: "0", KeyRotationEnabled: "true", KeystoreID: "ks1"},
			policy.Key{ID: "k", State: policy.StatePendingDeletion, RotationEnabled: true, Keystore: "ks1"}},
		{"default by flag", keyDetails{KeyID: "k", KeyState: "1", DefaultKeyFlag: "1"}, policy.Key{ID: "k", State: policy.StatePendingActivation, Default: true}},
		{"default by alias", keyDetails{KeyID: "k", KeyState: "5", KeyAlias: "obs/default"}, policy.Key{ID: "k", Alias: "obs/default", State: policy.StatePendingImport, Default: true}},
		{"unknown state, bad date", keyDetails{KeyID: "k", KeyState: "9", CreationDate: "yesterday"}, policy.Key{ID: "k", State: "unknown"}},
		{"created", keyDetails{KeyID: "k", KeyState: "3", CreationDate: "1679067631000"}, policy.Key{ID: "k", State: policy.StateDisabled, Created: time.Date(2023, 3, 17, 15, 40, 31, 0, time.UTC)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.d.key()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCursor(t *testing.T) {
	for _, c := range []cursor{{Phase: phaseBulk}, {Phase: phaseBulk, Offset: 3000}, {Phase: phaseKeys, Marker: "abc", Limit: 500}, {Phase: phaseKeys, Marker: "abc", Skip: 3, Anchors: []string{"k1", "k2", "k3"}}, {Phase: phaseBulk, Offset: 1000, Skip: 999, Anchors: []string{"x"}}, {Phase: phaseDone}} {
		got, err := decodeCursor(c.encode())
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Errorf("round trip of %+v: got %+v, %v", c, got, err)
		}
	}
	for _, bad := range []string{"%%%", "bm90IGpzb24", "eyJwIjo5fQ", "eyJwIjoxLCJvIjotNX0",
		cursor{Phase: phaseBulk, Skip: 3}.encode(),                                                                 // a position without its anchors
		cursor{Phase: phaseBulk, Skip: maxPageSize + 1, Anchors: []string{"k"}}.encode(),                           // past any page
		cursor{Phase: phaseBulk, Skip: 9, Anchors: []string{"1", "2", "3", "4", "5", "6", "7", "8", "9"}}.encode(), // too many anchors
		cursor{Phase: phaseBulk, Skip: 2, Anchors: []string{"", "k"}}.encode(),                                     // an empty anchor
		base64.RawURLEncoding.EncodeToString([]byte(`{"p":1,"b":7}`)),                                              // unknown field
	} {
		if _, err := decodeCursor(bad); err == nil {
			t.Errorf("decodeCursor(%q) accepted", bad)
		}
	}
}

func TestIDSet(t *testing.T) {
	s := newIDSet()
	for _, id := range []string{"17368998-bdca-4302-95ee-8925d139a29f", "legacy_id"} {
		if !s.add(id) || s.add(id) || !s.has(id) {
			t.Errorf("set semantics broken for %q", id)
		}
	}
	if s.has("17368998-bdca-4302-95ee-8925d139a29e") || len(s.recent) != 1 || len(s.other) != 1 {
		t.Errorf("unexpected content: %d uuids %d others", len(s.recent)+len(s.sorted), len(s.other))
	}
}

// TestIDSetAgainstMap adds and looks up ids in an order with repeats, far
// past several merges, and compares every answer with a plain map's.
func TestIDSetAgainstMap(t *testing.T) {
	const n = 20000
	ids := make([]string, 0, n+n/10)
	for i, k := range emulator.SampleKeys(n, 4) {
		ids = append(ids, k.ResourceID)
		if i%10 == 0 {
			ids = append(ids, fmt.Sprintf("legacy-%d", i))
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	s, want := newIDSet(), map[string]bool{}
	for i := 0; i < 3*len(ids); i++ {
		id := ids[r.IntN(min(len(ids), i/2+1))] // new ids early, repeats later
		if got := s.has(id); got != want[id] {
			t.Fatalf("step %d: has(%s) = %v, want %v", i, id, got, want[id])
		}
		if got := s.add(id); got == want[id] {
			t.Fatalf("step %d: add(%s) = %v, want %v", i, id, got, !want[id])
		}
		want[id] = true
	}
	if s.len() != len(want) {
		t.Errorf("set holds %d ids, want %d", s.len(), len(want))
	}
	if !slices.IsSortedFunc(s.sorted, compareUUID) || len(s.sorted) < n/2 {
		t.Errorf("sorted part: %d ids, sorted %v", len(s.sorted), slices.IsSortedFunc(s.sorted, compareUUID))
	}
	for i := 1; i < len(s.sorted); i++ {
		if s.sorted[i-1] == s.sorted[i] {
			t.Fatalf("id %x twice in the sorted part", s.sorted[i])
		}
	}
	for _, id := range []string{"00000000-0000-4000-8000-000000000000", "ffffffff-ffff-4fff-bfff-ffffffffffff", "legacy-x"} {
		if s.has(id) {
			t.Errorf("has(%s) of an id never added", id)
		}
	}
}

func FuzzDecodeBulk(f *testing.F) {
	b, err := os.ReadFile("testdata/kms_query.json")
	if err != nil {
		f.Fatal(err)
	}
	var ex []exchange
	if err := json.Unmarshal(b, &ex); err != nil {
		f.Fatal(err)
	}
	for _, e := range ex {
		f.Add([]byte(e.ResponseBody))
	}
	f.Add([]byte(`{"resources":[{"resource_id":"x","resource_detail":{"key_state":2},"tags":[{"key":1,"value":null}]}],"total_count":"7"}`))
	f.Add([]byte(`{"resources":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, n, _, skipped, err := decodeBulk(data)
		if err != nil {
			return
		}
		if len(recs)+skipped != n {
			t.Errorf("records %d + skipped %d != entries %d", len(recs), skipped, n)
		}
		for _, r := range recs {
			if r.Key.ID == "" || r.Tags == nil {
				t.Errorf("record without id or tags: %+v", r)
			}
		}
	})
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(cursor{Phase: phaseKeys, Marker: "m", Skip: 5, Anchors: []string{"k"}}.encode())
	f.Add("")
	f.Add("e30")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor(s)
		if err != nil {
			return
		}
		if c.Phase < phaseBulk || c.Phase > phaseDone || c.Offset < 0 || c.Skip < 0 || (c.Skip > 0) != (len(c.Anchors) > 0) || len(c.Anchors) > maxAnchors {
			t.Errorf("accepted %+v", c)
		}
	})
}
