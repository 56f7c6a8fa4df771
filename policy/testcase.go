package policy

import (
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// DefaultTestTime is the evaluation time of a test case that gives none.
var DefaultTestTime = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// TestCase is one policy test case decoded from a *_test.yaml file: a key,
// its tags and what evaluating them must give.
type TestCase struct {
	File     string
	Line     int // where the case starts (1-based)
	Column   int
	Name     string
	Policies []string // evaluate only these policies; empty = all
	Key      Key
	Tags     map[string]string
	Now      time.Time
	// Event is the key event the case evaluates under (its `event:`); nil
	// for none, as in a sweep.
	Event *Event
	// Exemptions are the case's exemption entries (its `exemptions:`, in
	// the form of the exemptions file). A case sees only these, never the
	// exemptions file of the folder, whose entries expire.
	Exemptions []Exemption
	Want       Expectation

	policiesAt [2]int // line and column of the policies list, when given
	exemptions []*exemption
}

// Expectation is what a test case expects: the exact tags to create and
// delete, and the exact set of violations.
type Expectation struct {
	Create     map[string]string
	Delete     []string
	Violations []WantViolation
}

// WantViolation matches one violation. Policy and Rule must be equal; Tag,
// Remediated, Due and Notify are compared when given; Message must be a
// substring of the violation's message when given.
type WantViolation struct {
	Policy     string
	Rule       string
	Tag        *string
	Remediated *bool
	Message    string
	// Due is compared when given: the violation's due date (Violation.Due),
	// "" for none.
	Due *string
	// Notify is compared when given: who the violation's policy names to
	// notify (Violation.Notify), "" for no one.
	Notify *string
}

// CaseResult is the outcome of one test case.
type CaseResult struct {
	File   string
	Line   int
	Name   string
	Passed bool
	// Diff lists, one per line, how the decision differs from the
	// expectation; empty when the case passed.
	Diff string
	// Got is the decision the engine made.
	Got Decision
}

// TestFiles lists the test case files of fsys: every *_test.yaml and
// *_test.yml at its root, sorted.
func TestFiles(fsys fs.FS) ([]string, error) {
	var out []string
	for _, pat := range []string{"*_test.yaml", "*_test.yml"} {
		m, err := fs.Glob(fsys, pat)
		if err != nil {
			return nil, fmt.Errorf("list test files: %w", err)
		}
		out = append(out, m...)
	}
	slices.Sort(out)
	return out, nil
}

// LoadTests decodes every test case file of fsys (see TestFiles). Decoding
// is strict, like Load: on any problem it returns LoadErrors and no cases.
func LoadTests(fsys fs.FS) ([]TestCase, error) {
	files, err := TestFiles(fsys)
	if err != nil {
		return nil, err
	}
	var errs LoadErrors
	var cases []TestCase
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			errs = append(errs, &LoadError{File: f, Message: fmt.Sprintf("read: %v", err)})
			continue
		}
		cases = append(cases, decodeTests(newSource(f, data, &errs), data)...)
	}
	if len(errs) > 0 {
		errs.sort()
		return nil, errs
	}
	return cases, nil
}

// RunTests runs every test case of fsys against the engine and returns one
// result per case, in file order. The error is non-nil only when the test
// files cannot be read or decoded (then LoadErrors), or name a policy the
// engine does not have; failing cases are results, not errors.
func RunTests(fsys fs.FS, e *Engine) ([]CaseResult, error) {
	cases, err := LoadTests(fsys)
	if err != nil {
		return nil, err
	}
	return RunCases(cases, e)
}

