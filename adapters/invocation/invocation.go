package invocation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/adapters/events"
	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/targets"
	"github.com/tagwarden/tagwarden/handler"
)

// Error types of the answers that carry no report ({"errorMessage",
// "errorType"} on the platforms).
const (
	TypeInvalidEvent  = "InvalidEvent"
	TypeConfiguration = "ConfigurationError"
	TypeInternal      = "InternalError"
)

// ErrNoStore: the function has no way to open a key store.
var ErrNoStore = errors.New("no key store configured")

// Error is an invocation that leaves no report, with its errorType.
type Error struct {
	// Type is the errorType: one of the Type constants, or a platform's own.
	Type string
	// Err is the cause; its message is the errorMessage.
	Err error
}

// Error returns the cause's message.
func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrorType returns the errorType.
func (e *Error) ErrorType() string { return e.Type }

// OpenFunc opens the key store of one invocation. An *Error it returns is
// the answer as it is; any other error is answered as a
// ConfigurationError.
type OpenFunc func(ctx context.Context) (handler.KeyStore, error)

// Pipeline serves invocations of one platform. The zero value of each
// field but Handler means none; a Pipeline is a value, cheap to build per
// invocation.
type Pipeline struct {
	// Handler serves the requests; built once per process.
	Handler *handler.Handler
	// Kinds are the payloads the platform takes (nil: every kind).
	Kinds []events.Kind
	// MaxPayload, when positive, bounds the payload in bytes.
	MaxPayload int
	// InitErr, when set, is a configuration error found at start-up: every
	// invocation answers it (ConfigurationError) instead of running.
	InitErr error
	// Runs configures targets, fan-outs, chains and outputs.
	Runs
}

// Runs configures how sweeps reach their targets: the targets, the chain's
// bound, the process's memory, the log of run events. The zero value is
// one target (Own, empty: the store's own configuration) and no chain.
type Runs struct {
	// Targets is the configured set of targets; the zero value is one
	// target, Targets.Own. Key events and checks go to Own.
	Targets targets.Config
	// MaxChain bounds the links of a target's sweep that continue it by
	// invoking the function itself; 0: a cut sweep returns its
	// continuation and does not continue itself.
	MaxChain int
	// Memory is the process's memory of links and targets (nil: none).
	Memory *Memory
	// Log receives the run events (fan-outs, dispatches, links; nil: none).
	Log logrus.FieldLogger
	// BadTargets are configured target entries that do not parse, each
	// with why: every fan-out over the configured set reports them as
	// refused targets, beside the others.
	BadTargets []string
	// Outputs, when set, sends each run's end to the outputs the
	// invocation's Cloud opens (stored reports, notification, metrics).
	Outputs *outputs.Recorder
}

// Invoke serves one invocation: Decode, Run, and the report as JSON.
// ctx carries the invocation's deadline and request id
// (handler.WithRequestID). Every error is an *Error.
func (p Pipeline) Invoke(ctx context.Context, payload []byte, cloud Cloud) ([]byte, error) {
	req, err := p.Decode(payload)
	if err != nil {
		return nil, err
	}
	rep, err := p.Run(ctx, req, cloud)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return nil, &Error{Type: TypeInternal, Err: fmt.Errorf("encode the report: %w", err)}
	}
	return body, nil
}

// Decode turns a payload into a request: a ConfigurationError when the
// process did not start (InitErr), whatever the payload; an InvalidEvent,
// wrapping events.ErrInvalid and naming the payloads expected, when the
// payload is too large or of no kind the platform takes.
func (p Pipeline) Decode(payload []byte) (handler.Request, error) {
	if p.InitErr != nil {
		return handler.Request{}, &Error{Type: TypeConfiguration, Err: p.InitErr}
	}
	if p.MaxPayload > 0 && len(payload) > p.MaxPayload {
		return handler.Request{}, &Error{Type: TypeInvalidEvent, Err: fmt.Errorf("%w: payload larger than %d bytes", events.ErrInvalid, p.MaxPayload)}
	}
	req, err := events.Decode(payload, p.Kinds...)
	if err != nil {
		return handler.Request{}, &Error{Type: TypeInvalidEvent, Err: err}
	}
	return req, nil
}

