package deploy_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// hclBlock is one block of a Terraform file as the invariant tests read it:
// its type and labels, its attributes as source text, its nested blocks.
// It is a reader for the subset of HCL that deploy/functiongraph uses
// (formatted by terraform fmt), so that the tests need no HCL library; an
// input it does not understand is an error, never a silent pass.
type hclBlock struct {
	Type   string
	Labels []string
	Attrs  map[string]string // name -> expression source, trimmed
	Blocks []*hclBlock
	Line   int
}

// find returns the nested blocks of type typ whose labels start with labels.
func (b *hclBlock) find(typ string, labels ...string) []*hclBlock {
	var out []*hclBlock
	for _, c := range b.Blocks {
		if c.Type != typ || len(c.Labels) < len(labels) {
			continue
		}
		match := true
		for i, l := range labels {
			match = match && c.Labels[i] == l
		}
		if match {
			out = append(out, c)
		}
	}
	return out
}

// one returns the only nested block of type typ with those labels, failing
// the test when there is not exactly one.
func (b *hclBlock) one(t *testing.T, typ string, labels ...string) *hclBlock {
	t.Helper()
	got := b.find(typ, labels...)
	if len(got) != 1 {
		t.Fatalf("%d %s blocks %q, want 1", len(got), typ, labels)
	}
	return got[0]
}

// attr returns an attribute's source, failing the test when it is missing.
func (b *hclBlock) attr(t *testing.T, name string) string {
	t.Helper()
	v, ok := b.Attrs[name]
	if !ok {
		t.Fatalf("%s %q (line %d) has no attribute %s", b.Type, b.Labels, b.Line, name)
	}
	return v
}

// parseHCLDir reads every *.tf file of dir into one root block.
func parseHCLDir(t *testing.T, dir string) *hclBlock {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .tf file in %s (%v)", dir, err)
	}
	sort.Strings(files)
	root := &hclBlock{Attrs: map[string]string{}}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := parseHCL(string(src))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		root.Blocks = append(root.Blocks, b.Blocks...)
		for k, v := range b.Attrs {
			root.Attrs[k] = v
		}
	}
	return root
}

// parseHCL reads one file's body.
func parseHCL(src string) (*hclBlock, error) {
	p := &hclParser{src: src, line: 1}
	root := &hclBlock{Attrs: map[string]string{}}
	if err := p.body(root, false); err != nil {
		return nil, fmt.Errorf("line %d: %w", p.line, err)
	}
	return root, nil
}

type hclParser struct {
	src           string
	pos           int
	line          int
	pendingLabels []string // labels read for the block being opened
}

func (p *hclParser) eof() bool { return p.pos >= len(p.src) }

func (p *hclParser) advance(n int) {
	p.line += strings.Count(p.src[p.pos:p.pos+n], "\n")
	p.pos += n
}

// space skips blanks, newlines and comments.
func (p *hclParser) space() {
	for !p.eof() {
		rest := p.src[p.pos:]
		switch {
		case rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\r' || rest[0] == '\n':
			p.advance(1)
		case rest[0] == '#' || strings.HasPrefix(rest, "//"):
			n := strings.IndexByte(rest, '\n')
			if n < 0 {
				n = len(rest)
			}
			p.advance(n)
		case strings.HasPrefix(rest, "/*"):
			n := strings.Index(rest, "*/")
			if n < 0 {
				n = len(rest) - 2
			}
			p.advance(n + 2)
		default:
			return
		}
	}
}

func (p *hclParser) ident() string {
	start := p.pos
	for !p.eof() {
		c := p.src[p.pos]
		if c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			p.pos++
			continue
		}
		break
	}
	return p.src[start:p.pos]
}

// body reads attributes and blocks until the end of the input (top level)
// or the closing brace (nested).
func (p *hclParser) body(b *hclBlock, nested bool) error {
	for {
		p.space()
		if p.eof() {
			if nested {
				return fmt.Errorf("unclosed block %s %q", b.Type, b.Labels)
			}
			return nil
		}
		if p.src[p.pos] == '}' {
			if !nested {
				return fmt.Errorf("unexpected }")
			}
			p.advance(1)
			return nil
		}
		line := p.line
		name := p.ident()
		if name == "" {
			return fmt.Errorf("expected an attribute or a block, found %q", p.src[p.pos:min(p.pos+20, len(p.src))])
		}
		for {
			for !p.eof() && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
				p.pos++
			}
			if p.eof() {
				return fmt.Errorf("%s: unexpected end", name)
			}
			c := p.src[p.pos]
			switch {
			case c == '=':
				if len(p.pendingLabels) > 0 {
					return fmt.Errorf("%s: labels before =", name)
				}
				p.advance(1)
				expr, err := p.expr()
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				if _, dup := b.Attrs[name]; dup {
					return fmt.Errorf("attribute %s twice", name)
				}
				b.Attrs[name] = expr
			case c == '"':
				end, err := p.stringEnd(p.pos)
				if err != nil {
					return err
				}
				label, err := strconv.Unquote(p.src[p.pos:end])
				if err != nil {
					return fmt.Errorf("label %s: %v", p.src[p.pos:end], err)
				}
				p.advance(end - p.pos)
				p.pendingLabels = append(p.pendingLabels, label)
				continue
			case c == '{':
				p.advance(1)
				child := &hclBlock{Type: name, Labels: p.pendingLabels, Attrs: map[string]string{}, Line: line}
				p.pendingLabels = nil
				if err := p.body(child, true); err != nil {
					return err
				}
				b.Blocks = append(b.Blocks, child)
			default:
				return fmt.Errorf("after %s: unexpected %q", name, c)
			}
			break
		}
	}
}

