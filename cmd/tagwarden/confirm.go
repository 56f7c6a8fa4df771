package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// approval is the one answer apply takes as a yes, after trimming white
// space: not "y", not "YES".
const approval = "yes"

// errNoTerminal is apply's refusal to write when nobody can be asked.
var errNoTerminal = errors.New("apply asks before it writes, and standard input is not a terminal: " +
	"pass --auto-approve to apply without asking, or save a plan with \"tagwarden plan --out FILE\", " +
	"review it, and apply it with \"tagwarden apply FILE\"")

// isInteractive reports whether someone can answer apply's question: stdin
// is a terminal (or the tests say so).
func (g *globals) isInteractive() bool {
	if g.interactive != nil {
		return *g.interactive
	}
	f, ok := g.stdin.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// confirmQuestion is apply's question for changes tag changes to keys keys.
func confirmQuestion(changes, keys int) string {
	these := "these"
	if changes == 1 {
		these = "this"
	}
	return fmt.Sprintf("Apply %s %d %s to %d %s? Only '%s' is accepted: ",
		these, changes, plural(changes, "change", "changes"), keys, plural(keys, "key", "keys"), approval)
}

// confirm asks question on w and reads one line from r. It returns nil only
// when the line is exactly "yes" (white space aside); any other answer, an
// empty one or the end of the input is a refusal, and a cancelled ctx
// (Ctrl-C) stops the wait.
func confirm(ctx context.Context, r io.Reader, w io.Writer, question string) error {
	fmt.Fprint(w, question)
	type line struct {
		s   string
		err error
	}
	got := make(chan line, 1)
	go func() {
		// A goroutine, so that Ctrl-C is not stuck behind the read; it
		// ends with the process (the read of a terminal cannot be cut).
		s, err := bufio.NewReader(r).ReadString('\n')
		got <- line{s, err}
	}()
	var l line
	select {
	case <-ctx.Done():
		fmt.Fprintln(w)
		return errors.New("interrupted: nothing was written")
	case l = <-got:
	}
	answer := strings.TrimSpace(l.s)
	if l.err != nil && !errors.Is(l.err, io.EOF) {
		return fmt.Errorf("read the answer: %w: nothing was written", l.err)
	}
	if errors.Is(l.err, io.EOF) && answer == "" {
		fmt.Fprintln(w)
		return errors.New("apply cancelled: no answer (end of input), nothing was written")
	}
	if answer != approval {
		return fmt.Errorf("apply cancelled: the answer was %q, not '%s': nothing was written", clip(answer, 40), approval)
	}
	return nil
}

// clip shortens s to at most n runes, marking the cut.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
