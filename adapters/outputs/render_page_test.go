package outputs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"iter"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"

	"github.com/tagwarden/tagwarden/handler"
)

// renderTestSummary is a run with a bit of everything.
func renderTestSummary() Summary {
	return Summary{
		Run: "1a2b3c", Target: "ap-southeast-1/p1", Mode: handler.ModeSweep, Trigger: "timer",
		Started:  time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
		Finished: time.Date(2025, 3, 4, 5, 9, 8, 0, time.UTC),
		State:    handler.ChainDone, Complete: true,
		Counts: handler.Counts{Scanned: 120, Compliant: 95, Changed: 7, Planned: 0, Violating: 12, Failed: 2, Skipped: 4},
		Policies: []PolicyCount{
			{Policy: "owner-tag", Violating: 8}, {Policy: "cost-center", Violating: 3}, {Policy: "no-temp", Violating: 0},
		},
		Findings: 6, New: 2, Notified: 3, Suppressed: 1,
		Reports: []string{"obs://bucket/targets/ap-southeast-1/p1/runs/1a2b3c/link-1.json.gz"},
		Page:    "obs://bucket/targets/ap-southeast-1/p1/runs/1a2b3c/report.html",
	}
}

// renderTestFindings: key A twice, then B, then A again (a group of its
// own: groups are consecutive findings), then C of another target.
func renderTestFindings() []Finding {
	a := Finding{Target: "ap-southeast-1/p1", KeyID: "0d0466b4-aaaa-4f6c-9b2c-000000000001", Alias: "alias/payments"}
	b := Finding{Target: "ap-southeast-1/p1", KeyID: "0d0466b4-bbbb-4f6c-9b2c-000000000002"}
	c := Finding{Target: "eu-west-101/p9", KeyID: "0d0466b4-cccc-4f6c-9b2c-000000000003", Alias: "alias/logs"}
	with := func(f Finding, kind, policy, rule, tag, problem, action, owner string, isNew bool) Finding {
		f.Kind, f.Policy, f.Rule, f.Tag, f.Problem, f.Action, f.Owner, f.New = kind, policy, rule, tag, problem, action, owner, isNew
		f.ID = fmt.Sprintf("%x", len(problem)+len(policy))
		return f
	}
	return []Finding{
		with(a, KindViolation, "owner-tag", "required", "owner", `the tag "owner" is missing`, "set the tag by hand", "team-payments@example.com", true),
		with(a, KindViolation, "cost-center", "allowed-values", "cost-center", "cost-center=xx is not allowed", "set an allowed value", "", false),
		with(b, KindFailed, "", "", "", "kms: HTTP 403 KMS.0203: denied", "grant the permissions", "", false),
		with(a, KindChanged, "", "", "", "wrote env=prod", "nothing", "team-payments@example.com", false),
		with(c, KindViolation, "owner-tag", "required", "owner", "the tag \"owner\" is missing", "set the tag by hand", "ops", true),
		with(c, "strange-kind", "p", "", "", "something else", "", "", false),
	}
}

// renderHostileFindings carry markup, attribute breakers, invalid UTF-8
// and control characters in every field.
func renderHostile() (Summary, []Finding) {
	s := renderTestSummary()
	s.Run = `run"><script>alert(1)</script>`
	s.Target = "ap-<b>south</b>\xff/p1'\""
	s.Trigger = "</title><script>alert(2)</script>"
	s.State = "\x00done\x1b[31m"
	s.Error = `<img src=x onerror=alert(3)> url(http://evil.example/x)`
	s.Policies = []PolicyCount{
		{Policy: "</style><script>alert(4)</script>", Violating: 5},
		{Policy: `"onmouseover=alert(5) x="`, Violating: 2},
		{Policy: "\xff\xfe bad utf-8", Violating: 1},
	}
	s.Reports = []string{`javascript:alert(6)`}
	f := Finding{
		Target: "t<1>", KeyID: `k"><svg onload=alert(7)>`, Alias: "<script>alert(1)</script>", Kind: KindViolation,
		Policy: `"onmouseover=alert(8)`, Rule: "<!-- r -->", Tag: "]]><a href=http://evil.example>",
		Problem: "bad \xc3\x28 utf-8 and \x00 nul and \r\n crlf and \x7f del and \u0085 nel",
		Action:  `<link rel=stylesheet href="http://evil.example/x.css">`, Owner: "<iframe src=//evil.example>", New: true,
	}
	g := f
	g.Problem, g.Kind = "url(http://evil.example/y) @import 'http://evil.example/z'", KindFailed
	return s, []Finding{f, g}
}

