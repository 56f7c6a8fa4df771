package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	yaml "go.yaml.in/yaml/v3"
)

// Options configure Load.
type Options struct {
	// Limits are the tag rules of the API; zero fields take the values of
	// DefaultLimits.
	Limits Limits
	// Now is the time exemption dates are checked against at load (an
	// entry already past its date is a warning); zero means time.Now().
	Now time.Time
}

// ruleKind is what a rule does.
type ruleKind int

const (
	kindRequire ruleKind = iota
	kindForbid
	kindForbidKey
)

// remedy is how a forbid or forbid_key rule fixes what it finds.
type remedy int

const (
	remedyDelete remedy = iota
	remedyReplace
	remedyNone
)

// normStep is one normalization of a required tag's value.
type normStep int

const (
	normTrim normStep = iota
	normLower
	normUpper
)

// rule is one compiled rule of a policy.
type rule struct {
	index int // position in its policy
	kind  ruleKind
	label string // the rule's short form, as in Violation.Rule
	tag   string // require and forbid: the tag key
	keyRe *regexp.Regexp
	when  *vm.Program

	hasDefault bool
	def        string
	value      *vm.Program // computed default; nil when none

	allowed   []string // require: allowed values (empty = any)
	pattern   *regexp.Regexp
	normalize []normStep

	values    []string // forbid: forbidden values (empty with no pattern = any value)
	remediate remedy

	grace   time.Duration // 0: fixed at once
	graceID string        // the rule's id in the due tag, when grace > 0
	graceAt pos           // where its grace is written
}

// compiled is one compiled policy.
type compiled struct {
	index       int // position in the engine, for a stable report order
	name        string
	description string
	file        string
	line        int
	priority    int
	enforce     bool
	match       *vm.Program // nil = every key
	exempt      *vm.Program // nil = never exempt
	notify      *vm.Program // who to notify of the policy's violations; nil = no one
	rules       []*rule
}

// hasGrace reports whether any rule of ps has a grace period.
func hasGrace(ps []*compiled) bool {
	for _, p := range ps {
		for _, r := range p.rules {
			if r.grace > 0 {
				return true
			}
		}
	}
	return false
}

// LoadDir loads every policy file of a directory: see Load.
func LoadDir(dir string, opts Options) (*Engine, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("load policies: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("load policies: %s is not a directory", dir)
	}
	e, err := Load(os.DirFS(dir), opts)
	if err != nil {
		var les LoadErrors
		if errors.As(err, &les) {
			for _, le := range les {
				le.File = path.Join(dir, le.File)
			}
			return nil, les
		}
		return nil, err
	}
	for _, w := range e.warnings {
		w.File = path.Join(dir, w.File)
	}
	for _, x := range e.exemptions {
		x.File = path.Join(dir, x.File)
	}
	return e, nil
}

