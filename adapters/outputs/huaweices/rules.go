package huaweices

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Cloud Eye's rules for custom metric data (POST /V1.0/{project_id}/
// metric-data). The sources are listed in the package documentation.
const (
	// DefaultNamespace is the namespace of tagwarden's metrics.
	DefaultNamespace = "TagWarden.KMS"

	// MinNamespaceLen and MaxNamespaceLen bound a namespace: "3 to 32
	// characters".
	MinNamespaceLen, MaxNamespaceLen = 3, 32
	// MaxMetricNameLen bounds a metric name: "[1,96]".
	MaxMetricNameLen = 96
	// MaxDimensions a datum may have (and at least one): "[1,4]".
	MaxDimensions = 4
	// MaxDimensionNameLen bounds a dimension's name: "1 to 32 characters".
	MaxDimensionNameLen = 32
	// MaxDimensionValueLen bounds a dimension's value: "1 to 256 characters".
	MaxDimensionValueLen = 256
	// MaxUnitLen bounds a unit: "0 to 32 characters".
	MaxUnitLen = 32

	// MinTTL and MaxTTL bound the data's time to live, in seconds: "1 to
	// 604800". DefaultTTL is two days, the API reference's example.
	MinTTL, MaxTTL = 1, 604800
	DefaultTTL     = 172800

	// MaxRequestBytes bounds one request's body: "The size of a POST
	// request cannot exceed 512 KB", read as 512,000 bytes (the stricter
	// reading of KB).
	MaxRequestBytes = 512 * 1000

	// MaxCollectAge and MaxCollectAhead are the API's window for
	// collect_time around the service's clock: "between three days before
	// and 10 minutes after the current time". CollectMargin is kept
	// inside both ends for the latency to the service (the API reference
	// asks for [now - 3d + 20s, now + 10 min - 20s]).
	MaxCollectAge   = 72 * time.Hour
	MaxCollectAhead = 10 * time.Minute
	CollectMargin   = 20 * time.Second
)

// reservedServices may not begin a namespace's service ("service cannot
// start with SYS, AGT, or SRE"); compared without regard to case.
var reservedServices = []string{"SYS", "AGT", "SRE"}

// reservedNamespace "has been used by the system".
const reservedNamespace = "SERVICE.BMS"

func isLetter(c byte) bool { return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }

// isNameByte: letters, digits, "_" and "-", the characters of metric
// names, dimension names and dimension values.
func isNameByte(c byte) bool { return isLetter(c) || isDigit(c) || c == '_' || c == '-' }

// CheckNamespace reports why ns is not a custom namespace Cloud Eye
// accepts, or nil: service.item, 3 to 32 characters, service and item
// each a letter then letters, digits or underscores; the service may not
// start with SYS, AGT or SRE (in any case), and SERVICE.BMS is the
// system's.
func CheckNamespace(ns string) error {
	if len(ns) < MinNamespaceLen || len(ns) > MaxNamespaceLen {
		return fmt.Errorf("namespace %s has %d characters: want %d to %d", quote(ns), len(ns), MinNamespaceLen, MaxNamespaceLen)
	}
	service, item, ok := strings.Cut(ns, ".")
	if !ok || strings.Contains(item, ".") {
		return fmt.Errorf("namespace %s: want the form service.item, with one dot", quote(ns))
	}
	for _, part := range []string{service, item} {
		if part == "" || !isLetter(part[0]) {
			return fmt.Errorf("namespace %s: service and item must each start with a letter", quote(ns))
		}
		for i := 0; i < len(part); i++ {
			if c := part[i]; !isLetter(c) && !isDigit(c) && c != '_' {
				return fmt.Errorf("namespace %s: only letters, digits and underscores around the dot", quote(ns))
			}
		}
	}
	for _, p := range reservedServices {
		if len(service) >= len(p) && strings.EqualFold(service[:len(p)], p) {
			return fmt.Errorf("namespace %s: a service starting with %s is reserved for Cloud Eye's own metrics (SYS, AGT, SRE)", quote(ns), p)
		}
	}
	if strings.EqualFold(ns, reservedNamespace) {
		return fmt.Errorf("namespace %s is used by the system", quote(ns))
	}
	return nil
}