// renderTestText is what the page shows of a value: valid UTF-8, each run
// of invalid bytes and each control character but tab and newline as
// U+FFFD.
func renderTestText(s string) string {
	return strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t' && r != '\n') || (r >= 0x7f && r < 0xa0) {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

type pageTestRow struct {
	Kind, Policy, Rule, Tag, Problem, Action, Owner string
	New                                             bool
}

type pageTestGroup struct {
	Alias, KeyID, Target string
	Rows                 []pageTestRow
}

type pageTestBar struct {
	Label string
	N     int
	Width float64
}

// pageTestWant groups findings as the page must.
func pageTestWant(fs []Finding) []pageTestGroup {
	var out []pageTestGroup
	for i, f := range fs {
		if i == 0 || f.Target != fs[i-1].Target || f.KeyID != fs[i-1].KeyID {
			out = append(out, pageTestGroup{Alias: renderTestText(f.Alias), KeyID: renderTestText(f.KeyID), Target: renderTestText(f.Target)})
		}
		g := &out[len(out)-1]
		g.Rows = append(g.Rows, pageTestRow{
			Kind: renderTestText(f.Kind), Policy: renderTestText(f.Policy), Rule: renderTestText(f.Rule), Tag: renderTestText(f.Tag),
			Problem: renderTestText(f.Problem), Action: renderTestText(f.Action), Owner: renderTestText(f.Owner), New: f.New,
		})
	}
	return out
}

func pageTestWantBars(ps []PolicyCount) []pageTestBar {
	largest := 0
	for _, p := range ps {
		largest = max(largest, p.Violating)
	}
	var out []pageTestBar
	for _, p := range ps {
		w := 0.0
		if largest > 0 {
			w = 100 * float64(p.Violating) / float64(largest)
		}
		out = append(out, pageTestBar{Label: renderTestText(p.Policy), N: p.Violating, Width: w})
	}
	return out
}

func TestWritePage(t *testing.T) {
	hs, hf := renderHostile()
	empty := renderTestSummary()
	empty.Policies, empty.Findings, empty.New, empty.Reports, empty.Page = nil, 0, 0, nil, ""
	empty.Counts = handler.Counts{Scanned: 3, Compliant: 3}
	zero := renderTestSummary()
	zero.Policies = []PolicyCount{{Policy: "a", Violating: 0}, {Policy: "b", Violating: 0}}
	zero.DryRun, zero.Complete, zero.State, zero.Error = true, false, handler.ChainLimit, "chain limit reached"
	zero.Started, zero.Finished = time.Time{}, time.Time{}
	one := renderTestFindings()[2:3]

	cases := []struct {
		name     string
		s        Summary
		findings []Finding
		nilSeq   bool
		// texts must appear in the page's text (after parsing).
		texts []string
	}{
		{name: "typical", s: renderTestSummary(), findings: renderTestFindings(),
			texts: []string{"ap-southeast-1/p1", "1a2b3c", "timer", "2025-03-04 05:06:07 UTC", "2025-03-04 05:09:08 UTC (3m1s)",
				"done", "yes: every key was decided", "Listed: 4 keys, 6 findings.", "(6 findings, 2 new)", "Generated by tagwarden at 2030-01-02 03:04:05 UTC"}},
		{name: "hostile", s: hs, findings: hf,
			texts: []string{`run"><script>alert(1)</script>`, "ap-<b>south</b>\uFFFD/p1'\"", "</title><script>alert(2)</script>",
				"\uFFFDdone\uFFFD[31m", `<img src=x onerror=alert(3)> url(http://evil.example/x)`, "javascript:alert(6)"}},
		{name: "empty", s: empty, texts: []string{"No key needs a person.", "No policy was evaluated.", "(0 findings, 0 new)"}},
		{name: "nil iterator", s: empty, nilSeq: true, texts: []string{"No key needs a person."}},
		{name: "zero bars, dry run, incomplete", s: zero, findings: one,
			texts: []string{"yes: no tag was written", "no: not every key was decided", "chain limit reached", "chain_limit",
				"Started unknown", "Listed: 1 key, 1 finding."}},
	}
	defer func(f func() time.Time) { pageNow = f }(pageNow)
	pageNow = func() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) }

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seq := slices.Values(tc.findings)
			if tc.nilSeq {
				seq = nil
			}
			var buf bytes.Buffer
			if err := WritePage(&buf, tc.s, seq); err != nil {
				t.Fatal(err)
			}
			page := buf.String()
			pageTestWellFormed(t, page)
			doc, err := html.Parse(strings.NewReader(page))
			if err != nil {
				t.Fatal(err)
			}
			pageTestSafe(t, doc)

			if got := pageTestCounts(t, doc); !cmp.Equal(got, pageTestWantCounts(tc.s.Counts)) {
				t.Errorf("counts table (-want +got):\n%s", cmp.Diff(pageTestWantCounts(tc.s.Counts), got))
			}
			if diff := cmp.Diff(pageTestWantBars(tc.s.Policies), pageTestBars(t, doc),
				cmp.Comparer(func(a, b float64) bool { return a-b < 0.051 && b-a < 0.051 })); diff != "" {
				t.Errorf("bars (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(pageTestWant(tc.findings), pageTestGroups(doc)); diff != "" {
				t.Errorf("groups (-want +got):\n%s", diff)
			}
			none := pageTestAll(doc, func(n *html.Node) bool { return pageTestHasClass(n, "no-findings") })
			if want := len(tc.findings) == 0; (len(none) == 1) != want || len(none) > 1 {
				t.Errorf("%d \"no key needs a person\" lines, want it %v", len(none), want)
			}
			text := pageTestText(doc)
			for _, want := range tc.texts {
				if !strings.Contains(text, want) {
					t.Errorf("the page's text lacks %q", want)
				}
			}
			title := pageTestAll(doc, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "title" })
			if len(title) != 1 || !strings.Contains(pageTestText(title[0]), renderTestText(tc.s.Run)) {
				t.Errorf("title does not name the run %q", tc.s.Run)
			}
		})
	}
}

