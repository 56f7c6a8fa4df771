package deploy_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
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

// TestTerraform checks deploy/functiongraph: the agency holds exactly the
// KMS actions the function uses, the triggers are the TIMER sweep (whose
// default user_event is a valid manual payload) and CTS createKey, and the
// files are formatted (when terraform is installed).
func TestTerraform(t *testing.T) {
	main := read(t, "deploy/functiongraph/main.tf")
	vars := read(t, "deploy/functiongraph/variables.tf")

	m := regexp.MustCompile(`(?s)kms_actions = \[(.*?)\]`).FindStringSubmatch(main)
	if m == nil {
		t.Fatal("main.tf has no kms_actions list")
	}
	var actions []string
	for _, q := range regexp.MustCompile(`"([^"]+)"`).FindAllStringSubmatch(m[1], -1) {
		actions = append(actions, q[1])
	}
	sort.Strings(actions)
	want := []string{"kms:cmk:get", "kms:cmk:list", "kms:cmkTag:batch", "kms:cmkTag:list", "kms:cmkTag:listInstance"}
	if diff := cmp.Diff(want, actions); diff != "" {
		t.Errorf("agency actions mismatch (-want +got):\n%s", diff)
	}
	for _, needle := range []string{
		`runtime       = "Custom"`, `handler       = "bootstrap"`, `code_type     = "zip"`,
		`delegated_service_name = "op_svc_cff"`, `type         = "TIMER"`, `type         = "CTS"`,
		`operations = ["KMS:cmk:createKey"]`, `user_event    = var.sweep_payload`, `Action = local.kms_actions`,
	} {
		if !strings.Contains(main, needle) {
			t.Errorf("main.tf lacks %s", needle)
		}
	}
	for _, v := range []string{"region", "schedule", "schedule_type", "dry_run", "sweep_payload", "zip_path"} {
		if !strings.Contains(vars, `variable "`+v+`"`) {
			t.Errorf("variables.tf lacks variable %s", v)
		}
	}
	d := regexp.MustCompile(`(?s)variable "sweep_payload" \{.*?default\s*=\s*("(?:[^"\\]|\\.)*")`).FindStringSubmatch(vars)
	if d == nil {
		t.Fatal("sweep_payload has no default")
	}
	payload, err := strconv.Unquote(d[1])
	if err != nil {
		t.Fatal(err)
	}
	if req, err := events.ParseManual([]byte(payload)); err != nil || req.Mode != handler.ModeSweep {
		t.Errorf("sweep_payload default %s: %v, want the manual payload of a sweep", payload, err)
	}
	// Every instance shares one generated continuation key.
	if !regexp.MustCompile(`TAGWARDEN_CONTINUATION_KEY\s*=\s*random_password\.\w+\.result`).MatchString(main) {
		t.Error("main.tf does not set TAGWARDEN_CONTINUATION_KEY from a random_password: instances would refuse each other's continuations")
	}
	// The environment names only variables the function reads.
	read := tagwardenVars(t)
	for _, name := range regexp.MustCompile(`\b(TAGWARDEN_[A-Z_]+)\s*=`).FindAllStringSubmatch(main, -1) {
		if !slices.Contains(read, name[1]) {
			t.Errorf("main.tf sets %s, which the function does not read", name[1])
		}
	}

	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Log("terraform not installed: format not checked")
		return
	}
	cmd := exec.Command(tf, "fmt", "-check", "-diff", "-no-color", ".")
	cmd.Dir = "functiongraph"
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("terraform fmt -check: %v\n%s", err, out)
	}
}
