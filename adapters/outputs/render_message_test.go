package outputs

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// The -update flag rewrites the golden files. Another test file of the
// package may define it too: it is registered only once, whoever does.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata")
	}
}

func renderTestUpdate() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// msgTestFindings makes keys groups of 1 to 3 findings each (findings in
// all), every fourth key new.
func msgTestFindings(findings int) (fs []Finding, groups int) {
	for k := 0; len(fs) < findings; k++ {
		groups++
		for j := 0; j <= k%3 && len(fs) < findings; j++ {
			fs = append(fs, Finding{
				Target: "ap-southeast-1/p1", KeyID: fmt.Sprintf("0d0466b4-%04x-4f6c-9b2c-%012d", k%65536, k),
				Alias: "alias/key-" + strconv.Itoa(k), Kind: KindViolation, Policy: "policy-" + strconv.Itoa(j),
				Rule: "required", Tag: "owner", Problem: `the tag "owner" is missing, and the key has been in use for a while`,
				Action: `set the tag "owner" by hand to a team's address, or exempt the key`,
				Owner:  "team-" + strconv.Itoa(k%17) + "@example.com", New: k%4 == 0,
			})
		}
	}
	return fs, groups
}

// msgTestCheck holds what every message must: a subject of one line of at
// most 512 bytes, valid UTF-8 with no control character, no trailing
// space on any line, nil attributes, the body within the limit.
func msgTestCheck(t *testing.T, m Message, limit int) {
	t.Helper()
	if len(m.Subject) > 512 {
		t.Errorf("subject of %d bytes", len(m.Subject))
	}
	if !utf8.ValidString(m.Subject) || !utf8.ValidString(m.Body) {
		t.Error("invalid UTF-8")
	}
	if strings.ContainsFunc(m.Subject, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
	}) {
		t.Errorf("subject with a line break or control character: %q", m.Subject)
	}
	if strings.TrimSpace(m.Subject) != m.Subject || m.Subject == "" {
		t.Errorf("subject %q is empty or has space around it", m.Subject)
	}
	if strings.ContainsFunc(m.Body, func(r rune) bool {
		return r != '\n' && (unicode.IsControl(r) || r == '\u2028' || r == '\u2029')
	}) {
		t.Error("body with a control character")
	}
	for i, l := range strings.Split(m.Body, "\n") {
		if strings.TrimRight(l, " \t") != l {
			t.Errorf("body line %d has trailing space: %q", i+1, l)
		}
	}
	if limit > 0 && len(m.Body) > limit {
		t.Errorf("body of %d bytes, limit %d", len(m.Body), limit)
	}
	if m.Attributes != nil {
		t.Errorf("attributes %v, want nil", m.Attributes)
	}
}

func TestFormatMessageSubject(t *testing.T) {
	base := renderTestSummary()
	twelve, _ := msgTestFindings(24) // 12 keys: groups of 1, 2, 3 findings...
	dry := base
	dry.DryRun = true
	none := base
	none.Counts.Failed = 0
	incomplete := base
	incomplete.Complete, incomplete.Error = false, "deadline"
	hostile := base
	hostile.Target, hostile.Run = "ap-southeast-1/p1\r\nBcc: victim@example.com\u2028x\xff", "r\n1"
	noTarget := base
	noTarget.Target = ""
	long := base
	long.Target = strings.Repeat("é", 400)

	cases := []struct {
		name     string
		s        Summary
		findings []Finding
		want     string
	}{
		{"typical", base, twelve, "tagwarden: 12 keys need a person (3 new), 2 failed — ap-southeast-1/p1, run 1a2b3c"},
		{"one key, dry run", dry, twelve[:1], "tagwarden (dry run): 1 key needs a person (1 new), 2 failed — ap-southeast-1/p1, run 1a2b3c"},
		{"no finding", none, nil, "tagwarden: no key needs a person — ap-southeast-1/p1, run 1a2b3c"},
		{"incomplete with an error", incomplete, twelve[1:3], "tagwarden: 1 key needs a person, 2 failed, incomplete, error — ap-southeast-1/p1, run 1a2b3c"},
		{"line breaks and invalid UTF-8", hostile, nil,
			"tagwarden: no key needs a person, 2 failed — ap-southeast-1/p1 Bcc: victim@example.com x\uFFFD, run r 1"},
		{"no target", noTarget, nil, "tagwarden: no key needs a person, 2 failed — run 1a2b3c"},
		{"long", long, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := FormatMessage(tc.s, tc.findings, "https://example.com/r", 0)
			msgTestCheck(t, m, 0)
			if tc.want != "" && m.Subject != tc.want {
				t.Errorf("subject\n got %q\nwant %q", m.Subject, tc.want)
			}
			if tc.want == "" {
				if len(m.Subject) < 500 || !strings.HasSuffix(m.Subject, "…") {
					t.Errorf("a long subject cut to %d bytes: %q", len(m.Subject), m.Subject)
				}
			}
		})
	}
}

