package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// source is one YAML file being decoded: its name, its lines (for error
// snippets and expression positions) and the errors found so far.
type source struct {
	name  string
	lines []string
	errs  *LoadErrors
}

func newSource(name string, data []byte, errs *LoadErrors) *source {
	return &source{name: name, lines: strings.Split(string(data), "\n"), errs: errs}
}

func (s *source) line(n int) string {
	if n < 1 || n > len(s.lines) {
		return ""
	}
	return strings.TrimRight(s.lines[n-1], "\r")
}

// errorAt records an error at a 1-based line and column.
func (s *source) errorAt(line, col int, format string, args ...any) {
	*s.errs = append(*s.errs, &LoadError{File: s.name, Line: line, Column: col, Message: fmt.Sprintf(format, args...), Source: s.line(line)})
}

// errorf records an error at a node.
func (s *source) errorf(n *yaml.Node, format string, args ...any) {
	if n == nil {
		s.errorAt(0, 0, format, args...)
		return
	}
	s.errorAt(n.Line, n.Column, format, args...)
}

var (
	yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	bang     = regexp.MustCompile(`(^|:)\s+[!&*]\S`)
)

// documents parses every YAML document of the file. A syntax error is
// recorded with its line and column and ends the parse.
func (s *source) documents(data []byte) []*yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			line, msg := yamlError(err)
			col := 0
			if l, c := s.errorPosition(msg); l > 0 {
				line, col = l, c
			}
			if line < 1 || line > len(s.lines) {
				line = 1
			}
			if col < 1 {
				col = indent(s.line(line)) + 1
			}
			switch {
			case bang.MatchString(s.line(line)):
				msg += " (quote values that start with !, & or *: YAML reads them as tags, anchors and aliases)"
			case msg == "mapping values are not allowed in this context":
				msg += " (quote a value that contains \": \")"
			}
			s.errorAt(line, col, "invalid YAML: %s", msg)
			return nil
		}
		docs = append(docs, &doc)
	}
}

// yamlError splits a YAML error into its line (0 if none) and message.
func yamlError(err error) (int, string) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return line, m[2]
	}
	return 0, strings.TrimPrefix(msg, "yaml: ")
}

// yamlMessage parses text and returns the message of its first syntax
// error, or "" when it parses.
func yamlMessage(text string) string {
	dec := yaml.NewDecoder(strings.NewReader(text))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			return ""
		}
		_, m := yamlError(err)
		return m
	}
}

// errorPosition finds the line and column of a syntax error. The YAML
// library reports at best the line where the enclosing block starts, and
// no column; so the shortest prefix of the file that fails with the same
// message locates the line that breaks it, and within that line the
// shortest prefix that still fails locates the column (0 when it cannot be
// told). Files of more than 500 lines or 64 KiB are not searched.
func (s *source) errorPosition(msg string) (line, col int) {
	size := 0
	for _, l := range s.lines {
		size += len(l) + 1
	}
	if len(s.lines) > 500 || size > 64<<10 {
		return 0, 0
	}
	for k := 1; k <= len(s.lines); k++ {
		if yamlMessage(strings.Join(s.lines[:k], "\n")+"\n") != msg {
			continue
		}
		head := strings.Join(s.lines[:k-1], "\n")
		if k > 1 {
			head += "\n"
		}
		text := []rune(strings.TrimRight(s.lines[k-1], "\r"))
		for c := 1; c <= len(text); c++ {
			if yamlMessage(head+string(text[:c])+"\n") == msg {
				return k, c
			}
		}
		return k, 0
	}
	return 0, 0
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// field is one key: value pair of a mapping.
type field struct {
	key   *yaml.Node
	value *yaml.Node
}

// fields decodes a mapping strictly: every key must be one of allowed and
// appear once. It returns the fields in document order, by name.
func (s *source) fields(n *yaml.Node, what string, allowed []string) map[string]field {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		s.errorf(n, "%s must be a mapping (key: value lines), not %s", what, describe(n))
		return nil
	}
	out := make(map[string]field, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			s.errorf(k, "%s has a key that is not a plain word", what)
			continue
		}
		name := k.Value
		if k.Tag == "!!merge" {
			s.errorf(k, "merge keys (<<) are not supported in %s", what)
			continue
		}
		if !slices.Contains(allowed, name) {
			s.errorf(k, "unknown field %q in %s%s", name, what, suggest(name, allowed))
			continue
		}
		if prev, dup := out[name]; dup {
			s.errorf(k, "field %q appears twice in %s (first at line %d)", name, what, prev.key.Line)
			continue
		}
		out[name] = field{key: k, value: v}
	}
	return out
}

// suggest names the closest allowed field, or lists them all.
func suggest(name string, allowed []string) string {
	best, bestD := "", 3
	for _, a := range allowed {
		if d := distance(name, a); d < bestD {
			best, bestD = a, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return fmt.Sprintf(" (allowed: %s)", strings.Join(allowed, ", "))
}

// distance is the Levenshtein distance of two short strings.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			c := 1
			if ra[i-1] == rb[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func describe(n *yaml.Node) string {
	n = resolve(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "empty"
		case "!!bool":
			return "a boolean"
		case "!!int", "!!float":
			return "a number"
		default:
			return fmt.Sprintf("the text %q", n.Value)
		}
	}
	return "an unsupported YAML node"
}

// str decodes a scalar as text. Numbers and booleans are taken as written
// (a tag value may well be "2024" or "true"); null and collections are
// errors.
func (s *source) str(n *yaml.Node, what string) (string, bool) {
	n = resolve(n)
	if n != nil && n.Kind == yaml.ScalarNode && n.Tag != "" && !strings.HasPrefix(n.Tag, "!!") {
		s.errorf(n, "%s: YAML reads %q as a tag: quote the text ('%s ...')", what, n.Tag, n.Tag)
		return "", false
	}
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		s.errorf(n, "%s must be text, not %s", what, describe(n))
		return "", false
	}
	return n.Value, true
}

// strs decodes a list of texts; a single scalar is a list of one.
func (s *source) strs(n *yaml.Node, what string) ([]string, bool) {
	n = resolve(n)
	if n != nil && n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return []string{n.Value}, true
	}
	if n == nil || n.Kind != yaml.SequenceNode {
		s.errorf(n, "%s must be a list of texts, not %s", what, describe(n))
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for _, c := range n.Content {
		v, good := s.str(c, what+" entry")
		ok = ok && good
		out = append(out, v)
	}
	return out, ok
}

func (s *source) boolean(n *yaml.Node, what string) (bool, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		s.errorf(n, "%s must be true or false, not %s", what, describe(n))
		return false, false
	}
	b, err := strconv.ParseBool(n.Value)
	if err != nil {
		s.errorf(n, "%s must be true or false, not %q", what, n.Value)
		return false, false
	}
	return b, true
}

func (s *source) integer(n *yaml.Node, what string) (int, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		s.errorf(n, "%s must be a whole number, not %s", what, describe(n))
		return 0, false
	}
	i, err := strconv.ParseInt(n.Value, 0, 32)
	if err != nil {
		s.errorf(n, "%s must be a whole number between %d and %d, not %s", what, -1<<31, 1<<31-1, n.Value)
		return 0, false
	}
	return int(i), true
}

// indent is the number of leading spaces and tabs of a line, in runes.
func indent(line string) int {
	return len(line) - len(strings.TrimLeft(line, " \t"))
}