// pageTestWellFormed checks the document token by token: a doctype first,
// every element closed in order (void elements excepted), no duplicate
// attribute, valid UTF-8, no NUL.
func pageTestWellFormed(t *testing.T, page string) {
	t.Helper()
	if !utf8.ValidString(page) {
		t.Error("the page is not valid UTF-8")
	}
	if strings.ContainsRune(page, 0) {
		t.Error("the page has a NUL")
	}
	void := map[string]bool{"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true, "img": true,
		"input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true}
	z := html.NewTokenizer(strings.NewReader(page))
	var stack []string
	first := true
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if !errors.Is(z.Err(), io.EOF) {
				t.Errorf("tokenizer: %v", z.Err())
			}
			break
		}
		tok := z.Token()
		if first {
			if tt != html.DoctypeToken || !strings.EqualFold(tok.Data, "html") {
				t.Errorf("the page starts with %v %q, not <!DOCTYPE html>", tt, tok.Data)
			}
			first = false
			continue
		}
		switch tt {
		case html.DoctypeToken:
			t.Error("a second doctype")
		case html.SelfClosingTagToken:
			if !void[tok.Data] {
				t.Errorf("self-closing non-void <%s/>", tok.Data)
			}
		case html.StartTagToken:
			seen := map[string]bool{}
			for _, a := range tok.Attr {
				if seen[a.Key] {
					t.Errorf("<%s> has the attribute %q twice", tok.Data, a.Key)
				}
				seen[a.Key] = true
			}
			if !void[tok.Data] {
				stack = append(stack, tok.Data)
			}
		case html.EndTagToken:
			if void[tok.Data] {
				t.Errorf("end tag of void element </%s>", tok.Data)
				continue
			}
			if len(stack) == 0 || stack[len(stack)-1] != tok.Data {
				t.Fatalf("</%s> closes %v", tok.Data, stack)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 {
		t.Errorf("elements left open: %v", stack)
	}
}

// pageTestSafe checks the parsed page: <html lang>, <meta charset=utf-8>,
// the CSP, and nothing that loads or runs anything.
func pageTestSafe(t *testing.T, doc *html.Node) {
	t.Helper()
	htmls := pageTestAll(doc, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "html" })
	if len(htmls) != 1 || pageTestAttr(htmls[0], "lang") == "" {
		t.Error("no <html lang>")
	}
	if !slices.ContainsFunc(pageTestAll(doc, pageTestElem("meta")), func(n *html.Node) bool {
		return strings.EqualFold(pageTestAttr(n, "charset"), "utf-8")
	}) {
		t.Error("no <meta charset=utf-8>")
	}
	if !slices.ContainsFunc(pageTestAll(doc, pageTestElem("meta")), func(n *html.Node) bool {
		return pageTestAttr(n, "http-equiv") == "Content-Security-Policy" && strings.Contains(pageTestAttr(n, "content"), "default-src 'none'")
	}) {
		t.Error("no Content-Security-Policy with default-src 'none'")
	}
	if d := doc.FirstChild; d == nil || d.Type != html.DoctypeNode {
		t.Error("no doctype node")
	}
	banned := map[string]bool{"script": true, "link": true, "img": true, "iframe": true, "frame": true, "object": true,
		"embed": true, "base": true, "form": true, "input": true, "video": true, "audio": true, "source": true, "svg": true,
		"math": true, "a": true, "picture": true, "track": true, "portal": true}
	urlAttrs := map[string]bool{"src": true, "href": true, "action": true, "formaction": true, "srcset": true, "poster": true,
		"data": true, "background": true, "cite": true, "longdesc": true, "manifest": true, "ping": true, "codebase": true,
		"archive": true, "usemap": true, "icon": true, "profile": true, "xlink:href": true, "imagesrcset": true}
	checkCSS := func(where, css string) {
		l := strings.ToLower(css)
		for i := 0; ; {
			j := strings.Index(l[i:], "url(")
			if j < 0 {
				break
			}
			rest := strings.TrimLeft(l[i+j+4:], " '\"")
			if !strings.HasPrefix(rest, "data:") {
				t.Errorf("%s has url( to something else than data: %.40q", where, rest)
			}
			i += j + 4
		}
		if strings.Contains(l, "@import") {
			t.Errorf("%s has @import", where)
		}
	}
	for _, n := range pageTestAll(doc, func(n *html.Node) bool { return n.Type == html.ElementNode }) {
		if banned[n.Data] {
			t.Errorf("element <%s> in the page", n.Data)
		}
		for _, a := range n.Attr {
			k := strings.ToLower(a.Key)
			if urlAttrs[k] {
				t.Errorf("<%s %s=%q>: a reference", n.Data, a.Key, a.Val)
			}
			if strings.HasPrefix(k, "on") {
				t.Errorf("<%s %s=%q>: an event handler", n.Data, a.Key, a.Val)
			}
			if k == "style" {
				checkCSS("a style attribute", a.Val)
			}
			if k == "http-equiv" && !strings.EqualFold(a.Val, "Content-Security-Policy") {
				t.Errorf("<meta http-equiv=%q>", a.Val)
			}
		}
		if n.Data == "style" {
			checkCSS("the <style>", pageTestText(n))
		}
	}
	if text := pageTestText(doc); !utf8.ValidString(text) {
		t.Error("the page's text is not valid UTF-8")
	}
}

func pageTestWantCounts(c handler.Counts) map[string]int {
	return map[string]int{"scanned": c.Scanned, "compliant": c.Compliant, "changed": c.Changed, "planned": c.Planned,
		"violating": c.Violating, "failed": c.Failed, "skipped": c.Skipped}
}

func pageTestCounts(t *testing.T, doc *html.Node) map[string]int {
	t.Helper()
	tables := pageTestAll(doc, func(n *html.Node) bool { return n.Data == "table" && pageTestHasClass(n, "counts") })
	if len(tables) != 1 {
		t.Fatalf("%d counts tables", len(tables))
	}
	got := map[string]int{}
	for _, tr := range pageTestAll(tables[0], pageTestElem("tr")) {
		th, td := pageTestAll(tr, pageTestElem("th")), pageTestAll(tr, pageTestElem("td"))
		if len(td) == 0 {
			continue // the head
		}
		if len(th) != 1 || len(td) != 1 {
			t.Fatalf("a counts row with %d th and %d td", len(th), len(td))
		}
		n, err := strconv.Atoi(pageTestText(td[0]))
		if err != nil {
			t.Fatal(err)
		}
		got[pageTestText(th[0])] = n
	}
	return got
}

func pageTestBars(t *testing.T, doc *html.Node) []pageTestBar {
	t.Helper()
	var out []pageTestBar
	for _, li := range pageTestAll(doc, func(n *html.Node) bool { return pageTestHasClass(n, "bar-row") }) {
		label := pageTestAll(li, func(n *html.Node) bool { return pageTestHasClass(n, "bar-label") })
		num := pageTestAll(li, func(n *html.Node) bool { return pageTestHasClass(n, "bar-num") })
		bar := pageTestAll(li, func(n *html.Node) bool { return pageTestHasClass(n, "bar") })
		if len(label) != 1 || len(num) != 1 || len(bar) != 1 {
			t.Fatalf("a bar with %d labels, %d numbers, %d bars", len(label), len(num), len(bar))
		}
		n, err := strconv.Atoi(pageTestText(num[0]))
		if err != nil {
			t.Fatalf("bar number: %v", err)
		}
		style := pageTestAttr(bar[0], "style")
		w, ok := strings.CutPrefix(style, "width:")
		if !ok || !strings.HasSuffix(w, "%") {
			t.Fatalf("bar style %q", style)
		}
		width, err := strconv.ParseFloat(strings.TrimSuffix(w, "%"), 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pageTestBar{Label: pageTestText(label[0]), N: n, Width: width})
	}
	return out
}

func pageTestGroups(doc *html.Node) []pageTestGroup {
	one := func(n *html.Node, class string) string {
		m := pageTestAll(n, func(n *html.Node) bool { return pageTestHasClass(n, class) })
		if len(m) == 0 {
			return ""
		}
		return pageTestText(m[0])
	}
	var out []pageTestGroup
	for _, sec := range pageTestAll(doc, func(n *html.Node) bool { return n.Data == "section" && pageTestHasClass(n, "key") }) {
		g := pageTestGroup{Alias: one(sec, "alias"), KeyID: one(sec, "key-id"), Target: one(sec, "key-target")}
		for _, tr := range pageTestAll(sec, func(n *html.Node) bool { return n.Data == "tr" && pageTestHasClass(n, "finding") }) {
			kind := pageTestAll(tr, func(n *html.Node) bool { return pageTestHasClass(n, "kind") })[0]
			r := pageTestRow{
				Policy: one(tr, "policy"), Rule: one(tr, "rule"), Tag: one(tr, "tag"),
				Problem: one(tr, "problem"), Action: one(tr, "action"), Owner: one(tr, "owner"),
				New: len(pageTestAll(tr, func(n *html.Node) bool { return pageTestHasClass(n, "badge-new") })) == 1,
			}
			if c := kind.FirstChild; c != nil && c.Type == html.TextNode {
				r.Kind = strings.TrimSpace(c.Data)
			}
			g.Rows = append(g.Rows, r)
		}
		out = append(out, g)
	}
	return out
}

func pageTestAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if match(d) {
			out = append(out, d)
		}
	}
	return out
}

