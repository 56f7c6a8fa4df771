package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/adapters/endpoint"
	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/selfinvoke"
	"github.com/tagwarden/tagwarden/adapters/targets"
	"github.com/tagwarden/tagwarden/handler"
)

// Environment variables read by FromEnv.
const (
	EnvPolicies         = "TAGWARDEN_POLICIES"
	EnvRegion           = "TAGWARDEN_REGION"
	EnvEndpoint         = "TAGWARDEN_KMS_ENDPOINT"
	EnvProjectID        = "TAGWARDEN_PROJECT_ID"
	EnvDryRun           = "TAGWARDEN_DRY_RUN"
	EnvRateLimit        = "TAGWARDEN_RATE_LIMIT"
	EnvMargin           = "TAGWARDEN_DEADLINE_MARGIN"
	EnvConcurrency      = "TAGWARDEN_CONCURRENCY"
	EnvLogLevel         = "TAGWARDEN_LOG_LEVEL"
	EnvLogFormat        = "TAGWARDEN_LOG_FORMAT"
	EnvBatchSize        = "TAGWARDEN_BATCH_SIZE"
	EnvKeyRetries       = "TAGWARDEN_KEY_RETRIES"
	EnvKeyRetryDelay    = "TAGWARDEN_KEY_RETRY_DELAY"
	EnvKeyRetryMaxDelay = "TAGWARDEN_KEY_RETRY_MAX_DELAY"
	EnvMaxReportKeys    = "TAGWARDEN_MAX_REPORT_KEYS"
	EnvMaxReportBytes   = "TAGWARDEN_MAX_REPORT_BYTES"
	EnvMaxSnapshotAge   = "TAGWARDEN_MAX_SNAPSHOT_AGE"
	EnvContinuationKey  = "TAGWARDEN_CONTINUATION_KEY"
	EnvContinuationTTL  = "TAGWARDEN_CONTINUATION_TTL"

	// Organisation scale (see docs/configuration.md, "Targets").
	EnvTargets               = "TAGWARDEN_TARGETS"                // region/project[=endpoint],... or auto
	EnvTargetRegions         = "TAGWARDEN_TARGET_REGIONS"         // auto: regular expression on the region
	EnvTargetProjects        = "TAGWARDEN_TARGET_PROJECTS"        // auto: regular expression on the project name
	EnvKMSEndpoints          = "TAGWARDEN_KMS_ENDPOINTS"          // region=endpoint,... for targets without one
	EnvIAMEndpoint           = "TAGWARDEN_IAM_ENDPOINT"           // auto: the IAM endpoint (default the global one)
	EnvMaxChain              = "TAGWARDEN_MAX_CHAIN"              // links of one target's sweep; 0: no self-continuation
	EnvFunctionURN           = "TAGWARDEN_FUNCTION_URN"           // FunctionGraph: the function's own URN
	EnvFunctionGraphEndpoint = "TAGWARDEN_FUNCTIONGRAPH_ENDPOINT" // FunctionGraph API endpoint override
)

// EnvSDKProjectID is the Huawei Cloud SDK's credential-chain variable of
// the project (not a tagwarden variable: FromEnv does not read it). Where
// the platform names no project (Lambda, the CLI), the function's own
// target takes it when TAGWARDEN_PROJECT_ID is unset, as the SDK does.
const EnvSDKProjectID = "HUAWEICLOUD_SDK_PROJECT_ID"

// Defaults of the process's own settings (the handler's options take
// handler.DefaultConfig, the rate limit huaweikms.DefaultRateLimit).
const (
	DefaultLogLevel  = "info"
	DefaultLogFormat = "json"
	// DefaultMaxChain bounds the links of a target's sweep.
	DefaultMaxChain = 100
	// MaxMaxChain is the largest TAGWARDEN_MAX_CHAIN accepted.
	MaxMaxChain = 10000
)

