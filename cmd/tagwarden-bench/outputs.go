package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/invocation"
	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweiobs/obsemu"
	"github.com/tagwarden/tagwarden/adapters/outputs/local"
	"github.com/tagwarden/tagwarden/adapters/targets"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// OutputsResult is the outputs measurement: the calls the run's outputs
// make (stored reports in OBS, a notification through SMN, Cloud Eye
// metrics) at two key counts and in a chained run, the heap of a sweep
// storing its reports, and the size of a notification of many keys. A
// part that failed is left empty (the error is in Results.Errors).
type OutputsResult struct {
	Calls  []OutputsCalls  `json:"calls,omitempty"`
	Chain  *OutputsChain   `json:"chain,omitempty"`
	Memory []OutputsMemory `json:"memory,omitempty"`
	Notify *OutputsNotify  `json:"notify,omitempty"`
}

// OutputCounts are the calls of one run or one invocation to the three
// output services.
type OutputCounts struct {
	OBSPut   int `json:"obs_put"`
	OBSGet   int `json:"obs_get"`
	OBSOther int `json:"obs_other,omitempty"`
	SMN      int `json:"smn"`
	CES      int `json:"ces"`
}

// Total adds the services up.
func (c OutputCounts) Total() int { return c.OBSPut + c.OBSGet + c.OBSOther + c.SMN + c.CES }

func (c OutputCounts) String() string {
	return fmt.Sprintf("OBS %d PUT + %d GET, SMN %d, CES %d", c.OBSPut, c.OBSGet, c.SMN, c.CES)
}

// expectedCalls is what the design makes a run of one target in links
// invocations call: each link but the last stores its report (1 PUT); the
// run's end reads the latest pointer (1 GET, a 404 on a target's first
// run) and the state it names (1 GET, when there is one: prev), every
// earlier link's report (1 GET each), and stores the page, the state, the
// summary, the pointer and its own report (5 PUTs); it publishes one
// message when a finding is new or due again (published), and puts the
// metrics in one call.
func expectedCalls(links int, prev, published bool) OutputCounts {
	c := OutputCounts{OBSPut: links - 1 + 5, OBSGet: 1 + (links - 1), CES: 1}
	if prev {
		c.OBSGet++
	}
	if published {
		c.SMN = 1
	}
	return c
}

// OutputsCalls is one run of a sweep with the outputs on, beside the same
// sweep without them.
type OutputsCalls struct {
	Keys int `json:"keys"`
	// Run is 1 for the target's first run (no latest pointer yet), 2 for
	// the next (it reads the pointer and the state run 1 stored).
	Run   int `json:"run"`
	Links int `json:"links"`
	// Entries are the key entries of the run's reports, NeedPerson the
	// keys whose findings need a person (violating or failed).
	Entries    int `json:"report_entries"`
	NeedPerson int `json:"need_person"`
	// Services is what the local services answered during the run (their
	// Calls), Expected the design's handful (expectedCalls).
	Services OutputCounts `json:"services"`
	Expected OutputCounts `json:"expected"`
	// PerInvocation splits the calls by invocation (counted at the
	// clients, by request id), in link order.
	PerInvocation []OutputCounts `json:"per_invocation"`
	// Notification says what became of the notification (published, or
	// why not).
	Notification string `json:"notification"`
	// WallSeconds is the run with outputs, from the first dispatch to the
	// last link's end; BaseWallSeconds the same run without outputs.
	WallSeconds     float64  `json:"wall_seconds"`
	BaseWallSeconds float64  `json:"base_wall_seconds"`
	WallRatio       float64  `json:"wall_ratio"`
	Problems        []string `json:"problems,omitempty"`
}

// OutputsChain is a sweep cut into several links by a small report
// budget, with the outputs on: the calls of each link.
type OutputsChain struct {
	Keys          int            `json:"keys"`
	MaxReportKeys int            `json:"max_report_keys"`
	Run           OutputsCalls   `json:"run"`
	Links         []OutputsLink  `json:"links"`
	Expected      []OutputCounts `json:"expected_per_link"`
}

// OutputsLink is one invocation of the chained run.
type OutputsLink struct {
	Link    int          `json:"link"`
	Entries int          `json:"report_entries"`
	Cut     string       `json:"cut"`
	Calls   OutputCounts `json:"calls"`
}

