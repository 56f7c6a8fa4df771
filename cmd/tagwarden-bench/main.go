package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tagwarden/tagwarden/cmd/internal/config"
	"github.com/tagwarden/tagwarden/handler"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// measurements, in the order they run.
var allMeasurements = []string{"calls", "rate", "window", "org", "outputs", "memory", "lambda", "eval"}

// options are the command's flags.
type options struct {
	keys         []int
	ratio        float64
	naiveMax     int
	concurrency  int
	rateKeys     int
	rate         float64
	rateBursts   []int
	rateLatency  time.Duration
	windowRates  []int
	windowKeys   []int
	memKeys      []int
	memSample    time.Duration
	memCompliant bool
	lambdaStarts int
	lambdaWarm   int
	lambdaKeys   int
	evalDuration time.Duration
	org          orgOptions
	outputs      outputsOptions
	only         []string
	json         bool
	serve        int
	serveOutputs int
}

// Results are every figure of one run.
type Results struct {
	Go         string         `json:"go"`
	OS         string         `json:"os_arch"`
	CPUs       int            `json:"cpus"`
	Started    time.Time      `json:"started"`
	Seconds    float64        `json:"seconds"`
	Calls      []CallsResult  `json:"calls,omitempty"`
	Rate       []RateResult   `json:"rate,omitempty"`
	Window     []WindowResult `json:"window,omitempty"`
	Org        *OrgResult     `json:"org,omitempty"`
	Outputs    *OutputsResult `json:"outputs,omitempty"`
	Memory     []MemoryResult `json:"memory,omitempty"`
	Lambda     *LambdaResult  `json:"lambda,omitempty"`
	Eval       []EvalResult   `json:"eval,omitempty"`
	Errors     []string       `json:"errors,omitempty"`
	Verdicts   []Verdict      `json:"verdicts"`
	Concurrent int            `json:"concurrency"`
}

// Verdict is one target and whether this run met it.
type Verdict struct {
	Target string `json:"target"`
	Got    string `json:"got"`
	Met    bool   `json:"met"`
}

// maxKeys bounds every count the flags take.
const maxKeys = 10_000_000

