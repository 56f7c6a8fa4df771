package deploy_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	yaml "go.yaml.in/yaml/v3"
)

// The function's outputs (docs/deploy.md, "Outputs: notifications,
// metrics, stored reports"): their variables, whose names are fixed, and
// what each needs from Huawei IAM.
const (
	envSMNTopic         = "TAGWARDEN_SMN_TOPIC"
	envNotifyChanges    = "TAGWARDEN_NOTIFY_CHANGES"
	envNotifyRepeat     = "TAGWARDEN_NOTIFY_REPEAT"
	envMetrics          = "TAGWARDEN_METRICS"
	envMetricsNamespace = "TAGWARDEN_METRICS_NAMESPACE"
	envReportBucket     = "TAGWARDEN_REPORT_BUCKET"
	envReportPrefix     = "TAGWARDEN_REPORT_PREFIX"
)

// outputVars are the outputs' variables.
var outputVars = []string{envSMNTopic, envNotifyChanges, envNotifyRepeat, envMetrics, envMetricsNamespace, envReportBucket, envReportPrefix}

// outputPolicy is the custom policy one output adds: the locals holding its
// actions and its resource ("" for none), the actions themselves, the
// policy's scope (XA project-level, AX global) and its count.
type outputPolicy struct {
	actionsLocal, resourceLocal string
	actions                     []string
	scope                       string
	count                       string
}

// outputPolicies are the three outputs' policies. Notifications: SMN
// PublishMessage, on the one topic; metrics: Cloud Eye CreateMetricData,
// which supports no resource; reports: OBS PutObject and GetObject on the
// objects under the prefix, a global-scope policy (OBS is a global service).
var outputPolicies = map[string]outputPolicy{
	"notifications": {"notify_actions", "topic_resource", []string{"smn:topic:publish"}, "XA", "local.notifies ? 1 : 0"},
	"metrics":       {"metrics_actions", "", []string{"ces:metricData:create"}, "XA", "var.metrics ? 1 : 0"},
	"reports":       {"report_actions", "reports_resource", []string{"obs:object:PutObject", "obs:object:GetObject"}, "AX", "local.stores_reports ? 1 : 0"},
}

// outputPolicyOf names the output whose policy this is: exactly its
// actions local and, when it has one, its resource local (and no Resource
// when it has none); "" when it is no output's.
func outputPolicyOf(policy string) string {
	for name, o := range outputPolicies {
		if !regexp.MustCompile(`Action\s*=\s*local\.` + o.actionsLocal + `\b`).MatchString(policy) {
			continue
		}
		if o.resourceLocal == "" && !strings.Contains(policy, "Resource") ||
			o.resourceLocal != "" && regexp.MustCompile(`Resource\s*=\s*\[local\.`+o.resourceLocal+`\]`).MatchString(policy) {
			return name
		}
	}
	return ""
}

func mapKeysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestTerraformOutputs checks, reading deploy/functiongraph, that each
// output off grants nothing and sets none of its variables, and each on
// grants exactly its actions on exactly its resource, in exactly the
// project where it is used; and the alarm, only with metrics.
// deploy/functiongraph/tests/deploy.tftest.hcl checks the same on plans.
func TestTerraformOutputs(t *testing.T) {
	root := parseHCLDir(t, filepath.Join("..", "deploy", "functiongraph"))
	main := read(t, "deploy/functiongraph/main.tf")
	locals := root.one(t, "locals")
	vars := map[string]*hclBlock{}
	for _, v := range root.find("variable") {
		vars[v.Labels[0]] = v
	}

	// The policies: exactly their actions, on exactly their resources,
	// each only when its output is on.
	roles := map[string]*hclBlock{}
	for _, r := range root.find("resource", "huaweicloud_identity_role") {
		if o := outputPolicyOf(r.attr(t, "policy")); o != "" {
			roles[o] = r
		}
	}
	for name, o := range outputPolicies {
		got, ok := hclStrings(locals.attr(t, o.actionsLocal))
		if !ok || !slices.Equal(got, o.actions) {
			t.Errorf("%s: local.%s = %s, want exactly %q", name, o.actionsLocal, locals.Attrs[o.actionsLocal], o.actions)
		}
		r := roles[name]
		if r == nil {
			t.Errorf("no %s policy (Action = local.%s, Resource = [local.%s])", name, o.actionsLocal, o.resourceLocal)
			continue
		}
		if r.Attrs["count"] != o.count {
			t.Errorf("%s policy: count %s, want %s (only when the output is on)", name, r.Attrs["count"], o.count)
		}
		if s, _ := hclString(r.Attrs["type"]); s != o.scope {
			t.Errorf("%s policy: type %s, want %q", name, r.Attrs["type"], o.scope)
		}
	}
	if len(roles) != len(outputPolicies) {
		t.FailNow() // the missing ones are named above
	}
	for name, want := range map[string]string{
		"notifies":         `var.smn_topic_urn != ""`,
		"stores_reports":   `var.report_bucket != ""`,
		"topic_resource":   `"SMN:*:*:topic:${local.smn_topic.name}"`,
		"reports_resource": `"OBS:*:*:object:${var.report_bucket}/${var.report_prefix}*"`,
		"smn_project":      `local.notifies ? lookup(local.project_names, local.smn_topic.project_id, "") : ""`,
		"reads_projects":   `var.targets != "" || local.notifies || var.alarm`,
	} {
		if got := locals.attr(t, name); got != want {
			t.Errorf("local.%s = %s, want %s", name, got, want)
		}
	}
	if d := root.one(t, "data", "huaweicloud_identity_projects", "all"); d.Attrs["count"] != "local.reads_projects ? 1 : 0" {
		t.Errorf("the projects are read with count %s, want local.reads_projects ? 1 : 0", d.Attrs["count"])
	}
	// The topic's URN is parsed by the same expression the variable's
	// validation checks; its name ends the resource path.
	re, err := regexp.Compile(mustUnquote(t, locals.attr(t, "smn_re")))
	if err != nil {
		t.Fatal(err)
	}
	if m := re.FindStringSubmatch("urn:smn:ap-southeast-1:0123456789abcdef0123456789abcdef:tag_warden-1"); m == nil ||
		!slices.Equal(m[1:], []string{"ap-southeast-1", "0123456789abcdef0123456789abcdef", "tag_warden-1"}) {
		t.Errorf("local.smn_re does not split a topic URN into region, project id and name: %v", m)
	}

	// Where each is granted: notifications in the topic's project, metrics
	// in the function's own, reports in the global service project (the
	// agency's domain_roles), nothing in the configuration agency.
	er := locals.attr(t, "execution_roles")
	for _, want := range []string{
		"p == var.region ? huaweicloud_identity_role." + roles["metrics"].Labels[1] + "[*].name : []",
		"p == local.smn_project ? huaweicloud_identity_role." + roles["notifications"].Labels[1] + "[*].name : []",
	} {
		if !strings.Contains(er, want) {
			t.Errorf("execution_roles lacks %q: %s", want, er)
		}
	}
	if strings.Contains(er, roles["reports"].Labels[1]) {
		t.Errorf("execution_roles holds the reports policy in a project: OBS is a global service")
	}
	ep := locals.attr(t, "execution_projects")
	for _, want := range []string{"local.invokes_itself || var.metrics ? [var.region] : []", "local.notifies ? [local.smn_project] : []"} {
		if !strings.Contains(ep, want) {
			t.Errorf("execution_projects lacks %q: %s", want, ep)
		}
	}
	exec := root.one(t, "resource", "huaweicloud_identity_agency", "execution")
	if got, want := exec.Attrs["domain_roles"], "local.stores_reports ? huaweicloud_identity_role."+roles["reports"].Labels[1]+"[*].name : null"; got != want {
		t.Errorf("execution agency: domain_roles = %s, want %s", got, want)
	}
	conf := root.one(t, "resource", "huaweicloud_identity_agency", "configuration")
	for name, r := range roles {
		if confHoldsRole(conf, "huaweicloud_identity_role."+r.Labels[1]) {
			t.Errorf("the configuration agency holds the %s policy", name)
		}
	}
	var conds []string
	for _, p := range exec.one(t, "lifecycle").find("precondition") {
		conds = append(conds, p.Attrs["condition"])
	}
	for _, want := range []string{
		`!local.notifies || local.smn_project != ""`,
		`!local.notifies || local.smn_project == "" || lookup(local.region_of, local.smn_project, "") == local.smn_topic.region`,
		`local.notifies || (!var.notify_changes && var.notify_repeat == "168h")`,
		`var.metrics || var.metrics_namespace == "TagWarden.KMS"`,
		`local.stores_reports || var.report_prefix == "tagwarden/"`,
	} {
		if !slices.Contains(conds, want) {
			t.Errorf("execution agency: no precondition %s", want)
		}
	}

	// The variables, each set only when its output is on, and each once.
	env := locals.attr(t, "environment")
	for _, re := range []string{
		`local\.notifies \? \{\s*TAGWARDEN_SMN_TOPIC\s*=\s*var\.smn_topic_urn\s+TAGWARDEN_NOTIFY_CHANGES\s*=\s*tostring\(var\.notify_changes\)\s+TAGWARDEN_NOTIFY_REPEAT\s*=\s*var\.notify_repeat\s*\} : \{\}`,
		`var\.metrics \? \{\s*TAGWARDEN_METRICS\s*=\s*"true"\s+TAGWARDEN_METRICS_NAMESPACE\s*=\s*var\.metrics_namespace\s*\} : \{\}`,
		`local\.stores_reports \? \{\s*TAGWARDEN_REPORT_BUCKET\s*=\s*var\.report_bucket\s+TAGWARDEN_REPORT_PREFIX\s*=\s*var\.report_prefix\s*\} : \{\}`,
	} {
		if !regexp.MustCompile(re).MatchString(env) {
			t.Errorf("the environment does not match %s", re)
		}
	}
	for _, v := range outputVars {
		if n := len(regexp.MustCompile(`\b`+v+`\s*=`).FindAllString(main, -1)); n != 1 {
			t.Errorf("main.tf sets %s %d times, want once (under its output's condition)", v, n)
		}
	}

	// The variables' defaults: every output off; the function's own
	// defaults for the rest.
	for name, def := range map[string]string{
		"smn_topic_urn": `""`, "notify_changes": "false", "notify_repeat": `"168h"`,
		"metrics": "false", "metrics_namespace": `"TagWarden.KMS"`,
		"report_bucket": `""`, "report_prefix": `"tagwarden/"`,
		"alarm": "false", "alarm_level": "2", "alarm_suppress_duration": "0",
	} {
		if v := vars[name]; v == nil {
			t.Errorf("variables.tf lacks variable %s", name)
		} else if v.Attrs["default"] != def {
			t.Errorf("variable %s: default %s, want %s", name, v.Attrs["default"], def)
		}
	}
	for _, name := range []string{"smn_topic_urn", "notify_repeat", "metrics_namespace", "report_bucket", "report_prefix", "alarm_level", "alarm_suppress_duration"} {
		if v := vars[name]; v != nil && len(v.find("validation")) != 1 {
			t.Errorf("variable %s has no validation", name)
		}
	}
	// The validations' expressions (Terraform's regex is RE2, as Go's).
	checkPattern(t, "smn_topic_urn", validationRegex(t, vars["smn_topic_urn"], 0), topicURNCases)
	checkPattern(t, "report_prefix", validationRegex(t, vars["report_prefix"], 0), prefixCases)
	checkPattern(t, "metrics_namespace", validationRegex(t, vars["metrics_namespace"], 0), map[string]bool{
		"TagWarden.KMS": true, "Acme.Tag_Warden2": true, "a.b": true, "TagWarden": false, "1ag.KMS": false,
		"TagWarden.KMS.x": false, "Tag-Warden.KMS": false, "TagWarden.": false,
	})
	checkPattern(t, "metrics_namespace (reserved services)", validationRegex(t, vars["metrics_namespace"], 1), map[string]bool{
		"SYS.KMS": true, "sysx.a": true, "Agt.x": true, "SRE.x": true, "TagWarden.KMS": false, "Asys.x": false,
	})
	checkPattern(t, "notify_repeat", validationRegex(t, vars["notify_repeat"], 0), map[string]bool{
		"168h": true, "1h30m": true, "1.5h": true, "90s": true, "7d": false, "": false, "h": false, "-1h": false,
	})

	// The alarm: only with metrics, on the custom namespace's
	// keys_violating and keys_failed above 0, for the targets (region and
	// project), notifying the topic only when there is one.
	alarms := root.find("resource", "huaweicloud_ces_alarmrule")
	if len(alarms) != 1 {
		t.Fatalf("%d Cloud Eye alarm rules, want 1", len(alarms))
	}
	a := alarms[0]
	for attr, want := range map[string]string{
		"count": "var.alarm ? 1 : 0", "alarm_action_enabled": "local.notifies", "alarm_type": `"MULTI_INSTANCE"`, "alarm_enabled": "true",
	} {
		if a.Attrs[attr] != want {
			t.Errorf("alarm rule: %s = %s, want %s", attr, a.Attrs[attr], want)
		}
	}
	if got := a.one(t, "metric").Attrs["namespace"]; got != "var.metrics_namespace" {
		t.Errorf("alarm rule: metric namespace %s, want var.metrics_namespace", got)
	}
	if got, ok := hclStrings(locals.attr(t, "alarm_metrics")); !ok || !slices.Equal(got, []string{"keys_violating", "keys_failed"}) {
		t.Errorf("local.alarm_metrics = %s, want [\"keys_violating\", \"keys_failed\"]", locals.Attrs["alarm_metrics"])
	}
	if c := a.find("dynamic", "condition"); len(c) != 1 || c[0].Attrs["for_each"] != "local.alarm_metrics" || len(a.find("condition")) != 0 {
		t.Error("alarm rule: want one dynamic condition over local.alarm_metrics, and no other")
	} else {
		content := c[0].one(t, "content")
		for attr, want := range map[string]string{"metric_name": "condition.value", "comparison_operator": `">"`, "value": "0", "count": "1", "unit": `"count"`} {
			if content.Attrs[attr] != want {
				t.Errorf("alarm condition: %s = %s, want %s", attr, content.Attrs[attr], want)
			}
		}
	}
	if r := a.find("dynamic", "resources"); len(r) != 1 || r[0].Attrs["for_each"] != "local.alarm_targets" {
		t.Error("alarm rule: want one dynamic resources over local.alarm_targets")
	} else {
		var dims []string
		for _, d := range r[0].one(t, "content").find("dimensions") {
			dims = append(dims, d.Attrs["name"]+"="+d.Attrs["value"])
		}
		if want := []string{`"region"=resources.value.region`, `"project"=resources.value.project_id`, `"run"="sweep"`}; !slices.Equal(dims, want) {
			t.Errorf("alarm rule: dimensions %q, want %q", dims, want)
		}
	}
	if act := a.find("dynamic", "alarm_actions"); len(act) != 1 || act[0].Attrs["for_each"] != "local.notifies ? [var.smn_topic_urn] : []" {
		t.Error("alarm rule: want one dynamic alarm_actions, over the topic only when it is given")
	} else if c := act[0].one(t, "content"); c.Attrs["type"] != `"notification"` || c.Attrs["notification_list"] != "[alarm_actions.value]" {
		t.Errorf("alarm rule: alarm_actions %v, want a notification to the topic", c.Attrs)
	}
	if len(a.find("ok_actions")) != 0 || len(a.find("dynamic", "ok_actions")) != 0 {
		t.Error("alarm rule: no ok_actions wanted")
	}
	var pre []string
	for _, p := range a.one(t, "lifecycle").find("precondition") {
		pre = append(pre, p.Attrs["condition"])
	}
	if !slices.Contains(pre, "var.metrics") {
		t.Error("alarm rule: want the precondition var.metrics (the alarm only with metrics)")
	}

	for _, o := range []string{"notification_topic", "metrics_namespace", "reports_location", "alarm_rule_id"} {
		if len(root.find("output", o)) != 1 {
			t.Errorf("outputs.tf lacks output %s", o)
		}
	}
}

