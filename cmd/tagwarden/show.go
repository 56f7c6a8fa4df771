package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tagwarden/tagwarden/policy"
)

func newShowCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show PLAN_FILE",
		Short: "Print a saved plan",
		Long: `Show prints a plan saved by "tagwarden plan --out": where and when it was made, with which
policy set, and the same table as "tagwarden plan" (the tags each key gets and loses, and the
violations no change fixes). --output json prints the file as read, normalized.

The file is checked as "tagwarden apply" checks it: a file edited into an inconsistent state
(a change that breaks the tag rules, a delete of a tag the plan did not read, counts that do
not add up, an unknown format version, a truncated file) is refused, each problem at
file:line:column. Show needs no credentials and makes no call.

Exit status: 0 the plan changes nothing and finds no violation, 2 it has changes or
violations, 1 the file cannot be read or is refused.`,
		Example: `  tagwarden plan --region ap-southeast-1 --out plan.json
  tagwarden show plan.json
  tagwarden show plan.json -o json | jq '.keys[] | select(.outcome == "planned") | .key_id'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(output); err != nil {
				return err
			}
			p, err := readPlanFile(args[0])
			if err != nil {
				return err
			}
			// The tag rules are the API's; only the batch size is
			// configurable, and a plan does not fix it.
			if err := p.check(policy.DefaultLimits()); err != nil {
				return err
			}
			rep := p.report()
			if output == formatJSON {
				if err := writeJSON(g.stdout, p); err != nil {
					return err
				}
				return withCode(exitCodeFor(rep))
			}
			w := g.stdout
			fmt.Fprintf(w, "Plan %s, made %s by tagwarden %s\n", args[0], p.Created, p.ToolVersion)
			fmt.Fprintf(w, "Target: %s\n", p.Target)
			fmt.Fprintf(w, "Policies: %s\n", policySet{Policies: p.Policies, Digest: p.PolicyDigest})
			if len(p.KeyIDs) > 0 {
				fmt.Fprintf(w, "Keys: %d named with --key\n", len(p.KeyIDs))
			}
			fmt.Fprintln(w)
			if err := writeTable(w, rep, tableOptions{}); err != nil {
				return err
			}
			if n, keys := p.changes(); keys > 0 {
				fmt.Fprintf(w, "Applying it writes %d tag %s to %d %s, each only if the key still has the tags the plan read.\n",
					n, plural(n, "change", "changes"), keys, plural(keys, "key", "keys"))
			}
			return withCode(exitCodeFor(rep))
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", formatTable, "output format: table or json (the plan file, normalized)")
	return cmd
}
