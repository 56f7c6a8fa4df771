package deploy_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	yaml "go.yaml.in/yaml/v3"

	"github.com/tagwarden/tagwarden/adapters/events"
	"github.com/tagwarden/tagwarden/handler"
)

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", path))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// get walks mapping keys from n; nil when a key is missing.
func get(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil {
			return nil
		}
		if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
			n = n.Content[0]
		}
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

func mapKeys(n *yaml.Node) []string {
	var out []string
	if n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			out = append(out, n.Content[i].Value)
		}
	}
	return out
}

// configPackage is the package that reads the function's configuration.
const configPackage = "cmd/internal/config"

// The variables the templates must set, by their names in configPackage.
const (
	envRegion          = "EnvRegion"
	envDryRun          = "EnvDryRun"
	envRateLimit       = "EnvRateLimit"
	envPolicies        = "EnvPolicies"
	envContinuationKey = "EnvContinuationKey"
)

// configVars returns the variables the function reads: the Env* constants
// of configPackage (whose TestConfigDocumented checks that config.FromEnv
// reads exactly those docs/configuration.md lists), by constant name. The
// package is internal to cmd/, so they are read from its source.
func configVars(t *testing.T) map[string]string {
	t.Helper()
	dir := filepath.Join("..", configPackage)
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go file in %s (%v)", dir, err)
	}
	vars := map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !strings.HasPrefix(id.Name, "Env") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: %s is not a string literal", configPackage, id.Name)
					}
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					vars[id.Name] = v
				}
			}
		}
	}
	for _, name := range []string{envRegion, envDryRun, envRateLimit, envPolicies, envContinuationKey} {
		if !strings.HasPrefix(vars[name], "TAGWARDEN_") {
			t.Fatalf("%s declares no %s naming a TAGWARDEN_ variable (found %v)", configPackage, name, vars)
		}
	}
	return vars
}