// OutputsMemory is the heap of the process running the function's side of
// a sweep (pipeline, handler, KMS adapter, output clients), the KMS and
// output emulators being another process.
type OutputsMemory struct {
	Keys int `json:"keys"`
	// Person is the share of keys given a mistake only a person can fix
	// (on top of the sample's own mix); NeedPerson counts them in the run.
	Person     float64 `json:"person_share"`
	NeedPerson int     `json:"need_person"`
	Run        int     `json:"run"`
	Outputs    bool    `json:"outputs"`
	Links      int     `json:"links"`
	Entries    int     `json:"report_entries"`
	// As MemoryResult.
	BaselineMiB float64 `json:"baseline_heap_mib"`
	PeakMiB     float64 `json:"peak_heap_mib"`
	PeakLiveMiB float64 `json:"peak_live_heap_mib"`
	PeakRSSMiB  float64 `json:"peak_rss_mib"`
	GCs         uint64  `json:"gc_cycles"`
	Samples     int     `json:"samples"`
	Seconds     float64 `json:"sweep_seconds"`
	// Objects and StoredMiB are what the OBS emulator holds after the run
	// (every run so far), LargestKiB its largest object; Calls what the
	// output services answered during the run.
	Objects    int     `json:"objects"`
	StoredMiB  float64 `json:"stored_mib"`
	LargestKiB float64 `json:"largest_object_kib"`
	// ObjectKiB is the largest object of each kind (page, state, summary,
	// latest, report).
	ObjectKiB map[string]float64 `json:"object_kib,omitempty"`
	Calls     OutputCounts       `json:"calls"`
	Problems  []string           `json:"problems,omitempty"`
}

// OutputsNotify is the notification of a run whose keys all need a person.
type OutputsNotify struct {
	Keys       int `json:"keys"`
	NeedPerson int `json:"need_person"`
	// BodyBytes is the message published, Limit SMN's (256 KiB).
	BodyBytes    int     `json:"body_bytes"`
	SubjectBytes int     `json:"subject_bytes"`
	Limit        int     `json:"limit_bytes"`
	Ratio        float64 `json:"ratio"`
	// ListedKeys and ListedFindings are what the body lists; MoreKeys and
	// MoreFindings the "… and N more keys (M findings)" line's counts.
	ListedKeys     int    `json:"listed_keys"`
	ListedFindings int    `json:"listed_findings"`
	MoreKeys       int    `json:"more_keys"`
	MoreFindings   int    `json:"more_findings"`
	Subject        string `json:"subject"`
	// Accepted is true when the local SMN (which refuses a message over
	// 256 KiB) answered 200 and holds the message as sent.
	Accepted bool `json:"accepted"`
	// EndMS is the run's end in process (gathering the findings,
	// rendering the page and the message, encoding the state), the
	// services' calls excluded; PublishMS the publish call, OtherMS the
	// other calls (OBS, Cloud Eye).
	EndMS     float64  `json:"end_in_process_ms"`
	PublishMS float64  `json:"publish_ms"`
	OtherMS   float64  `json:"other_calls_ms"`
	Problems  []string `json:"problems,omitempty"`
}

// outputsOptions are the outputs measurement's flags.
type outputsOptions struct {
	keys        []int
	chainKeys   int
	chainReport int
	memKeys     int
	person      []float64
	notifyKeys  int
}

// parseFractions reads a comma-separated list of fractions between 0 and 1.
func parseFractions(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		x, err := strconv.ParseFloat(f, 64)
		if err != nil || x < 0 || x > 1 {
			return nil, fmt.Errorf("%q is not a fraction between 0 and 1", f)
		}
		out = append(out, x)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no fraction given")
	}
	return out, nil
}

var errOutputsFlags = fmt.Errorf("-outputs-chain-keys, -outputs-chain-report-keys, -outputs-memory-keys and -outputs-notify-keys must be positive")

func (o outputsOptions) check() error {
	if o.chainKeys < 1 || o.chainReport < 1 || o.memKeys < 1 || o.notifyKeys < 1 {
		return errOutputsFlags
	}
	return nil
}

