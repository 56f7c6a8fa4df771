package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
)

// globals holds the flags every command shares.
type globals struct {
	stdout, stderr io.Writer
	// stdin is where apply reads the answer to its question.
	stdin    io.Reader
	logLevel string
	// progress forces the progress bar on (true) or off (false); nil decides
	// from whether stderr is a terminal. Tests leave it nil.
	progress *bool
	// interactive says whether stdin is a terminal someone answers at
	// (true) or not (false); nil decides from stdin itself. Tests that
	// answer apply's question set it.
	interactive *bool
}

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "tagwarden",
		Short: "Enforce tag policies on Huawei Cloud KMS keys",
		Long: `tagwarden enforces tag policies on Huawei Cloud KMS keys: it evaluates every key
against policies written in YAML and expr, and fixes the tags through the official SDK.

This command runs the same policy engine, handler and KMS adapter as the serverless
function, from a terminal. Start with "tagwarden demo": no cloud, no credentials.`,
		Example: `  # Try it: an embedded KMS emulator, the shipped policies, a plan, an apply
  tagwarden demo

  # What would change in a real project (never writes)
  export HUAWEICLOUD_SDK_AK=... HUAWEICLOUD_SDK_SK=... HUAWEICLOUD_SDK_PROJECT_ID=...
  tagwarden plan --region ap-southeast-1

  # Check and test your own policies
  tagwarden validate ./policies && tagwarden test ./policies`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if _, err := logrus.ParseLevel(g.logLevel); err != nil {
				return fmt.Errorf("--log-level: %q is not one of panic, fatal, error, warn, info, debug, trace", g.logLevel)
			}
			return nil
		},
	}
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.SetIn(g.stdin)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (see %q)", err, c.CommandPath()+" --help")
	})
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "fatal", "level of the handler's and adapter's logs on stderr: error, warn, info (one line per key), debug; fatal shows none")
	root.AddCommand(
		newDemoCmd(g),
		newPlanCmd(g, false),
		newPlanCmd(g, true),
		newShowCmd(g),
		newReportCmd(g),
		newValidateCmd(g),
		newTestCmd(g),
		newEmulatorCmd(g),
		newInvokeCmd(g),
		newRunsCmd(g),
	)
	return root
}

// version is the module version the binary was built from ("(devel)" for
// a build in the source tree), with the VCS revision when known.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}

// logger returns the logger for the handler and adapter: text on stderr, at
// the --log-level.
func (g *globals) logger() *logrus.Logger {
	log := logrus.New()
	log.SetOutput(g.stderr)
	lvl, err := logrus.ParseLevel(strings.TrimSpace(g.logLevel))
	if err != nil {
		lvl = logrus.WarnLevel
	}
	log.SetLevel(lvl)
	log.SetFormatter(&logrus.TextFormatter{DisableTimestamp: true})
	return log
}
