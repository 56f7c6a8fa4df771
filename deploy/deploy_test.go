package deploy_test

import (
	"fmt"
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
	envTargets         = "EnvTargets"
	envTargetRegions   = "EnvTargetRegions"
	envTargetProjects  = "EnvTargetProjects"
	envMaxChain        = "EnvMaxChain"
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
	for _, name := range []string{envRegion, envDryRun, envRateLimit, envPolicies, envContinuationKey, envTargets, envTargetRegions, envTargetProjects, envMaxChain} {
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

	// Several targets and self-continuation: the parameters and their
	// variables; the role may invoke the function itself (and nothing else
	// is added to it) only when Targets is set or MaxChain is not 0, on the
	// function's own unqualified ARN, which a fixed FunctionName makes known
	// without a circular reference; asynchronous invocations retry once.
	for param, name := range map[string]string{"Targets": vars[envTargets], "TargetRegions": vars[envTargetRegions], "TargetProjects": vars[envTargetProjects], "MaxChain": vars[envMaxChain]} {
		if get(&doc, "Parameters", param) == nil {
			t.Errorf("no parameter %s", param)
		}
		if v := get(env, name); v == nil || v.Tag != "!Ref" || v.Value != param {
			t.Errorf("environment %s: want !Ref %s", name, param)
		}
	}
	if d := get(&doc, "Parameters", "MaxChain", "Default"); d == nil || d.Value != "100" {
		t.Error("MaxChain: want the default 100")
	}
	if fname := get(props, "FunctionName"); fname == nil || fname.Tag != "!Ref" || fname.Value != "AWS::StackName" {
		t.Error("FunctionName: want !Ref AWS::StackName, the name the role's policy names")
	}
	if get(props, "Role") != nil {
		t.Error("Role: want the role SAM generates from Policies")
	}
	wantCond := map[string]string{
		"HasTargets":    `!Not [!Equals [!Ref Targets, ""]]`,
		"ChainsItself":  `!Not [!Equals [!Ref MaxChain, "0"]]`,
		"InvokesItself": `!Or [!Condition HasTargets, !Condition ChainsItself]`,
	}
	for name, want := range wantCond {
		if got := yamlFlow(get(&doc, "Conditions", name)); got != want {
			t.Errorf("condition %s is %s, want %s", name, got, want)
		}
	}
	const ownARN = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}"
	pols := get(props, "Policies")
	if pols == nil || pols.Kind != yaml.SequenceNode || len(pols.Content) != 1 {
		t.Error("Policies: want exactly one, the conditional self-invocation")
	} else if ifn := pols.Content[0]; ifn.Tag != "!If" || len(ifn.Content) != 3 || ifn.Content[0].Value != "InvokesItself" ||
		yamlFlow(ifn.Content[2]) != "!Ref AWS::NoValue" {
		t.Errorf("Policies: want !If [InvokesItself, the policy, !Ref AWS::NoValue], got %s", yamlFlow(ifn))
	} else if st := get(ifn.Content[1], "Statement"); st == nil || st.Kind != yaml.SequenceNode || len(st.Content) != 1 ||
		yamlFlow(st.Content[0]) != `{Sid: InvokeItselfAsynchronously, Effect: Allow, Action: lambda:InvokeFunction, Resource: !Sub "`+ownARN+`"}` {
		t.Errorf("Policies: want one statement allowing lambda:InvokeFunction on %s only, got %s", ownARN, yamlFlow(ifn.Content[1]))
	}
	if eic := get(props, "EventInvokeConfig"); yamlFlow(eic) != "{MaximumRetryAttempts: 1, MaximumEventAgeInSeconds: 21600}" {
		t.Errorf("EventInvokeConfig is %s, want one retry and the longest age (21600 s)", yamlFlow(eic))
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

// yamlFlow renders a node in one line, in YAML's flow style with its tags
// (scalars quoted only when they were), to compare small structures.
func yamlFlow(n *yaml.Node) string {
	if n == nil {
		return "<nil>"
	}
	tag := ""
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		tag = n.Tag + " "
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 1 {
			return yamlFlow(n.Content[0])
		}
	case yaml.SequenceNode:
		var items []string
		for _, c := range n.Content {
			items = append(items, yamlFlow(c))
		}
		return tag + "[" + strings.Join(items, ", ") + "]"
	case yaml.MappingNode:
		var items []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			items = append(items, yamlFlow(n.Content[i])+": "+yamlFlow(n.Content[i+1]))
		}
		return tag + "{" + strings.Join(items, ", ") + "}"
	case yaml.ScalarNode:
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			return tag + strconv.Quote(n.Value)
		}
		return tag + n.Value
	}
	return fmt.Sprintf("<kind %d>", n.Kind)
}

