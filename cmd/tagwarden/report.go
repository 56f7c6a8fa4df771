package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweiobs"
	"github.com/tagwarden/tagwarden/cmd/internal/config"
	"github.com/tagwarden/tagwarden/handler"
)

func newReportCmd(g *globals) *cobra.Command {
	var (
		output, html, region, endpoint string
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

Exit status: 0 every key complied, 2 the run had changes, violations or failures, 1 an error.`,
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
				if cerr != nil && region == "" && endpoint == "" {
					return cerr
				}
				if region == "" {
					region = cfg.Region
				}
				if endpoint == "" {
					endpoint = cfg.Outputs.OBSEndpoint
				}
				run, err = loadOBSRun(cmd.Context(), src, region, endpoint)
			} else {
				run, err = loadFileRun(src)
			}
			if err != nil {
				return err
			}
			if html != "" {
				return writeRunPage(g, html, run)
			}
			if output == formatJSON {
				if err := writeJSON(g.stdout, run.report); err != nil {
					return err
				}
				return withCode(exitCodeFor(run.report))
			}
			w := g.stdout
			fmt.Fprintf(w, "Run %s", run.summary.Run)
			if run.summary.Target != "" {
				fmt.Fprintf(w, " of %s", run.summary.Target)
			}
			fmt.Fprintf(w, ": %s, %s", run.summary.Mode, run.summary.State)
			if run.summary.DryRun {
				fmt.Fprint(w, ", dry run")
			}
			fmt.Fprintf(w, "\nFrom %s to %s, from %s\n\n", run.summary.Started.Format("2006-01-02 15:04:05Z07:00"),
				run.summary.Finished.Format("2006-01-02 15:04:05Z07:00"), run.source)
			for _, m := range run.missing {
				fmt.Fprintf(w, "Missing: %s (its keys are not listed)\n", m)
			}
			if err := writeTable(w, run.report, tableOptions{}); err != nil {
				return err
			}
			return withCode(exitCodeFor(run.report))
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", formatTable, "output format: table or json (the run's reports merged into one)")
	cmd.Flags().StringVar(&html, "html", "", "write the run's HTML page to this file instead")
	cmd.Flags().StringVar(&region, "region", "", "Huawei Cloud region of the bucket (default $TAGWARDEN_REGION)")
	cmd.Flags().StringVar(&endpoint, "obs-endpoint", "", "OBS endpoint URL instead of the region's (default $TAGWARDEN_OBS_ENDPOINT)")
	return cmd
}

// loadedRun is a run read back: its reports merged, its summary.
type loadedRun struct {
	report  handler.Report
	summary outputs.Summary
	source  string
	missing []string
}

// readReport reads a report (JSON, gzip-compressed or not) whole.
func readReport(r io.Reader) (handler.Report, error) {
	var rep handler.Report
	var keys []handler.KeyReport
	err := outputs.EachKey(r, func(h handler.Report) error { rep = h; return nil },
		func(kr handler.KeyReport) error { keys = append(keys, kr); return nil })
	if err != nil {
		return rep, err
	}
	rep.Keys = keys
	if rep.Keys == nil {
		rep.Keys = []handler.KeyReport{}
	}
	return rep, nil
}

func loadFileRun(name string) (loadedRun, error) {
	f, err := os.Open(name)
	if err != nil {
		return loadedRun{}, err
	}
	defer f.Close()
	rep, err := readReport(f)
	if err != nil {
		return loadedRun{}, fmt.Errorf("%s: not a tagwarden report: %w", name, err)
	}
	if rep.Mode == "" {
		return loadedRun{}, fmt.Errorf("%s: not a tagwarden report: no mode", name)
	}
	sum, _ := outputs.SummaryOf(rep, rep.Target, false)
	return loadedRun{report: rep, summary: sum, source: name}, nil
}

// loadOBSRun reads a run from OBS: an object (a report or a summary), a
// run's folder (its summary), or a target's folder (its latest sweep).
func loadOBSRun(ctx context.Context, loc, region, endpoint string) (loadedRun, error) {
	bucket, key, err := huaweiobs.ParseLocation(loc)
	if err != nil {
		return loadedRun{}, err
	}
	if region == "" && endpoint == "" {
		return loadedRun{}, fmt.Errorf("reading %s needs the bucket's region: set --region or $%s", loc, config.EnvRegion)
	}
	st, err := huaweiobs.New(huaweiobs.Config{Bucket: bucket, Region: region, Endpoint: endpoint})
	if err != nil {
		return loadedRun{}, err
	}
	get := func(k string) ([]byte, error) {
		rc, err := st.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(io.LimitReader(rc, 64<<20))
	}
	switch {
	case strings.HasSuffix(key, ".json.gz") || (strings.HasSuffix(key, ".json") && !strings.HasSuffix(key, "summary.json") && !strings.HasSuffix(key, "latest.json")):
		rc, err := st.Get(ctx, key)
		if err != nil {
			return loadedRun{}, err
		}
		defer rc.Close()
		rep, err := readReport(rc)
		if err != nil {
			return loadedRun{}, fmt.Errorf("%s: not a tagwarden report: %w", loc, err)
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
		if b, err := get(dir + "latest.json"); err == nil {
			var l outputs.Latest
			if err := json.Unmarshal(b, &l); err != nil {
				return loadedRun{}, fmt.Errorf("%slatest.json: %w", loc, err)
			}
			if l.Sweep == nil {
				return loadedRun{}, fmt.Errorf("%s: the target has no stored sweep yet (its latest run was %s, a %s run)", loc, l.Run, l.Mode)
			}
			_, k, err := huaweiobs.ParseLocation(l.Sweep.Summary)
			if err != nil {
				return loadedRun{}, err
			}
			key = k
		} else if errors.Is(err, outputs.ErrNotFound) {
			key = dir + "summary.json"
		} else {
			return loadedRun{}, err
		}
	}
	b, err := get(key)
	if err != nil {
		return loadedRun{}, fmt.Errorf("%s: %w", st.Where(key), err)
	}
	var ss outputs.StoredSummary
	if err := json.Unmarshal(b, &ss); err != nil || ss.Run == "" {
		return loadedRun{}, fmt.Errorf("%s: not a tagwarden run summary", st.Where(key))
	}
	run := loadedRun{summary: ss.Summary, source: st.Where(key), missing: slices.Clone(ss.Missing)}
	first := true
	for _, r := range ss.Reports {
		_, k, err := huaweiobs.ParseLocation(r)
		if err != nil {
			return loadedRun{}, err
		}
		rc, err := st.Get(ctx, k)
		if err != nil {
			run.missing = append(run.missing, r+": "+err.Error())
			continue
		}
		rep, err := readReport(rc)
		rc.Close()
		if err != nil {
			run.missing = append(run.missing, r+": "+err.Error())
			continue
		}
		if first {
			run.report, first = rep, false
		} else {
			run.report.Merge(rep)
		}
	}
	if first {
		return loadedRun{}, fmt.Errorf("%s: none of the run's %d reports could be read", st.Where(key), len(ss.Reports))
	}
	return run, nil
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
