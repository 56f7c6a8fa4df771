package main

// Saved plans: what "tagwarden plan --out FILE" writes and "tagwarden apply
// FILE" and "tagwarden show FILE" read. The format is documented in
// docs/cli.md ("Saved plans"); planFormatVersion changes with any change a
// reader of an older version would misread.

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// planFormatVersion is the version of the plan file format this tagwarden
// writes and reads.
const planFormatVersion = 1

// maxPlanFile bounds the size of a plan file read: about 2,000 times a
// plan of 10,000 keys with changes.
const maxPlanFile = 1 << 30

// embeddedPolicies names the shipped policy set in a plan's "policies".
const embeddedPolicies = "embedded"

// savedPlan is a plan as saved: what a plan read and decided, and where.
type savedPlan struct {
	FormatVersion int        `json:"format_version"`
	Created       string     `json:"created"` // RFC 3339, UTC
	ToolVersion   string     `json:"tool_version"`
	Target        planTarget `json:"target"`
	// PolicyDigest identifies the policy set the plan was made with
	// (policy.Engine.Digest); Policies says where it came from: a folder,
	// or "embedded" for the shipped policies.
	PolicyDigest string `json:"policy_digest"`
	Policies     string `json:"policies"`
	// Mode is "sweep" (every key) or "keys" (KeyIDs, from --key).
	Mode   handler.Mode `json:"mode"`
	KeyIDs []string     `json:"key_ids,omitempty"`
	Counts planCounts   `json:"counts"`
	// Keys lists every key that is not compliant (and compliant keys an
	// exemption entry names), as the plan's report does; keys with changes
	// have the outcome "planned" and the tags the plan read.
	Keys []planKey `json:"keys"`

	// Where the plan was read from, for the positions of its problems.
	file string
	data []byte
}

// planTarget is the KMS a plan was made against.
type planTarget struct {
	Region    string `json:"region"`
	ProjectID string `json:"project_id"`
	Endpoint  string `json:"endpoint"`
}

func (t planTarget) String() string {
	s := "project " + t.ProjectID + " at " + t.Endpoint
	if t.Region != "" {
		s += " (region " + t.Region + ")"
	}
	return s
}

// planCounts are the numbers of the plan's report (handler.Report).
type planCounts struct {
	Scanned   int `json:"scanned"`
	Compliant int `json:"compliant"`
	Planned   int `json:"planned"`
	Violating int `json:"violating"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"`
}

// planKey is one key of a plan.
type planKey struct {
	KeyID   string          `json:"key_id"`
	Alias   string          `json:"alias,omitempty"`
	Outcome handler.Outcome `json:"outcome"`
	// Read holds the tags the plan read and decided on, for a key with
	// changes: apply writes the changes only if the key still has exactly
	// these tags.
	Read       map[string]string       `json:"read,omitzero"`
	Create     []policy.Tag            `json:"create,omitempty"`
	Delete     []policy.Tag            `json:"delete,omitempty"`
	Violations []policy.Violation      `json:"violations,omitempty"`
	Exemptions []policy.ExemptionMatch `json:"exemptions,omitempty"`
	Error      string                  `json:"error,omitempty"`
	Reason     string                  `json:"reason,omitempty"`
}

// decision is the key's planned changes.
func (k planKey) decision() policy.Decision {
	return policy.Decision{KeyID: k.KeyID, Create: k.Create, Delete: k.Delete, Violations: k.Violations}
}

// changes counts the tags the plan writes (created or deleted), and the keys.
func (p *savedPlan) changes() (tags, keys int) {
	for _, k := range p.Keys {
		if n := len(k.Create) + len(k.Delete); n > 0 {
			tags += n
			keys++
		}
	}
	return tags, keys
}

// newSavedPlan makes the plan of a dry-run report rep, whose keys with
// changes read the tags in reads.
func newSavedPlan(rep handler.Report, reads map[string]map[string]string, t planTarget, engine *policy.Engine, policiesDir string, keyIDs []string) (*savedPlan, error) {
	p := &savedPlan{
		FormatVersion: planFormatVersion,
		Created:       rep.Started.UTC().Format(time.RFC3339),
		ToolVersion:   version(),
		Target:        t,
		PolicyDigest:  engine.Digest(),
		Policies:      policiesName(policiesDir),
		Mode:          rep.Mode,
		KeyIDs:        keyIDs,
		Counts: planCounts{Scanned: rep.Scanned, Compliant: rep.Compliant, Planned: rep.Planned,
			Violating: rep.Violating, Failed: rep.Failed, Skipped: rep.Skipped},
		Keys: make([]planKey, 0, len(rep.Keys)),
	}
	if rep.Started.IsZero() {
		p.Created = time.Now().UTC().Format(time.RFC3339)
	}
	for _, kr := range rep.Keys {
		k := planKey{KeyID: kr.KeyID, Alias: kr.Alias, Outcome: kr.Outcome, Create: kr.Create, Delete: kr.Delete,
			Violations: kr.Violations, Exemptions: kr.Exemptions, Error: kr.Error, Reason: kr.Reason}
		if kr.Outcome == handler.OutcomePlanned {
			read, ok := reads[kr.KeyID]
			if !ok {
				return nil, fmt.Errorf("internal error: the tags read of planned key %s were not kept", kr.KeyID)
			}
			k.Read = read
		}
		p.Keys = append(p.Keys, k)
	}
	return p, nil
}

