package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/adapters/functiongraph/runtimetest"
	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/invocation"
	"github.com/tagwarden/tagwarden/adapters/selfinvoke"
	"github.com/tagwarden/tagwarden/adapters/selfinvoke/fgasync"
	"github.com/tagwarden/tagwarden/adapters/targets"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// OrgResult is the organisation-scale measurement: a sweep fanned out over
// several targets, a sweep that continues itself link by link, and the
// fan-out of many targets through FunctionGraph's asynchronous API. Each
// part is nil when it failed (the error is in Results.Errors).
type OrgResult struct {
	Sweep  *OrgSweepResult  `json:"sweep,omitempty"`
	Chain  *OrgChainResult  `json:"chain,omitempty"`
	Fanout *OrgFanoutResult `json:"fanout,omitempty"`
}

// OrgTargetResult is one target of the fanned-out sweep.
type OrgTargetResult struct {
	Target string `json:"target"`
	// Emulator is the emulator serving it ("A" or "B": two regions).
	Emulator string `json:"emulator"`
	Keys     int    `json:"keys"`
	// LowerBound is the calls of its sweep without any retry (CallsResult).
	LowerBound int `json:"lower_bound"`
	// Calls is what its emulator answered for its project, 429s included.
	Calls     int `json:"calls"`
	Throttled int `json:"throttled"`
	// BoundSeconds is Calls/N: this target alone cannot finish sooner.
	BoundSeconds float64 `json:"bound_seconds"`
	// DoneSeconds is from the fan-out's dispatch to its last link's report.
	DoneSeconds float64 `json:"done_seconds"`
	Links       int     `json:"links"`
	// Totals of its last link (the target's whole sweep).
	Scanned int `json:"scanned"`
	Changed int `json:"changed"`
	Failed  int `json:"failed"`
}

// OrgSweepResult is a sweep of several targets: one fan-out, each target's
// chain of links in goroutines of their own (invocation.Loopback), each
// target paced at N by its own pacer (huaweikms.NewPacers).
type OrgSweepResult struct {
	KeysPerTarget int     `json:"keys_per_target"`
	RateLimit     float64 `json:"rate_limit_rps_per_target"`
	LatencyMS     float64 `json:"latency_ms"`
	// Gateways describes the emulators' gateways.
	Gateways string            `json:"gateways"`
	Targets  []OrgTargetResult `json:"targets"`
	// FanoutMS is the fan-out invocation itself.
	FanoutMS float64 `json:"fanout_ms"`
	// WallSeconds is from the fan-out's dispatch to the last link's end.
	WallSeconds float64 `json:"wall_seconds"`
	// MaxBoundSeconds is the slowest target's calls/N, SumBoundSeconds
	// the sum over targets (what one sweep after another would take).
	MaxBoundSeconds float64 `json:"max_bound_seconds"`
	SumBoundSeconds float64 `json:"sum_bound_seconds"`
	// Ratio is WallSeconds/MaxBoundSeconds (target <= 1.15), SumRatio
	// WallSeconds/SumBoundSeconds.
	Ratio    float64 `json:"ratio"`
	SumRatio float64 `json:"sum_ratio"`
	// Throttled and Failed add up the targets'; Problems lists what did not
	// hold (a target not done, a key not decided exactly once, writes
	// other than planned).
	Throttled int      `json:"throttled"`
	Failed    int      `json:"failed"`
	Problems  []string `json:"problems,omitempty"`
}