// outputsSeed is the SampleKeys seed of the outputs measurement.
const outputsSeed = 1

// outputsMemTarget bounds the peak heap of a sweep with its reports
// stored (MiB): as the memory measurement's.
const outputsMemTarget = memTargetMiB

// measureOutputs runs the four parts; a part that fails is left empty and
// its error returned among errs.
func measureOutputs(ctx context.Context, e *policy.Engine, o outputsOptions, sample time.Duration, concurrency int, step func(string, ...any)) (OutputsResult, []error) {
	var r OutputsResult
	var errs []error
	for _, n := range o.keys {
		step("outputs: two runs of a sweep of %d sample keys with outputs on the local SMN, Cloud Eye and OBS, and without...", n)
		rows, err := measureOutputsCalls(ctx, e, n, 0, concurrency)
		if err != nil {
			errs = append(errs, fmt.Errorf("calls at %d keys: %w", n, err))
			continue
		}
		r.Calls = append(r.Calls, rows...)
	}
	step("outputs: a sweep of %d sample keys cut into links by a report budget of %d entries...", o.chainKeys, o.chainReport)
	c, err := measureOutputsChain(ctx, e, o.chainKeys, o.chainReport, concurrency)
	if err != nil {
		errs = append(errs, fmt.Errorf("chained run: %w", err))
	} else {
		r.Chain = &c
	}
	for _, person := range o.person {
		for _, with := range []bool{false, true} {
			what := "without outputs"
			if with {
				what = "with outputs"
			}
			step("outputs: heap of two runs of a sweep of %d keys (%.0f%% made to need a person) %s (emulators in a child process)...", o.memKeys, person*100, what)
			rows, err := measureOutputsMemory(ctx, e, o.memKeys, person, with, sample, concurrency)
			if err != nil {
				errs = append(errs, fmt.Errorf("memory %s, %.0f%% needing a person: %w", what, person*100, err))
				continue
			}
			r.Memory = append(r.Memory, rows...)
		}
	}
	step("outputs: the notification of a run of %d keys that all need a person...", o.notifyKeys)
	nt, err := measureOutputsNotify(ctx, e, o.notifyKeys, concurrency)
	if err != nil {
		errs = append(errs, fmt.Errorf("notification: %w", err))
	} else {
		r.Notify = &nt
	}
	return r, errs
}

// personKeys returns n sample keys without the default keys, of which
// about share (spread evenly) carry a mistake only a person can fix:
// tagwarden-exempt=true without the exempt-reason the exemption policy
// requires (it has no default value), the sample's own report-only
// mistake, and are made enabled as the sample's own report-only keys are
// (a key pending deletion or import cannot be tagged: a sweep skips it).
// Keys that already carry an exemption tag or ten tags (the sample's
// report-only keys) count among them with their own mistake.
func personKeys(n int, share float64) []emulator.SeedKey {
	all := emulator.SampleKeys(n+8, outputsSeed)
	out := make([]emulator.SeedKey, 0, n)
	bad := 0
	for _, k := range all {
		if len(out) == n {
			break
		}
		if k.ResourceDetail.DefaultKeyFlag == "1" {
			continue
		}
		out = append(out, k)
		if float64(bad) >= share*float64(len(out))-1e-9 {
			continue
		}
		bad++
		d := &out[len(out)-1].ResourceDetail
		d.KeyState, d.ScheduledDeletionDate, d.PendingDays = "2", "", ""
		if len(k.Tags) >= emulator.DefaultMaxTags || slices.ContainsFunc(k.Tags, func(t emulator.Tag) bool { return t.Key == "tagwarden-exempt" }) {
			continue
		}
		out[len(out)-1].Tags = append(slices.Clone(k.Tags), emulator.Tag{Key: "tagwarden-exempt", Value: "true"})
	}
	return out
}

// outputsTarget is the one target of the measurement, served by the KMS
// emulator at url: the local services' region and project.
func outputsTarget(url string) targets.Target {
	return targets.Target{Region: local.Region, ProjectID: emulator.DefaultProject, Endpoint: url}
}

