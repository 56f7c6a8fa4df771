package outputs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/tagwarden/tagwarden/handler"
)

// OwnerAttribute is the message attribute that names the owners of the
// findings a notification lists (the policies' notify values): an SMN
// subscription's filter policy on it delivers the message to the owners
// it names (docs/outputs.md).
const OwnerAttribute = "owner"

// KindAttribute is the attribute every message that names owners also
// carries, with the value KindValue: SMN delivers a message with
// attributes only to subscriptions with a filter policy, so a
// subscription that takes every notification filters on it.
const (
	KindAttribute = "kind"
	KindValue     = "tagwarden"
)

// maxOwnerValues bounds the owner attribute's values: SMN takes at most
// 10 values in a STRING_ARRAY attribute (huaweismn.MaxAttributeValues).
const maxOwnerValues = 10

// maxOwnerLen bounds an owner value: 1 to 32 characters (letters,
// Chinese characters, digits, "_"), SMN's rule for attribute values.
const maxOwnerLen = 32

// OwnerValue is an owner as the owner attribute carries it, the value a
// subscription's filter policy names: every character SMN does not take
// in an attribute value (anything but letters, digits, Chinese characters
// and "_") becomes "_", and it is cut to 32 characters. "" stays "".
func OwnerValue(s string) string {
	var b strings.Builder
	n := 0
	for _, c := range strings.TrimSpace(s) {
		if n == maxOwnerLen {
			break
		}
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c >= 0x4e00 && c <= 0x9fa5:
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
		n++
	}
	return b.String()
}

// notify publishes the run's notification when something needs a person
// (a finding due, or the run's error) or, with NotifyChanges, when tags
// were written; it reports whether a message went out.
func (r *Recorder) notify(ctx context.Context, n Notifier, sum Summary, g *gathered) (handler.OutputReport, bool) {
	o := handler.OutputReport{Output: "smn", What: "notification", Where: n.Where()}
	if g.due == 0 && sum.Error == "" {
		o.Skipped, o.OK = true, true
		switch {
		case g.findings == 0:
			o.Reason = "nothing needs a person"
		default:
			o.Reason = fmt.Sprintf("all %d findings were notified within %s", g.suppressed, r.opts.NotifyRepeat)
		}
		r.logOutput(o)
		return o, false
	}
	msg := r.message(sum, g)
	o.Items = int64(g.due)
	if n := len(g.owners); n > maxOwnerValues {
		o.Reason = fmt.Sprintf("the findings name %d owners; the owner attribute carries the %d with the most findings (SMN's limit)", n, maxOwnerValues)
	}
	var id string
	err := r.attempt(ctx, &o, func(ctx context.Context) error {
		var err error
		id, err = n.Publish(ctx, msg)
		return err
	})
	o.ID = id
	return o, err == nil
}

// message renders the notification of a run, with the owner attribute.
func (r *Recorder) message(sum Summary, g *gathered) Message {
	msg := formatMessage(sum, g.notify, g.more, g.moreKeys, g.moreNew, sum.Page, r.opts.MessageLimit)
	owners := make([]string, 0, len(g.owners))
	for o := range g.owners {
		owners = append(owners, o)
	}
	// The owners with the most findings first, when more than an attribute
	// holds; then by name.
	sort.Slice(owners, func(i, j int) bool {
		if g.owners[owners[i]] != g.owners[owners[j]] {
			return g.owners[owners[i]] > g.owners[owners[j]]
		}
		return owners[i] < owners[j]
	})
	if len(owners) > maxOwnerValues {
		owners = owners[:maxOwnerValues]
	}
	if len(owners) > 0 {
		sort.Strings(owners)
		msg.Attributes = []Attribute{{Name: KindAttribute, Values: []string{KindValue}}, {Name: OwnerAttribute, Values: owners}}
	}
	return msg
}

// Metric names and dimensions of the metrics a run sends.
const (
	DimRegion  = "region"
	DimProject = "project"
	DimRun     = "run" // "sweep" or "keys"
	DimPolicy  = "policy"
	// MetricPolicyViolating counts the violating keys of one policy.
	MetricPolicyViolating = "policy_violating_keys"
)

// Points returns the metric data of a run: one point per count of the
// target, and one per policy with violating keys.
func Points(sum Summary) []Datum {
	region, project := splitTarget(sum.Target)
	kind := "sweep"
	if sum.Mode != handler.ModeSweep {
		kind = "keys"
	}
	dims := []Dimension{{DimRegion, dimValue(region)}, {DimProject, dimValue(project)}, {DimRun, kind}}
	at := sum.Finished
	c := sum.Counts
	var pts []Datum
	for _, m := range []struct {
		name string
		n    int
	}{{"keys_scanned", c.Scanned}, {"keys_compliant", c.Compliant}, {"keys_changed", c.Changed}, {"keys_planned", c.Planned},
		{"keys_violating", c.Violating}, {"keys_failed", c.Failed}, {"keys_skipped", c.Skipped}} {
		pts = append(pts, Datum{Metric: m.name, Dimensions: dims, Value: float64(m.n), Unit: "count", At: at})
	}
	for _, p := range sum.Policies {
		d := append(append([]Dimension{}, dims...), Dimension{DimPolicy, dimValue(p.Policy)})
		pts = append(pts, Datum{Metric: MetricPolicyViolating, Dimensions: d, Value: float64(p.Violating), Unit: "count", At: at})
	}
	return pts
}

func (r *Recorder) putMetrics(ctx context.Context, m Metrics, sum Summary) handler.OutputReport {
	o := handler.OutputReport{Output: "ces", What: "metrics", Where: m.Where()}
	pts := Points(sum)
	o.Items = int64(len(pts))
	r.attempt(ctx, &o, func(ctx context.Context) error { return m.Put(ctx, pts) })
	return o
}

// splitTarget returns a target's region and project ("" and the name when
// it has no region).
func splitTarget(t string) (string, string) {
	if i := strings.IndexByte(t, '/'); i >= 0 {
		return t[:i], t[i+1:]
	}
	return "", t
}

// dimValue maps a name to a valid Cloud Eye dimension value: letters,
// digits, "_" and "-", starting with a letter or a digit, at most 256
// characters. A name that is valid already passes unchanged (region and
// project ids, most policy names); any other has each other character
// replaced by "_" ("x" put in front when it would start with "_" or
// "-"), is cut to fit, and ends with "-" and 6 hex digits of its digest,
// so that two names that map alike ("audit.v2", "audit_v2") stay two
// series.
func dimValue(s string) string {
	b := []byte(s)
	changed := false
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			b[i] = '_'
			changed = true
		}
	}
	if len(b) == 0 || b[0] == '_' || b[0] == '-' {
		b = append([]byte{'x'}, b...)
		changed = true
	}
	if len(b) > maxDimValue {
		changed = true
	}
	if !changed {
		return string(b)
	}
	sum := sha256.Sum256([]byte(s))
	suffix := "-" + hex.EncodeToString(sum[:3])
	if len(b) > maxDimValue-len(suffix) {
		b = b[:maxDimValue-len(suffix)]
	}
	return string(b) + suffix
}

// maxDimValue is Cloud Eye's longest dimension value.
const maxDimValue = 256