// OrgChainResult is one target's sweep too long for one invocation,
// continuing itself through the pipeline until done.
type OrgChainResult struct {
	Keys         int     `json:"keys"`
	NonCompliant int     `json:"non_compliant"`
	RateLimit    float64 `json:"rate_limit_rps"`
	LatencyMS    float64 `json:"latency_ms"`
	// TimeoutSeconds is each invocation's time, MarginSeconds the
	// handler's deadline margin (TAGWARDEN_DEADLINE_MARGIN): an invocation
	// works for about CallsPerLink calls at RateLimit.
	TimeoutSeconds float64 `json:"timeout_seconds"`
	MarginSeconds  float64 `json:"margin_seconds"`
	CallsPerLink   int     `json:"calls_per_link_budget"`
	MaxReportKeys  int     `json:"max_report_keys"`
	// Links is how many invocations the sweep took; LastState the chain
	// state of the last (done: it finished by itself); CutByDeadline and
	// CutByReport count the links cut by the deadline margin and by the
	// report budget.
	Links         int    `json:"links"`
	LastState     string `json:"last_state"`
	CutByDeadline int    `json:"cut_by_deadline"`
	CutByReport   int    `json:"cut_by_report"`
	// Decided counts keys decided exactly once (from the handler's one log
	// entry per decision), DecidedTwice more than once, Undecided never.
	Decided      int `json:"decided_once"`
	DecidedTwice int `json:"decided_twice"`
	Undecided    int `json:"undecided"`
	// Writes is what the emulator accepted, Batches the planned ones;
	// WritesOff counts keys whose writes differ from their planned batches.
	Writes    int `json:"writes"`
	Batches   int `json:"batches"`
	WritesOff int `json:"keys_with_other_writes"`
	// Totals of the last link: the whole sweep.
	TotalsScanned int `json:"totals_scanned"`
	TotalsChanged int `json:"totals_changed"`
	TotalsFailed  int `json:"totals_failed"`
	// LowerBound is the single-invocation lower bound (listing pages +
	// writes), Bound LowerBound plus one listing page per link.
	LowerBound int `json:"lower_bound"`
	Bound      int `json:"bound"`
	Calls      int `json:"calls"`
	// ByAPI splits Calls; ExtraListing is the listing calls beyond the
	// lower bound's pages, Rereads the tag and key reads (none in the
	// lower bound).
	ByAPI        map[string]int `json:"by_api"`
	ExtraListing int            `json:"extra_listing_calls"`
	Rereads      int            `json:"rereads"`
	Throttled    int            `json:"throttled"`
	// Ratio is Calls/Bound (target <= 1), LowerRatio Calls/LowerBound.
	Ratio      float64 `json:"ratio"`
	LowerRatio float64 `json:"lower_ratio"`
	// WallSeconds is from the first link's dispatch to the last link's
	// end; BoundSeconds Calls/RateLimit.
	WallSeconds  float64 `json:"wall_seconds"`
	BoundSeconds float64 `json:"bound_seconds"`
	// PerLink is each link's share.
	PerLink  []OrgLink `json:"per_link"`
	Problems []string  `json:"problems,omitempty"`
}

// OrgLink is one link of the self-continuing sweep: the calls its
// emulator answered while it ran, by kind, and its own report.
type OrgLink struct {
	Link int `json:"link"`
	// Bulk counts resource_instances/action pages, ListKeys ListKeys
	// pages, Writes BatchCreateKmsTags calls, Rereads ShowKmsTags and
	// DescribeKey calls.
	Bulk     int     `json:"bulk_pages"`
	ListKeys int     `json:"list_keys_pages"`
	Writes   int     `json:"writes"`
	Rereads  int     `json:"rereads"`
	Scanned  int     `json:"scanned"`
	Seconds  float64 `json:"seconds"`
	// Cut says why the link stopped: deadline, report, or done.
	Cut string `json:"cut"`
}

// OrgFanoutResult is the fan-out of many targets through the FunctionGraph
// dispatcher (the official SDK's AsyncInvokeFunction over HTTP) to the
// local asynchronous endpoint.
type OrgFanoutResult struct {
	Targets int `json:"targets"`
	// MS is each fan-out invocation, from Invoke to its report (the first
	// opens the connections).
	MS []float64 `json:"ms"`
	// MaxSeconds is the slowest; BoundSeconds the target (2 s); Ratio
	// MaxSeconds/BoundSeconds.
	MaxSeconds   float64 `json:"max_seconds"`
	BoundSeconds float64 `json:"bound_seconds"`
	Ratio        float64 `json:"ratio"`
	// Dispatched counts the targets the reports say were dispatched, over
	// every fan-out; Accepted the invocations the endpoint accepted, one
	// per target and fan-out with the right payload.
	Dispatched int      `json:"dispatched"`
	Accepted   int      `json:"accepted"`
	Problems   []string `json:"problems,omitempty"`
}

// Targets of the organisation measurement (docs/performance.md says why).
const (
	orgSweepTarget  = 1.15            // fanned-out sweep within 1.15x the slowest target's calls/N
	orgFanoutTarget = 2 * time.Second // fan-out of -org-fanout targets
)

// orgOptions are the organisation measurement's flags.
type orgOptions struct {
	keys          int
	rate          float64
	latency       time.Duration
	chainKeys     int
	chainRate     float64
	chainCalls    int
	chainMargin   time.Duration
	chainLatency  time.Duration
	chainRatio    float64
	fanoutTargets int
	fanoutRuns    int
}

// The organisation: three targets in two regions, the first region's
// emulator serving two projects (as cmd/bootstrap's organisation test).
var orgTargets = []struct{ emulator, region, project string }{
	{"A", "ap-southeast-1", "0a000000000000000000000000000001"},
	{"A", "ap-southeast-1", "0a000000000000000000000000000002"},
	{"B", "cn-north-4", "0c000000000000000000000000000003"},
}

// orgTimeout is each invocation's time in the fanned-out sweep: the
// shipped function timeout (deploy/), so that a target's sweep takes one
// link at the bench's rates.
const orgTimeout = 300 * time.Second

