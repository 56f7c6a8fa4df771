package outputs

import (
	"bufio"
	"html/template"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// WritePage writes the run's page: one self-contained HTML5 document a
// team attaches to an audit. It opens from a file in any browser: no
// script, no external resource (its Content-Security-Policy forbids them
// too), inline CSS only, readable on paper.
//
// The page has the run (target, run id, trigger, dry run, times, state,
// complete, error), its key counts as a table, the violating keys per
// policy as bars, and the keys that need a person: findings grouped by key,
// a group being the consecutive findings of one target and key id, in the
// iterator's order. The heading counts s.Findings; the section ends with
// the number of keys and findings actually listed.
//
// Findings are written as the iterator yields them, through a buffer: the
// memory used does not grow with their number. Every value is escaped;
// invalid UTF-8 and control characters become U+FFFD. WritePage stops
// consuming the iterator at the first write error and returns it.
func WritePage(w io.Writer, s Summary, findings iter.Seq[Finding]) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	if err := pageHeadTmpl.Execute(bw, pageHeadOf(s)); err != nil {
		return err
	}
	var (
		open         bool
		target, key  string
		keys, listed int
	)
	if findings != nil {
		for f := range findings {
			if !open || f.Target != target || f.KeyID != key {
				if open {
					bw.WriteString(pageGroupEnd)
				}
				open, target, key = true, f.Target, f.KeyID
				keys++
				pageWriteGroup(bw, f)
			}
			listed++
			pageWriteRow(bw, f)
			if _, err := bw.Write(nil); err != nil {
				return err // bufio.Writer keeps the first write error
			}
		}
	}
	if open {
		bw.WriteString(pageGroupEnd)
	}
	now := pageNow().UTC()
	foot := pageFoot{Keys: keys, Findings: listed, Generated: pageTime(now), GeneratedISO: now.Format(time.RFC3339)}
	if err := pageFootTmpl.Execute(bw, &foot); err != nil {
		return err
	}
	return bw.Flush()
}

// pageNow is the clock of the page's generation time (tests set it).
var pageNow = time.Now

// pageHead is what the page's first part shows.
type pageHead struct {
	Title    string
	Run      string
	Target   string
	Mode     string
	Trigger  string
	DryRun   bool
	Started  string
	Finished string
	Duration string
	State    string
	Complete bool
	Error    string
	Verdict  string
	Counts   []pageCount
	Bars     []pageBar
	Findings int
	New      int
	Notified int
	Suppress int
	Reports  []string
	Page     string
}

type pageCount struct {
	Name string
	N    int
}

type pageBar struct {
	Policy string
	N      int
	// Style is the bar's width, a percentage of the largest count.
	Style template.CSS
}

type pageFoot struct {
	Keys, Findings          int
	Generated, GeneratedISO string
}

func pageHeadOf(s Summary) *pageHead {
	h := &pageHead{
		Run: pageClean(s.Run), Target: pageClean(s.Target), Mode: pageClean(string(s.Mode)),
		Trigger: pageClean(s.Trigger), DryRun: s.DryRun, Started: pageTime(s.Started),
		Finished: pageTime(s.Finished), State: pageClean(s.State), Complete: s.Complete,
		Error: pageClean(s.Error), Findings: s.Findings, New: s.New, Notified: s.Notified,
		Suppress: s.Suppressed, Page: pageClean(s.Page),
	}
	if !s.Started.IsZero() && !s.Finished.IsZero() && !s.Finished.Before(s.Started) {
		h.Duration = s.Finished.Sub(s.Started).Round(time.Second).String()
	}
	h.Title = "tagwarden run " + h.Run
	if h.Target != "" {
		h.Title = "tagwarden: " + h.Target + ", run " + h.Run
	}
	c := s.Counts
	h.Counts = []pageCount{
		{"scanned", c.Scanned}, {"compliant", c.Compliant}, {"changed", c.Changed}, {"planned", c.Planned},
		{"violating", c.Violating}, {"failed", c.Failed}, {"skipped", c.Skipped},
	}
	h.Verdict = renderVerdict(s)
	largest := 0
	for _, p := range s.Policies {
		largest = max(largest, p.Violating)
	}
	for _, p := range s.Policies {
		pct := 0.0
		if largest > 0 && p.Violating > 0 {
			pct = 100 * float64(p.Violating) / float64(largest)
		}
		h.Bars = append(h.Bars, pageBar{Policy: pageClean(p.Policy), N: p.Violating,
			Style: template.CSS("width:" + strconv.FormatFloat(pct, 'f', 1, 64) + "%")})
	}
	for _, r := range s.Reports {
		h.Reports = append(h.Reports, pageClean(r))
	}
	return h
}

