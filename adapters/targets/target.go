package targets

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/tagwarden/tagwarden/adapters/endpoint"
)

// Error kinds, checkable with errors.Is.
var (
	// ErrInvalid marks a target name, a target list entry or an endpoint
	// entry that does not parse.
	ErrInvalid = errors.New("invalid target")
	// ErrNotConfigured marks a well-formed target name outside the
	// configured set: a payload naming it is refused.
	ErrNotConfigured = errors.New("target not configured")
	// ErrNoTargets marks a configuration that leaves no target: automatic
	// discovery whose filters match no project, or an empty static list.
	ErrNoTargets = errors.New("no targets")
)

// MaxNameLen bounds a target name as this package reads it ("region/" and
// a project id of at most 64). Longer input is refused before it is
// parsed, and errors show at most this much of it.
const MaxNameLen = 128

var (
	// regionRE is the form of a region id, as cmd/internal/config checks
	// TAGWARDEN_REGION.
	regionRE = regexp.MustCompile(`^[a-z]{2,3}-[a-z]+-[0-9]+$`)
	// projectRE is the form of a project id, as cmd/internal/config checks
	// TAGWARDEN_PROJECT_ID.
	projectRE = regexp.MustCompile(`^[0-9A-Za-z-]{1,64}$`)
)

// Target is one region and project whose keys are enforced.
type Target struct {
	// Region is the region id, e.g. ap-southeast-1.
	Region string
	// ProjectID is the IAM project id.
	ProjectID string
	// ProjectName is the IAM project name when discovery found the target
	// ("cn-north-4" or a sub-project "cn-north-4_mysub"); "" otherwise.
	ProjectName string
	// Endpoint is the KMS endpoint to use instead of the region's public
	// one (a private endpoint, the emulator); "" means the region's. It
	// always comes from the configuration, never from a payload.
	Endpoint string
}

// Name is the target's name in payloads, reports and logs:
// "region/projectID". It never includes the endpoint.
func (t Target) Name() string { return t.Region + "/" + t.ProjectID }

// String is Name.
func (t Target) String() string { return t.Name() }

// ParseName splits a target name "region/projectID", as a payload or a log
// gives it, into its region and project id. Nothing is trimmed. Its errors
// wrap ErrInvalid and quote at most MaxNameLen bytes of s.
func ParseName(s string) (region, projectID string, err error) {
	if len(s) > MaxNameLen {
		return "", "", fmt.Errorf("%w %q...: longer than %d bytes", ErrInvalid, s[:MaxNameLen], MaxNameLen)
	}
	region, projectID, ok := strings.Cut(s, "/")
	if !ok {
		return "", "", fmt.Errorf("%w %q: want region/project_id, e.g. ap-southeast-1/0a1b2c3d4e5f", ErrInvalid, s)
	}
	if err := checkRegion(region); err != nil {
		return "", "", fmt.Errorf("%w %q: %v", ErrInvalid, s, err)
	}
	if !projectRE.MatchString(projectID) {
		return "", "", fmt.Errorf("%w %q: project id %q: want letters, digits and -, 1 to 64", ErrInvalid, s, projectID)
	}
	return region, projectID, nil
}

func checkRegion(region string) error {
	if !regionRE.MatchString(region) {
		return fmt.Errorf("region %q: not a region id like ap-southeast-1", region)
	}
	return nil
}