// measureOrg runs the three parts; a part that fails is left nil and its
// error returned among errs.
func measureOrg(ctx context.Context, e *policy.Engine, o orgOptions, ratio float64, concurrency int, step func(string, ...any)) (OrgResult, []error) {
	var r OrgResult
	var errs []error
	step("org: a sweep of %d targets, %d keys each at %g requests per second per target, fanned out...", len(orgTargets), o.keys, o.rate)
	s, err := measureOrgSweep(ctx, e, o, ratio, concurrency)
	if err != nil {
		errs = append(errs, fmt.Errorf("fanned-out sweep: %w", err))
	} else {
		r.Sweep = &s
	}
	step("org: a sweep of %d keys continuing itself, %d calls an invocation at %g requests per second...", o.chainKeys, o.chainCalls, o.chainRate)
	c, err := measureOrgChain(ctx, e, o, concurrency)
	if err != nil {
		errs = append(errs, fmt.Errorf("self-continuing sweep: %w", err))
	} else {
		r.Chain = &c
	}
	step("org: fan-out of %d targets through the FunctionGraph SDK, %d times...", o.fanoutTargets, o.fanoutRuns)
	f, err := measureOrgFanout(ctx, e, o)
	if err != nil {
		errs = append(errs, fmt.Errorf("fan-out: %w", err))
	} else {
		r.Fanout = &f
	}
	return r, errs
}

// meteredKMS is an emulator behind a meter of the calls it answers, by
// project: the emulator's own Stats count all projects together.
type meteredKMS struct {
	srv *emulator.Server
	hs  *http.Server
	url string

	mu     sync.Mutex
	calls  map[string]map[string]int // project -> API -> calls
	status map[string]map[int]int    // project -> status -> answers
	writes map[string]map[string]int // project -> key id -> tags-action answered 204
	trace  bool                      // keep log
	log    []meterEntry              // every call, when trace is set
}

// meterEntry is one call answered.
type meterEntry struct {
	at           time.Time
	project, api string
}

// between counts the calls of project answered in [from, to], by API.
func (m *meteredKMS) between(project string, from, to time.Time) map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int{}
	for _, e := range m.log {
		if e.project == project && !e.at.Before(from) && !e.at.After(to) {
			out[e.api]++
		}
	}
	return out
}

// startMetered serves an emulator of these options on a loopback port
// behind the meter; with trace, the meter keeps every call's time.
func startMetered(opts emulator.Options, trace bool) (*meteredKMS, error) {
	srv, err := emulator.New(opts)
	if err != nil {
		return nil, fmt.Errorf("start the emulator: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start the emulator: %w", err)
	}
	m := &meteredKMS{srv: srv, url: "http://" + ln.Addr().String(),
		calls: map[string]map[string]int{}, status: map[string]map[int]int{}, writes: map[string]map[string]int{}, trace: trace}
	m.hs = &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}
	go m.hs.Serve(ln) //nolint:errcheck // returns on Close
	return m, nil
}

func (m *meteredKMS) close() { m.hs.Close() }

// statusWriter records the status of an answer (0: none written).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// ServeHTTP serves the call with the emulator and counts it.
func (m *meteredKMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	project, api, keyID := kmsRoute(r.Method, r.URL.Path)
	m.srv.ServeHTTP(sw, r)
	at := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.calls[project] == nil {
		m.calls[project], m.status[project], m.writes[project] = map[string]int{}, map[int]int{}, map[string]int{}
	}
	m.calls[project][api]++
	if m.trace {
		m.log = append(m.log, meterEntry{at: at, project: project, api: api})
	}
	m.status[project][sw.status]++
	if api == emulator.APITagsAction && sw.status == http.StatusNoContent {
		m.writes[project][keyID]++
	}
}

// kmsRoute names the KMS API of a request path, with its project and key
// (the emulator's routes: /v1.0/{project}/kms/...).
func kmsRoute(method, path string) (project, api, keyID string) {
	parts := strings.Split(strings.TrimPrefix(path, "/v1.0/"), "/")
	if len(parts) < 3 || parts[1] != "kms" {
		return "", "other", ""
	}
	project, p := parts[0], parts[2:]
	switch {
	case len(p) == 1 && p[0] == "list-keys":
		return project, emulator.APIListKeys, ""
	case len(p) == 1 && p[0] == "describe-key":
		return project, emulator.APIDescribeKey, ""
	case len(p) == 2 && p[0] == "resource_instances" && p[1] == "action":
		return project, emulator.APIResourceInstances, ""
	case len(p) == 2 && p[1] == "tags" && method == http.MethodGet:
		return project, emulator.APIShowTags, p[0]
	case len(p) == 3 && p[1] == "tags" && p[2] == "action":
		return project, emulator.APITagsAction, p[0]
	}
	return project, "other", ""
}

