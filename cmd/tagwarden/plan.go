package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/cmd/internal/config"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// newPlanCmd builds "plan" (apply false: a dry run that never writes) or
// "apply".
func newPlanCmd(g *globals, apply bool) *cobra.Command {
	var (
		t           target
		keys        []string
		output      string
		out         string
		compare     string
		html        string
		autoApprove bool
	)
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show the tag changes the policies call for, without writing",
		Long: `Plan evaluates every key of the project (or the keys given with --key) against the
policies and shows the tags it would create and delete, and the violations that no change
fixes. It never writes.

--out FILE saves the plan: for each key with changes, the tags it read and the changes, with
the policy set's digest and the target. "tagwarden show FILE" prints it, "tagwarden apply FILE"
applies exactly that plan. The file is written readable by you only: it holds tag values.

--compare OLD_DIR previews a policy change: the keys are listed once and each is evaluated with
the policies in force (--policies, else $TAGWARDEN_POLICIES, else the shipped ones) and with
those of OLD_DIR; it shows the keys whose planned changes differ, their new violations and
those resolved, and a summary line. --output markdown writes it for a pull request comment.
It reads only, with the same calls as one plan.

Credentials come from the Huawei Cloud SDK's chain: HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK,
HUAWEICLOUD_SDK_SECURITY_TOKEN and HUAWEICLOUD_SDK_PROJECT_ID, or a profile in
~/.huaweicloud/credentials. Unset flags fall back to the function's TAGWARDEN_* variables.

Exit status: 0 every key complies, 2 changes are needed or violations were found, 1 an error
(including a key that could not be read). With --compare: 0 the policy change changes
nothing, 2 it changes some key's plan or violations, 1 an error.`,
		Example: `  # Every key of a project
  tagwarden plan --region ap-southeast-1

  # Two keys, as JSON (the report the function returns)
  tagwarden plan --region ap-southeast-1 --key 0d0466b0-e727-4d9c-b35d-f84bb474a37f --key 2f9c... --output json

  # Save the plan, review it, apply exactly it
  tagwarden plan --region ap-southeast-1 --out plan.json
  tagwarden show plan.json
  tagwarden apply --region ap-southeast-1 plan.json

  # What a policy change would do, for the pull request that makes it
  git worktree add /tmp/main main
  tagwarden plan --region ap-southeast-1 --policies ./policies --compare /tmp/main/policies --output markdown

  # Against a local emulator, with your own policies
  tagwarden plan --endpoint http://127.0.0.1:8443 --project-id 0b1f2e3d4c5b6a79887766554433221a --policies ./policies`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			formats := []string{formatTable, formatJSON}
			switch {
			case compare != "":
				formats = append(formats, formatMarkdown)
			case output == formatMarkdown:
				return errors.New("--output markdown is for the policy-change preview: add --compare OLD_DIR")
			}
			if err := checkFormatOf(output, formats...); err != nil {
				return err
			}
			if out != "" && compare != "" {
				return errors.New("--out saves a plan and --compare previews a policy change: use one at a time")
			}
			if html != "" && compare != "" {
				return errors.New("--html writes the page of a plan, and --compare previews a policy change: use one at a time")
			}
			if apply && len(args) == 1 {
				if len(keys) > 0 {
					return errors.New("--key: a saved plan applies the keys it holds; plan again with --key to choose keys")
				}
				return runApplyFile(cmd, g, &t, args[0], output)
			}
			cfg, err := t.config(cmd)
			if err != nil {
				return err
			}
			// Before any call: nobody would answer the question.
			if apply && !autoApprove && !g.isInteractive() {
				return errNoTerminal
			}
			// Every road plans first: apply writes only what its plan shows.
			cfg.Handler.DryRun = true
			engine, err := loadPolicies(cfg)
			if err != nil {
				return err
			}
			var old *policy.Engine
			if compare != "" {
				oldCfg := cfg
				oldCfg.PoliciesDir = compare
				if old, err = loadPolicies(oldCfg); err != nil {
					return fmt.Errorf("--compare: %w", err)
				}
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
			dry := true
			req := handler.Request{Mode: handler.ModeSweep, DryRun: &dry, Trigger: "cli"}
			if len(keys) > 0 {
				req.Mode, req.KeyIDs = handler.ModeKeys, keys
			}
			s := sweep{g: g, cfg: cfg, engine: engine, store: store, req: req, output: output, html: html}
			switch {
			case compare != "":
				return s.preview(cmd.Context(), old, compare)
			case apply:
				return s.apply(cmd.Context(), autoApprove)
			}
			return s.plan(cmd.Context(), out)
		},
	}
	if apply {
		cmd.Use = "apply [PLAN_FILE]"
		cmd.Short = "Apply the tag changes the policies call for, or a saved plan"
		cmd.Long = `Apply plans (as "tagwarden plan" does), shows the plan and asks "Apply these N changes to
M keys? Only 'yes' is accepted" on the terminal, then writes exactly the changes shown
(BatchCreateKmsTags) and shows what it changed and the violations that remain. --auto-approve
skips the question; without a terminal on standard input and without --auto-approve, apply
refuses to write (exit 1).

With PLAN_FILE (from "tagwarden plan --out"), apply writes exactly that plan, without asking:
it plans nothing new. The file is refused as a whole when it was edited into an inconsistent
state (each problem at file:line:column), when its target (region, project, endpoint) is not
the one configured, or when its policy set's digest is not that of the policies in force
(pass --policies with the folder the plan was made with).

Either way, each key's tags are read again just before writing, and the planned changes are
written only if the key still has exactly the tags the plan read; a key that changed since is
left alone and reported "changed since the plan".

Credentials come from the Huawei Cloud SDK's chain: HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK,
HUAWEICLOUD_SDK_SECURITY_TOKEN and HUAWEICLOUD_SDK_PROJECT_ID, or a profile in
~/.huaweicloud/credentials. Unset flags fall back to the function's TAGWARDEN_* variables.

Exit status: 0 every planned change was made and no violation remains, 2 violations remain
that no change fixes or keys changed since the plan, 1 an error (a key that failed, a refused
plan file, a refused or unanswered question).`
		cmd.Example = `  # Plan, review on the terminal, answer yes
  tagwarden apply --region ap-southeast-1

  # In a pipeline: save the plan, review it, apply exactly it
  tagwarden plan --region ap-southeast-1 --out plan.json
  tagwarden apply --region ap-southeast-1 plan.json

  # One key, slowly, with your own policies, without asking
  tagwarden apply --region cn-north-4 --key 0d0466b0-e727-4d9c-b35d-f84bb474a37f --rate-limit 5 --policies ./policies --auto-approve`
		cmd.Args = cobra.MaximumNArgs(1)
		cmd.Flags().BoolVar(&autoApprove, "auto-approve", false, "apply without asking for confirmation")
	} else {
		cmd.Flags().StringVar(&out, "out", "", "save the plan to this file, for tagwarden show and tagwarden apply FILE")
		cmd.Flags().StringVar(&compare, "compare", "", "preview a policy change: evaluate the keys with these old policies too, and show what differs")
		cmd.Flags().StringVar(&html, "html", "", "also write the plan as a self-contained HTML page to this file (counts, violating keys per policy, what each key needs)")
	}
	t.addFlags(cmd.Flags())
	cmd.Flags().StringSliceVar(&keys, "key", nil, "evaluate only these key ids (repeatable, or comma-separated); default every key")
	cmd.Flags().StringVarP(&output, "output", "o", formatTable, "output format: table or json (plan: the report the function returns); markdown with --compare")
	return cmd
}