var topicURNCases = map[string]bool{
	"urn:smn:ap-southeast-1:0123456789abcdef0123456789abcdef:tagwarden": true,
	"urn:smn:eu-west-101:p-1:a_b-c":                                     true,
	"urn:smn:ap-southeast-1:p:" + strings.Repeat("a", 255):              true,
	"urn:smn:ap-southeast-1:p:" + strings.Repeat("a", 256):              false,
	"urn:smn:ap-southeast-1:p:tagwarden:0123abcd":                       false, // a subscription
	"urn:smn:ap-southeast-1::tagwarden":                                 false,
	"urn:smn:ap-southeast-1:p:-tagwarden":                               false,
	"urn:smn:AP-SOUTHEAST-1:p:tagwarden":                                false,
	"arn:smn:ap-southeast-1:p:tagwarden":                                false,
	"urn:smn:ap-southeast-1:p:tag*":                                     false,
}

var prefixCases = map[string]bool{
	"tagwarden/": true, "kms/reports/": true, "reports": true, "a": true,
	"": false, "/tagwarden/": false, "tagwarden/*": false, "tag?": false, "tag warden/": false,
	strings.Repeat("a", 256): true, strings.Repeat("a", 257): false,
}

// validationRegex returns the i-th regex("...") of a variable's validation.
func validationRegex(t *testing.T, v *hclBlock, i int) string {
	t.Helper()
	if v == nil {
		t.Fatal("no such variable")
	}
	cond := v.one(t, "validation").attr(t, "condition")
	m := regexp.MustCompile(`regex\(("(?:[^"\\]|\\.)*")`).FindAllStringSubmatch(cond, -1)
	if len(m) <= i {
		t.Fatalf("variable %s: no regex in %s", v.Labels[0], cond)
	}
	return mustUnquote(t, m[i][1])
}

