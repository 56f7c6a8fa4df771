package targets_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/adapters/targets"
)

const (
	projAP   = "0b1f2e3d4c5b6a79887766554433221a" // ap-southeast-1 (the KMS emulator's project)
	projCN   = "5c6d7e8f90a1b2c3d4e5f60718293a4b" // cn-north-4
	projProd = "7a8b9c0d1e2f30415263748596a7b8c9" // cn-north-4_prod
	projOld  = "1d2e3f405162738495a6b7c8d9e0f1a2" // cn-north-4_old, disabled
	projEU   = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b" // eu-west-101
	projMOS  = "0c5e8a1f2b3d4c6e8f9a0b1c2d3e4f5a" // MOS
)

// checkErr checks err against a wanted error: nil when want is nil,
// else errors.Is(err, each kind) and every substring present, and none of
// the absent ones.
func checkErr(t *testing.T, err error, kinds []error, contains, absent []string) {
	t.Helper()
	if len(kinds) == 0 && len(contains) == 0 {
		if err != nil {
			t.Fatalf("got error %v, want none", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("got no error, want one wrapping %v and saying %q", kinds, contains)
	}
	for _, k := range kinds {
		if !errors.Is(err, k) {
			t.Errorf("got error %q, want it to wrap %q", err, k)
		}
	}
	for _, s := range contains {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("got error %q, want it to say %q", err, s)
		}
	}
	for _, s := range absent {
		if strings.Contains(err.Error(), s) {
			t.Errorf("got error %q, want it never to show %q", err, s)
		}
	}
}

func TestTargetName(t *testing.T) {
	tg := targets.Target{Region: "ap-southeast-1", ProjectID: projAP, ProjectName: "ap-southeast-1", Endpoint: "http://127.0.0.1:8080"}
	want := "ap-southeast-1/" + projAP
	if got := tg.Name(); got != want {
		t.Errorf("got name %q, want %q (never the endpoint)", got, want)
	}
	if got := tg.String(); got != want {
		t.Errorf("got string %q, want the name %q", got, want)
	}
}

func TestParseName(t *testing.T) {
	tests := []struct {
		name, in      string
		region, proj  string
		wantErr       []string // substrings; nil: no error
		wantAbsentErr []string
	}{
		{name: "region and project", in: "ap-southeast-1/" + projAP, region: "ap-southeast-1", proj: projAP},
		{name: "three-letter region", in: "eur-west-7/abc-DEF-123", region: "eur-west-7", proj: "abc-DEF-123"},
		{name: "project of 64", in: "cn-north-4/" + strings.Repeat("a", 64), region: "cn-north-4", proj: strings.Repeat("a", 64)},
		{name: "empty", in: "", wantErr: []string{`""`, "want region/project_id"}},
		{name: "no slash", in: "ap-southeast-1", wantErr: []string{`"ap-southeast-1"`, "want region/project_id"}},
		{name: "no region", in: "/" + projAP, wantErr: []string{`region ""`}},
		{name: "no project", in: "ap-southeast-1/", wantErr: []string{`project id ""`}},
		{name: "bad region", in: "Asia Pacific/" + projAP, wantErr: []string{`region "Asia Pacific"`, "not a region id"}},
		{name: "region with digits first", in: "1a-b-1/x", wantErr: []string{`region "1a-b-1"`}},
		{name: "project with slash", in: "ap-southeast-1/a/b", wantErr: []string{`project id "a/b"`}},
		{name: "project of 65", in: "cn-north-4/" + strings.Repeat("a", 65), wantErr: []string{"1 to 64"}},
		{name: "project with space", in: "cn-north-4/a b", wantErr: []string{`project id "a b"`}},
		{name: "spaces are not trimmed", in: " ap-southeast-1/" + projAP, wantErr: []string{`region " ap-southeast-1"`}},
		{name: "a payload cannot choose the endpoint", in: "ap-southeast-1/abc=https://evil.example", wantErr: []string{`project id "abc=https://evil.example"`}},
		{name: "too long", in: "ap-southeast-1/" + strings.Repeat("x", 500), wantErr: []string{"longer than 128 bytes"}, wantAbsentErr: []string{strings.Repeat("x", 200)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			region, proj, err := targets.ParseName(tc.in)
			if tc.wantErr == nil {
				checkErr(t, err, nil, nil, nil)
				if region != tc.region || proj != tc.proj {
					t.Errorf("got %q, %q, want %q, %q", region, proj, tc.region, tc.proj)
				}
				return
			}
			checkErr(t, err, []error{targets.ErrInvalid}, tc.wantErr, tc.wantAbsentErr)
		})
	}
}

func TestParse(t *testing.T) {
	ap := targets.Target{Region: "ap-southeast-1", ProjectID: projAP}
	cn := targets.Target{Region: "cn-north-4", ProjectID: projCN}
	tests := []struct {
		name, spec string
		want       []targets.Target // the targets returned, error or not
		kinds      []error
		wantErr    []string // substrings of the error; nil with kinds nil: no error
		absent     []string // never in the error
	}{
		{name: "one", spec: "ap-southeast-1/" + projAP, want: []targets.Target{ap}},
		{
			name: "spaces and endpoints", spec: "  ap-southeast-1/" + projAP + " , cn-north-4/" + projCN + " = HTTP://127.0.0.1:8080/kms/ ",
			want: []targets.Target{ap, {Region: "cn-north-4", ProjectID: projCN, Endpoint: "http://127.0.0.1:8080/kms"}},
		},
		{
			name: "endpoint without scheme", spec: "cn-north-4/" + projCN + "=kms.vpc.example:8443",
			want: []targets.Target{{Region: "cn-north-4", ProjectID: projCN, Endpoint: "https://kms.vpc.example:8443"}},
		},
		{
			name: "order kept", spec: "cn-north-4/" + projCN + ",ap-southeast-1/" + projAP,
			want: []targets.Target{cn, ap},
		},
		{name: "empty", spec: "  ", kinds: []error{targets.ErrNoTargets}, wantErr: []string{"empty"}},
		{name: "auto is not a list", spec: "auto", kinds: []error{targets.ErrInvalid}, wantErr: []string{`entry 1 "auto"`, "stands alone"}},
		{name: "auto inside a list", spec: "ap-southeast-1/" + projAP + ",AUTO", want: []targets.Target{ap}, kinds: []error{targets.ErrInvalid}, wantErr: []string{`entry 2 "AUTO"`}},
		{name: "no project", spec: "ap-southeast-1", kinds: []error{targets.ErrInvalid}, wantErr: []string{`entry 1 "ap-southeast-1"`, "want region/project_id"}},
		{name: "bad region", spec: "Asia/" + projAP, kinds: []error{targets.ErrInvalid}, wantErr: []string{`entry 1 "Asia/` + projAP + `"`, `region "Asia"`}},
		{name: "bad project", spec: "ap-southeast-1/a_b", kinds: []error{targets.ErrInvalid}, wantErr: []string{`entry 1 "ap-southeast-1/a_b"`, `project id "a_b"`}},
		{name: "both bad", spec: "x/a_b", kinds: []error{targets.ErrInvalid}, wantErr: []string{`region "x"`, `project id "a_b"`}},
		{name: "empty entry", spec: "ap-southeast-1/" + projAP + ",,cn-north-4/" + projCN, want: []targets.Target{ap, cn}, kinds: []error{targets.ErrInvalid}, wantErr: []string{`entry 2 ""`, "empty entry"}},
		{name: "trailing comma", spec: "ap-southeast-1/" + projAP + ",", want: []targets.Target{ap}, kinds: []error{targets.ErrInvalid}, wantErr: []string{`entry 2 ""`}},
		{
			name: "listed twice", spec: "ap-southeast-1/" + projAP + ", ap-southeast-1/" + projAP + "=http://127.0.0.1:1",
			want: []targets.Target{ap}, kinds: []error{targets.ErrInvalid}, wantErr: []string{"entry 2", "already entry 1"},
		},
		{name: "empty endpoint", spec: "cn-north-4/" + projCN + "=", kinds: []error{targets.ErrInvalid}, wantErr: []string{"entry 1", "empty endpoint"}},
		{name: "endpoint scheme", spec: "cn-north-4/" + projCN + "=ftp://kms.example", kinds: []error{targets.ErrInvalid}, wantErr: []string{"entry 1", `scheme is "ftp"`}},
		{
			name: "endpoint password never shown", spec: "cn-north-4/" + projCN + "=https://admin:hunter2@kms.example",
			kinds: []error{targets.ErrInvalid}, wantErr: []string{"entry 1", "xxxxx@kms.example", "user name or password"}, absent: []string{"hunter2", "admin"},
		},
		{
			name: "endpoint query never shown", spec: "cn-north-4/" + projCN + "=https://kms.example/?token=hunter2",
			kinds: []error{targets.ErrInvalid}, wantErr: []string{"entry 1", "kms.example/...", "query"}, absent: []string{"hunter2"},
		},
		{
			name: "bad entries do not stop the others",
			spec: "ap-southeast-1/" + projAP + ", cn-north-4/" + projCN + "=https://u:hunter2@x, eu-west-101/bad_id, cn-north-4/" + projCN,
			want: []targets.Target{ap, cn}, kinds: []error{targets.ErrInvalid},
			wantErr: []string{"entry 2", "entry 3", `project id "bad_id"`}, absent: []string{"hunter2", "entry 1", "entry 4"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := targets.Parse(tc.spec)
			checkErr(t, err, tc.kinds, tc.wantErr, tc.absent)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("targets (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseEndpoints(t *testing.T) {
	tests := []struct {
		name, spec string
		want       map[string]string
		wantErr    []string
		absent     []string
	}{
		{name: "empty", spec: " ", want: map[string]string{}},
		{name: "one", spec: "ap-southeast-1=http://127.0.0.1:8080", want: map[string]string{"ap-southeast-1": "http://127.0.0.1:8080"}},
		{
			name: "several with spaces", spec: " ap-southeast-1 = kms.vpc.example , cn-north-4=HTTPS://kms.cn.example/ ",
			want: map[string]string{"ap-southeast-1": "https://kms.vpc.example", "cn-north-4": "https://kms.cn.example"},
		},
		{name: "no endpoint", spec: "ap-southeast-1", wantErr: []string{`entry 1 "ap-southeast-1"`, "want region=endpoint"}},
		{name: "empty endpoint", spec: "ap-southeast-1=", wantErr: []string{"entry 1", "want region=endpoint"}},
		{name: "no region", spec: "=http://x", wantErr: []string{"entry 1", `region ""`}},
		{name: "bad region", spec: "ap-southeast-1=http://x,Asia=http://y", wantErr: []string{`entry 2 "Asia=http://y"`, `region "Asia"`}, absent: []string{"entry 1"}},
		{name: "a target is not a region", spec: "ap-southeast-1/" + projAP + "=http://x", wantErr: []string{"entry 1", "not a region id"}},
		{name: "empty entry", spec: "ap-southeast-1=http://x,", wantErr: []string{`entry 2 ""`, "empty entry"}},
		{name: "region twice", spec: "ap-southeast-1=http://x, ap-southeast-1=http://y", wantErr: []string{"entry 2", "already entry 1"}},
		{
			name: "password never shown", spec: "ap-southeast-1=https://root:hunter2@kms.example",
			wantErr: []string{"entry 1", "xxxxx@kms.example"}, absent: []string{"hunter2", "root"},
		},
		{
			name: "query never shown", spec: "ap-southeast-1=https://kms.example?sig=hunter2#t0ken",
			wantErr: []string{"entry 1", "kms.example..."}, absent: []string{"hunter2", "t0ken"},
		},
		{name: "all problems at once", spec: "x=http://a,ap-southeast-1=ftp://b,,cn-north-4", wantErr: []string{"entry 1", "entry 2", "entry 3", "entry 4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := targets.ParseEndpoints(tc.spec)
			if tc.wantErr == nil {
				checkErr(t, err, nil, nil, nil)
			} else {
				checkErr(t, err, []error{targets.ErrInvalid}, tc.wantErr, tc.absent)
				if got != nil {
					t.Errorf("got %v with the error, want nil: the list is all or nothing", got)
				}
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("endpoints (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompileFilter(t *testing.T) {
	tests := []struct {
		expr      string
		match     []string
		noMatch   []string
		wantNil   bool
		wantError bool
	}{
		{expr: "", wantNil: true},
		{expr: "   ", wantNil: true},
		{expr: "cn-.*", match: []string{"cn-north-4", "cn-"}, noMatch: []string{"xcn-north-4", "ap-southeast-1"}},
		{expr: "north", noMatch: []string{"cn-north-4"}},
		{expr: "a|ab", match: []string{"a", "ab"}, noMatch: []string{"abc"}},
		{expr: "cn-north-4|ap-southeast-1", match: []string{"cn-north-4", "ap-southeast-1"}, noMatch: []string{"cn-north-4_prod"}},
		{expr: "(", wantError: true},
		{expr: "a)|(b", wantError: true},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			re, err := targets.CompileFilter(tc.expr)
			if tc.wantError {
				checkErr(t, err, []error{targets.ErrInvalid}, []string{"not a regular expression"}, nil)
				return
			}
			checkErr(t, err, nil, nil, nil)
			if (re == nil) != tc.wantNil {
				t.Fatalf("got filter %v, want nil: %t", re, tc.wantNil)
			}
			for _, s := range tc.match {
				if !re.MatchString(s) {
					t.Errorf("filter %q does not match %q, want a match", tc.expr, s)
				}
			}
			for _, s := range tc.noMatch {
				if re.MatchString(s) {
					t.Errorf("filter %q matches %q, want the whole string to be matched only", tc.expr, s)
				}
			}
		})
	}
}

func TestRegionOf(t *testing.T) {
	tests := map[string]string{
		"cn-north-4":         "cn-north-4",
		"cn-north-4_prod":    "cn-north-4",
		"cn-north-4_a_b":     "cn-north-4",
		"ap-southeast-1_":    "ap-southeast-1",
		"MOS":                "",
		"":                   "",
		"_cn-north-4":        "",
		"my-kualalumpur-1_x": "my-kualalumpur-1",
		"CN-NORTH-4":         "",
	}
	for name, want := range tests {
		if got := targets.RegionOf(name); got != want {
			t.Errorf("RegionOf(%q): got %q, want %q", name, got, want)
		}
	}
}