// project returns a copy of the counts of one project.
func (m *meteredKMS) project(p string) (calls map[string]int, status map[int]int, writes map[string]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	calls, status, writes = map[string]int{}, map[int]int{}, map[string]int{}
	for k, v := range m.calls[p] {
		calls[k] = v
	}
	for k, v := range m.status[p] {
		status[k] = v
	}
	for k, v := range m.writes[p] {
		writes[k] = v
	}
	return calls, status, writes
}

// decisions counts the handler's key decisions, by invocation and key, from
// its one log entry per decided key (at debug level, compliant keys too).
type decisions struct {
	mu sync.Mutex
	n  map[[2]string]int // request id, key id -> decisions
}

func (d *decisions) Levels() []logrus.Level { return logrus.AllLevels }

func (d *decisions) Fire(e *logrus.Entry) error {
	id, ok := e.Data["key_id"].(string)
	if _, decided := e.Data["outcome"]; !ok || !decided {
		return nil
	}
	req, _ := e.Data["request_id"].(string)
	d.mu.Lock()
	d.n[[2]string{req, id}]++
	d.mu.Unlock()
	return nil
}

// byKey adds up the decisions of the invocations in reqs (nil: all), by key.
func (d *decisions) byKey(reqs map[string]bool) map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]int{}
	for k, n := range d.n {
		if reqs == nil || reqs[k[0]] {
			out[k[1]] += n
		}
	}
	return out
}

// silent formats nothing: the bench keeps the handler's entries only
// through the decisions hook.
type silent struct{}

func (silent) Format(*logrus.Entry) ([]byte, error) { return nil, nil }

// countingHandler is the function's handler with a logger at debug level
// whose key decisions are counted.
func countingHandler(e *policy.Engine, cfg handler.Config) (*handler.Handler, *decisions) {
	d := &decisions{n: map[[2]string]int{}}
	log := logrus.New()
	log.SetOutput(io.Discard)
	log.SetFormatter(silent{})
	log.SetLevel(logrus.DebugLevel)
	log.AddHook(d)
	return handler.New(e, cfg, log), d
}

// orgPipeline is the function's invocation pipeline over targets ts, its
// asynchronous invocations looping back into this process under timeout,
// each target's store built as cmd/bootstrap does (huaweikms.New with the
// target's endpoint and project, the target's pacer).
func orgPipeline(h *handler.Handler, e *policy.Engine, ts []targets.Target, rps float64, timeout time.Duration) *invocation.Loopback {
	pacers := huaweikms.NewPacers(rps)
	loop := &invocation.Loopback{Timeout: timeout}
	loop.Pipeline = invocation.Pipeline{Handler: h, Runs: invocation.Runs{
		Targets:  targets.Config{Static: ts, Own: ts[0]},
		MaxChain: invocation.DefaultMaxChain, Memory: &invocation.Memory{},
	}}
	loop.Cloud = func(context.Context) invocation.Cloud {
		return invocation.Cloud{
			Store: func(_ context.Context, t targets.Target) (handler.KeyStore, error) {
				return huaweikms.New(huaweikms.Config{Region: t.Region, Endpoint: t.Endpoint, ProjectID: t.ProjectID,
					Credentials: &huaweikms.Credentials{AccessKey: emulator.DefaultAK, SecretKey: emulator.DefaultSK},
					Pacer:       pacers.For(t.Name()), Limits: e.Limits()})
			},
			Dispatcher: func(context.Context) (invocation.Dispatcher, error) { return loop, nil },
		}
	}
	return loop
}

// runLoop dispatches payload through the loopback as the platform's timer
// would, waits for every invocation it leads to, and returns them with the
// time from the dispatch to the last one's end.
func runLoop(ctx context.Context, loop *invocation.Loopback, payload string) ([]invocation.Delivery, time.Duration, time.Time, error) {
	start := time.Now()
	if _, err := loop.Dispatch(ctx, []byte(payload)); err != nil {
		return nil, 0, start, err
	}
	loop.Wait()
	d := time.Since(start)
	ds := loop.Deliveries()
	for _, dv := range ds {
		if dv.Err != nil {
			return ds, d, start, fmt.Errorf("invocation %s: %w", dv.RequestID, dv.Err)
		}
	}
	return ds, d, start, nil
}

// seedProject returns the seed of keys in project.
func seedProject(keys []benchKey, project string) []emulator.SeedKey {
	s := seed(keys)
	for i := range s {
		s[i].ProjectID = project
	}
	return s
}

// batchesByKey returns the planned BatchCreateKmsTags calls of each key
// that needs changes.
func batchesByKey(e *policy.Engine, keys []benchKey, now time.Time) map[string]int {
	out := map[string]int{}
	for _, k := range keys {
		d := e.Evaluate(k.policyKey(), k.tags, now)
		if d.HasChanges() {
			out[k.id] = len(d.Batches(e.Limits().MaxBatch))
		}
	}
	return out
}

