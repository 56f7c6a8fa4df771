package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tagwarden/tagwarden/cmd/internal/config"
	"github.com/tagwarden/tagwarden/policy"
)

// policyDir picks the policy folder of validate and test: the argument,
// else $TAGWARDEN_POLICIES, else ./policies if it exists; "" means the
// shipped policies.
func policyDir(args []string) string {
	if len(args) > 0 {
		return args[0]
	}
	if d := os.Getenv(config.EnvPolicies); d != "" {
		return d
	}
	if info, err := os.Stat("policies"); err == nil && info.IsDir() {
		return "policies"
	}
	return ""
}

// describeDir names a policy folder for messages.
func describeDir(dir string) string {
	if dir == "" {
		return "the shipped policies"
	}
	return dir
}

// printLoadErrors writes every load error, file:line:column first, with its
// source line; it returns how many there were.
func printLoadErrors(g *globals, err error) int {
	var les policy.LoadErrors
	if errors.As(err, &les) {
		for _, le := range les {
			fmt.Fprintln(g.stderr, le.Detail())
		}
		return len(les)
	}
	fmt.Fprintln(g.stderr, err)
	return 1
}

// loadForCheck loads the policies of dir ("" = the shipped ones) exactly as
// the function does.
func loadForCheck(dir string) (*policy.Engine, error) {
	if err := checkPolicyDir(dir); err != nil {
		return nil, err
	}
	return config.LoadEngine(config.Process{PoliciesDir: dir})
}

// checkPolicyDir says clearly when a policy folder is missing or not a
// folder ("" is the shipped policies, always there).
func checkPolicyDir(dir string) error {
	if dir == "" {
		return nil
	}
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("policy folder %s does not exist", dir)
	case err != nil:
		return fmt.Errorf("policy folder: %w", err)
	case !info.IsDir():
		return fmt.Errorf("policy folder %s is a file: give the folder that holds it", dir)
	}
	return nil
}

func newValidateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate [DIR]",
		Short: "Load and compile policies, reporting every error as file:line:column",
		Long: `Validate loads and compiles every policy file of DIR (*.yaml and *.yml, except the
*_test.yaml case files) exactly as the function does when it starts. It reports every problem
at once, each as file:line:column: message with the source line, on stderr.

DIR defaults to $TAGWARDEN_POLICIES, else ./policies if it exists, else the shipped policies.

Exit status: 0 valid, 1 any error.`,
		Example: `  tagwarden validate ./policies
  tagwarden validate && tagwarden test`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := policyDir(args)
			if err := checkPolicyDir(dir); err != nil {
				return err
			}
			e, err := loadForCheck(dir)
			if err != nil {
				n := printLoadErrors(g, err)
				return fmt.Errorf("%s: %d %s", describeDir(dir), n, plural(n, "error", "errors"))
			}
			ps := e.Policies()
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			for _, p := range ps {
				mode := "enforce"
				if !p.Enforce {
					mode = "report only"
				}
				file := p.File
				if dir != "" {
					file = path.Join(dir, file)
				}
				fmt.Fprintf(tw, "  %s\t%s:%d\t%s\t%s\n", p.Name, file, p.Line, mode, strings.Join(p.Rules, ", "))
			}
			for _, w := range e.Warnings() {
				fmt.Fprintln(g.stderr, "warning: "+w.Detail())
			}
			fmt.Fprintf(g.stdout, "%s: ok, %d %s\n", describeDir(dir), len(ps), plural(len(ps), "policy", "policies"))
			if err := tw.Flush(); err != nil {
				return err
			}
			tw = tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			for _, p := range ps {
				for _, gr := range p.Grace {
					fmt.Fprintf(tw, "  %s\t%s\tgrace %s\tdue tag id %s\n", p.Name, gr.Rule, gr.Grace, gr.ID)
				}
			}
			now := time.Now()
			for _, x := range e.Exemptions(now) {
				state := "active"
				if x.Expired {
					state = "expired"
				}
				file := x.File
				if dir != "" && !strings.HasPrefix(file, dir) {
					file = path.Join(dir, file)
				}
				fmt.Fprintf(tw, "  exemption\t%s:%d\t%s until %s\t%s\n", file, x.Line, state, x.UntilText, oneLine(x.Reason))
			}
			return tw.Flush()
		},
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
