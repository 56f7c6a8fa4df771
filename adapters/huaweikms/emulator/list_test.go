package emulator_test

import (
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
)

// listAll pages list-keys through the SDK and returns the ids in order and
// the number of calls.
func listAll(t *testing.T, c interface {
	ListKeys(*model.ListKeysRequest) (*model.ListKeysResponse, error)
}, body model.ListKeysRequestBody) ([]string, int) {
	t.Helper()
	var ids []string
	calls := 0
	fromStart := body.Marker == nil
	for {
		b := body
		resp, err := c.ListKeys(&model.ListKeysRequest{Body: &b})
		if err != nil {
			t.Fatalf("ListKeys: %v", err)
		}
		calls++
		if len(*resp.Keys) != len(*resp.KeyDetails) {
			t.Fatalf("got %d keys and %d details", len(*resp.Keys), len(*resp.KeyDetails))
		}
		for i, id := range *resp.Keys {
			if *(*resp.KeyDetails)[i].KeyId != id {
				t.Fatalf("keys[%d] %s differs from key_details[%d] %s", i, id, i, *(*resp.KeyDetails)[i].KeyId)
			}
		}
		ids = append(ids, *resp.Keys...)
		if resp.Truncated.Value() == "false" {
			if *resp.NextMarker != "" {
				t.Errorf("got next_marker %q on the last page, want \"\"", *resp.NextMarker)
			}
			if fromStart && int(*resp.Total) != len(ids) {
				t.Errorf("got total %d, listed %d", *resp.Total, len(ids))
			}
			return ids, calls
		}
		if resp.Truncated.Value() != "true" || *resp.NextMarker == "" {
			t.Fatalf("got truncated %q next_marker %q", resp.Truncated.Value(), *resp.NextMarker)
		}
		body.Marker = resp.NextMarker
		if calls > 1000 {
			t.Fatal("more than 1000 pages")
		}
	}
}

func TestListKeysPaging(t *testing.T) {
	const n = 2500
	s, url := start(t, emulator.Options{Seed: emulator.SampleKeys(n, 7)})
	c := client(t, url, defaultCreds())
	bySpec := map[string][]string{}
	byState := map[string]int{}
	for _, k := range s.Keys("") {
		bySpec[k.ResourceDetail.KeySpec] = append(bySpec[k.ResourceDetail.KeySpec], k.ResourceID)
		byState[k.ResourceDetail.KeyState]++
	}
	if len(bySpec) < 6 {
		t.Fatalf("sample has only specs %v, want a mix", bySpec)
	}
	all := model.GetListKeysRequestBodyKeySpecEnum().ALL
	sm4 := model.GetListKeysRequestBodyKeySpecEnum().SM4
	tests := []struct {
		name      string
		body      model.ListKeysRequestBody
		want      int
		wantCalls int
	}{
		{"default spec is AES_256", model.ListKeysRequestBody{Limit: ptr("1000")}, len(bySpec["AES_256"]), (len(bySpec["AES_256"]) + 999) / 1000},
		{"ALL", model.ListKeysRequestBody{Limit: ptr("1000"), KeySpec: &all}, n, 3},
		{"ALL without limit (1000)", model.ListKeysRequestBody{KeySpec: &all}, n, 3},
		{"ALL by 7", model.ListKeysRequestBody{Limit: ptr("7"), KeySpec: &all}, n, (n + 6) / 7},
		{"SM4", model.ListKeysRequestBody{Limit: ptr("100"), KeySpec: &sm4}, len(bySpec["SM4"]), (len(bySpec["SM4"]) + 99) / 100},
		{"disabled", model.ListKeysRequestBody{KeySpec: &all, KeyState: ptr("3")}, byState["3"], 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ids, calls := listAll(t, c, tc.body)
			if len(ids) != tc.want || calls != tc.wantCalls {
				t.Errorf("got %d keys in %d calls, want %d in %d", len(ids), calls, tc.want, tc.wantCalls)
			}
			seen := map[string]bool{}
			for _, id := range ids {
				if seen[id] {
					t.Fatalf("key %s listed twice", id)
				}
				seen[id] = true
			}
		})
	}
	// Order: newest first, as the live service lists.
	ids, _ := listAll(t, c, model.ListKeysRequestBody{KeySpec: &all})
	created := map[string]int64{}
	for _, k := range s.Keys("") {
		created[k.ResourceID], _ = strconv.ParseInt(k.ResourceDetail.CreationDate, 10, 64)
	}
	for i := 1; i < len(ids); i++ {
		if created[ids[i-1]] < created[ids[i]] {
			t.Fatalf("key %d is older than key %d", i-1, i)
		}
	}
}

