package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tagwarden/tagwarden/adapters/endpoint"
	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweiobs"
	"github.com/tagwarden/tagwarden/cmd/internal/config"
	"github.com/tagwarden/tagwarden/handler"
)

func newReportCmd(g *globals) *cobra.Command {
	var (
		output, html, region, obsEndpoint string
	)
	cmd := &cobra.Command{
		Use:   "report FILE|obs://BUCKET/PATH",
		Short: "Show a stored run, or write its HTML page",
		Long: `Report shows a run the function stored, as "tagwarden plan" shows a plan: its counts, the
keys with changes, violations or failures. --html FILE writes the run's self-contained HTML page
instead (counts, violating keys per policy, the keys that need a person with what to do).

The source is one of:
  FILE                                          a report the function returned or stored (JSON,
                                                gzip-compressed or not)
  obs://BUCKET/PREFIX/targets/REGION/PROJECT/   a target: its latest sweep (the latest pointer)
  obs://BUCKET/PREFIX/targets/.../runs/RUN/     one run: its summary and every invocation's report
  obs://BUCKET/KEY                              one stored object: a report or a run's summary

OBS is read with the Huawei Cloud SDK's credential chain (HUAWEICLOUD_SDK_AK, _SK,
_SECURITY_TOKEN, or ~/.huaweicloud/credentials), in --region (default $TAGWARDEN_REGION) or at
--obs-endpoint (default $TAGWARDEN_OBS_ENDPOINT).

Exit status, as plan's (with or without --html): 0 every key complies (or was fixed), 2 keys
keep violations, a dry run planned changes, or the run did not finish; 1 a key failed, the run
stopped with an error, some of its reports could not be read, or an error here (a source that
is not a report or summary tagwarden wrote).`,
		Example: `  tagwarden report obs://audit-bucket/tagwarden/targets/ap-southeast-1/0a1b.../
  tagwarden report obs://audit-bucket/tagwarden/targets/ap-southeast-1/0a1b.../ --html run.html
  tagwarden invoke sweep.json > report.json && tagwarden report report.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			src := args[0]
			var (
				run loadedRun
				err error
			)
			if strings.HasPrefix(src, "obs://") {
				cfg, cerr := config.FromEnv(os.Getenv)
				if cerr != nil && region == "" && obsEndpoint == "" {
					return cerr
				}
				if region == "" {
					region = cfg.Region
				}
				from := "--obs-endpoint"
				if obsEndpoint == "" {
					obsEndpoint, from = cfg.Outputs.OBSEndpoint, config.EnvOBSEndpoint
				}
				if obsEndpoint != "" {
					// The variable's error, or the flag's, names it.
					if _, err := endpoint.CheckHost("OBS", obsEndpoint); err != nil {
						return fmt.Errorf("%s=%q: %w", from, endpoint.Shown(obsEndpoint), err)
					}
				}
				run, err = loadOBSRun(cmd.Context(), src, region, obsEndpoint)
			} else {
				run, err = loadFileRun(src)
			}
			if err != nil {
				return err
			}
			if html != "" {
				if err := writeRunPage(g, html, run); err != nil {
					return err
				}
				return runExit(run)
			}
			if output == formatJSON {
				if err := writeJSON(g.stdout, run.report); err != nil {
					return err
				}
				return runExit(run)
			}
			w := g.stdout
			fmt.Fprintf(w, "Run %s", printable(run.summary.Run))
			if run.summary.Target != "" {
				fmt.Fprintf(w, " of %s", printable(run.summary.Target))
			}
			fmt.Fprintf(w, ": %s, %s", printable(string(run.summary.Mode)), printable(run.summary.State))
			if run.summary.DryRun {
				fmt.Fprint(w, ", dry run")
			}
			fmt.Fprintf(w, "\nFrom %s to %s, from %s\n\n", run.summary.Started.Format("2006-01-02 15:04:05Z07:00"),
				run.summary.Finished.Format("2006-01-02 15:04:05Z07:00"), printable(run.source))
			for _, m := range run.missing {
				fmt.Fprintf(w, "Missing: %s (its keys are not listed)\n", printable(m))
			}
			if err := writeTable(w, run.report, tableOptions{}); err != nil {
				return err
			}
			return runExit(run)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", formatTable, "output format: table or json (the run's reports merged into one)")
	cmd.Flags().StringVar(&html, "html", "", "write the run's HTML page to this file instead")
	cmd.Flags().StringVar(&region, "region", "", "Huawei Cloud region of the bucket (default $TAGWARDEN_REGION)")
	cmd.Flags().StringVar(&obsEndpoint, "obs-endpoint", "", "OBS endpoint URL instead of the region's (default $TAGWARDEN_OBS_ENDPOINT)")
	return cmd
}

// loadedRun is a run read back: its reports merged, its summary.
type loadedRun struct {
	report  handler.Report
	summary outputs.Summary
	source  string
	// missing are the run's reports that could not be read (those the
	// function could not read at the run's end, then those this command
	// could not), each with why.
	missing []string
}

// Bounds of what report reads. A report is streamed key by key
// (outputs.EachKey, itself bounded at outputs.MaxReportBytes decompressed
// and outputs.MaxEntryBytes per entry, compressed or not). A summary or a
// latest pointer is read whole, capped at maxSmallJSON.
const (
	// maxSmallJSON bounds a summary or a latest pointer (the function
	// reads them back within the same bound).
	maxSmallJSON = 8 << 20
	// checkedWhole is the size under which a report is checked whole for
	// a report's fields (a summary is never larger).
	checkedWhole = 8 << 20
)

// sizeText is a bound as a person reads it: 8 MiB, 1 GiB.
func sizeText(n int64) string {
	for _, u := range []struct {
		unit string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.unit)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// knownMode reports whether m is a mode a tagwarden report has.
func knownMode(m handler.Mode) bool {
	switch m {
	case handler.ModeSweep, handler.ModeKeys, handler.ModeIgnore, handler.ModeFanout:
		return true
	}
	return false
}

// readReport reads a report (JSON, gzip-compressed or not) whole; name
// names it in the errors. Anything but a report tagwarden wrote is an
// error that says so: JSON of another shape, a run's summary, a report
// without a known mode or its lists, one past outputs.EachKey's bounds.
func readReport(name string, r io.Reader) (handler.Report, error) {
	notReport := func(err error) error { return fmt.Errorf("%s: not a tagwarden report: %w", name, err) }
	br := bufio.NewReaderSize(r, 64<<10)
	var in io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return handler.Report{}, notReport(fmt.Errorf("gzip: %w", err))
		}
		defer zr.Close()
		in = zr // EachKey bounds what it reads
	}
	head, err := io.ReadAll(io.LimitReader(in, checkedWhole+1))
	if err != nil {
		return handler.Report{}, notReport(err)
	}
	if len(head) <= checkedWhole {
		if err := checkReportFields(head); err != nil {
			if errors.Is(err, errSummary) {
				return handler.Report{}, fmt.Errorf("%s: %w", name, err)
			}
			return handler.Report{}, notReport(err)
		}
	}
	var (
		rep  handler.Report
		keys []handler.KeyReport
	)
	err = outputs.EachKey(io.MultiReader(bytes.NewReader(head), in), func(h handler.Report) error { rep = h; return nil },
		func(kr handler.KeyReport) error {
			if kr.KeyID == "" {
				return fmt.Errorf("key entry %d has no key_id", len(keys)+1)
			}
			keys = append(keys, kr)
			return nil
		})
	switch {
	case err != nil:
		return rep, notReport(err)
	case rep.Mode == "":
		return rep, notReport(errors.New("no mode"))
	case !knownMode(rep.Mode):
		return rep, notReport(fmt.Errorf("unknown mode %q", printable(clip(string(rep.Mode), 64))))
	}
	rep.Keys = keys
	if rep.Keys == nil {
		rep.Keys = []handler.KeyReport{}
	}
	return rep, nil
}

// errSummary: a report was asked for, and a run's summary was given.
var errSummary = errors.New("a run's summary, not a report: give its OBS location (tagwarden report obs://BUCKET/.../runs/RUN/summary.json), which reads the reports it names")

// checkReportFields checks that b, a whole JSON document, is an object
// with a report's fields: a mode, the keys list and the counts.
func checkReportFields(b []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil || top == nil {
		return errors.New("not a JSON object")
	}
	has := func(f string) bool { _, ok := top[f]; return ok }
	switch {
	case !has("keys") && (has("reports") || has("counts")):
		return errSummary
	case !has("mode"):
		return errors.New("no mode")
	case !has("keys"):
		return errors.New("no keys list")
	case !has("scanned"):
		return errors.New("no counts (scanned)")
	}
	return nil
}

func loadFileRun(name string) (loadedRun, error) {
	f, err := os.Open(name)
	if err != nil {
		return loadedRun{}, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return loadedRun{}, fmt.Errorf("%s is a folder: give a report file, or an obs:// location", name)
	}
	rep, err := readReport(name, f)
	if err != nil {
		return loadedRun{}, err
	}
	sum, _ := outputs.SummaryOf(rep, rep.Target, false)
	return loadedRun{report: rep, summary: sum, source: name}, nil
}

// loadOBSRun reads a run from OBS: an object (a report or a summary), a
// run's folder (its summary), or a target's folder (its latest sweep).
// It reads nothing outside loc's bucket: a summary's report in another
// place is listed as missing.
func loadOBSRun(ctx context.Context, loc, region, obsEndpoint string) (loadedRun, error) {
	bucket, key, err := huaweiobs.ParseLocation(loc)
	if err != nil {
		return loadedRun{}, err
	}
	if region == "" && obsEndpoint == "" {
		return loadedRun{}, fmt.Errorf("reading %s needs the bucket's region: set --region or $%s", loc, config.EnvRegion)
	}
	st, err := huaweiobs.New(huaweiobs.Config{Bucket: bucket, Region: region, Endpoint: obsEndpoint})
	if err != nil {
		return loadedRun{}, err
	}
	// small reads a summary or a latest pointer whole, within maxSmallJSON.
	small := func(k, what string) ([]byte, error) {
		rc, err := st.Get(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", st.Where(k), err)
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, maxSmallJSON+1))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", st.Where(k), err)
		}
		if len(b) > maxSmallJSON {
			return nil, fmt.Errorf("%s: larger than %s: not a %s tagwarden wrote", st.Where(k), sizeText(maxSmallJSON), what)
		}
		return b, nil
	}
	// inBucket is the key of a location the stored objects name, when it
	// is in the bucket read.
	inBucket := func(l string) (string, error) {
		b, k, err := huaweiobs.ParseLocation(l)
		switch {
		case err != nil:
			return "", errors.New("not an obs:// location")
		case b != bucket:
			return "", fmt.Errorf("in another bucket than %s: not read", bucket)
		case k == "":
			return "", errors.New("names no object")
		}
		return k, nil
	}
	switch {
	case strings.HasSuffix(key, ".json.gz") || (strings.HasSuffix(key, ".json") && !strings.HasSuffix(key, "summary.json") && !strings.HasSuffix(key, "latest.json")):
		rc, err := st.Get(ctx, key)
		if err != nil {
			return loadedRun{}, err
		}
		defer rc.Close()
		rep, err := readReport(loc, rc)
		if err != nil {
			return loadedRun{}, err
		}
		sum, _ := outputs.SummaryOf(rep, rep.Target, false)
		return loadedRun{report: rep, summary: sum, source: loc}, nil
	case strings.HasSuffix(key, "summary.json"):
	case strings.HasSuffix(key, "latest.json"):
		key = strings.TrimSuffix(key, "latest.json")
		fallthrough
	default:
		dir := key
		if dir != "" && !strings.HasSuffix(dir, "/") {
			dir += "/"
		}
		if b, err := small(dir+"latest.json", "latest pointer"); err == nil {
			where := st.Where(dir + "latest.json")
			var l outputs.Latest
			if err := json.Unmarshal(b, &l); err != nil {
				return loadedRun{}, fmt.Errorf("%s: not a tagwarden latest pointer: %v", where, err)
			}
			if l.Run == "" || !knownMode(l.Mode) {
				return loadedRun{}, fmt.Errorf("%s: not a tagwarden latest pointer: no run or mode", where)
			}
			if l.Sweep == nil {
				return loadedRun{}, fmt.Errorf("%s: the target has no stored sweep yet (its latest run was %s, a %s run)", loc,
					printable(clip(l.Run, 128)), printable(string(l.Mode)))
			}
			k, err := inBucket(l.Sweep.Summary)
			if err != nil {
				return loadedRun{}, fmt.Errorf("%s: its sweep's summary %q: %v", where, printable(clip(l.Sweep.Summary, 256)), err)
			}
			key = k
		} else if errors.Is(err, outputs.ErrNotFound) {
			key = dir + "summary.json"
		} else {
			return loadedRun{}, err
		}
	}
	b, err := small(key, "run summary")
	if err != nil {
		return loadedRun{}, err
	}
	ss, err := parseSummary(b)
	if err != nil {
		return loadedRun{}, fmt.Errorf("%s: not a tagwarden run summary: %w", st.Where(key), err)
	}
	run := loadedRun{summary: ss.Summary, source: st.Where(key), missing: slices.Clone(ss.Missing)}
	first := true
	seen := map[string]bool{}
	var last handler.Report
	for _, r := range ss.Reports {
		shown := printable(clip(r, 256))
		if seen[r] {
			run.missing = append(run.missing, shown+": listed twice in the summary: read once")
			continue
		}
		seen[r] = true
		k, err := inBucket(r)
		if err != nil {
			run.missing = append(run.missing, shown+": "+err.Error())
			continue
		}
		rc, err := st.Get(ctx, k)
		if err != nil {
			run.missing = append(run.missing, shown+": "+err.Error())
			continue
		}
		rep, err := readReport(shown, rc)
		rc.Close()
		if err != nil {
			run.missing = append(run.missing, err.Error())
			continue
		}
		if rep.Run != ss.Run || ss.Target != "" && rep.Target != "" && rep.Target != ss.Target {
			run.missing = append(run.missing, fmt.Sprintf("%s: the report of run %q of %q, not of this run: not read", shown, printable(clip(rep.Run, 64)), printable(clip(rep.Target, 64))))
			continue
		}
		last = rep
		if first {
			run.report, first = rep, false
		} else {
			run.report.Merge(rep)
		}
	}
	if !first {
		// The run's state is its last link's: where it ended, why, and
		// the totals it carried.
		run.report.Link, run.report.Reason, run.report.Totals, run.report.Chain = last.Link, last.Reason, last.Totals, last.Chain
	}
	if first {
		return loadedRun{}, fmt.Errorf("%s: none of the run's %d reports could be read: %s", st.Where(key), len(ss.Reports), strings.Join(run.missing, "; "))
	}
	return run, nil
}

// parseSummary decodes a run's summary, refusing what is not one: no run,
// no known mode, no reports list.
func parseSummary(b []byte) (outputs.StoredSummary, error) {
	var ss outputs.StoredSummary
	if err := json.Unmarshal(b, &ss); err != nil {
		return ss, errors.New("not a JSON object of a summary's fields")
	}
	switch {
	case ss.Run == "":
		return ss, errors.New("no run")
	case ss.Mode == "":
		return ss, errors.New("no mode")
	case !knownMode(ss.Mode):
		return ss, fmt.Errorf("unknown mode %q", printable(clip(string(ss.Mode), 64)))
	case len(ss.Reports) == 0:
		return ss, errors.New("no reports list")
	}
	return ss, nil
}

// runExit is the exit status of a run shown, as plan's (exitCodeFor): 1
// when a key failed, when the run stopped with an error, or when some of
// its reports could not be read (the keys shown are not all the run's);
// 2 when keys keep violations, a dry run planned changes, or the run did
// not finish; 0 otherwise.
func runExit(run loadedRun) error {
	switch {
	case run.report.Error != "":
		return &exitCodeError{code: exitError, err: fmt.Errorf("the run stopped with an error (%s): %s",
			printable(string(run.report.ErrorKind)), printable(clip(run.report.Error, 1024)))}
	case len(run.missing) > 0:
		return &exitCodeError{code: exitError, err: fmt.Errorf("%d of the run's reports could not be read: the keys shown are not all the run's", len(run.missing))}
	}
	return withCode(exitCodeFor(run.report))
}

// writeRunPage writes a run's page to name.
func writeRunPage(g *globals, name string, run loadedRun) error {
	_, findings := outputs.SummaryOf(run.report, run.summary.Target, false)
	sum := run.summary
	sum.Findings = 0
	for _, f := range findings {
		if f.NeedsPerson() {
			sum.Findings++
		}
	}
	if err := writePage(name, sum, findings); err != nil {
		return err
	}
	fmt.Fprintf(g.stderr, "Wrote the page of run %s to %s\n", sum.Run, name)
	return nil
}

// writePage writes a page to a file, readable by its owner only (it holds
// tag values).
func writePage(name string, sum outputs.Summary, findings []outputs.Finding) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = outputs.WritePage(f, sum, slices.Values(findings))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