// RunCases runs decoded test cases against the engine.
func RunCases(cases []TestCase, e *Engine) ([]CaseResult, error) {
	var errs LoadErrors
	out := make([]CaseResult, 0, len(cases))
	for _, c := range cases {
		eng := e
		if len(c.Policies) > 0 {
			sub, err := e.Subset(c.Policies...)
			if err != nil {
				line, col := c.Line, c.Column
				if c.policiesAt[0] > 0 {
					line, col = c.policiesAt[0], c.policiesAt[1]
				}
				errs = append(errs, &LoadError{File: c.File, Line: line, Column: col, Message: fmt.Sprintf("case %q: %v", c.Name, err)})
				continue
			}
			eng = sub
		}
		if bad := unknownPolicies(c, eng); len(bad) > 0 {
			errs = append(errs, bad...)
			continue
		}
		eng = eng.withExemptions(c.exemptions)
		got := eng.EvaluateEvent(c.Key, c.Tags, c.Now, c.Event)
		diff := c.Want.Diff(got)
		out = append(out, CaseResult{File: c.File, Line: c.Line, Name: c.Name, Passed: diff == "", Diff: diff, Got: got})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// unknownPolicies reports the policies the case's exemption entries name
// that the engine does not have.
func unknownPolicies(c TestCase, e *Engine) LoadErrors {
	var errs LoadErrors
	for _, x := range c.exemptions {
		for i, p := range x.Policies {
			if !slices.ContainsFunc(e.policies, func(cp *compiled) bool { return cp.name == p }) {
				errs = append(errs, &LoadError{File: c.File, Line: x.policyAt[i].line, Column: x.policyAt[i].col,
					Message: fmt.Sprintf("case %q: exemption %s: no policy named %q", c.Name, x.Entry, p)})
			}
		}
	}
	return errs
}

// Diff describes, one line per difference, how a decision differs from the
// expectation; it is empty when the decision meets it.
func (w Expectation) Diff(got Decision) string {
	var lines []string
	gotCreate := map[string]string{}
	for _, t := range got.Create {
		gotCreate[t.Key] = t.Value
	}
	for _, k := range slices.Sorted(maps.Keys(w.Create)) {
		if v, ok := gotCreate[k]; !ok {
			lines = append(lines, fmt.Sprintf("create: missing %s=%q", k, w.Create[k]))
		} else if v != w.Create[k] {
			lines = append(lines, fmt.Sprintf("create: %s=%q, want %s=%q", k, v, k, w.Create[k]))
		}
	}
	for _, t := range got.Create {
		if _, ok := w.Create[t.Key]; !ok {
			lines = append(lines, fmt.Sprintf("create: unexpected %s=%q", t.Key, t.Value))
		}
	}
	gotDelete := map[string]bool{}
	for _, t := range got.Delete {
		gotDelete[t.Key] = true
		if !slices.Contains(w.Delete, t.Key) {
			lines = append(lines, fmt.Sprintf("delete: unexpected %s", t.Key))
		}
	}
	for _, k := range w.Delete {
		if !gotDelete[k] {
			lines = append(lines, fmt.Sprintf("delete: missing %s", k))
		}
	}
	used := make([]bool, len(got.Violations))
	for _, wv := range w.Violations {
		found := false
		for i, gv := range got.Violations {
			if !used[i] && wv.matches(gv) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			lines = append(lines, "violation: missing "+wv.String())
		}
	}
	for i, gv := range got.Violations {
		if !used[i] {
			line := fmt.Sprintf("violation: unexpected policy=%q rule=%q tag=%q remediated=%t", gv.Policy, gv.Rule, gv.Tag, gv.Remediated)
			if gv.Notify != "" {
				line += fmt.Sprintf(" notify=%q", gv.Notify)
			}
			lines = append(lines, line+fmt.Sprintf(" message=%q", gv.Message))
		}
	}
	return strings.Join(lines, "\n")
}

func (wv WantViolation) matches(v Violation) bool {
	return wv.Policy == v.Policy && wv.Rule == v.Rule &&
		(wv.Tag == nil || *wv.Tag == v.Tag) &&
		(wv.Remediated == nil || *wv.Remediated == v.Remediated) &&
		(wv.Due == nil || *wv.Due == v.Due) &&
		(wv.Notify == nil || *wv.Notify == v.Notify) &&
		strings.Contains(v.Message, wv.Message)
}

// String describes the expected violation.
func (wv WantViolation) String() string {
	s := fmt.Sprintf("policy=%q rule=%q", wv.Policy, wv.Rule)
	if wv.Tag != nil {
		s += fmt.Sprintf(" tag=%q", *wv.Tag)
	}
	if wv.Remediated != nil {
		s += fmt.Sprintf(" remediated=%t", *wv.Remediated)
	}
	if wv.Due != nil {
		s += fmt.Sprintf(" due=%q", *wv.Due)
	}
	if wv.Notify != nil {
		s += fmt.Sprintf(" notify=%q", *wv.Notify)
	}
	if wv.Message != "" {
		s += fmt.Sprintf(" message~%q", wv.Message)
	}
	return s
}

var (
	testFileFields = []string{"policies", "now", "cases"}
	caseFields     = []string{"name", "policies", "key", "tags", "now", "event", "exemptions", "want"}
	eventFields    = []string{"operation", "user", "source_ip"}
	userFields     = []string{"name", "id"}
	keyFields      = []string{"id", "alias", "state", "spec", "usage", "origin", "created", "default", "description", "enterprise_project", "keystore", "rotation_enabled"}
	wantFields     = []string{"create", "delete", "violations"}
	violFields     = []string{"policy", "rule", "tag", "remediated", "message", "due", "notify"}
)

func decodeTests(src *source, data []byte) []TestCase {
	var out []TestCase
	before := len(*src.errs)
	docs := src.documents(data)
	if !slices.ContainsFunc(docs, hasContent) && len(*src.errs) == before {
		src.errorAt(1, 1, "the file is empty: write a list under \"cases:\"")
	}
	for _, doc := range docs {
		if !hasContent(doc) {
			continue
		}
		root := doc.Content[0]
		f := src.fields(root, "a test file", testFileFields)
		if f == nil {
			continue
		}
		var policies []string
		var policiesAt [2]int
		if v, ok := f["policies"]; ok {
			policies, _ = src.strs(v.value, "policies")
			policiesAt = [2]int{v.value.Line, v.value.Column}
		}
		now := DefaultTestTime
		if v, ok := f["now"]; ok {
			now, _ = src.time(v.value, "now")
		}
		cf, ok := f["cases"]
		if !ok {
			src.errorf(root, "a test file needs a \"cases:\" list")
			continue
		}
		list := resolve(cf.value)
		if list.Kind != yaml.SequenceNode || len(list.Content) == 0 {
			src.errorf(list, "\"cases\" must be a non-empty list, not %s", describe(list))
			continue
		}
		names := map[string]int{}
		for _, cn := range list.Content {
			c, ok := src.testCase(resolve(cn), policies, policiesAt, now)
			if !ok {
				continue
			}
			if line, dup := names[c.Name]; dup {
				src.errorf(cn, "duplicate case name %q (first at line %d)", c.Name, line)
				continue
			}
			names[c.Name] = c.Line
			out = append(out, c)
		}
	}
	return out
}

func (s *source) testCase(n *yaml.Node, policies []string, policiesAt [2]int, now time.Time) (TestCase, bool) {
	nerr := len(*s.errs)
	c := TestCase{File: s.name, Line: n.Line, Column: n.Column, Policies: policies, Now: now, policiesAt: policiesAt}
	f := s.fields(n, "a test case", caseFields)
	if f == nil {
		return c, false
	}
	if v, ok := f["name"]; ok {
		c.Name, _ = s.str(v.value, "the case name")
	} else {
		s.errorf(n, "a test case needs a name")
	}
	if v, ok := f["policies"]; ok {
		c.Policies, _ = s.strs(v.value, "policies")
		c.policiesAt = [2]int{v.value.Line, v.value.Column}
	}
	if v, ok := f["now"]; ok {
		c.Now, _ = s.time(v.value, "now")
	}
	c.Key = Key{ID: "test-key", State: StateEnabled, Spec: "AES_256", Usage: "ENCRYPT_DECRYPT", Origin: "kms"}
	if v, ok := f["key"]; ok {
		s.key(v.value, &c.Key)
	}
	if v, ok := f["tags"]; ok {
		c.Tags = s.stringMap(v.value, "tags")
	}
	if v, ok := f["event"]; ok {
		c.Event = s.event(v.value)
	}
	if v, ok := f["exemptions"]; ok {
		list := resolve(v.value)
		if list.Kind != yaml.SequenceNode {
			s.errorf(list, "exemptions must be a list of entries, not %s", describe(list))
		} else {
			for _, xn := range list.Content {
				if x, ok := s.exemption(resolve(xn)); ok {
					c.exemptions = append(c.exemptions, x)
					c.Exemptions = append(c.Exemptions, x.Exemption)
				}
			}
		}
	}
	if v, ok := f["want"]; ok {
		c.Want = s.want(v.value)
	}
	return c, len(*s.errs) == nerr
}

func (s *source) key(n *yaml.Node, k *Key) {
	f := s.fields(n, "a key", keyFields)
	strField := map[string]*string{"id": &k.ID, "alias": &k.Alias, "state": &k.State, "spec": &k.Spec, "usage": &k.Usage,
		"origin": &k.Origin, "description": &k.Description, "enterprise_project": &k.EnterpriseProject, "keystore": &k.Keystore}
	for name, fl := range f {
		switch name {
		case "created":
			k.Created, _ = s.time(fl.value, "created")
		case "default":
			k.Default, _ = s.boolean(fl.value, "default")
		case "rotation_enabled":
			k.RotationEnabled, _ = s.boolean(fl.value, "rotation_enabled")
		default:
			*strField[name], _ = s.str(fl.value, name)
		}
	}
}

// event decodes a case's event: {operation, user: {name, id}, source_ip}.
func (s *source) event(n *yaml.Node) *Event {
	ev := &Event{}
	for name, fl := range s.fields(n, "an event", eventFields) {
		switch name {
		case "operation":
			ev.Operation, _ = s.str(fl.value, "event.operation")
		case "source_ip":
			ev.SourceIP, _ = s.str(fl.value, "event.source_ip")
		case "user":
			for un, ufl := range s.fields(fl.value, "event.user", userFields) {
				if un == "name" {
					ev.UserName, _ = s.str(ufl.value, "event.user.name")
				} else {
					ev.UserID, _ = s.str(ufl.value, "event.user.id")
				}
			}
		}
	}
	return ev
}

func (s *source) stringMap(n *yaml.Node, what string) map[string]string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		s.errorf(n, "%s must be a mapping of tag keys to values, not %s", what, describe(n))
		return nil
	}
	out := make(map[string]string, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, ok1 := s.str(n.Content[i], "a tag key")
		v := ""
		if vn := resolve(n.Content[i+1]); !(vn.Kind == yaml.ScalarNode && vn.Tag == "!!null") {
			v, _ = s.str(vn, "a tag value")
		}
		if !ok1 {
			continue
		}
		if _, dup := out[k]; dup {
			s.errorf(n.Content[i], "tag %q appears twice in %s", k, what)
		}
		out[k] = v
	}
	return out
}