// Bounds of the values FromEnv accepts.
const (
	// MinRateLimit is the slowest request rate accepted: below it a sweep
	// cannot read a listing page and a key within any function timeout.
	MinRateLimit = 1.0
	// MaxRateLimit is the fastest request rate accepted.
	MaxRateLimit = 1000.0
	// MaxConcurrency bounds the keys processed at once: more workers than
	// this only queue behind the rate limit.
	MaxConcurrency = 64
	// MaxMaxReportBytes is the largest report budget accepted: the platforms
	// refuse a synchronous response over 6 MB.
	MaxMaxReportBytes = 6000000
)

// Process is the configuration of one process: its own settings and the
// handler's options.
type Process struct {
	// PoliciesDir is a folder of policy YAML files; "" means the shipped
	// policies embedded in the binary (package policies).
	PoliciesDir string
	// Region is the Huawei Cloud region (e.g. ap-southeast-1).
	Region string
	// Endpoint overrides the KMS endpoint (e.g. an emulator's URL).
	Endpoint string
	// ProjectID is the project whose keys are enforced; platforms usually
	// set it (FunctionGraph: RUNTIME_PROJECT_ID).
	ProjectID string
	// RateLimit is the KMS request rate (requests per second) of the one
	// pacer every key store of the process shares (see KMS).
	RateLimit float64
	// LogLevel is a logrus level: trace, debug, info, warn, error.
	LogLevel string
	// LogFormat is json or text.
	LogFormat string
	// Handler holds the handler's options.
	Handler handler.Config
	// Targets is the target configuration (TAGWARDEN_TARGETS,
	// _TARGET_REGIONS, _TARGET_PROJECTS, _KMS_ENDPOINTS); its Own is set
	// by OwnTarget once the platform's project is known.
	Targets targets.Config
	// BadTargets are the entries of TAGWARDEN_TARGETS that do not parse,
	// each with why, when others do: the others are still swept, and
	// every fan-out reports these as refused.
	BadTargets []string
	// IAMEndpoint overrides IAM's endpoint, for targets auto.
	IAMEndpoint string
	// MaxChain bounds the links of a target's sweep that continue it
	// (0: a cut sweep does not continue itself).
	MaxChain int
	// FunctionURN is the FunctionGraph function's own URN; "": built from
	// the runtime's variables.
	FunctionURN string
	// FunctionGraphEndpoint overrides FunctionGraph's endpoint (the local
	// asynchronous invocation endpoint, a private endpoint).
	FunctionGraphEndpoint string
	// Outputs configures notifications, metrics and stored reports.
	Outputs Outputs
}

// OwnTarget returns the function's own target: Region, Endpoint and the
// project (ProjectID, or project when it is empty: the platform's).
func (p Process) OwnTarget(project string) targets.Target {
	if p.ProjectID != "" {
		project = p.ProjectID
	}
	return targets.Target{Region: p.Region, ProjectID: project, Endpoint: p.Endpoint}
}

// Default returns the configuration with every default applied.
func Default() Process {
	return Process{
		RateLimit: huaweikms.DefaultRateLimit,
		MaxChain:  DefaultMaxChain,
		LogLevel:  DefaultLogLevel,
		LogFormat: DefaultLogFormat,
		Handler:   handler.DefaultConfig(),
		Outputs:   DefaultOutputs(),
	}
}

var (
	regionRE  = regexp.MustCompile(`^[a-z]{2,3}-[a-z]+-[0-9]+$`)
	projectRE = regexp.MustCompile(`^[0-9A-Za-z-]{1,64}$`)
)

