package targets

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// MOSProjectName is the name of a project Huawei Cloud lists in every
// account besides the regions' ("the project for OBS billing"). It holds
// no keys of the account's own and is never a target.
const MOSProjectName = "MOS"

// Project is a project an identity can reach, as IAM lists it.
type Project struct {
	// ID is the project id.
	ID string
	// Name is the project's name: a region id ("cn-north-4"), a
	// sub-project "<region id>_<name>" ("cn-north-4_mysub"), or a special
	// project such as MOS.
	Name string
	// Region is the region the project belongs to ("" when Name does not
	// start with a region id). Resolve derives it from Name when empty.
	Region string
	// Enabled is false for a disabled project.
	Enabled bool
}

// Discoverer lists the projects the function's identity can reach.
type Discoverer interface {
	// Projects returns every project the identity can reach, enabled or
	// not, in any order. Its errors say which call failed and why; those
	// of huaweiiam unwrap to the handler's error kinds (handler.ErrDenied
	// for 401 and 403, handler.ErrThrottled, handler.ErrTransient for 5xx
	// and network faults, handler.ErrInvalid) and to the context's error
	// when ctx ended.
	Projects(ctx context.Context) ([]Project, error)
}

// Config is the target configuration of one process.
type Config struct {
	// Auto discovers the targets through the Discoverer
	// (TAGWARDEN_TARGETS=auto).
	Auto bool
	// Static is a fixed list of targets (TAGWARDEN_TARGETS, read with
	// Parse). Auto and Static exclude each other.
	Static []Target
	// Regions and Projects narrow automatic discovery (nil: all):
	// Regions must match a project's whole region id
	// (TAGWARDEN_TARGET_REGIONS), Projects its whole name
	// (TAGWARDEN_TARGET_PROJECTS). Resolve anchors them: "cn-.*" is
	// "^(?:cn-.*)$". CompileFilter compiles an expression so.
	Regions, Projects *regexp.Regexp
	// Endpoints gives the KMS endpoint by region for targets without one
	// of their own (TAGWARDEN_KMS_ENDPOINTS, read with ParseEndpoints).
	Endpoints map[string]string
	// Own is the function's own region and project (and KMS endpoint, if
	// overridden): the one target when neither Auto nor Static is set.
	Own Target
}

// CompileFilter compiles a TAGWARDEN_TARGET_REGIONS or
// TAGWARDEN_TARGET_PROJECTS expression (RE2 syntax) so that it must match
// the whole string: "cn-.*" becomes "^(?:cn-.*)$". An empty (or all
// spaces) expression is nil: no filter. Its error wraps ErrInvalid.
func CompileFilter(expr string) (*regexp.Regexp, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, nil
	}
	// Compiled alone first: "a)|(b" would otherwise escape the group,
	// "^(?:a)|(b)$" matching any string that starts with a.
	if _, err := regexp.Compile(expr); err != nil {
		return nil, fmt.Errorf("%w: filter %q is not a regular expression: %v", ErrInvalid, clip(expr, MaxNameLen), err)
	}
	return whole(regexp.MustCompile(expr))
}

// Resolve returns the configured targets, sorted by region then project
// id, each without an endpoint of its own given Endpoints[region]:
//
//   - Static: those targets;
//   - Auto: the projects d lists that are enabled, not MOS, named after a
//     region (the region is the name up to the first "_"), with a
//     well-formed id, and matched by Regions and Projects;
//   - neither: Own, as configured: its region or project may be empty
//     where the KMS store's own configuration supplies them (an endpoint,
//     the SDK's credential chain).
//
// Errors: a configuration that is not one of the three, or an invalid
// static target, wraps ErrInvalid; a discovery failure says so and
// wraps d's error (for IAM, a *huaweiiam.Error); automatic discovery
// leaving no target wraps ErrNoTargets and says how many projects each
// rule and filter took away.
func (c Config) Resolve(ctx context.Context, d Discoverer) ([]Target, error) {
	var out []Target
	switch {
	case c.Auto && len(c.Static) > 0:
		return nil, fmt.Errorf("targets: %w: both automatic discovery and a static list are configured", ErrInvalid)
	case c.Auto:
		if d == nil {
			return nil, fmt.Errorf("targets: %w: automatic discovery needs a discoverer (IAM)", ErrInvalid)
		}
		ts, err := c.discover(ctx, d)
		if err != nil {
			return nil, err
		}
		out = ts
	case len(c.Static) > 0:
		seen := make(map[string]bool, len(c.Static))
		for _, t := range c.Static {
			if _, _, err := ParseName(t.Name()); err != nil {
				return nil, fmt.Errorf("targets: static target: %w", err)
			}
			if seen[t.Name()] {
				return nil, fmt.Errorf("targets: %w: static target %s is listed twice", ErrInvalid, t.Name())
			}
			seen[t.Name()] = true
			out = append(out, t)
		}
	default:
		out = []Target{c.Own}
	}
	for i := range out {
		if out[i].Endpoint == "" {
			out[i].Endpoint = c.Endpoints[out[i].Region]
		}
	}
	slices.SortFunc(out, func(a, b Target) int {
		return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.ProjectID, b.ProjectID))
	})
	return out, nil
}

