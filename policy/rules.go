package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// normalized applies the rule's normalize steps, in order.
func (r *rule) normalized(v string) string {
	for _, s := range r.normalize {
		switch s {
		case normTrim:
			v = strings.TrimSpace(v)
		case normLower:
			v = strings.ToLower(v)
		case normUpper:
			v = strings.ToUpper(v)
		}
	}
	return v
}

// valueProblem says why v is not an acceptable value for a require rule
// ("" when it is): empty, not normalized, not allowed, or not matching the
// pattern.
func (r *rule) valueProblem(v string) string {
	return string(r.appendValueProblem(nil, v))
}

// appendValueProblem appends valueProblem(v) to b.
func (r *rule) appendValueProblem(b []byte, v string) []byte {
	n := r.normalized(v)
	switch {
	case n == "":
		return append(b, "the value is empty"...)
	case len(r.allowed) > 0 && !slices.Contains(r.allowed, n):
		b = append(b, "it is not one of "...)
		for i, a := range r.allowed {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, a...)
		}
		return b
	case r.pattern != nil && !r.pattern.MatchString(n):
		b = append(b, "it does not match "...)
		return append(b, r.pattern.String()...)
	case n != v:
		b = append(b, "it is not normalized ("...)
		b = r.appendNormalizeWords(b)
		b = append(b, " makes it "...)
		b = strconv.AppendQuote(b, n)
		return append(b, ')')
	}
	return b
}

// valid reports whether v is an acceptable value for a require rule, like
// valueProblem(v) == "" but without building a message.
func (r *rule) valid(v string) bool {
	n := v
	if len(r.normalize) > 0 {
		n = r.normalized(v)
	}
	return n != "" && n == v &&
		(len(r.allowed) == 0 || slices.Contains(r.allowed, n)) &&
		(r.pattern == nil || r.pattern.MatchString(n))
}

// requireProblem is valueProblem plus the API's tag rules: what a value
// needs to be written for a require rule.
func (r *rule) requireProblem(v string, l Limits) string {
	if err := l.CheckValue(v); err != nil {
		return err.Error()
	}
	return r.valueProblem(v)
}

// literalProblem checks a text written in a policy file (a default or an
// allowed value): tag rules first, then normalization, then the rule.
func (r *rule) literalProblem(v string, l Limits) string {
	if err := l.CheckValue(v); err != nil {
		return err.Error()
	}
	if n := r.normalized(v); n != v && n != "" {
		return fmt.Sprintf("it is not normalized (%s makes it %q)", r.normalizeWords(), n)
	}
	return r.valueProblem(v)
}

// replaceProblem says why v cannot replace a forbidden value.
func (r *rule) replaceProblem(v string, l Limits) string {
	if err := l.CheckValue(v); err != nil {
		return err.Error()
	}
	if r.forbidden(v) {
		return "it is itself forbidden by the rule"
	}
	return ""
}

// forbidden reports whether a present value breaks a forbid rule. Values
// compare case-insensitively, ignoring surrounding spaces.
func (r *rule) forbidden(v string) bool {
	if len(r.values) == 0 && r.pattern == nil {
		return true
	}
	t := strings.TrimSpace(v)
	for _, f := range r.values {
		if strings.EqualFold(t, strings.TrimSpace(f)) {
			return true
		}
	}
	return r.pattern != nil && r.pattern.MatchString(v)
}

// accepts reports whether the state of the rule's tag (present with value
// v, or absent) satisfies the rule.
func (r *rule) accepts(present bool, v string) bool {
	switch r.kind {
	case kindRequire:
		return present && r.valid(v)
	case kindForbid:
		return !present || !r.forbidden(v)
	default:
		return !present
	}
}

func (r *rule) normalizeWords() string {
	return string(r.appendNormalizeWords(nil))
}

func (r *rule) appendNormalizeWords(b []byte) []byte {
	b = append(b, "normalize "...)
	for i, s := range r.normalize {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, [...]string{"trim", "lower", "upper"}[s]...)
	}
	return b
}