// kmsActions are exactly the KMS actions the function calls
// (docs/kms.md, "Permissions").
var kmsActions = []string{"kms:cmk:get", "kms:cmk:list", "kms:cmkTag:batch", "kms:cmkTag:list", "kms:cmkTag:listInstance"}

// invokeActions are exactly the FunctionGraph actions the function needs to
// invoke itself asynchronously (AsyncInvokeFunction; docs/deploy.md,
// "Several targets, and sweeps that continue themselves").
var invokeActions = []string{"functiongraph:function:invokeAsync"}

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
	// Invoking itself: exactly the asynchronous invocation, of this
	// function only, and only when it invokes itself (self-continuation or
	// several targets). Listing the projects for "auto" needs no action.
	invoke, ok := hclStrings(locals.attr(t, "invoke_actions"))
	if !ok {
		t.Fatalf("invoke_actions is not a list of strings: %s", locals.Attrs["invoke_actions"])
	}
	if diff := cmp.Diff(invokeActions, invoke); diff != "" {
		t.Errorf("invoke_actions mismatch (-want +got):\n%s", diff)
	}
	if got := locals.attr(t, "invokes_itself"); got != `var.max_chain > 0 || var.targets != ""` {
		t.Errorf("invokes_itself = %s, want var.max_chain > 0 || var.targets != \"\"", got)
	}
	if got := locals.attr(t, "function_resource"); got != `"FUNCTIONGRAPH:*:*:function:${local.function_app}/${var.function_name}"` {
		t.Errorf("function_resource = %s, want the IAM path of this function", got)
	}
	if fn := root.one(t, "resource", "huaweicloud_fgs_function", "tagwarden"); fn.Attrs["app"] != "local.function_app" || fn.Attrs["name"] != "var.function_name" {
		t.Errorf("the function's app %s and name %s are not those of function_resource (local.function_app, var.function_name)", fn.Attrs["app"], fn.Attrs["name"])
	}

	// The custom policies: one of exactly the KMS actions, one of exactly
	// the invoke action on this function, present only when it invokes
	// itself, and one for each output (TestTerraformOutputs checks them);
	// no other (no IAM action, no wildcard).
	roles := root.find("resource", "huaweicloud_identity_role")
	if len(roles) != 5 {
		t.Fatalf("%d custom policies (huaweicloud_identity_role), want 5 (KMS, invoking itself, and one per output)", len(roles))
	}
	var kmsRole, invokeRole *hclBlock
	outputRoles := map[string]*hclBlock{}
	for _, r := range roles {
		policy := r.attr(t, "policy")
		if strings.Count(policy, "Action") != 1 || !regexp.MustCompile(`Effect\s*=\s*"Allow"`).MatchString(policy) || strings.Contains(policy, "Condition") {
			t.Errorf("custom policy %s: want one Allow statement without conditions: %s", r.Labels[1], policy)
		}
		switch {
		case regexp.MustCompile(`Action\s*=\s*local\.kms_actions\b`).MatchString(policy) && !strings.Contains(policy, "Resource"):
			kmsRole = r
		case regexp.MustCompile(`Action\s*=\s*local\.invoke_actions\b`).MatchString(policy) &&
			regexp.MustCompile(`Resource\s*=\s*\[local\.function_resource\]`).MatchString(policy):
			invokeRole = r
		default:
			if o := outputPolicyOf(policy); o != "" {
				outputRoles[o] = r
				continue
			}
			t.Errorf("custom policy %s allows neither exactly local.kms_actions, nor local.invoke_actions on local.function_resource, nor one output's actions on its resource: %s", r.Labels[1], policy)
		}
	}
	if len(outputRoles) != len(outputPolicies) {
		t.Errorf("output policies %v, want one of each of %v", mapKeysOf(outputRoles), mapKeysOf(outputPolicies))
	}
	if kmsRole == nil || invokeRole == nil {
		t.Fatal("want a KMS policy and a self-invocation policy")
	}
	if _, ok := kmsRole.Attrs["count"]; ok {
		t.Errorf("the KMS policy has a count: %s", kmsRole.Attrs["count"])
	}
	if got := invokeRole.Attrs["count"]; got != "local.invokes_itself ? 1 : 0" {
		t.Errorf("the self-invocation policy's count is %q, want local.invokes_itself ? 1 : 0", got)
	}
	if strings.Contains(main, `"iam:`) {
		t.Error("main.tf names an IAM action: listing the projects (GET /v3/auth/projects) needs none")
	}
	roleName := "huaweicloud_identity_role." + kmsRole.Labels[1] + ".name"
	invokeName := "huaweicloud_identity_role." + invokeRole.Labels[1] + "[*].name"

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
			if _, ok := a.Attrs[forbidden]; ok && !(a == exec && forbidden == "domain_roles") {
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
	// The execution agency: per project, the roles of local.execution_roles
	// (one dynamic project_role, nothing static), which holds the KMS
	// policy in the target projects (local.kms_projects) and the
	// self-invocation policy in the function's own project (var.region)
	// only, and no other policy.
	if len(exec.find("project_role")) != 0 {
		t.Error("execution agency: a static project_role; want only the dynamic one over local.execution_roles")
	}
	if dyn := exec.find("dynamic", "project_role"); len(dyn) != 1 || dyn[0].Attrs["for_each"] != "local.execution_roles" {
		t.Errorf("execution agency: want one dynamic project_role over local.execution_roles")
	} else if c := dyn[0].one(t, "content"); c.Attrs["project"] != "project_role.key" || c.Attrs["roles"] != "project_role.value" {
		t.Errorf("execution agency: project_role content %v, want project_role.key and project_role.value", c.Attrs)
	}
	for _, b := range exec.Blocks {
		if !(b.Type == "dynamic" || b.Type == "lifecycle") {
			t.Errorf("execution agency: unexpected block %s", b.Type)
		}
	}
	er := locals.attr(t, "execution_roles")
	for _, want := range []string{
		"for p in local.execution_projects : p => concat(",
		"contains(local.kms_projects, p) ? [" + roleName + "] : []",
		"p == var.region ? " + invokeName + " : []",
	} {
		if !strings.Contains(er, want) {
			t.Errorf("execution_roles lacks %q: %s", want, er)
		}
	}
	if got := locals.attr(t, "execution_projects"); !strings.Contains(got, "local.kms_projects,") ||
		!strings.Contains(got, "local.invokes_itself || var.metrics ? [var.region] : [],") {
		t.Errorf("execution_projects = %s: want the KMS projects, and the function's own when it invokes itself (or stores metrics)", got)
	}
	// KMS, self-invocation, and the two project-level output policies
	// (metrics, notifications; TestTerraformOutputs checks where).
	if n := strings.Count(er, "huaweicloud_identity_role."); n != 4 {
		t.Errorf("execution_roles names %d policies, want 4 (KMS, self-invocation, metrics, notifications): %s", n, er)
	}
	if got := locals.attr(t, "kms_projects"); !strings.Contains(got, `var.targets == "" ? [var.region] :`) {
		t.Errorf("kms_projects = %s: without targets, want the region's own project only", got)
	}
	// The configuration agency: the CTS trigger's roles, only with the CTS
	// trigger, and never the KMS or self-invocation policy.
	if confHoldsRole(conf, roleName) || confHoldsRole(conf, "huaweicloud_identity_role."+invokeRole.Labels[1]) {
		t.Errorf("configuration agency holds the KMS or the self-invocation policy")
	}
	for o, r := range outputRoles {
		if confHoldsRole(conf, "huaweicloud_identity_role."+r.Labels[1]) {
			t.Errorf("configuration agency holds the %s policy", o)
		}
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
	// Several targets and self-continuation: the variables, with their
	// defaults (one target, the own project; 100 links), and the
	// environment.
	for name, def := range map[string]string{"targets": `""`, "target_regions": `""`, "target_projects": `""`, "kms_endpoints": `""`, "max_chain": "100"} {
		if v := vars[name]; v == nil {
			t.Errorf("variables.tf lacks variable %s", name)
		} else if v.Attrs["default"] != def || len(v.find("validation")) != 1 {
			t.Errorf("variable %s: default %s, want %s, and a validation", name, v.Attrs["default"], def)
		}
	}
	env := locals.Attrs["environment"]
	for _, re := range []string{
		`TAGWARDEN_MAX_CHAIN\s*=\s*tostring\(var\.max_chain\)`,
		`var\.targets == "" \? \{\} : \{ TAGWARDEN_TARGETS = var\.targets \}`,
		`var\.kms_endpoints == "" \? \{\} : \{ TAGWARDEN_KMS_ENDPOINTS = var\.kms_endpoints \}`,
		`TAGWARDEN_TARGET_REGIONS\s*=\s*local\.target_regions`,
		`TAGWARDEN_TARGET_PROJECTS\s*=\s*local\.target_projects`,
	} {
		if !regexp.MustCompile(re).MatchString(env) {
			t.Errorf("the environment does not match %s", re)
		}
	}
	// Asynchronous invocations: one retry of a crashed one, the longest age.
	aic := root.one(t, "resource", "huaweicloud_fgs_async_invoke_configuration", "tagwarden")
	if aic.Attrs["function_urn"] != "huaweicloud_fgs_function.tagwarden.urn" ||
		locals.Attrs["async_retry_attempts"] != "1" || aic.Attrs["max_async_retry_attempts"] != "local.async_retry_attempts" ||
		locals.Attrs["async_max_event_age"] != "86400" || aic.Attrs["max_async_event_age_in_seconds"] != "local.async_max_event_age" {
		t.Errorf("asynchronous invocation configuration %v: want the function's, one retry, 86400 s", aic.Attrs)
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