// parseInts reads a comma-separated list of positive counts, with optional
// k (thousand) and m (million) suffixes and _ separators.
func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(strings.ReplaceAll(strings.ToLower(f), "_", ""))
		if f == "" {
			continue
		}
		orig, mult := f, 1
		switch {
		case strings.HasSuffix(f, "k"):
			mult, f = 1000, strings.TrimSuffix(f, "k")
		case strings.HasSuffix(f, "m"):
			mult, f = 1000000, strings.TrimSuffix(f, "m")
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive whole number", orig)
		}
		if n > maxKeys/mult {
			return nil, fmt.Errorf("%q is more than %d", orig, maxKeys)
		}
		out = append(out, n*mult)
	}
	if len(out) == 0 {
		return nil, errors.New("no sizes given")
	}
	return out, nil
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("tagwarden-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keys := fs.String("keys", "1000,10000,100000", "key counts of the API calls measurement (comma-separated; 10k and 1m suffixes work)")
	mem := fs.String("memory-keys", "10000,100000", "key counts of the memory measurement")
	only := fs.String("only", strings.Join(allMeasurements, ","), "measurements to run: "+strings.Join(allMeasurements, ","))
	fs.Float64Var(&o.ratio, "non-compliant", 0.1, "fraction of keys the shipped policies find non-compliant")
	fs.IntVar(&o.naiveMax, "naive-max", 10000, "measure the per-key baseline up to this key count (computed above it)")
	fs.IntVar(&o.concurrency, "concurrency", handler.DefaultConcurrency, "keys processed at once (TAGWARDEN_CONCURRENCY)")
	fs.IntVar(&o.rateKeys, "rate-keys", 10000, "key count of the rate-limited sweep")
	fs.Float64Var(&o.rate, "rate", 200, "requests per second the emulator allows and the adapter's limiter is set to")
	bursts := fs.String("rate-burst", "10,1", "bursts of the emulator's token bucket, one sweep each (the first is the documented shape)")
	fs.DurationVar(&o.rateLatency, "rate-latency", 5*time.Millisecond, "latency the emulator adds to every answer in the rate-limited sweeps (rate and window)")
	wrates := fs.String("window-rates", "20,100", "requests per second of the window measurement's sweeps: the emulator's gateway lets that many through in any sliding second, the adapter's pacer is set to it")
	wkeys := fs.String("window-keys", "1000,5000", "key count of each -window-rates sweep (one count: the same for every rate)")
	fs.IntVar(&o.org.keys, "org-keys", 10000, "keys of each of the three targets of the fanned-out sweep (org)")
	fs.Float64Var(&o.org.rate, "org-rate", 100, "requests per second per target of the fanned-out sweep: each target's pacer, and each emulator's gateway per project it serves")
	fs.DurationVar(&o.org.latency, "org-latency", 5*time.Millisecond, "latency the emulators add to every answer in the fanned-out sweep")
	fs.IntVar(&o.org.chainKeys, "org-chain-keys", 50000, "keys of the sweep that continues itself link by link (org)")
	fs.Float64Var(&o.org.chainRate, "org-chain-rate", 1000, "requests per second of that sweep (pacer and emulator gateway)")
	fs.IntVar(&o.org.chainCalls, "org-chain-calls", 5000, "calls one invocation of that sweep has time for at -org-chain-rate: each invocation's timeout is calls/rate plus -org-chain-margin")
	fs.DurationVar(&o.org.chainMargin, "org-chain-margin", 500*time.Millisecond, "the handler's deadline margin (TAGWARDEN_DEADLINE_MARGIN) in that sweep")
	fs.DurationVar(&o.org.chainLatency, "org-chain-latency", 0, "latency the emulator adds to every answer in that sweep")
	fs.Float64Var(&o.org.chainRatio, "org-chain-non-compliant", 0.5, "fraction of that sweep's keys needing a write (0.5: 30,100 calls for 50,000 keys, six invocations' worth)")
	fs.IntVar(&o.org.fanoutTargets, "org-fanout", 100, "targets of the fan-out timed through the FunctionGraph dispatcher (org)")
	fs.IntVar(&o.org.fanoutRuns, "org-fanout-runs", 3, "fan-outs timed (the slowest is judged)")
	outKeys := fs.String("outputs-keys", "1000,10000", "key counts of the outputs measurement's calls per run (sample keys; the last is compared with the first)")
	fs.IntVar(&o.outputs.chainKeys, "outputs-chain-keys", 10000, "sample keys of the outputs measurement's chained run")
	fs.IntVar(&o.outputs.chainReport, "outputs-chain-report-keys", 1000, "report budget (TAGWARDEN_MAX_REPORT_KEYS) of that run, so that it takes several links")
	fs.IntVar(&o.outputs.memKeys, "outputs-memory-keys", 100000, "keys of the outputs measurement's sweep whose heap is sampled, reports stored")
	person := fs.String("outputs-person", "0.3", "shares of those keys given a mistake only a person can fix (an exemption without its reason), one sweep each")
	fs.IntVar(&o.outputs.notifyKeys, "outputs-notify-keys", 10000, "keys, all needing a person, of the outputs measurement's notification")
	fs.BoolVar(&o.memCompliant, "memory-compliant", true, "also measure every -memory-keys count with every key compliant (no report entries)")
	fs.DurationVar(&o.memSample, "memory-sample", 2*time.Millisecond, "heap sampling interval")
	fs.IntVar(&o.lambdaStarts, "lambda-starts", 5, "cold starts to take the median of")
	fs.IntVar(&o.lambdaWarm, "lambda-warm", 20, "warm invocations to average")
	fs.IntVar(&o.lambdaKeys, "lambda-keys", 1000, "keys of the warm dry-run sweep under the runtime interface emulator")
	fs.DurationVar(&o.evalDuration, "eval-duration", time.Second, "time spent evaluating policies per measurement")
	fs.BoolVar(&o.json, "json", false, "print the results as JSON instead of a table")
	fs.IntVar(&o.serve, "serve-emulator", 0, "internal: serve N generated keys on loopback, print the URL, exit when stdin closes")
	fs.IntVar(&o.serveOutputs, "serve-outputs", 0, "internal: serve N sample keys (-outputs-person of them needing a person) and the local SMN, Cloud Eye and OBS on loopback, print their URLs, answer \"stats\" lines, exit when stdin closes")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./cmd/tagwarden-bench [flags]\n\nMeasures tagwarden against the KMS emulator (see docs/performance.md).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.keys, err = parseInts(*keys); err != nil {
		return o, fmt.Errorf("-keys: %w", err)
	}
	if o.rateBursts, err = parseInts(*bursts); err != nil {
		return o, fmt.Errorf("-rate-burst: %w", err)
	}
	if o.memKeys, err = parseInts(*mem); err != nil {
		return o, fmt.Errorf("-memory-keys: %w", err)
	}
	if o.windowRates, err = parseInts(*wrates); err != nil {
		return o, fmt.Errorf("-window-rates: %w", err)
	}
	if o.outputs.keys, err = parseInts(*outKeys); err != nil {
		return o, fmt.Errorf("-outputs-keys: %w", err)
	}
	if o.outputs.person, err = parseFractions(*person); err != nil {
		return o, fmt.Errorf("-outputs-person: %w", err)
	}
	if o.windowKeys, err = parseInts(*wkeys); err != nil {
		return o, fmt.Errorf("-window-keys: %w", err)
	}
	if len(o.windowKeys) == 1 {
		for len(o.windowKeys) < len(o.windowRates) {
			o.windowKeys = append(o.windowKeys, o.windowKeys[0])
		}
	}
	if len(o.windowKeys) != len(o.windowRates) {
		return o, fmt.Errorf("-window-keys: %d counts for %d rates, want one or one per rate", len(o.windowKeys), len(o.windowRates))
	}
	for _, m := range strings.Split(*only, ",") {
		m = strings.TrimSpace(m)
		if m == "" {
			continue
		}
		if !slices.Contains(allMeasurements, m) {
			return o, fmt.Errorf("-only: unknown measurement %q, want some of %s", m, strings.Join(allMeasurements, ","))
		}
		o.only = append(o.only, m)
	}
	switch {
	case o.ratio < 0 || o.ratio > 1:
		return o, fmt.Errorf("-non-compliant: %v is not a fraction between 0 and 1", o.ratio)
	case o.rate <= 0 || o.rateKeys < 1 || o.rateLatency < 0:
		return o, errors.New("-rate and -rate-keys must be positive, -rate-latency not negative")
	case o.concurrency < 1 || o.concurrency > config.MaxConcurrency:
		return o, fmt.Errorf("-concurrency: want 1..%d", config.MaxConcurrency)
	case o.org.check() != nil:
		return o, o.org.check()
	case o.outputs.check() != nil:
		return o, o.outputs.check()
	case o.lambdaStarts < 1 || o.lambdaWarm < 1 || o.lambdaKeys < 1 || o.memSample <= 0 || o.evalDuration <= 0:
		return o, errors.New("-lambda-starts, -lambda-warm, -lambda-keys, -memory-sample and -eval-duration must be positive")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "tagwarden-bench:", err)
		return 2
	}
	if o.serveOutputs > 0 {
		if err := serveOutputs(o.serveOutputs, o.outputs.person[0], stdin, stdout); err != nil {
			fmt.Fprintln(stderr, "tagwarden-bench:", err)
			return 1
		}
		return 0
	}
	if o.serve > 0 {
		if err := serveEmulator(o.serve, o.ratio, stdin, stdout); err != nil {
			fmt.Fprintln(stderr, "tagwarden-bench:", err)
			return 1
		}
		return 0
	}
	res := measure(ctx, o, stderr)
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			fmt.Fprintln(stderr, "tagwarden-bench:", err)
			return 1
		}
	} else {
		printTable(stdout, res)
	}
	if len(res.Errors) > 0 {
		return 1
	}
	return 0
}