// msgTestMore matches the line that ends a body cut short.
var msgTestMore = regexp.MustCompile(`(?m)^… and (\d+) more keys? \((\d+) findings?\): (see (\S+)|not listed)$`)

// msgTestListed counts the key groups and finding lines a body lists.
func msgTestListed(body string) (groups, findings int) {
	_, list, ok := strings.Cut(body, "\nKeys that need a person: ")
	if !ok {
		return 0, 0
	}
	for _, l := range strings.Split(list, "\n")[1:] {
		switch {
		case strings.HasPrefix(l, "  - "):
			findings++
		case l == "" || strings.HasPrefix(l, "… and "):
		default:
			groups++
		}
	}
	return groups, findings
}

func TestFormatMessageLimit(t *testing.T) {
	const link = "https://console.example.com/obs/bucket/targets/ap-southeast-1/p1/runs/1a2b3c/report.html"
	big, bigGroups := msgTestFindings(10_000)
	small, smallGroups := msgTestFindings(40)
	s := renderTestSummary()
	s.Findings, s.New = 10_000, 1234

	cases := []struct {
		name     string
		findings []Finding
		groups   int
		link     string
		limit    int
		cut      bool
	}{
		{"10,000 findings in 256 KiB", big, bigGroups, link, 256 * 1024, true},
		{"10,000 findings, no link", big, bigGroups, "", 256 * 1024, true},
		{"10,000 findings, no limit", big, bigGroups, link, 0, false},
		{"all fit", small, smallGroups, link, 256 * 1024, false},
	}
	for limit := 1500; limit <= 9_000; limit += 701 {
		cases = append(cases, struct {
			name     string
			findings []Finding
			groups   int
			link     string
			limit    int
			cut      bool
		}{"limit " + strconv.Itoa(limit), small, smallGroups, link, limit, true})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := FormatMessage(s, tc.findings, tc.link, tc.limit)
			msgTestCheck(t, m, tc.limit)
			full := FormatMessage(s, tc.findings, tc.link, 0).Body
			if cut := tc.limit > 0 && len(full) > tc.limit; cut != tc.cut {
				t.Fatalf("the full body has %d bytes, limit %d: the test expects cut %v", len(full), tc.limit, tc.cut)
			}
			groups, findings := msgTestListed(m.Body)
			more := msgTestMore.FindAllStringSubmatch(m.Body, -1)
			if !tc.cut {
				if len(more) != 0 || groups != tc.groups || findings != len(tc.findings) || m.Body != full {
					t.Fatalf("listed %d keys, %d findings (of %d, %d), %d \"more\" lines", groups, findings, tc.groups, len(tc.findings), len(more))
				}
				return
			}
			if len(more) != 1 || !strings.HasSuffix(m.Body, "\n\n"+more[0][0]+"\n") {
				t.Fatalf("not one \"and N more\" line at the end: %q", m.Body[max(0, len(m.Body)-300):])
			}
			n, _ := strconv.Atoi(more[0][1])
			k, _ := strconv.Atoi(more[0][2])
			if groups+n != tc.groups || findings+k != len(tc.findings) {
				t.Errorf("listed %d keys + %d more = %d, want %d; %d findings + %d more = %d, want %d",
					groups, n, groups+n, tc.groups, findings, k, findings+k, len(tc.findings))
			}
			wantWhere := "not listed"
			if tc.link != "" {
				wantWhere = "see " + tc.link
			}
			if more[0][3] != wantWhere {
				t.Errorf("the \"more\" line ends %q, want %q", more[0][3], wantWhere)
			}
			// The listed part is the full body's beginning, cut at a key,
			// and the next key would not have fit.
			listed := strings.TrimSuffix(m.Body, "\n"+more[0][0]+"\n")
			if !strings.HasPrefix(full, listed) || !strings.HasPrefix(full[len(listed):], "\n") {
				t.Fatal("the cut body is not the full body's beginning cut at a key")
			}
			next := full[len(listed):]
			if i := strings.Index(next, "\n\n"); i >= 0 {
				next = next[:i+1]
			}
			tail := ""
			if n > 1 {
				tail = msgMore(n-1, k-strings.Count(next, "\n  - "), tc.link)
			}
			if len(listed)+len(next)+len(tail) <= tc.limit {
				t.Errorf("the next key (%d bytes) would have fit: %d bytes listed, limit %d", len(next), len(listed), tc.limit)
			}
			t.Logf("%d bytes: %d keys listed, %q", len(m.Body), groups, more[0][0])
		})
	}
}

