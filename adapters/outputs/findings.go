package outputs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// FindingsOf returns what a person should know of one key's report:
// each violation no tag change of the run fixes, the failure of a key
// that failed, and, when changes is true, the tags written (or planned).
// Compliant and skipped keys have none.
func FindingsOf(target string, kr handler.KeyReport, changes bool) []Finding {
	var out []Finding
	add := func(f Finding) {
		f.Target, f.KeyID, f.Alias = target, kr.KeyID, kr.Alias
		f.ID = findingID(f)
		// The texts go into e-mail and a page a person reads: each is
		// bounded, and cannot reorder what is shown around it.
		for _, p := range []*string{&f.Target, &f.KeyID, &f.Alias, &f.Policy, &f.Rule, &f.Tag, &f.Problem, &f.Action, &f.Owner} {
			*p = findingText(*p)
		}
		out = append(out, f)
	}
	switch kr.Outcome {
	case handler.OutcomeFailed:
		problem := kr.Error
		if problem == "" {
			problem = kr.Reason
		}
		add(Finding{Kind: KindFailed, Problem: oneLine(problem), Action: failedAction(kr)})
		return out
	case handler.OutcomeSkipped, handler.OutcomeCompliant:
		return nil
	}
	for _, v := range kr.Violations {
		if v.Remediated && (kr.Outcome == handler.OutcomeChanged || kr.Outcome == handler.OutcomePlanned) {
			continue // the run's changes fix it (or, in a dry run, would)
		}
		add(Finding{Kind: KindViolation, Policy: v.Policy, Rule: v.Rule, Tag: v.Tag,
			Problem: oneLine(v.Message), Action: violationAction(v, kr), Owner: strings.TrimSpace(v.Notify)})
	}
	if changes && (len(kr.Create) > 0 || len(kr.Delete) > 0) {
		verb, action := "wrote", "nothing: tagwarden wrote these tags"
		if kr.Outcome == handler.OutcomePlanned {
			verb, action = "would write", "nothing yet: a run without dry run writes these tags"
		}
		add(Finding{Kind: KindChanged, Problem: verb + " " + describeChanges(kr.Create, kr.Delete), Action: action,
			Owner: firstOwner(kr.Violations)})
	}
	return out
}

// NeedsPerson reports whether a finding is one a person must act on
// (a violation or a failure, not a change).
func (f Finding) NeedsPerson() bool { return f.Kind != KindChanged }

func violationAction(v policy.Violation, kr handler.KeyReport) string {
	switch {
	case v.Due != "":
		return fmt.Sprintf("fix it before %s, or tagwarden fixes it then (grace period)", v.Due)
	case v.Tag != "":
		return fmt.Sprintf("set the tag %q by hand to a value the policy %q allows, or exempt the key", v.Tag, v.Policy)
	default:
		return fmt.Sprintf("fix the key's tags by hand as the policy %q asks, or exempt the key", v.Policy)
	}
}

func failedAction(kr handler.KeyReport) string {
	e := strings.ToLower(kr.Error + " " + kr.Reason)
	switch {
	case strings.Contains(e, "denied") || strings.Contains(e, "403") || strings.Contains(e, "permission"):
		return "grant the function's identity the KMS tag permissions on this key; the next sweep retries it"
	case strings.Contains(e, "cannot remediate") || strings.Contains(e, "invalid"):
		return "fix the tags by hand: the planned value breaks the API's tag rules"
	default:
		return "check the error; the next sweep retries the key"
	}
}

func describeChanges(create, del []policy.Tag) string {
	var parts []string
	for _, t := range create {
		parts = append(parts, fmt.Sprintf("%s=%s", t.Key, t.Value))
	}
	for _, t := range del {
		parts = append(parts, "-"+t.Key)
	}
	return strings.Join(parts, ", ")
}

func firstOwner(vs []policy.Violation) string {
	for _, v := range vs {
		if o := strings.TrimSpace(v.Notify); o != "" {
			return o
		}
	}
	return ""
}

// oneLine keeps a text on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// maxFindingText bounds each text of a finding, in bytes: a tag value
// is at most 255 characters, and a message quotes a few.
const maxFindingText = 1024

// findingText is s valid UTF-8, its bidirectional controls and marks
// (U+202A to U+202E, U+2066 to U+2069, U+200E, U+200F, U+061C) and
// U+FEFF replaced by U+FFFD, cut to maxFindingText
// bytes on a rune boundary with "…".
func findingText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 || r == 0x200E || r == 0x200F || r == 0x061C || r == 0xFEFF {
			return '\uFFFD'
		}
		return r
	}, s)
	return msgCut(s, maxFindingText)
}

// findingID digests what identifies a finding across runs: its target,
// key, kind, policy, rule and tag (not its message, which may quote the
// value that changes).
func findingID(f Finding) string {
	h := sha256.New()
	for _, s := range []string{f.Target, f.KeyID, f.Kind, f.Policy, f.Rule, f.Tag} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