// checkDecided compares the decisions counted per key with the keys:
// every key decided exactly once. It returns the counts and the problems.
func checkDecided(what string, keys []benchKey, got map[string]int) (once, twice, never int, problems []string) {
	want := make(map[string]bool, len(keys))
	for _, k := range keys {
		want[k.id] = true
		switch n := got[k.id]; {
		case n == 1:
			once++
		case n > 1:
			twice++
			if twice <= 3 {
				problems = append(problems, fmt.Sprintf("%s: key %s decided %d times", what, k.id, n))
			}
		default:
			never++
			if never <= 3 {
				problems = append(problems, fmt.Sprintf("%s: key %s never decided", what, k.id))
			}
		}
	}
	for id := range got {
		if !want[id] {
			problems = append(problems, fmt.Sprintf("%s: a key not seeded was decided: %s", what, id))
			break
		}
	}
	return once, twice, never, problems
}

// checkWrites compares the writes the emulator accepted per key with the
// planned batches; it returns the keys whose writes differ.
func checkWrites(what string, planned, got map[string]int) (off int, problems []string) {
	for id, n := range planned {
		if got[id] != n {
			off++
			if off <= 3 {
				problems = append(problems, fmt.Sprintf("%s: key %s written %d times, planned %d", what, id, got[id], n))
			}
		}
	}
	for id, n := range got {
		if _, ok := planned[id]; !ok {
			off++
			if off <= 3 {
				problems = append(problems, fmt.Sprintf("%s: key %s needed no change and was written %d times", what, id, n))
			}
		}
	}
	return off, problems
}

// measureOrgSweep fans a sweep out over the three targets and times it
// against the slowest target's calls/N.
func measureOrgSweep(ctx context.Context, e *policy.Engine, o orgOptions, ratio float64, concurrency int) (OrgSweepResult, error) {
	r := OrgSweepResult{KeysPerTarget: o.keys, RateLimit: o.rate, LatencyMS: float64(o.latency) / float64(time.Millisecond)}
	keys := genKeys(o.keys, ratio)
	now := time.Now()
	planned := batchesByKey(e, keys, now)
	p := planFor(e, keys, now)
	limit := max(1, int(math.Floor(o.rate)))

	// One emulator per region; each lets N calls per target it serves
	// through in any sliding second (A serves two projects: 2N).
	byEmu := map[string][]string{}
	for _, t := range orgTargets {
		byEmu[t.emulator] = append(byEmu[t.emulator], t.project)
	}
	emus := map[string]*meteredKMS{}
	var gw []string
	for _, name := range []string{"A", "B"} {
		projects := byEmu[name]
		var sd []emulator.SeedKey
		for _, pr := range projects {
			sd = append(sd, seedProject(keys, pr)...)
		}
		m, err := startMetered(emulator.Options{Projects: projects, Seed: sd}, false)
		if err != nil {
			return r, err
		}
		defer m.close()
		m.srv.SetFaults(emulator.Faults{Latency: o.latency, WindowLimit: limit * len(projects), Window: time.Second})
		emus[name] = m
		what := "1 project"
		if len(projects) > 1 {
			what = fmt.Sprintf("%d projects", len(projects))
		}
		gw = append(gw, fmt.Sprintf("%s: %s, %d calls in any sliding second", name, what, limit*len(projects)))
	}
	r.Gateways = strings.Join(gw, "; ")
	var ts []targets.Target
	for _, t := range orgTargets {
		ts = append(ts, targets.Target{Region: t.region, ProjectID: t.project, Endpoint: emus[t.emulator].url})
	}

	cfg := handler.DefaultConfig()
	cfg.Concurrency = concurrency
	h, dec := countingHandler(e, cfg)
	loop := orgPipeline(h, e, ts, o.rate, orgTimeout)
	ds, wall, start, err := runLoop(ctx, loop, `{"action":"sweep"}`)
	if err != nil {
		return r, err
	}
	r.WallSeconds = wall.Seconds()

	type tstate struct {
		links int
		last  handler.Report
		reqs  map[string]bool
		done  time.Time
	}
	per := map[string]*tstate{}
	fanouts := 0
	for _, d := range ds {
		rep := d.Report
		if rep.Mode == handler.ModeFanout {
			fanouts++
			r.FanoutMS = float64(rep.Finished.Sub(rep.Started)) / float64(time.Millisecond)
			for _, tr := range rep.Targets {
				if !tr.Dispatched {
					r.Problems = append(r.Problems, fmt.Sprintf("target %s not dispatched: %s", tr.Target, tr.Error))
				}
			}
			continue
		}
		st := per[rep.Target]
		if st == nil {
			st = &tstate{reqs: map[string]bool{}}
			per[rep.Target] = st
		}
		st.links++
		st.reqs[d.RequestID] = true
		if rep.Link >= st.last.Link {
			st.last = rep
		}
		if rep.Finished.After(st.done) {
			st.done = rep.Finished
		}
		if rep.Error != "" {
			r.Problems = append(r.Problems, fmt.Sprintf("%s link %d: %s", rep.Target, rep.Link, rep.Error))
		}
	}
	if fanouts != 1 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d fan-outs, want 1", fanouts))
	}
	for i, t := range ts {
		name := t.Name()
		m := emus[orgTargets[i].emulator]
		calls, status, writes := m.project(t.ProjectID)
		tr := OrgTargetResult{Target: name, Emulator: orgTargets[i].emulator, Keys: o.keys, LowerBound: lowerBound(o.keys, p.batches),
			Calls: total(calls), Throttled: status[http.StatusTooManyRequests]}
		tr.BoundSeconds = float64(tr.Calls) / o.rate
		st := per[name]
		if st == nil {
			r.Problems = append(r.Problems, name+": no link ran")
			r.Targets = append(r.Targets, tr)
			continue
		}
		tr.Links, tr.DoneSeconds = st.links, st.done.Sub(start).Seconds()
		if st.last.Chain == nil || st.last.Chain.State != handler.ChainDone || st.last.Totals == nil {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: the last link (%d) did not finish the sweep: %+v", name, st.last.Link, st.last.Chain))
		} else {
			tr.Scanned, tr.Changed, tr.Failed = st.last.Totals.Scanned, st.last.Totals.Changed, st.last.Totals.Failed
		}
		if tr.Scanned != o.keys || tr.Changed+tr.Failed != p.nonCompliant {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: scanned %d and changed %d (%d failed), want %d and %d", name, tr.Scanned, tr.Changed, tr.Failed, o.keys, p.nonCompliant))
		}
		_, _, _, probs := checkDecided(name, keys, dec.byKey(st.reqs))
		r.Problems = append(r.Problems, probs...)
		_, probs = checkWrites(name, planned, writes)
		r.Problems = append(r.Problems, probs...)
		r.Throttled += tr.Throttled
		r.Failed += tr.Failed
		r.MaxBoundSeconds = max(r.MaxBoundSeconds, tr.BoundSeconds)
		r.SumBoundSeconds += tr.BoundSeconds
		r.Targets = append(r.Targets, tr)
	}
	r.Ratio = r.WallSeconds / r.MaxBoundSeconds
	r.SumRatio = r.WallSeconds / r.SumBoundSeconds
	return r, nil
}

