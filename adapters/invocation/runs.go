package invocation

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/adapters/events"
	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/targets"
	"github.com/tagwarden/tagwarden/handler"
)

// Dispatcher invokes the function itself asynchronously with a payload
// (the manual payload of one link): the platform's own asynchronous
// invocation is the only engine of fan-outs and chains. It returns the
// platform's id of the invocation.
type Dispatcher interface {
	Dispatch(ctx context.Context, payload []byte) (requestID string, err error)
}

// Cloud is what one invocation reaches with its credentials.
type Cloud struct {
	// Err, when set, is why the invocation reaches nothing (a platform's
	// own *Error, such as no credentials): every request but one to
	// ignore is answered with it.
	Err error
	// Store opens the key store of a target.
	Store func(ctx context.Context, t targets.Target) (handler.KeyStore, error)
	// Discoverer lists the projects of the identity, for targets "auto"
	// (nil: not available).
	Discoverer func(ctx context.Context) (targets.Discoverer, error)
	// Dispatcher invokes the function itself asynchronously (nil: no
	// fan-out and no self-continuation).
	Dispatcher func(ctx context.Context) (Dispatcher, error)
	// Outputs opens the outputs the invocation reaches (nil: none).
	Outputs func(ctx context.Context) (outputs.Clients, error)
}

// Cloud returns the Cloud of a function that opens one store whatever the
// target: a function of one target, no discovery, no self-invocation.
func (f OpenFunc) Cloud() Cloud {
	if f == nil {
		return Cloud{}
	}
	return Cloud{Store: func(ctx context.Context, _ targets.Target) (handler.KeyStore, error) { return f(ctx) }}
}

// DefaultMaxChain is the default bound of the links of a target's sweep.
const DefaultMaxChain = 100

// fanoutWorkers bounds the dispatches of a fan-out in flight at once.
const fanoutWorkers = 16

// discoveryTTL is how long a process reuses the targets it discovered.
const discoveryTTL = 5 * time.Minute

// Memory is what a process remembers across its invocations: the links it
// served (so that a second delivery of one is not served again, see
// docs/architecture.md, "Runs") and the targets it discovered. One per
// process; safe for concurrent use. The zero value is ready.
type Memory struct {
	mu     sync.Mutex
	links  map[string]claim
	order  []claimRef // claims in the order made, for eviction; stale ones skipped
	seq    uint64
	found  []targets.Target
	foundT time.Time
	id     string
}

// maxLinks bounds the links a Memory remembers; linkTTL is how long it
// remembers one (a continuation's default lifetime: a later delivery of
// the link is stale anyway).
const (
	maxLinks = 10000
	linkTTL  = handler.DefaultContinuationTTL
)

// claim is what a Memory holds of one link: it is running, or it ended
// its turn (done, or its successor dispatched); a claim released without
// ending its turn is deleted.
type claim struct {
	seq uint64
	at  time.Time
}

type claimRef struct {
	key string
	seq uint64
}

