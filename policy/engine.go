package policy

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"
)

// maxRounds bounds the planner's search for a stable result.
const maxRounds = 16

// Engine holds compiled policies and plans the tag changes for keys. It is
// safe for concurrent use; build it once with Load and share it.
type Engine struct {
	policies []*compiled
	limits   Limits
	digest   string
	pool     sync.Pool // *state
}

func newEngine(ps []*compiled, l Limits, digest string) *Engine {
	e := &Engine{policies: slices.Clone(ps), limits: l, digest: digest}
	for i, p := range e.policies {
		c := *p
		c.index = i
		e.policies[i] = &c
	}
	e.pool.New = func() any { return &state{env: newEnv(), work: map[string]string{}} }
	return e
}

// Limits returns the tag rules the engine plans against, with defaults
// filled in. Pass Limits().MaxBatch to Decision.Batches.
func (e *Engine) Limits() Limits { return e.limits }

// Digest identifies the policy set: a hex SHA-256 over the policy files'
// names and contents and the limits, so that two engines loaded from the
// same files with the same limits have the same digest and any change to a
// file gives another. A subset's digest also covers the names it keeps.
func (e *Engine) Digest() string { return e.digest }

// PolicyInfo describes one loaded policy.
type PolicyInfo struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	File        string   `json:"file"`
	Line        int      `json:"line"`
	Priority    int      `json:"priority"`
	Enforce     bool     `json:"enforce"`
	Rules       []string `json:"rules"` // each rule's short form, as in Violation.Rule
}

// Policies describes the loaded policies, in file order.
func (e *Engine) Policies() []PolicyInfo {
	out := make([]PolicyInfo, len(e.policies))
	for i, p := range e.policies {
		out[i] = PolicyInfo{Name: p.name, Description: p.description, File: p.file, Line: p.line, Priority: p.priority, Enforce: p.enforce}
		for _, r := range p.rules {
			out[i].Rules = append(out[i].Rules, r.label)
		}
	}
	return out
}

// Subset returns an engine with only the named policies (same limits). It
// fails when a name is not loaded.
func (e *Engine) Subset(names ...string) (*Engine, error) {
	var ps []*compiled
	for _, n := range names {
		i := slices.IndexFunc(e.policies, func(p *compiled) bool { return p.name == n })
		if i < 0 {
			return nil, fmt.Errorf("subset of policies: no policy named %q", n)
		}
		if !slices.Contains(ps, e.policies[i]) {
			ps = append(ps, e.policies[i])
		}
	}
	h := sha256.New()
	fmt.Fprintf(h, "subset of %s\n", e.digest)
	for _, p := range ps {
		fmt.Fprintf(h, "%q\n", p.name)
	}
	return newEngine(ps, e.limits, hex.EncodeToString(h.Sum(nil))), nil
}

// fixKind is what a violated rule proposes for its tag.
type fixKind uint8

const (
	fixNone fixKind = iota
	fixSet
	fixDelete
)

// item is one active rule looking at one tag in one round: a constraint on
// the tag's final state, and, when violated, a problem and maybe a fix.
type item struct {
	pol      *compiled
	rule     *rule // nil for match/exempt failures
	label    string
	tag      string
	present  bool
	cur      string
	violated bool
	problem  string // set for expression failures; otherwise described lazily
	fix      fixKind
	value    string
	reason   string // why the violation is not remediated
	later    bool   // first seen after the first round
}