func mustUnquote(t *testing.T, s string) string {
	t.Helper()
	u, err := strconv.Unquote(s)
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return u
}

// checkPattern checks a pattern against cases (true: must match).
func checkPattern(t *testing.T, what, pattern string, cases map[string]bool) {
	t.Helper()
	re, err := regexp.Compile(pattern)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	for in, want := range cases {
		if got := re.MatchString(in); got != want {
			t.Errorf("%s: %q matched %v, want %v (pattern %s)", what, in, got, want, pattern)
		}
	}
}

// TestTemplateOutputs checks template.yaml's outputs: the parameters (all
// optional, every output off by default), their conditions, the variables
// set only when given, nothing added to the AWS role, and the Huawei IAM
// policies of the outputs HuaweiIamPolicy and HuaweiIamObsPolicy,
// evaluated for every combination of the outputs: each off, no statement;
// each on, exactly its actions on exactly its resource; the same actions
// and resources as deploy/functiongraph.
func TestTemplateOutputs(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(read(t, "template.yaml")), &doc); err != nil {
		t.Fatal(err)
	}
	params := get(&doc, "Parameters")
	defaults := map[string]string{
		"SmnTopicUrn": "", "NotifyChanges": "false", "NotifyRepeat": "168h",
		"Metrics": "false", "MetricsNamespace": "TagWarden.KMS",
		"ReportBucket": "", "ReportPrefix": "tagwarden/",
	}
	for name, def := range defaults {
		p := get(params, name)
		if p == nil {
			t.Errorf("no parameter %s", name)
			continue
		}
		if d := get(p, "Default"); d == nil || d.Value != def {
			t.Errorf("parameter %s: want the default %q", name, def)
		}
	}
	for _, name := range []string{"NotifyChanges", "Metrics"} {
		if got := yamlFlow(get(params, name, "AllowedValues")); got != `["true", "false"]` {
			t.Errorf("parameter %s: AllowedValues %s, want [\"true\", \"false\"]", name, got)
		}
	}
	// The pattern Go's regexp can read agrees with the Terraform's; the
	// others use lookaheads (CloudFormation's patterns are Java's):
	// sam_transform_check.py checks them with Python's.
	checkPattern(t, "SmnTopicUrn", get(params, "SmnTopicUrn", "AllowedPattern").Value, mergeCases(topicURNCases, map[string]bool{"": true}))
	for _, name := range []string{"NotifyRepeat", "MetricsNamespace", "ReportBucket", "ReportPrefix"} {
		if get(params, name, "AllowedPattern") == nil {
			t.Errorf("parameter %s has no AllowedPattern", name)
		}
	}

	wantCond := map[string]string{
		"HasSmnTopic":     `!Not [!Equals [!Ref SmnTopicUrn, ""]]`,
		"HasMetrics":      `!Equals [!Ref Metrics, "true"]`,
		"HasReportBucket": `!Not [!Equals [!Ref ReportBucket, ""]]`,
	}
	for name, want := range wantCond {
		if got := yamlFlow(get(&doc, "Conditions", name)); got != want {
			t.Errorf("condition %s is %s, want %s", name, got, want)
		}
	}
	for _, rule := range []string{"NotifyOnlyWithTopic", "NamespaceOnlyWithMetrics", "PrefixOnlyWithBucket"} {
		if get(&doc, "Rules", rule) == nil {
			t.Errorf("no rule %s", rule)
		}
	}

	// The variables, each only under its condition.
	var fn *yaml.Node
	for _, id := range mapKeys(get(&doc, "Resources")) {
		if r := get(&doc, "Resources", id); get(r, "Type").Value == "AWS::Serverless::Function" {
			fn = r
		}
	}
	env := get(fn, "Properties", "Environment", "Variables")
	for v, want := range map[string]string{
		envSMNTopic:         "!If [HasSmnTopic, !Ref SmnTopicUrn, !Ref AWS::NoValue]",
		envNotifyChanges:    "!If [HasSmnTopic, !Ref NotifyChanges, !Ref AWS::NoValue]",
		envNotifyRepeat:     "!If [HasSmnTopic, !Ref NotifyRepeat, !Ref AWS::NoValue]",
		envMetrics:          `!If [HasMetrics, "true", !Ref AWS::NoValue]`,
		envMetricsNamespace: "!If [HasMetrics, !Ref MetricsNamespace, !Ref AWS::NoValue]",
		envReportBucket:     "!If [HasReportBucket, !Ref ReportBucket, !Ref AWS::NoValue]",
		envReportPrefix:     "!If [HasReportBucket, !Ref ReportPrefix, !Ref AWS::NoValue]",
	} {
		if got := yamlFlow(get(env, v)); got != want {
			t.Errorf("environment %s is %s, want %s", v, got, want)
		}
	}
	// Nothing for the outputs in the AWS role: TestTemplate checks that its
	// only statement is the self-invocation.

	// The Huawei IAM policies, evaluated for every combination.
	outputs := get(&doc, "Outputs")
	if c := get(outputs, "HuaweiIamPolicy", "Condition"); c != nil || get(outputs, "HuaweiIamPolicy", "Value") == nil {
		t.Fatal("output HuaweiIamPolicy: want it, with no condition")
	}
	if c := get(outputs, "HuaweiIamObsPolicy", "Condition"); c == nil || c.Value != "HasReportBucket" {
		t.Fatal("output HuaweiIamObsPolicy: want it under the condition HasReportBucket")
	}
	tfActions := terraformActions(t)
	const topic, topicName = "urn:smn:ap-southeast-1:0123456789abcdef0123456789abcdef:tag-alerts", "tag-alerts"
	for combo := 0; combo < 8; combo++ {
		smn, metrics, reports := combo&1 != 0, combo&2 != 0, combo&4 != 0
		p := map[string]string{}
		for k, v := range defaults {
			p[k] = v
		}
		if smn {
			p["SmnTopicUrn"] = topic
		}
		if metrics {
			p["Metrics"] = "true"
		}
		if reports {
			p["ReportBucket"], p["ReportPrefix"] = "acme-reports", "kms/tagwarden/"
		}
		ev := &cfnEval{t: t, doc: &doc, params: p}
		name := fmt.Sprintf("smn=%v metrics=%v reports=%v", smn, metrics, reports)

		want := []policyStatement{{Effect: "Allow", Action: tfActions["kms_actions"]}}
		if smn {
			want = append(want, policyStatement{Effect: "Allow", Action: tfActions["notify_actions"], Resource: []string{"SMN:*:*:topic:" + topicName}})
		}
		if metrics {
			want = append(want, policyStatement{Effect: "Allow", Action: tfActions["metrics_actions"]})
		}
		if diff := cmp.Diff(want, ev.policy(get(outputs, "HuaweiIamPolicy", "Value"))); diff != "" {
			t.Errorf("%s: HuaweiIamPolicy (-want +got):\n%s", name, diff)
		}
		if got := ev.condition("HasReportBucket"); got != reports {
			t.Errorf("%s: HuaweiIamObsPolicy present %v, want %v", name, got, reports)
		}
		if reports {
			want := []policyStatement{{Effect: "Allow", Action: tfActions["report_actions"], Resource: []string{"OBS:*:*:object:acme-reports/kms/tagwarden/*"}}}
			if diff := cmp.Diff(want, ev.policy(get(outputs, "HuaweiIamObsPolicy", "Value"))); diff != "" {
				t.Errorf("%s: HuaweiIamObsPolicy (-want +got):\n%s", name, diff)
			}
		}
	}
}

