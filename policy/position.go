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

// flowScan is the state of decoding one flow scalar: what it emitted so far.
type flowScan struct {
	s     *source
	quote rune
	out   []rune
	ps    []pos
}

func (f *flowScan) emit(r rune, p pos) {
	f.out = append(f.out, r)
	f.ps = append(f.ps, p)
}

func (f *flowScan) emitAll(buf []runeOf) {
	for _, b := range buf {
		f.emit(b.r, b.p)
	}
}

// How the scan of one line of a flow scalar ended.
const (
	lineEnd          = iota // at the end of the line
	lineClosed              // at the closing quote
	lineEscapedBreak        // at a backslash ending the line (double-quoted)
	lineBad                 // at an escape that does not decode
	lineFull                // with limit runes (plain scalars)
)

// flowRunes decodes a plain (quote 0), single- or double-quoted scalar
// starting at n, folding line breaks the YAML way, until it has produced
// limit runes or met the closing quote.
func (s *source) flowRunes(n *yaml.Node, quote rune, limit int) ([]rune, []pos) {
	f := &flowScan{s: s, quote: quote}
	line := n.Line
	text := []rune(s.line(line))
	i := n.Column - 1
	if quote != 0 {
		i++
	}
	for range 10000 {
		buf, how := f.scanLine(text, i, line, limit)
		switch how {
		case lineBad:
			return nil, nil
		case lineClosed, lineFull:
			f.emitAll(buf)
			return f.out, f.ps
		}
		// A line break: trailing white space goes, unless escaped.
		end := len(buf)
		if how != lineEscapedBreak {
			for end > 0 && buf[end-1].raw {
				end--
			}
		}
		f.emitAll(buf[:end])
		breakAt := pos{line, len(text) + 1}
		if end < len(buf) {
			breakAt = buf[end].p
		}
		var ok bool
		if line, text, ok = f.fold(line, breakAt, how == lineEscapedBreak); !ok {
			return f.out, f.ps
		}
		i = 0
		for i < len(text) && (text[i] == ' ' || text[i] == '\t') {
			i++
		}
	}
	return f.out, f.ps
}

// scanLine decodes text from i (a line of the scalar, line number line)
// and says how the line ended.
func (f *flowScan) scanLine(text []rune, i, line, limit int) ([]runeOf, int) {
	var buf []runeOf
	quote := f.quote
	for i < len(text) {
		if quote == 0 && len(f.out)+len(buf) >= limit {
			break
		}
		c := text[i]
		switch {
		case quote == '"' && c == '"', quote == '\'' && c == '\'' && (i+1 >= len(text) || text[i+1] != '\''):
			return buf, lineClosed
		case quote == '\'' && c == '\'':
			buf = append(buf, runeOf{r: '\'', p: pos{line, i + 1}})
			i += 2
			continue
		case quote == '"' && c == '\\':
			if i+1 >= len(text) {
				return buf, lineEscapedBreak
			}
			r, size, ok := unescape(text[i+1:])
			if !ok {
				return nil, lineBad
			}
			buf = append(buf, runeOf{r: r, p: pos{line, i + 1}})
			i += 1 + size
			continue
		}
		buf = append(buf, runeOf{r: c, p: pos{line, i + 1}, raw: c == ' ' || c == '\t'})
		i++
	}
	if quote == 0 && len(f.out)+len(buf) >= limit {
		return buf, lineFull
	}
	return buf, lineEnd
}

// fold emits what the line break after line becomes and returns the next
// line with text: blank lines become line feeds; a single break becomes a
// space (none after an escaped break). ok is false past the last line.
func (f *flowScan) fold(line int, breakAt pos, escapedBreak bool) (int, []rune, bool) {
	var blanks []int
	var text []rune
	for {
		line++
		if line > len(f.s.lines) {
			return line, nil, false
		}
		text = []rune(f.s.line(line))
		if strings.TrimLeft(string(text), " \t") != "" {
			break
		}
		blanks = append(blanks, line)
	}
	if len(blanks) == 0 && !escapedBreak {
		f.emit(' ', breakAt)
	}
	for _, l := range blanks {
		f.emit('\n', pos{l, 1})
	}
	return line, text, true
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

// block is a block scalar's body: its lines from first on, at indent.
type block struct {
	s      *source
	first  int
	indent int
}

// Kinds of line of a block scalar.
const (
	blockText  = iota // part of the block, with text
	blockBlank        // blank
	blockEnd          // past the block
)

// content returns the runes of line l after the indentation and what kind
// of line it is.
func (b block) content(l int) ([]rune, int) {
	if l > len(b.s.lines) {
		return nil, blockEnd
	}
	t := []rune(b.s.line(l))
	switch {
	case strings.TrimSpace(string(t)) == "":
		return nil, blockBlank
	case len(t) < b.indent || strings.TrimLeft(string(t[:b.indent]), " ") != "":
		return nil, blockEnd
	}
	return t[b.indent:], blockText
}

// blockAt returns the body of the block scalar whose header is at n; false
// when it is empty or has an explicit indentation (not mapped).
func (s *source) blockAt(n *yaml.Node) (block, bool) {
	header := strings.TrimSpace(s.line(n.Line))
	if i := strings.LastIndexAny(header, "|>"); i >= 0 && strings.ContainsAny(strings.Fields(header[i:] + " ")[0], "123456789") {
		return block{}, false
	}
	for l := n.Line + 1; l <= len(s.lines); l++ {
		if t := s.line(l); strings.TrimSpace(t) != "" {
			return block{s: s, first: n.Line + 1, indent: len([]rune(t)) - len([]rune(strings.TrimLeft(t, " ")))}, true
		}
	}
	return block{}, false
}

// blockRunes decodes a literal (|) or folded (>) block scalar whose header
// is at n, until it has produced limit runes.
func (s *source) blockRunes(n *yaml.Node, limit int) ([]rune, []pos) {
	b, ok := s.blockAt(n)
	if !ok {
		return nil, nil
	}
	folded := n.Style&yaml.FoldedStyle != 0
	var out []rune
	var ps []pos
	emit := func(r rune, p pos) bool {
		out = append(out, r)
		ps = append(ps, p)
		return len(out) >= limit
	}
	normal := func(t []rune) bool { return len(t) > 0 && t[0] != ' ' && t[0] != '\t' }
	if limit == 0 {
		return out, ps
	}
	for l := b.first; ; {
		cur, kind := b.content(l)
		switch kind {
		case blockEnd:
			return out, ps
		case blockBlank:
			if emit('\n', pos{l, 1}) {
				return out, ps
			}
			l++
			continue
		}
		for j, r := range cur {
			if emit(r, pos{l, b.indent + j + 1}) {
				return out, ps
			}
		}
		breakAt := pos{l, b.indent + len(cur) + 1}
		// Look past blank lines to the next line of text.
		next := l + 1
		nextText, nextKind := b.content(next)
		for nextKind == blockBlank {
			next++
			nextText, nextKind = b.content(next)
		}
		switch {
		case !folded || nextKind == blockEnd || !normal(cur) || !normal(nextText):
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
		for bl := l + 1; bl < next; bl++ {
			if emit('\n', pos{bl, 1}) {
				return out, ps
			}
		}
		l = next
	}
}
