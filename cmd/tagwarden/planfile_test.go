package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// TestPlanFileRefused: a plan file edited by hand into an inconsistent
// state is refused, each problem at file:line:column (testdata/plans/,
// each a hand edit of valid.json).
func TestPlanFileRefused(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string // the problems, in order
	}{
		{"empty.json", []string{"empty.json:1:1: the file is empty"}},
		// encoding/json would read the bytes as U+FFFD: a value written
		// other than the file says.
		{"bad-utf8.json", []string{"bad-utf8.json:30:24: not valid UTF-8"}},
		// A plan of named keys holds only those keys.
		{"key-not-named.json", []string{
			"key-not-named.json:67:17: keys[1]: key 2f9c6c1e-5a57-4f5e-9d41-3f0b6f9a1c22 is not one of the plan's key_ids",
			"key-not-named.json:116:17: keys[2]: key 5b1e8d0a-9c3f-4e2b-8a7d-6c5f4e3d2b1a is not one of the plan's key_ids",
			"key-not-named.json:122:17: keys[3]: key 7a3d2c1b-0e9f-4a8b-9c7d-1e2f3a4b5c6d is not one of the plan's key_ids",
		}},
		{"bom.json", []string{"bom.json:1:1: the file starts with a byte order mark: a plan is UTF-8 JSON without one"}},
		{"truncated.json", []string{"truncated.json:74:17: the file ends in the middle of the JSON (truncated?)"}},
		{"not-json.json", []string{"not-json.json:1:2: not valid JSON: invalid character 'o' in literal false (expecting 'a')"}},
		{"trailing.json", []string{"trailing.json:156:1: not valid JSON: invalid character '}' after top-level value"}},
		{"array.json", []string{"array.json:1:1: not a tagwarden plan: the file holds no JSON object"}},
		{"no-version.json", []string{"no-version.json:1:1: not a tagwarden plan: no format_version"}},
		{"version-2.json", []string{"version-2.json:2:21: unknown format version 2: this tagwarden, version " + version() +
			", reads plans of format version 1; plan again, or use the tagwarden that wrote it"}},
		{"unknown-field.json", []string{`unknown-field.json:68:7: keys[1]: unknown field "colour" (fields: key_id, alias, outcome, read, create, delete, violations, exemptions, error, reason)`}},
		{"duplicate-field.json", []string{"duplicate-field.json:123:7: keys[3].alias: given twice"}},
		{"wrong-type.json", []string{"wrong-type.json:14:16: counts.scanned: a string, want a number"}},
		{"bad-value.json", []string{`bad-value.json:134:20: keys[3].create[1]: tag "env": value "sta=ging" contains '=', which tags may not contain`}},
		{"bad-key.json", []string{`bad-key.json:37:18: keys[0].create[2]: tag key "_sys_owner" uses the reserved prefix "_sys_"`}},
		{"long-value.json", []string{`long-value.json:30:20: keys[0].create[0]: tag "cost-center": value "` + strings.Repeat("x", 44) + `" is 44 characters long, more than 43`}},
		{"delete-unread.json", []string{`delete-unread.json:86:18: keys[1].delete[0]: tag "temp-build" is not among the tags the plan read`}},
		{"delete-value.json", []string{`delete-value.json:87:20: keys[1].delete[0]: tag "temp-debug" has the value "1" in the tags the plan read, not "2"`}},
		{"noop-create.json", []string{`noop-create.json:134:20: keys[3].create[1]: tag "owner" already has the value "team-reports": not a change`}},
		{"too-many-tags.json", []string{"too-many-tags.json:135:17: keys[3]: the key would have 11 tags, more than 10"}},
		{"no-read.json", []string{`no-read.json:120:5: keys[3]: a planned key has no "read": the tags the plan read`}},
		{"duplicate-key.json", []string{"duplicate-key.json:121:17: keys[3]: key 0d0466b0-e727-4d9c-b35d-f84bb474a37f is already keys[0]"}},
		{"counts.json", []string{
			"counts.json:14:16: counts: 4 keys scanned, but the outcomes add up to 3",
			"counts.json:16:16: counts.planned is 2, but 3 keys have the outcome planned",
		}},
		{"outcome-changed.json", []string{
			"outcome-changed.json:16:16: counts.planned is 3, but 2 keys have the outcome planned",
			`outcome-changed.json:123:18: keys[3]: outcome "changed" is not one of planned, violation, skipped, failed, compliant`,
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			p, err := readPlanFile(filepath.Join("testdata", "plans", tc.file))
			if err == nil {
				err = p.check(policy.DefaultLimits())
			}
			if err == nil {
				t.Fatal("the plan was taken")
			}
			var got []string
			var fe *fileError
			var pe *planErrors
			switch {
			case errors.As(err, &pe):
				for _, e := range pe.errs {
					got = append(got, e.Error())
				}
			case errors.As(err, &fe):
				got = []string{fe.Error()}
			default:
				t.Fatalf("error %q has no position", err)
			}
			for i := range got {
				got[i] = strings.TrimPrefix(got[i], filepath.Join("testdata", "plans")+string(filepath.Separator))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPlanFileValid: the fixture every refused file was made from is taken.
func TestPlanFileValid(t *testing.T) {
	p, err := readPlanFile(filepath.Join("testdata", "plans", "valid.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.check(policy.DefaultLimits()); err != nil {
		t.Fatal(err)
	}
	if n, keys := p.changes(); n != 8 || keys != 3 {
		t.Errorf("changes: %d tags on %d keys, want 8 on 3", n, keys)
	}
}

// TestPlanFileRoundTrip: a plan made from a report is written readable by
// its owner only, atomically, and read back as it was.
func TestPlanFileRoundTrip(t *testing.T) {
	e, err := loadForCheck(filepath.Join("testdata", "policies-compare", "new"))
	if err != nil {
		t.Fatal(err)
	}
	rep := handler.Report{Mode: handler.ModeKeys, DryRun: true, Started: time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC),
		Scanned: 3, Compliant: 1, Planned: 1, Violating: 1,
		Keys: []handler.KeyReport{
			{KeyID: "k-1", Alias: "app", Outcome: handler.OutcomePlanned,
				Create:     []policy.Tag{{Key: "data-class", Value: "unclassified"}, {Key: "owner", Value: "unassigned"}},
				Delete:     []policy.Tag{{Key: "temp", Value: "x y"}},
				Violations: []policy.Violation{{Policy: "owner-required", Rule: "require owner", Tag: "owner", Message: `missing tag "owner"`, Remediated: true}}},
			{KeyID: "k-2", Outcome: handler.OutcomeViolation,
				Violations: []policy.Violation{{Policy: "data-class-required", Rule: "require data-class", Message: "no room"}}},
		}}
	reads := map[string]map[string]string{"k-1": {"temp": "x y", "env": "prod"}}
	tgt := planTarget{Region: "ap-southeast-1", ProjectID: "p1", Endpoint: "https://kms.example"}
	p, err := newSavedPlan(rep, reads, tgt, e, "testdata/policies-compare/new", []string{"k-1", "k-2", "k-3"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.check(e.Limits()); err != nil {
		t.Fatalf("the plan made from the report is refused: %v", err)
	}
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(path, []byte("an older plan"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writePlanFile(path, p); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("plan file mode %v, want 0600 (it holds tag values)", mode)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".plan.json.tmp-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	back, err := readPlanFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.check(e.Limits()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, back, cmp.AllowUnexported(savedPlan{}), cmpopts.IgnoreFields(savedPlan{}, "file", "data"), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("read back (-written +read):\n%s", diff)
	}
	if back.Keys[0].Read == nil || back.Keys[1].Read != nil {
		t.Errorf("read tags: %v and %v, want those of the planned key only", back.Keys[0].Read, back.Keys[1].Read)
	}
	// A key with no tags keeps an empty "read", which is not "no read".
	rep.Keys[0].Delete = nil
	p, err = newSavedPlan(rep, map[string]map[string]string{"k-1": {}}, tgt, e, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Mode = handler.ModeSweep
	var b bytes.Buffer
	if err := writeJSON(&b, p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"read": {}`) || !strings.Contains(b.String(), `"policies": "embedded"`) {
		t.Errorf("plan of a key with no tags:\n%s", b.String())
	}
	back, err = decodePlan("plan.json", b.Bytes())
	if err == nil {
		err = back.check(e.Limits())
	}
	if err != nil {
		t.Errorf("plan of a key with no tags refused: %v", err)
	}
}

// TestValueOffset: positions of values, and of the nearest ancestor of a
// value that is not there.
func TestValueOffset(t *testing.T) {
	data := []byte("{\n  \"a\": [1, {\"b\": \"x\"}],\n  \"c\": {\"d\": null}\n}")
	for _, tc := range []struct {
		path jsonPath
		want string // the text at the offset
	}{
		{nil, "{\n"},
		{jsonPath{"a"}, "[1,"},
		{jsonPath{"a", 0}, "1,"},
		{jsonPath{"a", 1, "b"}, `"x"}`},
		{jsonPath{"c", "d"}, "null"},
		{jsonPath{"c", "e"}, `{"d"`},
		{jsonPath{"a", 5}, "[1,"},
	} {
		t.Run(tc.path.String(), func(t *testing.T) {
			off := valueOffset(data, tc.path)
			if got := string(data[off:]); !strings.HasPrefix(got, tc.want) {
				t.Errorf("offset %d: %q, want it to start with %q", off, got, tc.want)
			}
		})
	}
}

func TestErrorAt(t *testing.T) {
	data := []byte("ab\nçé x\n")
	for _, tc := range []struct {
		off  int64
		want string
	}{
		{0, "f:1:1: m"},
		{2, "f:1:3: m"},
		{3, "f:2:1: m"},
		{7, "f:2:3: m"}, // ç and é are two bytes each, one character
		{100, "f:3:1: m"},
	} {
		if got := errorAt("f", data, tc.off, "m").Error(); got != tc.want {
			t.Errorf("offset %d: got %q, want %q", tc.off, got, tc.want)
		}
	}
}

// TestPlanPathCheckedFirst: a plan that cannot be saved where --out says
// is refused before anything is read.
func TestPlanPathCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{dir, filepath.Join(dir, "no-such-folder", "plan.json")} {
		if err := checkPlanPath(path); err == nil {
			t.Errorf("%s: no error, want one", path)
		}
	}
	if err := checkPlanPath(filepath.Join(dir, "plan.json")); err != nil {
		t.Errorf("a writable path: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the check left %d files behind", len(entries))
	}
}

// TestErrorPositionLineEndings: positions count lines as editors do, with
// \n, \r\n and a lone \r each ending a line.
func TestErrorPositionLineEndings(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
	}{
		{"unix", "{\n  \"a\": 1,\n  x"},
		{"windows", "{\r\n  \"a\": 1,\r\n  x"},
		{"old mac", "{\r  \"a\": 1,\r  x"},
	} {
		off := int64(strings.IndexByte(tc.data, 'x'))
		if e := errorAt("f", []byte(tc.data), off, "here"); e.Line != 3 || e.Col != 3 {
			t.Errorf("%s: %d:%d, want 3:3", tc.name, e.Line, e.Col)
		}
	}
}
