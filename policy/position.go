package policy

import (
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// pos is a 1-based line and column (counted in runes) of a file.
type pos struct{ line, col int }

// scalarPositions decodes the text of scalar n again from the file's lines
// and returns where each rune of its value comes from, so that a position
// inside the value (an expression error) maps to the exact line and column
// of the file, escapes, doubled quotes and folded lines included. ok is
// false when the decoding does not reproduce n.Value exactly (a layout the
// decoder does not know, such as an explicit indentation indicator).
func (s *source) scalarPositions(n *yaml.Node) (ps []pos, ok bool) {
	want := []rune(n.Value)
	var got []rune
	switch {
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		got, ps = s.blockRunes(n, len(want))
	case n.Style&yaml.DoubleQuotedStyle != 0:
		got, ps = s.flowRunes(n, '"', len(want))
	case n.Style&yaml.SingleQuotedStyle != 0:
		got, ps = s.flowRunes(n, '\'', len(want))
	default:
		got, ps = s.flowRunes(n, 0, len(want))
	}
	if string(got) != n.Value || len(ps) != len(got) {
		return nil, false
	}
	return ps, true
}

// valuePosition returns the file position of the rune at offset from (0
// based) of the value of scalar n; an offset at or past the end points just
// after the last rune. It falls back to the node's own position when the
// value cannot be mapped.
func (s *source) valuePosition(n *yaml.Node, from int) (int, int) {
	ps, ok := s.scalarPositions(n)
	if !ok || len(ps) == 0 {
		return n.Line, n.Column
	}
	if from < 0 {
		from = 0
	}
	if from < len(ps) {
		return ps[from].line, ps[from].col
	}
	last := ps[len(ps)-1]
	if []rune(n.Value)[len(ps)-1] == '\n' {
		return last.line, last.col
	}
	return last.line, last.col + 1
}

// runeOf is one decoded rune and where it comes from; raw marks white
// space written as such (trimmed before a line break), not escaped.
type runeOf struct {
	r   rune
	p   pos
	raw bool
}

// flowRunes decodes a plain (quote 0), single- or double-quoted scalar
// starting at n, folding line breaks the YAML way, until it has produced
// limit runes or met the closing quote.
func (s *source) flowRunes(n *yaml.Node, quote rune, limit int) ([]rune, []pos) {
	var out []rune
	var ps []pos
	emit := func(r rune, p pos) {
		out = append(out, r)
		ps = append(ps, p)
	}
	line := n.Line
	text := []rune(s.line(line))
	i := n.Column - 1
	if quote != 0 {
		i++
	}
	for range 10000 {
		var buf []runeOf
		escapedBreak := false
	scan:
		for i < len(text) {
			if quote == 0 && len(out)+len(buf) >= limit {
				break
			}
			c := text[i]
			switch {
			case quote == '"' && c == '"', quote == '\'' && c == '\'' && (i+1 >= len(text) || text[i+1] != '\''):
				for _, b := range buf {
					emit(b.r, b.p)
				}
				return out, ps
			case quote == '\'' && c == '\'':
				buf = append(buf, runeOf{r: '\'', p: pos{line, i + 1}})
				i += 2
				continue
			case quote == '"' && c == '\\':
				if i+1 >= len(text) {
					escapedBreak = true
					break scan
				}
				r, size, ok := unescape(text[i+1:])
				if !ok {
					return nil, nil
				}
				buf = append(buf, runeOf{r: r, p: pos{line, i + 1}})
				i += 1 + size
				continue
			}
			buf = append(buf, runeOf{r: c, p: pos{line, i + 1}, raw: c == ' ' || c == '\t'})
			i++
		}
		if quote == 0 && len(out)+len(buf) >= limit {
			for _, b := range buf {
				emit(b.r, b.p)
			}
			return out, ps
		}
		// A line break: trailing white space goes, unless escaped.
		end := len(buf)
		if !escapedBreak {
			for end > 0 && buf[end-1].raw {
				end--
			}
		}
		for _, b := range buf[:end] {
			emit(b.r, b.p)
		}
		breakAt := pos{line, len(text) + 1}
		if end < len(buf) {
			breakAt = buf[end].p
		}
		// Blank lines become line feeds; a single break becomes a space.
		var blanks []int
		for {
			line++
			if line > len(s.lines) {
				return out, ps
			}
			text = []rune(s.line(line))
			if strings.TrimLeft(string(text), " \t") != "" {
				break
			}
			blanks = append(blanks, line)
		}
		switch {
		case escapedBreak:
			for _, l := range blanks {
				emit('\n', pos{l, 1})
			}
		case len(blanks) == 0:
			emit(' ', breakAt)
		default:
			for _, l := range blanks {
				emit('\n', pos{l, 1})
			}
		}
		i = 0
		for i < len(text) && (text[i] == ' ' || text[i] == '\t') {
			i++
		}
	}
	return out, ps
}

// unescape decodes the escape sequence after a backslash of a
// double-quoted scalar: the rune and how many runes the sequence takes.
func unescape(t []rune) (rune, int, bool) {
	if len(t) == 0 {
		return 0, 0, false
	}
	simple := map[rune]rune{'0': 0, 'a': '\a', 'b': '\b', 't': '\t', '\t': '\t', 'n': '\n', 'v': '\v', 'f': '\f',
		'r': '\r', 'e': 0x1b, ' ': ' ', '"': '"', '/': '/', '\\': '\\', 'N': 0x85, '_': 0xa0, 'L': 0x2028, 'P': 0x2029}
	if r, ok := simple[t[0]]; ok {
		return r, 1, true
	}
	digits := map[rune]int{'x': 2, 'u': 4, 'U': 8}[t[0]]
	if digits == 0 || len(t) < 1+digits {
		return 0, 0, false
	}
	v, err := strconv.ParseUint(string(t[1:1+digits]), 16, 32)
	if err != nil {
		return 0, 0, false
	}
	return rune(v), 1 + digits, true
}

// blockRunes decodes a literal (|) or folded (>) block scalar whose header
// is at n, until it has produced limit runes.
func (s *source) blockRunes(n *yaml.Node, limit int) ([]rune, []pos) {
	header := strings.TrimSpace(s.line(n.Line))
	if i := strings.LastIndexAny(header, "|>"); i >= 0 && strings.ContainsAny(strings.Fields(header[i:] + " ")[0], "123456789") {
		return nil, nil // explicit indentation: not mapped
	}
	folded := n.Style&yaml.FoldedStyle != 0
	first := n.Line + 1
	indent := -1
	for l := first; l <= len(s.lines); l++ {
		if t := s.line(l); strings.TrimSpace(t) != "" {
			indent = len([]rune(t)) - len([]rune(strings.TrimLeft(t, " ")))
			break
		}
	}
	if indent < 0 {
		return nil, nil
	}
	var out []rune
	var ps []pos
	emit := func(r rune, p pos) bool {
		out = append(out, r)
		ps = append(ps, p)
		return len(out) >= limit
	}
	// content returns the runes of line l after the indentation and what
	// the line is: part of the block with text, blank, or past the block.
	const (
		text = iota
		blank
		end
	)
	content := func(l int) ([]rune, int) {
		if l > len(s.lines) {
			return nil, end
		}
		t := []rune(s.line(l))
		switch {
		case strings.TrimSpace(string(t)) == "":
			return nil, blank
		case len(t) < indent || strings.TrimLeft(string(t[:indent]), " ") != "":
			return nil, end
		}
		return t[indent:], text
	}
	normal := func(t []rune) bool { return len(t) > 0 && t[0] != ' ' && t[0] != '\t' }
	if limit == 0 {
		return out, ps
	}
	for l := first; ; {
		cur, kind := content(l)
		switch kind {
		case end:
			return out, ps
		case blank:
			if emit('\n', pos{l, 1}) {
				return out, ps
			}
			l++
			continue
		}
		for j, r := range cur {
			if emit(r, pos{l, indent + j + 1}) {
				return out, ps
			}
		}
		breakAt := pos{l, indent + len(cur) + 1}
		// Look past blank lines to the next line of text.
		next := l + 1
		nextText, nextKind := content(next)
		for nextKind == blank {
			next++
			nextText, nextKind = content(next)
		}
		switch {
		case !folded || nextKind == end || !normal(cur) || !normal(nextText):
			if emit('\n', breakAt) {
				return out, ps
			}
		case next == l+1:
			if emit(' ', breakAt) {
				return out, ps
			}
		}
		// Blank lines: each a line feed (with folding, the first break
		// between two normal lines was dropped instead).
		for b := l + 1; b < next; b++ {
			if emit('\n', pos{b, 1}) {
				return out, ps
			}
		}
		l = next
	}
}
