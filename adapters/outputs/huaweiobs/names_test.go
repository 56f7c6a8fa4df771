package huaweiobs_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tagwarden/tagwarden/adapters/outputs/huaweiobs"
)

func TestCheckBucket(t *testing.T) {
	good := []string{"abc", "my-bucket", "my.bucket", "a1b2c3", "1bucket", "tagwarden-reports-01",
		strings.Repeat("a", 63), "192.168.5", "1.2.3.4.5", "a.1.2.3"}
	bad := map[string]string{
		"":                      "shorter",
		"ab":                    "shorter",
		strings.Repeat("a", 64): "longer",
		"MyBucket":              "lowercase",
		"my_bucket":             "lowercase",
		"my bucket":             "lowercase",
		"bücket":                "lowercase",
		"-bucket":               "start",
		".bucket":               "start",
		"bucket-":               "end",
		"bucket.":               "end",
		"my..bucket":            "adjacent periods",
		"my-.bucket":            "next to a hyphen",
		"my.-bucket":            "next to a hyphen",
		"192.168.5.4":           "IP address",
		"999.1.1.1":             "IP address",
	}
	for _, b := range good {
		if err := huaweiobs.CheckBucket(b); err != nil {
			t.Errorf("CheckBucket(%q): %v", b, err)
		}
	}
	for b, why := range bad {
		err := huaweiobs.CheckBucket(b)
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("CheckBucket(%q) = %v, want an error about %q", b, err, why)
		}
	}
}

func TestCheckPrefixAndKey(t *testing.T) {
	good := []string{"reports", "tagwarden/reports", "tagwarden/reports/", "a b/ü+%?#=&;", "..a/b..", strings.Repeat("p", huaweiobs.MaxPrefixBytes)}
	bad := map[string]string{
		"/reports": `start with "/"`,
		"/":        `start with "/"`,
		"a//b":     "empty segment",
		"a/./b":    `"." segment`,
		"../b":     `".." segment`,
		"a/..":     `".." segment`,
		"a\nb":     "control character",
		"a\x7fb":   "control character",
		"a\xffb":   "UTF-8",
		strings.Repeat("p", huaweiobs.MaxPrefixBytes+1): "more than",
	}
	if err := huaweiobs.CheckPrefix(""); err != nil {
		t.Errorf("empty prefix: %v", err)
	}
	for _, p := range good {
		if err := huaweiobs.CheckPrefix(p); err != nil {
			t.Errorf("CheckPrefix(%q): %v", p, err)
		}
		if err := huaweiobs.CheckKey(strings.TrimSuffix(p, "/")); err != nil {
			t.Errorf("CheckKey(%q): %v", p, err)
		}
	}
	for p, why := range bad {
		if err := huaweiobs.CheckPrefix(p); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("CheckPrefix(%q) = %v, want an error about %q", p, err, why)
		}
	}
	for k, why := range map[string]string{
		"":   "empty",
		"k/": "empty segment",
		strings.Repeat("k", huaweiobs.MaxKeyBytes+1): "more than",
		strings.Repeat("é", 513):                     "more than", // 1026 bytes, 513 characters
		"/k":                                         `start with "/"`,
	} {
		if err := huaweiobs.CheckKey(k); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("CheckKey(%.20q) = %v, want an error about %q", k, err, why)
		}
	}
	if err := huaweiobs.CheckKey(strings.Repeat("k", huaweiobs.MaxKeyBytes)); err != nil {
		t.Errorf("a key of %d bytes: %v", huaweiobs.MaxKeyBytes, err)
	}
}

func TestParseLocation(t *testing.T) {
	good := []struct{ loc, bucket, key string }{
		{"obs://my-bucket", "my-bucket", ""},
		{"obs://my-bucket/", "my-bucket", ""},
		{"obs://my-bucket/reports", "my-bucket", "reports"},
		{"obs://my-bucket/reports/", "my-bucket", "reports/"},
		{"obs://my.bucket/runs/2024/r.json.gz", "my.bucket", "runs/2024/r.json.gz"},
		{"obs://b-1/a%20b?c#d", "b-1", "a%20b?c#d"},
	}
	for _, c := range good {
		b, k, err := huaweiobs.ParseLocation(c.loc)
		if err != nil || b != c.bucket || k != c.key {
			t.Errorf("ParseLocation(%q) = %q, %q, %v; want %q, %q", c.loc, b, k, err, c.bucket, c.key)
		}
	}
	bad := map[string]string{
		"":                    "does not start with obs://",
		"s3://bucket/x":       "does not start with obs://",
		"OBS://bucket/x":      "does not start with obs://",
		"bucket/x":            "does not start with obs://",
		"obs://":              "shorter",
		"obs:///x":            "shorter",
		"obs://Bucket/x":      "lowercase",
		"obs://bucket:443/x":  "lowercase",
		"obs://user@bucket/x": "lowercase",
		"obs://bucket//x":     `start with "/"`,
		"obs://bucket/a//b":   "empty segment",
		"obs://bucket//":      `start with "/"`,
		"obs://bucket/../x":   `".." segment`,
		"obs://bucket/a\tb":   "control character",
		"obs://bucket/" + strings.Repeat("k", huaweiobs.MaxKeyBytes+1): "more than",
	}
	for loc, why := range bad {
		if b, k, err := huaweiobs.ParseLocation(loc); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("ParseLocation(%.40q) = %q, %q, %v; want an error about %q", loc, b, k, err, why)
		}
	}
}

// FuzzParseLocation: ParseLocation never panics, and what it accepts is a
// valid bucket and key that write back to the same location.
func FuzzParseLocation(f *testing.F) {
	for _, s := range []string{"obs://my-bucket/reports/", "obs://b", "obs://a.b-c/x/../y", "obs://bucket//", "s3://x", "obs://bucket/\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, loc string) {
		b, k, err := huaweiobs.ParseLocation(loc)
		if err != nil {
			if b != "" || k != "" {
				t.Fatalf("%q: an error with results %q %q", loc, b, k)
			}
			return
		}
		if err := huaweiobs.CheckBucket(b); err != nil {
			t.Fatalf("%q: bucket %q: %v", loc, b, err)
		}
		back := huaweiobs.Scheme + b
		if k != "" {
			back += "/" + k
			if !utf8.ValidString(k) || strings.HasPrefix(k, "/") || len(k) > huaweiobs.MaxKeyBytes {
				t.Fatalf("%q: key %q", loc, k)
			}
			if err := huaweiobs.CheckKey(strings.TrimSuffix(k, "/")); err != nil {
				t.Fatalf("%q: key %q: %v", loc, k, err)
			}
		}
		if back != strings.TrimSuffix(loc, "/") && back != loc {
			t.Fatalf("%q read as %q %q, written back %q", loc, b, k, back)
		}
	})
}
