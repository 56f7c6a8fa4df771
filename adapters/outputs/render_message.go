package outputs

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// FormatMessage is the notification of a run: a one-line subject and a
// plain-text body readable as e-mail. Attributes are left nil: the caller
// sets them.
//
// The subject counts the keys the findings name (a key being a group of
// consecutive findings of one target and key id), those of them with a new
// finding, and the run's failed keys: "tagwarden: 12 keys need a person
// (3 new), 2 failed — ap-southeast-1/p1, run 1a2b3c", with "(dry run)"
// after "tagwarden" for a dry run and ", incomplete" when not every key was
// decided. It has no line break and at most 512 bytes, cut on a rune
// boundary.
//
// The body has the run (target, run, trigger, times, counts, complete or
// not, the link to the full report when link is not empty), then each key,
// "alias (key id)", with its findings indented below:
// "- [policy] problem → what to do (owner: x)" ("[kind]" for a finding of
// no policy), "- NEW [policy] …" for a new one. findings are those to
// notify (new, or due for a reminder), in order. When limit > 0 and the
// body would be longer than limit bytes, it ends after the last whole key
// that fits with "… and N more keys (M findings): see <link>" ("not
// listed" without a link), and is at most limit bytes. (Only a limit
// smaller than the header itself is not kept whole: the body is then cut
// to limit bytes on a rune boundary.)
//
// Every value is made valid UTF-8 and one line; lines have no trailing
// spaces. The output depends only on the arguments.
func FormatMessage(s Summary, findings []Finding, link string, limit int) Message {
	return formatMessage(s, findings, 0, 0, 0, link, limit)
}

// formatMessage is FormatMessage for a caller that kept only the first
// findings to notify in memory and counted the rest: moreFindings more
// findings, of moreKeys more keys, moreNew of them with a new finding.
// The subject counts those keys too; the body ends with the "… and N more
// keys" line whenever anything is not listed.
func formatMessage(s Summary, findings []Finding, moreFindings, moreKeys, moreNew int, link string, limit int) Message {
	link = msgField(link)
	groups, newKeys, personKeys := 0, 0, 0
	for i := 0; i < len(findings); {
		j, anyNew := msgGroupEnd(findings, i)
		groups++
		if anyNew {
			newKeys++
		}
		for _, f := range findings[i:j] {
			if f.NeedsPerson() {
				personKeys++
				break
			}
		}
		i = j
	}
	moreFindings, moreKeys = max(moreFindings, 0), max(moreKeys, 0)
	newKeys += min(max(moreNew, 0), moreKeys)
	subject := msgSubject(s, groups+moreKeys, newKeys)
	if personKeys == 0 && moreKeys == 0 && groups > 0 {
		// Only tags written (TAGWARDEN_NOTIFY_CHANGES): nothing needs a
		// person.
		subject = msgChangesSubject(s, groups)
	}
	return Message{
		Subject: subject,
		Body:    msgBody(s, findings, groups, newKeys, moreFindings, moreKeys, link, limit),
	}
}

// msgGroupEnd returns the end of the group that starts at i and whether
// one of its findings is new.
func msgGroupEnd(fs []Finding, i int) (end int, anyNew bool) {
	j := i
	for j < len(fs) && fs[j].Target == fs[i].Target && fs[j].KeyID == fs[i].KeyID {
		anyNew = anyNew || fs[j].New
		j++
	}
	return j, anyNew
}

func msgSubject(s Summary, keys, newKeys int) string {
	var b strings.Builder
	b.WriteString("tagwarden")
	if s.DryRun {
		b.WriteString(" (dry run)")
	}
	b.WriteString(": ")
	switch keys {
	case 0:
		b.WriteString("no key needs a person")
	case 1:
		b.WriteString("1 key needs a person")
	default:
		b.WriteString(strconv.Itoa(keys) + " keys need a person")
	}
	if newKeys > 0 {
		b.WriteString(" (" + strconv.Itoa(newKeys) + " new)")
	}
	if s.Counts.Failed > 0 {
		b.WriteString(", " + strconv.Itoa(s.Counts.Failed) + " failed")
	}
	if !s.Complete {
		b.WriteString(", incomplete")
	}
	if s.Error != "" {
		b.WriteString(", error")
	}
	b.WriteString(" — ")
	if t := msgField(s.Target); t != "" {
		b.WriteString(t + ", ")
	}
	b.WriteString("run " + msgField(s.Run))
	return msgCut(b.String(), MaxSubjectBytes)
}