// FromEnv reads the TAGWARDEN_* variables through getenv (os.Getenv in
// production), applies defaults and validates every value. Unset or empty
// variables take their defaults; surrounding spaces are ignored. It
// reports all problems at once; each names the variable and the bad value
// (a continuation key, a secret, only by its length).
func FromEnv(getenv func(string) string) (Process, error) {
	p := Default()
	h := &p.Handler
	r := &reader{getenv: getenv}
	p.PoliciesDir = r.get(EnvPolicies)
	r.region(&p.Region)
	r.endpoint(&p.Endpoint)
	r.project(&p.ProjectID)
	r.boolean(EnvDryRun, &h.DryRun)
	r.rate(&p.RateLimit)
	r.duration(EnvMargin, &h.Margin, 0)
	r.integer(EnvConcurrency, &h.Concurrency, 1, MaxConcurrency)
	r.integer(EnvBatchSize, &h.BatchSize, 1, 100)
	r.integer(EnvKeyRetries, &h.KeyRetries, 0, 20)
	r.integer(EnvMaxReportKeys, &h.MaxReportKeys, 10, 1000000)
	r.integer(EnvMaxReportBytes, &h.MaxReportBytes, handler.MinMaxReportBytes, MaxMaxReportBytes)
	r.duration(EnvMaxSnapshotAge, &h.MaxSnapshotAge, time.Millisecond)
	r.duration(EnvContinuationTTL, &h.ContinuationTTL, time.Minute)
	r.continuationKey(&h.ContinuationKey)
	r.duration(EnvKeyRetryDelay, &h.KeyRetryDelay, time.Millisecond)
	r.duration(EnvKeyRetryMaxDelay, &h.KeyRetryMaxDelay, time.Millisecond)
	if h.KeyRetryMaxDelay < h.KeyRetryDelay {
		r.bad(EnvKeyRetryMaxDelay, h.KeyRetryMaxDelay.String(), "must not be less than %s (%s)", EnvKeyRetryDelay, h.KeyRetryDelay)
	}
	r.logLevel(&p.LogLevel)
	r.logFormat(&p.LogFormat)
	p.BadTargets = r.targets(&p.Targets)
	r.integer(EnvMaxChain, &p.MaxChain, 0, MaxMaxChain)
	p.IAMEndpoint = r.endpointOf(EnvIAMEndpoint, "IAM")
	p.FunctionGraphEndpoint = r.endpointOf(EnvFunctionGraphEndpoint, "FunctionGraph")
	r.functionURN(&p.FunctionURN)
	r.outputs(&p.Outputs)
	if len(r.errs) > 0 {
		return p, fmt.Errorf("configuration: %w", errors.Join(r.errs...))
	}
	return p, nil
}

// reader reads and checks the variables one by one, collecting every
// problem, each naming the variable and the value.
type reader struct {
	getenv func(string) string
	errs   []error
}

func (r *reader) get(name string) string { return strings.TrimSpace(r.getenv(name)) }

func (r *reader) bad(name, val, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s=%q: %s", name, val, fmt.Sprintf(format, args...)))
}

func (r *reader) region(dst *string) {
	if v := r.get(EnvRegion); v != "" {
		if !regionRE.MatchString(v) {
			r.bad(EnvRegion, v, "not a region name like ap-southeast-1")
		}
		*dst = v
	}
}

func (r *reader) endpoint(dst *string) { *dst = r.endpointOf(EnvEndpoint, "KMS") }

// endpointOf reads an endpoint variable: scheme, host, optional port and
// path prefix (huaweikms.CheckEndpoint).
func (r *reader) endpointOf(name, service string) string {
	v := r.get(name)
	if v == "" {
		return ""
	}
	if _, err := endpoint.Check(service, v); err != nil {
		r.bad(name, endpoint.Shown(v), "%v", err) // never repeat a password or a query
	}
	return v
}

// targets reads the target configuration; each variable's errors name it.
// Entries of the target list that do not parse are returned, each with
// why, when others do: those are still swept.
func (r *reader) targets(dst *targets.Config) (bad []string) {
	switch v := r.get(EnvTargets); {
	case strings.EqualFold(v, "auto"):
		dst.Auto = true
	case v != "":
		list, err := targets.Parse(v)
		switch {
		case err != nil && len(list) == 0:
			r.errs = append(r.errs, fmt.Errorf("%s: %w", EnvTargets, err))
		case err != nil:
			for _, e := range joined(err) {
				bad = append(bad, fmt.Sprintf("%s: %v", EnvTargets, e))
			}
		}
		dst.Static = list
	}
	for _, f := range []struct {
		name string
		dst  **regexp.Regexp
	}{{EnvTargetRegions, &dst.Regions}, {EnvTargetProjects, &dst.Projects}} {
		v := r.get(f.name)
		if v == "" {
			continue
		}
		if !dst.Auto {
			r.bad(f.name, v, "filters the projects of %s=auto, which is not set", EnvTargets)
			continue
		}
		re, err := targets.CompileFilter(v)
		if err != nil {
			r.bad(f.name, v, "%v", err)
		}
		*f.dst = re
	}
	if v := r.get(EnvKMSEndpoints); v != "" {
		eps, err := targets.ParseEndpoints(v)
		if err != nil {
			r.errs = append(r.errs, fmt.Errorf("%s: %w", EnvKMSEndpoints, err))
		}
		dst.Endpoints = eps
	}
	return bad
}