func pageTestElem(name string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == name }
}

func pageTestAttr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func pageTestHasClass(n *html.Node, class string) bool {
	return n.Type == html.ElementNode && slices.Contains(strings.Fields(pageTestAttr(n, "class")), class)
}

// pageTestText is the text of n and its descendants, each element's text
// separated by a space where the page puts a line break between cells.
func pageTestText(n *html.Node) string {
	var b strings.Builder
	if n.Type == html.TextNode {
		return n.Data
	}
	for d := range n.Descendants() {
		switch {
		case d.Type == html.TextNode:
			b.WriteString(d.Data)
		case d.Type == html.ElementNode && (d.Data == "dt" || d.Data == "dd" || d.Data == "td" || d.Data == "th"):
			b.WriteString(" ")
		}
	}
	return strings.TrimSpace(b.String())
}

// renderTestSeq yields n findings, three per key, made as they are asked
// for; it calls each(i) before yielding the i-th.
func renderTestSeq(n int, each func(i int)) iter.Seq[Finding] {
	return func(yield func(Finding) bool) {
		for i := range n {
			if each != nil {
				each(i)
			}
			k := i / 3
			f := Finding{
				ID: strconv.Itoa(i), Target: "ap-southeast-1/p1", KeyID: fmt.Sprintf("0d0466b4-%04x-4f6c-9b2c-%012d", k%65536, k),
				Alias: "alias/key-" + strconv.Itoa(k), Kind: KindViolation, Policy: "owner-tag", Rule: "required", Tag: "owner",
				Problem: `the tag "owner" is missing & <required>`, Action: "set the tag \"owner\" by hand, or exempt the key",
				Owner: "team-" + strconv.Itoa(k%17) + "@example.com", New: i%5 == 0,
			}
			if !yield(f) {
				return
			}
		}
	}
}

