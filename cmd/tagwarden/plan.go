package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// newPlanCmd builds "plan" (apply false: a dry run that never writes) or
// "apply".
func newPlanCmd(g *globals, apply bool) *cobra.Command {
	var (
		t      target
		keys   []string
		output string
	)
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show the tag changes the policies call for, without writing",
		Long: `Plan evaluates every key of the project (or the keys given with --key) against the
policies and shows the tags it would create and delete, and the violations that no change
fixes. It never writes.

Credentials come from the Huawei Cloud SDK's chain: HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK,
HUAWEICLOUD_SDK_SECURITY_TOKEN and HUAWEICLOUD_SDK_PROJECT_ID, or a profile in
~/.huaweicloud/credentials. Unset flags fall back to the function's TAGWARDEN_* variables.

Exit status: 0 every key complies, 2 changes are needed or violations were found, 1 an error
(including a key that could not be read).`,
		Example: `  # Every key of a project
  tagwarden plan --region ap-southeast-1

  # Two keys, as JSON (the report the function returns)
  tagwarden plan --region ap-southeast-1 --key 0d0466b0-e727-4d9c-b35d-f84bb474a37f --key 2f9c... --output json

  # Against a local emulator, with your own policies
  tagwarden plan --endpoint http://127.0.0.1:8443 --project-id 0b1f2e3d4c5b6a79887766554433221a --policies ./policies`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			cfg, err := t.config(cmd)
			if err != nil {
				return err
			}
			dry := !apply
			cfg.Handler.DryRun = dry
			engine, err := loadPolicies(cfg)
			if err != nil {
				return err
			}
			// Credentials first: a local check, and the error to show
			// when both they and the network are missing.
			store, err := newStore(cfg, engine, nil, g)
			if err != nil {
				return err
			}
			if err := checkReachable(cmd.Context(), cfg); err != nil {
				return err
			}
			req := handler.Request{Mode: handler.ModeSweep, DryRun: &dry, Trigger: "cli"}
			if len(keys) > 0 {
				req.Mode, req.KeyIDs = handler.ModeKeys, keys
			}
			bar := startProgress(g.stderr, g.wantProgress(output) && req.Mode == handler.ModeSweep, "keys checked")
			cfg.Handler.OnKey = bar.hook()
			rep := runAll(cmd.Context(), engine, cfg.Handler, g, store, req)
			bar.Stop()
			err = finishReport(cmd.Context(), g, output, rep, false)
			// Expired and stale exemption entries: after the table, or on
			// stderr beside JSON, which is the function's report as is.
			notes := g.stdout
			if output == formatJSON {
				notes = g.stderr
			}
			for _, n := range exemptionNotes(engine, rep, time.Now()) {
				fmt.Fprintln(notes, n)
			}
			return err
		},
	}
	if apply {
		cmd.Use = "apply"
		cmd.Short = "Apply the tag changes the policies call for"
		cmd.Long = `Apply evaluates every key of the project (or the keys given with --key) against the
policies and writes the tag changes (BatchCreateKmsTags), then shows what it changed and the
violations that remain. Run "tagwarden plan" first to see what it will do.

Credentials come from the Huawei Cloud SDK's chain: HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK,
HUAWEICLOUD_SDK_SECURITY_TOKEN and HUAWEICLOUD_SDK_PROJECT_ID, or a profile in
~/.huaweicloud/credentials. Unset flags fall back to the function's TAGWARDEN_* variables.

Exit status: 0 every key complies now, 2 violations remain that no change fixes, 1 an error
(including a key that failed).`
		cmd.Example = `  # Fix every key of a project
  tagwarden apply --region ap-southeast-1

  # One key, slowly, with your own policies
  tagwarden apply --region cn-north-4 --key 0d0466b0-e727-4d9c-b35d-f84bb474a37f --rate-limit 5 --policies ./policies`
	}
	t.addFlags(cmd.Flags())
	cmd.Flags().StringSliceVar(&keys, "key", nil, "evaluate only these key ids (repeatable, or comma-separated); default every key")
	cmd.Flags().StringVarP(&output, "output", "o", formatTable, "output format: table or json (the report the function returns)")
	return cmd
}

// writeReport prints a report in the chosen format.
func writeReport(g *globals, format string, rep handler.Report, opt tableOptions) error {
	if format == formatJSON {
		return writeJSON(g.stdout, rep)
	}
	return writeTable(g.stdout, rep, opt)
}

// runAll handles req and, while the handler hands back a continuation,
// resumes it, merging the reports: a terminal has no deadline to respect.
func runAll(ctx context.Context, engine *policy.Engine, cfg handler.Config, g *globals, store handler.KeyStore, req handler.Request) handler.Report {
	h := handler.New(engine, cfg, g.logger())
	ctx = handler.WithRequestID(ctx, uuid.NewString())
	rep := h.Handle(ctx, store, req)
	// Resume only a sweep that stopped cleanly and made progress: an error
	// (denied access, a failed listing) would stop the next one the same way.
	for rep.Continuation != "" && rep.Error == "" && ctx.Err() == nil {
		req.Continuation = rep.Continuation
		next := h.Handle(ctx, store, req)
		stuck := next.Continuation == req.Continuation && next.Scanned == 0
		rep.Merge(next)
		if stuck {
			break
		}
	}
	return rep
}

// finishReport prints a report and returns the exit status it calls for:
// the error of a request that failed as a whole or was interrupted, else
// exitCodeFor. The report is printed whatever its error when resumable
// (invoke: it is the function's answer, and its continuation is what the
// user passes back); plan and apply print only the error of a request that
// failed before scanning anything, unless the output is JSON.
func finishReport(ctx context.Context, g *globals, output string, rep handler.Report, resumable bool) error {
	if rep.Error == "" || rep.Scanned > 0 || output == formatJSON || resumable {
		if err := writeReport(g, output, rep, tableOptions{}); err != nil {
			return err
		}
	}
	// Interrupted by the user: whatever error the handler reports then
	// (cancelled before any key was decided, or a call cut short), that is
	// the account to give.
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %d keys scanned before the stop, the rest were not", rep.Scanned)
	}
	if err := reportError(rep); err != nil {
		return err
	}
	return withCode(exitCodeFor(rep))
}

// reportError turns the error of a request that failed as a whole into a
// short message chosen by its kind (Report.ErrorKind), with what to check
// for the usual causes, and the handler's account on a second line.
func reportError(rep handler.Report) error {
	if rep.Error == "" {
		return nil
	}
	detail := rep.Error
	switch rep.ErrorKind {
	case handler.KindDenied:
		return fmt.Errorf("access denied: check HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (and the security token), that the project id belongs to the region, and the KMS permissions\n  detail: %s", detail)
	case handler.KindListing:
		return fmt.Errorf("listing the keys failed after the retries: if KMS throttled the calls, lower --rate-limit or --concurrency\n  detail: %s", detail)
	case handler.KindInvalidContinuation:
		return fmt.Errorf("invalid continuation: pass the continuation of a report back unchanged, with the same action and dry_run\n  detail: %s", detail)
	case handler.KindInternal:
		return fmt.Errorf("internal error (a bug in tagwarden): %s", detail)
	}
	return errors.New(detail)
}