// renderVerdict is the run's outcome in a few words, under the page's
// title: "12 keys violating, 2 failed, 14 findings need a person;
// incomplete: …".
func renderVerdict(s Summary) string {
	c := s.Counts
	var parts []string
	switch {
	case c.Violating > 0 || c.Failed > 0:
		parts = append(parts, renderPlural(c.Violating, "key", "keys")+" violating")
	case s.Findings == 0:
		parts = append(parts, "no key violating")
	}
	if c.Failed > 0 {
		parts = append(parts, strconv.Itoa(c.Failed)+" failed")
	}
	if s.Findings > 0 {
		// A key whose tags were written may still have a violation no
		// change fixes: the findings say what is left for a person.
		parts = append(parts, renderPlural(s.Findings, "finding needs", "findings need")+" a person")
	}
	if c.Changed > 0 {
		parts = append(parts, strconv.Itoa(c.Changed)+" changed")
	}
	if c.Planned > 0 {
		parts = append(parts, strconv.Itoa(c.Planned)+" planned")
	}
	v := strings.Join(parts, ", ")
	if !s.Complete {
		v += "; incomplete: not every key was decided"
	}
	if s.DryRun {
		v += " (dry run: nothing was written)"
	}
	return v
}

func renderPlural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// pageTime is a time as the page and the message show it, in UTC.
func pageTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// pageClean makes s valid UTF-8 with no control characters but tab and
// newline: each run of invalid bytes (strings.ToValidUTF8) and each control
// character becomes U+FFFD. It returns s itself when nothing needs
// replacing.
func pageClean(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	return strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t' && r != '\n') || (r >= 0x7f && r < 0xa0) {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// pageWriteGroup opens a key's group: its heading and its table, whose
// rows follow (pageWriteRow), then pageGroupEnd.
func pageWriteGroup(w *bufio.Writer, f Finding) {
	w.WriteString("<section class=\"key\">\n<h3>")
	if f.Alias != "" {
		w.WriteString(`<span class="alias">`)
		pageEscape(w, pageClean(f.Alias))
		w.WriteString("</span> ")
	}
	w.WriteString(`<code class="key-id">`)
	pageEscape(w, pageClean(f.KeyID))
	w.WriteString("</code></h3>\n")
	if f.Target != "" {
		w.WriteString(`<p class="target">target <span class="key-target">`)
		pageEscape(w, pageClean(f.Target))
		w.WriteString("</span></p>\n")
	}
	w.WriteString(pageGroupHead)
}

const pageGroupHead = `<table class="findings-table">
<thead><tr><th scope="col">kind</th><th scope="col">policy / rule / tag</th><th scope="col">problem</th><th scope="col">what to do</th><th scope="col">owner</th></tr></thead>
<tbody>
`

const pageGroupEnd = "</tbody></table></section>\n"

// pageWriteRow writes one finding's row.
func pageWriteRow(w *bufio.Writer, f Finding) {
	w.WriteString(`<tr class="finding `)
	switch f.Kind {
	case KindViolation, KindFailed, KindChanged:
		w.WriteString("kind-")
		w.WriteString(f.Kind)
	default:
		w.WriteString("kind-other")
	}
	w.WriteString(`"><td class="kind">`)
	pageEscape(w, pageClean(f.Kind))
	if f.New {
		w.WriteString(` <span class="badge-new">new</span>`)
	}
	w.WriteString(`</td><td class="where">`)
	if f.Policy != "" || f.Rule != "" || f.Tag != "" {
		w.WriteString(`<span class="policy">`)
		pageEscape(w, pageClean(f.Policy))
		w.WriteString("</span>")
		if f.Rule != "" {
			w.WriteString(` / <span class="rule">`)
			pageEscape(w, pageClean(f.Rule))
			w.WriteString("</span>")
		}
		if f.Tag != "" {
			w.WriteString(` / tag <code class="tag">`)
			pageEscape(w, pageClean(f.Tag))
			w.WriteString("</code>")
		}
	} else {
		w.WriteString("—")
	}
	w.WriteString(`</td><td class="problem">`)
	pageEscape(w, pageClean(f.Problem))
	w.WriteString(`</td><td class="action">`)
	pageEscape(w, pageClean(f.Action))
	w.WriteString(`</td><td class="owner">`)
	pageEscape(w, pageClean(f.Owner))
	w.WriteString("</td></tr>\n")
}

// pageEscape writes s as HTML text or a quoted attribute value, escaped
// exactly as html/template escapes a string there (a test holds the two
// equal). Each finding's group and row are written by hand with it: ten
// times faster than executing a template per finding.
func pageEscape(w *bufio.Writer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var rep string
		switch s[i] {
		case 0:
			rep = "\uFFFD"
		case '"':
			rep = "&#34;"
		case '&':
			rep = "&amp;"
		case '\'':
			rep = "&#39;"
		case '+':
			rep = "&#43;"
		case '<':
			rep = "&lt;"
		case '>':
			rep = "&gt;"
		default:
			continue
		}
		w.WriteString(s[last:i])
		w.WriteString(rep)
		last = i + 1
	}
	w.WriteString(s[last:])
}

