package outputs

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/handler"
)

// DefaultNotifyRepeat is how long an unresolved finding stays quiet after
// it was notified (TAGWARDEN_NOTIFY_REPEAT).
const DefaultNotifyRepeat = 7 * 24 * time.Hour

// DefaultPrefix is the default prefix of the report store's objects.
const DefaultPrefix = "tagwarden/"

// DefaultMaxAttempts bounds the calls of one output (the first and its
// retries); the invocation's deadline bounds them too.
const DefaultMaxAttempts = 3

// Options configure the outputs of a process. The zero value but Now is
// usable; New fills the defaults.
type Options struct {
	// Prefix of the report store's object keys (DefaultPrefix when empty;
	// "/" ends it).
	Prefix string
	// NotifyChanges lists the tags written in notifications, beside the
	// findings that need a person.
	NotifyChanges bool
	// NotifyRepeat is how long a notified finding that stays unresolved
	// is not notified again (DefaultNotifyRepeat when zero).
	NotifyRepeat time.Duration
	// Own is the name of the function's own target in reports, objects and
	// metrics when a report names none (region/project).
	Own string
	// MaxAttempts bounds the calls of one output (DefaultMaxAttempts).
	MaxAttempts int
	// MessageLimit bounds a notification's body in bytes (MaxMessageBytes
	// when zero; tests lower it).
	MessageLimit int
	// TempDir holds the objects being written (os.TempDir() when empty).
	TempDir string
	// Log receives one line per output sent or failed (nil: none).
	Log logrus.FieldLogger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Clients are the outputs one invocation reaches with its credentials;
// a nil field is an output that is off.
type Clients struct {
	Notifier Notifier
	Metrics  Metrics
	Store    Store
	// Group is set when the function may fan a sweep out to several
	// targets: a sweep's end then reads whether its run was a fan-out's,
	// to send the run's one notification (a function of one target reads
	// nothing for it).
	Group bool
}

// On reports whether any output is on.
func (c Clients) On() bool { return c.Notifier != nil || c.Metrics != nil || c.Store != nil }

// Recorder sends a process's invocations to their outputs. Safe for
// concurrent use.
type Recorder struct {
	opts   Options
	layout Layout
}

// New returns a Recorder with o's defaults filled.
func New(o Options) *Recorder {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Prefix[len(o.Prefix)-1] != '/' {
		o.Prefix += "/"
	}
	if o.NotifyRepeat <= 0 {
		o.NotifyRepeat = DefaultNotifyRepeat
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MessageLimit <= 0 {
		o.MessageLimit = MaxMessageBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		l := logrus.New()
		l.SetLevel(logrus.PanicLevel)
		o.Log = l
	}
	return &Recorder{opts: o, layout: Layout{Prefix: o.Prefix}}
}

// Layout returns where the Recorder stores objects.
func (r *Recorder) Layout() Layout { return r.layout }

// Options returns the Recorder's options, defaults filled.
func (r *Recorder) Options() Options { return r.opts }

// MaxMessageBytes is the largest notification body tagwarden sends:
// SMN's limit on a published message (256 KB, "大小至多256KB", the
// PublishMessage request body's message field).
const MaxMessageBytes = 256 * 1024

// MaxSubjectBytes is SMN's limit on a message's subject: 512 bytes.
const MaxSubjectBytes = 512

// target is the target name a report's outputs use.
func (r *Recorder) target(rep *handler.Report) string {
	if rep.Target != "" && containsSlash(rep.Target) {
		return rep.Target
	}
	if r.opts.Own != "" {
		return r.opts.Own
	}
	if rep.Target != "" {
		return rep.Target
	}
	return "own"
}

func containsSlash(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return true
		}
	}
	return false
}

// run is the run id a report's outputs use: its run, or its request id
// for a request outside any run.
func runOf(rep *handler.Report) string {
	switch {
	case rep.Run != "":
		return rep.Run
	case rep.RequestID != "":
		return "request-" + rep.RequestID
	}
	return "at-" + rep.Started.UTC().Format("20060102T150405.000000000Z")
}