// renderTestSink keeps the iterator's findings made when it runs alone.
var renderTestSink Finding

type renderCountWriter struct{ n int64 }

func (w *renderCountWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// TestWritePageStreams renders 10,000 and 100,000 findings and samples the
// live heap (after a GC) every 2,000 findings: its peak must not grow with
// the count. A control that keeps the findings shows the sampling sees
// growth.
func TestWritePageStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	peak := func(n int, keep bool) (uint64, int64) {
		var kept []Finding
		var ms runtime.MemStats
		var top uint64
		sample := func() {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			top = max(top, ms.HeapAlloc)
		}
		seq := renderTestSeq(n, func(i int) {
			if i%2000 == 0 {
				sample()
			}
		})
		if keep {
			inner := seq
			seq = func(yield func(Finding) bool) {
				for f := range inner {
					kept = append(kept, f)
					if !yield(f) {
						return
					}
				}
			}
		}
		w := &renderCountWriter{}
		if err := WritePage(w, renderTestSummary(), seq); err != nil {
			t.Fatal(err)
		}
		sample()
		runtime.KeepAlive(kept)
		return top, w.n
	}
	peak(1000, false) // warm up: templates escaped, pools filled
	small, smallBytes := peak(10_000, false)
	large, largeBytes := peak(100_000, false)
	control, _ := peak(100_000, true)
	t.Logf("peak live heap: 10,000 findings %d KiB (page %d KiB); 100,000 findings %d KiB (page %d KiB); keeping them %d KiB",
		small>>10, smallBytes>>10, large>>10, largeBytes>>10, control>>10)
	if largeBytes < 9*smallBytes {
		t.Errorf("the page of 100,000 findings is %d bytes, of 10,000 %d: not all were written?", largeBytes, smallBytes)
	}
	const slack = 1 << 20
	if large > small+slack {
		t.Errorf("peak live heap grows with the findings: %d KiB for 10,000, %d KiB for 100,000", small>>10, large>>10)
	}
	if control < large+4*slack {
		t.Errorf("control: keeping 100,000 findings peaks at %d KiB, not clearly above %d KiB: the sampling does not see growth", control>>10, large>>10)
	}
	allocs := testing.AllocsPerRun(3, func() {
		if err := WritePage(io.Discard, renderTestSummary(), renderTestSeq(3000, nil)); err != nil {
			t.Fatal(err)
		}
	})
	iterOnly := testing.AllocsPerRun(3, func() {
		for f := range renderTestSeq(3000, nil) {
			renderTestSink = f
		}
	})
	perFinding := (allocs - iterOnly) / 3000
	t.Logf("%.2f allocations per finding by WritePage (%.1f with the iterator's own)", perFinding, allocs/3000)
	if perFinding > 0.5 {
		t.Errorf("WritePage allocates %.2f times per finding, want at most 0.5", perFinding)
	}
}

