package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/outputs/local"
	"github.com/tagwarden/tagwarden/cmd/internal/config"
	"github.com/tagwarden/tagwarden/handler"
)

// Demo settings: a fixed seed, so that every demo shows the same keys.
const (
	demoKeys      = 300
	demoSeed      = 20261129
	demoRateLimit = 1000 // requests per second: the emulator has no limit
	demoMaxRows   = 20
)

func newDemoCmd(g *globals) *cobra.Command {
	var (
		all     bool
		n       int
		output  string
		htmlDir string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Try tagwarden on sample keys in an embedded emulator: no cloud, no credentials",
		Long: `Demo starts the embedded KMS emulator on 127.0.0.1, seeded with a few hundred sample keys
(mixed specs, states, aliases and tag mistakes), and runs the shipped policies against it
through the same handler and KMS adapter the function uses:

  1. plan: what the policies would change (a dry run, nothing written)
  2. apply: the changes, written through BatchCreateKmsTags
  3. plan again: nothing left to change
  4. two regions: a second emulator (cn-north-4) with more sample keys, and one sweep over
     both as the function runs it: a fan-out to each target, each target's sweep continuing
     itself invocation by invocation (asynchronous invocation is simulated in this process),
     and the run's state as "tagwarden runs" reads it from the logs
  5. a policy change, previewed: the shipped policies plus one more required tag
     (data-class), compared with the shipped ones on the keys of step 1, as
     "tagwarden plan --policies NEW --compare OLD" does before the change is merged
  6. what reaches people: the runs of step 4 end with their outputs on local emulators of
     SMN, Cloud Eye and OBS (through the official SDKs): the notification each run published,
     the metrics sent, and each run's HTML page, fetched from OBS and written to --html-dir
     (default: a new folder in the temporary folder, named on the output)

It takes a few seconds.`,
		Example: `  tagwarden demo
  tagwarden demo --all           # every key of the plan, not the first 20
  tagwarden demo --output json   # the reports, as the function returns them, and the preview`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			if n < 1 {
				return fmt.Errorf("--keys: %d is not a positive number", n)
			}
			return runDemo(cmd, g, n, all, output, htmlDir)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "show every key of the plan, not the first 20")
	cmd.Flags().IntVar(&n, "keys", demoKeys, "number of sample keys")
	cmd.Flags().StringVarP(&output, "output", "o", formatTable, "output format: table or json (the three reports)")
	cmd.Flags().StringVar(&htmlDir, "html-dir", "", "folder the runs' HTML pages are written to (default a new folder in $TMPDIR, named on the output)")
	return cmd
}

