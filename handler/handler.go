package handler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/policy"
)

// Handler turns requests into remediated keys and reports. It is safe for
// concurrent use; build one per process and call Handle per invocation.
type Handler struct {
	engine *policy.Engine
	cfg    Config
	log    *logrus.Logger
	now    func() time.Time
	seal   sealer
}

// New returns a handler evaluating keys with engine. Zero or invalid
// numeric fields of cfg take their defaults; a nil log discards logs. An
// empty Config.ContinuationKey is replaced by a random key: the handler's
// continuations then resume only in this process.
func New(engine *policy.Engine, cfg Config, log *logrus.Logger) *Handler {
	def := DefaultConfig()
	if cfg.Concurrency < 1 {
		cfg.Concurrency = def.Concurrency
	}
	if cfg.MaxReportKeys < 1 {
		cfg.MaxReportKeys = def.MaxReportKeys
	}
	if cfg.MaxReportBytes < 1 {
		cfg.MaxReportBytes = def.MaxReportBytes
	}
	if cfg.MaxSnapshotAge == 0 {
		cfg.MaxSnapshotAge = def.MaxSnapshotAge
	}
	if cfg.Margin < 0 {
		cfg.Margin = 0
	}
	if cfg.KeyRetries < 0 {
		cfg.KeyRetries = 0
	}
	if cfg.KeyRetryDelay <= 0 {
		cfg.KeyRetryDelay = def.KeyRetryDelay
	}
	if cfg.KeyRetryMaxDelay < cfg.KeyRetryDelay {
		cfg.KeyRetryMaxDelay = cfg.KeyRetryDelay
	}
	if log == nil {
		log = logrus.New()
		log.SetOutput(io.Discard)
	}
	return &Handler{engine: engine, cfg: cfg, log: log, now: time.Now, seal: newSealer(cfg.ContinuationKey, cfg.ContinuationTTL)}
}

// Config returns the configuration the handler runs with, defaults applied.
func (h *Handler) Config() Config { return h.cfg }

// ContinuationRun returns the run and link a continuation starts, when it
// verifies under the handler's key (nothing else of it is checked): the
// invocation remembers the links it served by them, whatever the payload
// around the token says. ok is false for a token that does not verify.
func (h *Handler) ContinuationRun(tok string) (run string, link int, ok bool) {
	return h.seal.peek(tok)
}

// MaxKeyIDs bounds the key ids of one key request, so that its
// continuation stays small.
const MaxKeyIDs = 1000

type requestIDKey struct{}

// WithRequestID returns a context carrying the invocation's request id,
// which the handler puts in the report and in every log entry.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id stored by WithRequestID, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// fail records an error of the whole request.
func (rep *Report) fail(kind ErrorKind, msg string) {
	rep.Error, rep.ErrorKind = msg, kind
}

// Handle serves one request against store and returns its report. It never
// panics and always returns a report: errors of the whole request are in
// Report.Error (with Report.ErrorKind), errors of one key in that key's
// entry. It stops starting new work Config.Margin before ctx's deadline,
// waits for the work in flight, and returns a Report.Continuation that the
// next request passes to resume. It returns a continuation only when it
// made progress (decided a key or moved the listing on), so that a chain of
// invocations either advances or ends with an error.
func (h *Handler) Handle(ctx context.Context, store KeyStore, req Request) (rep Report) {
	rep = Report{
		RequestID: RequestID(ctx),
		Mode:      req.Mode,
		Trigger:   req.Trigger,
		DryRun:    h.cfg.DryRun,
		Started:   h.now().UTC(),
		Keys:      []KeyReport{},
	}
	if req.DryRun != nil {
		rep.DryRun = *req.DryRun
	}
	log := h.log.WithFields(logrus.Fields{
		"request_id": rep.RequestID,
		"mode":       string(req.Mode),
		"trigger":    req.Trigger,
		"dry_run":    rep.DryRun,
	})
	defer func() {
		if p := recover(); p != nil {
			rep.fail(KindInternal, fmt.Sprintf("internal error: %v", p))
			log.WithField("stack", string(debug.Stack())).Error("handler panic")
		}
		rep.Finished = h.now().UTC()
		sort.Slice(rep.Keys, func(i, j int) bool { return rep.Keys[i].KeyID < rep.Keys[j].KeyID })
		h.summary(log, &rep)
	}()

	tok, bind, ok := h.start(store, req, &rep)
	if !ok {
		return rep
	}
	r := newRun(ctx, h, store, &rep, log, req, bind)
	defer r.close()
	r.budget = newBudget(h.cfg, &rep, min(len(tok.IDs), MaxKeyIDs))
	if len(tok.IDs) > MaxKeyIDs {
		// An event naming more keys than one request takes: nobody can
		// send the rest again, so they are reported, not dropped.
		r.skipAll(tok.IDs[MaxKeyIDs:], fmt.Sprintf("the event names %d keys, more than the %d one request checks: not checked; the next sweep checks it", len(tok.IDs), MaxKeyIDs))
		tok.IDs = tok.IDs[:MaxKeyIDs]
	}
	r.execute(tok)
	if rep.Run != "" {
		t := r.totals(tok)
		rep.Totals = &t
	}
	return rep
}