// joined returns the errors err joins (errors.Join, under any wrapping),
// or err alone.
func joined(err error) []error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			return j.Unwrap()
		}
	}
	return []error{err}
}

// functionURN reads the FunctionGraph function's own URN.
func (r *reader) functionURN(dst *string) {
	if v := r.get(EnvFunctionURN); v != "" {
		if _, err := selfinvoke.ParseURN(v); err != nil {
			r.bad(EnvFunctionURN, v, "%v", err)
		}
		*dst = v
	}
}

func (r *reader) project(dst *string) {
	if v := r.get(EnvProjectID); v != "" {
		if !projectRE.MatchString(v) {
			r.bad(EnvProjectID, v, "not a project id (letters, digits and -, at most 64)")
		}
		*dst = v
	}
}

func (r *reader) boolean(name string, dst *bool) {
	if v := r.get(name); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			r.bad(name, v, "want true or false")
		}
		*dst = b
	}
}

func (r *reader) rate(dst *float64) {
	v := r.get(EnvRateLimit)
	if v == "" {
		return
	}
	f, err := strconv.ParseFloat(v, 64)
	switch {
	case err != nil:
		r.bad(EnvRateLimit, v, "not a number (requests per second)")
	case !(f >= MinRateLimit && f <= MaxRateLimit): // NaN too
		r.bad(EnvRateLimit, v, "want requests per second from %g to %g: slower, a sweep cannot read a listing page and a key within a function's timeout", MinRateLimit, MaxRateLimit)
	default:
		*dst = f
	}
}

func (r *reader) duration(name string, dst *time.Duration, min time.Duration) {
	v := r.get(name)
	if v == "" {
		return
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		r.bad(name, v, "not a duration like 10s or 500ms")
	case d < min:
		r.bad(name, v, "must be at least %s", min)
	default:
		*dst = d
	}
}

func (r *reader) integer(name string, dst *int, min, max int) {
	v := r.get(name)
	if v == "" {
		return
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		r.bad(name, v, "not a whole number")
	case n < min || n > max:
		r.bad(name, v, "want %d to %d", min, max)
	default:
		*dst = n
	}
}

func (r *reader) continuationKey(dst *[]byte) {
	if v := r.get(EnvContinuationKey); v != "" {
		if len(v) < handler.MinContinuationKeyLen {
			// The value is a secret: never repeat it.
			r.errs = append(r.errs, fmt.Errorf("%s: %d bytes, want at least %d (a random string, the same for every instance)", EnvContinuationKey, len(v), handler.MinContinuationKeyLen))
		}
		*dst = []byte(v)
	}
}

func (r *reader) logLevel(dst *string) {
	if v := r.get(EnvLogLevel); v != "" {
		if lvl, err := logrus.ParseLevel(v); err != nil || lvl < logrus.ErrorLevel {
			// panic and fatal would silence every key decision and error.
			r.bad(EnvLogLevel, v, "want trace, debug, info, warn or error")
		}
		*dst = strings.ToLower(v)
	}
}

func (r *reader) logFormat(dst *string) {
	if v := r.get(EnvLogFormat); v != "" {
		switch strings.ToLower(v) {
		case "json", "text":
			*dst = strings.ToLower(v)
		default:
			r.bad(EnvLogFormat, v, "want json or text")
		}
	}
}