// formatMessage with findings counted but not passed: they are counted in
// the subject and the "more" line, which appears even when all passed fit.
func TestFormatMessageCountedMore(t *testing.T) {
	fs, groups := msgTestFindings(40)
	s := renderTestSummary()
	for _, limit := range []int{0, 256 * 1024, 4000} {
		m := formatMessage(s, fs, 7, 3, 0, "https://example.com/r", limit)
		msgTestCheck(t, m, limit)
		if want := fmt.Sprintf("tagwarden: %d keys need a person (", groups+3); !strings.HasPrefix(m.Subject, want) {
			t.Errorf("subject %q, want it to start %q", m.Subject, want)
		}
		more := msgTestMore.FindStringSubmatch(m.Body)
		if more == nil {
			t.Fatalf("limit %d: no \"more\" line", limit)
		}
		listedGroups, listedFindings := msgTestListed(m.Body)
		n, _ := strconv.Atoi(more[1])
		k, _ := strconv.Atoi(more[2])
		if listedGroups+n != groups+3 || listedFindings+k != len(fs)+7 {
			t.Errorf("limit %d: %d + %d keys, %d + %d findings; want %d keys, %d findings",
				limit, listedGroups, n, listedFindings, k, groups+3, len(fs)+7)
		}
	}
	if m := formatMessage(s, nil, 5, 2, 0, "", 0); !strings.HasPrefix(m.Subject, "tagwarden: 2 keys need a person, 2 failed") ||
		!strings.Contains(m.Body, "\n… and 2 more keys (5 findings): not listed\n") {
		t.Errorf("only counted findings:\n%s\n%s", m.Subject, m.Body)
	}
}

// A limit smaller than the header: the body is cut to it.
func TestFormatMessageTinyLimit(t *testing.T) {
	fs, _ := msgTestFindings(10)
	for _, limit := range []int{1, 10, 100, 300} {
		m := FormatMessage(renderTestSummary(), fs, "https://example.com/é", limit)
		msgTestCheck(t, m, limit)
	}
}

