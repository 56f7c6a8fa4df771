package emulator_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
)

const (
	plainKey   = "11111111-1111-4111-8111-111111111111"
	fullKey    = "22222222-2222-4222-8222-222222222222"
	defaultKey = "33333333-3333-4333-8333-333333333333"
	absentKey  = "44444444-4444-4444-8444-444444444444"
)

// tagSeed is a plain key with two tags, a key with 10 tags and a default key.
func tagSeed() []emulator.SeedKey {
	ten := make([]emulator.Tag, 10)
	for i := range ten {
		ten[i] = emulator.Tag{Key: fmt.Sprintf("k%02d", i), Value: "v"}
	}
	return []emulator.SeedKey{
		{ResourceID: plainKey, ResourceDetail: emulator.KeyDetails{KeyAlias: "prod-orders"},
			Tags: []emulator.Tag{{Key: "owner", Value: "alice"}, {Key: "env", Value: "prod"}}},
		{ResourceID: fullKey, ResourceDetail: emulator.KeyDetails{KeyAlias: "fin-payments-01"}, Tags: ten},
		{ResourceID: defaultKey, ResourceDetail: emulator.KeyDetails{KeyAlias: "evs/default", DefaultKeyFlag: "1"}},
	}
}

func items(kv ...string) []model.TagItem {
	out := make([]model.TagItem, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, model.TagItem{Key: kv[i], Value: ptr(kv[i+1])})
	}
	return out
}