// measureOrgChain sweeps one target whose invocations each have time for
// about o.chainCalls calls at o.chainRate: the sweep continues itself link
// by link until done.
func measureOrgChain(ctx context.Context, e *policy.Engine, o orgOptions, concurrency int) (OrgChainResult, error) {
	timeout := time.Duration(float64(o.chainCalls)/o.chainRate*float64(time.Second)) + o.chainMargin
	r := OrgChainResult{Keys: o.chainKeys, RateLimit: o.chainRate, LatencyMS: float64(o.chainLatency) / float64(time.Millisecond),
		TimeoutSeconds: timeout.Seconds(), MarginSeconds: o.chainMargin.Seconds(), CallsPerLink: o.chainCalls,
		MaxReportKeys: handler.DefaultMaxReportKeys}
	keys := genKeys(o.chainKeys, o.chainRatio)
	now := time.Now()
	planned := batchesByKey(e, keys, now)
	for _, n := range planned {
		r.Batches += n
	}
	r.NonCompliant = len(planned)
	r.LowerBound = lowerBound(o.chainKeys, r.Batches)
	_, bulk := listPages(o.chainKeys)
	list := sweepListKeys

	t := orgTargets[0]
	m, err := startMetered(emulator.Options{Projects: []string{t.project}, Seed: seedProject(keys, t.project)}, true)
	if err != nil {
		return r, err
	}
	defer m.close()
	m.srv.SetFaults(emulator.Faults{Latency: o.chainLatency, WindowLimit: max(1, int(math.Floor(o.chainRate))), Window: time.Second})
	ts := []targets.Target{{Region: t.region, ProjectID: t.project, Endpoint: m.url}}

	// The function's defaults (report budget, snapshot age, ...) but the
	// deadline margin.
	cfg := handler.DefaultConfig()
	cfg.Concurrency, cfg.Margin = concurrency, o.chainMargin
	h, dec := countingHandler(e, cfg)
	loop := orgPipeline(h, e, ts, o.chainRate, timeout)
	ds, wall, _, err := runLoop(ctx, loop, fmt.Sprintf(`{"action":"sweep","target":%q}`, ts[0].Name()))
	if err != nil {
		return r, err
	}
	r.WallSeconds = wall.Seconds()

	slices.SortFunc(ds, func(a, b invocation.Delivery) int { return a.Report.Link - b.Report.Link })
	for i, d := range ds {
		rep := d.Report
		r.Links++
		if rep.Link != i+1 {
			r.Problems = append(r.Problems, fmt.Sprintf("links %d and %d: the chain is not one link after another", i, rep.Link))
		}
		if rep.Error != "" {
			r.Problems = append(r.Problems, fmt.Sprintf("link %d: %s", rep.Link, rep.Error))
		}
		calls := m.between(t.project, rep.Started, rep.Finished)
		l := OrgLink{Link: rep.Link, Bulk: calls[emulator.APIResourceInstances], ListKeys: calls[emulator.APIListKeys],
			Writes: calls[emulator.APITagsAction], Rereads: calls[emulator.APIShowTags] + calls[emulator.APIDescribeKey],
			Scanned: rep.Scanned, Seconds: rep.Finished.Sub(rep.Started).Seconds(), Cut: "done"}
		switch {
		case strings.Contains(rep.Reason, "before the deadline"):
			r.CutByDeadline++
			l.Cut = "deadline"
		case strings.Contains(rep.Reason, "report full"):
			r.CutByReport++
			l.Cut = "report"
		case rep.Continuation != "" || rep.Chain != nil && rep.Chain.State == handler.ChainContinued:
			l.Cut = rep.Reason
		}
		r.PerLink = append(r.PerLink, l)
		state := ""
		if rep.Chain != nil {
			state = rep.Chain.State
		}
		if i < len(ds)-1 && state != handler.ChainContinued {
			r.Problems = append(r.Problems, fmt.Sprintf("link %d: chain %q, want continued", rep.Link, state))
		}
		if i == len(ds)-1 {
			r.LastState = state
			if rep.Totals != nil {
				r.TotalsScanned, r.TotalsChanged, r.TotalsFailed = rep.Totals.Scanned, rep.Totals.Changed, rep.Totals.Failed
			}
		}
	}
	if r.LastState != handler.ChainDone {
		r.Problems = append(r.Problems, fmt.Sprintf("the last link says %q: the sweep did not finish by itself", r.LastState))
	}
	if r.TotalsScanned != o.chainKeys || r.TotalsChanged+r.TotalsFailed != r.NonCompliant {
		r.Problems = append(r.Problems, fmt.Sprintf("totals: scanned %d and changed %d (%d failed), want %d and %d",
			r.TotalsScanned, r.TotalsChanged, r.TotalsFailed, o.chainKeys, r.NonCompliant))
	}
	var probs []string
	r.Decided, r.DecidedTwice, r.Undecided, probs = checkDecided("chain", keys, dec.byKey(nil))
	r.Problems = append(r.Problems, probs...)
	calls, status, writes := m.project(t.project)
	for _, n := range writes {
		r.Writes += n
	}
	r.WritesOff, probs = checkWrites("chain", planned, writes)
	r.Problems = append(r.Problems, probs...)

	r.ByAPI, r.Calls = calls, total(calls)
	r.Throttled = status[http.StatusTooManyRequests]
	r.ExtraListing = calls[emulator.APIListKeys] + calls[emulator.APIResourceInstances] - list - bulk
	r.Rereads = calls[emulator.APIShowTags] + calls[emulator.APIDescribeKey]
	r.Bound = r.LowerBound + r.Links
	r.Ratio = float64(r.Calls) / float64(r.Bound)
	r.LowerRatio = float64(r.Calls) / float64(r.LowerBound)
	r.BoundSeconds = float64(r.Calls) / o.chainRate
	return r, nil
}

