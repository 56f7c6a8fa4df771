package main

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/policy"
)

// The policy change of testdata/policies-compare: new is old plus a
// required data-class tag (default unclassified).
const (
	compareOld = "testdata/policies-compare/old"
	compareNew = "testdata/policies-compare/new"
)

// previewSeed is sample keys, every third of which already has a
// data-class (when it has room for one).
func previewSeed(n int) []emulator.SeedKey {
	seed := emulator.SampleKeys(n, 17)
	for i := range seed {
		d := seed[i].ResourceDetail
		if d.DefaultKeyFlag == "1" || strings.HasSuffix(d.KeyAlias, "/default") {
			continue
		}
		if i%3 == 0 && len(seed[i].Tags) < 10 && !slices.ContainsFunc(seed[i].Tags, func(t emulator.Tag) bool { return t.Key == "data-class" }) {
			seed[i].Tags = append(seed[i].Tags, emulator.Tag{Key: "data-class", Value: "internal"})
		}
	}
	return seed
}

// lacking returns the ids of the keys the data-class policy matches
// (neither a default key nor pending deletion) that have no data-class.
func lacking(seed []emulator.SeedKey) []string {
	var out []string
	for _, k := range seed {
		d := k.ResourceDetail
		if d.DefaultKeyFlag == "1" || strings.HasSuffix(d.KeyAlias, "/default") || d.KeyState == "4" {
			continue
		}
		if !slices.ContainsFunc(k.Tags, func(t emulator.Tag) bool { return t.Key == "data-class" }) {
			out = append(out, k.ResourceID)
		}
	}
	sort.Strings(out)
	return out
}