// PolicyFiles lists the policy files of fsys: every *.yaml and *.yml file
// at its root except test case files (*_test.yaml, *_test.yml) and the
// exemptions file (exemptions.yaml or .yml), sorted.
func PolicyFiles(fsys fs.FS) ([]string, error) {
	var out []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, err := fs.Glob(fsys, pat)
		if err != nil {
			return nil, fmt.Errorf("list policy files: %w", err)
		}
		for _, f := range m {
			if !isTestFile(f) && !isExemptionsFile(f) {
				out = append(out, f)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

func isTestFile(name string) bool {
	return strings.HasSuffix(name, "_test.yaml") || strings.HasSuffix(name, "_test.yml")
}

// Load compiles every policy file at the root of fsys (see PolicyFiles)
// into an Engine. Loading is strict: an unknown field, a duplicate policy
// name, a regular expression or expression that does not compile, a match,
// exempt or when that is not boolean, a value or notify that is not text, or a
// literal default that breaks the tag rules are all errors. On any error
// Load returns LoadErrors (every problem, each with file, line and column)
// and no engine.
func Load(fsys fs.FS, opts Options) (*Engine, error) {
	files, err := PolicyFiles(fsys)
	if err != nil {
		return nil, fmt.Errorf("load policies: %w", err)
	}
	limits := opts.Limits.WithDefaults()
	var errs LoadErrors
	if len(files) == 0 {
		errs = append(errs, &LoadError{File: ".", Message: "no policy files (*.yaml) found"})
		return nil, errs
	}
	l := &loader{limits: limits, names: map[string]string{}, errs: &errs, now: opts.Now}
	if l.now.IsZero() {
		l.now = time.Now()
	}
	digest := sha256.New()
	fmt.Fprintf(digest, "limits %+v\n", limits)
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			errs = append(errs, &LoadError{File: f, Message: fmt.Sprintf("read: %v", err)})
			continue
		}
		fmt.Fprintf(digest, "%q %d\n", f, len(data))
		digest.Write(data)
		l.file(f, data)
	}
	if len(errs) == 0 && len(l.policies) == 0 {
		errs = append(errs, &LoadError{File: ".", Message: "the policy files define no policy"})
	}
	l.graceIDs()
	exemptions := l.exemptionsFile(fsys, digest)
	if len(errs) > 0 {
		errs.sort()
		return nil, errs
	}
	e := newEngine(l.policies, limits, hex.EncodeToString(digest.Sum(nil)))
	e.exemptions = exemptions
	l.warnings.sort()
	e.warnings = l.warnings
	return e, nil
}

// graceIDs gives every rule with a grace period its id in the due tag, and
// reports two such rules with the same id.
func (l *loader) graceIDs() {
	seen := map[string]string{}
	for _, p := range l.policies {
		for _, r := range p.rules {
			if r.grace <= 0 {
				continue
			}
			r.graceID = graceID(p.name, r.label)
			who := fmt.Sprintf("policy %q, rule %q", p.name, r.label)
			if other, dup := seen[r.graceID]; dup {
				*l.errs = append(*l.errs, &LoadError{File: p.file, Line: r.graceAt.line, Column: r.graceAt.col,
					Message: fmt.Sprintf("%s: its id in the %s tag, %q, is the same as that of %s: give one of the rules a name", who, DueTag, r.graceID, other)})
				continue
			}
			seen[r.graceID] = who
		}
	}
}

// loader compiles policy files one after the other.
type loader struct {
	limits   Limits
	names    map[string]string // policy name -> where it is defined
	policies []*compiled
	errs     *LoadErrors
	warnings LoadErrors
	now      time.Time
}

var policyNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

var (
	fileFields   = []string{"policies"}
	policyFields = []string{"name", "description", "priority", "match", "exempt", "notify", "enforce", "grace", "rules"}
	ruleFields   = []string{"name", "when", "require", "forbid", "forbid_key", "default", "value", "allowed", "pattern", "normalize", "values", "remediate", "grace"}
	kindFields   = map[ruleKind][]string{
		kindRequire:   {"name", "when", "require", "default", "value", "allowed", "pattern", "normalize", "grace"},
		kindForbid:    {"name", "when", "forbid", "values", "pattern", "remediate", "default", "value", "grace"},
		kindForbidKey: {"name", "when", "forbid_key", "remediate", "grace"},
	}
	kindNames = map[ruleKind]string{kindRequire: "require", kindForbid: "forbid", kindForbidKey: "forbid_key"}
)

func (l *loader) file(name string, data []byte) {
	src := newSource(name, data, l.errs)
	before := len(*l.errs)
	docs := src.documents(data)
	if !slices.ContainsFunc(docs, hasContent) && len(*l.errs) == before {
		src.errorAt(1, 1, "the file is empty: write a list under \"policies:\"")
	}
	for _, doc := range docs {
		if !hasContent(doc) {
			continue
		}
		root := doc.Content[0]
		f := src.fields(root, "a policy file", fileFields)
		if f == nil {
			continue
		}
		pol, ok := f["policies"]
		if !ok {
			src.errorf(root, "a policy file needs a \"policies:\" list")
			continue
		}
		list := resolve(pol.value)
		if list.Kind != yaml.SequenceNode {
			src.errorf(list, "\"policies\" must be a list of policies, not %s", describe(list))
			continue
		}
		if len(list.Content) == 0 {
			src.errorf(pol.key, "\"policies\" is empty")
		}
		for _, p := range list.Content {
			l.policy(src, p)
		}
	}
}

func (l *loader) policy(src *source, n *yaml.Node) {
	n = resolve(n)
	f := src.fields(n, "a policy", policyFields)
	if f == nil {
		return
	}
	p := &compiled{file: src.name, line: n.Line, enforce: true}
	nf, ok := f["name"]
	if !ok {
		src.errorf(n, "a policy needs a name")
		return
	}
	if name, ok := src.str(nf.value, "the policy name"); ok {
		p.name = name
		switch where, dup := l.names[name]; {
		case !policyNameRE.MatchString(name):
			src.errorf(nf.value, "policy name %q must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
		case dup:
			src.errorf(nf.value, "duplicate policy name %q (already defined at %s)", name, where)
		default:
			l.names[name] = fmt.Sprintf("%s:%d:%d", src.name, nf.value.Line, nf.value.Column)
		}
	}
	ctx := fmt.Sprintf("policy %q", p.name)
	if d, ok := f["description"]; ok {
		p.description, _ = src.str(d.value, ctx+": description")
	}
	if v, ok := f["priority"]; ok {
		p.priority, _ = src.integer(v.value, ctx+": priority")
	}
	if v, ok := f["enforce"]; ok {
		p.enforce, _ = src.boolean(v.value, ctx+": enforce")
	}
	if v, ok := f["match"]; ok {
		p.match = l.expr(src, v.value, ctx+": match", boolExpr)
	}
	if v, ok := f["exempt"]; ok {
		p.exempt = l.expr(src, v.value, ctx+": exempt", boolExpr)
	}
	if v, ok := f["notify"]; ok {
		p.notify = l.expr(src, v.value, ctx+": notify", stringExpr)
	}
	var grace time.Duration
	var graceAt pos
	if v, ok := f["grace"]; ok {
		grace = l.grace(src, v.value, ctx, p.enforce)
		graceAt = pos{resolve(v.value).Line, resolve(v.value).Column}
	}
	rf, ok := f["rules"]
	if !ok {
		src.errorf(n, "%s needs rules", ctx)
		return
	}
	rules := resolve(rf.value)
	if rules.Kind != yaml.SequenceNode {
		src.errorf(rules, "%s: rules must be a list, not %s", ctx, describe(rules))
		return
	}
	if len(rules.Content) == 0 {
		src.errorf(rules, "%s: rules is empty", ctx)
		return
	}
	for i, rn := range rules.Content {
		if r := l.rule(src, resolve(rn), fmt.Sprintf("%s, rule %d", ctx, i+1), p.enforce); r != nil {
			r.index = i
			if r.graceAt.line == 0 {
				r.grace, r.graceAt = grace, graceAt
			}
			p.rules = append(p.rules, r)
		}
	}
	l.policies = append(l.policies, p)
}

// grace reads a grace period (see parseGrace); it is an error in a
// report-only policy, which changes nothing to give time for.
func (l *loader) grace(src *source, n *yaml.Node, ctx string, enforce bool) time.Duration {
	s, ok := src.str(n, ctx+": grace")
	if !ok {
		return 0
	}
	d, err := parseGrace(s)
	if err != nil {
		src.errorf(n, "%s: grace: %v", ctx, err)
		return 0
	}
	if d > 0 && !enforce {
		src.errorf(n, "%s: grace: a report-only policy (enforce: false) fixes nothing: remove grace", ctx)
		return 0
	}
	return d
}

// rule compiles one rule; ctx names it in messages.
func (l *loader) rule(src *source, n *yaml.Node, ctx string, enforce bool) *rule {
	f := src.fields(n, "a rule", ruleFields)
	if f == nil {
		return nil
	}
	kind, ok := ruleKindOf(src, n, f, ctx)
	if !ok {
		return nil
	}
	rl := &ruleLoad{l: l, src: src, f: f, r: &rule{kind: kind}}
	if !rl.target(ctx) {
		return nil
	}
	rl.ctx = fmt.Sprintf("%s (%s)", ctx, rl.r.label)
	if v, ok := f["grace"]; ok {
		rl.r.grace = l.grace(src, v.value, rl.ctx, enforce)
		rl.r.graceAt = pos{resolve(v.value).Line, resolve(v.value).Column}
	}
	rl.options()
	rl.normalize()
	rl.remediate()
	rl.values()
	return rl.r
}

// ruleKindOf returns the kind of a rule: exactly one of require, forbid
// and forbid_key.
func ruleKindOf(src *source, n *yaml.Node, f map[string]field, ctx string) (ruleKind, bool) {
	var kinds []ruleKind
	for _, k := range []ruleKind{kindRequire, kindForbid, kindForbidKey} {
		if _, ok := f[kindNames[k]]; ok {
			kinds = append(kinds, k)
		}
	}
	switch len(kinds) {
	case 0:
		src.errorf(n, "%s needs one of require, forbid or forbid_key", ctx)
		return 0, false
	case 1:
		return kinds[0], true
	default:
		src.errorf(f[kindNames[kinds[1]]].key, "%s has both %s and %s: write one per rule", ctx, kindNames[kinds[0]], kindNames[kinds[1]])
		return 0, false
	}
}

// ruleLoad is the state of loading one rule: its fields, the rule being
// built, and whether an error was reported (later checks that depend on a
// bad field are skipped, so one mistake gives one error).
type ruleLoad struct {
	l   *loader
	src *source
	f   map[string]field
	ctx string
	r   *rule
	bad bool
}

func (rl *ruleLoad) errorf(n *yaml.Node, format string, args ...any) {
	rl.src.errorf(n, format, args...)
	rl.bad = true
}

// target checks the fields the rule's kind allows and reads its target:
// a tag key, or a pattern for forbid_key. It reports false when the rule
// cannot be built.
func (rl *ruleLoad) target(ctx string) bool {
	r, src := rl.r, rl.src
	kf := rl.f[kindNames[r.kind]]
	allowed := kindFields[r.kind]
	for name, fl := range rl.f {
		if !slices.Contains(allowed, name) {
			rl.errorf(fl.key, "%s: %q cannot be used in a %s rule (allowed: %s)", ctx, name, kindNames[r.kind], strings.Join(allowed, ", "))
		}
	}
	target, ok := src.str(kf.value, ctx+": "+kindNames[r.kind])
	if !ok {
		return false
	}
	switch r.kind {
	case kindForbidKey:
		re, err := regexp.Compile(target)
		if err != nil {
			src.errorf(kf.value, "%s: forbid_key is not a valid regular expression: %s", ctx, reMessage(err))
			return false
		}
		r.keyRe = re
	default:
		if err := rl.l.limits.CheckKey(target); err != nil {
			rl.errorf(kf.value, "%s: %s cannot target this tag: %v", ctx, kindNames[r.kind], err)
		} else if target == DueTag {
			rl.errorf(kf.value, "%s: %s cannot target %q: it is reserved for the marks of grace periods", ctx, kindNames[r.kind], DueTag)
		}
		r.tag = target
	}
	r.label = kindNames[r.kind] + " " + target
	if v, ok := rl.f["name"]; ok {
		if name, ok := src.str(v.value, ctx+": name"); ok && name != "" {
			r.label = name
		}
	}
	return true
}

// options reads when, pattern, allowed and values.
func (rl *ruleLoad) options() {
	r, src, ctx := rl.r, rl.src, rl.ctx
	if v, ok := rl.f["when"]; ok {
		r.when = rl.l.expr(src, v.value, ctx+": when", boolExpr)
	}
	if v, ok := rl.f["pattern"]; ok {
		if s, ok := src.str(v.value, ctx+": pattern"); ok {
			re, err := regexp.Compile(s)
			if err != nil {
				rl.errorf(v.value, "%s: pattern is not a valid regular expression: %s", ctx, reMessage(err))
			}
			r.pattern = re
		}
	}
	if v, ok := rl.f["allowed"]; ok {
		var ok bool
		r.allowed, ok = src.strs(v.value, ctx+": allowed")
		if ok && len(r.allowed) == 0 {
			src.errorf(v.value, "%s: allowed is empty: list the allowed values or remove it", ctx)
		}
	}
	if v, ok := rl.f["values"]; ok {
		var ok bool
		r.values, ok = src.strs(v.value, ctx+": values")
		if ok && len(r.values) == 0 {
			src.errorf(v.value, "%s: values is empty: list the forbidden values or remove it to forbid the tag", ctx)
		}
	}
}

// normalize reads the normalisations, in order.
func (rl *ruleLoad) normalize() {
	v, ok := rl.f["normalize"]
	if !ok {
		return
	}
	words, _ := rl.src.strs(v.value, rl.ctx+": normalize")
	for _, w := range words {
		switch w {
		case "trim":
			rl.r.normalize = append(rl.r.normalize, normTrim)
		case "lower":
			rl.r.normalize = append(rl.r.normalize, normLower)
		case "upper":
			rl.r.normalize = append(rl.r.normalize, normUpper)
		default:
			rl.errorf(v.value, "%s: normalize %q is unknown (use trim, lower or upper)", rl.ctx, w)
		}
	}
}

// remediate reads what a violated rule does: delete, replace or none.
func (rl *ruleLoad) remediate() {
	v, ok := rl.f["remediate"]
	if !ok {
		return
	}
	r, ctx := rl.r, rl.ctx
	w, _ := rl.src.str(v.value, ctx+": remediate")
	switch {
	case w == "delete":
		r.remediate = remedyDelete
	case w == "none":
		r.remediate = remedyNone
	case w == "replace" && r.kind == kindForbid:
		r.remediate = remedyReplace
	case r.kind == kindForbid:
		rl.errorf(v.value, "%s: remediate %q is unknown (use delete, replace or none)", ctx, w)
	default:
		rl.errorf(v.value, "%s: remediate %q is unknown (use delete or none)", ctx, w)
	}
}

// values reads default and value, and checks the rule's fixed texts against
// the tag rules and the rule itself, after everything they depend on is
// known.
func (rl *ruleLoad) values() {
	r, src, ctx, f := rl.r, rl.src, rl.ctx, rl.f
	dv, hasDefault := f["default"]
	vv, hasValue := f["value"]
	if hasDefault && hasValue {
		rl.errorf(vv.key, "%s: use default (a fixed text) or value (an expression), not both", ctx)
	}
	if r.kind == kindForbid {
		switch {
		case r.remediate == remedyReplace && !hasDefault && !hasValue:
			rl.errorf(f["remediate"].value, "%s: remediate: replace needs a default or a value to replace with", ctx)
		case r.remediate != remedyReplace && (hasDefault || hasValue):
			at := dv.key
			if !hasDefault {
				at = vv.key
			}
			rl.errorf(at, "%s: default and value only apply with remediate: replace", ctx)
		}
	}
	if hasValue {
		r.value = rl.l.expr(src, vv.value, ctx+": value", stringExpr)
	}
	rl.literals()
	if !hasDefault {
		return
	}
	d, ok := src.str(dv.value, ctx+": default")
	if !ok {
		return
	}
	r.hasDefault, r.def = true, d
	if rl.bad {
		return
	}
	var msg string
	if r.kind == kindRequire {
		msg = r.literalProblem(d, rl.l.limits)
	} else {
		msg = r.replaceProblem(d, rl.l.limits)
	}
	if msg != "" {
		src.errorf(dv.value, "%s: default %q cannot be written: %s", ctx, d, msg)
	}
}

// literals checks the allowed values of a require rule, and the forbidden
// values of a forbid rule, against the tag rules.
func (rl *ruleLoad) literals() {
	r, ctx := rl.r, rl.ctx
	if r.kind == kindRequire {
		for i, a := range r.allowed {
			if msg := r.literalProblem(a, rl.l.limits); msg != "" && !rl.bad {
				rl.errorf(allowedNode(rl.f["allowed"].value, i), "%s: allowed value %q can never be kept: %s", ctx, a, msg)
			}
		}
	}
	if r.kind == kindForbid {
		for i, v := range r.values {
			if err := checkChars(v); err != nil {
				rl.errorf(allowedNode(rl.f["values"].value, i), "%s: forbidden value %q can never occur: it %v", ctx, v, err)
			}
		}
	}
}

// hasContent reports whether a YAML document holds anything: not nothing,
// and not an empty document ("---" alone).
func hasContent(doc *yaml.Node) bool {
	if len(doc.Content) == 0 {
		return false
	}
	root := doc.Content[0]
	return !(root.Kind == yaml.ScalarNode && root.Tag == "!!null" && root.Value == "")
}

// allowedNode returns the i-th entry of a list node, or the node itself.
func allowedNode(n *yaml.Node, i int) *yaml.Node {
	n = resolve(n)
	if n.Kind == yaml.SequenceNode && i < len(n.Content) {
		return n.Content[i]
	}
	return n
}

func reMessage(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

// expr compiles the expression in scalar n; on failure it records an error
// at the exact line and column of the YAML file and returns nil.
func (l *loader) expr(src *source, n *yaml.Node, ctx string, kind exprKind) *vm.Program {
	text, ok := src.str(n, ctx)
	if !ok {
		return nil
	}
	n = resolve(n)
	if strings.TrimSpace(text) == "" {
		src.errorf(n, "%s is empty", ctx)
		return nil
	}
	prog, err := compileExpr(text, kind)
	if err == nil {
		return prog
	}
	var fe *file.Error
	if errors.As(err, &fe) {
		msg := exprMessage.Replace(fe.Message)
		if fe.Line == 0 { // whole-expression errors (result type) have no position
			src.errorf(n, "%s: %s", ctx, typeMessage(msg, kind))
			return nil
		}
		line, col := src.valuePosition(n, fe.From)
		src.errorAt(line, col, "%s: %s", ctx, msg)
		return nil
	}
	src.errorf(n, "%s: %s", ctx, typeMessage(exprMessage.Replace(err.Error()), kind))
	return nil
}

// typeMessage explains a wrong result type in the policy's terms.
func typeMessage(msg string, kind exprKind) string {
	if !strings.HasPrefix(msg, "expected ") {
		return msg
	}
	if kind == boolExpr {
		return "must be a condition (true or false): " + msg
	}
	return "must produce a text: " + msg
}
