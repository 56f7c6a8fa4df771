package policy

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits are the rules the KMS tag API imposes on what tagwarden may write.
// Every value the planner proposes is checked against them first; a value
// that breaks them becomes a "cannot remediate" violation, never a write.
type Limits struct {
	// MaxKeyLen is the longest tag key, in Unicode characters (default 36).
	MaxKeyLen int
	// MaxValueLen is the longest tag value, in Unicode characters (default 43).
	MaxValueLen int
	// MaxTags is the most tags a key may carry after a change (default 10).
	MaxTags int
	// MaxBatch is the most tags sent in one BatchCreateKmsTags call
	// (default 10); pass it to Decision.Batches.
	MaxBatch int
	// ReservedPrefixes are tag key prefixes that are never written, deleted
	// or matched by a rule. Nil means the default, ["_sys_"]; an empty,
	// non-nil slice means none.
	ReservedPrefixes []string
}

// DefaultLimits returns the stricter set of the documented KMS tag rules:
// keys of 1..36 characters, values of 0..43, at most 10 tags per key, 10
// tags per call, and the reserved prefix "_sys_".
func DefaultLimits() Limits {
	return Limits{MaxKeyLen: 36, MaxValueLen: 43, MaxTags: 10, MaxBatch: 10, ReservedPrefixes: []string{"_sys_"}}
}

// WithDefaults returns l with every zero (or negative) number and a nil
// ReservedPrefixes taken from DefaultLimits; an empty, non-nil
// ReservedPrefixes stays empty.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	if l.MaxKeyLen <= 0 {
		l.MaxKeyLen = d.MaxKeyLen
	}
	if l.MaxValueLen <= 0 {
		l.MaxValueLen = d.MaxValueLen
	}
	if l.MaxTags <= 0 {
		l.MaxTags = d.MaxTags
	}
	if l.MaxBatch <= 0 {
		l.MaxBatch = d.MaxBatch
	}
	if l.ReservedPrefixes == nil {
		l.ReservedPrefixes = d.ReservedPrefixes
	}
	return l
}

// Reserved reports whether a tag key starts with a reserved prefix.
func (l Limits) Reserved(key string) bool {
	for _, p := range l.ReservedPrefixes {
		if p != "" && strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// CheckKey returns why a tag key may not be written, or nil.
func (l Limits) CheckKey(key string) error {
	if key == "" {
		return fmt.Errorf("tag key is empty")
	}
	if n := utf8.RuneCountInString(key); n > l.MaxKeyLen {
		return fmt.Errorf("tag key %q is %d characters long, more than %d", key, n, l.MaxKeyLen)
	}
	if err := checkChars(key); err != nil {
		return fmt.Errorf("tag key %q %w", key, err)
	}
	for _, p := range l.ReservedPrefixes {
		if p != "" && strings.HasPrefix(key, p) {
			return fmt.Errorf("tag key %q uses the reserved prefix %q", key, p)
		}
	}
	return nil
}

// CheckValue returns why a tag value may not be written, or nil. The empty
// value is valid.
func (l Limits) CheckValue(value string) error {
	if n := utf8.RuneCountInString(value); n > l.MaxValueLen {
		return fmt.Errorf("value %q is %d characters long, more than %d", value, n, l.MaxValueLen)
	}
	if err := checkChars(value); err != nil {
		return fmt.Errorf("value %q %w", value, err)
	}
	return nil
}

// checkChars rejects what the API forbids in keys and values: ASCII 0-31,
// '*', '<', '>', '\' and '='. Invalid UTF-8 is rejected too.
func checkChars(s string) error {
	for i, r := range s {
		switch {
		case r < 32:
			return fmt.Errorf("contains the control character %U", r)
		case r == '*' || r == '<' || r == '>' || r == '\\' || r == '=':
			return fmt.Errorf("contains %q, which tags may not contain", r)
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return fmt.Errorf("is not valid UTF-8")
			}
		}
	}
	return nil
}