// pageTestOracle is the group and the row as html/template writes them:
// pageWriteGroup and pageWriteRow must write the same bytes.
var pageTestOracle = template.Must(template.New("").Parse(`
{{- define "group"}}<section class="key">
<h3>{{if .Alias}}<span class="alias">{{.Alias}}</span> {{end}}<code class="key-id">{{.KeyID}}</code></h3>
{{- if .Target}}
<p class="target">target <span class="key-target">{{.Target}}</span></p>
{{- end}}
<table class="findings-table">
<thead><tr><th scope="col">kind</th><th scope="col">policy / rule / tag</th><th scope="col">problem</th><th scope="col">what to do</th><th scope="col">owner</th></tr></thead>
<tbody>
{{end}}
{{- define "row"}}<tr class="finding {{.KindClass}}"><td class="kind">{{.Kind}}{{if .New}} <span class="badge-new">new</span>{{end}}</td><td class="where">{{if or .Policy .Rule .Tag}}<span class="policy">{{.Policy}}</span>{{if .Rule}} / <span class="rule">{{.Rule}}</span>{{end}}{{if .Tag}} / tag <code class="tag">{{.Tag}}</code>{{end}}{{else}}—{{end}}</td><td class="problem">{{.Problem}}</td><td class="action">{{.Action}}</td><td class="owner">{{.Owner}}</td></tr>
{{end}}`))