// Parse reads a TAGWARDEN_TARGETS list: comma-separated entries
// "region/project_id" or "region/project_id=endpoint", spaces around
// entries ignored. An endpoint is checked (and normalised) by
// huaweikms.CheckEndpoint's rule, endpoint.Check. The word "auto" is not a
// list: the caller checks for it first.
//
// Parse returns the entries that parse, in the list's order, and an error
// naming every entry that does not (its position from 1 and its text, an
// endpoint's user, password and query masked): an empty entry, a bad
// region, project id or endpoint, a target listed twice (the later entry is
// the one refused). The error wraps ErrInvalid. The caller may sweep the
// targets returned and report the error, so that one bad entry does not
// stop the others. An empty spec returns an error wrapping ErrNoTargets.
func Parse(spec string) ([]Target, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, fmt.Errorf("target list is empty: %w", ErrNoTargets)
	}
	var (
		out  []Target
		seen = map[string]int{}
	)
	errs := eachEntry(spec, func(n int, entry string) string {
		if strings.EqualFold(entry, "auto") {
			return `"auto" discovers the targets and stands alone, not in a list`
		}
		name, ep, hasEndpoint := strings.Cut(entry, "=")
		name, ep = strings.TrimSpace(name), strings.TrimSpace(ep)
		region, project, ok := strings.Cut(name, "/")
		if !ok {
			return "want region/project_id or region/project_id=endpoint"
		}
		var problems []string
		if err := checkRegion(region); err != nil {
			problems = append(problems, err.Error())
		}
		if !projectRE.MatchString(project) {
			problems = append(problems, fmt.Sprintf("project id %q: want letters, digits and -, 1 to 64", project))
		}
		if hasEndpoint {
			if ep == "" {
				problems = append(problems, "empty endpoint after =")
			} else if checked, err := endpoint.Check("KMS", ep); err != nil {
				problems = append(problems, err.Error())
			} else {
				ep = checked
			}
		}
		if len(problems) > 0 {
			return strings.Join(problems, "; ")
		}
		t := Target{Region: region, ProjectID: project, Endpoint: ep}
		if first, dup := seen[t.Name()]; dup {
			return fmt.Sprintf("target %s is already entry %d", t.Name(), first)
		}
		seen[t.Name()] = n
		out = append(out, t)
		return ""
	})
	if len(errs) > 0 {
		return out, fmt.Errorf("target list: %w", errors.Join(errs...))
	}
	return out, nil
}

// ParseEndpoints reads a TAGWARDEN_KMS_ENDPOINTS list: comma-separated
// entries "region=endpoint", spaces around entries ignored, giving the KMS
// endpoint of every target in that region that has none of its own. Each
// endpoint is checked (and normalised) by huaweikms.CheckEndpoint's rule,
// endpoint.Check. An empty spec is an empty map.
//
// Unlike Parse it is all or nothing: on any problem (an empty entry, a bad
// region or endpoint, a region listed twice) it returns nil and an error
// naming every bad entry by position and text, wrapping ErrInvalid; keys
// meant for a private endpoint must not go to the public one because its
// entry had a typo.
func ParseEndpoints(spec string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(spec) == "" {
		return out, nil
	}
	seen := map[string]int{}
	errs := eachEntry(spec, func(n int, entry string) string {
		region, given, ok := strings.Cut(entry, "=")
		region, given = strings.TrimSpace(region), strings.TrimSpace(given)
		if !ok || given == "" {
			return "want region=endpoint, e.g. ap-southeast-1=https://kms.internal.example:8443"
		}
		var problems []string
		if err := checkRegion(region); err != nil {
			problems = append(problems, err.Error())
		}
		ep, err := endpoint.Check("KMS", given)
		if err != nil {
			problems = append(problems, err.Error())
		}
		if len(problems) > 0 {
			return strings.Join(problems, "; ")
		}
		if first, dup := seen[region]; dup {
			return fmt.Sprintf("region %s is already entry %d", region, first)
		}
		seen[region] = n
		out[region] = ep
		return ""
	})
	if len(errs) > 0 {
		return nil, fmt.Errorf("endpoint list: %w", errors.Join(errs...))
	}
	return out, nil
}

// eachEntry calls parse with every entry of a comma-separated list, spaces
// around it trimmed, and its position from 1; an empty entry is refused
// without it. parse returns why its entry is refused, "" when it is not.
// eachEntry returns the refusals in the list's order, each naming its entry
// (shownEntry) and wrapping ErrInvalid.
func eachEntry(spec string, parse func(n int, entry string) (refused string)) []error {
	var errs []error
	for i, raw := range strings.Split(spec, ",") {
		n, entry := i+1, strings.TrimSpace(raw)
		why := "empty entry (a comma too many?)"
		if entry != "" {
			why = parse(n, entry)
		}
		if why != "" {
			errs = append(errs, fmt.Errorf("entry %d %q: %w: %s", n, shownEntry(entry), ErrInvalid, why))
		}
	}
	return errs
}

// shownEntry is a list entry as an error may show it: what follows "=" (an
// endpoint) with a user name or password replaced by xxxxx and a query or
// fragment by "..." (endpoint.Shown), clipped to MaxNameLen bytes plus the
// endpoint.
func shownEntry(entry string) string {
	name, ep, ok := strings.Cut(entry, "=")
	if !ok {
		return clip(entry, 2*MaxNameLen)
	}
	return clip(name, MaxNameLen) + "=" + clip(endpoint.Shown(ep), 2*MaxNameLen)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
