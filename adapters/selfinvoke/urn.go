package selfinvoke

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// URN names a FunctionGraph function version or alias:
// urn:fss:{region}:{project_id}:function:{package}:{name}:{version}.
type URN struct {
	// Region is the region id, e.g. ap-southeast-3.
	Region string
	// ProjectID is the project's id: 32 lower-case hexadecimal digits.
	ProjectID string
	// Package is the function's group ("default" unless chosen).
	Package string
	// Name is the function's name.
	Name string
	// Version is "latest", a published version or an alias.
	Version string
}

// The parts of a URN. Names start with a letter (a version or alias may
// start with a digit) and hold letters, digits, '-' and '_' (versions also
// '.'); the lengths are generous bounds, not the console's.
var (
	urnRegion  = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)*-[0-9]+$`)
	urnProject = regexp.MustCompile(`^[0-9a-f]{32}$`)
	urnPackage = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	urnName    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,127}$`)
	urnVersion = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
)

// String is the URN's text, as FunctionGraph writes it.
func (u URN) String() string {
	return "urn:fss:" + u.Region + ":" + u.ProjectID + ":function:" + u.Package + ":" + u.Name + ":" + u.Version
}

// ParseURN parses a function URN,
// urn:fss:{region}:{project_id}:function:{package}:{name}:{version}, where
// version is "latest", a version or an alias. Its errors name the part that
// is wrong and quote that part only.
func ParseURN(s string) (URN, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 8 {
		return URN{}, fmt.Errorf("function URN: %d colon-separated parts, want 8: urn:fss:{region}:{project_id}:function:{package}:{name}:{version}", len(parts))
	}
	if parts[0] != "urn" || parts[1] != "fss" {
		return URN{}, fmt.Errorf("function URN: starts with %s, want urn:fss", quote(parts[0]+":"+parts[1]))
	}
	if parts[4] != "function" {
		return URN{}, fmt.Errorf("function URN: resource type %s, want function", quote(parts[4]))
	}
	u := URN{Region: parts[2], ProjectID: parts[3], Package: parts[5], Name: parts[6], Version: parts[7]}
	return u, u.validate()
}

// validate checks every part of u.
func (u URN) validate() error {
	checks := []struct {
		part, value, want string
		re                *regexp.Regexp
	}{
		{"region", u.Region, "a region id such as ap-southeast-3", urnRegion},
		{"project id", u.ProjectID, "32 lower-case hexadecimal digits", urnProject},
		{"package", u.Package, "letters, digits, '-' and '_', at most 64", urnPackage},
		{"function name", u.Name, "a letter, then letters, digits, '-' and '_'", urnName},
		{"version", u.Version, `"latest", a version or an alias: letters, digits, '.', '-' and '_'`, urnVersion},
	}
	for _, c := range checks {
		if c.value == "" {
			return fmt.Errorf("function URN: the %s is empty", c.part)
		}
		if !c.re.MatchString(c.value) {
			return fmt.Errorf("function URN: the %s %s is not valid: want %s", c.part, quote(c.value), c.want)
		}
	}
	return nil
}

// Environment variables of a FunctionGraph custom runtime naming the
// function (platforms.md, "Environment").
const (
	envProjectID   = "RUNTIME_PROJECT_ID"
	envPackage     = "RUNTIME_PACKAGE"
	envFuncName    = "RUNTIME_FUNC_NAME"
	envFuncVersion = "RUNTIME_FUNC_VERSION"
)

// URNFromRuntime builds the running function's URN from the runtime's
// environment (RUNTIME_PROJECT_ID, RUNTIME_PACKAGE, RUNTIME_FUNC_NAME,
// RUNTIME_FUNC_VERSION) and region, which the environment does not hold.
// Its error names every missing variable.
func URNFromRuntime(getenv func(string) string, region string) (URN, error) {
	u := URN{Region: strings.TrimSpace(region)}
	var missing []string
	for _, v := range []struct {
		name string
		dst  *string
	}{
		{envProjectID, &u.ProjectID}, {envPackage, &u.Package}, {envFuncName, &u.Name}, {envFuncVersion, &u.Version},
	} {
		*v.dst = strings.TrimSpace(getenv(v.name))
		if *v.dst == "" {
			missing = append(missing, v.name)
		}
	}
	if len(missing) > 0 {
		return URN{}, fmt.Errorf("function URN: the runtime's environment lacks %s", strings.Join(missing, ", "))
	}
	if u.Region == "" {
		return URN{}, errors.New("function URN: no region: the runtime's environment has none, it is configuration")
	}
	if err := u.validate(); err != nil {
		return URN{}, err
	}
	return u, nil
}

// quote quotes a bad part of the input, clipped.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)
}