// expr reads an expression up to the end of its line, across brackets,
// braces, parentheses, strings and comments.
func (p *hclParser) expr() (string, error) {
	start := p.pos
	depth := 0
	for !p.eof() {
		c := p.src[p.pos]
		switch {
		case c == '"':
			end, err := p.stringEnd(p.pos)
			if err != nil {
				return "", err
			}
			p.advance(end - p.pos)
			continue
		case strings.HasPrefix(p.src[p.pos:], "<<"):
			return "", fmt.Errorf("heredocs are not read by this test")
		case c == '#' || strings.HasPrefix(p.src[p.pos:], "//"):
			if depth == 0 {
				out := strings.TrimSpace(p.src[start:p.pos])
				p.space()
				return out, nil
			}
			p.space()
			continue
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			if depth == 0 {
				return strings.TrimSpace(p.src[start:p.pos]), nil
			}
			depth--
		case c == '\n' && depth == 0:
			return strings.TrimSpace(p.src[start:p.pos]), nil
		}
		p.advance(1)
	}
	if depth != 0 {
		return "", fmt.Errorf("unclosed bracket")
	}
	return strings.TrimSpace(p.src[start:]), nil
}

// stringEnd returns the index just past the quoted string starting at i,
// template interpolations ${...} included.
func (p *hclParser) stringEnd(i int) (int, error) {
	for j := i + 1; j < len(p.src); j++ {
		switch {
		case p.src[j] == '\\':
			j++
		case p.src[j] == '"':
			return j + 1, nil
		case p.src[j] == '\n':
			return 0, fmt.Errorf("unterminated string")
		case strings.HasPrefix(p.src[j:], "${"):
			depth := 0
			for k := j + 1; k < len(p.src); k++ {
				if p.src[k] == '"' {
					end, err := p.stringEnd(k)
					if err != nil {
						return 0, err
					}
					k = end - 1
					continue
				}
				if p.src[k] == '{' {
					depth++
				} else if p.src[k] == '}' {
					if depth--; depth == 0 {
						j = k
						break
					}
				}
			}
		}
	}
	return 0, fmt.Errorf("unterminated string")
}

// hclString is the value of a quoted string literal without interpolation.
func hclString(expr string) (string, bool) {
	if len(expr) < 2 || expr[0] != '"' || strings.Contains(expr, "${") {
		return "", false
	}
	s, err := strconv.Unquote(expr)
	return s, err == nil
}

// hclStrings is the values of a list of quoted string literals, one per
// element (comments allowed); ok is false when an element is anything else.
func hclStrings(expr string) ([]string, bool) {
	expr = strings.TrimSpace(expr)
	if !strings.HasPrefix(expr, "[") || !strings.HasSuffix(expr, "]") {
		return nil, false
	}
	p := &hclParser{src: expr[1 : len(expr)-1]}
	out := []string{}
	for {
		p.space()
		if p.eof() {
			return out, true
		}
		if p.src[p.pos] != '"' {
			return nil, false
		}
		end, err := p.stringEnd(p.pos)
		if err != nil {
			return nil, false
		}
		v, ok := hclString(p.src[p.pos:end])
		if !ok {
			return nil, false
		}
		out = append(out, v)
		p.pos = end
		p.space()
		if !p.eof() {
			if p.src[p.pos] != ',' {
				return nil, false
			}
			p.pos++
		}
	}
}

// TestParseHCL checks the reader the invariant tests rest on.
func TestParseHCL(t *testing.T) {
	src := `# a comment
locals {
  list = [
    "a", # one
    "b",
  ]
  tmpl = "${var.x}-{y}" // trailing
  obj = jsonencode({
    k = "v}"
  })
  re = "^(?:=(https?://[^\\s,]+))?$"
  byp = {
    for p in local.ps : p => concat(
      p == var.r ? res.x[*].name : [],
    ) if p != ""
  }
}

resource "kind" "name" {
  n = 1
  /* block
     comment */
  dynamic "inner" {
    for_each = var.on ? [1] : []
    content {
      s = "q\"uote"
    }
  }
}
`
	root, err := parseHCL(src)
	if err != nil {
		t.Fatal(err)
	}
	loc := root.one(t, "locals")
	if got, ok := hclStrings(loc.Attrs["list"]); !ok || strings.Join(got, ",") != "a,b" {
		t.Errorf("list %q: %q %v", loc.Attrs["list"], got, ok)
	}
	for name, want := range map[string]string{
		"tmpl": `"${var.x}-{y}"`,
		"obj":  "jsonencode({\n    k = \"v}\"\n  })",
		"re":   `"^(?:=(https?://[^\\s,]+))?$"`,
		"byp":  "{\n    for p in local.ps : p => concat(\n      p == var.r ? res.x[*].name : [],\n    ) if p != \"\"\n  }",
	} {
		if got := loc.Attrs[name]; got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if _, ok := hclString(loc.Attrs["tmpl"]); ok {
		t.Error("an interpolated string is not a literal")
	}
	res := root.one(t, "resource", "kind", "name")
	if res.Attrs["n"] != "1" || res.Line != 19 {
		t.Errorf("resource: n=%q line %d", res.Attrs["n"], res.Line)
	}
	content := res.one(t, "dynamic", "inner").one(t, "content")
	if s, ok := hclString(content.Attrs["s"]); !ok || s != `q"uote` {
		t.Errorf("content.s = %q (%v)", s, ok)
	}
	for _, bad := range []string{"resource \"a\" {\n", "x = [1,\n", "a = \"open\n", "x = <<EOF\nEOF\n", "}\n", "a \"b\" = 1\n"} {
		if _, err := parseHCL(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