// msgChangesSubject is the subject of a message that lists only tags
// written (or, in a dry run, planned).
func msgChangesSubject(s Summary, keys int) string {
	verb := " changed"
	if s.DryRun {
		verb = " to change (dry run)"
	}
	n := strconv.Itoa(keys) + " keys"
	if keys == 1 {
		n = "1 key"
	}
	sub := "tagwarden: " + n + verb + ", none needs a person — "
	if t := msgField(s.Target); t != "" {
		sub += t + ", "
	}
	return msgCut(sub+"run "+msgField(s.Run), MaxSubjectBytes)
}

// msgCut returns s cut to at most n bytes on a rune boundary, ending with
// "…" when cut.
func msgCut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const more = "…"
	cut := n - len(more)
	if cut < 0 {
		cut = 0
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	s = strings.TrimRight(s[:cut], " ")
	if len(s)+len(more) > n {
		return s
	}
	return s + more
}

func msgBody(s Summary, findings []Finding, groups, newKeys, moreFindings, moreKeys int, link string, limit int) string {
	var b strings.Builder
	line := func(parts ...string) {
		l := strings.TrimRight(strings.Join(parts, ""), " \t")
		b.WriteString(l)
		b.WriteByte('\n')
	}
	run := msgField(s.Run)
	if s.DryRun {
		line("tagwarden run ", run, " (dry run: nothing was written)")
	} else {
		line("tagwarden run ", run)
	}
	line("")
	if t := msgField(s.Target); t != "" {
		line("Target:    ", t)
	}
	for _, t := range s.Targets {
		c := t.Counts
		l := "  " + msgField(t.Target) + ": "
		switch {
		case t.Missing != "":
			l += "its summary could not be read (" + msgField(t.Missing) + "): its keys are not listed"
		default:
			state := msgField(t.State)
			if !t.Complete {
				state += ", incomplete"
			}
			l += state + "; " + strconv.Itoa(c.Scanned) + " scanned, " + strconv.Itoa(c.Changed) + " changed, " +
				strconv.Itoa(c.Violating) + " violating, " + strconv.Itoa(c.Failed) + " failed"
			if e := msgCut(msgField(t.Error), 300); e != "" {
				l += "; error: " + e
			}
			if p := msgField(t.Page); p != "" {
				l += "; " + p
			}
		}
		line(l)
	}
	trigger := msgField(s.Trigger)
	if trigger == "" {
		trigger = "unknown"
	}
	if m := msgField(string(s.Mode)); m != "" {
		trigger += " (" + m + ")"
	}
	line("Trigger:   ", trigger)
	line("Started:   ", pageTime(s.Started))
	fin := pageTime(s.Finished)
	if !s.Started.IsZero() && !s.Finished.IsZero() && !s.Finished.Before(s.Started) {
		fin += " (" + s.Finished.Sub(s.Started).Round(time.Second).String() + ")"
	}
	line("Finished:  ", fin)
	state := msgField(s.State)
	if state == "" {
		state = "unknown"
	}
	if s.Complete {
		line("State:     ", state, "; complete: every key was decided")
	} else {
		line("State:     ", state, "; incomplete: not every key was decided")
	}
	if e := msgField(s.Error); e != "" {
		line("Error:     ", e)
	}
	c := s.Counts
	line("Keys:      ", strconv.Itoa(c.Scanned), " scanned, ", strconv.Itoa(c.Compliant), " compliant, ",
		strconv.Itoa(c.Changed), " changed, ", strconv.Itoa(c.Planned), " planned, ",
		strconv.Itoa(c.Violating), " violating, ", strconv.Itoa(c.Failed), " failed, ",
		strconv.Itoa(c.Skipped), " skipped")
	what := " to notify (new or due for a reminder)"
	for _, f := range findings {
		if !f.NeedsPerson() {
			// TAGWARDEN_NOTIFY_CHANGES: the tags written are listed too.
			what = " to notify (new or due for a reminder, or tags written)"
			break
		}
	}
	line("Findings:  ", strconv.Itoa(s.Findings), " in the run, ", strconv.Itoa(s.New), " new; ",
		strconv.Itoa(len(findings)+moreFindings), what)
	if link != "" {
		line("Report:    ", link)
	}
	line("")
	if groups+moreKeys == 0 {
		line("No key needs a person.")
		return msgLimit(b.String(), limit)
	}
	heading := "Keys that need a person: " + strconv.Itoa(groups+moreKeys)
	if s.Findings == 0 {
		heading = "Keys with tags written: " + strconv.Itoa(groups+moreKeys)
		if s.DryRun {
			heading = "Keys with tags to write (dry run): " + strconv.Itoa(groups+moreKeys)
		}
	}
	if newKeys > 0 {
		heading += " (" + strconv.Itoa(newKeys) + " new)"
	}
	line(heading)

	var g strings.Builder
	listedGroups, listedFindings := 0, 0
	for i := 0; i < len(findings); {
		j, _ := msgGroupEnd(findings, i)
		g.Reset()
		msgGroup(&g, s, findings[i:j])
		restGroups, restFindings := groups-listedGroups-1+moreKeys, len(findings)-j+moreFindings
		need := b.Len() + g.Len()
		if restGroups > 0 || restFindings > 0 {
			need += len(msgMore(restGroups, restFindings, link))
		}
		if limit > 0 && need > limit {
			break
		}
		b.WriteString(g.String())
		listedGroups++
		listedFindings = j
		i = j
	}
	if restGroups, restFindings := groups-listedGroups+moreKeys, len(findings)-listedFindings+moreFindings; restGroups > 0 || restFindings > 0 {
		b.WriteString(msgMore(restGroups, restFindings, link))
	}
	return msgLimit(b.String(), limit)
}

