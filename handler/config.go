package handler

import (
	"time"

	"github.com/tagwarden/tagwarden/policy"
)

// Defaults of the handler's options, applied by New to zero fields and
// returned by DefaultConfig.
const (
	DefaultMargin         = 10 * time.Second
	DefaultConcurrency    = 4
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
	// MinMaxReportBytes is the smallest report budget that works: room for
	// the reserves and some entries.
	MinMaxReportBytes = 64 << 10
	// DefaultMaxSnapshotAge bounds how old the tags a write rests on may be.
	DefaultMaxSnapshotAge = 5 * time.Second
)

// Config holds the options of the handler. The process reads them (with
// its own settings: region, endpoint, rate limit, logging) from its
// configuration, in cmd/internal/config; the handler takes them as given.
type Config struct {
	// DryRun makes every request a dry run unless the request says otherwise.
	DryRun bool
	// Margin is how long before the context's deadline the handler stops
	// starting new work. Store calls still running Margin/2 before the
	// deadline are cancelled and their keys put in the continuation, so
	// that the report is returned in time.
	Margin time.Duration
	// Concurrency is the number of keys processed at once.
	Concurrency int
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
	// none (a progress display sets it).
	OnKey func(Outcome)
	// OnDecision, when set, is called for every key the policies were
	// evaluated on, with what its outcome rests on (see Decided), right
	// after OnKey and under the same rules: from the worker goroutines,
	// safe for concurrent use and fast; keys put back in the continuation
	// are not reported; a panic is logged and ignored. Keys given an outcome
	// without an evaluation (skipped default keys, failed reads) get no
	// call. It changes nothing the handler does: a caller that keeps or
	// compares decisions (the CLI's saved plans and policy-change previews)
	// sets it. Nil means none.
	OnDecision func(Decided)
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

// Decided is what one key's outcome rests on, for Config.OnDecision.
type Decided struct {
	// Key is the key as read.
	Key policy.Key
	// Tags are the tags the decision was made on, as read (never nil). The
	// handler shares the map: do not modify it.
	Tags map[string]string
	// Now is the time the policies were evaluated at (the request's).
	Now time.Time
	// Decision is the policies' decision on Key and Tags.
	Decision policy.Decision
	// Report is the key's entry as recorded: also for a compliant key,
	// which Report.Keys leaves out. In a real run whose earlier writes to
	// the key were cut in flight, it may report that earlier plan.
	Report KeyReport
}

// DefaultConfig returns the handler's options with every default applied.
func DefaultConfig() Config {
	return Config{
		Margin:           DefaultMargin,
		Concurrency:      DefaultConcurrency,
		KeyRetries:       DefaultKeyRetries,
		KeyRetryDelay:    DefaultKeyRetryDelay,
		KeyRetryMaxDelay: DefaultKeyRetryMaxDel,
		MaxReportKeys:    DefaultMaxReportKeys,
		MaxReportBytes:   DefaultMaxReportBytes,
		MaxSnapshotAge:   DefaultMaxSnapshotAge,
		ContinuationTTL:  DefaultContinuationTTL,
	}
}

// The process settings the handler's messages name, so that an operator
// knows what to change (lower the margin, raise the report budget, share
// the continuation key). The process reads them (cmd/internal/config, whose
// tests check that these are its variables); the handler only names them.
const (
	settingMargin          = "TAGWARDEN_DEADLINE_MARGIN"
	settingMaxReportKeys   = "TAGWARDEN_MAX_REPORT_KEYS"
	settingMaxReportBytes  = "TAGWARDEN_MAX_REPORT_BYTES"
	settingContinuationKey = "TAGWARDEN_CONTINUATION_KEY"
)
