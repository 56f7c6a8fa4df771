package huaweices

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/outputs/huaweices/cesemu"
)

func TestCheckNamespace(t *testing.T) {
	ok := []string{DefaultNamespace, "a.b", "MINE.APP", "A_1.b_2", "Tag_Warden.KMS_2",
		"a234567890123456.b23456789012345", "Sy.x", "AG.x", "SR_x.y", "SERVICE.BMS2", "XSYS.a"}
	bad := []string{"", "ab", "a.", ".a", "a..b", "a.b.c", "abc", "1a.b", "a.1b", "_a.b", "a._b", "a-b.c", "a.b-c",
		"a b.c", "a.b\n", "ä.b", "a.b/c", strings.Repeat("a", 17) + "." + strings.Repeat("b", 15),
		"SYS.ECS", "sys.ecs", "SYSTEM.x", "Sys_x.y", "AGT.ECS", "agt2.x", "SRE.x", "Sre_team.x", "SERVICE.BMS", "service.bms"}
	for _, ns := range ok {
		if err := CheckNamespace(ns); err != nil {
			t.Errorf("CheckNamespace(%q) = %v, want nil", ns, err)
		}
	}
	for _, ns := range bad {
		if err := CheckNamespace(ns); err == nil {
			t.Errorf("CheckNamespace(%q) = nil, want an error", ns)
		}
	}
}

func TestCheckMetricName(t *testing.T) {
	ok := []string{"a", "runs", "keys_checked", "a-b", "A1_b-2", strings.Repeat("m", 96)}
	bad := []string{"", "1a", "_a", "-a", "a.b", "a b", "a/b", "ключ", strings.Repeat("m", 97), "a\x00"}
	for _, s := range ok {
		if err := CheckMetricName(s); err != nil {
			t.Errorf("CheckMetricName(%q) = %v, want nil", s, err)
		}
	}
	for _, s := range bad {
		if err := CheckMetricName(s); err == nil {
			t.Errorf("CheckMetricName(%q) = nil, want an error", s)
		}
	}
}

func TestCheckDimension(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		ok          bool
	}{
		{"policy", "cost-center", true},
		{"target", "ap-southeast-1", true},
		{"instance_id", "6f3c6f91-4b24-4e1b-b7d1-a94ac1cb011d", true},
		{"a", "0", true},
		{"a-b_c", "9_x", true},
		{strings.Repeat("n", 32), strings.Repeat("v", 256), true},
		{"", "v", false},
		{"1n", "v", false},
		{"_n", "v", false},
		{"n.m", "v", false},
		{strings.Repeat("n", 33), "v", false},
		{"n", "", false},
		{"n", "_v", false},
		{"n", "-v", false},
		{"n", "ap-southeast-1/p1", false},
		{"n", "a b", false},
		{"n", "a.b", false},
		{"n", "é", false},
		{"n", strings.Repeat("v", 257), false},
	} {
		err := CheckDimension(tc.name, tc.value)
		if (err == nil) != tc.ok {
			t.Errorf("CheckDimension(%q, %q) = %v, want ok=%v", tc.name, tc.value, err, tc.ok)
		}
	}
}