// msgGroup writes one key's findings: a blank line, "alias (key id)", then
// one indented line per finding.
func msgGroup(b *strings.Builder, s Summary, fs []Finding) {
	f := fs[0]
	b.WriteByte('\n')
	id, alias := msgField(f.KeyID), msgField(f.Alias)
	if id == "" {
		id = "no key id"
	}
	if alias != "" {
		b.WriteString(alias + " (" + id + ")")
	} else {
		b.WriteString(id)
	}
	if t := msgField(f.Target); t != "" && f.Target != s.Target {
		b.WriteString(" in " + t)
	}
	b.WriteByte('\n')
	for _, f := range fs {
		l := "  - "
		if f.New {
			l += "NEW "
		}
		what := msgField(f.Policy)
		if what == "" {
			what = msgField(f.Kind)
		}
		if what != "" {
			l += "[" + what + "] "
		}
		problem := msgField(f.Problem)
		if problem == "" {
			problem = "(no description)"
		}
		l += problem
		if a := msgField(f.Action); a != "" {
			l += " → " + a
		}
		if o := msgField(f.Owner); o != "" {
			l += " (owner: " + o + ")"
		}
		b.WriteString(strings.TrimRight(l, " "))
		b.WriteByte('\n')
	}
}

// msgMore is the line that ends a body cut short.
func msgMore(keys, findings int, link string) string {
	where := "not listed"
	if link != "" {
		where = "see " + link
	}
	return "\n… and " + renderPlural(keys, "more key", "more keys") + " (" +
		renderPlural(findings, "finding", "findings") + "): " + where + "\n"
}

// msgLimit cuts body to limit bytes on a rune boundary when it is longer
// (only when the limit is smaller than the body's header).
func msgLimit(body string, limit int) string {
	if limit <= 0 || len(body) <= limit {
		return body
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(body[cut]) {
		cut--
	}
	return strings.TrimRight(body[:cut], " \t")
}

// msgField makes s one clean line of text: valid UTF-8, every control
// character, line or paragraph separator and run of spaces becomes one
// space, no leading or trailing space.
func msgField(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || c < 0x20 || c == 0x7f || (c == ' ' && (i == 0 || i == len(s)-1 || s[i+1] == ' ')) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}
