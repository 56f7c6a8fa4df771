package handler

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// Environment variables read by ConfigFromEnv.
const (
	EnvPolicies        = "TAGWARDEN_POLICIES"
	EnvRegion          = "TAGWARDEN_REGION"
	EnvEndpoint        = "TAGWARDEN_KMS_ENDPOINT"
	EnvProjectID       = "TAGWARDEN_PROJECT_ID"
	EnvDryRun          = "TAGWARDEN_DRY_RUN"
	EnvRateLimit       = "TAGWARDEN_RATE_LIMIT"
	EnvMargin          = "TAGWARDEN_DEADLINE_MARGIN"
	EnvConcurrency     = "TAGWARDEN_CONCURRENCY"
	EnvLogLevel        = "TAGWARDEN_LOG_LEVEL"
	EnvLogFormat       = "TAGWARDEN_LOG_FORMAT"
	EnvBatchSize       = "TAGWARDEN_BATCH_SIZE"
	EnvKeyRetries      = "TAGWARDEN_KEY_RETRIES"
	EnvKeyRetryDelay   = "TAGWARDEN_KEY_RETRY_DELAY"
	EnvKeyRetryMaxDel  = "TAGWARDEN_KEY_RETRY_MAX_DELAY"
	EnvMaxReportKeys   = "TAGWARDEN_MAX_REPORT_KEYS"
	EnvMaxReportBytes  = "TAGWARDEN_MAX_REPORT_BYTES"
	EnvMaxSnapshotAge  = "TAGWARDEN_MAX_SNAPSHOT_AGE"
	EnvContinuationKey = "TAGWARDEN_CONTINUATION_KEY"
	EnvContinuationTTL = "TAGWARDEN_CONTINUATION_TTL"
)

// Defaults applied by ConfigFromEnv and DefaultConfig.
const (
	DefaultRateLimit      = 20.0
	DefaultMargin         = 10 * time.Second
	DefaultConcurrency    = 4
	DefaultLogLevel       = "info"
	DefaultLogFormat      = "json"
	DefaultKeyRetries     = 4
	DefaultKeyRetryDelay  = time.Second
	DefaultKeyRetryMaxDel = 8 * time.Second
	// DefaultMaxReportKeys bounds the key entries of one report: about
	// 1 KiB of memory each, so 10,000 keep a sweep well inside a 128 MiB
	// function however many keys need changes.
	DefaultMaxReportKeys = 10000
	// DefaultMaxReportBytes bounds the encoded report safely under the 6 MB
	// that Lambda and FunctionGraph allow a synchronous response.
	DefaultMaxReportBytes = 5 << 20
	// MinMaxReportBytes is the smallest report budget accepted: room for
	// the reserves and some entries.
	MinMaxReportBytes = 64 << 10
	// DefaultMaxSnapshotAge bounds how old the tags a write rests on may be.
	DefaultMaxSnapshotAge = 5 * time.Second
	// MinRateLimit is the slowest request rate accepted: below it a sweep
	// cannot read a listing page and a key within any function timeout.
	MinRateLimit = 1.0
	// MaxConcurrency bounds TAGWARDEN_CONCURRENCY: more workers than this only
	// queue behind the rate limit.
	MaxConcurrency = 64
)