// emulatorAccepts reports whether cesemu, which checks the rules on its
// own, accepts a datum with this dimension value.
func emulatorAccepts(t testing.TB, value string) error {
	t.Helper()
	body, err := json.Marshal([]map[string]any{{
		"metric": map[string]any{"namespace": DefaultNamespace, "metric_name": "m",
			"dimensions": []map[string]string{{"name": "d", "value": value}}},
		"ttl": DefaultTTL, "collect_time": time.Now().UnixMilli(), "value": 1,
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cesemu.Decode(body, time.Now(), 0)
	return err
}

func TestSafeDimensionValue(t *testing.T) {
	long := strings.Repeat("p", 300)
	inputs := []string{
		"ap-southeast-1/p1", "ap-southeast-1_p1", "ap-southeast-1/p2", "ap-southeast-1", "cn-north-4/team/a",
		"", "/", "_", "-", "_x", "-x", "x", "cost-center", "Cost Center", "cost center", "cost_center",
		"политика", "полит", "a.b", "a:b", "a b", "a\x00b", "\xff", strings.Repeat("a", 256), strings.Repeat("a", 257),
		long, long + "x", long + "y", "日本/東京",
	}
	seen := map[string]string{}
	for _, in := range inputs {
		out := SafeDimensionValue(in)
		if err := CheckDimension("d", out); err != nil {
			t.Errorf("SafeDimensionValue(%q) = %q: %v", in, out, err)
		}
		if err := emulatorAccepts(t, out); err != nil {
			t.Errorf("SafeDimensionValue(%q) = %q: the emulator refuses it: %v", in, out, err)
		}
		if again := SafeDimensionValue(in); again != out {
			t.Errorf("SafeDimensionValue(%q) not deterministic: %q then %q", in, out, again)
		}
		if CheckDimension("d", in) == nil && out != in {
			t.Errorf("SafeDimensionValue(%q) = %q: a valid value must stay itself", in, out)
		}
		if prev, dup := seen[out]; dup {
			t.Errorf("SafeDimensionValue(%q) = SafeDimensionValue(%q) = %q", in, prev, out)
		}
		seen[out] = in
	}
	// The documented form.
	out := SafeDimensionValue("ap-southeast-1/p1")
	if !strings.HasPrefix(out, "ap-southeast-1_p1-") || len(out) != len("ap-southeast-1_p1-")+digestLen {
		t.Errorf("SafeDimensionValue(ap-southeast-1/p1) = %q, want ap-southeast-1_p1- and %d hex digits", out, digestLen)
	}
	if out := SafeDimensionValue("/x"); !strings.HasPrefix(out, "x_x-") {
		t.Errorf("SafeDimensionValue(/x) = %q, want x_x-...", out)
	}
	if out := SafeDimensionValue(long); len(out) != MaxDimensionValueLen {
		t.Errorf("SafeDimensionValue(300 characters) has %d characters, want %d", len(out), MaxDimensionValueLen)
	}
}

func FuzzSafeDimensionValue(f *testing.F) {
	for _, s := range []string{"", "ap-southeast-1/p1", "a", "_", strings.Repeat("z", 300), "\xff\xfe", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := SafeDimensionValue(s)
		if err := CheckDimension("d", out); err != nil {
			t.Fatalf("SafeDimensionValue(%q) = %q: %v", s, out, err)
		}
		if SafeDimensionValue(out) != out {
			t.Fatalf("SafeDimensionValue(%q) = %q is not a fixed point", s, out)
		}
		if SafeDimensionValue(s) != out {
			t.Fatalf("SafeDimensionValue(%q) is not deterministic", s)
		}
		if CheckDimension("d", s) == nil && out != s {
			t.Fatalf("valid %q became %q", s, out)
		}
		if err := emulatorAccepts(t, out); err != nil {
			t.Fatalf("SafeDimensionValue(%q) = %q: the emulator refuses it: %v", s, out, err)
		}
	})
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		sizes    []int
		maxBytes int
		maxItems int
		want     string
	}{
		{[]int{10}, 100, 0, "[0 1]"},
		{[]int{10, 10, 10}, 100, 0, "[0 3]"},
		// [a,b] with two items of 10: 10+10+2+2 = 24 bytes.
		{[]int{10, 10, 10}, 24, 0, "[0 2] [2 3]"},
		{[]int{10, 10, 10}, 23, 0, "[0 1] [1 2] [2 3]"},
		{[]int{10, 10, 10, 10, 10}, 1000, 2, "[0 2] [2 4] [4 5]"},
		{[]int{5, 50, 5, 5}, 60, 0, "[0 2] [2 4]"},
		{[]int{5, 50, 5, 5}, 58, 0, "[0 1] [1 2] [2 4]"},
	} {
		var parts []string
		for _, b := range split(tc.sizes, tc.maxBytes, tc.maxItems) {
			parts = append(parts, fmt.Sprint(b[:]))
		}
		if got := strings.Join(parts, " "); got != tc.want {
			t.Errorf("split(%v, %d, %d) = %s, want %s", tc.sizes, tc.maxBytes, tc.maxItems, got, tc.want)
		}
	}
}