// openStore opens the KMS adapter of target t as cmd/bootstrap does
// (unpaced: the emulator has no rate limit here).
func openStore(e *policy.Engine, t targets.Target) (handler.KeyStore, error) {
	s, err := huaweikms.New(huaweikms.Config{Region: t.Region, Endpoint: t.Endpoint, ProjectID: t.ProjectID,
		Credentials: &huaweikms.Credentials{AccessKey: emulator.DefaultAK, SecretKey: emulator.DefaultSK},
		RateLimit:   -1, Limits: e.Limits()})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// outCounter counts the calls of the output clients by invocation (the
// request id of the context the pipeline opens them with).
type outCounter struct {
	mu sync.Mutex
	by map[string]*OutputCounts
}

func (c *outCounter) add(id string, f func(*OutputCounts)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.by == nil {
		c.by = map[string]*OutputCounts{}
	}
	if c.by[id] == nil {
		c.by[id] = &OutputCounts{}
	}
	f(c.by[id])
}

func (c *outCounter) of(id string) OutputCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.by[id]; n != nil {
		return *n
	}
	return OutputCounts{}
}

// wrap returns cl with every call counted under id.
func (c *outCounter) wrap(id string, cl outputs.Clients) outputs.Clients {
	if cl.Store != nil {
		cl.Store = countedStore{cl.Store, c, id}
	}
	if cl.Notifier != nil {
		cl.Notifier = countedNotifier{cl.Notifier, c, id}
	}
	if cl.Metrics != nil {
		cl.Metrics = countedMetrics{cl.Metrics, c, id}
	}
	return cl
}

type countedStore struct {
	outputs.Store
	c  *outCounter
	id string
}

func (s countedStore) Put(ctx context.Context, key string, body io.ReadSeeker, size int64, o outputs.PutOptions) error {
	s.c.add(s.id, func(n *OutputCounts) { n.OBSPut++ })
	return s.Store.Put(ctx, key, body, size, o)
}

func (s countedStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	s.c.add(s.id, func(n *OutputCounts) { n.OBSGet++ })
	return s.Store.Get(ctx, key)
}

type countedNotifier struct {
	outputs.Notifier
	c  *outCounter
	id string
}

func (s countedNotifier) Publish(ctx context.Context, m outputs.Message) (string, error) {
	s.c.add(s.id, func(n *OutputCounts) { n.SMN++ })
	return s.Notifier.Publish(ctx, m)
}

type countedMetrics struct {
	outputs.Metrics
	c  *outCounter
	id string
}

func (s countedMetrics) Put(ctx context.Context, points []outputs.Datum) error {
	s.c.add(s.id, func(n *OutputCounts) { n.CES++ })
	return s.Metrics.Put(ctx, points)
}

// serviceCounts reads what the local services answered so far.
func serviceCounts(svc *local.Services) OutputCounts {
	ob := svc.OBS.Calls()
	c := OutputCounts{OBSPut: ob.Ops[obsemu.OpPutObject], OBSGet: ob.Ops[obsemu.OpGetObject], SMN: svc.SMN.Calls().Requests, CES: svc.CES.Calls().Total}
	for op, n := range ob.Ops {
		if op != obsemu.OpPutObject && op != obsemu.OpGetObject {
			c.OBSOther += n
		}
	}
	return c
}

func (c OutputCounts) minus(d OutputCounts) OutputCounts {
	return OutputCounts{OBSPut: c.OBSPut - d.OBSPut, OBSGet: c.OBSGet - d.OBSGet, OBSOther: c.OBSOther - d.OBSOther, SMN: c.SMN - d.SMN, CES: c.CES - d.CES}
}

func (c OutputCounts) plus(d OutputCounts) OutputCounts {
	return OutputCounts{OBSPut: c.OBSPut + d.OBSPut, OBSGet: c.OBSGet + d.OBSGet, OBSOther: c.OBSOther + d.OBSOther, SMN: c.SMN + d.SMN, CES: c.CES + d.CES}
}