// pageTestSameAsTemplate checks that f's group and row are written as
// html/template writes them.
func pageTestSameAsTemplate(t *testing.T, f Finding) {
	t.Helper()
	var got bytes.Buffer
	w := bufio.NewWriter(&got)
	pageWriteGroup(w, f)
	pageWriteRow(w, f)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	class := "kind-other"
	if f.Kind == KindViolation || f.Kind == KindFailed || f.Kind == KindChanged {
		class = "kind-" + f.Kind
	}
	c := renderTestText
	var want bytes.Buffer
	if err := pageTestOracle.ExecuteTemplate(&want, "group", map[string]string{
		"Alias": c(f.Alias), "KeyID": c(f.KeyID), "Target": c(f.Target)}); err != nil {
		t.Fatal(err)
	}
	if err := pageTestOracle.ExecuteTemplate(&want, "row", map[string]any{
		"KindClass": class, "Kind": c(f.Kind), "New": f.New, "Policy": c(f.Policy), "Rule": c(f.Rule), "Tag": c(f.Tag),
		"Problem": c(f.Problem), "Action": c(f.Action), "Owner": c(f.Owner)}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.String(), got.String()); diff != "" {
		t.Errorf("the group and row of %#v differ from html/template's (-template +written):\n%s", f, diff)
	}
}