func (s *source) want(n *yaml.Node) Expectation {
	var w Expectation
	f := s.fields(n, "want", wantFields)
	if v, ok := f["create"]; ok {
		w.Create = s.stringMap(v.value, "want.create")
	}
	if v, ok := f["delete"]; ok {
		w.Delete, _ = s.strs(v.value, "want.delete")
	}
	if v, ok := f["violations"]; ok {
		list := resolve(v.value)
		if list.Kind != yaml.SequenceNode {
			s.errorf(list, "want.violations must be a list, not %s", describe(list))
			return w
		}
		for _, vn := range list.Content {
			vf := s.fields(vn, "a violation", violFields)
			if vf == nil {
				continue
			}
			var wv WantViolation
			for name, fl := range vf {
				switch name {
				case "policy":
					wv.Policy, _ = s.str(fl.value, "policy")
				case "rule":
					wv.Rule, _ = s.str(fl.value, "rule")
				case "tag":
					t, _ := s.str(fl.value, "tag")
					wv.Tag = &t
				case "remediated":
					b, _ := s.boolean(fl.value, "remediated")
					wv.Remediated = &b
				case "message":
					wv.Message, _ = s.str(fl.value, "message")
				case "due":
					d, _ := s.str(fl.value, "due")
					wv.Due = &d
				case "notify":
					who, _ := s.str(fl.value, "notify")
					wv.Notify = &who
				}
			}
			if wv.Policy == "" || wv.Rule == "" {
				s.errorf(vn, "an expected violation needs a policy and a rule")
			}
			w.Violations = append(w.Violations, wv)
		}
	}
	return w
}

func (s *source) time(n *yaml.Node, what string) (time.Time, bool) {
	v, ok := s.str(n, what)
	if !ok {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	s.errorf(n, "%s must be a time such as 2026-01-01T00:00:00Z, not %q", what, v)
	return time.Time{}, false
}