// appendDescription appends what is wrong, for a violated item. Messages
// are built by appending to one buffer, so that each costs one allocation.
func (it *item) appendDescription(b []byte) []byte {
	switch {
	case it.problem != "" || it.rule == nil:
		return append(b, it.problem...)
	case it.rule.kind == kindRequire && !it.present:
		b = append(b, "missing tag "...)
		return strconv.AppendQuote(b, it.tag)
	case it.rule.kind == kindRequire && it.cur == "":
		b = append(b, "tag "...)
		b = strconv.AppendQuote(b, it.tag)
		return append(b, " is empty"...)
	case it.rule.kind == kindRequire:
		b = append(b, "tag "...)
		b = strconv.AppendQuote(b, it.tag)
		b = append(b, " has value "...)
		b = strconv.AppendQuote(b, it.cur)
		b = append(b, ": "...)
		return it.rule.appendValueProblem(b, it.cur)
	case it.rule.kind == kindForbid && len(it.rule.values) == 0 && it.rule.pattern == nil:
		b = append(b, "tag "...)
		b = strconv.AppendQuote(b, it.tag)
		return append(b, " is forbidden"...)
	case it.rule.kind == kindForbid:
		b = append(b, "tag "...)
		b = strconv.AppendQuote(b, it.tag)
		b = append(b, " has the forbidden value "...)
		return strconv.AppendQuote(b, it.cur)
	default:
		b = append(b, "tag key "...)
		b = strconv.AppendQuote(b, it.tag)
		b = append(b, " is forbidden (matches "...)
		b = append(b, it.rule.keyRe.String()...)
		return append(b, ')')
	}
}

func (it *item) ruleIndex() int {
	if it.rule == nil {
		return -1
	}
	return it.rule.index
}

func (it *item) sameRuleAs(o item) bool { return it.sameRule(&o) }

func (it *item) sameRule(o *item) bool {
	return it.pol == o.pol && it.label == o.label && it.tag == o.tag && it.rule == o.rule
}

// change is one planned change of one tag in one round.
type change struct {
	tag      string
	del      bool
	value    string
	present  bool // the tag exists before the change
	priority int
}

// state is the scratch space of one evaluation, pooled.
type state struct {
	env      *env
	boxed    any // a copy of *env, boxed once per round: fields read from a non-addressable copy need no allocation
	vm       vm.VM
	items    []item
	first    []item
	keyRules []item // active forbid_key rules this round (pol, rule)
	changes  []change
	work     map[string]string
	checks   int // rules checked against the key, every round: see EvaluateCounted
}

func (e *Engine) get() *state {
	if st, ok := e.pool.Get().(*state); ok {
		return st
	}
	return &state{env: newEnv(), work: map[string]string{}} // an Engine not made by Load
}

func (e *Engine) put(st *state) {
	st.env.Tags = nil
	st.env.Event = eventEnv{}
	st.boxed = nil
	clear(st.work)
	st.items = st.items[:0]
	st.first = st.first[:0]
	st.keyRules = st.keyRules[:0]
	st.changes = st.changes[:0]
	st.checks = 0
	e.pool.Put(st)
}

// Evaluate runs every policy against one key and its tags (nil means no
// tags) at time now, and plans the changes that make the key comply.
//
// The plan is the fixed point of repeated rounds: each round evaluates the
// policies on the tags as the previous round left them and resolves what
// the rules want per tag (see docs/policies.md for the rules of priority
// and conflict); rounds stop when one plans nothing. Evaluating the
// resulting tags again therefore plans nothing (convergence). Violations
// are those of the key as given, plus any that the plan cannot fix.
// Default keys are evaluated but never changed. Evaluate never fails: an
// expression that fails at run time becomes a violation.
func (e *Engine) Evaluate(k Key, tags map[string]string, now time.Time) Decision {
	d, _ := e.EvaluateCounted(k, tags, now)
	return d
}

// EvaluateCounted is Evaluate, and also returns how many rule checks it
// made, for benchmarks and diagnostics: a rule is checked when its policy
// matches the key and does not exempt it (its when condition, then its test
// of the tags), once per planning round. Rules of policies that do not
// match the key are not counted. This is the "rule evaluations" figure the
// package's benchmarks report, rather than rules × keys.
func (e *Engine) EvaluateCounted(k Key, tags map[string]string, now time.Time) (Decision, int) {
	st := e.get()
	defer e.put(st)
	d := e.plan(st, k, tags, now)
	return d, st.checks
}