// start checks the request and returns the work it asks for and what its
// continuation is bound to, or false
// with the report's error set (or its reason, for a request to ignore).
func (h *Handler) start(store KeyStore, req Request, rep *Report) (continuation, binding, bool) {
	switch req.Mode {
	case ModeIgnore:
		rep.Reason = req.Reason
		if rep.Reason == "" {
			rep.Reason = "nothing to do"
		}
		return continuation{}, binding{}, false
	case ModeSweep, ModeKeys:
	default:
		rep.fail(KindInvalidRequest, fmt.Sprintf("unknown request mode %q: want %q, %q or %q", req.Mode, ModeSweep, ModeKeys, ModeIgnore))
		return continuation{}, binding{}, false
	}
	if store == nil {
		rep.fail(KindInternal, "no key store")
		return continuation{}, binding{}, false
	}
	if h.engine == nil {
		rep.fail(KindInternal, "no policy engine")
		return continuation{}, binding{}, false
	}
	if req.Mode == ModeKeys {
		rep.Reason = req.Reason
	}
	bind := binding{scope: store.Scope(), policy: h.engine.Digest(), mode: req.Mode, dryRun: rep.DryRun, run: req.Run, link: req.Link, target: req.Target}
	if req.Continuation != "" {
		tok, err := h.seal.open(req.Continuation, bind, h.now())
		switch {
		case errors.Is(err, errStale):
			// The token verified, and is the link the request says: its run
			// and link are the deployment's own.
			rep.Run, rep.Link = tok.Run, tok.Link
			rep.fail(KindStaleContinuation, "stale continuation: "+err.Error())
			rep.Reason = ReasonNothingDone
			return tok, binding{}, false
		case err != nil:
			rep.Run, rep.Link = req.Run, req.Link
			rep.fail(KindInvalidContinuation, "invalid continuation: "+err.Error())
			rep.Reason = ReasonNothingDone
			return tok, binding{}, false
		}
		rep.Run, rep.Link = tok.Run, tok.Link
		rep.ChainBase = max(tok.Base, 1)
		if req.Resumed {
			rep.ChainBase = tok.Link
		}
		return tok, bind, true
	}
	if req.Run != "" && req.Link > 1 && !req.Restart {
		// Only a continuation starts a later link: a payload naming one
		// without would take a place in the run's story it has no part in.
		rep.Run, rep.Link = req.Run, req.Link
		rep.fail(KindInvalidRequest, fmt.Sprintf("link %d of run %q has no continuation: only link 1 starts without one", req.Link, req.Run))
		rep.Reason = ReasonNothingDone
		return continuation{}, binding{}, false
	}
	if req.Run != "" {
		rep.Run, rep.Link = req.Run, max(req.Link, 1)
		rep.ChainBase = 1
	}
	tok := continuation{Mode: req.Mode, DryRun: rep.DryRun}
	if req.Mode == ModeSweep {
		tok.List = true
		return tok, bind, true
	}
	tok.IDs = cleanIDs(req.KeyIDs)
	if len(tok.IDs) == 0 {
		rep.fail(KindInvalidRequest, "key request names no key ids")
		return tok, binding{}, false
	}
	if len(tok.IDs) > MaxKeyIDs && !IsEventTrigger(req.Trigger) {
		rep.fail(KindInvalidRequest, fmt.Sprintf("key request names %d keys, at most %d: use a sweep", len(tok.IDs), MaxKeyIDs))
		return tok, binding{}, false
	}
	return tok, bind, true
}

// summary logs the one summary entry of a request.
func (h *Handler) summary(log *logrus.Entry, rep *Report) {
	e := log.WithFields(logrus.Fields{
		"scanned":      rep.Scanned,
		"compliant":    rep.Compliant,
		"changed":      rep.Changed,
		"planned":      rep.Planned,
		"violating":    rep.Violating,
		"failed":       rep.Failed,
		"skipped":      rep.Skipped,
		"deferred":     rep.Deferred,
		"continuation": rep.Continuation != "",
		"duration_ms":  rep.Finished.Sub(rep.Started).Milliseconds(),
	})
	if rep.Error != "" {
		e.WithFields(logrus.Fields{"error": rep.Error, "error_kind": string(rep.ErrorKind)}).Error("request finished with an error")
		return
	}
	e.Info("request finished")
}

// cleanIDs trims ids, drops empty ones and duplicates, keeping order.
func cleanIDs(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	var out []string
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, id)
	}
	return out
}