func runDemo(cmd *cobra.Command, g *globals, n int, all bool, output, htmlDir string) error {
	ctx := cmd.Context()
	start := time.Now()
	srv, err := emulator.New(emulator.Options{
		Projects:  []string{emulator.DefaultProject},
		AccessKey: emulator.DefaultAK,
		SecretKey: emulator.DefaultSK,
		Seed:      emulator.SampleKeys(n, demoSeed),
	})
	if err != nil {
		return fmt.Errorf("demo emulator: %w", err)
	}
	url, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo emulator: %w", err)
	}
	defer srv.Close()

	cfg := config.Default()
	cfg.Endpoint = url
	cfg.ProjectID = emulator.DefaultProject
	cfg.RateLimit = demoRateLimit
	cfg.Handler.Concurrency = 8
	engine, err := loadPolicies(cfg)
	if err != nil {
		return err
	}
	store, err := newStore(cfg, engine, &huaweikms.Credentials{AccessKey: emulator.DefaultAK, SecretKey: emulator.DefaultSK}, g)
	if err != nil {
		return err
	}
	run := func(dry bool) handler.Report {
		bar := startProgress(g.stderr, g.wantProgress(output), "keys checked")
		defer bar.Stop()
		c := cfg.Handler
		c.OnKey = bar.hook()
		return runAll(ctx, engine, c, g, store, handler.Request{Mode: handler.ModeSweep, DryRun: &dry, Trigger: "demo"})
	}
	plan := run(true)
	applied := run(false)
	replan := run(true)
	stats := srv.Stats()
	svc, err := local.Start(local.Options{})
	if err != nil {
		return fmt.Errorf("demo outputs: %w", err)
	}
	defer svc.Close()
	org, err := runDemoOrg(ctx, cfg, engine, url, n/2, svc)
	if err != nil {
		return fmt.Errorf("demo, two regions: %w", err)
	}
	pages, dir, err := writeDemoPages(svc, htmlDir)
	if err != nil {
		return fmt.Errorf("demo, the runs' pages: %w", err)
	}
	if output == formatJSON && len(pages) > 0 {
		fmt.Fprintf(g.stderr, "Wrote the runs' HTML pages to %s\n", dir)
	}
	before := srv.Stats()
	change, err := runDemoPreview(ctx, g, cfg, store)
	if err != nil {
		return fmt.Errorf("demo, policy change preview: %w", err)
	}
	previewStats := srv.Stats()

	if output == formatJSON {
		if err := writeJSON(g.stdout, map[string]any{"plan": plan, "apply": applied, "replan": replan, "organisation": org, "preview": change}); err != nil {
			return err
		}
	} else {
		w := g.stdout
		opt := tableOptions{MaxKeys: demoMaxRows}
		if all {
			opt.MaxKeys = 0
		}
		// The first rows show a bit of everything: violations, failures,
		// deletes, creates, then a couple of skipped keys.
		fmt.Fprintf(w, "tagwarden demo: %d sample keys in a KMS emulator at %s, the shipped policies\n\n", n, url)
		fmt.Fprintln(w, "== 1. plan (dry run: nothing is written)")
		shown := plan
		if opt.MaxKeys > 0 {
			shown.Keys = sampleKeys(plan.Keys, opt.MaxKeys)
		}
		if err := writeTable(w, shown, opt); err != nil {
			return err
		}
		fmt.Fprintln(w, "\n== 2. apply")
		fmt.Fprintln(w, summary(applied))
		fmt.Fprintf(w, "   %d tag writes (BatchCreateKmsTags) accepted by the emulator, %d rejected\n", stats.Writes, stats.RejectedWrites)
		fmt.Fprintln(w, "\n== 3. plan again")
		fmt.Fprintln(w, summary(replan))
		if c := countReport(replan); c.planned == 0 {
			fmt.Fprintln(w, "   nothing left to change.")
			if c.violating > 0 {
				fmt.Fprintf(w, "   %d keys keep violations no tag change fixes (report-only policies, conflicts):\n\n", c.violating)
				opt.NoSummary = true
				if err := writeTable(w, onlyViolations(replan), opt); err != nil {
					return err
				}
			}
		}
		fmt.Fprintf(w, "\n== 4. two regions, one sweep: %s/%s (the keys above) and %s/%s (%d more keys)\n", demoRegion, emulator.DefaultProject, demoRegion2, demoProject2, n/2)
		if err := writeDemoOrg(g, org); err != nil {
			return err
		}
		fmt.Fprintf(w, "\n== 5. a policy change, previewed before it is merged: the shipped policies + %s (require %s, default %s)\n",
			demoNewPolicy, demoNewTag, demoNewDefault)
		fmt.Fprintln(w, "   tagwarden plan --policies NEW --compare OLD: one listing, each key evaluated with both policy sets")
		fmt.Fprintf(w, "   (%d KMS calls, %d writes)\n\n", calls(previewStats)-calls(before), previewStats.Writes-before.Writes)
		if err := writePreviewTable(w, change, opt.MaxKeys); err != nil {
			return err
		}
		fmt.Fprintln(w, "\n== 6. what reaches people: the outputs of step 4's runs (local SMN, Cloud Eye and OBS, through the SDKs)")
		writeDemoOutputs(w, org, pages, all)
		fmt.Fprintf(w, "\nDone in %s. Next: tagwarden plan --help, tagwarden validate, docs/cli.md, docs/outputs.md.\n", time.Since(start).Round(10*time.Millisecond))
	}
	if !org.done() {
		return &exitCodeError{code: exitError, err: fmt.Errorf("demo: the sweep over two regions did not finish")}
	}
	if c := countReport(replan); c.planned > 0 || replan.Failed > 0 || applied.Failed > 0 {
		return &exitCodeError{code: exitError, err: fmt.Errorf("demo: the second plan is not empty (%d keys to change, %d failed)", c.planned, replan.Failed+applied.Failed)}
	}
	return nil
}

// calls counts the KMS calls an emulator has answered.
func calls(s emulator.Stats) int {
	n := 0
	for _, c := range s.Calls {
		n += c
	}
	return n
}

