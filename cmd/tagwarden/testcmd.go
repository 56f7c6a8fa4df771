package main

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tagwarden/tagwarden/policies"
	"github.com/tagwarden/tagwarden/policy"
)

func newTestCmd(g *globals) *cobra.Command {
	var (
		run     string
		verbose bool
		output  string
	)
	cmd := &cobra.Command{
		Use:   "test [DIR]",
		Short: "Run the policy test cases, with a diff for each failing case",
		Long: `Test loads the policies of DIR and runs its test cases (*_test.yaml: a key, its tags, the
expected changes and violations) through the same engine the function uses. It prints one line
per case, PASS or FAIL with file:line and the case name, and under each failing case what
differed from the expectation, then a count.

DIR defaults to $TAGWARDEN_POLICIES, else ./policies if it exists, else the shipped policies.

Exit status: 0 every case passes, 2 a case fails, 1 the policies or the cases do not load.`,
		Example: `  tagwarden test ./policies
  tagwarden test ./policies --run owner -v
  tagwarden test --output json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			var filter *regexp.Regexp
			if run != "" {
				re, err := regexp.Compile(run)
				if err != nil {
					return fmt.Errorf("--run: %w", err)
				}
				filter = re
			}
			dir := policyDir(args)
			if err := checkPolicyDir(dir); err != nil {
				return err
			}
			engine, err := loadForCheck(dir)
			if err != nil {
				n := printLoadErrors(g, err)
				return fmt.Errorf("%s: %d %s in the policies", describeDir(dir), n, plural(n, "error", "errors"))
			}
			var fsys fs.FS = policies.FS
			if dir != "" {
				fsys = os.DirFS(dir)
			}
			cases, err := policy.LoadTests(fsys)
			if err == nil {
				cases = selectCases(cases, filter)
				var results []policy.CaseResult
				results, err = policy.RunCases(cases, engine)
				if err == nil {
					return reportCases(g, dir, results, verbose, output)
				}
			}
			n := printLoadErrors(g, prefixLoadErrors(dir, err))
			return fmt.Errorf("%s: %d %s in the test cases", describeDir(dir), n, plural(n, "error", "errors"))
		},
	}
	cmd.Flags().StringVar(&run, "run", "", "run only the cases whose name matches this regular expression")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "also show the decision of passing cases")
	cmd.Flags().StringVarP(&output, "output", "o", formatTable, "output format: table (text) or json")
	return cmd
}

func selectCases(cases []policy.TestCase, re *regexp.Regexp) []policy.TestCase {
	if re == nil {
		return cases
	}
	var out []policy.TestCase
	for _, c := range cases {
		if re.MatchString(c.Name) {
			out = append(out, c)
		}
	}
	return out
}

// prefixLoadErrors puts dir in front of the file names of load errors of a
// folder read through os.DirFS.
func prefixLoadErrors(dir string, err error) error {
	les, ok := err.(policy.LoadErrors)
	if !ok || dir == "" {
		return err
	}
	for _, le := range les {
		le.File = path.Join(dir, le.File)
	}
	return les
}

// caseJSON is one case result in --output json.
type caseJSON struct {
	File   string          `json:"file"`
	Line   int             `json:"line"`
	Name   string          `json:"name"`
	Passed bool            `json:"passed"`
	Diff   []string        `json:"diff,omitempty"`
	Got    policy.Decision `json:"got"`
}

func reportCases(g *globals, dir string, results []policy.CaseResult, verbose bool, output string) error {
	failed := 0
	for _, r := range results {
		if !r.Passed {
			failed++
		}
	}
	where := func(r policy.CaseResult) string {
		f := r.File
		if dir != "" {
			f = path.Join(dir, f)
		}
		return fmt.Sprintf("%s:%d", f, r.Line)
	}
	if output == formatJSON {
		out := make([]caseJSON, 0, len(results))
		for _, r := range results {
			c := caseJSON{File: r.File, Line: r.Line, Name: r.Name, Passed: r.Passed, Got: r.Got}
			if dir != "" {
				c.File = path.Join(dir, r.File)
			}
			if r.Diff != "" {
				c.Diff = strings.Split(r.Diff, "\n")
			}
			out = append(out, c)
		}
		if err := writeJSON(g.stdout, out); err != nil {
			return err
		}
	} else {
		w := g.stdout
		for _, r := range results {
			status := "PASS"
			if !r.Passed {
				status = "FAIL"
			}
			fmt.Fprintf(w, "%s  %s: %s\n", status, where(r), r.Name)
			if !r.Passed {
				for _, line := range strings.Split(r.Diff, "\n") {
					fmt.Fprintf(w, "        %s\n", line)
				}
			}
			if !r.Passed || verbose {
				fmt.Fprintf(w, "        got: %s\n", describeDecision(r.Got))
			}
		}
		fmt.Fprintf(w, "\n%d %s: %d passed, %d failed\n", len(results), plural(len(results), "case", "cases"), len(results)-failed, failed)
	}
	if failed > 0 {
		return withCode(exitFound)
	}
	return nil
}

// describeDecision renders a decision on one line: changes, then violations.
func describeDecision(d policy.Decision) string {
	var parts []string
	for _, t := range d.Delete {
		parts = append(parts, "-"+t.Key)
	}
	for _, t := range d.Create {
		parts = append(parts, "+"+t.Key+"="+quoteIfNeeded(t.Value))
	}
	for _, v := range d.Violations {
		fix := "not remediated"
		if v.Remediated {
			fix = "remediated"
		}
		parts = append(parts, fmt.Sprintf("[%s/%s: %s, %s]", v.Policy, v.Rule, oneLine(v.Message), fix))
	}
	if len(parts) == 0 {
		return "compliant, no change"
	}
	return strings.Join(parts, " ")
}
