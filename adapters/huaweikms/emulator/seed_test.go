package emulator_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
)

var update = flag.Bool("update", false, "rewrite testdata/sample-seed.json")

func TestSampleSeedFile(t *testing.T) {
	want, err := json.MarshalIndent(emulator.SampleKeys(20, 1), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *update {
		if err := os.WriteFile("testdata/sample-seed.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open("testdata/sample-seed.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys, err := emulator.LoadSeed(f)
	if err != nil {
		t.Fatalf("LoadSeed: %v", err)
	}
	if diff := cmp.Diff(emulator.SampleKeys(20, 1), keys); diff != "" {
		t.Errorf("testdata/sample-seed.json differs from SampleKeys(20, 1) (run with -update) (-want +got):\n%s", diff)
	}
}

func TestLoadSeed(t *testing.T) {
	const id = "11111111-1111-4111-8111-111111111111"
	tests := []struct {
		name, in string
		want     []emulator.SeedKey
		err      string // substring; "" = success
	}{
		{name: "documented shape", in: `[{"resource_id":"` + id + `","resource_detail":{"key_alias":"a","key_spec":"SM4"},"tags":[{"key":"env","value":"prod"}]}]`,
			want: []emulator.SeedKey{{ResourceID: id, ResourceDetail: emulator.KeyDetails{KeyID: id, KeyAlias: "a", KeySpec: "SM4"}, Tags: []emulator.Tag{{Key: "env", Value: "prod"}}}}},
		{name: "live shape", in: `[{"key_details":{"key_id":"` + id + `","key_alias":"a"},"tags":[]}]`,
			want: []emulator.SeedKey{{ResourceID: id, ResourceDetail: emulator.KeyDetails{KeyID: id, KeyAlias: "a"}, Tags: []emulator.Tag{}}}},
		{name: "a response object", in: `{"total_count":1,"resources":[{"resource_id":"` + id + `","resource_name":"nm"}]}`,
			want: []emulator.SeedKey{{ResourceID: id, ResourceDetail: emulator.KeyDetails{KeyID: id, KeyAlias: "nm"}}}},
		{name: "project", in: `[{"project_id":"p2","resource_id":"` + id + `"}]`,
			want: []emulator.SeedKey{{ProjectID: "p2", ResourceID: id, ResourceDetail: emulator.KeyDetails{KeyID: id}}}},
		{name: "same id in two projects", in: `[{"project_id":"p2","resource_id":"` + id + `"},{"resource_id":"` + id + `"}]`,
			want: []emulator.SeedKey{{ProjectID: "p2", ResourceID: id, ResourceDetail: emulator.KeyDetails{KeyID: id}},
				{ResourceID: id, ResourceDetail: emulator.KeyDetails{KeyID: id}}}},
		{name: "empty array", in: `[]`, want: []emulator.SeedKey{}},
		{name: "malformed JSON", in: `[{"resource_id":`, err: "decode seed"},
		{name: "not an array", in: `"keys"`, err: "decode seed"},
		{name: "object without resources", in: `{"keys":[]}`, err: "no resources array"},
		{name: "no id", in: `[{"tags":[]}]`, err: "entry 0: no resource_id and no key_id"},
		{name: "ids differ", in: `[{"resource_id":"` + id + `","resource_detail":{"key_id":"other"}}]`, err: "differs"},
		{name: "both details", in: `[{"resource_id":"` + id + `","resource_detail":{},"key_details":{}}]`, err: "both"},
		{name: "malformed id", in: `[{"resource_id":"a b"}]`, err: "malformed key id"},
		{name: "listed twice", in: `[{"resource_id":"` + id + `"},{"resource_id":"` + id + `"}]`, err: "entry 1: key " + id + " listed twice"},
		{name: "bad creation date", in: `[{"resource_id":"` + id + `","resource_detail":{"creation_date":"2024-01-01"}}]`, err: "epoch milliseconds"},
		{name: "unknown spec", in: `[{"resource_id":"` + id + `","resource_detail":{"key_spec":"AES_128"}}]`, err: "key_spec"},
		{name: "unknown state", in: `[{"resource_id":"` + id + `","resource_detail":{"key_state":"7"}}]`, err: "key_state"},
		{name: "bad default flag", in: `[{"resource_id":"` + id + `","resource_detail":{"default_key_flag":"yes"}}]`, err: "default_key_flag"},
		{name: "tagged default key", in: `[{"resource_id":"` + id + `","resource_detail":{"default_key_flag":"1"},"tags":[{"key":"a","value":""}]}]`, err: "default key"},
		{name: "bad tag key", in: `[{"resource_id":"` + id + `","tags":[{"key":"a=b","value":""}]}]`, err: `tag key "a=b": key contains forbidden character '='`},
		{name: "reserved tag key", in: `[{"resource_id":"` + id + `","tags":[{"key":"_sys_x","value":""}]}]`, err: "reserved prefix"},
		{name: "bad tag value", in: `[{"resource_id":"` + id + `","tags":[{"key":"a","value":"` + strings.Repeat("x", 44) + `"}]}]`, err: "longer than 43"},
		{name: "duplicate tag", in: `[{"resource_id":"` + id + `","tags":[{"key":"a","value":""},{"key":"a","value":"1"}]}]`, err: "given twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := emulator.LoadSeed(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("seed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	eleven := make([]emulator.Tag, 11)
	for i := range eleven {
		eleven[i] = emulator.Tag{Key: string(rune('a' + i))}
	}
	tests := []struct {
		name string
		opts emulator.Options
		err  string
	}{
		{"unknown project", emulator.Options{Seed: []emulator.SeedKey{{ProjectID: "nope", ResourceID: "k1"}}}, `project "nope" is not served`},
		{"too many tags", emulator.Options{Seed: []emulator.SeedKey{{ResourceID: "k1", Tags: eleven}}}, "11 tags, more than 10"},
		{"bad project id", emulator.Options{Projects: []string{"a/b"}}, "invalid project id"},
		{"bad key", emulator.Options{Seed: []emulator.SeedKey{{ResourceID: "k 1"}}}, "malformed key id"},
		{"twice", emulator.Options{Seed: []emulator.SeedKey{{ResourceID: "k1"}, {ProjectID: emulator.DefaultProject, ResourceID: "k1"}}}, "listed twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := emulator.New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("got %v, want an error containing %q", err, tc.err)
			}
		})
	}
	if _, err := emulator.New(emulator.Options{MaxTags: 11, Seed: []emulator.SeedKey{{ResourceID: "k1", Tags: eleven}}}); err != nil {
		t.Errorf("MaxTags 11: %v", err)
	}
}

func TestStateReadBack(t *testing.T) {
	s, err := emulator.New(emulator.Options{Projects: []string{"p1", "p2"}, Seed: []emulator.SeedKey{
		{ResourceID: "b-key", Tags: []emulator.Tag{{Key: "z", Value: "1"}, {Key: "a", Value: "2"}}},
		{ProjectID: "p2", ResourceID: "a-key"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	keys := s.Keys("p1")
	if len(keys) != 1 || keys[0].ResourceID != "b-key" || keys[0].ProjectID != "p1" {
		t.Fatalf("got %+v", keys)
	}
	d := keys[0].ResourceDetail
	if d.KeySpec != "AES_256" || d.KeyState != "2" || d.DefaultKeyFlag != "0" || d.KeyAlias == "" || d.Realm == "" ||
		d.CreationDate == "" || d.KeystoreType != "DEFAULT" || d.MultiRegionKeyType != "SINGLE" || d.KeyID != "b-key" {
		t.Errorf("defaults not filled: %+v", d)
	}
	if diff := cmp.Diff([]emulator.Tag{{Key: "a", Value: "2"}, {Key: "z", Value: "1"}}, keys[0].Tags); diff != "" {
		t.Errorf("tags sorted by key (-want +got):\n%s", diff)
	}
	if got := s.Keys(""); len(got) != 1 || got[0].ResourceID != "b-key" {
		t.Errorf("project \"\" is the first: got %+v", got)
	}
	if _, ok := s.Tags("p1", "a-key"); ok {
		t.Error("a-key found in p1, want only in p2")
	}
	// Keys() hands out copies.
	keys[0].Tags[0].Value = "changed"
	if tags, _ := s.Tags("p1", "b-key"); tags["a"] != "2" {
		t.Error("changing Keys' result changed the state")
	}
	s.AddKey("p2", emulator.SeedKey{ResourceID: "c-key", Tags: []emulator.Tag{{Key: "x", Value: "y"}}})
	s.AddKey("p2", emulator.SeedKey{ResourceID: "c-key", Tags: []emulator.Tag{{Key: "x", Value: "z"}}})
	if tags, ok := s.Tags("p2", "c-key"); !ok || tags["x"] != "z" || len(s.Keys("p2")) != 2 {
		t.Errorf("AddKey twice: got %v %v, %d keys", tags, ok, len(s.Keys("p2")))
	}
	s.DeleteKey("p2", "c-key")
	s.DeleteKey("p2", "never-there")
	if _, ok := s.Tags("p2", "c-key"); ok || len(s.Keys("p2")) != 1 {
		t.Error("DeleteKey left the key")
	}
	s.AddKey("p3", emulator.SeedKey{ResourceID: "d-key"})
	if len(s.Keys("p3")) != 1 {
		t.Error("AddKey to a new project")
	}
}

// TestHandler serves the emulator with httptest, as an http.Handler, in two projects.
func TestHandler(t *testing.T) {
	s, err := emulator.New(emulator.Options{Projects: []string{emulator.DefaultProject, "second"},
		Seed: []emulator.SeedKey{{ResourceID: "k1"}, {ProjectID: "second", ResourceID: "k2"}, {ProjectID: "second", ResourceID: "k3"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	for project, want := range map[string]float64{emulator.DefaultProject: 1, "second": 2} {
		status, body := call(t, srv.URL, raw{method: "POST", path: "/v1.0/" + project + "/kms/list-keys", body: `{}`,
			creds: creds{emulator.DefaultAK, emulator.DefaultSK, "", project}})
		if status != 200 || body["total"] != want {
			t.Errorf("%s: got %d %v, want total %v", project, status, body, want)
		}
	}
	// Listen twice is refused; Close then Listen again works.
	if _, err := s.Listen(""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Listen(""); err == nil {
		t.Error("second Listen: got nil, want an error")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	url, err := s.Listen("127.0.0.1:0")
	if err != nil || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("Listen again: %q %v", url, err)
	}
	s.Close()
}

func TestSampleKeys(t *testing.T) {
	keys := emulator.SampleKeys(1000, 3)
	if diff := cmp.Diff(keys, emulator.SampleKeys(1000, 3)); diff != "" {
		t.Fatal("SampleKeys is not deterministic")
	}
	if cmp.Equal(keys, emulator.SampleKeys(1000, 4)) {
		t.Fatal("seed ignored")
	}
	specs, states, ids, aliases := map[string]int{}, map[string]int{}, map[string]bool{}, map[string]bool{}
	mistakes := map[string]int{}
	for _, k := range keys {
		d := k.ResourceDetail
		specs[d.KeySpec]++
		states[d.KeyState]++
		if ids[k.ResourceID] || aliases[d.KeyAlias] {
			t.Fatalf("duplicate id or alias: %s %s", k.ResourceID, d.KeyAlias)
		}
		ids[k.ResourceID], aliases[d.KeyAlias] = true, true
		tags := map[string]string{}
		for _, tg := range k.Tags {
			tags[tg.Key] = tg.Value
			if strings.HasPrefix(tg.Key, "temp-") {
				mistakes["temp"]++
			}
			if tg.Key != "cost-center" && strings.Contains(strings.ReplaceAll(tg.Key, "_", "-"), "cost") {
				mistakes["cost"]++
			}
		}
		if d.DefaultKeyFlag == "1" {
			mistakes["default"]++
			continue
		}
		if len(k.Tags) == 0 {
			mistakes["untagged"]++
			continue
		}
		if _, ok := tags["owner"]; !ok {
			mistakes["no owner"]++
		}
		if tags["env"] == "PROD " {
			mistakes["PROD "]++
		}
		if (tags["env"] == "tmp" || tags["env"] == "test") && (strings.HasPrefix(d.KeyAlias, "prod-") || strings.HasPrefix(d.KeyAlias, "fin-")) {
			mistakes["tmp on prod"]++
		}
	}
	if len(specs) != 8 || states["2"] < 700 || states["3"] == 0 || states["4"] == 0 {
		t.Errorf("got specs %v states %v, want all 8 specs, mostly enabled, some disabled and pending deletion", specs, states)
	}
	for _, m := range []string{"temp", "cost", "default", "untagged", "no owner", "PROD ", "tmp on prod"} {
		if mistakes[m] == 0 {
			t.Errorf("no %q keys in the sample: %v", m, mistakes)
		}
	}
	// Every sample is a valid seed.
	data, _ := json.Marshal(keys)
	if _, err := emulator.LoadSeed(bytes.NewReader(data)); err != nil {
		t.Errorf("sample does not load: %v", err)
	}
	if _, err := emulator.New(emulator.Options{Seed: keys}); err != nil {
		t.Errorf("sample does not serve: %v", err)
	}
}