// sweep is one plan of a project: what plan, apply and the preview share.
type sweep struct {
	g      *globals
	cfg    config.Process
	engine *policy.Engine
	store  handler.KeyStore
	req    handler.Request
	output string
	html   string // plan: write the page here too
}

// run sweeps (dry run), with a progress bar, calling onDecision (if set)
// for every key evaluated.
func (s sweep) run(ctx context.Context, onDecision func(handler.Decided)) handler.Report {
	bar := startProgress(s.g.stderr, s.g.wantProgress(s.output) && s.req.Mode == handler.ModeSweep, "keys checked")
	c := s.cfg.Handler
	c.OnKey, c.OnDecision = bar.hook(), onDecision
	rep := runAll(ctx, s.engine, c, s.g, s.store, s.req)
	bar.Stop()
	return rep
}

// makePlan sweeps and returns the report and the plan it makes (nil when
// the sweep did not finish: an error, a cut, an interruption).
func (s sweep) makePlan(ctx context.Context) (handler.Report, *savedPlan, error) {
	var mu sync.Mutex
	reads := map[string]map[string]string{}
	rep := s.run(ctx, func(d handler.Decided) {
		if d.Decision.HasChanges() {
			tags := maps.Clone(d.Tags)
			mu.Lock()
			reads[d.Key.ID] = tags
			mu.Unlock()
		}
	})
	if rep.Error != "" || rep.Continuation != "" || ctx.Err() != nil {
		return rep, nil, nil
	}
	p, err := newSavedPlan(rep, reads, storeTarget(s.cfg.Region, s.store), s.engine, s.cfg.PoliciesDir, s.req.KeyIDs)
	if err != nil {
		return rep, nil, err
	}
	if err := p.check(s.engine.Limits()); err != nil {
		return rep, nil, fmt.Errorf("internal error: the plan breaks its own rules: %w", err)
	}
	return rep, p, nil
}