// tagwardenVars returns the variables the function reads.
func tagwardenVars(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, v := range configVars(t) {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// TestTemplate checks template.yaml for what SAM requires and what the
// function reads.
func TestTemplate(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(read(t, "template.yaml")), &doc); err != nil {
		t.Fatalf("template.yaml is not valid YAML: %v", err)
	}
	scalar := func(n *yaml.Node, what string) string {
		t.Helper()
		if n == nil || n.Kind != yaml.ScalarNode {
			t.Errorf("%s: missing or not a scalar", what)
			return ""
		}
		return n.Value
	}
	if got := scalar(get(&doc, "AWSTemplateFormatVersion"), "AWSTemplateFormatVersion"); got != "2010-09-09" {
		t.Errorf("AWSTemplateFormatVersion %q, want 2010-09-09", got)
	}
	if got := scalar(get(&doc, "Transform"), "Transform"); got != "AWS::Serverless-2016-10-31" {
		t.Errorf("Transform %q, want AWS::Serverless-2016-10-31", got)
	}

	resources := get(&doc, "Resources")
	var fnID string
	for _, id := range mapKeys(resources) {
		if get(resources, id, "Type").Value == "AWS::Serverless::Function" {
			if fnID != "" {
				t.Fatalf("two functions, %s and %s: want one", fnID, id)
			}
			fnID = id
		}
	}
	if fnID == "" {
		t.Fatal("no AWS::Serverless::Function")
	}
	fn := get(resources, fnID)
	props := get(fn, "Properties")
	if got := scalar(get(fn, "Metadata", "BuildMethod"), "Metadata.BuildMethod"); got != "makefile" {
		t.Errorf("BuildMethod %q, want makefile", got)
	}
	if got := scalar(get(props, "Runtime"), "Runtime"); got != "provided.al2023" {
		t.Errorf("Runtime %q, want provided.al2023", got)
	}
	if got := scalar(get(props, "Handler"), "Handler"); got != "bootstrap" {
		t.Errorf("Handler %q, want bootstrap", got)
	}
	if got := scalar(get(props, "CodeUri"), "CodeUri"); got != "." {
		t.Errorf("CodeUri %q, want . (the module root, where Makefile is)", got)
	}
	arch := get(props, "Architectures")
	if arch == nil || arch.Kind != yaml.SequenceNode || len(arch.Content) != 1 ||
		!slices.Contains([]string{"x86_64", "arm64"}, arch.Content[0].Value) {
		t.Errorf("Architectures must list one of x86_64, arm64")
	}
	if n, err := strconv.Atoi(scalar(get(props, "MemorySize"), "MemorySize")); err != nil || n < 128 || n > 10240 {
		t.Errorf("MemorySize %d (%v), want 128 to 10240", n, err)
	}
	timeout, err := strconv.Atoi(scalar(get(props, "Timeout"), "Timeout"))
	if err != nil || timeout > 900 || timeout <= int(handler.DefaultMargin.Seconds())*3 {
		t.Errorf("Timeout %d (%v), want at most 900 and well above the %s deadline margin", timeout, err, handler.DefaultMargin)
	}

	// The Makefile SAM runs has the build-<LogicalId> target.
	if mk := read(t, "Makefile"); strings.TrimSpace(mk) != "include function.zip.mk" {
		t.Errorf("Makefile is %q, want the one line include function.zip.mk", mk)
	}
	if !regexp.MustCompile(`(?m)^build-` + fnID + `:`).MatchString(read(t, "function.zip.mk")) {
		t.Errorf("function.zip.mk has no build-%s target", fnID)
	}

	// Environment: only variables the function reads; credentials only as secret references.
	env := get(props, "Environment", "Variables")
	names := mapKeys(env)
	vars, read := configVars(t), tagwardenVars(t)
	for _, want := range []string{vars[envRegion], vars[envDryRun], vars[envRateLimit], vars[envPolicies], vars[envContinuationKey]} {
		if !slices.Contains(names, want) {
			t.Errorf("environment lacks %s", want)
		}
	}
	for _, name := range names {
		v := get(env, name)
		switch {
		case strings.HasPrefix(name, "TAGWARDEN_"):
			if !slices.Contains(read, name) {
				t.Errorf("environment variable %s is not read by the function", name)
			}
		case name == "HUAWEICLOUD_SDK_AK" || name == "HUAWEICLOUD_SDK_SK":
			if !strings.Contains(v.Value, "{{resolve:secretsmanager:") {
				t.Errorf("%s is %q, want a {{resolve:secretsmanager:...}} reference, never a literal", name, v.Value)
			}
		case name == "HUAWEICLOUD_SDK_PROJECT_ID":
		default:
			t.Errorf("unexpected environment variable %s", name)
		}
	}
	// The continuation key is the deployer's secret: a NoEcho parameter,
	// never a literal in the template.
	if k := get(env, vars[envContinuationKey]); k.Tag != "!Ref" {
		t.Errorf("%s is %q (%s), want a !Ref to a NoEcho parameter", vars[envContinuationKey], k.Value, k.Tag)
	} else if p := get(&doc, "Parameters", k.Value); get(p, "NoEcho").Value != "true" || get(p, "MinLength").Value != "32" {
		t.Errorf("parameter %s: want NoEcho true and MinLength 32", k.Value)
	}
	if got := scalar(get(env, vars[envPolicies]), vars[envPolicies]); got != "/var/task/policies" {
		t.Errorf("%s %q, want /var/task/policies (the zip's policies/ folder)", vars[envPolicies], got)
	}

	// The schedule sends the function's own manual payload.
	evs := get(props, "Events")
	schedules := 0
	for _, id := range mapKeys(evs) {
		typ := get(evs, id, "Type").Value
		if typ != "ScheduleV2" && typ != "Schedule" {
			continue
		}
		schedules++
		input := get(evs, id, "Properties", "Input")
		if input == nil {
			continue // a Schedule without Input sends a Scheduled Event: a sweep
		}
		req, err := events.ParseManual([]byte(input.Value))
		if err != nil || req.Mode != handler.ModeSweep {
			t.Errorf("event %s Input %q: %v, want the manual payload of a sweep", id, input.Value, err)
		}
	}
	if schedules == 0 {
		t.Error("no Schedule or ScheduleV2 event")
	}

	// Every !Ref and ${...} names a parameter, a resource or a pseudo parameter.
	known := map[string]bool{}
	for _, k := range mapKeys(get(&doc, "Parameters")) {
		known[k] = true
	}
	for _, k := range mapKeys(resources) {
		known[k] = true
	}
	subRE := regexp.MustCompile(`\$\{([A-Za-z0-9:]+)(\.[A-Za-z]+)?\}`)
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		var refs []string
		switch n.Tag {
		case "!Ref":
			refs = []string{n.Value}
		case "!Sub":
			for _, m := range subRE.FindAllStringSubmatch(n.Value, -1) {
				refs = append(refs, m[1])
			}
		case "!GetAtt":
			refs = []string{strings.SplitN(n.Value, ".", 2)[0]}
		}
		for _, r := range refs {
			if !known[r] && !strings.HasPrefix(r, "AWS::") {
				t.Errorf("line %d: %s refers to unknown %q", n.Line, n.Tag, r)
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
}

// kmsActions are exactly the KMS actions the function calls
// (docs/kms.md, "Permissions").
var kmsActions = []string{"kms:cmk:get", "kms:cmk:list", "kms:cmkTag:batch", "kms:cmkTag:list", "kms:cmkTag:listInstance"}

// TestTerraform checks the invariants of deploy/functiongraph that matter,
// reading its files (no terraform needed; deploy/check.sh runs the real
// tools): the execution agency holds exactly the KMS actions and is the
// function's app_agency, the configuration agency is another one holding
// only the CTS trigger's roles, the instance limit and the instances'
// shared rate, the triggers and their operations, the provider range, the
// timeout, and the environment the function reads.
func TestTerraform(t *testing.T) {
	root := parseHCLDir(t, filepath.Join("..", "deploy", "functiongraph"))
	main := read(t, "deploy/functiongraph/main.tf")
	locals := root.one(t, "locals")

	// Least privilege: the custom policy holds exactly the KMS actions.
	actions, ok := hclStrings(locals.attr(t, "kms_actions"))
	if !ok {
		t.Fatalf("kms_actions is not a list of strings: %s", locals.Attrs["kms_actions"])
	}
	sort.Strings(actions)
	if diff := cmp.Diff(kmsActions, actions); diff != "" {
		t.Errorf("kms_actions mismatch (-want +got):\n%s", diff)
	}
	roles := root.find("resource", "huaweicloud_identity_role")
	if len(roles) != 1 {
		t.Fatalf("%d custom policies (huaweicloud_identity_role), want 1", len(roles))
	}
	role := roles[0]
	if policy := role.attr(t, "policy"); !regexp.MustCompile(`Action\s*=\s*local\.kms_actions\b`).MatchString(policy) ||
		strings.Count(policy, "Action") != 1 || !strings.Contains(policy, `Effect = "Allow"`) {
		t.Errorf("the custom policy must allow exactly local.kms_actions, in one statement: %s", policy)
	}
	roleName := "huaweicloud_identity_role." + role.Labels[1] + ".name"

	// The two agencies.
	fn := root.one(t, "resource", "huaweicloud_fgs_function", "tagwarden")
	agencyRef := regexp.MustCompile(`^huaweicloud_identity_agency\.(\w+)\.name$`)
	agency := func(attr string) *hclBlock {
		m := agencyRef.FindStringSubmatch(fn.attr(t, attr))
		if m == nil {
			t.Fatalf("the function's %s is %s, want the name of a huaweicloud_identity_agency", attr, fn.Attrs[attr])
		}
		return root.one(t, "resource", "huaweicloud_identity_agency", m[1])
	}
	exec, conf := agency("app_agency"), agency("agency")
	if exec == conf {
		t.Fatalf("agency and app_agency are both %s: the code would receive the configuration agency's permissions", exec.Labels[1])
	}
	if n := len(root.find("resource", "huaweicloud_identity_agency")); n != 2 {
		t.Errorf("%d agencies, want 2 (execution and configuration)", n)
	}
	for _, a := range []*hclBlock{exec, conf} {
		if s, _ := hclString(a.Attrs["delegated_service_name"]); s != "op_svc_cff" {
			t.Errorf("agency %s: delegated_service_name %s, want \"op_svc_cff\" (FunctionGraph)", a.Labels[1], a.Attrs["delegated_service_name"])
		}
		for _, forbidden := range []string{"domain_roles", "all_resources_roles"} {
			if _, ok := a.Attrs[forbidden]; ok {
				t.Errorf("agency %s has %s: project roles only", a.Labels[1], forbidden)
			}
		}
		if len(a.find("enterprise_project_roles")) > 0 {
			t.Errorf("agency %s has enterprise_project_roles: project roles only", a.Labels[1])
		}
	}
	// op_svc_cff is not in the provider's documentation: keep it only with
	// the citation of where Huawei's own templates used it.
	if i := strings.Index(main, `delegated_service_name = "op_svc_cff"`); i < 0 ||
		!strings.Contains(main[:i], "008e7742") || !strings.Contains(main[:i], "docs/resources/identity_agency.md") {
		t.Error("main.tf: the first op_svc_cff must follow the comment citing where Huawei's provider documentation used it (commit 008e7742)")
	}
	// The execution agency: the KMS policy, in the region's project, only.
	if prs := exec.find("project_role"); len(prs) != 1 || len(exec.Blocks) != 1 {
		t.Errorf("execution agency: %d project_role blocks and %d blocks, want one project_role and nothing else", len(prs), len(exec.Blocks))
	} else if prs[0].Attrs["roles"] != "["+roleName+"]" || prs[0].Attrs["project"] != "var.region" {
		t.Errorf("execution agency: project %s roles %s, want var.region and [%s]", prs[0].Attrs["project"], prs[0].Attrs["roles"], roleName)
	}
	// The configuration agency: the CTS trigger's roles, only with the CTS
	// trigger, and never the KMS policy.
	if confHoldsRole(conf, roleName) {
		t.Errorf("configuration agency holds the KMS policy")
	}
	dyn := conf.find("dynamic", "project_role")
	if len(conf.find("project_role")) != 0 || len(dyn) != 1 ||
		!regexp.MustCompile(`^var\.enable_cts_trigger \? \[var\.cts_trigger_roles\] : \[\]$`).MatchString(dyn[0].Attrs["for_each"]) {
		t.Errorf("configuration agency: want one dynamic project_role over var.cts_trigger_roles when var.enable_cts_trigger, got %d static and %d dynamic", len(conf.find("project_role")), len(dyn))
	} else if c := dyn[0].one(t, "content"); c.Attrs["roles"] != "project_role.value" || c.Attrs["project"] != "var.region" {
		t.Errorf("configuration agency: content %v", c.Attrs)
	}
	vars := map[string]*hclBlock{}
	for _, v := range root.find("variable") {
		vars[v.Labels[0]] = v
	}
	if got, ok := hclStrings(vars["cts_trigger_roles"].attr(t, "default")); !ok || len(got) != 1 || got[0] != "CTS Administrator" {
		t.Errorf("cts_trigger_roles default %s, want [\"CTS Administrator\"]", vars["cts_trigger_roles"].Attrs["default"])
	}

	// The function: custom runtime, v2 (for max_instance_num), the instance
	// limit, each instance's share of the rate.
	for attr, want := range map[string]string{"runtime": "Custom", "handler": "bootstrap", "code_type": "zip", "functiongraph_version": "v2"} {
		if got, _ := hclString(fn.Attrs[attr]); got != want {
			t.Errorf("function %s = %s, want %q", attr, fn.Attrs[attr], want)
		}
	}
	if fn.Attrs["max_instance_num"] != "var.max_instances" || fn.Attrs["timeout"] != "var.timeout" {
		t.Errorf("function max_instance_num %s timeout %s, want var.max_instances and var.timeout", fn.Attrs["max_instance_num"], fn.Attrs["timeout"])
	}
	if d := vars["max_instances"].attr(t, "default"); d != "1" {
		t.Errorf("max_instances default %s, want 1: one instance has the whole KMS rate", d)
	}
	if got := locals.attr(t, "instance_rate_limit"); got != "floor(var.rate_limit / var.max_instances)" {
		t.Errorf("instance_rate_limit = %s, want floor(var.rate_limit / var.max_instances)", got)
	}
	if !regexp.MustCompile(`TAGWARDEN_RATE_LIMIT\s*=\s*tostring\(local\.instance_rate_limit\)`).MatchString(locals.Attrs["environment"]) {
		t.Error("TAGWARDEN_RATE_LIMIT is not each instance's share, local.instance_rate_limit")
	}
	if d := vars["rate_limit"].attr(t, "default"); d != "20" {
		t.Errorf("rate_limit default %s, want 20 (KMS's limit per user)", d)
	}
	if pre := fn.one(t, "lifecycle").find("precondition"); len(pre) != 1 || pre[0].Attrs["condition"] != "local.instance_rate_limit >= 1" {
		t.Error("the function needs the precondition local.instance_rate_limit >= 1")
	}

	// The timeout: the provider's range, and the sweep's default.
	tv := vars["timeout"]
	if d := tv.attr(t, "default"); d != "900" {
		t.Errorf("timeout default %s, want 900 (docs/deploy.md, \"Timeout\")", d)
	}
	if c := tv.one(t, "validation").attr(t, "condition"); !strings.Contains(c, "var.timeout <= 259200") {
		t.Errorf("timeout validation %s does not allow the provider's range up to 259200", c)
	}

	// The triggers: a TIMER sweep sending the manual payload, and CTS
	// createKey with its early failures.
	var timer, cts *hclBlock
	for _, tr := range root.find("resource", "huaweicloud_fgs_function_trigger") {
		switch s, _ := hclString(tr.Attrs["type"]); s {
		case "TIMER":
			timer = tr
		case "CTS":
			cts = tr
		default:
			t.Errorf("trigger %s of type %s", tr.Labels[1], tr.Attrs["type"])
		}
	}
	if timer == nil || cts == nil {
		t.Fatal("want a TIMER and a CTS trigger")
	}
	if !regexp.MustCompile(`user_event\s*=\s*var\.sweep_payload\b`).MatchString(timer.Attrs["event_data"]) {
		t.Errorf("the TIMER trigger's user_event is not var.sweep_payload: %s", timer.Attrs["event_data"])
	}
	if m := regexp.MustCompile(`operations\s*=\s*(\[[^\]]*\])`).FindStringSubmatch(cts.Attrs["event_data"]); m == nil {
		t.Errorf("the CTS trigger has no operations: %s", cts.Attrs["event_data"])
	} else if ops, ok := hclStrings(m[1]); !ok || len(ops) != 1 || ops[0] != "KMS:cmk:createKey" {
		t.Errorf("the CTS trigger's operations are %s, want [\"KMS:cmk:createKey\"]", m[1])
	}
	if cts.Attrs["count"] != "var.enable_cts_trigger ? 1 : 0" {
		t.Errorf("the CTS trigger's count is %s, want var.enable_cts_trigger ? 1 : 0", cts.Attrs["count"])
	}
	var conds []string
	for _, p := range cts.one(t, "lifecycle").find("precondition") {
		conds = append(conds, p.Attrs["condition"])
	}
	if diff := cmp.Diff([]string{`contains(local.trigger_types, "CTS")`, "length(local.other_cts_triggers) < 10"}, conds); diff != "" {
		t.Errorf("the CTS trigger's preconditions (-want +got):\n%s", diff)
	}
	for _, ds := range []string{"huaweicloud_fgs_trigger_types", "huaweicloud_fgs_function_triggers"} {
		if d := root.find("data", ds); len(d) != 1 || d[0].Attrs["count"] != "var.enable_cts_trigger ? 1 : 0" {
			t.Errorf("want one data %s, read only with the CTS trigger", ds)
		}
	}

	// The provider range: from the first release with every resource and
	// data source used to the newest checked, and docs/deploy.md says so.
	tfBlock := root.one(t, "terraform")
	hw := regexp.MustCompile(`(?m)^\s*version\s*=\s*"([^"]+)"`).FindStringSubmatch(tfBlock.one(t, "required_providers").Attrs["huaweicloud"])
	if hw == nil {
		t.Fatal("versions.tf: no huaweicloud version constraint")
	}
	lower, upper := constraintBounds(t, hw[1])
	if cmpVersion(lower, "1.80.2") < 0 {
		t.Errorf("provider lower bound %s admits versions without huaweicloud_fgs_trigger_types (1.80.2) or huaweicloud_fgs_function_trigger (1.62.1)", lower)
	}
	if upper == "" {
		t.Errorf("provider constraint %q has no upper bound: versions nobody checked", hw[1])
	}
	if !strings.Contains(read(t, "docs/deploy.md"), "`"+hw[1]+"`") {
		t.Errorf("docs/deploy.md does not state the provider constraint `%s`", hw[1])
	}
	if len(root.find("provider")) != 1 || len(tfBlock.one(t, "required_providers").Attrs) != 1 {
		t.Error("versions.tf: want the huaweicloud provider only")
	}

	// The sweep payload's default is a sweep.
	d, ok := hclString(vars["sweep_payload"].attr(t, "default"))
	if !ok {
		t.Fatal("sweep_payload has no literal default")
	}
	if req, err := events.ParseManual([]byte(d)); err != nil || req.Mode != handler.ModeSweep {
		t.Errorf("sweep_payload default %s: %v, want the manual payload of a sweep", d, err)
	}
	for _, v := range []string{"region", "schedule", "schedule_type", "dry_run", "sweep_payload", "zip_path", "max_instances", "enable_cts_trigger"} {
		if vars[v] == nil {
			t.Errorf("variables.tf lacks variable %s", v)
		}
	}
	// Every instance shares one generated continuation key.
	if !regexp.MustCompile(`TAGWARDEN_CONTINUATION_KEY\s*=\s*sensitive\(terraform_data\.continuation_key\.output\)`).MatchString(locals.Attrs["environment"]) {
		t.Error("main.tf does not set TAGWARDEN_CONTINUATION_KEY from the one terraform_data key: instances would refuse each other's continuations")
	}
	// The environment names only variables the function reads.
	readVars := tagwardenVars(t)
	for _, name := range regexp.MustCompile(`\b(TAGWARDEN_[A-Z_]+)\s*=`).FindAllStringSubmatch(main, -1) {
		if !slices.Contains(readVars, name[1]) {
			t.Errorf("main.tf sets %s, which the function does not read", name[1])
		}
	}
}

// confHoldsRole reports whether an agency block names role anywhere.
func confHoldsRole(a *hclBlock, role string) bool {
	for _, v := range a.Attrs {
		if strings.Contains(v, role) {
			return true
		}
	}
	for _, b := range a.Blocks {
		if confHoldsRole(b, role) {
			return true
		}
	}
	return false
}

// constraintBounds reads a constraint ">= X, <= Y" (or < Y).
func constraintBounds(t *testing.T, c string) (lower, upper string) {
	t.Helper()
	for _, part := range strings.Split(c, ",") {
		f := strings.Fields(part)
		if len(f) != 2 {
			t.Fatalf("constraint %q: cannot read %q", c, part)
		}
		switch f[0] {
		case ">=":
			lower = f[1]
		case "<=", "<":
			upper = f[1]
		default:
			t.Fatalf("constraint %q: operator %s not expected", c, f[0])
		}
	}
	return lower, upper
}

// cmpVersion compares dotted versions numerically.
func cmpVersion(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return 0
}