// onlyViolations keeps the keys of a report that have violations, without
// its summary fields changing.
func onlyViolations(r handler.Report) handler.Report {
	var keys []handler.KeyReport
	for _, k := range r.Keys {
		if hasUnremediated(k) {
			keys = append(keys, k)
		}
	}
	r.Keys = keys
	return r
}

// sampleKeys reorders keys so that the first n show a bit of everything:
// violations and failures, then changes with deletes, other changes, and
// two skipped keys; the rest follow. Each group keeps its order.
func sampleKeys(keys []handler.KeyReport, n int) []handler.KeyReport {
	rank := func(k handler.KeyReport) int {
		switch {
		case k.Outcome == handler.OutcomeViolation || k.Outcome == handler.OutcomeFailed:
			return 0
		case k.Outcome == handler.OutcomeSkipped:
			return 3
		case len(k.Delete) > 0:
			return 1
		}
		return 2
	}
	groups := make([][]handler.KeyReport, 4)
	for _, k := range keys {
		r := rank(k)
		groups[r] = append(groups[r], k)
	}
	skipped := min(2, len(groups[3]))
	var head, tail []handler.KeyReport
	for r, g := range groups {
		room := n - skipped - len(head)
		if r == 3 {
			room = n - len(head)
		}
		take := max(0, min(room, len(g)))
		if r == 1 {
			// Leave room for plain changes too.
			take = min(take, max(1, (n-skipped)/3))
		}
		head = append(head, g[:take]...)
		tail = append(tail, g[take:]...)
	}
	return append(head, tail...)
}

// demoMessageLines bounds the lines of a notification the demo prints.
const demoMessageLines = 24

// writeDemoPages copies each run's page from the local OBS into dir, and
// returns their paths and the folder. With dir "", the folder is a new
// one in the temporary folder (os.MkdirTemp: never one another user made
// in advance), made only when there is a page to write.
func writeDemoPages(svc *local.Services, dir string) (paths []string, _ string, _ error) {
	for _, k := range svc.OBS.Keys(svc.Bucket) {
		if !strings.HasSuffix(k, "/report.html") {
			continue
		}
		b, _, ok := svc.OBS.Object(svc.Bucket, k)
		if !ok {
			continue
		}
		switch {
		case dir == "":
			d, err := os.MkdirTemp("", "tagwarden-demo-pages-")
			if err != nil {
				return nil, "", err
			}
			dir = d
		case len(paths) == 0:
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, "", err
			}
		}
		// targets/<region>/<project>/runs/<run>/report.html -> <region>_<project>.html
		name := k
		if i := strings.Index(k, "targets/"); i >= 0 {
			name = k[i+len("targets/"):]
		}
		if i := strings.Index(name, "/runs/"); i >= 0 {
			name = name[:i]
		}
		path := filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".html")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, "", err
		}
		paths = append(paths, path)
	}
	return paths, dir, nil
}

// writeDemoOutputs prints the notifications the runs published (cut to a
// few lines each unless all), the metrics sent, and the pages' paths.
func writeDemoOutputs(w io.Writer, org demoOrg, pages []string, all bool) {
	fmt.Fprintf(w, "   %d %s published (one per run, for all its targets, only when a key needs a person), %d metric data points sent (per target)\n",
		len(org.Messages), plural(len(org.Messages), "notification", "notifications"), org.Metrics)
	for _, m := range org.Messages {
		fmt.Fprintf(w, "\n   Subject: %s\n", printable(m.Subject))
		for _, a := range m.Attributes {
			fmt.Fprintf(w, "   Attribute %s: %s\n", a.Name, strings.Join(a.Values, ", "))
		}
		lines := strings.Split(strings.TrimRight(m.Body, "\n"), "\n")
		shown := lines
		if !all && len(lines) > demoMessageLines {
			shown = lines[:demoMessageLines]
		}
		for _, l := range shown {
			fmt.Fprintf(w, "   | %s\n", printable(l))
		}
		if len(shown) < len(lines) {
			fmt.Fprintf(w, "   | ... %d more lines (--all shows them)\n", len(lines)-len(shown))
		}
	}
	fmt.Fprintln(w)
	for _, p := range pages {
		fmt.Fprintf(w, "   HTML page written: %s (open it in a browser: it needs no server)\n", p)
	}
}