// TestPreview: the preview of a policy change that adds one required tag
// shows exactly the keys lacking it, each gaining that one violation and
// the tag; it reads only, with the same calls as one plan.
func TestPreview(t *testing.T) {
	const n = 90
	seed := previewSeed(n)
	k := startKMSWith(t, emulator.Options{Seed: seed})
	args := []string{"plan", "--endpoint", k.url, "--policies", compareNew, "--concurrency", "2"}

	r := cli(t, k.env, append(args, "-o", "json")...)
	if r.code != 2 {
		t.Fatalf("plan: exit %d: %s", r.code, r.stderr)
	}
	planCalls := k.srv.Stats().Calls
	k.srv.ResetStats()

	r = cli(t, k.env, append(args, "--compare", compareOld, "-o", "json")...)
	var p preview
	decodeStrict(t, r.stdout, &p)
	if r.code != 2 {
		t.Errorf("preview: exit %d, want 2 (the change changes something): %s", r.code, r.stderr)
	}
	s := k.srv.Stats()
	if diff := cmp.Diff(planCalls, s.Calls); diff != "" {
		t.Errorf("calls of the preview differ from one plan's (-plan +preview):\n%s", diff)
	}
	if s.Writes != 0 {
		t.Errorf("the preview wrote %d times", s.Writes)
	}

	want := lacking(seed)
	var got []string
	for _, pk := range p.Keys {
		got = append(got, pk.KeyID)
		if len(pk.NewViolations) != 1 || pk.NewViolations[0].Policy != "data-class-required" || pk.NewViolations[0].Tag != "data-class" || len(pk.ResolvedViolations) != 0 {
			t.Errorf("key %s: new violations %+v, resolved %+v; want data-class-required only", pk.KeyID, pk.NewViolations, pk.ResolvedViolations)
		}
		wantCreate := append(slices.Clone(pk.Old.Create), policy.Tag{Key: "data-class", Value: "unclassified"})
		slices.SortFunc(wantCreate, func(a, b policy.Tag) int { return strings.Compare(a.Key, b.Key) })
		if pk.NewViolations[0].Remediated && (!pk.ChangesDiffer || !slices.Equal(pk.New.Create, wantCreate) || !slices.Equal(pk.New.Delete, pk.Old.Delete)) {
			t.Errorf("key %s: changes %+v, then %+v; want the old ones and data-class=unclassified", pk.KeyID, pk.Old, pk.New)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("keys of the preview (-lacking data-class +shown):\n%s", diff)
	}
	c := p.Counts
	if c.Scanned != n || c.Differ != len(want) || c.NewViolations != len(want) || c.ResolvedViolations != 0 || c.Evaluated+c.Skipped != n ||
		p.FormatVersion != 1 || p.Old.Policies != compareOld || p.New.Policies != compareNew || p.Old.Digest == p.New.Digest {
		t.Errorf("preview: counts %+v, old %+v, new %+v", c, p.Old, p.New)
	}
	if !strings.HasPrefix(p.Summary, "Policy change preview: ") {
		t.Errorf("summary %q", p.Summary)
	}

	// The table and the Markdown say the same.
	r = cli(t, k.env, append(args, "--compare", compareOld)...)
	r.expect(t, 2, []string{"Policy change: " + compareNew + " (digest ", "against " + compareOld + " (digest ",
		"KEY  ", "CHANGES BEFORE", want[0], `+ data-class-required: missing tag "data-class"`, p.Summary}, nil)
	r = cli(t, k.env, append(args, "--compare", compareOld, "-o", "markdown")...)
	r.expect(t, 2, []string{"### tagwarden: policy change preview\n\n" + p.Summary + "\n",
		"| Key | Alias | Changes before | Changes after | New violations | Resolved violations |\n|---|---|---|---|---|---|\n",
		"| `" + want[0] + "` |", "`+data-class=unclassified`"}, nil)

	// Compared with itself: nothing differs, exit 0.
	r = cli(t, k.env, append(args, "--compare", compareNew)...)
	r.expect(t, 0, []string{"Policy change preview: no key would be changed or judged differently (90 keys read)"}, nil)
	if w := k.srv.Stats().Writes; w != 0 {
		t.Errorf("previews wrote %d times", w)
	}
}

func TestPreviewErrors(t *testing.T) {
	k := startKMS(t)
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"missing old folder", []string{"--compare", "testdata/nope"}, "--compare: policy folder testdata/nope does not exist"},
		{"bad old policies", []string{"--compare", "testdata/policies-bad"}, "--compare: bad policies in testdata/policies-bad: 4 errors"},
		{"markdown without --compare", []string{"-o", "markdown"}, "--output markdown is for the policy-change preview: add --compare OLD_DIR"},
		{"bad output", []string{"--compare", compareOld, "-o", "yaml"}, `--output: "yaml" is not one of table, json, markdown`},
		{"--out and --compare", []string{"--compare", compareOld, "--out", "plan.json"}, "--out saves a plan and --compare previews a policy change: use one at a time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, k.env, append([]string{"plan", "--endpoint", k.url}, tc.args...)...)
			r.expect(t, 1, nil, []string{"tagwarden: " + tc.stderr})
		})
	}
	if s := k.srv.Stats(); calls(s) != 0 {
		t.Errorf("refused previews made %d calls", calls(s))
	}
}

// TestCompareDecisions: what makes a key differ between two decisions.
func TestCompareDecisions(t *testing.T) {
	owner := policy.Violation{Policy: "owner-required", Rule: "require owner", Tag: "owner", Message: "missing", Remediated: true}
	ownerUnfixed := owner
	ownerUnfixed.Remediated, ownerUnfixed.Message = false, "missing; no room"
	class := policy.Violation{Policy: "data-class-required", Rule: "require data-class", Tag: "data-class", Message: "missing", Remediated: true}
	setOwner := []policy.Tag{{Key: "owner", Value: "unassigned"}}
	for _, tc := range []struct {
		name            string
		old, cur        policy.Decision
		differ, changes bool
		added, resolved int
	}{
		{"same", policy.Decision{Create: setOwner, Violations: []policy.Violation{owner}}, policy.Decision{Create: setOwner, Violations: []policy.Violation{owner}}, false, false, 0, 0},
		{"a message alone is no difference", policy.Decision{Violations: []policy.Violation{owner}}, policy.Decision{Violations: []policy.Violation{ownerUnfixed}}, false, false, 0, 0},
		{"a new required tag", policy.Decision{}, policy.Decision{Create: []policy.Tag{{Key: "data-class", Value: "x"}}, Violations: []policy.Violation{class}}, true, true, 1, 0},
		{"a rule dropped", policy.Decision{Create: setOwner, Violations: []policy.Violation{owner}}, policy.Decision{}, true, true, 0, 1},
		{"another value", policy.Decision{Create: setOwner}, policy.Decision{Create: []policy.Tag{{Key: "owner", Value: "nobody"}}}, true, true, 0, 0},
		{"a delete", policy.Decision{}, policy.Decision{Delete: []policy.Tag{{Key: "temp", Value: "1"}}}, true, true, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pk, differ := compareDecisions(policy.Key{ID: "k"}, tc.old, tc.cur)
			if differ != tc.differ || pk.ChangesDiffer != tc.changes || len(pk.NewViolations) != tc.added || len(pk.ResolvedViolations) != tc.resolved {
				t.Errorf("differ %t, changes %t, %d new, %d resolved; want %t, %t, %d, %d",
					differ, pk.ChangesDiffer, len(pk.NewViolations), len(pk.ResolvedViolations), tc.differ, tc.changes, tc.added, tc.resolved)
			}
		})
	}
}

