package policy

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DueTag is the reserved tag that records grace periods on a key: for each
// rule with a grace period whose violation was found, the date from which
// it is fixed. No rule may target it, forbid_key never matches it, and
// expressions do not see it in tags; only an engine with a rule that has a
// grace period writes or deletes it.
//
// Its value is a space-separated list of groups "YYMMDD:id.id", one per due
// date (UTC) in increasing order, each naming the rules due that day by
// their grace ids (RuleInfo.GraceID, three characters [0-9a-z]), sorted:
// "261210:k3x.a9b 261215:q0f".
const DueTag = "tagwarden-due"

// maxGrace is the longest grace period: due dates are written with a
// two-digit year.
const maxGrace = 3650 * 24 * time.Hour

// parseGrace reads a grace period: a Go duration (72h, 90m) or whole days
// (7d). Zero means none.
func parseGrace(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	var d time.Duration
	if days, ok := strings.CutSuffix(t, "d"); ok && days != "" && strings.Trim(days, "0123456789") == "" {
		n, err := strconv.Atoi(days)
		if err != nil || n > int(maxGrace/(24*time.Hour)) {
			return 0, fmt.Errorf("%q is longer than %d days", s, maxGrace/(24*time.Hour))
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(t); err != nil {
			return 0, fmt.Errorf("%q is not a duration such as 72h or 7d", s)
		}
	}
	switch {
	case d < 0:
		return 0, fmt.Errorf("%q is negative", s)
	case d > maxGrace:
		return 0, fmt.Errorf("%q is longer than %d days", s, maxGrace/(24*time.Hour))
	}
	return d, nil
}

// formatGrace writes a grace period the way policies do: days when whole.
func formatGrace(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// graceID is the short id of a rule in the due tag: three base-36
// characters of a hash of its policy's name and the rule's label, so that
// it stays the same while neither is renamed.
func graceID(policy, label string) string {
	sum := sha256.Sum256([]byte(policy + "\x00" + label))
	n := binary.BigEndian.Uint32(sum[:4]) % (36 * 36 * 36)
	s := strconv.FormatUint(uint64(n), 36)
	return strings.Repeat("0", 3-len(s)) + s
}

// dueDate is when a violation found at now is fixed: the first midnight
// (UTC) at or after now + grace, so that the fix never comes before the
// grace is over, and at most a day after.
func dueDate(now time.Time, grace time.Duration) time.Time {
	t := now.Add(grace).UTC()
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if d.Before(t) {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

// DateLayout is how due dates and exemption dates are shown:
// Violation.Due, ExemptionMatch.Until.
const DateLayout = "2006-01-02"

// parseDue reads the due tag's value into marks by grace id. It fails on
// anything but the exact form DueTag describes.
func parseDue(v string) (map[string]time.Time, error) {
	marks := map[string]time.Time{}
	if v == "" {
		return nil, fmt.Errorf("the value is empty")
	}
	var last time.Time
	for _, g := range strings.Split(v, " ") {
		date, ids, ok := strings.Cut(g, ":")
		if !ok || len(date) != 6 || strings.Trim(date, "0123456789") != "" {
			return nil, fmt.Errorf("%q is not YYMMDD:id", g)
		}
		d, err := time.Parse("060102", date)
		if err != nil {
			return nil, fmt.Errorf("%q is not a date", date)
		}
		if !last.IsZero() && !d.After(last) {
			return nil, fmt.Errorf("the dates are not in increasing order")
		}
		last = d
		for _, id := range strings.Split(ids, ".") {
			if len(id) != 3 || strings.Trim(id, "0123456789abcdefghijklmnopqrstuvwxyz") != "" {
				return nil, fmt.Errorf("%q is not a rule id (three characters 0-9, a-z)", id)
			}
			if _, dup := marks[id]; dup {
				return nil, fmt.Errorf("rule id %q appears twice", id)
			}
			marks[id] = d
		}
	}
	return marks, nil
}

// mark is one rule's due date in the due tag.
type mark struct {
	id  string
	due time.Time
}

// encodeDue writes marks in the form DueTag describes.
func encodeDue(marks []mark) string {
	ms := slices.Clone(marks)
	slices.SortFunc(ms, func(a, b mark) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	var b strings.Builder
	for i, m := range ms {
		switch {
		case i == 0:
		case m.due.Equal(ms[i-1].due):
			b.WriteByte('.')
			b.WriteString(m.id)
			continue
		default:
			b.WriteByte(' ')
		}
		b.WriteString(m.due.Format("060102"))
		b.WriteByte(':')
		b.WriteString(m.id)
	}
	return b.String()
}

// fitDue keeps the marks that fit in a value of at most maxLen characters:
// keep first (the marks already written, so that no promised date is lost),
// then add by due date and id. It returns the marks kept and those left out.
func fitDue(keep, add []mark, maxLen int) (kept, out []mark) {
	slices.SortFunc(add, func(a, b mark) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	kept = slices.Clone(keep)
	for _, m := range add {
		if utf8.RuneCountInString(encodeDue(append(kept, m))) <= maxLen {
			kept = append(kept, m)
		} else {
			out = append(out, m)
		}
	}
	return kept, out
}