func TestBatchTags(t *testing.T) {
	long := strings.Repeat("键", 36)
	tests := []struct {
		name   string
		key    string
		body   model.BatchCreateKmsTagsRequestBody
		opts   func(*emulator.Options)
		status int    // 204 or the error status
		code   string // error code
		want   map[string]string
	}{
		{name: "create adds and overwrites", key: plainKey,
			body:   model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items("env", "dev", "app", "checkout")},
			status: 204, want: map[string]string{"owner": "alice", "env": "dev", "app": "checkout"}},
		{name: "create with 36-character unicode key and 43-character value", key: plainKey,
			body:   model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items(long, strings.Repeat("值", 43))},
			status: 204, want: map[string]string{"owner": "alice", "env": "prod", long: strings.Repeat("值", 43)}},
		{name: "create with empty and missing value", key: plainKey,
			body:   model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: []model.TagItem{{Key: "a", Value: ptr("")}, {Key: "b"}}},
			status: 204, want: map[string]string{"owner": "alice", "env": "prod", "a": "", "b": ""}},
		{name: "create with spaces and punctuation", key: plainKey,
			body:   model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items("env", "PROD ", "cost-center", "CC-1/2:3@x.y")},
			status: 204, want: map[string]string{"owner": "alice", "env": "PROD ", "cost-center": "CC-1/2:3@x.y"}},
		{name: "create with a sequence", key: plainKey,
			body:   model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items("a", "1"), Sequence: ptr("919c82d4-8046-4722-9094-35c3c6524cff")},
			status: 204, want: map[string]string{"owner": "alice", "env": "prod", "a": "1"}},
		{name: "overwrite on a key with 10 tags", key: fullKey,
			body: model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items("k00", "new")}, status: 204},
		{name: "delete by key", key: plainKey,
			body:   model.BatchCreateKmsTagsRequestBody{Action: "delete", Tags: []model.TagItem{{Key: "env"}}},
			status: 204, want: map[string]string{"owner": "alice"}},
		{name: "delete by key and matching value", key: plainKey,
			body:   model.BatchCreateKmsTagsRequestBody{Action: "delete", Tags: items("env", "prod")},
			status: 204, want: map[string]string{"owner": "alice"}},
		{name: "delete with another value keeps the tag", key: plainKey,
			body:   model.BatchCreateKmsTagsRequestBody{Action: "delete", Tags: items("env", "dev")},
			status: 204, want: map[string]string{"owner": "alice", "env": "prod"}},
		{name: "delete of a missing tag succeeds", key: plainKey,
			body:   model.BatchCreateKmsTagsRequestBody{Action: "delete", Tags: []model.TagItem{{Key: "nope"}, {Key: "owner"}}},
			status: 204, want: map[string]string{"env": "prod"}},
		{name: "delete checks the key rules", key: plainKey,
			body: model.BatchCreateKmsTagsRequestBody{Action: "delete", Tags: []model.TagItem{{Key: "env"}, {Key: "a=b"}}}, status: 400, code: "KMS.0401"},
		{name: "delete checks the value rules", key: plainKey,
			body: model.BatchCreateKmsTagsRequestBody{Action: "delete", Tags: items("env", strings.Repeat("v", 44))}, status: 400, code: "KMS.0402"},
		{name: "delete of a reserved prefix is not refused", key: plainKey,
			body:   model.BatchCreateKmsTagsRequestBody{Action: "delete", Tags: []model.TagItem{{Key: "_sys_x"}}},
			status: 204, want: map[string]string{"owner": "alice", "env": "prod"}},
		{name: "delete of a missing tag with DeleteMissingTagError", key: plainKey,
			opts:   func(o *emulator.Options) { o.DeleteMissingTagError = true },
			body:   model.BatchCreateKmsTagsRequestBody{Action: "delete", Tags: []model.TagItem{{Key: "owner"}, {Key: "nope"}}},
			status: 400, code: "KMS.0416"},
		{name: "11th tag", key: fullKey,
			body: model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items("k10", "v")}, status: 400, code: "KMS.0409"},
		{name: "11th tag with MaxTags 20", key: fullKey, opts: func(o *emulator.Options) { o.MaxTags = 20 },
			body: model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items("k10", "v")}, status: 204},
		{name: "default key", key: defaultKey,
			body: model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items("owner", "x")}, status: 400, code: "KMS.0211"},
		{name: "delete on a default key", key: defaultKey,
			body: model.BatchCreateKmsTagsRequestBody{Action: "delete", Tags: items("owner", "x")}, status: 400, code: "KMS.0211"},
		{name: "missing key", key: absentKey,
			body: model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items("owner", "x")}, status: 404, code: "KMS.0207"},
		{name: "malformed key id", key: "not%20a%20key",
			body: model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items("owner", "x")}, status: 400, code: "KMS.0205"},
		{name: "action update", key: plainKey,
			body: model.BatchCreateKmsTagsRequestBody{Action: "update", Tags: items("owner", "x")}, status: 400, code: "KMS.0308"},
		{name: "action upper case", key: plainKey,
			body: model.BatchCreateKmsTagsRequestBody{Action: "CREATE", Tags: items("owner", "x")}, status: 400, code: "KMS.0308"},
		{name: "action empty", key: plainKey,
			body: model.BatchCreateKmsTagsRequestBody{Tags: items("owner", "x")}, status: 400, code: "KMS.0204"},
		{name: "no tags", key: plainKey,
			body: model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: []model.TagItem{}}, status: 400, code: "KMS.0204"},
		{name: "sequence of 35 bytes", key: plainKey,
			body:   model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items("a", "1"), Sequence: ptr("919c82d4-8046-4722-9094-35c3c6524cf")},
			status: 400, code: "KMS.0206"},
		{name: "duplicate keys", key: plainKey,
			body: model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items("a", "1", "a", "2")}, status: 400, code: "KMS.0403"},
		{name: "duplicate keys in delete", key: plainKey,
			body: model.BatchCreateKmsTagsRequestBody{Action: "delete", Tags: items("env", "", "env", "")}, status: 400, code: "KMS.0403"},
		{name: "empty key", key: plainKey,
			body: model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items("", "1")}, status: 400, code: "KMS.0401"},
		{name: "empty key in delete", key: plainKey,
			body: model.BatchCreateKmsTagsRequestBody{Action: "delete", Tags: items("", "1")}, status: 400, code: "KMS.0401"},
		{name: "key of 37 characters", key: plainKey,
			body: model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items(long+"x", "1")}, status: 400, code: "KMS.0401"},
		{name: "value of 44 characters", key: plainKey,
			body: model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items("a", strings.Repeat("v", 44))}, status: 400, code: "KMS.0402"},
		{name: "reserved prefix", key: plainKey,
			body: model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items("_sys_enterprise", "1")}, status: 400, code: "KMS.0401"},
		{name: "reserved prefix allowed when none configured", key: plainKey, opts: func(o *emulator.Options) { o.ReservedPrefixes = []string{} },
			body:   model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items("_sys_x", "1")},
			status: 204, want: map[string]string{"owner": "alice", "env": "prod", "_sys_x": "1"}},
		{name: "a bad tag among good ones changes nothing", key: plainKey,
			body: model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items("good", "1", "bad*", "2")}, status: 400, code: "KMS.0401"},
	}
	for _, c := range []string{"*", "<", ">", `\`, "=", "\x00", "\t", "\n", "\x1f"} {
		tests = append(tests,
			struct {
				name   string
				key    string
				body   model.BatchCreateKmsTagsRequestBody
				opts   func(*emulator.Options)
				status int
				code   string
				want   map[string]string
			}{name: fmt.Sprintf("key with %q", c), key: plainKey,
				body: model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items("a"+c+"b", "1")}, status: 400, code: "KMS.0401"},
			struct {
				name   string
				key    string
				body   model.BatchCreateKmsTagsRequestBody
				opts   func(*emulator.Options)
				status int
				code   string
				want   map[string]string
			}{name: fmt.Sprintf("value with %q", c), key: plainKey,
				body: model.BatchCreateKmsTagsRequestBody{Action: "create", Tags: items("a", "x"+c)}, status: 400, code: "KMS.0402"})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := emulator.Options{Seed: tagSeed()}
			if tc.opts != nil {
				tc.opts(&opts)
			}
			s, url := start(t, opts)
			before, _ := s.Tags("", tc.key)
			body := tc.body
			_, err := client(t, url, defaultCreds()).BatchCreateKmsTags(&model.BatchCreateKmsTagsRequest{KeyId: tc.key, Body: &body})
			after, _ := s.Tags("", tc.key)
			st := s.Stats()
			if tc.status == 204 {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				if tc.want != nil {
					if diff := cmp.Diff(tc.want, after); diff != "" {
						t.Errorf("tags after (-want +got):\n%s", diff)
					}
				}
				if st.Writes != 1 || st.RejectedWrites != 0 {
					t.Errorf("got Writes %d RejectedWrites %d, want 1 0", st.Writes, st.RejectedWrites)
				}
				return
			}
			se := svcErr(t, err)
			if se.StatusCode != tc.status || se.ErrorCode != tc.code {
				t.Fatalf("got %d %s (%s), want %d %s", se.StatusCode, se.ErrorCode, se.ErrorMessage, tc.status, tc.code)
			}
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("a rejected write changed the tags (-before +after):\n%s", diff)
			}
			if st.Writes != 0 || st.RejectedWrites != 1 {
				t.Errorf("got Writes %d RejectedWrites %d, want 0 1", st.Writes, st.RejectedWrites)
			}
		})
	}
}

func TestShowTags(t *testing.T) {
	_, url := start(t, emulator.Options{Seed: tagSeed()})
	c := client(t, url, defaultCreds())
	resp, err := c.ShowKmsTags(&model.ShowKmsTagsRequest{KeyId: plainKey})
	if err != nil {
		t.Fatal(err)
	}
	want := []model.TagItem{{Key: "env", Value: ptr("prod")}, {Key: "owner", Value: ptr("alice")}}
	if diff := cmp.Diff(want, *resp.Tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	if *resp.ExistTagsNum != 2 {
		t.Errorf("got existTagsNum %d, want 2", *resp.ExistTagsNum)
	}
	resp, err = c.ShowKmsTags(&model.ShowKmsTagsRequest{KeyId: defaultKey})
	if err != nil || len(*resp.Tags) != 0 || *resp.ExistTagsNum != 0 {
		t.Errorf("default key: got %v %v, want no tags", resp, err)
	}
	_, err = c.ShowKmsTags(&model.ShowKmsTagsRequest{KeyId: absentKey})
	if se := svcErr(t, err); se.StatusCode != 404 || se.ErrorCode != "KMS.0207" {
		t.Errorf("missing key: got %d %s, want 404 KMS.0207", se.StatusCode, se.ErrorCode)
	}
}

func TestDescribeKey(t *testing.T) {
	s, url := start(t, emulator.Options{Seed: tagSeed()})
	c := client(t, url, defaultCreds())
	resp, err := c.ListKeyDetail(&model.ListKeyDetailRequest{Body: &model.OperateKeyRequestBody{KeyId: plainKey}})
	if err != nil {
		t.Fatal(err)
	}
	k := s.Keys("")[0].ResourceDetail
	if *resp.KeyInfo.KeyId != plainKey || *resp.KeyInfo.KeyAlias != "prod-orders" || resp.KeyInfo.KeySpec.Value() != "AES_256" ||
		*resp.KeyInfo.KeyState != "2" || *resp.KeyInfo.DefaultKeyFlag != "0" || *resp.KeyInfo.CreationDate != k.CreationDate {
		t.Errorf("got %v, want the seeded key with defaults", resp.KeyInfo)
	}
	tests := []struct {
		name, id string
		status   int
		code     string
	}{
		{"missing key", absentKey, 404, "KMS.0207"},
		{"empty id", "", 400, "KMS.0204"},
		{"malformed id", "a/b", 400, "KMS.0205"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ListKeyDetail(&model.ListKeyDetailRequest{Body: &model.OperateKeyRequestBody{KeyId: tc.id}})
			se := svcErr(t, err)
			if se.StatusCode != tc.status || se.ErrorCode != tc.code {
				t.Errorf("got %d %s, want %d %s", se.StatusCode, se.ErrorCode, tc.status, tc.code)
			}
		})
	}
}