// outputsLoop is the function's pipeline over one target with
// invocation.Loopback as the asynchronous platform; with svc, the outputs
// are on, on those services, their calls counted by cnt.
func outputsLoop(e *policy.Engine, cfg handler.Config, t targets.Target, svc *local.Services, cnt *outCounter, tmp string) *invocation.Loopback {
	loop := &invocation.Loopback{Timeout: orgTimeout}
	loop.Pipeline = invocation.Pipeline{Handler: handler.New(e, cfg, nil), Runs: invocation.Runs{
		Targets:  targets.Config{Static: []targets.Target{t}, Own: t},
		MaxChain: invocation.DefaultMaxChain, Memory: &invocation.Memory{},
	}}
	if svc != nil {
		loop.Pipeline.Runs.Outputs = outputs.New(outputs.Options{Own: t.Name(), TempDir: tmp})
	}
	loop.Cloud = func(context.Context) invocation.Cloud {
		c := invocation.Cloud{
			Store:      func(_ context.Context, t targets.Target) (handler.KeyStore, error) { return openStore(e, t) },
			Dispatcher: func(context.Context) (invocation.Dispatcher, error) { return loop, nil },
		}
		if svc != nil {
			c.Outputs = func(ctx context.Context) (outputs.Clients, error) {
				cl, err := svc.Clients()
				if err != nil {
					return cl, err
				}
				return cnt.wrap(handler.RequestID(ctx), cl), nil
			}
		}
		return c
	}
	return loop
}

// outputsRun is one run through a loop: its deliveries in link order and
// its wall time.
type outputsRun struct {
	ds   []invocation.Delivery
	wall time.Duration
}

// runOnce dispatches a sweep through loop and returns the run's
// deliveries (those after the first skip delivered before), in link order.
func runOnce(ctx context.Context, loop *invocation.Loopback, skip int) (outputsRun, error) {
	ds, wall, _, err := runLoop(ctx, loop, `{"action":"sweep"}`)
	if err != nil {
		return outputsRun{}, err
	}
	ds = ds[skip:]
	slices.SortFunc(ds, func(a, b invocation.Delivery) int { return a.Report.Link - b.Report.Link })
	return outputsRun{ds: ds, wall: wall}, nil
}

// checkRun checks a run's links: one after another, the last done, every
// output sent (or skipped with nothing to send).
func checkRun(r outputsRun, outputsOn bool) []string {
	var probs []string
	for i, d := range r.ds {
		rep := d.Report
		if rep.Link != i+1 {
			probs = append(probs, fmt.Sprintf("links %d and %d: not one link after another", i, rep.Link))
		}
		if rep.Error != "" {
			probs = append(probs, fmt.Sprintf("link %d: %s", rep.Link, rep.Error))
		}
		for _, o := range rep.Outputs {
			if !o.OK {
				probs = append(probs, fmt.Sprintf("link %d: output %s %s failed: %s", rep.Link, o.Output, o.What, o.Error))
			}
		}
		if outputsOn && len(rep.Outputs) == 0 {
			probs = append(probs, fmt.Sprintf("link %d: no output sent", rep.Link))
		}
	}
	if n := len(r.ds); n == 0 {
		probs = append(probs, "no link ran")
	} else if last := r.ds[n-1].Report; last.Chain == nil || last.Chain.State != handler.ChainDone {
		probs = append(probs, fmt.Sprintf("the last link (%d) did not finish the sweep: %+v", last.Link, last.Chain))
	}
	return probs
}

// notification says what the run did with its notification.
func notification(rep handler.Report) (string, bool) {
	for _, o := range rep.Outputs {
		if o.Output != "smn" {
			continue
		}
		switch {
		case o.Skipped:
			return "skipped: " + o.Reason, false
		case o.OK:
			return fmt.Sprintf("published (%d findings)", o.Items), true
		}
		return "failed: " + o.Error, false
	}
	return "none", false
}

