package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/tagwarden/tagwarden/adapters/awslambda"
	"github.com/tagwarden/tagwarden/adapters/functiongraph"
	"github.com/tagwarden/tagwarden/adapters/invocation"
	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/cmd/internal/config"
	"github.com/tagwarden/tagwarden/handler"
)

func newInvokeCmd(g *globals) *cobra.Command {
	var (
		t        target
		output   string
		platform string
	)
	cmd := &cobra.Command{
		Use:   "invoke EVENT.json",
		Short: "Run the handler on an event file, exactly as the function would",
		Long: `Invoke decodes an event file with the same decoders the function uses on the --platform
(functiongraph: TIMER and CTS events, EventGrid CloudEvents and batches, the manual payload;
lambda: EventBridge Scheduled Events, CTS traces, CloudEvents, the manual payload), runs the
handler on the request against the configured account or emulator, and prints the report
the function would return. "-" reads the event from standard input.

Like the function, it writes unless the event or TAGWARDEN_DRY_RUN (or --dry-run) says dry
run. The manual payload:

  {"action": "sweep" | "check", "key_ids": ["<key id>", ...], "dry_run": true | false,
   "continuation": "<token>"}

A report's continuation resumes the request it came from: send it back with the same action
and dry_run ({"action":"check","continuation":"..."} needs no key_ids). A request that fails
as a whole (access denied, a failed listing, an invalid continuation) still prints its report,
with "error", "error_kind" and the continuation, as the function returns it, and exits 1.

Like the function, it sends the outputs the TAGWARDEN_* variables configure (TAGWARDEN_SMN_TOPIC,
TAGWARDEN_METRICS, TAGWARDEN_REPORT_BUCKET...) when the run ends, a dry run included, with the
SDK's credential chain; the report's "outputs" lists them. Unset those variables to send none.

Exit status: as for plan and apply (0 compliant, 2 changes needed or violations, 1 an error),
and 1 for an event the function would refuse.`,
		Example: `  # A CTS createKey event, against a local emulator, without writing
  tagwarden invoke --endpoint http://127.0.0.1:8443 --dry-run cts-create-key.json

  # An EventBridge Scheduled Event, as a Lambda-compatible runtime would get it
  tagwarden invoke --platform lambda --region ap-southeast-1 --dry-run scheduled.json

  # The manual payload, from standard input
  echo '{"action":"check","key_ids":["0d0466b0-e727-4d9c-b35d-f84bb474a37f"]}' | tagwarden invoke --region ap-southeast-1 -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			payload, err := readEvent(args[0])
			if err != nil {
				return err
			}
			pipe, ok := pipelines[platform]
			if !ok {
				return fmt.Errorf("--platform: %q is not one of functiongraph, lambda", platform)
			}
			// The function's own pipeline: its decoders, then its store,
			// handler and answer.
			req, err := pipe.Decode(payload)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if req.Trigger == "" {
				req.Trigger = "cli"
			}
			// An event the function ignores needs no KMS endpoint.
			cfg, err := t.settings(cmd)
			if err != nil {
				return err
			}
			if req.Mode != handler.ModeIgnore {
				if err := checkTarget(cfg); err != nil {
					return err
				}
			}
			engine, err := loadPolicies(cfg)
			if err != nil {
				return err
			}
			bar := startProgress(g.stderr, g.wantProgress(output) && req.Mode == handler.ModeSweep, "keys checked")
			cfg.Handler.OnKey = bar.hook()
			pipe.Handler = handler.New(engine, cfg.Handler, g.logger())
			ctx := handler.WithRequestID(cmd.Context(), uuid.NewString())
			// The store opens once: for the outputs' project, or when the
			// pipeline asks.
			opened := sync.OnceValues(func() (handler.KeyStore, error) {
				store, err := newStore(cfg, engine, nil, g)
				if err == nil {
					err = checkReachable(ctx, cfg)
				}
				if err != nil {
					// The CLI's own account, as it is.
					return nil, &invocation.Error{Type: invocation.TypeConfiguration, Err: err}
				}
				return store, nil
			})
			open := func(context.Context) (handler.KeyStore, error) { return opened() }
			cloud := invocation.OpenFunc(open).Cloud()
			if req.Mode != handler.ModeIgnore && cfg.Outputs.On() {
				// The outputs the function's configuration names, as the
				// function sends them (cmd/bootstrap): with the SDK's
				// credential chain, for the store's own target.
				project := cfg.ProjectID
				if project == "" {
					project = strings.TrimSpace(os.Getenv(config.EnvSDKProjectID))
				}
				if project == "" { // the profile's: the store knows it
					s, err := open(ctx)
					if err != nil {
						bar.Stop()
						return fmt.Errorf("open the key store: %w", err)
					}
					if p, ok := s.(interface{ ProjectID() string }); ok {
						project = p.ProjectID()
					}
				}
				own := cfg.OwnTarget(project)
				pipe.Targets.Own = own
				pipe.Outputs = cfg.Recorder(own.Name(), g.logger())
				cloud.Outputs = func(context.Context) (outputs.Clients, error) { return cfg.OutputClients(nil, own.ProjectID) }
			}
			rep, err := pipe.Run(ctx, req, cloud)
			bar.Stop()
			if err != nil {
				return err
			}
			return finishReport(cmd.Context(), g, output, rep, true)
		},
	}
	t.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&platform, "platform", "functiongraph", "decode the event as this platform does: functiongraph or lambda")
	cmd.Flags().BoolVar(&t.dryRun, "dry-run", false, "dry run unless the event says otherwise (default $TAGWARDEN_DRY_RUN)")
	cmd.Flags().StringVarP(&output, "output", "o", formatJSON, "output format: json (the report the function returns) or table")
	return cmd
}

// pipelines are the platforms' own invocation pipelines, by --platform;
// the handler is set per command.
var pipelines = map[string]invocation.Pipeline{
	"functiongraph": functiongraph.Pipeline(nil, nil),
	"lambda":        awslambda.Pipeline(nil, nil),
}

// readEvent reads an event file, or standard input for "-", refusing one
// larger than FunctionGraph takes.
func readEvent(name string) ([]byte, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("read event: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, functiongraph.MaxPayload+1))
	if err != nil {
		return nil, fmt.Errorf("read event %s: %w", name, err)
	}
	if len(b) > functiongraph.MaxPayload {
		return nil, fmt.Errorf("event %s is larger than %d MiB, more than the function takes", name, functiongraph.MaxPayload>>20)
	}
	return b, nil
}
