package policy

import (
	"strings"
	"testing"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"
)

// TestValuePosition maps the offset of "BAD" inside the value of x back to
// the file, for every scalar style and the escapes and folds that make the
// value differ from its source text: it must land on the "BAD" of the file.
func TestValuePosition(t *testing.T) {
	tests := []struct{ name, doc string }{
		{"plain", "x: a && BAD\n"},
		{"plain after a key with unicode", "é: 1\nx: a && BAD\n"},
		{"plain multiline", "x: a &&\n   b &&   \n   BAD\ny: 1\n"},
		{"plain with blank line", "x: a\n\n   BAD\n"},
		{"single quoted", "x: 'a && BAD'\n"},
		{"single quoted doubled quotes", "x: 'tags[''env''] == ''x'' && BAD'\n"},
		{"single quoted multiline", "x: 'a ''b''\n   c  \n\n   BAD'\n"},
		{"double quoted", "x: \"a && BAD\"\n"},
		{"double quoted escapes", `x: "tags[\"env\"] == \"\t\u00e9\x41\U0001F600\\\" && BAD"` + "\n"},
		{"double quoted escaped break", "x: \"a && \\\n    b && BAD\"\n"},
		{"double quoted folded", "x: \"a &&\n    \\tb &&\n    BAD\"\n"},
		{"flow mapping", "{x: 'a && BAD', y: 1}\n"},
		{"unicode before", "x: '\"é\" == \"ü\" && BAD'\n"},
		{"literal", "x: |\n  let v = 1;\n  v == 1 && BAD\ny: 1\n"},
		{"literal strip with blank lines", "x: |-\n\n  a\n\n\n  b && BAD\n"},
		{"literal keep", "x: |+\n  a\n    b\n  BAD\n\n"},
		{"folded", "x: >\n  a &&\n  b &&\n  BAD\ny: 1\n"},
		{"folded blank line", "x: >\n  a\n\n  BAD\n"},
		{"folded more indented", "x: >\n  a\n    b\n  c\n  BAD\n"},
		{"folded in a list", "- x: >-\n    a &&\n    BAD\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tc.doc), &doc); err != nil {
				t.Fatal(err)
			}
			n := findX(doc.Content[0])
			if n == nil {
				t.Fatal("no x")
			}
			var errs LoadErrors
			src := newSource("f.yaml", []byte(tc.doc), &errs)
			if _, ok := src.scalarPositions(n); !ok {
				t.Fatalf("value %q of style %v is not mapped", n.Value, n.Style)
			}
			i := strings.Index(n.Value, "BAD")
			line, col := src.valuePosition(n, utf8.RuneCountInString(n.Value[:i]))
			wantLine, wantCol := 0, 0
			for l, text := range strings.Split(tc.doc, "\n") {
				if j := strings.Index(text, "BAD"); j >= 0 {
					wantLine, wantCol = l+1, utf8.RuneCountInString(text[:j])+1
				}
			}
			if line != wantLine || col != wantCol {
				t.Errorf("got %d:%d, want %d:%d (value %q)", line, col, wantLine, wantCol, n.Value)
			}
			// Past the end: just after the last rune.
			endLine, endCol := src.valuePosition(n, utf8.RuneCountInString(n.Value)+5)
			if endLine < wantLine || endLine == wantLine && endCol <= wantCol {
				t.Errorf("end position %d:%d is not after %d:%d", endLine, endCol, wantLine, wantCol)
			}
		})
	}
}

func findX(n *yaml.Node) *yaml.Node {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "x" {
				return n.Content[i+1]
			}
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if x := findX(c); x != nil {
				return x
			}
		}
	}
	return nil
}