func TestWritePageRowsAsTemplate(t *testing.T) {
	_, hostile := renderHostile()
	var all strings.Builder
	for b := range 256 {
		all.WriteByte(byte(b))
	}
	fs := append(renderTestFindings(), hostile...)
	fs = append(fs, Finding{KeyID: all.String(), Alias: all.String(), Kind: all.String(), Problem: all.String() + "\u2028\U0001F600",
		Action: "a+b=c & 'd'", Owner: "\u0000\u0085"})
	for _, f := range fs {
		pageTestSameAsTemplate(t, f)
	}
}

// FuzzWritePageRow holds the hand-written group and row equal to
// html/template's on any text.
func FuzzWritePageRow(f *testing.F) {
	f.Add("alias/<x>", "k1", "t'1", "violation", "p\"", "r&", "tag+", "prob\xff\x00", "act\r\n", "own", true)
	f.Add("", "", "", "", "", "", "", "", "", "", false)
	f.Fuzz(func(t *testing.T, alias, keyID, target, kind, policy, rule, tag, problem, action, owner string, isNew bool) {
		pageTestSameAsTemplate(t, Finding{Alias: alias, KeyID: keyID, Target: target, Kind: kind, Policy: policy, Rule: rule,
			Tag: tag, Problem: problem, Action: action, Owner: owner, New: isNew})
	})
}

var errRenderTestWrite = errors.New("disk full")

type renderFailWriter struct{ left int }

func (w *renderFailWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		n := w.left
		w.left = 0
		return n, errRenderTestWrite
	}
	w.left -= len(p)
	return len(p), nil
}

func TestWritePageWriteError(t *testing.T) {
	for _, budget := range []int{0, 100, 50_000, 200_000} {
		t.Run(strconv.Itoa(budget), func(t *testing.T) {
			yielded := 0
			err := WritePage(&renderFailWriter{left: budget}, renderTestSummary(), renderTestSeq(100_000, func(int) { yielded++ }))
			if !errors.Is(err, errRenderTestWrite) {
				t.Fatalf("error %v, want %v", err, errRenderTestWrite)
			}
			if yielded >= 100_000 {
				t.Errorf("the iterator ran to its end (%d findings) after the writer failed", yielded)
			}
		})
	}
}

func BenchmarkWritePage(b *testing.B) {
	const n = 10_000
	s := renderTestSummary()
	w := &renderCountWriter{}
	b.ReportAllocs()
	for b.Loop() {
		if err := WritePage(w, s, renderTestSeq(n, nil)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/finding")
	b.SetBytes(w.n / int64(b.N))
}

// TestRenderVerdict: the line under the title counts the findings left
// for a person, also when the run's changes left no key counted violating.
func TestRenderVerdict(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Summary
		want string
	}{
		{"clean", Summary{Complete: true}, "no key violating"},
		{"violating", Summary{Complete: true, Findings: 3, Counts: handler.Counts{Violating: 2, Failed: 1}},
			"2 keys violating, 1 failed, 3 findings need a person"},
		{"changed with a finding left", Summary{Complete: true, Findings: 1, Counts: handler.Counts{Changed: 4}},
			"1 finding needs a person, 4 changed"},
		{"incomplete dry run", Summary{DryRun: true, Counts: handler.Counts{Planned: 1}},
			"no key violating, 1 planned; incomplete: not every key was decided (dry run: nothing was written)"},
	} {
		if got := renderVerdict(tc.s); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