// notes is where lines beside the output go: stdout after a table, stderr
// beside JSON.
func (s sweep) notes() io.Writer {
	if s.output == formatTable {
		return s.g.stdout
	}
	return s.g.stderr
}

// plan shows the plan, and saves it to out when out is set.
func (s sweep) plan(ctx context.Context, out string) error {
	var (
		rep  handler.Report
		p    *savedPlan
		perr error
	)
	if out == "" {
		rep = s.run(ctx, nil)
	} else {
		// Before the sweep: a plan that cannot be saved is known now, not
		// after every key was read.
		if err := checkPlanPath(out); err != nil {
			return err
		}
		rep, p, perr = s.makePlan(ctx)
	}
	err := finishReport(ctx, s.g, s.output, rep, false)
	// Expired and stale exemption entries: after the table, or on
	// stderr beside JSON, which is the function's report as is.
	for _, n := range exemptionNotes(s.engine, rep, time.Now()) {
		fmt.Fprintln(s.notes(), n)
	}
	if s.html != "" {
		sum, findings := outputs.SummaryOf(rep, s.target(), true)
		if werr := writePage(s.html, sum, findings); werr != nil {
			return werr
		}
		fmt.Fprintf(s.notes(), "Wrote the plan's page to %s\n", s.html)
	}
	if out == "" {
		return err
	}
	if perr != nil {
		return perr
	}
	if p == nil {
		fmt.Fprintf(s.g.stderr, "tagwarden: the plan was not saved to %s: the sweep did not finish\n", out)
		return err
	}
	if werr := writePlanFile(out, p); werr != nil {
		return werr
	}
	n, keys := p.changes()
	fmt.Fprintf(s.notes(), "Saved the plan to %s: %d tag %s to %d %s. Review it with \"tagwarden show %s\", apply exactly it with \"tagwarden apply %s\".\n",
		out, n, plural(n, "change", "changes"), keys, plural(keys, "key", "keys"), out, out)
	return err
}

