package targets_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/tagwarden/tagwarden/adapters/targets"
)

// FuzzParseName: a payload's target name either parses into a region and
// project id that give the name back, or is refused as invalid; a name
// that parses never carries an endpoint.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{"ap-southeast-1/" + projAP, "", "/", "a/b", "cn-north-4/x=https://evil.example", "cn-north-4/a/b", "eur-west-7/" + strings.Repeat("z", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		region, project, err := targets.ParseName(s)
		if err != nil {
			if region != "" || project != "" {
				t.Errorf("ParseName(%q): got %q, %q with error %v, want nothing", s, region, project, err)
			}
			return
		}
		if got := (targets.Target{Region: region, ProjectID: project}).Name(); got != s {
			t.Errorf("ParseName(%q) = %q, %q: the name of those is %q", s, region, project, got)
		}
		if strings.ContainsAny(s, "=:?#@ ") {
			t.Errorf("ParseName(%q) accepted a name with an endpoint's characters", s)
		}
	})
}

// FuzzParse: every target returned has a name ParseName accepts, no two
// share a name, and an endpoint has a host and no user part, query or
// fragment.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"ap-southeast-1/" + projAP,
		"ap-southeast-1/a, cn-north-4/b=http://127.0.0.1:8080",
		"a,,b", "auto", "cn-north-4/b=https://u:p@x?q=1", "cn-north-4/b==", "=,=/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		ts, _ := targets.Parse(spec)
		seen := map[string]bool{}
		for _, tg := range ts {
			if _, _, err := targets.ParseName(tg.Name()); err != nil {
				t.Errorf("Parse(%q) returned %+v: %v", spec, tg, err)
			}
			if seen[tg.Name()] {
				t.Errorf("Parse(%q) returned %s twice", spec, tg.Name())
			}
			seen[tg.Name()] = true
			if tg.Endpoint == "" {
				continue
			}
			u, err := url.Parse(tg.Endpoint)
			if err != nil || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Host == "" {
				t.Errorf("Parse(%q) returned endpoint %q", spec, tg.Endpoint)
			}
		}
	})
}
