package policy

import (
	"fmt"
	"hash"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// ExemptionsFile is the name of the exemptions file beside the policy files
// (exemptions.yml is read too). It is not a policy file.
const ExemptionsFile = "exemptions.yaml"

func isExemptionsFile(name string) bool {
	return name == ExemptionsFile || name == "exemptions.yml"
}

// Exemption is one entry of the exemptions file (or of a test case): the
// keys it names, the policies it exempts them from, until when, and why.
type Exemption struct {
	// Entry names the entry: "file:line".
	Entry string `json:"entry"`
	File  string `json:"file"`
	Line  int    `json:"line"`
	// Keys are key ids; Aliases regular expressions (Go RE2, not anchored)
	// on the key's alias. A key named by either is selected.
	Keys    []string `json:"keys,omitempty"`
	Aliases []string `json:"aliases,omitempty"`
	// Policies are the policies the keys are exempt from; empty means all.
	Policies []string `json:"policies,omitempty"`
	// Until is when the entry stops applying (exclusive): the end of the
	// day written (UTC), or the exact time when one was written.
	Until time.Time `json:"until"`
	// UntilText is the date as written in the file.
	UntilText  string `json:"until_text"`
	Reason     string `json:"reason"`
	ApprovedBy string `json:"approved_by,omitempty"`
}

// Expired reports whether the entry no longer applies at now.
func (x Exemption) Expired(now time.Time) bool { return !now.Before(x.Until) }

// ExemptionStatus is an entry with its state at some time.
type ExemptionStatus struct {
	Exemption
	// Expired: past its date, the entry no longer applies.
	Expired bool `json:"expired"`
}

// ExemptionMatch is an entry that selects a key, as a Decision reports it:
// the key is skipped by the entry's policies unless it has expired.
type ExemptionMatch struct {
	Entry      string   `json:"entry"`
	Policies   []string `json:"policies,omitempty"` // empty: all
	Until      string   `json:"until"`              // as written in the file
	Reason     string   `json:"reason"`
	ApprovedBy string   `json:"approved_by,omitempty"`
	Expired    bool     `json:"expired,omitempty"`
}

// exemption is a compiled entry.
type exemption struct {
	Exemption
	aliases  []*regexp.Regexp
	policyAt []pos // where each policy name is written, for errors found later
}

// selects reports whether the entry names key k.
func (x *exemption) selects(k *Key) bool {
	if slices.Contains(x.Keys, k.ID) {
		return true
	}
	for _, re := range x.aliases {
		if re.MatchString(k.Alias) {
			return true
		}
	}
	return false
}

// covers reports whether the entry exempts from policy name.
func (x *exemption) covers(name string) bool {
	return len(x.Policies) == 0 || slices.Contains(x.Policies, name)
}

func (x *exemption) match(now time.Time) ExemptionMatch {
	return ExemptionMatch{Entry: x.Entry, Policies: x.Policies, Until: x.UntilText, Reason: x.Reason, ApprovedBy: x.ApprovedBy, Expired: x.Expired(now)}
}

var exemptionFields = []string{"keys", "aliases", "policies", "until", "reason", "approved_by"}

// exemptionsFile loads the exemptions file of fsys, if any, after the
// policies: entries name them. An entry already past its date is a warning.
func (l *loader) exemptionsFile(fsys fs.FS, digest hash.Hash) []*exemption {
	var found []string
	for _, name := range []string{ExemptionsFile, "exemptions.yml"} {
		if _, err := fs.Stat(fsys, name); err == nil {
			found = append(found, name)
		}
	}
	if len(found) == 0 {
		return nil
	}
	if len(found) > 1 {
		*l.errs = append(*l.errs, &LoadError{File: found[1], Message: fmt.Sprintf("both %s and %s: keep one exemptions file", found[0], found[1])})
		return nil
	}
	name := found[0]
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		*l.errs = append(*l.errs, &LoadError{File: name, Message: fmt.Sprintf("read: %v", err)})
		return nil
	}
	fmt.Fprintf(digest, "%q %d\n", name, len(data))
	digest.Write(data)
	src := newSource(name, data, l.errs)
	var out []*exemption
	for _, doc := range src.documents(data) {
		if !hasContent(doc) {
			continue
		}
		root := doc.Content[0]
		f := src.fields(root, "an exemptions file", []string{"exemptions"})
		if f == nil {
			continue
		}
		ex, ok := f["exemptions"]
		if !ok {
			src.errorf(root, "an exemptions file needs an \"exemptions:\" list")
			continue
		}
		list := resolve(ex.value)
		if list.Kind == yaml.ScalarNode && list.Tag == "!!null" {
			continue // no entries
		}
		if list.Kind != yaml.SequenceNode {
			src.errorf(list, "\"exemptions\" must be a list of entries, not %s", describe(list))
			continue
		}
		for _, n := range list.Content {
			x, ok := src.exemption(resolve(n))
			if !ok {
				continue
			}
			for i, p := range x.Policies {
				if _, known := l.names[p]; !known {
					src.errorAt(x.policyAt[i].line, x.policyAt[i].col, "exemption %s: no policy named %q", x.Entry, p)
				}
			}
			if x.Expired(l.now) {
				l.warnings = append(l.warnings, &LoadError{File: name, Line: x.Line, Column: resolve(n).Column, Source: src.line(x.Line),
					Message: fmt.Sprintf("exemption %s: until %s is already past: the entry no longer applies (remove it, or extend it with a new reason)", x.Entry, x.UntilText)})
			}
			out = append(out, x)
		}
	}
	return out
}

