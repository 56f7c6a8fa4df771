package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// LoadError is one problem found while loading policies or policy test
// cases: where it is (file, 1-based line and column) and what is wrong.
type LoadError struct {
	File    string
	Line    int
	Column  int
	Message string
	// Source is the text of the line the error points at, when known.
	Source string
}

// Error returns "file:line:column: message".
func (e *LoadError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Message)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)
	default:
		return fmt.Sprintf("%s: %s", e.File, e.Message)
	}
}

// Detail returns Error followed by the source line and a caret under the
// column, the way compilers show errors.
func (e *LoadError) Detail() string {
	if e.Source == "" || e.Line < 1 {
		return e.Error()
	}
	var b strings.Builder
	b.WriteString(e.Error())
	b.WriteString("\n    | ")
	b.WriteString(strings.ReplaceAll(e.Source, "\t", " "))
	if e.Column > 0 {
		b.WriteString("\n    | ")
		b.WriteString(strings.Repeat(" ", min(e.Column-1, len([]rune(e.Source)))))
		b.WriteString("^")
	}
	return b.String()
}

// LoadErrors is every problem found by one Load or RunTests call, sorted by
// file, line and column. Load returns it (as error) whenever it is not
// empty, and then no engine: nothing half-loads.
type LoadErrors []*LoadError

// Error lists every error with its source line, one after the other.
func (es LoadErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Detail()
	}
	return strings.Join(parts, "\n")
}

// Unwrap returns the errors one by one, for errors.As and errors.Is.
func (es LoadErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

func (es LoadErrors) sort() {
	slices.SortStableFunc(es, func(a, b *LoadError) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
}