func runtimeTarget() string { return runtime.GOOS + "/" + runtime.GOARCH }

// measure runs the chosen measurements; a failing one is recorded in
// Errors and the others still run.
func measure(ctx context.Context, o options, progress io.Writer) Results {
	start := time.Now()
	res := Results{Go: runtime.Version(), OS: runtimeTarget(), CPUs: runtime.NumCPU(), Started: start.UTC(), Concurrent: o.concurrency}
	e, err := config.LoadEngine(config.Process{})
	if err != nil {
		res.Errors = append(res.Errors, err.Error())
		return res
	}
	fail := func(what string, err error) {
		res.Errors = append(res.Errors, what+": "+err.Error())
		fmt.Fprintf(progress, "  %s failed: %v\n", what, err)
	}
	step := func(format string, args ...any) { fmt.Fprintf(progress, format+"\n", args...) }
	for _, m := range o.only {
		switch m {
		case "calls":
			for _, n := range o.keys {
				step("calls: sweeping %d keys...", n)
				r, err := measureCalls(ctx, e, n, o.ratio, n <= o.naiveMax, o.concurrency)
				if err != nil {
					fail(fmt.Sprintf("calls at %d keys", n), err)
					continue
				}
				res.Calls = append(res.Calls, r)
			}
		case "rate":
			for _, b := range o.rateBursts {
				step("rate: sweeping %d keys at %g requests per second, burst %d...", o.rateKeys, o.rate, b)
				r, err := measureRate(ctx, e, o.rateKeys, o.ratio, o.rate, b, o.rateLatency, o.concurrency)
				if err != nil {
					fail(fmt.Sprintf("rate-limited sweep (burst %d)", b), err)
					continue
				}
				res.Rate = append(res.Rate, r)
			}
		case "window":
			for i, rps := range o.windowRates {
				n := o.windowKeys[i]
				step("window: sweeping %d keys at %d requests per second against a gateway counting per sliding second...", n, rps)
				r, err := measureWindow(ctx, e, n, o.ratio, float64(rps), o.rateLatency, o.concurrency)
				if err != nil {
					fail(fmt.Sprintf("sweep against the window gateway (%d/s)", rps), err)
					continue
				}
				res.Window = append(res.Window, r)
			}
		case "org":
			r, errs := measureOrg(ctx, e, o.org, o.ratio, o.concurrency, step)
			for _, err := range errs {
				fail("org", err)
			}
			res.Org = &r
		case "outputs":
			r, errs := measureOutputs(ctx, e, o.outputs, o.memSample, o.concurrency, step)
			for _, err := range errs {
				fail("outputs", err)
			}
			res.Outputs = &r
		case "memory":
			type memRun struct {
				n     int
				ratio float64
			}
			var runs []memRun
			for _, n := range o.memKeys {
				runs = append(runs, memRun{n, o.ratio})
			}
			if o.memCompliant && o.ratio > 0 {
				// Every count again with every key compliant: the report
				// stays empty, so what grows is the listing's own state.
				for _, n := range o.memKeys {
					runs = append(runs, memRun{n, 0})
				}
			}
			for _, mr := range runs {
				n := mr.n
				step("memory: sweeping %d keys, %g non-compliant (emulator in a child process)...", n, mr.ratio)
				r, err := measureMemory(ctx, e, n, mr.ratio, o.memSample, o.concurrency)
				if err != nil {
					fail(fmt.Sprintf("memory at %d keys", n), err)
					continue
				}
				res.Memory = append(res.Memory, r)
			}
		case "lambda":
			step("lambda: building the function and starting it under the runtime interface emulator...")
			r, err := measureLambda(o.lambdaStarts, o.lambdaWarm, o.lambdaKeys)
			if err != nil {
				fail("lambda", err)
				continue
			}
			res.Lambda = &r
		case "eval":
			step("eval: evaluating the shipped policies...")
			res.Eval = append(res.Eval,
				measureEval(e, "10% non-compliant", 0.1, o.evalDuration),
				measureEval(e, "all non-compliant", 1, o.evalDuration))
		}
	}
	res.Seconds = time.Since(start).Seconds()
	res.Verdicts = verdicts(res)
	return res
}