// Run serves a decoded request and returns its report, whatever its
// error. A sweep goes to its target (the one configured, or the one the
// request names) and continues itself when cut, or fans out to several
// targets (see sweep); key requests go to the function's own target; a
// request to ignore needs no store, and so no credentials. The error, an
// *Error, is for what leaves no report: a configuration error (InitErr, no
// handler, no store, a store that does not open for the own target) or
// the cloud's own *Error.
func (p Pipeline) Run(ctx context.Context, req handler.Request, cloud Cloud) (handler.Report, error) {
	switch {
	case p.InitErr != nil:
		return handler.Report{}, &Error{Type: TypeConfiguration, Err: p.InitErr}
	case p.Handler == nil:
		return handler.Report{}, &Error{Type: TypeConfiguration, Err: errors.New("no handler configured")}
	case req.Mode == handler.ModeIgnore:
		return p.Handler.Handle(ctx, nil, req), nil
	case cloud.Err != nil:
		return handler.Report{}, asError(cloud.Err)
	case cloud.Store == nil:
		return handler.Report{}, &Error{Type: TypeConfiguration, Err: ErrNoStore}
	}
	if req.Mode == handler.ModeSweep && (p.multi() || req.Target != "" || len(req.Targets) > 0 || req.Run != "" || p.Runs.MaxChain > 0 && cloud.Dispatcher != nil) {
		return p.sweep(ctx, req, cloud), nil // each target's store opens in its link
	}
	store, err := cloud.Store(ctx, p.Runs.Targets.Own)
	if err != nil {
		return handler.Report{}, asError(fmt.Errorf("open the key store: %w", err))
	}
	rep := p.Handler.Handle(ctx, store, req)
	if rep.Mode != handler.ModeIgnore {
		p.end(ctx, cloud, &rep)
	}
	return rep, nil
}

// clients opens the invocation's outputs; a failure to open them is
// listed in the report (the outputs are then off for it).
func (p Pipeline) clients(ctx context.Context, cloud Cloud, rep *handler.Report) (outputs.Clients, bool) {
	if p.Outputs == nil || cloud.Outputs == nil {
		return outputs.Clients{}, false
	}
	c, err := cloud.Outputs(ctx)
	if err != nil {
		o := handler.OutputReport{Output: "outputs", What: "open", Error: err.Error()}
		rep.Outputs = append(rep.Outputs, o)
		p.Runs.logOutputError(o)
		return outputs.Clients{}, false
	}
	// A run over several targets needs more than one configured.
	c.Group = p.Runs.Targets.Auto || len(p.Runs.Targets.Static) > 1
	return c, c.On()
}

// answerReserve is the time the outputs of a run's end leave before the
// invocation's deadline, for the report to be encoded and answered;
// dispatchReserve the time a link's stored report leaves, for the next
// link to be dispatched after it (the enforcement goes first).
const (
	answerReserve   = time.Second
	dispatchReserve = 3 * time.Second
)

// outputsContext bounds the outputs by the invocation's deadline less
// reserve.
func outputsContext(ctx context.Context, reserve time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, dl.Add(-reserve))
	}
	return context.WithCancel(ctx)
}

// end sends the end of a run to the outputs. A request refused before
// any key was read (handler.Report.Refused: invalid, a forged or stale
// continuation, the function's configuration) is no run's end: it is
// answered, and leaves the stored state, metrics and notifications as
// they were.
func (p Pipeline) end(ctx context.Context, cloud Cloud, rep *handler.Report) {
	if rep.Refused() {
		return
	}
	if c, ok := p.clients(ctx, cloud, rep); ok {
		ctx, cancel := outputsContext(ctx, answerReserve)
		defer cancel()
		p.Outputs.End(ctx, c, rep)
	}
}

// fanoutStart stores, before a fan-out dispatches, the targets it is
// about to dispatch.
func (p Pipeline) fanoutStart(ctx context.Context, cloud Cloud, rep *handler.Report, targets []string) {
	if c, ok := p.clients(ctx, cloud, rep); ok {
		ctx, cancel := outputsContext(ctx, dispatchReserve)
		defer cancel()
		p.Outputs.FanoutStart(ctx, c, rep, targets)
	}
}

// stored stores the report of an invocation that is not its run's end.
func (p Pipeline) stored(ctx context.Context, cloud Cloud, rep *handler.Report) {
	if c, ok := p.clients(ctx, cloud, rep); ok {
		reserve := answerReserve
		if rep.Mode != handler.ModeFanout {
			reserve = dispatchReserve // the next link is dispatched after it
		}
		ctx, cancel := outputsContext(ctx, reserve)
		defer cancel()
		p.Outputs.Link(ctx, c, rep)
	}
}

// multi reports whether more than one target may be configured.
func (p Pipeline) multi() bool { return p.Runs.Targets.Auto || len(p.Runs.Targets.Static) > 0 }

// asError is err as the invocation's answer: a platform's own *Error
// keeps its type; anything else is a ConfigurationError.
func asError(err error) *Error {
	if ie := (*Error)(nil); errors.As(err, &ie) {
		return &Error{Type: ie.Type, Err: err}
	}
	return &Error{Type: TypeConfiguration, Err: err}
}