// Config is the handler's configuration, read once per process.
type Config struct {
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
	// DryRun makes every request a dry run unless the request says otherwise.
	DryRun bool
	// RateLimit is the KMS request rate (requests per second). The handler
	// does not use it: whoever builds the key store gives the store a
	// pacer at this rate (huaweikms.NewPacer), shared by its calls.
	RateLimit float64
	// Margin is how long before the context's deadline the handler stops
	// starting new work. Store calls still running Margin/2 before the
	// deadline are cancelled and their keys put in the continuation, so
	// that the report is returned in time.
	Margin time.Duration
	// Concurrency is the number of keys processed at once.
	Concurrency int
	// LogLevel is a logrus level: trace, debug, info, warn, error.
	LogLevel string
	// LogFormat is json or text.
	LogFormat string
	// BatchSize is the maximum number of tags per BatchCreateKmsTags call;
	// 0 means the policy engine's limit (Limits.MaxBatch).
	BatchSize int
	// KeyRetries is how many more times a key read by id (key events) is
	// retried while it is not found or still pending activation.
	KeyRetries int
	// KeyRetryDelay is the first wait between those retries; it doubles
	// each time up to KeyRetryMaxDelay. Waits never pass the deadline.
	KeyRetryDelay time.Duration
	// KeyRetryMaxDelay caps the wait between retries.
	KeyRetryMaxDelay time.Duration
	// MaxReportKeys bounds the key entries of one report (Report.Keys), so
	// that memory stays bounded when many keys are not compliant. When a
	// report holds that many, the handler stops starting new work as it
	// does at the deadline, and the continuation resumes after the keys
	// reported. 0 means DefaultMaxReportKeys.
	MaxReportKeys int
	// OnKey, when set, is called once for every key given an outcome (every
	// key counted in Report.Scanned), right after the outcome is recorded,
	// from the worker goroutines: it must be safe for concurrent use and
	// fast, as the worker waits for it. Keys put back in the continuation
	// are not reported; a panic of OnKey is logged and ignored. Nil means
	// none. ConfigFromEnv leaves it nil (a progress display sets it).
	OnKey func(Outcome)
	// MaxReportBytes bounds the encoded report (JSON), so that it fits in
	// the platform's synchronous response: an entry that would cross it
	// goes to the continuation, and new work stops as at the deadline
	// once the entries in flight might not fit. 0 means
	// DefaultMaxReportBytes.
	MaxReportBytes int
	// MaxSnapshotAge bounds the age of the tags a write rests on: when a
	// key's tags were read longer ago (a listing page read a while back),
	// they are read again, and the key decided again, before anything is
	// written. 0 means DefaultMaxSnapshotAge.
	MaxSnapshotAge time.Duration
	// ContinuationKey authenticates continuations (HMAC-SHA256): every
	// instance of a deployment must share it for a continuation issued by
	// one to be accepted by another. Empty: a random key per Handler, so
	// that continuations resume only in this process.
	ContinuationKey []byte
	// ContinuationTTL is how long a continuation stays valid; 0 means
	// DefaultContinuationTTL.
	ContinuationTTL time.Duration
}

// DefaultConfig returns the configuration with every default applied.
func DefaultConfig() Config {
	return Config{
		RateLimit:        DefaultRateLimit,
		Margin:           DefaultMargin,
		Concurrency:      DefaultConcurrency,
		LogLevel:         DefaultLogLevel,
		LogFormat:        DefaultLogFormat,
		KeyRetries:       DefaultKeyRetries,
		KeyRetryDelay:    DefaultKeyRetryDelay,
		KeyRetryMaxDelay: DefaultKeyRetryMaxDel,
		MaxReportKeys:    DefaultMaxReportKeys,
		MaxReportBytes:   DefaultMaxReportBytes,
		MaxSnapshotAge:   DefaultMaxSnapshotAge,
		ContinuationTTL:  DefaultContinuationTTL,
	}
}

var (
	regionRE  = regexp.MustCompile(`^[a-z]{2,3}-[a-z]+-[0-9]+$`)
	projectRE = regexp.MustCompile(`^[0-9A-Za-z-]{1,64}$`)
)

