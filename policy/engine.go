package policy

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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
	policies   []*compiled
	limits     Limits
	digest     string
	grace      bool // a rule has a grace period: the engine keeps DueTag
	notify     bool // a policy has a notify expression
	exemptions []*exemption
	warnings   LoadErrors
	pool       sync.Pool // *state
}

func newEngine(ps []*compiled, l Limits, digest string) *Engine {
	e := &Engine{policies: slices.Clone(ps), limits: l, digest: digest, grace: hasGrace(ps)}
	for i, p := range e.policies {
		c := *p
		c.index = i
		e.policies[i] = &c
		e.notify = e.notify || p.notify != nil
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
	// Grace lists the rules with a grace period.
	Grace []RuleGrace `json:"grace,omitempty"`
}

// RuleGrace is a rule's grace period.
type RuleGrace struct {
	Rule  string `json:"rule"`  // as in Violation.Rule
	Grace string `json:"grace"` // e.g. "7d" or "36h0m0s"
	// ID is the rule's id in the due tag (DueTag): three characters.
	ID string `json:"id"`
}

// Policies describes the loaded policies, in file order.
func (e *Engine) Policies() []PolicyInfo {
	out := make([]PolicyInfo, len(e.policies))
	for i, p := range e.policies {
		out[i] = PolicyInfo{Name: p.name, Description: p.description, File: p.file, Line: p.line, Priority: p.priority, Enforce: p.enforce}
		for _, r := range p.rules {
			out[i].Rules = append(out[i].Rules, r.label)
			if r.grace > 0 {
				out[i].Grace = append(out[i].Grace, RuleGrace{Rule: r.label, Grace: formatGrace(r.grace), ID: r.graceID})
			}
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
	sub := newEngine(ps, e.limits, hex.EncodeToString(h.Sum(nil)))
	sub.exemptions, sub.warnings = e.exemptions, e.warnings
	return sub, nil
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
	reason   string    // why the violation is not remediated
	later    bool      // first seen after the first round
	due      time.Time // in a grace period: when the fix is due
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
	boxed    any  // a copy of *env, boxed once per round: fields read from a non-addressable copy need no allocation
	found    bool // env and boxed hold the key as found: the last round was a first round
	vm       vm.VM
	items    []item
	first    []item
	keyRules []item // active forbid_key rules this round (pol, rule)
	changes  []change
	work     map[string]string
	checks   int // rules checked against the key, every round: see EvaluateCounted

	skip    []bool               // by policy index: exempted by an exemptions entry; nil = none
	marks   map[string]time.Time // the due tag's marks, by grace id
	extra   int                  // tags the rules do not see (the due tag) counted in the tag limit
	limited bool                 // limitTags left a new tag out
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
	st.boxed, st.found = nil, false
	clear(st.work)
	st.items = st.items[:0]
	st.first = st.first[:0]
	st.keyRules = st.keyRules[:0]
	st.changes = st.changes[:0]
	st.checks = 0
	st.skip, st.marks, st.extra, st.limited = nil, nil, 0, false
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

// plan evaluates one key: exemption entries, the due tag, then the rounds;
// then who to notify of the violations.
func (e *Engine) plan(st *state, k Key, tags map[string]string, now time.Time) Decision {
	var xs []ExemptionMatch
	if len(e.exemptions) > 0 {
		xs = e.selectExemptions(st, &k, now)
	}
	dueVal, hasDue := tags[DueTag]
	if hasDue {
		// Reserved: the rules do not see it, but it takes a tag slot.
		tags = maps.Clone(tags)
		delete(tags, DueTag)
		st.extra = 1
	}
	d := e.planGrace(st, k, tags, now, hasDue, dueVal)
	e.notifyViolations(st, &k, tags, now, &d)
	d.Exemptions = xs
	return d
}

// planGrace plans a key's changes and, when rules have grace periods, its
// due tag (hasDue: the key had one, with the value dueVal; tags are the
// key's other tags).
func (e *Engine) planGrace(st *state, k Key, tags map[string]string, now time.Time, hasDue bool, dueVal string) Decision {
	if !e.grace || k.Default {
		d, _ := e.planRounds(st, k, tags, now, nil)
		return d
	}
	g := &graceRun{had: hasDue, old: dueVal}
	if hasDue {
		st.marks, g.bad = parseDue(dueVal)
	}
	d, ok := e.planRounds(st, k, tags, now, g)
	if ok && hasDue && !g.want && st.limited && e.undeletable(DueTag, dueVal) == "" {
		// The plan frees the due tag's slot, which a new tag it left
		// out could take: plan again without counting it, unless that
		// plan needs the due tag after all (then keep it as it is).
		st.extra = 0
		g2 := &graceRun{had: hasDue, old: dueVal, bad: g.bad}
		if d2, ok2 := e.planRounds(st, k, tags, now, g2); ok2 && !g2.want {
			d, g = d2, g2
		} else {
			g.want, g.value, g.bad = true, dueVal, nil
		}
	}
	if ok {
		e.dueChange(&d, g)
	}
	return d
}

// notifyViolations sets Notify on each violation of d: the notify
// expression of its policy, run once per policy that has violations, on
// the key as found (its tags before the plan, the due tag aside) and its
// event. Keys without violations cost nothing here. An expression that
// fails, or produces no text, is one more violation of its policy (rule
// "notify"), as match and exempt failures are, and its policy's violations
// name no one.
func (e *Engine) notifyViolations(st *state, k *Key, tags map[string]string, now time.Time, d *Decision) {
	if !e.notify || len(d.Violations) == 0 {
		return
	}
	vs := d.Violations
	var failed []Violation // at most one per policy
	var after []int        // where each goes: after the last violation of its policy
	for i := 0; i < len(vs); {
		j := i + 1
		for j < len(vs) && vs[j].Policy == vs[i].Policy {
			j++ // a policy's violations are next to each other
		}
		p := e.policyNamed(vs[i].Policy)
		if p == nil || p.notify == nil {
			i = j
			continue
		}
		if !st.found {
			// Later rounds left the env on the tags as planned.
			st.env.set(k, tags, now)
			st.boxed = *st.env
			st.found = true
		}
		who, err := st.text(p.notify)
		if err != nil {
			failed = append(failed, Violation{Policy: p.name, Rule: "notify", Message: exprFailure("notify", err)})
			after = append(after, j)
			i = j
			continue
		}
		who = strings.TrimSpace(who)
		for x := i; x < j; x++ {
			vs[x].Notify = who
		}
		i = j
	}
	if len(failed) == 0 {
		return
	}
	out := make([]Violation, 0, len(vs)+len(failed))
	prev := 0
	for n, at := range after {
		out = append(out, vs[prev:at]...)
		out = append(out, failed[n])
		prev = at
	}
	d.Violations = append(out, vs[prev:]...)
}

// policyNamed returns the engine's policy with that name, or nil (the
// grace violation's GracePolicy).
func (e *Engine) policyNamed(name string) *compiled {
	for _, p := range e.policies {
		if p.name == name {
			return p
		}
	}
	return nil
}

// graceRun is the due tag of one evaluation: as found, and as the plan
// wants it.
type graceRun struct {
	had   bool   // the key has the due tag
	old   string // its value
	bad   error  // why the value cannot be read (then read as no mark)
	want  bool   // the plan keeps a due tag
	value string // with this value
}

// dueChange adds the due tag's change to d, and reports an unreadable one.
func (e *Engine) dueChange(d *Decision, g *graceRun) {
	v := Violation{Policy: GracePolicy, Rule: "due tag", Tag: DueTag, Remediated: true}
	if g.bad != nil {
		v.Message = fmt.Sprintf("tag %q has the value %q, which is not a list of due dates (%v): read as no mark", DueTag, g.old, g.bad)
	}
	switch {
	case g.want && (!g.had || g.value != g.old):
		d.Create = append(d.Create, Tag{Key: DueTag, Value: g.value})
		slices.SortFunc(d.Create, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
		v.Message += "; rewritten"
	case !g.want && g.had:
		if why := e.undeletable(DueTag, g.old); why != "" {
			v.Remediated = false
			v.Message += "; " + why
			break
		}
		d.Delete = append(d.Delete, Tag{Key: DueTag, Value: g.old})
		slices.SortFunc(d.Delete, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
		v.Message += "; deleted"
	}
	if g.bad != nil {
		d.Violations = append(d.Violations, v)
	}
}

// GracePolicy is the policy name of the violation that reports an
// unreadable due tag (DueTag); no policy can have this name.
const GracePolicy = "(grace)"

// selectExemptions returns the exemption entries that name k, and marks in
// st the policies the entries that apply at now exempt it from.
func (e *Engine) selectExemptions(st *state, k *Key, now time.Time) []ExemptionMatch {
	var out []ExemptionMatch
	for _, x := range e.exemptions {
		if !x.selects(k) {
			continue
		}
		out = append(out, x.match(now))
		if x.Expired(now) {
			continue
		}
		if st.skip == nil {
			st.skip = make([]bool, len(e.policies))
		}
		for _, p := range e.policies {
			if x.covers(p.name) {
				st.skip[p.index] = true
			}
		}
	}
	return out
}

// planRounds plans a key's changes (the due tag aside) by rounds; with g, it
// also decides the due tag (g.want, g.value). ok is false when the plan
// must not touch the due tag (the policies do not settle).
func (e *Engine) planRounds(st *state, k Key, tags map[string]string, now time.Time, g *graceRun) (d Decision, ok bool) {
	d = Decision{KeyID: k.ID}
	st.first = st.first[:0]
	st.limited = false
	changed := e.round(st, &k, tags, now, true)
	for i := range st.items {
		if st.items[i].violated {
			st.first = append(st.first, st.items[i])
		}
	}
	if !changed {
		if g != nil {
			e.marks(st, len(tags), g)
		}
		d.Violations = violations(st.first, nil, false)
		return d, true
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
			st.first[i].due = time.Time{}
		}
		d.Violations = violations(st.first, nil, false)
		return d, false
	}
	if g != nil {
		e.marks(st, len(st.work), g)
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
	return d, true
}

// withhold holds back the fixes of rules in a grace period: a rule with a
// grace period whose mark in the due tag is missing or not yet due proposes
// nothing, and its violation says when its fix is due.
func (e *Engine) withhold(st *state, now time.Time) {
	for i := range st.items {
		it := &st.items[i]
		if it.fix == fixNone || it.rule == nil || it.rule.grace <= 0 || !it.pol.enforce {
			continue
		}
		if m, ok := st.marks[it.rule.graceID]; ok {
			if !now.Before(m) {
				continue // due: fixed as without grace
			}
			it.due = m
		} else {
			it.due = dueDate(now, it.rule.grace)
		}
		it.fix = fixNone
		it.reason = "due " + it.due.Format(DateLayout) + " (grace " + formatGrace(it.rule.grace) + ")"
	}
}

// marks decides the due tag once the plan is made: count is the number of
// tags after the plan, the due tag aside. A rule with a grace period that
// is still violated keeps its mark; a rule newly held back gets one if it
// fits (in the tag's value, and, for a new due tag, in a free tag slot):
// else its violation says the grace period cannot start, and nothing is
// fixed. Marks of rules no longer violated are dropped.
func (e *Engine) marks(st *state, count int, g *graceRun) {
	var keep, add []mark
	has := func(id string) bool {
		return slices.ContainsFunc(keep, func(m mark) bool { return m.id == id }) || slices.ContainsFunc(add, func(m mark) bool { return m.id == id })
	}
	for i := range st.items { // the final round's
		it := &st.items[i]
		if !it.violated || it.rule == nil || it.rule.grace <= 0 || !it.pol.enforce || has(it.rule.graceID) {
			continue
		}
		if m, ok := st.marks[it.rule.graceID]; ok {
			keep = append(keep, mark{it.rule.graceID, m})
		} else if !it.due.IsZero() {
			add = append(add, mark{it.rule.graceID, it.due})
		}
	}
	kept, out := fitDue(keep, add, e.limits.MaxValueLen)
	why := fmt.Sprintf("cannot start the grace period: the %s tag has no room for another date, so nothing is fixed", DueTag)
	if len(kept) > 0 && !g.had && count >= e.limits.MaxTags {
		out, kept = append(out, kept...), nil
		why = fmt.Sprintf("cannot start the grace period: no free tag slot for the %s tag (the key would have more than %d tags), so nothing is fixed", DueTag, e.limits.MaxTags)
	}
	for _, m := range out {
		for _, items := range [][]item{st.items, st.first} {
			for i := range items {
				if it := &items[i]; it.rule != nil && it.rule.graceID == m.id && !it.due.IsZero() {
					it.due, it.reason = time.Time{}, why
				}
			}
		}
	}
	g.want = len(kept) > 0
	if g.want {
		g.value = encodeDue(kept)
	}
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
		due := it.due
		if planned && it.pol.enforce {
			v.Remediated, due = true, time.Time{}
			for j := range final {
				if final[j].violated && final[j].sameRule(it) {
					v.Remediated, reason, due = false, final[j].reason, final[j].due
					break
				}
			}
		}
		if !v.Remediated && !due.IsZero() {
			v.Due = due.Format(DateLayout)
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

// text runs an expression that must produce text: another result is an
// error, as for cond.
func (st *state) text(p *vm.Program) (string, error) {
	out, err := st.run(p)
	if err != nil {
		return "", err
	}
	s, ok := out.(string)
	if !ok {
		if out == nil {
			return "", errors.New("the result is nil, not a text")
		}
		return "", fmt.Errorf("the result is %T, not a text", out)
	}
	return s, nil
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
	st.found = first
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
		if st.skip != nil && st.skip[p.index] {
			continue // an exemptions entry
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
	if e.grace {
		e.withhold(st, now)
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
	count, added := len(tags)+st.extra, 0
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
		st.limited = true
		reason := fmt.Sprintf("cannot remediate: the key would have more than %d tags", e.limits.MaxTags)
		for i := range st.items {
			if it := &st.items[i]; it.tag == c.tag && it.fix != fixNone && it.pol.enforce {
				it.reason = reason
			}
		}
	}
	st.changes = kept
}