// exemption decodes one entry: keys and/or aliases, policies (optional),
// until and reason (required), approved_by (optional).
func (s *source) exemption(n *yaml.Node) (*exemption, bool) {
	nerr := len(*s.errs)
	x := &exemption{Exemption: Exemption{File: s.name, Line: n.Line, Entry: fmt.Sprintf("%s:%d", s.name, n.Line)}}
	f := s.fields(n, "an exemption", exemptionFields)
	if f == nil {
		return nil, false
	}
	ctx := "exemption " + x.Entry
	if v, ok := f["keys"]; ok {
		x.Keys, _ = s.strs(v.value, ctx+": keys")
		for i, k := range x.Keys {
			if strings.TrimSpace(k) == "" {
				s.errorf(allowedNode(v.value, i), "%s: a key id is empty", ctx)
			}
		}
	}
	if v, ok := f["aliases"]; ok {
		x.Aliases, _ = s.strs(v.value, ctx+": aliases")
		for i, a := range x.Aliases {
			re, err := regexp.Compile(a)
			if err != nil {
				s.errorf(allowedNode(v.value, i), "%s: alias pattern %q is not a valid regular expression: %s", ctx, a, reMessage(err))
				continue
			}
			x.aliases = append(x.aliases, re)
		}
	}
	if len(x.Keys) == 0 && len(x.Aliases) == 0 && len(*s.errs) == nerr {
		s.errorf(n, "%s names no key: give keys (key ids) or aliases (regular expressions)", ctx)
	}
	if v, ok := f["policies"]; ok {
		x.Policies, _ = s.strs(v.value, ctx+": policies")
		for i := range x.Policies {
			pn := resolve(allowedNode(v.value, i))
			x.policyAt = append(x.policyAt, pos{pn.Line, pn.Column})
		}
	}
	if v, ok := f["until"]; ok {
		x.UntilText, x.Until, _ = s.until(v.value, ctx)
	} else {
		s.errorf(n, "%s needs until: the date it ends (an exemption that never ends is a policy change)", ctx)
	}
	if v, ok := f["reason"]; ok {
		if r, ok := s.str(v.value, ctx+": reason"); ok {
			x.Reason = strings.TrimSpace(r)
			if x.Reason == "" {
				s.errorf(v.value, "%s: reason is empty: say why the keys are exempt", ctx)
			}
		}
	} else {
		s.errorf(n, "%s needs a reason: why the keys are exempt", ctx)
	}
	if v, ok := f["approved_by"]; ok {
		x.ApprovedBy, _ = s.str(v.value, ctx+": approved_by")
	}
	return x, len(*s.errs) == nerr
}

// until reads an exemption's end: a date (the entry holds through that
// day, UTC) or an RFC 3339 time (the entry holds until then).
func (s *source) until(n *yaml.Node, ctx string) (string, time.Time, bool) {
	v, ok := s.str(n, ctx+": until")
	if !ok {
		return "", time.Time{}, false
	}
	if d, err := time.Parse(DateLayout, v); err == nil {
		return v, d.AddDate(0, 0, 1), true
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return v, t, true
	}
	s.errorf(n, "%s: until must be a date such as 2027-03-31 or a time such as 2027-03-31T18:00:00Z, not %q", ctx, v)
	return v, time.Time{}, false
}

// Exemptions lists the entries of the exemptions file, in file order, with
// their state at now. Which entries selected no key (stale ones) only a
// whole sweep can tell: see Decision.Exemptions.
func (e *Engine) Exemptions(now time.Time) []ExemptionStatus {
	out := make([]ExemptionStatus, len(e.exemptions))
	for i, x := range e.exemptions {
		out[i] = ExemptionStatus{Exemption: x.Exemption, Expired: x.Expired(now)}
		out[i].Keys = slices.Clone(x.Keys)
		out[i].Aliases = slices.Clone(x.Aliases)
		out[i].Policies = slices.Clone(x.Policies)
	}
	return out
}

// Warnings lists what loading found questionable but not wrong, each with
// its file, line and column: exemption entries already past their date.
func (e *Engine) Warnings() []*LoadError { return slices.Clone(e.warnings) }

// withExemptions returns an engine with the same policies and limits and
// the given exemption entries instead of its own.
func (e *Engine) withExemptions(xs []*exemption) *Engine {
	out := newEngine(e.policies, e.limits, e.digest)
	out.exemptions = xs
	out.warnings = e.warnings
	return out
}