// apply plans, shows the plan and asks (unless autoApprove), then applies
// exactly that plan.
func (s sweep) apply(ctx context.Context, autoApprove bool) error {
	rep, p, err := s.makePlan(ctx)
	switch {
	case err != nil:
		return err
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted while planning: %d keys scanned, nothing was written", rep.Scanned)
	case rep.Error != "":
		return fmt.Errorf("the plan failed, nothing was written: %w", reportError(rep))
	case p == nil:
		return errors.New("the plan did not finish (the sweep stopped early), nothing was written")
	}
	if n, keys := p.changes(); keys > 0 && !autoApprove {
		w := s.notes()
		if err := writeTable(w, p.report(), tableOptions{}); err != nil {
			return err
		}
		fmt.Fprintln(w)
		if err := confirm(ctx, s.g.stdin, s.g.stderr, confirmQuestion(n, keys)); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	res := applyPlan(ctx, s.store, s.engine, p, s.cfg.Handler.Concurrency, s.engine.Limits().MaxBatch, s.g.logger())
	err = finishApply(ctx, s.g, s.output, res)
	for _, n := range exemptionNotes(s.engine, rep, time.Now()) {
		fmt.Fprintln(s.notes(), n)
	}
	return err
}

// preview shows what the policy change from old (whose folder is oldDir)
// to the policies in force would do.
func (s sweep) preview(ctx context.Context, old *policy.Engine, oldDir string) error {
	p, err := s.previewOf(ctx, old, oldDir)
	if err != nil {
		return err
	}
	switch s.output {
	case formatJSON:
		err = writeJSON(s.g.stdout, p)
	case formatMarkdown:
		err = writePreviewMarkdown(s.g.stdout, p)
	default:
		err = writePreviewTable(s.g.stdout, p, 0)
	}
	if err != nil {
		return err
	}
	return withCode(p.exitCode())
}

// previewOf sweeps once, evaluating each key with the policies in force
// and with old, and returns what differs.
func (s sweep) previewOf(ctx context.Context, old *policy.Engine, oldDir string) (preview, error) {
	pv := &previewer{old: old}
	rep := s.run(ctx, pv.add)
	if ctx.Err() != nil {
		return preview{}, fmt.Errorf("interrupted: %d keys scanned before the stop, the rest were not", rep.Scanned)
	}
	if err := reportError(rep); err != nil {
		return preview{}, err
	}
	if rep.Continuation != "" {
		return preview{}, errors.New("the sweep stopped early: not every key was evaluated")
	}
	return pv.result(rep, storeTarget(s.cfg.Region, s.store),
		policySet{Policies: oldDir, Digest: old.Digest()},
		policySet{Policies: policiesName(s.cfg.PoliciesDir), Digest: s.engine.Digest()}), nil
}

// finishApply prints apply's result and returns the exit status it calls
// for.
func finishApply(ctx context.Context, g *globals, output string, res applyResult) error {
	if output == formatJSON {
		if err := writeJSON(g.stdout, res); err != nil {
			return err
		}
	} else {
		rep := res.report()
		if err := writeTable(g.stdout, rep, tableOptions{NoSummary: true}); err != nil {
			return err
		}
		if len(rep.Keys) > 0 {
			fmt.Fprintln(g.stdout)
		}
		fmt.Fprintln(g.stdout, res.summary())
	}
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted: %d keys changed before the stop, %d not attempted", res.Counts.Changed, res.Counts.NotAttempted)
	case res.Error != "":
		return fmt.Errorf("apply %s: %d keys changed, %d not attempted", res.Error, res.Counts.Changed, res.Counts.NotAttempted)
	}
	return withCode(res.exitCode())
}

// runApplyFile applies the saved plan in path: refused as a whole when
// inconsistent, for another target, or made with another policy set.
func runApplyFile(cmd *cobra.Command, g *globals, t *target, path, output string) error {
	ctx := cmd.Context()
	p, err := readPlanFile(path)
	if err != nil {
		return err
	}
	cfg, err := t.config(cmd)
	if err != nil {
		return err
	}
	engine, err := loadPolicies(cfg)
	if err != nil {
		return err
	}
	if d := engine.Digest(); d != p.PolicyDigest {
		return fmt.Errorf("refusing the plan %s: it was made with another policy set: %s, and the policies in force are %s: "+
			"pass --policies with the folder the plan was made with, or plan again",
			path, policySet{Policies: p.Policies, Digest: p.PolicyDigest}, policySet{Policies: policiesName(cfg.PoliciesDir), Digest: d})
	}
	if err := p.check(engine.Limits()); err != nil {
		return err
	}
	store, err := newStore(cfg, engine, nil, g)
	if err != nil {
		return err
	}
	if cur := storeTarget(cfg.Region, store); cur != p.Target {
		return fmt.Errorf("refusing the plan %s: it is for %s, and this apply works on %s: "+
			"give the plan's --region, --endpoint and --project-id, or plan again", path, p.Target, cur)
	}
	if err := checkReachable(ctx, cfg); err != nil {
		return err
	}
	res := applyPlan(ctx, store, engine, p, cfg.Handler.Concurrency, engine.Limits().MaxBatch, g.logger())
	return finishApply(ctx, g, output, res)
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

// target names the plan's target on its page: region/project, or the
// endpoint's project.
func (s sweep) target() string {
	return strings.Trim(s.cfg.Region+"/"+s.cfg.ProjectID, "/")
}