var (
	pageTmpls    = template.Must(template.New("page").Parse(pageTemplates))
	pageHeadTmpl = pageTmpls.Lookup("head")
	pageFootTmpl = pageTmpls.Lookup("foot")
)

const pageStyle = `
:root { color-scheme: light; --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --bar: #cf222e; --new: #8250df; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #fff; margin: 2rem auto; max-width: 72rem; padding: 0 1.5rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .75rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
h3 { font-size: 1.05rem; margin: 0 0 .25rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: .92em; overflow-wrap: anywhere; }
.verdict { font-size: 1.1rem; font-weight: 600; margin: .25rem 0 1rem; }
dl.run { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
dl.run dt { color: var(--muted); }
dl.run dd { margin: 0; overflow-wrap: anywhere; }
.error { color: var(--bar); }
table { border-collapse: collapse; }
th, td { text-align: left; vertical-align: top; padding: .3rem .6rem; border: 1px solid var(--line); }
thead th { background: #f6f8fa; }
table.counts td { text-align: right; font-variant-numeric: tabular-nums; min-width: 5rem; }
ul.bars { list-style: none; padding: 0; margin: 0; }
li.bar-row { display: grid; grid-template-columns: minmax(8rem, 18rem) 1fr 4rem; gap: .75rem; align-items: center; margin: .3rem 0; }
.bar-label { overflow-wrap: anywhere; }
.bar-track { display: block; height: 1rem; background: #f6f8fa; border: 1px solid var(--line); }
.bar { display: block; height: 100%; background: var(--bar); -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.bar-num { text-align: right; font-variant-numeric: tabular-nums; }
section.key { margin: 1.25rem 0; }
.target { color: var(--muted); margin: 0 0 .4rem; }
table.findings-table { width: 100%; table-layout: fixed; }
table.findings-table th:nth-child(1) { width: 9rem; }
table.findings-table th:nth-child(2) { width: 22%; }
table.findings-table th:nth-child(3) { width: 27%; }
table.findings-table th:nth-child(4) { width: 25%; }
table.findings-table td { overflow-wrap: anywhere; }
.kind-failed .kind { color: var(--bar); font-weight: 600; }
.badge-new { display: inline-block; font-size: .75rem; font-weight: 700; color: #fff; background: var(--new); border-radius: .6rem; padding: 0 .45rem; margin-left: .3rem; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.none { font-weight: 600; }
footer { margin-top: 2.5rem; color: var(--muted); font-size: .85rem; border-top: 1px solid var(--line); padding-top: .5rem; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; padding: 0; }
  h2 { break-after: avoid; }
  section.key h3, .target { break-after: avoid; }
  tr { break-inside: avoid; }
  thead { display: table-header-group; }
  .badge-new { border: 1px solid var(--new); }
}
`