// measureOrgFanout times the fan-out of o.fanoutTargets targets: the
// function's pipeline dispatching link 1 of each through the FunctionGraph
// dispatcher (the SDK's AsyncInvokeFunction) to the local asynchronous
// endpoint, whose function nobody polls: the invocations are accepted and
// queued, none runs.
func measureOrgFanout(ctx context.Context, e *policy.Engine, o orgOptions) (OrgFanoutResult, error) {
	r := OrgFanoutResult{Targets: o.fanoutTargets, BoundSeconds: orgFanoutTarget.Seconds()}
	rt, err := runtimetest.New()
	if err != nil {
		return r, err
	}
	defer rt.Close()
	fg, err := fgasync.New(fgasync.Options{})
	if err != nil {
		return r, err
	}
	defer fg.Close()
	urn := selfinvoke.URN{Region: "ap-southeast-1", ProjectID: emulator.DefaultProject, Package: "default", Name: "tagwarden", Version: "latest"}
	if err := fg.Register(urn, rt); err != nil {
		return r, err
	}
	// The targets' KMS: never called by a fan-out.
	k, err := startKMS(nil)
	if err != nil {
		return r, err
	}
	defer k.close()
	ts := make([]targets.Target, o.fanoutTargets)
	for i := range ts {
		ts[i] = targets.Target{Region: "ap-southeast-1", ProjectID: fmt.Sprintf("%032x", i+1), Endpoint: k.url}
	}
	pacers := huaweikms.NewPacers(huaweikms.DefaultRateLimit)
	pipe := invocation.Pipeline{Handler: handler.New(e, handler.Config{}, nil), Runs: invocation.Runs{
		Targets:  targets.Config{Static: ts, Own: ts[0]},
		MaxChain: invocation.DefaultMaxChain, Memory: &invocation.Memory{},
	}}
	// As cmd/bootstrap on FunctionGraph: a dispatcher per invocation, with
	// the invocation's credentials.
	cloud := invocation.Cloud{
		Store: func(_ context.Context, t targets.Target) (handler.KeyStore, error) {
			return huaweikms.New(huaweikms.Config{Region: t.Region, Endpoint: t.Endpoint, ProjectID: t.ProjectID,
				Credentials: &huaweikms.Credentials{AccessKey: emulator.DefaultAK, SecretKey: emulator.DefaultSK},
				Pacer:       pacers.For(t.Name()), Limits: e.Limits()})
		},
		Dispatcher: func(context.Context) (invocation.Dispatcher, error) {
			return selfinvoke.NewFunctionGraph(selfinvoke.FunctionGraphConfig{URN: urn, Endpoint: fg.URL(),
				Credentials: selfinvoke.Credentials{AccessKey: emulator.DefaultAK, SecretKey: emulator.DefaultSK}})
		},
	}
	runs := map[string]bool{}
	for i := range o.fanoutRuns {
		ictx, cancel := context.WithTimeout(handler.WithRequestID(ctx, fmt.Sprintf("bench-fanout-%d", i+1)), orgTimeout)
		start := time.Now()
		body, err := pipe.Invoke(ictx, []byte(`{"action":"sweep"}`), cloud)
		d := time.Since(start)
		cancel()
		if err != nil {
			return r, err
		}
		var rep handler.Report
		if err := json.Unmarshal(body, &rep); err != nil {
			return r, fmt.Errorf("decode the fan-out's report: %w", err)
		}
		r.MS = append(r.MS, float64(d)/float64(time.Millisecond))
		r.MaxSeconds = max(r.MaxSeconds, d.Seconds())
		if rep.Mode != handler.ModeFanout || rep.Error != "" || len(rep.Targets) != o.fanoutTargets {
			return r, fmt.Errorf("fan-out %d: mode %s, %d targets, error %q", i+1, rep.Mode, len(rep.Targets), rep.Error)
		}
		runs[rep.Run] = true
		for _, tr := range rep.Targets {
			if tr.Dispatched && tr.RequestID != "" {
				r.Dispatched++
			} else if len(r.Problems) < 3 {
				r.Problems = append(r.Problems, fmt.Sprintf("fan-out %d: %s not dispatched: %s", i+1, tr.Target, tr.Error))
			}
		}
	}
	r.Ratio = r.MaxSeconds / r.BoundSeconds
	// Every accepted invocation is link 1 of one target of one fan-out.
	seen := map[string]bool{}
	for _, inv := range fg.Invocations() {
		var m struct {
			Action, Target, Run string
			Link                int
		}
		if err := json.Unmarshal(inv.Payload, &m); err != nil || m.Action != "sweep" || m.Link != 1 || !runs[m.Run] || seen[m.Run+m.Target] {
			r.Problems = append(r.Problems, fmt.Sprintf("unexpected invocation %s", inv.Payload))
			continue
		}
		seen[m.Run+m.Target] = true
		r.Accepted++
	}
	if want := o.fanoutTargets * o.fanoutRuns; r.Accepted != want || r.Dispatched != want {
		r.Problems = append(r.Problems, fmt.Sprintf("%d dispatched and %d accepted, want %d", r.Dispatched, r.Accepted, want))
	}
	if st := k.srv.Stats(); total(st.Calls) != 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("a fan-out called KMS %d times", total(st.Calls)))
	}
	return r, nil
}

var errOrgFlags = errors.New("-org-keys, -org-rate, -org-chain-keys, -org-chain-rate, -org-chain-calls, -org-fanout and -org-fanout-runs must be positive, the latencies and -org-chain-margin not negative, -org-chain-non-compliant a fraction")

// check checks the organisation flags.
func (o orgOptions) check() error {
	if o.keys < 1 || o.rate <= 0 || o.chainKeys < 1 || o.chainRate <= 0 || o.chainCalls < 1 || o.fanoutTargets < 1 || o.fanoutRuns < 1 ||
		o.latency < 0 || o.chainLatency < 0 || o.chainMargin < 0 || o.chainRatio < 0 || o.chainRatio > 1 {
		return errOrgFlags
	}
	return nil
}