func TestListKeysMarkerSurvivesChanges(t *testing.T) {
	s, url := start(t, emulator.Options{Seed: emulator.SampleKeys(50, 3)})
	c := client(t, url, defaultCreds())
	all := model.GetListKeysRequestBodyKeySpecEnum().ALL
	first, err := c.ListKeys(&model.ListKeysRequest{Body: &model.ListKeysRequestBody{KeySpec: &all, Limit: ptr("10")}})
	if err != nil {
		t.Fatal(err)
	}
	page := *first.Keys
	// Delete the last key returned and the next one, add a brand new key.
	s.DeleteKey("", page[9])
	rest0, err := c.ListKeys(&model.ListKeysRequest{Body: &model.ListKeysRequestBody{KeySpec: &all, Limit: ptr("1000")}})
	if err != nil {
		t.Fatal(err)
	}
	s.DeleteKey("", (*rest0.Keys)[9]) // the first key of the next page
	s.AddKey("", emulator.SeedKey{ResourceID: "99999999-9999-4999-8999-999999999999",
		ResourceDetail: emulator.KeyDetails{CreationDate: "1999999999999"}})
	ids, _ := listAll(t, c, model.ListKeysRequestBody{KeySpec: &all, Limit: ptr("10"), Marker: first.NextMarker})
	want := (*rest0.Keys)[10:]
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("keys after the marker (-want +got):\n%s", diff)
	}
}

func TestListKeysRejects(t *testing.T) {
	_, url := start(t, emulator.Options{Seed: emulator.SampleKeys(5, 1)})
	tests := []struct {
		name, body string
		status     int
		code       string
	}{
		{"limit 0", `{"limit":"0"}`, 400, "KMS.0308"},
		{"limit 1001", `{"limit":"1001"}`, 400, "KMS.0308"},
		{"limit not a number", `{"limit":"ten"}`, 400, "KMS.0308"},
		{"limit as a JSON number", `{"limit":10}`, 400, "KMS.0202"},
		{"unknown key_spec", `{"key_spec":"AES_128"}`, 400, "KMS.0308"},
		{"unknown key_state", `{"key_state":"9"}`, 400, "KMS.0308"},
		{"bad marker", `{"marker":"xyz"}`, 400, "KMS.0308"},
		{"bad sequence", `{"sequence":"1"}`, 400, "KMS.0206"},
		{"unknown field", `{"keyspec":"ALL"}`, 400, "KMS.0202"},
		{"malformed JSON", `{"key_spec":`, 400, "KMS.0202"},
		{"trailing data", `{} {}`, 400, "KMS.0202"},
		{"empty body lists", ``, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, url, raw{method: "POST", path: path("list-keys"), body: tc.body})
			if status != tc.status || errorCode(body) != tc.code {
				t.Errorf("got %d %v, want %d %s", status, body, tc.status, tc.code)
			}
		})
	}
	_, url2 := start(t, emulator.Options{MaxListLimit: 2000})
	if status, body := call(t, url2, raw{method: "POST", path: path("list-keys"), body: `{"limit":"2000"}`}); status != 200 {
		t.Errorf("MaxListLimit 2000: got %d %v, want 200", status, body)
	}
}

func TestUnknownPath(t *testing.T) {
	_, url := start(t, emulator.Options{})
	tests := []struct{ name, method, path string }{
		{"unknown API", "POST", path("create-key")},
		{"wrong method", "GET", path("list-keys")},
		{"trailing slash", "POST", path("list-keys/")},
		{"other version", "POST", "/v2/" + emulator.DefaultProject + "/kms/list-keys"},
		{"tags of nothing", "GET", path("/tags")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := call(t, url, raw{method: tc.method, path: tc.path, body: `{}`})
			if status != 404 || body["error_code"] != "APIGW.0101" {
				t.Errorf("got %d %v, want 404 APIGW.0101", status, body)
			}
		})
	}
}