// Instance returns a random id of the process, which its run events carry
// (field "instance"): two deliveries of one invocation on two instances
// log lines that differ by it.
func (m *Memory) Instance() string {
	if m == nil {
		return ""
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.id == "" {
		b := make([]byte, 6)
		rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
		m.id = hex.EncodeToString(b)
	}
	return m.id
}

func linkKey(run, target string, link int) string { return fmt.Sprintf("%s|%s|%d", run, target, link) }

// claim marks a link running, unless this process is running it or has
// served it already.
func (m *Memory) claim(key string) bool {
	if m == nil {
		return true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.links == nil {
		m.links = map[string]claim{}
	}
	now := time.Now()
	if c, ok := m.links[key]; ok && now.Sub(c.at) < linkTTL {
		return false
	}
	m.seq++
	m.links[key] = claim{seq: m.seq, at: now}
	m.order = append(m.order, claimRef{key, m.seq})
	if len(m.order) > 2*maxLinks {
		// Drop the leftovers of forgotten claims, keeping the order.
		live := m.order[:0]
		for _, r := range m.order {
			if c, ok := m.links[r.key]; ok && c.seq == r.seq {
				live = append(live, r)
			}
		}
		m.order = live
	}
	for len(m.links) > maxLinks {
		old := m.order[0]
		m.order = m.order[1:]
		if c, ok := m.links[old.key]; ok && c.seq == old.seq {
			delete(m.links, old.key)
		}
	}
	return true
}

// release ends a claim: a link that ended its chain's turn (done, or its
// successor dispatched) stays served; any other may be delivered again (a
// platform's retry), and is then served again.
func (m *Memory) release(key string, served bool) {
	if m == nil {
		return
	}
	if served {
		return // the claim stays: its link is served
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.links, key) // its entry in order is skipped when reached
}

// resolve returns the configured targets, discovering them (through
// cloud) at most every discoveryTTL.
func (m *Memory) resolve(ctx context.Context, cfg targets.Config, cloud Cloud, now time.Time) ([]targets.Target, error) {
	if !cfg.Auto {
		return cfg.Resolve(ctx, nil)
	}
	if m != nil {
		m.mu.Lock()
		found, at := m.found, m.foundT
		m.mu.Unlock()
		if found != nil && now.Sub(at) < discoveryTTL {
			return found, nil
		}
	}
	if cloud.Discoverer == nil {
		return nil, errors.New("targets auto: this platform cannot list the identity's projects")
	}
	d, err := cloud.Discoverer(ctx)
	if err != nil {
		return nil, err
	}
	found, err := cfg.Resolve(ctx, d)
	if err != nil {
		return nil, err
	}
	if m != nil {
		m.mu.Lock()
		m.found, m.foundT = found, now
		m.mu.Unlock()
	}
	return found, nil
}

// lookup returns the configured target of that name: refused (wrapping
// targets.ErrNotConfigured or targets.ErrInvalid) when it is not one.
func (m *Memory) lookup(ctx context.Context, cfg targets.Config, cloud Cloud, name string, now time.Time) (targets.Target, error) {
	if _, _, err := targets.ParseName(name); err != nil {
		return targets.Target{}, err
	}
	all, err := m.resolve(ctx, cfg, cloud, now)
	if err != nil {
		return targets.Target{}, err
	}
	for _, t := range all {
		if t.Name() == name {
			return t, nil
		}
	}
	return targets.Target{}, fmt.Errorf("target %s: %w", name, targets.ErrNotConfigured)
}

// targetName is t's name, or its project alone when it has no region (the
// function's own target, configured with an endpoint only).
func targetName(t targets.Target) string {
	if t.Region == "" {
		return t.ProjectID
	}
	return t.Name()
}

// startKey is what every delivery of the invocation that starts a run
// repeats: the trigger event's id when it has one (an EventBridge event:
// its deliveries are separate invocations), else the platform's request id
// (kept by the platforms' retries of an asynchronous invocation).
func startKey(ctx context.Context, req handler.Request) string {
	if req.EventID != "" {
		// The event's id with what it asks: an event id reused for
		// another request (a console's sample event sent twice with
		// another detail) starts another run.
		what, _ := json.Marshal(struct {
			Mode    handler.Mode
			DryRun  *bool
			Target  string
			Targets []string
		}{req.Mode, req.DryRun, req.Target, req.Targets})
		sum := sha256.Sum256(what)
		return "event:" + req.EventID + ":" + hex.EncodeToString(sum[:8])
	}
	return handler.RequestID(ctx)
}

// runID returns the id of the run an invocation starts: derived from its
// start key, so that a second delivery of the same invocation starts the
// same run, whose links are then answered as duplicates; random without
// one.
func runID(startKey string) string {
	if startKey == "" {
		b := make([]byte, 12)
		rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
		return hex.EncodeToString(b)
	}
	sum := sha256.Sum256([]byte("tagwarden run\n" + startKey))
	return hex.EncodeToString(sum[:12])
}

// sweep serves a sweep request: in place for one target, or fanned out.
func (p Pipeline) sweep(ctx context.Context, req handler.Request, cloud Cloud) handler.Report {
	now := time.Now()
	if req.Target != "" || (req.Run != "" || req.Continuation != "") && len(req.Targets) == 0 {
		name := req.Target
		if name == "" { // a continuation resumed by hand, with no target: the only one
			all, err := p.Runs.Memory.resolve(ctx, p.Runs.Targets, cloud, now)
			if err == nil && len(all) != 1 {
				err = fmt.Errorf("%d targets are configured: name the target the continuation belongs to: %w", len(all), targets.ErrInvalid)
			}
			if err != nil {
				return p.refused(ctx, req, name, err)
			}
			return p.link(ctx, req, all[0], cloud)
		}
		t, err := p.Runs.Memory.lookup(ctx, p.Runs.Targets, cloud, name, now)
		if err != nil {
			return p.refused(ctx, req, name, err)
		}
		return p.link(ctx, req, t, cloud)
	}
	var chosen []targets.Target
	var bad []handler.TargetReport
	if len(req.Targets) > 0 {
		for _, name := range req.Targets {
			t, err := p.Runs.Memory.lookup(ctx, p.Runs.Targets, cloud, name, now)
			if err != nil {
				bad = append(bad, handler.TargetReport{Target: name, Error: err.Error(), ErrorKind: targetErrorKind(err)})
				continue
			}
			chosen = append(chosen, t)
		}
	} else {
		all, err := p.Runs.Memory.resolve(ctx, p.Runs.Targets, cloud, now)
		if err != nil {
			// The run that could not start is still a run of the logs'
			// story: tagwarden runs shows it incomplete.
			rep := p.newReport(ctx, req, handler.ModeFanout)
			rep.Run = runID(startKey(ctx, req))
			rep.Error, rep.ErrorKind = err.Error(), targetErrorKind(err)
			p.logRefused(rep, "", err)
			p.log(rep.Run).WithFields(logrus.Fields{"event": "fanout", "targets": 0, "dispatched": 0, "failed": 1,
				"dry_run": rep.DryRun, "trigger": rep.Trigger, "request_id": rep.RequestID, "error": rep.Error}).Error("sweep not fanned out")
			return rep
		}
		for _, msg := range p.Runs.BadTargets {
			bad = append(bad, handler.TargetReport{Target: "(configuration)", Error: msg, ErrorKind: handler.KindConfiguration})
		}
		if len(all) == 1 && len(bad) == 0 {
			return p.link(ctx, req, all[0], cloud)
		}
		chosen = all
	}
	return p.fanout(ctx, req, chosen, bad, cloud)
}

func targetErrorKind(err error) handler.ErrorKind {
	switch {
	case errors.Is(err, targets.ErrNotConfigured) || errors.Is(err, targets.ErrInvalid):
		return handler.KindInvalidRequest
	case errors.Is(err, handler.ErrDenied):
		return handler.KindDenied // IAM refused to list the identity's projects
	}
	return handler.KindConfiguration
}

// newReport returns a report of req with nothing done.
func (p Pipeline) newReport(ctx context.Context, req handler.Request, mode handler.Mode) handler.Report {
	now := time.Now().UTC()
	rep := handler.Report{RequestID: handler.RequestID(ctx), Mode: mode, Trigger: req.Trigger,
		DryRun: p.Handler.Config().DryRun, Started: now, Finished: now, Keys: []handler.KeyReport{},
		Run: req.Run, Link: req.Link, Target: req.Target}
	if req.DryRun != nil {
		rep.DryRun = *req.DryRun
	}
	return rep
}

// refused answers a sweep of a target that is not swept: not configured,
// not a target name, or the set could not be resolved.
func (p Pipeline) refused(ctx context.Context, req handler.Request, name string, err error) handler.Report {
	rep := p.newReport(ctx, req, handler.ModeSweep)
	rep.Target = name
	rep.Error, rep.ErrorKind = err.Error(), targetErrorKind(err)
	rep.Reason = handler.ReasonNothingDone
	if req.Run != "" {
		rep.Chain = &handler.ChainReport{State: handler.ChainRefused, Reason: err.Error()}
	}
	p.logRefused(rep, name, err)
	return rep
}

// fanout dispatches one link 1 per target, in a new run.
func (p Pipeline) fanout(ctx context.Context, req handler.Request, chosen []targets.Target, bad []handler.TargetReport, cloud Cloud) handler.Report {
	rep := p.newReport(ctx, req, handler.ModeFanout)
	rep.Run = runID(startKey(ctx, req))
	if k := startKey(ctx, req); k != "" {
		key := "fanout|" + k
		if !p.Runs.Memory.claim(key) {
			rep.Reason = "a second delivery of a fan-out this instance has served: nothing was dispatched"
			rep.Chain = &handler.ChainReport{State: handler.ChainDuplicate, Reason: rep.Reason}
			p.log(rep.Run).WithFields(logrus.Fields{"event": "fanout", "duplicate": true, "targets": 0, "dispatched": 0,
				"failed": 0, "dry_run": rep.DryRun, "trigger": rep.Trigger, "request_id": rep.RequestID}).Info("duplicate fan-out ignored")
			return rep
		}
		defer p.Runs.Memory.release(key, true)
	}
	rep.Targets = make([]handler.TargetReport, len(chosen), len(chosen)+len(bad))
	var d Dispatcher
	var derr error
	switch {
	case req.Continuation != "":
		derr = errors.New("a continuation resumes one target's sweep: name its target")
	case cloud.Dispatcher == nil:
		derr = errors.New("this function cannot invoke itself here, so it cannot fan out (on FunctionGraph set TAGWARDEN_FUNCTION_URN or run with the runtime's variables; locally, name one target)")
	default:
		d, derr = cloud.Dispatcher(ctx)
	}
	if derr == nil {
		names := make([]string, len(chosen))
		for i, t := range chosen {
			names[i] = targetName(t)
		}
		p.fanoutStart(ctx, cloud, &rep, names)
	}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(fanoutWorkers, len(chosen)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				rep.Targets[i] = p.dispatchFirst(ctx, d, derr, rep, chosen[i])
			}
		}()
	}
	for i := range chosen {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	for _, b := range bad {
		p.log(rep.Run).WithFields(logrus.Fields{"event": "target_error", "target": b.Target, "error": b.Error, "error_kind": string(b.ErrorKind)}).Error("target refused")
	}
	rep.Targets = append(rep.Targets, bad...)
	dispatched, failed := 0, 0
	for _, t := range rep.Targets {
		if t.Dispatched {
			dispatched++
		} else {
			failed++
		}
	}
	rep.Finished = time.Now().UTC()
	rep.Reason = fmt.Sprintf("fan-out of run %s: %d of %d targets dispatched", rep.Run, dispatched, len(rep.Targets))
	if failed > 0 && dispatched == 0 {
		rep.Error, rep.ErrorKind = "no target was dispatched: "+rep.Targets[0].Error, handler.KindConfiguration
	}
	p.log(rep.Run).WithFields(logrus.Fields{"event": "fanout", "targets": len(rep.Targets), "dispatched": dispatched,
		"failed": failed, "dry_run": rep.DryRun, "trigger": rep.Trigger, "request_id": rep.RequestID}).Info("sweep fanned out")
	p.stored(ctx, cloud, &rep)
	return rep
}

// dispatchFirst invokes link 1 of run rep.Run for target t.
func (p Pipeline) dispatchFirst(ctx context.Context, d Dispatcher, derr error, rep handler.Report, t targets.Target) handler.TargetReport {
	tr := handler.TargetReport{Target: targetName(t)}
	err := derr
	if err == nil {
		tr.RequestID, err = dispatch(ctx, d, events.Manual{Action: events.ActionSweep, Target: targetName(t), Run: rep.Run, Link: 1, DryRun: &rep.DryRun})
	}
	switch {
	case err != nil && derr != nil: // no dispatcher: how the function is set up
		tr.Error, tr.ErrorKind = "dispatch: "+err.Error(), handler.KindConfiguration
	case err != nil:
		tr.Error, tr.ErrorKind = "dispatch: "+err.Error(), dispatchErrorKind(err)
	}
	tr.Dispatched = err == nil
	p.logDispatch(rep.Run, targetName(t), 1, "fanout", tr.RequestID, err)
	return tr
}

// dispatchErrorKind classifies a failed dispatch: denied when the
// platform refused the identity (an error with Denied() true), else
// chain_stopped (the target's sweep did not start; the fan-out may be
// sent again).
func dispatchErrorKind(err error) handler.ErrorKind {
	var d interface{ Denied() bool }
	if errors.As(err, &d) && d.Denied() {
		return handler.KindDenied
	}
	return handler.KindChainStopped
}

func dispatch(ctx context.Context, d Dispatcher, m events.Manual) (string, error) {
	payload, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	return d.Dispatch(ctx, payload)
}

// link sweeps target t in place: one link of its run (a new run when the
// request has none and the chain can continue itself), then dispatches the
// next link when the sweep was cut.
func (p Pipeline) link(ctx context.Context, req handler.Request, t targets.Target, cloud Cloud) handler.Report {
	req.Target, req.Targets = targetName(t), nil
	chain := p.Runs.MaxChain > 0 && cloud.Dispatcher != nil
	if req.Continuation != "" && req.Run == "" {
		// A link's token resumed without its run and link: it is that link
		// still, for the memory of links served as for the handler.
		if run, link, ok := p.Handler.ContinuationRun(req.Continuation); ok && run != "" {
			req.Run, req.Link, req.Resumed = run, link, true
		}
	}
	if req.Run == "" && req.Continuation == "" && chain {
		req.Run, req.Link = runID(startKey(ctx, req)), 1
	}
	key := ""
	if req.Run != "" {
		key = linkKey(req.Run, req.Target, req.Link)
		if !p.Runs.Memory.claim(key) {
			rep := p.newReport(ctx, req, handler.ModeSweep)
			rep.Reason = "a second delivery of a link this instance is serving or has served: nothing was done"
			rep.Chain = &handler.ChainReport{State: handler.ChainDuplicate, Reason: rep.Reason}
			p.logLink(rep, "link_end", logrus.Fields{"state": handler.ChainDuplicate})
			return rep
		}
	}
	served := false
	defer func() { p.Runs.Memory.release(key, served) }()

	store, err := cloud.Store(ctx, t)
	if err != nil {
		return p.refused(ctx, req, req.Target, fmt.Errorf("open the key store: %w", err))
	}
	if req.Run != "" {
		p.logLink(p.newReport(ctx, req, handler.ModeSweep), "link_start", nil)
	}
	rep := p.Handler.Handle(ctx, store, req)
	rep.Target = req.Target
	restarted := ""
	if rep.ErrorKind == handler.KindStaleContinuation && rep.Run != "" {
		// The deployment's own token, issued under another configuration:
		// sweep the target from the start, in the same run and link.
		restarted = rep.Error
		fresh := handler.Request{Mode: handler.ModeSweep, DryRun: &rep.DryRun, Trigger: req.Trigger, Target: req.Target,
			Run: rep.Run, Link: rep.Link, Restart: true, Reason: "restarted: the continuation no longer matched the configuration"}
		rep = p.Handler.Handle(ctx, store, fresh)
		rep.Target = req.Target
		rep.Warnings = append(rep.Warnings, "restarted this target's sweep from the start: "+restarted)
	}
	if rep.Run == "" {
		// A sweep outside any run: the report's continuation is the
		// caller's; the invocation is the run.
		p.end(ctx, cloud, &rep)
		return rep
	}
	if rep.Continuation != "" && chain {
		// Stored before the next link is dispatched, so that the run's end
		// finds it.
		p.stored(ctx, cloud, &rep)
	}
	rep.Chain = p.next(ctx, &rep, chain, cloud)
	if rep.Chain.State != handler.ChainContinued && rep.Chain.State != handler.ChainRefused {
		p.end(ctx, cloud, &rep)
	}
	served = rep.Chain.State == handler.ChainContinued || rep.Chain.State == handler.ChainDone
	fields := logrus.Fields{"state": rep.Chain.State}
	if restarted != "" {
		fields["restarted"] = restarted
	}
	p.logLink(rep, "link_end", fields)
	return rep
}

// next decides what follows a link: nothing (done or failed), or the next
// link, dispatched with the continuation when the chain may go on.
func (p Pipeline) next(ctx context.Context, rep *handler.Report, chain bool, cloud Cloud) *handler.ChainReport {
	switch {
	case rep.ErrorKind == handler.KindInvalidContinuation || rep.ErrorKind == handler.KindInvalidRequest:
		return &handler.ChainReport{State: handler.ChainRefused, Reason: rep.Error}
	case rep.Continuation == "" && rep.Error != "":
		return &handler.ChainReport{State: handler.ChainFailed, Reason: rep.Error}
	case rep.Continuation == "":
		return &handler.ChainReport{State: handler.ChainDone}
	case !chain:
		return &handler.ChainReport{State: handler.ChainCut, NextLink: rep.Link + 1,
			Reason: "cut, and this function does not continue itself (" + reasonNoChain(p.Runs.MaxChain) + "): pass the continuation to resume"}
	case rep.Link-max(rep.ChainBase, 1)+1 >= p.Runs.MaxChain:
		c := &handler.ChainReport{State: handler.ChainLimit, NextLink: rep.Link + 1,
			Reason: fmt.Sprintf("the chain reached its bound of %d links (TAGWARDEN_MAX_CHAIN) before the sweep finished: pass the continuation to resume", p.Runs.MaxChain)}
		stopped(rep, c)
		return c
	}
	d, err := cloud.Dispatcher(ctx)
	id := ""
	if err == nil {
		target := rep.Target
		if !p.multi() {
			target = "" // the one target: a name is not needed (and may have no region)
		}
		id, err = dispatch(ctx, d, events.Manual{Action: events.ActionSweep, Target: target, Run: rep.Run,
			Link: rep.Link + 1, DryRun: &rep.DryRun, Continuation: rep.Continuation})
	}
	p.logDispatch(rep.Run, rep.Target, rep.Link+1, "continue", id, err)
	if err != nil {
		c := &handler.ChainReport{State: handler.ChainDispatchFailed, NextLink: rep.Link + 1,
			Reason: "the next link could not be dispatched: " + err.Error() + ": pass the continuation to resume"}
		stopped(rep, c)
		return c
	}
	// The continuation went to the next link: a second copy here would fork
	// the chain.
	rep.Continuation = ""
	return &handler.ChainReport{State: handler.ChainContinued, NextLink: rep.Link + 1, RequestID: id}
}

// stopped sets the report's error for a chain that stopped before its
// sweep finished, unless the link already failed: alarms on error_kind see
// it.
func stopped(rep *handler.Report, c *handler.ChainReport) {
	if rep.Error == "" {
		rep.Error, rep.ErrorKind = c.Reason, handler.KindChainStopped
	}
}

func reasonNoChain(maxChain int) string {
	if maxChain <= 0 {
		return "TAGWARDEN_MAX_CHAIN is 0"
	}
	return "it cannot invoke itself here"
}

// log returns the logger of run events of one run, with the process's
// instance id.
func (p Pipeline) log(run string) logrus.FieldLogger {
	if p.Runs.Log == nil {
		return discard
	}
	return p.Runs.Log.WithFields(logrus.Fields{"run": run, "instance": p.Runs.Memory.Instance()})
}

var discard = func() *logrus.Logger {
	l := logrus.New()
	l.SetLevel(logrus.PanicLevel)
	return l
}()

func (r Runs) logOutputError(o handler.OutputReport) {
	if r.Log == nil {
		return
	}
	r.Log.WithFields(logrus.Fields{"event": "output", "output": o.Output, "what": o.What, "error": o.Error}).Error("outputs not opened: the enforcement is not affected")
}

func (p Pipeline) logDispatch(run, target string, link int, kind, id string, err error) {
	e := p.log(run).WithFields(logrus.Fields{"event": "dispatch", "target": target, "link": link, "kind": kind, "ok": err == nil})
	if err != nil {
		e.WithField("error", err.Error()).Error("dispatch failed")
		return
	}
	e.WithField("dispatch_request_id", id).Info("link dispatched")
}

func (p Pipeline) logRefused(rep handler.Report, name string, err error) {
	p.log(rep.Run).WithFields(logrus.Fields{"event": "target_error", "target": name, "link": rep.Link,
		"request_id": rep.RequestID, "error": err.Error(), "error_kind": string(rep.ErrorKind)}).Error("target refused")
	if rep.Run != "" && name != "" {
		p.logLink(rep, "link_end", logrus.Fields{"state": handler.ChainRefused})
	}
}

// logLink logs a link's start or end, with its counts and, at the end of
// the target's sweep, the totals.
func (p Pipeline) logLink(rep handler.Report, event string, fields logrus.Fields) {
	e := p.log(rep.Run).WithFields(logrus.Fields{"event": event, "target": rep.Target, "link": rep.Link,
		"request_id": rep.RequestID, "trigger": rep.Trigger, "dry_run": rep.DryRun})
	if fields != nil {
		e = e.WithFields(fields)
	}
	if event == "link_start" {
		e.Info("link started")
		return
	}
	e = e.WithFields(logrus.Fields{"scanned": rep.Scanned, "compliant": rep.Compliant, "changed": rep.Changed,
		"planned": rep.Planned, "violating": rep.Violating, "failed": rep.Failed, "skipped": rep.Skipped, "deferred": rep.Deferred})
	if rep.Error != "" {
		e = e.WithFields(logrus.Fields{"error": rep.Error, "error_kind": string(rep.ErrorKind)})
	}
	if rep.Chain != nil && rep.Chain.State != handler.ChainContinued && rep.Totals != nil {
		e = e.WithField("totals", *rep.Totals)
	}
	state, _ := fields["state"].(string)
	switch state {
	case handler.ChainContinued, handler.ChainDone, handler.ChainDuplicate:
		e.Info("link finished")
	case handler.ChainCut:
		e.Warn("link finished: the sweep is cut and does not continue itself")
	default:
		e.Error("link finished: the target's sweep stopped before it finished")
	}
}