// measureOutputsCalls runs a sweep of n sample keys twice with the outputs
// on and twice without, on fresh emulators; reportKeys > 0 sets the
// report budget (TAGWARDEN_MAX_REPORT_KEYS).
func measureOutputsCalls(ctx context.Context, e *policy.Engine, n, reportKeys, concurrency int) ([]OutputsCalls, error) {
	cfg := handler.DefaultConfig()
	cfg.Concurrency = concurrency
	if reportKeys > 0 {
		cfg.MaxReportKeys = reportKeys
	}
	seed := emulator.SampleKeys(n, outputsSeed)
	tmp, err := os.MkdirTemp("", "tagwarden-bench-outputs-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	// Without outputs: the baseline's wall times.
	var base []outputsRun
	{
		k, err := startSeeded(seed)
		if err != nil {
			return nil, err
		}
		loop := outputsLoop(e, cfg, outputsTarget(k.url), nil, nil, tmp)
		for i := range 2 {
			r, err := runOnce(ctx, loop, len(loop.Deliveries()))
			if err != nil {
				k.close()
				return nil, fmt.Errorf("run %d without outputs: %w", i+1, err)
			}
			if probs := checkRun(r, false); len(probs) > 0 {
				k.close()
				return nil, fmt.Errorf("run %d without outputs: %s", i+1, strings.Join(probs, "; "))
			}
			base = append(base, r)
		}
		k.close()
	}

	k, err := startSeeded(seed)
	if err != nil {
		return nil, err
	}
	defer k.close()
	svc, err := local.Start(local.Options{})
	if err != nil {
		return nil, err
	}
	defer svc.Close()
	cnt := &outCounter{}
	loop := outputsLoop(e, cfg, outputsTarget(k.url), svc, cnt, tmp)
	var rows []OutputsCalls
	for i := range 2 {
		before := serviceCounts(svc)
		r, err := runOnce(ctx, loop, len(loop.Deliveries()))
		if err != nil {
			return rows, fmt.Errorf("run %d with outputs: %w", i+1, err)
		}
		row := OutputsCalls{Keys: n, Run: i + 1, Links: len(r.ds), Services: serviceCounts(svc).minus(before),
			WallSeconds: r.wall.Seconds(), BaseWallSeconds: base[i].wall.Seconds(), Problems: checkRun(r, true)}
		row.WallRatio = row.WallSeconds / row.BaseWallSeconds
		var sum OutputCounts
		for _, d := range r.ds {
			c := cnt.of(d.RequestID)
			row.PerInvocation = append(row.PerInvocation, c)
			sum = sum.plus(c)
			row.Entries += len(d.Report.Keys)
		}
		last := r.ds[len(r.ds)-1].Report
		if t := last.Totals; t != nil {
			row.NeedPerson = t.Violating + t.Failed
		}
		var published bool
		row.Notification, published = notification(last)
		row.Expected = expectedCalls(row.Links, i > 0, published)
		if sum != row.Services {
			row.Problems = append(row.Problems, fmt.Sprintf("the clients counted %s, the services %s", sum, row.Services))
		}
		if bl := len(base[i].ds); bl != row.Links {
			row.Problems = append(row.Problems, fmt.Sprintf("%d links with outputs, %d without", row.Links, bl))
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// startSeeded serves seed from an in-process KMS emulator.
func startSeeded(seed []emulator.SeedKey) (*kms, error) {
	srv, err := emulator.New(emulator.Options{Seed: seed})
	if err != nil {
		return nil, fmt.Errorf("start the emulator: %w", err)
	}
	url, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start the emulator: %w", err)
	}
	return &kms{srv: srv, url: url}, nil
}

// measureOutputsChain runs a sweep of n sample keys cut into links by a
// report budget of reportKeys entries, with the outputs on and without.
func measureOutputsChain(ctx context.Context, e *policy.Engine, n, reportKeys, concurrency int) (OutputsChain, error) {
	c := OutputsChain{Keys: n, MaxReportKeys: reportKeys}
	cfg := handler.DefaultConfig()
	cfg.Concurrency, cfg.MaxReportKeys = concurrency, reportKeys
	seed := emulator.SampleKeys(n, outputsSeed)
	tmp, err := os.MkdirTemp("", "tagwarden-bench-outputs-")
	if err != nil {
		return c, err
	}
	defer os.RemoveAll(tmp)

	k, err := startSeeded(seed)
	if err != nil {
		return c, err
	}
	base, err := runOnce(ctx, outputsLoop(e, cfg, outputsTarget(k.url), nil, nil, tmp), 0)
	k.close()
	if err != nil {
		return c, fmt.Errorf("without outputs: %w", err)
	}

	k, err = startSeeded(seed)
	if err != nil {
		return c, err
	}
	defer k.close()
	svc, err := local.Start(local.Options{})
	if err != nil {
		return c, err
	}
	defer svc.Close()
	cnt := &outCounter{}
	r, err := runOnce(ctx, outputsLoop(e, cfg, outputsTarget(k.url), svc, cnt, tmp), 0)
	if err != nil {
		return c, fmt.Errorf("with outputs: %w", err)
	}
	row := OutputsCalls{Keys: n, Run: 1, Links: len(r.ds), Services: serviceCounts(svc), WallSeconds: r.wall.Seconds(),
		BaseWallSeconds: base.wall.Seconds(), Problems: checkRun(r, true)}
	row.WallRatio = row.WallSeconds / row.BaseWallSeconds
	last := r.ds[len(r.ds)-1].Report
	if t := last.Totals; t != nil {
		row.NeedPerson = t.Violating + t.Failed
	}
	var published bool
	row.Notification, published = notification(last)
	row.Expected = expectedCalls(row.Links, false, published)
	var sum OutputCounts
	for i, d := range r.ds {
		calls := cnt.of(d.RequestID)
		sum = sum.plus(calls)
		row.PerInvocation = append(row.PerInvocation, calls)
		row.Entries += len(d.Report.Keys)
		cut := "done"
		switch {
		case strings.Contains(d.Report.Reason, "report full"):
			cut = "report"
		case strings.Contains(d.Report.Reason, "before the deadline"):
			cut = "deadline"
		case d.Report.Chain != nil && d.Report.Chain.State != handler.ChainDone:
			cut = d.Report.Chain.State
		}
		c.Links = append(c.Links, OutputsLink{Link: d.Report.Link, Entries: len(d.Report.Keys), Cut: cut, Calls: calls})
		want := OutputCounts{OBSPut: 1}
		if i == len(r.ds)-1 {
			want = expectedCalls(1, false, published)
			want.OBSGet += len(r.ds) - 1
		}
		c.Expected = append(c.Expected, want)
	}
	if sum != row.Services {
		row.Problems = append(row.Problems, fmt.Sprintf("the clients counted %s, the services %s", sum, row.Services))
	}
	if row.Links < 2 {
		row.Problems = append(row.Problems, fmt.Sprintf("the sweep took %d link: lower -outputs-chain-report-keys", row.Links))
	}
	if bl := len(base.ds); bl != row.Links {
		row.Problems = append(row.Problems, fmt.Sprintf("%d links with outputs, %d without", row.Links, bl))
	}
	c.Run = row
	return c, nil
}

// timedNotifier and timedCalls time the calls of the run's end.
type timedCalls struct {
	mu      sync.Mutex
	publish time.Duration
	other   time.Duration
	msg     outputs.Message
}

func (t *timedCalls) time(publish bool, f func()) {
	start := time.Now()
	f()
	d := time.Since(start)
	t.mu.Lock()
	defer t.mu.Unlock()
	if publish {
		t.publish += d
	} else {
		t.other += d
	}
}

type timedNotifier struct {
	outputs.Notifier
	t *timedCalls
}

func (n timedNotifier) Publish(ctx context.Context, m outputs.Message) (id string, err error) {
	n.t.mu.Lock()
	n.t.msg = m
	n.t.mu.Unlock()
	n.t.time(true, func() { id, err = n.Notifier.Publish(ctx, m) })
	return id, err
}

type timedStore struct {
	outputs.Store
	t *timedCalls
}

func (s timedStore) Put(ctx context.Context, key string, body io.ReadSeeker, size int64, o outputs.PutOptions) (err error) {
	s.t.time(false, func() { err = s.Store.Put(ctx, key, body, size, o) })
	return err
}

func (s timedStore) Get(ctx context.Context, key string) (rc io.ReadCloser, err error) {
	s.t.time(false, func() { rc, err = s.Store.Get(ctx, key) })
	return rc, err
}

type timedMetrics struct {
	outputs.Metrics
	t *timedCalls
}

func (m timedMetrics) Put(ctx context.Context, points []outputs.Datum) (err error) {
	m.t.time(false, func() { err = m.Metrics.Put(ctx, points) })
	return err
}

// moreLine is the line that ends a body cut short.
var moreLine = regexp.MustCompile(`… and (\d+) more keys? \((\d+) findings?\)`)

// measureOutputsNotify sweeps n keys that all need a person in one
// invocation (the report budget lifted, as the memory measurement does, so
// that the run's end has them all at hand) and sends the run's end to the
// three local services, timing it.
func measureOutputsNotify(ctx context.Context, e *policy.Engine, n, concurrency int) (OutputsNotify, error) {
	r := OutputsNotify{Keys: n, Limit: outputs.MaxMessageBytes}
	k, err := startSeeded(personKeys(n, 1))
	if err != nil {
		return r, err
	}
	defer k.close()
	t := outputsTarget(k.url)
	store, err := openStore(e, t)
	if err != nil {
		return r, err
	}
	h := handler.New(e, handler.Config{Concurrency: concurrency, MaxReportKeys: 1 << 20, MaxReportBytes: 1 << 30}, nil)
	rep := h.Handle(handler.WithRequestID(ctx, "bench-notify"), store, handler.Request{Mode: handler.ModeSweep, Trigger: "bench"})
	if rep.Error != "" || rep.Continuation != "" {
		return r, fmt.Errorf("sweep: error %q, continuation %t", rep.Error, rep.Continuation != "")
	}
	rep.Target = t.Name()
	r.NeedPerson = rep.Violating + rep.Failed
	if r.NeedPerson != n {
		r.Problems = append(r.Problems, fmt.Sprintf("%d of %d keys need a person", r.NeedPerson, n))
	}

	svc, err := local.Start(local.Options{})
	if err != nil {
		return r, err
	}
	defer svc.Close()
	cl, err := svc.Clients()
	if err != nil {
		return r, err
	}
	tmp, err := os.MkdirTemp("", "tagwarden-bench-outputs-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(tmp)
	tc := &timedCalls{}
	cl = outputs.Clients{Notifier: timedNotifier{cl.Notifier, tc}, Store: timedStore{cl.Store, tc}, Metrics: timedMetrics{cl.Metrics, tc}}
	rec := outputs.New(outputs.Options{Own: t.Name(), TempDir: tmp})
	start := time.Now()
	rec.End(ctx, cl, &rep)
	end := time.Since(start)
	r.PublishMS = float64(tc.publish) / float64(time.Millisecond)
	r.OtherMS = float64(tc.other) / float64(time.Millisecond)
	r.EndMS = float64(end-tc.publish-tc.other) / float64(time.Millisecond)
	for _, o := range rep.Outputs {
		if !o.OK {
			r.Problems = append(r.Problems, fmt.Sprintf("output %s %s failed: %s", o.Output, o.What, o.Error))
		}
	}

	msg := tc.msg
	r.BodyBytes, r.SubjectBytes, r.Subject = len(msg.Body), len(msg.Subject), msg.Subject
	r.Ratio = float64(r.BodyBytes) / float64(r.Limit)
	pub := svc.SMN.Published()
	calls := svc.SMN.Calls()
	r.Accepted = len(pub) == 1 && pub[0].Message == msg.Body && calls.Status[200] == 1
	if !r.Accepted {
		r.Problems = append(r.Problems, fmt.Sprintf("SMN holds %d messages (answers %v), want the one published", len(pub), calls.Status))
	}
	// The body: a header, "Keys that need a person: N", then each key (a
	// blank line, "alias (key id)", its findings "  - ..."), then the
	// "… and N more" line when not every key fits.
	lines := strings.Split(msg.Body, "\n")
	listing := false
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "Keys that need a person:"):
			listing = true
		case !listing:
		case strings.HasPrefix(l, "  - "):
			r.ListedFindings++
		case l != "" && i > 0 && lines[i-1] == "" && !strings.HasPrefix(l, "… and "):
			r.ListedKeys++
		}
	}
	if m := moreLine.FindStringSubmatch(msg.Body); m != nil {
		r.MoreKeys, _ = strconv.Atoi(m[1])
		r.MoreFindings, _ = strconv.Atoi(m[2])
	}
	if r.ListedKeys+r.MoreKeys != r.NeedPerson {
		r.Problems = append(r.Problems, fmt.Sprintf("the message lists %d keys and %d more, want %d", r.ListedKeys, r.MoreKeys, r.NeedPerson))
	}
	return r, nil
}
