package targets_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/adapters/targets"
	"github.com/tagwarden/tagwarden/handler"
)

// authProjects is a KeystoneListAuthProjects answer in the API's shape.
type authProjects struct {
	Projects []struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Enabled  bool   `json:"enabled"`
		IsDomain bool   `json:"is_domain"`
	} `json:"projects"`
}

// fixtureProjects reads testdata/auth-projects.json: ap-southeast-1,
// cn-north-4, its sub-projects prod and old (disabled), eu-west-101 and MOS.
func fixtureProjects(t *testing.T) []targets.Project {
	t.Helper()
	data, err := os.ReadFile("testdata/auth-projects.json")
	if err != nil {
		t.Fatal(err)
	}
	var ap authProjects
	if err := json.Unmarshal(data, &ap); err != nil {
		t.Fatalf("testdata/auth-projects.json: %v", err)
	}
	var out []targets.Project
	for _, p := range ap.Projects {
		out = append(out, targets.Project{ID: p.ID, Name: p.Name, Enabled: p.Enabled})
	}
	return out
}

// fakeDiscoverer answers with its projects, or its error, counting calls.
type fakeDiscoverer struct {
	projects []targets.Project
	err      error
	calls    int
}

func (f *fakeDiscoverer) Projects(ctx context.Context) ([]targets.Project, error) {
	f.calls++
	return f.projects, f.err
}

func mustFilter(t *testing.T, expr string) *regexp.Regexp {
	t.Helper()
	re, err := targets.CompileFilter(expr)
	if err != nil {
		t.Fatal(err)
	}
	return re
}

var (
	tAP   = targets.Target{Region: "ap-southeast-1", ProjectID: projAP, ProjectName: "ap-southeast-1"}
	tCN   = targets.Target{Region: "cn-north-4", ProjectID: projCN, ProjectName: "cn-north-4"}
	tProd = targets.Target{Region: "cn-north-4", ProjectID: projProd, ProjectName: "cn-north-4_prod"}
	tEU   = targets.Target{Region: "eu-west-101", ProjectID: projEU, ProjectName: "eu-west-101"}
)

func withEndpoint(t targets.Target, ep string) targets.Target {
	t.Endpoint = ep
	return t
}