// The page's templates, each executed once: head (the run, counts, bars,
// the findings' heading) and foot (the end of the findings, the generation
// time). The findings between them are written by pageWriteGroup and
// pageWriteRow.
const pageTemplates = `{{define "head"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="tagwarden">
<title>{{.Title}}</title>
<style>` + pageStyle + `</style>
</head>
<body>
<header>
<h1>tagwarden run <code class="run-id">{{.Run}}</code>{{if .Target}} <span class="title-target">{{.Target}}</span>{{end}}</h1>
<p class="verdict">{{.Verdict}}</p>
<dl class="run">
<dt>Target</dt><dd class="run-target">{{if .Target}}{{.Target}}{{else}}none{{end}}</dd>
<dt>Run</dt><dd class="run-run"><code>{{.Run}}</code></dd>
{{- if .Mode}}
<dt>Mode</dt><dd class="run-mode">{{.Mode}}</dd>
{{- end}}
<dt>Trigger</dt><dd class="run-trigger">{{if .Trigger}}{{.Trigger}}{{else}}unknown{{end}}</dd>
<dt>Dry run</dt><dd class="run-dry-run">{{if .DryRun}}yes: no tag was written{{else}}no{{end}}</dd>
<dt>Started</dt><dd class="run-started">{{.Started}}</dd>
<dt>Finished</dt><dd class="run-finished">{{.Finished}}{{if .Duration}} ({{.Duration}}){{end}}</dd>
<dt>State</dt><dd class="run-state">{{if .State}}{{.State}}{{else}}unknown{{end}}</dd>
<dt>Complete</dt><dd class="run-complete">{{if .Complete}}yes: every key was decided{{else}}no: not every key was decided{{end}}</dd>
{{- if .Error}}
<dt>Error</dt><dd class="run-error error">{{.Error}}</dd>
{{- end}}
<dt>Findings</dt><dd class="run-findings">{{.Findings}} ({{.New}} new, {{.Notified}} notified, {{.Suppress}} suppressed)</dd>
{{- if .Reports}}
<dt>Reports</dt><dd class="run-reports">{{range $i, $r := .Reports}}{{if $i}}<br>{{end}}<code>{{$r}}</code>{{end}}</dd>
{{- end}}
{{- if .Page}}
<dt>This page</dt><dd class="run-page"><code>{{.Page}}</code></dd>
{{- end}}
</dl>
</header>
<main>
<section class="counts-section">
<h2>Keys</h2>
<table class="counts">
<thead><tr><th scope="col">keys</th><th scope="col">number</th></tr></thead>
<tbody>
{{- range .Counts}}
<tr><th scope="row">{{.Name}}</th><td>{{.N}}</td></tr>
{{- end}}
</tbody>
</table>
</section>
<section class="policies">
<h2>Violating keys per policy</h2>
{{- if .Bars}}
<ul class="bars">
{{- range .Bars}}
<li class="bar-row"><span class="bar-label">{{.Policy}}</span><span class="bar-track" aria-hidden="true"><span class="bar" style="{{.Style}}"></span></span><span class="bar-num">{{.N}}</span></li>
{{- end}}
</ul>
{{- else}}
<p class="none">No policy was evaluated.</p>
{{- end}}
</section>
<section class="findings">
<h2>Keys that need a person <span class="findings-count">({{.Findings}} {{if eq .Findings 1}}finding{{else}}findings{{end}}, {{.New}} new)</span></h2>
{{end}}

{{- define "foot"}}
{{- if .Keys}}<p class="listed">Listed: {{.Keys}} {{if eq .Keys 1}}key{{else}}keys{{end}}, {{.Findings}} {{if eq .Findings 1}}finding{{else}}findings{{end}}.</p>
{{- else}}<p class="none no-findings">No key needs a person.</p>
{{- end}}
</section>
</main>
<footer><p>Generated by tagwarden at <time class="generated" datetime="{{.GeneratedISO}}">{{.Generated}}</time>.</p></footer>
</body>
</html>
{{end}}`
