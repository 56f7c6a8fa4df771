package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// policyDir picks the policy folder of validate and test: the argument,
// else $TAGWARDEN_POLICIES, else ./policies if it exists; "" means the
// shipped policies.
func policyDir(args []string) string {
	if len(args) > 0 {
		return args[0]
	}
	if d := os.Getenv(handler.EnvPolicies); d != "" {
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

// loadForCheck loads the policies of dir for validate and test.
func loadForCheck(dir string) (*policy.Engine, error) {
	opts := policy.Options{Limits: policy.DefaultLimits()}
	if dir == "" {
		return handler.LoadEngine(handler.Config{})
	}
	return policy.LoadDir(dir, opts)
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
			if _, err := loadForCheck(dir); err != nil {
				n := printLoadErrors(g, err)
				return fmt.Errorf("%s: %d %s", describeDir(dir), n, plural(n, "error", "errors"))
			}
			fmt.Fprintf(g.stdout, "%s: ok\n", describeDir(dir))
			return nil
		},
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