func TestResolve(t *testing.T) {
	own := targets.Target{Region: "ap-southeast-1", ProjectID: projAP}
	static := []targets.Target{
		{Region: "eu-west-101", ProjectID: projEU},
		{Region: "cn-north-4", ProjectID: projProd, Endpoint: "https://kms.own.example"},
		{Region: "cn-north-4", ProjectID: projCN},
		{Region: "ap-southeast-1", ProjectID: projAP},
	}
	endpoints := map[string]string{"cn-north-4": "https://kms.cn.example", "eu-west-101": "http://127.0.0.1:9999"}
	fixture := fixtureProjects(t)
	tests := []struct {
		name    string
		cfg     func(*testing.T) targets.Config
		d       targets.Discoverer
		want    []targets.Target
		kinds   []error
		wantErr []string
		absent  []string
	}{
		{
			name: "own", cfg: func(*testing.T) targets.Config { return targets.Config{Own: own} },
			want: []targets.Target{own},
		},
		{
			name: "own with the region's endpoint",
			cfg: func(*testing.T) targets.Config {
				return targets.Config{Own: own, Endpoints: map[string]string{"ap-southeast-1": "http://127.0.0.1:1"}}
			},
			want: []targets.Target{withEndpoint(own, "http://127.0.0.1:1")},
		},
		{
			name: "own endpoint wins",
			cfg: func(*testing.T) targets.Config {
				return targets.Config{Own: withEndpoint(own, "http://127.0.0.1:2"), Endpoints: map[string]string{"ap-southeast-1": "http://127.0.0.1:1"}}
			},
			want: []targets.Target{withEndpoint(own, "http://127.0.0.1:2")},
		},
		{
			// The store's configuration supplies what the own target leaves
			// out (an endpoint, the SDK's credential chain).
			name: "own as configured", cfg: func(*testing.T) targets.Config { return targets.Config{} },
			want: []targets.Target{{}},
		},
		{
			name: "static sorted, endpoints filled",
			cfg:  func(*testing.T) targets.Config { return targets.Config{Static: static, Endpoints: endpoints, Own: own} },
			want: []targets.Target{
				{Region: "ap-southeast-1", ProjectID: projAP},
				{Region: "cn-north-4", ProjectID: projCN, Endpoint: "https://kms.cn.example"},
				{Region: "cn-north-4", ProjectID: projProd, Endpoint: "https://kms.own.example"},
				{Region: "eu-west-101", ProjectID: projEU, Endpoint: "http://127.0.0.1:9999"},
			},
		},
		{
			name: "static twice",
			cfg: func(*testing.T) targets.Config {
				return targets.Config{Static: []targets.Target{own, withEndpoint(own, "http://127.0.0.1:1")}}
			},
			kinds: []error{targets.ErrInvalid}, wantErr: []string{"listed twice"},
		},
		{
			name: "static invalid",
			cfg: func(*testing.T) targets.Config {
				return targets.Config{Static: []targets.Target{{Region: "Asia", ProjectID: "x"}}}
			},
			kinds: []error{targets.ErrInvalid}, wantErr: []string{`region "Asia"`},
		},
		{
			name:  "auto and static",
			cfg:   func(*testing.T) targets.Config { return targets.Config{Auto: true, Static: static} },
			d:     &fakeDiscoverer{projects: fixture},
			kinds: []error{targets.ErrInvalid}, wantErr: []string{"both"},
		},
		{
			name:  "auto without a discoverer",
			cfg:   func(*testing.T) targets.Config { return targets.Config{Auto: true} },
			kinds: []error{targets.ErrInvalid}, wantErr: []string{"discoverer"},
		},
		{
			name: "auto: every enabled region and sub-project, not MOS",
			cfg:  func(*testing.T) targets.Config { return targets.Config{Auto: true, Own: own} },
			d:    &fakeDiscoverer{projects: fixture},
			want: []targets.Target{tAP, tCN, tProd, tEU},
		},
		{
			name: "auto: endpoints by region",
			cfg:  func(*testing.T) targets.Config { return targets.Config{Auto: true, Endpoints: endpoints} },
			d:    &fakeDiscoverer{projects: fixture},
			want: []targets.Target{tAP, withEndpoint(tCN, "https://kms.cn.example"), withEndpoint(tProd, "https://kms.cn.example"), withEndpoint(tEU, "http://127.0.0.1:9999")},
		},
		{
			name: "auto: regions filter",
			cfg: func(t *testing.T) targets.Config {
				return targets.Config{Auto: true, Regions: mustFilter(t, "cn-.*|eu-west-101")}
			},
			d:    &fakeDiscoverer{projects: fixture},
			want: []targets.Target{tCN, tProd, tEU},
		},
		{
			name: "auto: the region filter matches the region, not the name",
			cfg: func(t *testing.T) targets.Config {
				return targets.Config{Auto: true, Regions: mustFilter(t, "cn-north-4")}
			},
			d:    &fakeDiscoverer{projects: fixture},
			want: []targets.Target{tCN, tProd},
		},
		{
			name: "auto: project filter on the whole name keeps the region's project",
			cfg: func(t *testing.T) targets.Config {
				return targets.Config{Auto: true, Projects: mustFilter(t, "cn-north-4")}
			},
			d:    &fakeDiscoverer{projects: fixture},
			want: []targets.Target{tCN},
		},
		{
			name: "auto: sub-projects by name",
			cfg: func(t *testing.T) targets.Config {
				return targets.Config{Auto: true, Projects: mustFilter(t, ".*_(prod|old)")}
			},
			d:    &fakeDiscoverer{projects: fixture},
			want: []targets.Target{tProd},
		},
		{
			name: "auto: both filters",
			cfg: func(t *testing.T) targets.Config {
				return targets.Config{Auto: true, Regions: mustFilter(t, "cn-.*"), Projects: mustFilter(t, "[a-z0-9-]+")}
			},
			d:    &fakeDiscoverer{projects: fixture},
			want: []targets.Target{tCN},
		},
		{
			name: "auto: an unanchored regexp is anchored",
			cfg: func(*testing.T) targets.Config {
				return targets.Config{Auto: true, Regions: regexp.MustCompile("north")}
			},
			d:       &fakeDiscoverer{projects: fixture},
			kinds:   []error{targets.ErrNoTargets},
			wantErr: []string{"IAM lists 6 projects and none is a target", "1 disabled", "MOS", "4 outside TAGWARDEN_TARGET_REGIONS=north"},
		},
		{
			name: "auto: filters leave none",
			cfg: func(t *testing.T) targets.Config {
				return targets.Config{Auto: true, Regions: mustFilter(t, "ap-.*"), Projects: mustFilter(t, ".*_prod")}
			},
			d:     &fakeDiscoverer{projects: fixture},
			kinds: []error{targets.ErrNoTargets},
			wantErr: []string{
				"none is a target", "3 outside TAGWARDEN_TARGET_REGIONS=^(?:ap-.*)$", "1 outside TAGWARDEN_TARGET_PROJECTS=^(?:.*_prod)$",
			},
		},
		{
			name: "auto: only disabled, MOS and strangers",
			cfg:  func(*testing.T) targets.Config { return targets.Config{Auto: true} },
			d: &fakeDiscoverer{projects: []targets.Project{
				{ID: projOld, Name: "cn-north-4_old"},
				{ID: projMOS, Name: "MOS", Enabled: true},
				{ID: "abc", Name: "global", Enabled: true},
				{ID: "bad id", Name: "cn-north-4_x", Enabled: true},
			}},
			kinds:   []error{targets.ErrNoTargets},
			wantErr: []string{"1 disabled", "MOS", `1 not named after a region ("global")`, `1 with a malformed id ("cn-north-4_x")`},
		},
		{
			name:    "auto: IAM lists nothing",
			cfg:     func(*testing.T) targets.Config { return targets.Config{Auto: true} },
			d:       &fakeDiscoverer{},
			kinds:   []error{targets.ErrNoTargets},
			wantErr: []string{"IAM lists no project"},
		},
		{
			name: "auto: a project listed twice is one target",
			cfg:  func(*testing.T) targets.Config { return targets.Config{Auto: true} },
			d: &fakeDiscoverer{projects: []targets.Project{
				{ID: projCN, Name: "cn-north-4", Enabled: true},
				{ID: projCN, Name: "cn-north-4", Region: "cn-north-4", Enabled: true},
			}},
			want: []targets.Target{tCN},
		},
		{
			name:    "auto: discovery fails",
			cfg:     func(*testing.T) targets.Config { return targets.Config{Auto: true} },
			d:       &fakeDiscoverer{err: fmt.Errorf("iam KeystoneListAuthProjects: denied: %w", handler.ErrDenied)},
			kinds:   []error{handler.ErrDenied},
			wantErr: []string{"discover the projects through IAM: iam KeystoneListAuthProjects: denied"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg(t).Resolve(context.Background(), tc.d)
			checkErr(t, err, tc.kinds, tc.wantErr, tc.absent)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("targets (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	own := targets.Target{Region: "ap-southeast-1", ProjectID: projAP}
	fixture := fixtureProjects(t)
	static := targets.Config{
		Static:    []targets.Target{{Region: "cn-north-4", ProjectID: projCN}, {Region: "eu-west-101", ProjectID: projEU, Endpoint: "http://127.0.0.1:7"}},
		Endpoints: map[string]string{"cn-north-4": "https://kms.cn.example"},
		Own:       own,
	}
	auto := targets.Config{Auto: true, Projects: mustFilter(t, "cn-north-4|ap-southeast-1"), Endpoints: map[string]string{"cn-north-4": "https://kms.cn.example"}}
	tests := []struct {
		name    string
		cfg     targets.Config
		d       targets.Discoverer
		target  string
		want    targets.Target
		kinds   []error
		wantErr []string
		absent  []error
	}{
		{name: "static", cfg: static, target: "cn-north-4/" + projCN, want: targets.Target{Region: "cn-north-4", ProjectID: projCN, Endpoint: "https://kms.cn.example"}},
		{name: "static, own endpoint", cfg: static, target: "eu-west-101/" + projEU, want: targets.Target{Region: "eu-west-101", ProjectID: projEU, Endpoint: "http://127.0.0.1:7"}},
		{
			name: "static: not listed", cfg: static, target: "cn-north-4/" + projProd,
			kinds: []error{targets.ErrNotConfigured}, wantErr: []string{"cn-north-4/" + projProd, "not among the 2 targets"},
		},
		{
			name: "static: the function's own project is not listed", cfg: static, target: own.Name(),
			kinds: []error{targets.ErrNotConfigured},
		},
		{
			name: "does not parse", cfg: static, target: "cn-north-4:" + projCN,
			kinds: []error{targets.ErrInvalid}, wantErr: []string{"want region/project_id"}, absent: []error{targets.ErrNotConfigured},
		},
		{
			name: "a payload cannot bring its endpoint", cfg: static, target: "cn-north-4/" + projCN + "=https://evil.example",
			kinds: []error{targets.ErrInvalid}, absent: []error{targets.ErrNotConfigured},
		},
		{name: "own", cfg: targets.Config{Own: own}, target: own.Name(), want: own},
		{
			name: "own: another project", cfg: targets.Config{Own: own}, target: "ap-southeast-1/" + projEU,
			kinds: []error{targets.ErrNotConfigured}, wantErr: []string{"its own project ap-southeast-1/" + projAP + " only"},
		},
		{name: "auto", cfg: auto, d: &fakeDiscoverer{projects: fixture}, target: "cn-north-4/" + projCN, want: withEndpoint(tCN, "https://kms.cn.example")},
		{
			name: "auto: a project of the identity left out by the filters", cfg: auto, d: &fakeDiscoverer{projects: fixture}, target: "cn-north-4/" + projProd,
			kinds: []error{targets.ErrNotConfigured}, wantErr: []string{"not among the 2 projects discovered through IAM", "TAGWARDEN_TARGET_PROJECTS="},
		},
		{
			name: "auto: a disabled project", cfg: targets.Config{Auto: true}, d: &fakeDiscoverer{projects: fixture}, target: "cn-north-4/" + projOld,
			kinds: []error{targets.ErrNotConfigured},
		},
		{
			name: "auto: MOS", cfg: targets.Config{Auto: true}, d: &fakeDiscoverer{projects: fixture}, target: "ap-southeast-1/" + projMOS,
			kinds: []error{targets.ErrNotConfigured},
		},
		{
			name: "auto: a project in another region than its own", cfg: targets.Config{Auto: true}, d: &fakeDiscoverer{projects: fixture}, target: "ap-southeast-1/" + projCN,
			kinds: []error{targets.ErrNotConfigured},
		},
		{
			name: "auto: filters leave none", cfg: targets.Config{Auto: true, Regions: mustFilter(t, "la-.*")}, d: &fakeDiscoverer{projects: fixture}, target: "cn-north-4/" + projCN,
			kinds: []error{targets.ErrNotConfigured, targets.ErrNoTargets},
		},
		{
			name: "auto: discovery fails", cfg: auto, d: &fakeDiscoverer{err: errors.New("boom")}, target: "cn-north-4/" + projCN,
			wantErr: []string{"boom", "IAM"}, absent: []error{targets.ErrNotConfigured, targets.ErrInvalid},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.Lookup(context.Background(), tc.d, tc.target)
			checkErr(t, err, tc.kinds, tc.wantErr, nil)
			for _, k := range tc.absent {
				if errors.Is(err, k) {
					t.Errorf("got error %q wrapping %q, want it not to", err, k)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("target (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLookupDiscoversEachCall(t *testing.T) {
	d := &fakeDiscoverer{projects: fixtureProjects(t)}
	cfg := targets.Config{Auto: true}
	for range 3 {
		if _, err := cfg.Lookup(context.Background(), d, "cn-north-4/"+projCN); err != nil {
			t.Fatal(err)
		}
	}
	if d.calls != 3 {
		t.Errorf("got %d discoveries for 3 lookups, want 3 (the caller caches)", d.calls)
	}
	if _, err := cfg.Lookup(context.Background(), d, "nonsense"); !errors.Is(err, targets.ErrInvalid) || d.calls != 3 {
		t.Errorf("got %v after %d discoveries, want ErrInvalid before any discovery", err, d.calls)
	}
}