func mergeCases(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// terraformActions reads the actions of deploy/functiongraph's policies.
func terraformActions(t *testing.T) map[string][]string {
	t.Helper()
	locals := parseHCLDir(t, filepath.Join("..", "deploy", "functiongraph")).one(t, "locals")
	out := map[string][]string{}
	for _, name := range []string{"kms_actions", "notify_actions", "metrics_actions", "report_actions"} {
		v, ok := hclStrings(locals.attr(t, name))
		if !ok {
			t.Fatalf("local.%s is not a list of strings", name)
		}
		out[name] = v
	}
	return out
}

// policyStatement is one statement of a Huawei IAM custom policy.
type policyStatement struct {
	Effect   string
	Action   []string
	Resource []string `json:",omitempty"`
}

// cfnEval evaluates the few intrinsic functions the template's outputs use
// (Ref, Sub, If, Select, Split, and the conditions' Equals, Not, And, Or,
// Condition) for given parameter values.
type cfnEval struct {
	t      *testing.T
	doc    *yaml.Node
	params map[string]string
}

// policy evaluates a policy output's value and decodes it strictly.
func (e *cfnEval) policy(n *yaml.Node) []policyStatement {
	e.t.Helper()
	s := e.str(n)
	var p struct {
		Version   string
		Statement []policyStatement
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		e.t.Fatalf("policy %s: %v", s, err)
	}
	if p.Version != "1.1" {
		e.t.Errorf("policy %s: Version %q, want 1.1 (fine-grained)", s, p.Version)
	}
	return p.Statement
}

func (e *cfnEval) str(n *yaml.Node) string {
	e.t.Helper()
	v := e.eval(n)
	s, ok := v.(string)
	if !ok {
		e.t.Fatalf("line %d: %v is not a string", n.Line, v)
	}
	return s
}

var subVar = regexp.MustCompile(`\$\{([A-Za-z0-9:]+)\}`)

func (e *cfnEval) eval(n *yaml.Node) any {
	e.t.Helper()
	switch n.Tag {
	case "!Ref":
		v, ok := e.params[n.Value]
		if !ok {
			e.t.Fatalf("line %d: !Ref %s: no such parameter in the test", n.Line, n.Value)
		}
		return v
	case "!Sub":
		tmpl, vars := n.Value, map[string]string{}
		if n.Kind == yaml.SequenceNode {
			tmpl = e.str(n.Content[0])
			for _, k := range mapKeys(n.Content[1]) {
				vars[k] = e.str(get(n.Content[1], k))
			}
		}
		return subVar.ReplaceAllStringFunc(tmpl, func(m string) string {
			k := m[2 : len(m)-1]
			if v, ok := vars[k]; ok {
				return v
			}
			v, ok := e.params[k]
			if !ok {
				e.t.Fatalf("line %d: !Sub %s: no such variable", n.Line, k)
			}
			return v
		})
	case "!If":
		if e.condition(n.Content[0].Value) {
			return e.eval(n.Content[1])
		}
		return e.eval(n.Content[2])
	case "!Select":
		i, err := strconv.Atoi(n.Content[0].Value)
		list, ok := e.eval(n.Content[1]).([]string)
		if err != nil || !ok || i >= len(list) {
			e.t.Fatalf("line %d: !Select %s of %v", n.Line, n.Content[0].Value, list)
		}
		return list[i]
	case "!Split":
		return strings.Split(e.str(n.Content[1]), e.str(n.Content[0]))
	}
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	e.t.Fatalf("line %d: cannot evaluate %s", n.Line, yamlFlow(n))
	return nil
}

// condition evaluates a named condition of the template.
func (e *cfnEval) condition(name string) bool {
	e.t.Helper()
	c := get(e.doc, "Conditions", name)
	if c == nil {
		e.t.Fatalf("no condition %s", name)
	}
	return e.truth(c)
}

func (e *cfnEval) truth(n *yaml.Node) bool {
	e.t.Helper()
	switch n.Tag {
	case "!Equals":
		return e.str(n.Content[0]) == e.str(n.Content[1])
	case "!Not":
		return !e.truth(n.Content[0])
	case "!And", "!Or":
		and := n.Tag == "!And"
		for _, c := range n.Content {
			if e.truth(c) != and {
				return !and
			}
		}
		return and
	case "!Condition":
		return e.condition(n.Value)
	}
	e.t.Fatalf("line %d: cannot evaluate the condition %s", n.Line, yamlFlow(n))
	return false
}