func TestFormatMessageGroups(t *testing.T) {
	fs := renderTestFindings() // A A B A C C (C of another target)
	s := renderTestSummary()
	m := FormatMessage(s, fs, "", 0)
	msgTestCheck(t, m, 0)
	_, list, _ := strings.Cut(m.Body, "\nKeys that need a person: ")
	var got [][]string
	for _, block := range strings.Split(list, "\n\n")[1:] {
		got = append(got, strings.Split(strings.TrimSuffix(block, "\n"), "\n"))
	}
	want := [][]string{
		{"alias/payments (0d0466b4-aaaa-4f6c-9b2c-000000000001)",
			`  - NEW [owner-tag] the tag "owner" is missing → set the tag by hand (owner: team-payments@example.com)`,
			"  - [cost-center] cost-center=xx is not allowed → set an allowed value"},
		{"0d0466b4-bbbb-4f6c-9b2c-000000000002",
			"  - [failed] kms: HTTP 403 KMS.0203: denied → grant the permissions"},
		{"alias/payments (0d0466b4-aaaa-4f6c-9b2c-000000000001)",
			"  - [changed] wrote env=prod → nothing (owner: team-payments@example.com)"},
		{"alias/logs (0d0466b4-cccc-4f6c-9b2c-000000000003) in eu-west-101/p9",
			`  - NEW [owner-tag] the tag "owner" is missing → set the tag by hand (owner: ops)`,
			"  - [p] something else"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	if !strings.Contains(m.Body, "\nKeys that need a person: 4 (2 new)\n") {
		t.Error("no heading with 4 keys, 2 new")
	}
	if !strings.HasPrefix(m.Subject, "tagwarden: 4 keys need a person (2 new), 2 failed") {
		t.Errorf("subject %q", m.Subject)
	}
	if again := FormatMessage(s, fs, "", 0); !cmp.Equal(m, again) {
		t.Error("two messages of the same run differ")
	}
}

func TestFormatMessageEmpty(t *testing.T) {
	s := renderTestSummary()
	s.Counts.Failed = 0
	m := FormatMessage(s, nil, "", 1000)
	msgTestCheck(t, m, 1000)
	if !strings.HasSuffix(m.Body, "\nNo key needs a person.\n") || strings.Contains(m.Body, "Report:") {
		t.Errorf("body:\n%s", m.Body)
	}
}

func TestFormatMessageInvalidUTF8(t *testing.T) {
	s, fs := renderHostile()
	fs = append(fs, Finding{KeyID: "k\xe2\x82", Alias: "\xf0\x9f\x98", Kind: "\x00", Policy: "p\u2029q", Problem: "line\r\nbreak\tand\vtabs  ",
		Action: "   ", Owner: "\x1b[1mbold\x1b[0m"})
	m := FormatMessage(s, fs, "https://example.com/\xff\n", 600)
	msgTestCheck(t, m, 600)
	m = FormatMessage(s, fs, "https://example.com/\xff\n", 0)
	msgTestCheck(t, m, 0)
	if _, findings := msgTestListed(m.Body); findings != len(fs) {
		t.Errorf("%d finding lines for %d findings: a value broke a line\n%s", findings, len(fs), m.Body)
	}
	for _, want := range []string{"\uFFFD (k\uFFFD)", "- [p q] line break and tabs (owner: [1mbold [0m)", "Report:    https://example.com/\uFFFD\n"} {
		if !strings.Contains(m.Body, want) {
			t.Errorf("body lacks %q:\n%s", want, m.Body)
		}
	}
}

func TestFormatMessageGolden(t *testing.T) {
	s := renderTestSummary()
	s.DryRun = true
	s.Started = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	fs := renderTestFindings()
	m := FormatMessage(s, fs, "https://console.example.com/report.html", 1100)
	msgTestCheck(t, m, 1100)
	got := "Subject: " + m.Subject + "\n\n" + m.Body
	path := filepath.Join("testdata", "render-message-small.golden")
	if renderTestUpdate() {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("message (-%s +got); run with -update if intended:\n%s", path, diff)
	}
}

func BenchmarkFormatMessage(b *testing.B) {
	fs, _ := msgTestFindings(10_000)
	s := renderTestSummary()
	b.ReportAllocs()
	for b.Loop() {
		FormatMessage(s, fs, "https://example.com/r", 256*1024)
	}
}