// Lookup returns the configured target named name ("region/projectID", as
// a payload gives it), with its endpoint from the configuration. A name
// that does not parse is an error wrapping ErrInvalid; a name outside the
// set Resolve returns (not listed, or a project of the identity the
// filters leave out) wraps ErrNotConfigured: a payload must never reach
// another project. With Auto it discovers through d on every call: the
// caller caches. Resolve's other errors are returned as they are.
func (c Config) Lookup(ctx context.Context, d Discoverer, name string) (Target, error) {
	region, project, err := ParseName(name)
	if err != nil {
		return Target{}, fmt.Errorf("target: %w", err)
	}
	set, err := c.Resolve(ctx, d)
	if err != nil {
		if errors.Is(err, ErrNoTargets) {
			return Target{}, fmt.Errorf("target %s: %w: %w", name, ErrNotConfigured, err)
		}
		return Target{}, fmt.Errorf("target %s: %w", name, err)
	}
	for _, t := range set {
		if t.Region == region && t.ProjectID == project {
			return t, nil
		}
	}
	var why string
	switch {
	case c.Auto:
		why = fmt.Sprintf("not among the %d projects discovered through IAM that pass the filters%s", len(set), c.filters())
	case len(c.Static) > 0:
		why = fmt.Sprintf("not among the %d targets of TAGWARDEN_TARGETS", len(set))
	default:
		why = fmt.Sprintf("the function enforces its own project %s only", c.Own.Name())
	}
	return Target{}, fmt.Errorf("target %s: %w: %s", name, ErrNotConfigured, why)
}

// filters describes the auto filters in effect, "" when none.
func (c Config) filters() string {
	var parts []string
	if c.Regions != nil {
		parts = append(parts, "TAGWARDEN_TARGET_REGIONS="+c.Regions.String())
	}
	if c.Projects != nil {
		parts = append(parts, "TAGWARDEN_TARGET_PROJECTS="+c.Projects.String())
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// discover lists the projects through d and keeps the targets.
func (c Config) discover(ctx context.Context, d Discoverer) ([]Target, error) {
	regions, err := whole(c.Regions)
	if err != nil {
		return nil, fmt.Errorf("targets: TAGWARDEN_TARGET_REGIONS: %w", err)
	}
	projects, err := whole(c.Projects)
	if err != nil {
		return nil, fmt.Errorf("targets: TAGWARDEN_TARGET_PROJECTS: %w", err)
	}
	ps, err := d.Projects(ctx)
	if err != nil {
		return nil, fmt.Errorf("targets: discover the projects through IAM: %w", err)
	}
	var (
		out  []Target
		seen = map[string]bool{}
		left skipped
	)
	for _, p := range ps {
		region := p.Region
		if region == "" {
			region = RegionOf(p.Name)
		}
		switch {
		case p.Name == MOSProjectName:
			left.mos++
		case !p.Enabled:
			left.disabled++
		case region == "" || !regionRE.MatchString(region):
			left.noRegion = append(left.noRegion, p.Name)
		case !projectRE.MatchString(p.ID):
			left.badID = append(left.badID, p.Name)
		case regions != nil && !regions.MatchString(region):
			left.regions++
		case projects != nil && !projects.MatchString(p.Name):
			left.projects++
		default:
			t := Target{Region: region, ProjectID: p.ID, ProjectName: p.Name}
			if !seen[t.Name()] {
				seen[t.Name()] = true
				out = append(out, t)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("targets: %w: %s", ErrNoTargets, left.describe(len(ps), c))
	}
	return out, nil
}

// skipped counts the projects discovery left out, by reason.
type skipped struct {
	mos, disabled, regions, projects int
	noRegion, badID                  []string
}

// describe says why none of listed projects is a target.
func (s skipped) describe(listed int, c Config) string {
	if listed == 0 {
		return "IAM lists no project for this identity"
	}
	var parts []string
	if s.disabled > 0 {
		parts = append(parts, fmt.Sprintf("%d disabled", s.disabled))
	}
	if s.mos > 0 {
		parts = append(parts, "MOS (OBS billing, never a target)")
	}
	if len(s.noRegion) > 0 {
		parts = append(parts, fmt.Sprintf("%d not named after a region (%s)", len(s.noRegion), shortList(s.noRegion)))
	}
	if len(s.badID) > 0 {
		parts = append(parts, fmt.Sprintf("%d with a malformed id (%s)", len(s.badID), shortList(s.badID)))
	}
	if s.regions > 0 {
		parts = append(parts, fmt.Sprintf("%d outside TAGWARDEN_TARGET_REGIONS=%s", s.regions, c.Regions))
	}
	if s.projects > 0 {
		parts = append(parts, fmt.Sprintf("%d outside TAGWARDEN_TARGET_PROJECTS=%s", s.projects, c.Projects))
	}
	return fmt.Sprintf("IAM lists %d projects and none is a target: %s", listed, strings.Join(parts, ", "))
}

func shortList(names []string) string {
	const max = 5
	quoted := make([]string, 0, max)
	for i, n := range names {
		if i == max {
			quoted = append(quoted, fmt.Sprintf("and %d more", len(names)-max))
			break
		}
		quoted = append(quoted, fmt.Sprintf("%q", clip(n, 64)))
	}
	return strings.Join(quoted, ", ")
}

// RegionOf returns the region of an IAM project name: the name itself for
// a region's project ("cn-north-4"), the part before the first "_" for a
// sub-project ("cn-north-4_mysub"), and "" when that is not a region id
// (MOS, for one).
func RegionOf(projectName string) string {
	region, _, _ := strings.Cut(projectName, "_")
	if !regionRE.MatchString(region) {
		return ""
	}
	return region
}

// whole returns re anchored to match whole strings only (nil stays nil).
func whole(re *regexp.Regexp) (*regexp.Regexp, error) {
	if re == nil {
		return nil, nil
	}
	w, err := regexp.Compile(`^(?:` + re.String() + `)$`)
	if err != nil {
		return nil, fmt.Errorf("%w: filter %q: %v", ErrInvalid, re.String(), err)
	}
	return w, nil
}