// CheckMetricName reports why name is not a metric name Cloud Eye
// accepts, or nil: 1 to 96 characters, a letter then letters, digits,
// underscores or hyphens.
func CheckMetricName(name string) error {
	return checkName("metric name", name, MaxMetricNameLen)
}

// CheckDimension reports why a dimension is not one Cloud Eye accepts, or
// nil: the name 1 to 32 characters, a letter then letters, digits,
// underscores or hyphens; the value 1 to 256 characters, a letter or a
// digit then letters, digits, underscores or hyphens. SafeDimensionValue
// makes any string a valid value.
func CheckDimension(name, value string) error {
	if err := checkName("dimension name", name, MaxDimensionNameLen); err != nil {
		return err
	}
	if len(value) == 0 || len(value) > MaxDimensionValueLen {
		return fmt.Errorf("dimension %s: the value has %d characters: want 1 to %d", name, len(value), MaxDimensionValueLen)
	}
	if !isLetter(value[0]) && !isDigit(value[0]) {
		return fmt.Errorf("dimension %s: the value %s must start with a letter or a digit", name, quote(value))
	}
	for i := 0; i < len(value); i++ {
		if !isNameByte(value[i]) {
			return fmt.Errorf("dimension %s: the value %s may hold only letters, digits, underscores and hyphens", name, quote(value))
		}
	}
	return nil
}

// checkName: 1 to max characters, a letter then letters, digits, "_", "-".
func checkName(what, s string, max int) error {
	if len(s) == 0 || len(s) > max {
		return fmt.Errorf("%s %s has %d characters: want 1 to %d", what, quote(s), len(s), max)
	}
	if !isLetter(s[0]) {
		return fmt.Errorf("%s %s must start with a letter", what, quote(s))
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return fmt.Errorf("%s %s may hold only letters, digits, underscores and hyphens", what, quote(s))
		}
	}
	return nil
}

// checkUnit: valid UTF-8, at most 32 characters.
func checkUnit(u string) error {
	if !utf8.ValidString(u) {
		return errors.New("the unit is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(u); n > MaxUnitLen {
		return fmt.Errorf("the unit %s has %d characters: at most %d", quote(u), n, MaxUnitLen)
	}
	return nil
}

// digestLen is the number of hex digits of the digest SafeDimensionValue
// appends: 48 bits.
const digestLen = 12

// SafeDimensionValue maps any string to a valid dimension value (see
// CheckDimension), deterministically:
//
//   - a valid value is returned as it is;
//   - any other string s becomes its readable form, "-", and the first 12
//     hex digits of SHA-256(s). The readable form is s with every
//     character other than an ASCII letter, digit, "_" or "-" replaced by
//     "_" (one "_" per character, so "ap-southeast-1/p1" reads
//     "ap-southeast-1_p1"), an "x" in front when it does not start with a
//     letter or digit, cut to 243 bytes so that the whole fits in 256.
//
// So "ap-southeast-1/p1" becomes "ap-southeast-1_p1-" and 12 hex digits.
// Two distinct strings map to distinct values unless their digests'
// first 48 bits collide: a valid value that another string's readable
// form equals stays itself, while that string gets its digest.
func SafeDimensionValue(s string) string {
	if CheckDimension("d", s) == nil {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	suffix := "-" + hex.EncodeToString(sum[:])[:digestLen]
	var b strings.Builder
	for _, r := range s {
		if r < utf8.RuneSelf && isNameByte(byte(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	readable := b.String()
	if readable == "" || !isLetter(readable[0]) && !isDigit(readable[0]) {
		readable = "x" + readable
	}
	if max := MaxDimensionValueLen - len(suffix); len(readable) > max {
		readable = readable[:max]
	}
	return readable + suffix
}

// quote is %q of s, cut to 64 bytes: errors name what they refuse without
// repeating a long value whole.
func quote(s string) string {
	const max = 64
	if len(s) <= max {
		return fmt.Sprintf("%q", s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q...", s[:cut])
}