func (e *Engine) plan(st *state, k Key, tags map[string]string, now time.Time) Decision {
	d := Decision{KeyID: k.ID}
	changed := e.round(st, &k, tags, now, true)
	for i := range st.items {
		if st.items[i].violated {
			st.first = append(st.first, st.items[i])
		}
	}
	if !changed {
		d.Violations = violations(st.first, nil, false)
		return d
	}
	// Later rounds run on a private copy of the tags.
	clear(st.work)
	maps.Copy(st.work, tags)
	e.apply(st)
	converged := false
	for range maxRounds {
		more := e.round(st, &k, st.work, now, false)
		if !more {
			converged = true
			break
		}
		// Violations that only the planned changes bring about are
		// reported too, so that every planned change has its reason.
		for i := range st.items {
			it := &st.items[i]
			if it.violated && !slices.ContainsFunc(st.first, it.sameRuleAs) {
				it.later = true
				st.first = append(st.first, *it)
			}
		}
		e.apply(st)
	}
	if !converged {
		st.first = slices.DeleteFunc(st.first, func(it item) bool { return it.later })
		for i := range st.first {
			st.first[i].reason = "the policies do not reach a stable result for this key: nothing written"
		}
		d.Violations = violations(st.first, nil, false)
		return d
	}
	d.Violations = violations(st.first, st.items, true)
	creates, deletes := 0, 0
	for t, v := range st.work {
		if old, ok := tags[t]; !ok || old != v {
			creates++
		}
	}
	for t := range tags {
		if _, ok := st.work[t]; !ok {
			deletes++
		}
	}
	if creates > 0 {
		d.Create = make([]Tag, 0, creates)
		for t, v := range st.work {
			if old, ok := tags[t]; !ok || old != v {
				d.Create = append(d.Create, Tag{Key: t, Value: v})
			}
		}
	}
	if deletes > 0 {
		d.Delete = make([]Tag, 0, deletes)
		for t, v := range tags {
			if _, ok := st.work[t]; !ok {
				d.Delete = append(d.Delete, Tag{Key: t, Value: v})
			}
		}
	}
	slices.SortFunc(d.Create, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
	slices.SortFunc(d.Delete, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
	return d
}

// violations builds the reported violations: those of the first round, and
// when final holds the items of the final (stable) round, whether each was
// remediated and the violations that remain after the plan.
func violations(first, final []item, planned bool) []Violation {
	if planned {
		// Violations that appear only in the final state remain after
		// the plan: report them as such.
		for j := range final {
			if f := final[j]; f.violated && !slices.ContainsFunc(first, f.sameRuleAs) {
				f.later = true
				first = append(first, f)
			}
		}
	}
	slices.SortStableFunc(first, func(a, b item) int {
		return cmp.Or(cmp.Compare(a.pol.index, b.pol.index), cmp.Compare(a.ruleIndex(), b.ruleIndex()), strings.Compare(a.tag, b.tag))
	})
	if len(first) == 0 {
		return nil
	}
	out := make([]Violation, 0, len(first))
	var buf [256]byte
	for i := range first {
		it := &first[i]
		v := Violation{Policy: it.pol.name, Rule: it.label, Tag: it.tag}
		reason := it.reason
		if planned && it.pol.enforce {
			v.Remediated = true
			for j := range final {
				if final[j].violated && final[j].sameRule(it) {
					v.Remediated, reason = false, final[j].reason
					break
				}
			}
		}
		b := it.appendDescription(buf[:0])
		if it.later {
			b = append(b, " (after the planned changes)"...)
		}
		if !v.Remediated && reason != "" {
			b = append(b, "; "...)
			b = append(b, reason...)
		}
		v.Message = string(b)
		out = append(out, v)
	}
	return out
}

// apply applies the round's changes to st.work.
func (e *Engine) apply(st *state) {
	for _, c := range st.changes {
		if c.del {
			delete(st.work, c.tag)
		} else {
			st.work[c.tag] = c.value
		}
	}
}

// run evaluates a compiled expression in the state's environment.
func (st *state) run(p *vm.Program) (any, error) {
	return st.vm.Run(p, st.boxed)
}

func (st *state) cond(p *vm.Program) (bool, error) {
	out, err := st.run(p)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("the result is %T, not true or false", out)
	}
	return b, nil
}

func exprFailure(what string, err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return fmt.Sprintf("%s expression failed: %s", what, exprMessage.Replace(msg))
}

// round evaluates every active policy on tags and plans this round's
// changes into st.changes. It reports whether anything is to change. The
// first round also evaluates report-only policies, for their violations.
func (e *Engine) round(st *state, k *Key, tags map[string]string, now time.Time, first bool) bool {
	st.env.set(k, tags, now)
	st.boxed = *st.env
	st.items = st.items[:0]
	st.keyRules = st.keyRules[:0]
	st.changes = st.changes[:0]
	for _, p := range e.policies {
		if !first && !p.enforce {
			continue
		}
		if p.match != nil {
			ok, err := st.cond(p.match)
			if err != nil {
				st.items = append(st.items, item{pol: p, label: "match", violated: true, problem: exprFailure("match", err)})
				continue
			}
			if !ok {
				continue
			}
		}
		if p.exempt != nil {
			ok, err := st.cond(p.exempt)
			if err != nil {
				st.items = append(st.items, item{pol: p, label: "exempt", violated: true, problem: exprFailure("exempt", err)})
				continue
			}
			if ok {
				continue
			}
		}
		st.checks += len(p.rules)
		for _, r := range p.rules {
			if r.when != nil {
				ok, err := st.cond(r.when)
				if err != nil {
					st.items = append(st.items, item{pol: p, rule: r, label: r.label, tag: r.tag, violated: true, problem: exprFailure("when", err)})
					continue
				}
				if !ok {
					continue
				}
			}
			switch r.kind {
			case kindRequire:
				e.require(st, p, r, tags)
			case kindForbid:
				e.forbid(st, p, r, tags)
			case kindForbidKey:
				st.keyRules = append(st.keyRules, item{pol: p, rule: r})
			}
		}
	}
	e.forbidKeys(st, tags)
	if k.Default {
		for i := range st.items {
			if it := &st.items[i]; it.violated && it.pol.enforce {
				it.fix, it.reason = fixNone, "default keys are never tagged"
			}
		}
		return false
	}
	return e.resolve(st, tags)
}

func (e *Engine) require(st *state, p *compiled, r *rule, tags map[string]string) {
	cur, present := tags[r.tag]
	it := item{pol: p, rule: r, label: r.label, tag: r.tag, present: present, cur: cur}
	if present && r.valid(cur) {
		st.items = append(st.items, it)
		return
	}
	it.violated = true
	if !p.enforce {
		st.items = append(st.items, it)
		return
	}
	// A value that only needs normalizing keeps its meaning: prefer it.
	if present && cur != "" {
		if n := r.normalized(cur); n != cur && r.valid(n) && e.limits.CheckValue(n) == nil {
			it.fix, it.value = fixSet, n
			st.items = append(st.items, it)
			return
		}
	}
	it.fix, it.value, it.reason = e.fallback(st, r, r.requireProblem)
	st.items = append(st.items, it)
}

// fallback computes the rule's default (literal or expression) and checks
// it with problem; it returns the fix, or no fix and the reason.
func (e *Engine) fallback(st *state, r *rule, problem func(string, Limits) string) (fixKind, string, string) {
	var v string
	switch {
	case r.hasDefault:
		v = r.def
	case r.value != nil:
		out, err := st.run(r.value)
		if err != nil {
			return fixNone, "", "cannot remediate: " + exprFailure("value", err)
		}
		s, ok := out.(string)
		if !ok {
			return fixNone, "", fmt.Sprintf("cannot remediate: the value expression produced %T, not a text", out)
		}
		v = s
		if r.kind == kindRequire {
			v = r.normalized(v)
		}
	default:
		return fixNone, "", "no default or value to set"
	}
	if msg := problem(v, e.limits); msg != "" {
		return fixNone, "", fmt.Sprintf("cannot remediate: %q cannot be written: %s", v, msg)
	}
	return fixSet, v, ""
}

func (e *Engine) forbid(st *state, p *compiled, r *rule, tags map[string]string) {
	cur, present := tags[r.tag]
	it := item{pol: p, rule: r, label: r.label, tag: r.tag, present: present, cur: cur}
	if !present || !r.forbidden(cur) {
		st.items = append(st.items, it)
		return
	}
	it.violated = true
	if p.enforce {
		switch r.remediate {
		case remedyDelete:
			if why := e.undeletable(r.tag, cur); why != "" {
				it.reason = why
			} else {
				it.fix = fixDelete
			}
		case remedyReplace:
			it.fix, it.value, it.reason = e.fallback(st, r, r.replaceProblem)
		default:
			it.reason = "the rule does not remediate (remediate: none)"
		}
	}
	st.items = append(st.items, it)
}

// forbidKeys adds the items of the active forbid_key rules: a violation for
// each present tag key that matches, and a constraint for each tag another
// rule of this round targets, so that no rule creates a forbidden key.
func (e *Engine) forbidKeys(st *state, tags map[string]string) {
	if len(st.keyRules) == 0 {
		return
	}
	n := len(st.items)
	for _, kr := range st.keyRules {
		for t, v := range tags {
			if e.limits.Reserved(t) || !kr.rule.keyRe.MatchString(t) {
				continue
			}
			it := item{pol: kr.pol, rule: kr.rule, label: kr.rule.label, tag: t, present: true, cur: v, violated: true}
			if kr.pol.enforce {
				switch why := e.undeletable(t, v); {
				case kr.rule.remediate == remedyNone:
					it.reason = "the rule does not remediate (remediate: none)"
				case why != "":
					it.reason = why
				default:
					it.fix = fixDelete
				}
			}
			st.items = append(st.items, it)
		}
		for i := range n {
			t := st.items[i].tag
			if t == "" || st.items[i].present || !kr.rule.keyRe.MatchString(t) {
				continue
			}
			dup := false
			for j := n; j < len(st.items); j++ {
				if st.items[j].tag == t && st.items[j].rule == kr.rule {
					dup = true
					break
				}
			}
			if !dup {
				st.items = append(st.items, item{pol: kr.pol, rule: kr.rule, label: kr.rule.label, tag: t})
			}
		}
	}
}

// undeletable says why the API cannot delete a tag, or "": a delete sends
// the tag's key and value, and the API refuses either when it breaks its
// rules (a tag set before those rules, or by another channel). Planning
// such a delete would make a dry run promise what a real run cannot do.
func (e *Engine) undeletable(key, value string) string {
	err := e.limits.CheckKey(key)
	if err == nil {
		err = e.limits.CheckValue(value)
	}
	if err != nil {
		return fmt.Sprintf("cannot remediate: the tag %q cannot be deleted through the API: %v", key, err)
	}
	return ""
}

// outcome describes a fix for messages.
func outcome(it *item) string {
	if it.fix == fixDelete {
		return fmt.Sprintf("to delete %q", it.tag)
	}
	return fmt.Sprintf("%s=%q", it.tag, it.value)
}

func sameFix(a, b *item) bool {
	return a.fix == b.fix && (a.fix == fixDelete || a.value == b.value)
}

// resolve decides, tag by tag, which proposed fix is applied, and records
// why the others are not. Only enforcing policies take part. See the
// planner semantics in docs/policies.md.
func (e *Engine) resolve(st *state, tags map[string]string) bool {
	items := st.items
	if !slices.ContainsFunc(items, func(it item) bool { return it.fix != fixNone }) {
		return false
	}
	slices.SortStableFunc(items, func(a, b item) int {
		return cmp.Or(strings.Compare(a.tag, b.tag), cmp.Compare(b.pol.priority, a.pol.priority))
	})
	for lo := 0; lo < len(items); {
		hi := lo + 1
		for hi < len(items) && items[hi].tag == items[lo].tag {
			hi++
		}
		group := items[lo:hi]
		lo = hi
		if group[0].tag == "" {
			continue
		}
		// The proposers at the highest priority.
		var top *item
		for i := range group {
			if it := &group[i]; it.fix != fixNone && it.pol.enforce {
				top = it
				break
			}
		}
		if top == nil {
			continue
		}
		p := top.pol.priority
		reason := ""
		for i := range group {
			it := &group[i]
			if it.fix != fixNone && it.pol.enforce && it.pol.priority == p && !sameFix(it, top) {
				reason = fmt.Sprintf("conflict: policy %q wants %s, policy %q wants %s", top.pol.name, outcome(top), it.pol.name, outcome(it))
				break
			}
		}
		if reason == "" {
			present := top.fix == fixSet
			for i := range group {
				it := &group[i]
				if !it.pol.enforce || it.pol.priority < p || it.rule == nil || it.problem != "" || sameFix(it, top) && it.fix != fixNone {
					continue
				}
				if it.rule.accepts(present, top.value) {
					continue
				}
				if it.pol.priority > p {
					reason = fmt.Sprintf("overridden by policy %q (rule %q, priority %d), which does not accept %s", it.pol.name, it.label, it.pol.priority, outcome(top))
				} else {
					reason = fmt.Sprintf("conflict: policy %q wants %s, which policy %q (rule %q) does not accept", top.pol.name, outcome(top), it.pol.name, it.label)
				}
				break
			}
		}
		for i := range group {
			it := &group[i]
			if it.fix == fixNone || !it.pol.enforce {
				continue
			}
			switch {
			case reason != "":
				it.reason = reason
			case !sameFix(it, top):
				it.reason = fmt.Sprintf("overridden by policy %q (priority %d), which wants %s", top.pol.name, p, outcome(top))
			}
		}
		if reason == "" {
			_, present := tags[top.tag]
			if top.fix == fixDelete && !present {
				continue
			}
			st.changes = append(st.changes, change{tag: top.tag, del: top.fix == fixDelete, value: top.value, present: present, priority: p})
		}
	}
	e.limitTags(st, tags)
	return len(st.changes) > 0
}

// limitTags keeps the number of tags after the round's changes within
// Limits.MaxTags: new tags are added by priority, then by key, while there
// is room; the rest cannot be remediated.
func (e *Engine) limitTags(st *state, tags map[string]string) {
	count, added := len(tags), 0
	for _, c := range st.changes {
		switch {
		case c.del && c.present:
			count--
		case !c.del && !c.present:
			added++
		}
	}
	if count+added <= e.limits.MaxTags {
		return
	}
	room := max(e.limits.MaxTags-count, 0)
	slices.SortStableFunc(st.changes, func(a, b change) int {
		return cmp.Or(cmp.Compare(b.priority, a.priority), strings.Compare(a.tag, b.tag))
	})
	kept := st.changes[:0]
	for _, c := range st.changes {
		if c.del || c.present {
			kept = append(kept, c)
			continue
		}
		if room > 0 {
			room--
			kept = append(kept, c)
			continue
		}
		reason := fmt.Sprintf("cannot remediate: the key would have more than %d tags", e.limits.MaxTags)
		for i := range st.items {
			if it := &st.items[i]; it.tag == c.tag && it.fix != fixNone && it.pol.enforce {
				it.reason = reason
			}
		}
	}
	st.changes = kept
}