// ConfigFromEnv reads the TAGWARDEN_* variables through getenv (os.Getenv
// in production), applies defaults and validates every value. It reports
// all problems at once; each names the variable and the bad value.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	var errs []error
	bad := func(name, val, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s=%q: %s", name, val, fmt.Sprintf(format, args...)))
	}
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }

	cfg.PoliciesDir = get(EnvPolicies)
	if v := get(EnvRegion); v != "" {
		if !regionRE.MatchString(v) {
			bad(EnvRegion, v, "not a region name like ap-southeast-1")
		}
		cfg.Region = v
	}
	if v := get(EnvEndpoint); v != "" {
		u, err := url.Parse(v)
		switch {
		case err != nil:
			bad(EnvEndpoint, v, "not a URL")
		case u.Scheme != "http" && u.Scheme != "https":
			bad(EnvEndpoint, v, "want an http:// or https:// URL")
		case u.Host == "":
			bad(EnvEndpoint, v, "URL has no host")
		}
		cfg.Endpoint = v
	}
	if v := get(EnvProjectID); v != "" {
		if !projectRE.MatchString(v) {
			bad(EnvProjectID, v, "not a project id (letters, digits and -, at most 64)")
		}
		cfg.ProjectID = v
	}
	if v := get(EnvDryRun); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad(EnvDryRun, v, "want true or false")
		}
		cfg.DryRun = b
	}
	if v := get(EnvRateLimit); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		switch {
		case err != nil:
			bad(EnvRateLimit, v, "not a number (requests per second)")
		case !(f >= MinRateLimit && f <= 1000): // NaN too
			bad(EnvRateLimit, v, "want requests per second from %g to 1000: slower, a sweep cannot read a listing page and a key within a function's timeout", MinRateLimit)
		default:
			cfg.RateLimit = f
		}
	}
	durationVar := func(name string, dst *time.Duration, min time.Duration) {
		v := get(name)
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			bad(name, v, "not a duration like 10s or 500ms")
		case d < min:
			bad(name, v, "must be at least %s", min)
		default:
			*dst = d
		}
	}
	intVar := func(name string, dst *int, min, max int) {
		v := get(name)
		if v == "" {
			return
		}
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			bad(name, v, "not a whole number")
		case n < min || n > max:
			bad(name, v, "want %d to %d", min, max)
		default:
			*dst = n
		}
	}
	durationVar(EnvMargin, &cfg.Margin, 0)
	intVar(EnvConcurrency, &cfg.Concurrency, 1, MaxConcurrency)
	intVar(EnvBatchSize, &cfg.BatchSize, 1, 100)
	intVar(EnvKeyRetries, &cfg.KeyRetries, 0, 20)
	intVar(EnvMaxReportKeys, &cfg.MaxReportKeys, 10, 1000000)
	intVar(EnvMaxReportBytes, &cfg.MaxReportBytes, MinMaxReportBytes, 6000000)
	durationVar(EnvMaxSnapshotAge, &cfg.MaxSnapshotAge, time.Millisecond)
	durationVar(EnvContinuationTTL, &cfg.ContinuationTTL, time.Minute)
	if v := get(EnvContinuationKey); v != "" {
		if len(v) < MinContinuationKeyLen {
			// The value is a secret: never repeat it.
			errs = append(errs, fmt.Errorf("%s: %d bytes, want at least %d (a random string, the same for every instance)", EnvContinuationKey, len(v), MinContinuationKeyLen))
		}
		cfg.ContinuationKey = []byte(v)
	}
	durationVar(EnvKeyRetryDelay, &cfg.KeyRetryDelay, time.Millisecond)
	durationVar(EnvKeyRetryMaxDel, &cfg.KeyRetryMaxDelay, time.Millisecond)
	if cfg.KeyRetryMaxDelay < cfg.KeyRetryDelay {
		bad(EnvKeyRetryMaxDel, cfg.KeyRetryMaxDelay.String(), "must not be less than %s (%s)", EnvKeyRetryDelay, cfg.KeyRetryDelay)
	}
	if v := get(EnvLogLevel); v != "" {
		if lvl, err := logrus.ParseLevel(v); err != nil || lvl < logrus.ErrorLevel {
			// panic and fatal would silence every key decision and error.
			bad(EnvLogLevel, v, "want trace, debug, info, warn or error")
		}
		cfg.LogLevel = strings.ToLower(v)
	}
	if v := get(EnvLogFormat); v != "" {
		switch strings.ToLower(v) {
		case "json", "text":
			cfg.LogFormat = strings.ToLower(v)
		default:
			bad(EnvLogFormat, v, "want json or text")
		}
	}
	if len(errs) > 0 {
		return cfg, fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	return cfg, nil
}

// NewLogger builds the logger the configuration asks for, writing to
// standard error: JSON unless LogFormat is "text", at LogLevel (info when
// unset or unknown).
func NewLogger(cfg Config) *logrus.Logger {
	return newLogger(cfg, os.Stderr)
}

func newLogger(cfg Config, w io.Writer) *logrus.Logger {
	log := logrus.New()
	log.SetOutput(w)
	if strings.EqualFold(cfg.LogFormat, "text") {
		log.SetFormatter(&logrus.TextFormatter{DisableColors: true, FullTimestamp: true})
	} else {
		log.SetFormatter(&logrus.JSONFormatter{})
	}
	lvl, err := logrus.ParseLevel(cfg.LogLevel)
	if err != nil {
		lvl = logrus.InfoLevel
	}
	log.SetLevel(lvl)
	return log
}
