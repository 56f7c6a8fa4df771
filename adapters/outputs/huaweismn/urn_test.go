package huaweismn_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/adapters/outputs/huaweismn"
)

const proj = "0b1f2e3d4c5b6a79887766554433221a"

func TestParseTopicURN(t *testing.T) {
	good := []struct {
		in   string
		want huaweismn.TopicURN
	}{
		{"urn:smn:ap-southeast-1:" + proj + ":tagwarden", huaweismn.TopicURN{Region: "ap-southeast-1", ProjectID: proj, Name: "tagwarden"}},
		{"urn:smn:cn-north-4:" + proj + ":Key_Alerts-2", huaweismn.TopicURN{Region: "cn-north-4", ProjectID: proj, Name: "Key_Alerts-2"}},
		{"urn:smn:eu-west-101:" + proj + ":9lives", huaweismn.TopicURN{Region: "eu-west-101", ProjectID: proj, Name: "9lives"}},
		{"urn:smn:my-kualalumpur-1:" + proj + ":t", huaweismn.TopicURN{Region: "my-kualalumpur-1", ProjectID: proj, Name: "t"}},
		{"urn:smn:ap-southeast-1:" + proj + ":" + strings.Repeat("a", 255), huaweismn.TopicURN{Region: "ap-southeast-1", ProjectID: proj, Name: strings.Repeat("a", 255)}},
	}
	for _, tc := range good {
		got, err := huaweismn.ParseTopicURN(tc.in)
		if err != nil {
			t.Errorf("ParseTopicURN(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseTopicURN(%q) (-want +got):\n%s", tc.in, diff)
		}
		if got.String() != tc.in {
			t.Errorf("String() = %q, want %q", got.String(), tc.in)
		}
	}

	const secret = "SECRETSECRETSECRET"
	bad := []struct {
		name, in, wantErr string
	}{
		{"empty", "", "empty"},
		{"blank", "  ", "empty"},
		{"not a URN", secret, "1 colon-separated parts"},
		{"other service", "urn:fss:ap-southeast-1:" + proj + ":t", "does not start with urn:smn:"},
		{"subscription URN", "urn:smn:ap-southeast-1:" + proj + ":t:90b22be1efab4cd6924703c5b228e59f", "subscription URN"},
		{"too many parts", "urn:smn:a:b:c:d:e", "7 colon-separated parts"},
		{"no region", "urn:smn::" + proj + ":t", "no region"},
		{"region upper case", "urn:smn:AP-southeast-1:" + proj + ":t", "region"},
		{"region without number", "urn:smn:ap-southeast:" + proj + ":t", "region"},
		{"region a secret", "urn:smn:" + secret + ":" + proj + ":t", "region"},
		{"no project", "urn:smn:ap-southeast-1::t", "no project id"},
		{"project with underscore", "urn:smn:ap-southeast-1:abc_def:t", "project id"},
		{"project too long", "urn:smn:ap-southeast-1:" + strings.Repeat("a", 65) + ":t", "project id"},
		{"no name", "urn:smn:ap-southeast-1:" + proj + ":", "no topic name"},
		{"name starts with -", "urn:smn:ap-southeast-1:" + proj + ":-t", "topic name"},
		{"name starts with _", "urn:smn:ap-southeast-1:" + proj + ":_t", "topic name"},
		{"name with dot", "urn:smn:ap-southeast-1:" + proj + ":a.b", "topic name"},
		{"name with space", "urn:smn:ap-southeast-1:" + proj + ":a b", "topic name"},
		{"name too long", "urn:smn:ap-southeast-1:" + proj + ":" + strings.Repeat("a", 256), "topic name"},
		{"name a secret with slash", "urn:smn:ap-southeast-1:" + proj + ":" + secret + "/x", "topic name"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := huaweismn.ParseTopicURN(tc.in)
			if err == nil {
				t.Fatalf("ParseTopicURN(%q) = nil error", tc.in)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not say %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q quotes the input", err)
			}
		})
	}
}

// FuzzParseTopicURN: a URN that parses prints back as given, and parses
// again to the same value; an error never quotes the input.
func FuzzParseTopicURN(f *testing.F) {
	for _, s := range []string{
		"urn:smn:ap-southeast-1:" + proj + ":tagwarden",
		"urn:smn:cn-north-4:p:t:s",
		"urn:smn:::",
		"urn:smn:eu-west-101:" + proj + ":a_b-c",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := huaweismn.ParseTopicURN(s)
		if err != nil {
			// The errors' own words hold "urn:smn:{region}:...": an input
			// that is part of them is not quoted.
			const own = "urn:smn:{region}:{project_id}:{topic_name}:{subscription_id}"
			if len(s) >= 8 && strings.Contains(err.Error(), s) && !strings.Contains(own, s) {
				t.Fatalf("error %q quotes the input", err)
			}
			return
		}
		if u.String() != s {
			t.Fatalf("String() = %q, want %q", u.String(), s)
		}
		again, err := huaweismn.ParseTopicURN(u.String())
		if err != nil || again != u {
			t.Fatalf("reparse: %+v, %v", again, err)
		}
	})
}