func TestMarkdownEscapes(t *testing.T) {
	for _, tc := range []struct{ in, code, text string }{
		{"+env=prod", "`+env=prod`", "+env=prod"},
		{"a|b", "`a\\|b`", "a\\|b"},
		{"x`y", "``x`y``", "x\\`y"},
		{"`x", "`` `x ``", "\\`x"},
		{"team_a *b*", "`team_a *b*`", "team\\_a \\*b\\*"},
		{"two\nlines", "`two lines`", "two lines"},
	} {
		if got := mdCode(tc.in); got != tc.code {
			t.Errorf("mdCode(%q) = %q, want %q", tc.in, got, tc.code)
		}
		if got := mdText(tc.in); got != tc.text {
			t.Errorf("mdText(%q) = %q, want %q", tc.in, got, tc.text)
		}
	}
}

// TestPreviewMarkdownRows: the Markdown lists at most previewMarkdownRows
// keys, and says how many more there are.
func TestPreviewMarkdownRows(t *testing.T) {
	p := preview{Summary: "S."}
	for i := range previewMarkdownRows + 5 {
		p.Keys = append(p.Keys, previewKey{KeyID: strings.Repeat("a", i+1), ChangesDiffer: true,
			New: previewSide{Create: []policy.Tag{{Key: "k", Value: "v"}}}})
	}
	var b strings.Builder
	if err := writePreviewMarkdown(&b, p); err != nil {
		t.Fatal(err)
	}
	if rows := strings.Count(b.String(), "\n| `"); rows != previewMarkdownRows {
		t.Errorf("%d rows, want %d", rows, previewMarkdownRows)
	}
	if !strings.Contains(b.String(), "_… and 5 more keys: `--output json` lists them all._") {
		t.Errorf("no account of the keys left out:\n%s", b.String()[len(b.String())-200:])
	}
}

// TestApplyExitCode: apply's exit status by what happened to the keys.
func TestApplyExitCode(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    applyCounts
		err  string
		want int
	}{
		{"all changed", applyCounts{Planned: 2, Changed: 2}, "", exitOK},
		{"already applied", applyCounts{Planned: 2, AlreadyApplied: 2}, "", exitOK},
		{"changed since the plan", applyCounts{Planned: 2, Changed: 1, ChangedSincePlan: 1}, "", exitFound},
		{"violations remain", applyCounts{Planned: 1, Changed: 1, Violating: 1}, "", exitFound},
		{"the saved plan could not read a key", applyCounts{Skipped: 1, Unread: 1}, "", exitFound},
		{"a key failed", applyCounts{Planned: 2, Changed: 1, Failed: 1, ChangedSincePlan: 1}, "", exitError},
		{"stopped", applyCounts{Planned: 2, Changed: 1, NotAttempted: 1}, "stopped: access denied", exitError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (applyResult{Plan: appliedPlan{File: "plan.json"}, Counts: tc.c, Error: tc.err}).exitCode(); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
	// A key this apply's own plan could not read is this run's failure.
	if got := (applyResult{Counts: applyCounts{Skipped: 1, Unread: 1}}).exitCode(); got != exitError {
		t.Errorf("apply whose plan could not read a key: got %d, want %d", got, exitError)
	}
}
