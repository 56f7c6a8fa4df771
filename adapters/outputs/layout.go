package outputs

import (
	"fmt"
	"path"
	"strings"
)

// Layout names the objects of the report store under its prefix:
//
//	{prefix}targets/{target}/latest.json                      the pointer the next run reads
//	{prefix}targets/{target}/runs/{run}/link-0001.json.gz      each invocation's report (gzip JSON)
//	{prefix}targets/{target}/runs/{run}/summary.json           the run's summary
//	{prefix}targets/{target}/runs/{run}/report.html            the run's page
//	{prefix}targets/{target}/runs/{run}/state.json.gz          the findings and when each was notified
//	{prefix}fanouts/{run}.json.gz                              a fan-out's report
//	{prefix}fanouts/{run}/done/{target}.json                   a target's run ended
//	{prefix}fanouts/{run}/claim.json, notified.json            the run's one notification
//
// A target is region/project (its "/" kept: one folder per region), or
// the function's own name for it.
type Layout struct {
	Prefix string
}

func (l Layout) target(t string) string { return l.Prefix + "targets/" + cleanSegment(t) + "/" }

// Latest is the object of a target's latest pointer.
func (l Layout) Latest(target string) string { return l.target(target) + "latest.json" }

// RunDir is the folder of one run of a target.
func (l Layout) RunDir(target, run string) string {
	return l.target(target) + "runs/" + cleanSegment(run) + "/"
}

// Link is the object of one invocation's report.
func (l Layout) Link(target, run string, link int) string {
	return l.RunDir(target, run) + fmt.Sprintf("link-%04d.json.gz", max(link, 1))
}

// Summary is the object of a run's summary.
func (l Layout) Summary(target, run string) string { return l.RunDir(target, run) + "summary.json" }

// Page is the object of a run's HTML page.
func (l Layout) Page(target, run string) string { return l.RunDir(target, run) + "report.html" }

// State is the object of a run's notification state.
func (l Layout) State(target, run string) string { return l.RunDir(target, run) + "state.json.gz" }

// Fanout is the object of a fan-out's report.
func (l Layout) Fanout(run string) string {
	return l.Prefix + "fanouts/" + cleanSegment(run) + ".json.gz"
}

// FanoutDone is the marker a target of a fan-out's run writes when its
// run ends.
func (l Layout) FanoutDone(run, target string) string {
	return l.Prefix + "fanouts/" + cleanSegment(run) + "/done/" + cleanSegment(target) + ".json"
}

// FanoutClaim is the object the targets that end a fan-out's run last
// write to choose the one that sends its notification.
func (l Layout) FanoutClaim(run string) string {
	return l.Prefix + "fanouts/" + cleanSegment(run) + "/claim.json"
}

// FanoutNotified records that a fan-out's run's notification was
// published: the next runs of its targets read it.
func (l Layout) FanoutNotified(run string) string {
	return l.Prefix + "fanouts/" + cleanSegment(run) + "/notified.json"
}

// cleanSegment keeps a name usable in an object key: no empty, "." or
// ".." segment, no leading or trailing "/".
func cleanSegment(s string) string {
	parts := strings.Split(s, "/")
	out := parts[:0]
	for _, p := range parts {
		switch p {
		case "", ".", "..":
			continue
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return "_"
	}
	return path.Join(out...)
}
