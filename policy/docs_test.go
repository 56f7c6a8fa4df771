package policy_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tagwarden/tagwarden/policy"
)

// TestDocsExamples loads every complete policy file shown in
// docs/policies.md and every rule snippet (wrapped in a policy), so that the
// documentation cannot drift from the language.
func TestDocsExamples(t *testing.T) {
	data, err := os.ReadFile("../docs/policies.md")
	if err != nil {
		t.Skipf("docs not found: %v", err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(data), -1)
	n := 0
	for i, b := range blocks {
		text := b[1]
		switch {
		case strings.Contains(text, "\ncases:"):
			if _, err := policy.LoadTests(fstest.MapFS{"doc_test.yaml": {Data: []byte(text)}}); err != nil {
				t.Errorf("test case block %d of docs/policies.md does not decode:\n%v", i+1, err)
			}
			continue
		case strings.HasPrefix(text, "exemptions:"):
			fsys := fstest.MapFS{
				"p.yaml":              {Data: []byte("policies:\n  - name: cost-center\n    rules: [{require: cost-center}]\n")},
				policy.ExemptionsFile: {Data: []byte(text)},
			}
			if _, err := policy.Load(fsys, policy.Options{}); err != nil {
				t.Errorf("exemptions block %d of docs/policies.md does not load:\n%v", i+1, err)
			}
			continue
		case strings.HasPrefix(text, "policies:"):
		case strings.HasPrefix(text, "- "):
			var ind strings.Builder
			for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
				ind.WriteString("      " + line + "\n")
			}
			text = "policies:\n  - name: snippet\n    rules:\n" + ind.String()
		default:
			continue // test case files and field lists
		}
		n++
		if _, err := policy.Load(fstest.MapFS{"doc.yaml": {Data: []byte(text)}}, policy.Options{}); err != nil {
			t.Errorf("yaml block %d of docs/policies.md does not load:\n%s\n%v", i+1, text, err)
		}
	}
	if n < 4 {
		t.Errorf("found only %d policy examples in docs/policies.md", n)
	}
}