// attempt calls fn until it succeeds, fails for good, the attempts run
// out, or too little time is left; it fills o's Attempts, OK, Error and
// Code, and logs the outcome.
func (r *Recorder) attempt(ctx context.Context, o *handler.OutputReport, fn func(context.Context) error) error {
	err := r.retry(ctx, o, fn)
	r.finish(o, err)
	r.logOutput(*o)
	return err
}

// retry calls fn until it succeeds, fails for good, the attempts run out,
// or too little time is left, counting the calls in o.Attempts.
func (r *Recorder) retry(ctx context.Context, o *handler.OutputReport, fn func(context.Context) error) error {
	// One output, with its retries, takes at most half the time left: a
	// service that does not answer leaves time for the others.
	ctx, cancel := shareContext(ctx)
	defer cancel()
	var err error
	for i := 0; i < r.opts.MaxAttempts; i++ {
		if i > 0 {
			wait := time.Duration(float64(200*time.Millisecond<<(i-1)) * (0.5 + rand.Float64()))
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait+500*time.Millisecond {
				break // no time for another call: report what failed
			}
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			if ctx.Err() != nil {
				break
			}
		}
		o.Attempts++
		actx, cancelAttempt := shareContext(ctx)
		err = fn(actx)
		late := actx.Err() != nil && ctx.Err() == nil
		cancelAttempt()
		if err == nil {
			break
		}
		if late {
			err = timedOut(err)
			continue
		}
		var oe *Error
		if !errors.As(err, &oe) || !oe.Retryable() {
			break
		}
	}
	return err
}

// shareContext bounds ctx to half the time left before its deadline (at
// least minAttempt): an output's calls get half the time left to the
// outputs, and each call half the output's, so that a service that
// answers slowly leaves time for a retry and for the outputs after it.
func shareContext(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	share := time.Until(dl) / 2
	if share < minAttempt {
		share = minAttempt
	}
	return context.WithTimeout(ctx, share)
}

// timedOut is err of a call cut by its shareContext: transient, so
// that it is tried again while time is left.
func timedOut(err error) error {
	const why = "no answer within the call's share of the time left"
	var oe *Error
	if errors.As(err, &oe) {
		c := *oe
		c.Kind, c.Message = ErrTransient, why+" ("+c.Message+")"
		return &c
	}
	return &Error{Kind: ErrTransient, Message: why + " (" + err.Error() + ")"}
}

// minAttempt is the least time one call of an output is given.
const minAttempt = time.Second

// attemptQuiet is attempt without the log line: reads whose outcome the
// caller reports.
func (r *Recorder) attemptQuiet(ctx context.Context, o *handler.OutputReport, fn func(context.Context) error) error {
	err := r.retry(ctx, o, fn)
	r.finish(o, err)
	return err
}

// finish fills o's outcome from err.
func (r *Recorder) finish(o *handler.OutputReport, err error) {
	o.OK = err == nil
	if err != nil {
		o.Error = err.Error()
		var oe *Error
		if errors.As(err, &oe) {
			o.Code = oe.Code
		}
		if o.Error == "" {
			o.Error = "failed"
		}
	}
}

func (r *Recorder) logOutput(o handler.OutputReport) {
	e := r.opts.Log.WithFields(logrus.Fields{"event": "output", "output": o.Output, "what": o.What, "where": o.Where,
		"ok": o.OK, "attempts": o.Attempts})
	switch {
	case o.Skipped:
		e.WithField("reason", o.Reason).Info("output skipped")
	case o.OK:
		if o.ID != "" {
			e = e.WithField("id", o.ID)
		}
		e.WithField("items", o.Items).Info("output sent")
	default:
		e.WithFields(logrus.Fields{"error": o.Error, "code": o.Code}).Error("output failed: the enforcement is not affected")
	}
}