// policiesName is how a plan names its policy set.
func policiesName(dir string) string {
	if dir == "" {
		return embeddedPolicies
	}
	return dir
}

// report is the plan as the dry-run report it was made from, for the
// table, the summary and the exit status.
func (p *savedPlan) report() handler.Report {
	rep := handler.Report{Mode: p.Mode, DryRun: true, Scanned: p.Counts.Scanned, Compliant: p.Counts.Compliant,
		Planned: p.Counts.Planned, Violating: p.Counts.Violating, Failed: p.Counts.Failed, Skipped: p.Counts.Skipped}
	for _, k := range p.Keys {
		rep.Keys = append(rep.Keys, handler.KeyReport{KeyID: k.KeyID, Alias: k.Alias, Outcome: k.Outcome, Create: k.Create,
			Delete: k.Delete, Violations: k.Violations, Exemptions: k.Exemptions, Error: k.Error, Reason: k.Reason})
	}
	return rep
}

// writePlanFile writes p to path atomically (a temporary file in the same
// folder, renamed over path), readable by its owner only: the plan holds
// tag values.
// checkPlanPath checks that a plan can be saved at path: not a folder, in
// a folder where a file can be made.
func checkPlanPath(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("--out %s: a folder, not a file", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".check-*")
	if err != nil {
		return fmt.Errorf("--out %s: cannot save a plan there: %w", path, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

func writePlanFile(path string, p *savedPlan) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("save the plan: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("save the plan: %w", err)
	}
	if err := writeJSON(f, p); err != nil {
		return fmt.Errorf("save the plan: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("save the plan: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save the plan: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("save the plan: %w", err)
	}
	return nil
}

// readPlanFile reads and decodes the plan file at path (see decodePlan).
func readPlanFile(path string) (*savedPlan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("plan file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPlanFile+1))
	if err != nil {
		return nil, fmt.Errorf("plan file: %w", err)
	}
	if len(data) > maxPlanFile {
		return nil, fmt.Errorf("plan file %s: larger than %d MiB: not a plan tagwarden wrote", path, maxPlanFile>>20)
	}
	return decodePlan(path, data)
}

// decodePlan decodes a plan file strictly: valid JSON, a format version
// this tagwarden reads, every field known and of its type. Errors are at
// file:line:column. The plan's consistency is checked by check.
func decodePlan(file string, data []byte) (*savedPlan, error) {
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		return nil, errorAt(file, data, 0, "the file starts with a byte order mark: a plan is UTF-8 JSON without one")
	}
	if !utf8.Valid(data) {
		// encoding/json would turn the bytes into U+FFFD, and a tag value
		// would be written other than it reads.
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return nil, errorAt(file, data, int64(off), "not valid UTF-8")
	}
	if err := syntaxError(file, data); err != nil {
		return nil, err
	}
	// The version first: a newer file may have fields this one does not know.
	var head map[string]json.RawMessage
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, errorAt(file, data, valueOffset(data, nil), "not a tagwarden plan: the file holds no JSON object")
	}
	raw, ok := head["format_version"]
	if !ok {
		return nil, errorAt(file, data, valueOffset(data, nil), "not a tagwarden plan: no format_version")
	}
	var v int
	if err := json.Unmarshal(raw, &v); err != nil || v != planFormatVersion {
		return nil, errorAt(file, data, valueOffset(data, jsonPath{"format_version"}),
			"unknown format version %s: this tagwarden, version %s, reads plans of format version %d; plan again, or use the tagwarden that wrote it",
			raw, version(), planFormatVersion)
	}
	if err := checkShape(file, data, savedPlan{}); err != nil {
		return nil, err
	}
	p := &savedPlan{}
	if err := json.Unmarshal(data, p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, errorAt(file, data, te.Offset, "%s: %v", te.Field, err)
		}
		return nil, errorAt(file, data, 0, "%v", err)
	}
	p.file, p.data = file, data
	return p, nil
}

// problem is an inconsistency of a plan at a path of its document.
type problem struct {
	path jsonPath
	msg  string
}

// planErrors are the problems of a plan file, at their places: the first
// maxPlanProblems of total.
type planErrors struct {
	errs  []*fileError
	total int
}

func (e *planErrors) Error() string {
	var b strings.Builder
	name := e.errs[0].File
	if name == "" {
		name = "made in memory"
	}
	fmt.Fprintf(&b, "refusing the plan %s: %d %s (nothing was applied)", name, e.total, plural(e.total, "problem", "problems"))
	for _, fe := range e.errs {
		b.WriteString("\n  " + fe.Error())
	}
	if more := e.total - len(e.errs); more > 0 {
		fmt.Fprintf(&b, "\n  ... and %d more", more)
	}
	return b.String()
}

// maxPlanProblems bounds the problems reported of one file.
const maxPlanProblems = 20

var digestRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// check refuses a plan that is not consistent: a change that breaks the tag
// rules lim, a delete of a tag the plan did not read, a create that
// changes nothing, counts that do not add up, a key twice. Every problem is
// reported at its place in the file (in a plan made in memory, at its
// path).
func (p *savedPlan) check(lim policy.Limits) error {
	var probs []problem
	bad := func(path jsonPath, format string, args ...any) {
		probs = append(probs, problem{path, fmt.Sprintf(format, args...)})
	}
	if _, err := time.Parse(time.RFC3339, p.Created); err != nil {
		bad(jsonPath{"created"}, "created: %q is not an RFC 3339 time", p.Created)
	}
	if p.Target.ProjectID == "" {
		bad(jsonPath{"target", "project_id"}, "target.project_id is empty")
	}
	if p.Target.Endpoint == "" {
		bad(jsonPath{"target", "endpoint"}, "target.endpoint is empty")
	}
	if !digestRE.MatchString(p.PolicyDigest) {
		bad(jsonPath{"policy_digest"}, "policy_digest %q is not a policy set's digest (64 hex digits)", p.PolicyDigest)
	}
	switch p.Mode {
	case handler.ModeSweep:
		if len(p.KeyIDs) > 0 {
			bad(jsonPath{"key_ids"}, "key_ids: a sweep names no keys")
		}
	case handler.ModeKeys:
		if len(p.KeyIDs) == 0 {
			bad(jsonPath{"key_ids"}, "key_ids: a plan of keys names them")
		}
		for i, id := range p.KeyIDs {
			if err := handler.ValidKeyID(id); err != nil {
				bad(jsonPath{"key_ids", i}, "key_ids[%d]: %q is not a key id", i, id)
			}
		}
	default:
		bad(jsonPath{"mode"}, "mode %q is not sweep or keys", p.Mode)
	}
	c := p.Counts
	if c.Scanned < 0 || c.Compliant < 0 || c.Planned < 0 || c.Violating < 0 || c.Failed < 0 || c.Skipped < 0 {
		bad(jsonPath{"counts"}, "counts: a negative count")
	} else if sum := c.Compliant + c.Planned + c.Violating + c.Failed + c.Skipped; sum != c.Scanned {
		bad(jsonPath{"counts", "scanned"}, "counts: %d keys scanned, but the outcomes add up to %d", c.Scanned, sum)
	}
	by := map[handler.Outcome]int{}
	seen := make(map[string]int, len(p.Keys))
	for i, k := range p.Keys {
		at := jsonPath{"keys", i}
		by[k.Outcome]++
		if err := handler.ValidKeyID(k.KeyID); err != nil {
			bad(at.with("key_id"), "keys[%d]: %q is not a key id", i, k.KeyID)
		}
		if j, dup := seen[k.KeyID]; dup {
			bad(at.with("key_id"), "keys[%d]: key %s is already keys[%d]", i, k.KeyID, j)
		}
		if p.Mode == handler.ModeKeys && !slices.Contains(p.KeyIDs, k.KeyID) {
			bad(at.with("key_id"), "keys[%d]: key %s is not one of the plan's key_ids", i, k.KeyID)
		}
		seen[k.KeyID] = i
		switch k.Outcome {
		case handler.OutcomePlanned:
			probs = append(probs, checkPlannedKey(at, i, k, lim)...)
			continue
		case handler.OutcomeCompliant, handler.OutcomeViolation, handler.OutcomeSkipped, handler.OutcomeFailed:
		default:
			bad(at.with("outcome"), "keys[%d]: outcome %q is not one of planned, violation, skipped, failed, compliant", i, k.Outcome)
			continue
		}
		if len(k.Create)+len(k.Delete) > 0 {
			bad(at.with("outcome"), "keys[%d]: a key with changes has the outcome %q, not planned", i, k.Outcome)
		}
		if k.Read != nil {
			bad(at.with("read"), "keys[%d]: tags read are kept for keys with changes only", i)
		}
	}
	for _, n := range []struct {
		name    string
		outcome handler.Outcome
		want    int
	}{
		{"planned", handler.OutcomePlanned, c.Planned},
		{"violating", handler.OutcomeViolation, c.Violating},
		{"failed", handler.OutcomeFailed, c.Failed},
		{"skipped", handler.OutcomeSkipped, c.Skipped},
	} {
		if by[n.outcome] != n.want {
			bad(jsonPath{"counts", n.name}, "counts.%s is %d, but %d keys have the outcome %s", n.name, n.want, by[n.outcome], n.outcome)
		}
	}
	if by[handler.OutcomeCompliant] > c.Compliant {
		bad(jsonPath{"counts", "compliant"}, "counts.compliant is %d, but %d compliant keys are listed", c.Compliant, by[handler.OutcomeCompliant])
	}
	if len(probs) == 0 {
		return nil
	}
	out := make([]*fileError, len(probs))
	var offs []int64
	if p.data != nil {
		paths := make([]jsonPath, len(probs))
		for i, pr := range probs {
			paths[i] = pr.path
		}
		offs = valueOffsets(p.data, paths)
	}
	for i, pr := range probs {
		if p.data == nil {
			out[i] = &fileError{File: p.file, Msg: pr.msg}
			continue
		}
		out[i] = errorAt(p.file, p.data, offs[i], "%s", pr.msg)
	}
	slices.SortStableFunc(out, func(a, b *fileError) int { return cmp.Compare(a.Offset, b.Offset) })
	return &planErrors{errs: out[:min(len(out), maxPlanProblems)], total: len(out)}
}

// checkPlannedKey checks the changes of keys[i], which has the outcome
// planned, against the tags it read and the tag rules.
func checkPlannedKey(at jsonPath, i int, k planKey, lim policy.Limits) []problem {
	var probs []problem
	bad := func(path jsonPath, format string, args ...any) {
		probs = append(probs, problem{path, fmt.Sprintf(format, args...)})
	}
	if k.Read == nil {
		bad(at, "keys[%d]: a planned key has no \"read\": the tags the plan read", i)
		return probs
	}
	if len(k.Create)+len(k.Delete) == 0 {
		bad(at.with("outcome"), "keys[%d]: a planned key has no change", i)
	}
	created := map[string]bool{}
	for j, t := range k.Create {
		here := at.with("create", j)
		if err := lim.CheckKey(t.Key); err != nil {
			bad(here.with("key"), "keys[%d].create[%d]: %v", i, j, err)
		} else if err := lim.CheckValue(t.Value); err != nil {
			bad(here.with("value"), "keys[%d].create[%d]: tag %q: %v", i, j, t.Key, err)
		}
		if created[t.Key] {
			bad(here.with("key"), "keys[%d].create[%d]: tag %q is created twice", i, j, t.Key)
		}
		created[t.Key] = true
		if v, ok := k.Read[t.Key]; ok && v == t.Value {
			bad(here.with("value"), "keys[%d].create[%d]: tag %q already has the value %q: not a change", i, j, t.Key, v)
		}
	}
	deleted := map[string]bool{}
	for j, t := range k.Delete {
		here := at.with("delete", j)
		if err := lim.CheckKey(t.Key); err != nil {
			bad(here.with("key"), "keys[%d].delete[%d]: %v", i, j, err)
		}
		v, ok := k.Read[t.Key]
		switch {
		case !ok:
			bad(here.with("key"), "keys[%d].delete[%d]: tag %q is not among the tags the plan read", i, j, t.Key)
		case v != t.Value:
			bad(here.with("value"), "keys[%d].delete[%d]: tag %q has the value %q in the tags the plan read, not %q", i, j, t.Key, v, t.Value)
		}
		if deleted[t.Key] {
			bad(here.with("key"), "keys[%d].delete[%d]: tag %q is deleted twice", i, j, t.Key)
		}
		if created[t.Key] {
			bad(here.with("key"), "keys[%d].delete[%d]: tag %q is both created and deleted", i, j, t.Key)
		}
		deleted[t.Key] = true
	}
	after := k.decision().Apply(k.Read)
	if len(after) > lim.MaxTags && len(after) > len(k.Read) {
		bad(at.with("create"), "keys[%d]: the key would have %d tags, more than %d", i, len(after), lim.MaxTags)
	}
	return probs
}

// sortedTags returns a tag map's keys in order.
func sortedTags(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
