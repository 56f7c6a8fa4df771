package main

import (
	"fmt"
	"io"
	"os"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/tagwarden/tagwarden/adapters/events"
	"github.com/tagwarden/tagwarden/handler"
)

func newInvokeCmd(g *globals) *cobra.Command {
	var (
		t      target
		output string
	)
	cmd := &cobra.Command{
		Use:   "invoke EVENT.json",
		Short: "Run the handler on an event file, exactly as the function would",
		Long: `Invoke decodes an event file with the same decoders the function uses (FunctionGraph TIMER
and CTS events, EventGrid CloudEvents, EventBridge Scheduled Events, the manual payload), runs
the handler on the request against the configured account or emulator, and prints the report
the function would return. "-" reads the event from standard input.

Like the function, it writes unless the event or TAGWARDEN_DRY_RUN (or --dry-run) says dry
run. The manual payload:

  {"action": "sweep" | "check", "key_ids": ["<key id>", ...], "dry_run": true | false,
   "continuation": "<token>"}

Exit status: as for plan and apply (0 compliant, 2 changes needed or violations, 1 an error),
and 1 for an event the function would refuse.`,
		Example: `  # A CTS createKey event, against a local emulator, without writing
  tagwarden invoke --endpoint http://127.0.0.1:8443 --dry-run cts-create-key.json

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
			req, err := events.Decode(payload)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if req.Trigger == "" {
				req.Trigger = "cli"
			}
			cfg, err := t.config(cmd)
			if err != nil {
				return err
			}
			engine, err := loadPolicies(cfg)
			if err != nil {
				return err
			}
			ctx := handler.WithRequestID(cmd.Context(), uuid.NewString())
			if req.Mode == handler.ModeIgnore {
				// Nothing to call: the handler still reports why.
				rep := handler.New(engine, cfg, g.logger()).Handle(ctx, nil, req)
				return finishInvoke(g, output, rep)
			}
			if err := checkReachable(ctx, cfg); err != nil {
				return err
			}
			store, err := newStore(cfg, nil, g)
			if err != nil {
				return err
			}
			bar := startProgress(g.stderr, g.wantProgress(output) && req.Mode == handler.ModeSweep, "scanning keys")
			rep := handler.New(engine, cfg, g.logger()).Handle(ctx, bar.wrap(store), req)
			bar.Stop()
			return finishInvoke(g, output, rep)
		},
	}
	t.addFlags(cmd.Flags())
	cmd.Flags().BoolVar(&t.dryRun, "dry-run", false, "dry run unless the event says otherwise (default $TAGWARDEN_DRY_RUN)")
	cmd.Flags().StringVarP(&output, "output", "o", formatJSON, "output format: json (the report the function returns) or table")
	return cmd
}

func finishInvoke(g *globals, output string, rep handler.Report) error {
	return finishReport(g, output, rep)
}

// readEvent reads an event file, or standard input for "-".
func readEvent(name string) ([]byte, error) {
	var (
		b   []byte
		err error
	)
	if name == "-" {
		b, err = io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
	} else {
		b, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, fmt.Errorf("read event: %w", err)
	}
	return b, nil
}
