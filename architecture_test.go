package tagwarden_test

// The architecture as a test: imports point inward. The policy language is
// pure; the core (handler) sees no platform, no SDK, no process; each
// platform adapter knows neither the other platform nor the KMS SDK; the KMS
// adapter knows no platform. The table below is checked against what
// `go list -deps -json` says of the packages, and the test fails, never
// skips, when go list cannot answer.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/tagwarden/tagwarden/"

// Import path prefixes of the outside technologies.
const (
	huaweiSDK   = "github.com/huaweicloud/huaweicloud-sdk-go-v3"
	awsLambdaGo = "github.com/aws/aws-lambda-go"
	logrus      = "github.com/sirupsen/logrus"
	obsSDK      = "github.com/huaweicloud/huaweicloud-sdk-go-obs"
)

// rule is one row of the architecture: what a package may not import.
type rule struct {
	// name names the rule in the test's output.
	name string
	// pkg is the package's path in the module, e.g. "policy".
	pkg string
	// direct checks only the package's own imports; otherwise every
	// package it depends on, directly or not (its tests' imports aside).
	direct bool
	// forbidden are import paths, each with the packages below it.
	forbidden []string
	// only, when set, are the import paths (each with the packages below
	// it) allowed besides the standard library.
	only []string
	// why is what the rule keeps.
	why string
}

// architecture is the table of forbidden imports.
var architecture = []rule{
	{
		name:      "policy is pure",
		pkg:       "policy",
		forbidden: []string{module + "handler", module + "adapters", huaweiSDK, logrus},
		why:       "the policy language is pure: no core, no adapter, no SDK, no logging",
	},
	{
		name: "policy needs only expr and YAML",
		pkg:  "policy",
		only: []string{"github.com/expr-lang/expr", "go.yaml.in/yaml"},
		why:  "the policy language depends on the standard library, expr and the YAML library only",
	},
	{
		name:      "handler sees no adapter, SDK, platform or policy set",
		pkg:       "handler",
		forbidden: []string{module + "adapters", huaweiSDK, awsLambdaGo, module + "policies"},
		why:       "the core sees no adapter, no SDK, no platform, and not which policy set the process chose",
	},
	{
		name:      "handler reads no environment or file",
		pkg:       "handler",
		direct:    true,
		forbidden: []string{"os"},
		why:       "the core reads no environment and no file: configuration is the process's, read under cmd/",
	},
	{
		name:      "functiongraph knows neither awslambda nor KMS",
		pkg:       "adapters/functiongraph",
		forbidden: []string{module + "adapters/awslambda", module + "adapters/huaweikms", "github.com/huaweicloud", "github.com/aws"},
		why:       "a platform adapter knows neither the other platform nor KMS",
	},
	{
		name:      "awslambda knows neither functiongraph nor KMS",
		pkg:       "adapters/awslambda",
		forbidden: []string{module + "adapters/functiongraph", module + "adapters/huaweikms", "github.com/huaweicloud"},
		why:       "a platform adapter knows neither the other platform nor KMS",
	},
	{
		name:      "events know neither KMS nor a platform",
		pkg:       "adapters/events",
		forbidden: []string{module + "adapters/huaweikms", "github.com/huaweicloud", "github.com/aws"},
		why:       "the event decoders know neither KMS nor a platform's library",
	},
	{
		name:      "the invocation pipeline knows no platform and no KMS",
		pkg:       "adapters/invocation",
		forbidden: []string{module + "adapters/functiongraph", module + "adapters/awslambda", module + "adapters/huaweikms", huaweiSDK, awsLambdaGo},
		why:       "one pipeline for every platform: the platforms and the store come to it, it reaches for none",
	},
	{
		name:      "configuration reaches no platform",
		pkg:       "cmd/internal/config",
		forbidden: []string{module + "adapters/functiongraph", module + "adapters/awslambda", module + "adapters/events", module + "adapters/invocation", awsLambdaGo},
		why:       "the process's configuration is the same on every platform",
	},
	{
		name:      "huaweikms knows no platform",
		pkg:       "adapters/huaweikms",
		forbidden: []string{module + "adapters/functiongraph", module + "adapters/awslambda", awsLambdaGo},
		why:       "the KMS adapter knows no platform",
	},
	{
		name:      "targets are plain data",
		pkg:       "adapters/targets",
		direct:    true,
		forbidden: []string{module + "handler", module + "adapters/huaweikms", huaweiSDK, "github.com/aws"},
		why:       "the pipeline reads targets: the IAM discoverer over the SDK lives in adapters/targets/huaweiiam",
	},
	{
		name: "the endpoint rule needs only the standard library",
		pkg:  "adapters/endpoint",
		only: []string{},
		why:  "the targets check endpoints with it and must pull in no SDK: it depends on the standard library only",
	},
	{
		name:      "self-invocation knows no request",
		pkg:       "adapters/selfinvoke",
		direct:    true,
		forbidden: []string{module + "handler", module + "adapters/invocation", module + "adapters/events"},
		why:       "a dispatcher sends bytes to the platform; what they mean is the pipeline's",
	},
	{
		name:      "the outputs' core knows no SDK",
		pkg:       "adapters/outputs",
		forbidden: []string{huaweiSDK, obsSDK, "github.com/aws", module + "adapters/huaweikms", module + "adapters/invocation", module + "adapters/functiongraph", module + "adapters/awslambda"},
		why:       "what a run's end sends (findings, page, message, metrics, state) is decided without a service: the SDK drivers come to it as Notifier, Metrics and Store",
	},
	{
		name:      "an output driver knows no request",
		pkg:       "adapters/outputs/huaweismn",
		direct:    true,
		forbidden: []string{module + "handler", module + "adapters/invocation", module + "adapters/events"},
		why:       "a driver sends a message; what a run found is the outputs' core's",
	},
	{
		name:      "an output driver knows no request (metrics)",
		pkg:       "adapters/outputs/huaweices",
		direct:    true,
		forbidden: []string{module + "handler", module + "adapters/invocation", module + "adapters/events"},
		why:       "a driver sends data points; what a run found is the outputs' core's",
	},
	{
		name:      "an output driver knows no request (objects)",
		pkg:       "adapters/outputs/huaweiobs",
		direct:    true,
		forbidden: []string{module + "handler", module + "adapters/invocation", module + "adapters/events"},
		why:       "a driver stores bytes; what a run found is the outputs' core's",
	},
	{
		name:      "the drivers' SDK plumbing knows no request and no error kind",
		pkg:       "adapters/outputs/internal/hcsdk",
		direct:    true,
		forbidden: []string{module + "handler", module + "adapters/invocation", module + "adapters/events", module + "adapters/outputs"},
		why:       "the drivers share the SDK's client, credentials and redaction; what an answer means (outputs.Error, its kind) stays each driver's",
	},
	{
		name: "the local services' machinery needs only the standard library",
		pkg:  "adapters/internal/localsvc",
		only: []string{},
		why:  "the emulators (SMN, Cloud Eye, OBS, IAM, KMS) share it: a port, request ids, injected faults; it pulls in no SDK, no core and no adapter",
	},
}

// listed is what go list says of one package.
type listed struct {
	ImportPath string
	Standard   bool
	Imports    []string // its own imports
	Deps       []string // every package it depends on, directly or not
	Error      *struct{ Err string }
	DepsErrors []*struct{ Err string }
}

// goList runs `go list -deps -json` on the packages and returns every
// package it lists (those and their dependencies) by import path. Any
// failure, of go list or of a package it lists, is an error.
func goList(pkgs ...string) (map[string]listed, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("go", append([]string{"list", "-deps", "-json"}, pkgs...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go list %s: %w\n%s", strings.Join(pkgs, " "), err, stderr.String())
	}
	out := map[string]listed{}
	for dec := json.NewDecoder(&stdout); ; {
		var p listed
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("go list: decode its output: %w", err)
		}
		if p.Error != nil {
			return nil, fmt.Errorf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		for _, e := range p.DepsErrors {
			return nil, fmt.Errorf("go list: %s: %s", p.ImportPath, e.Err)
		}
		out[p.ImportPath] = p
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("go list %s: no package listed", strings.Join(pkgs, " "))
	}
	return out, nil
}

// under reports whether path is prefix or a package below it.
func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// check returns what breaks r in the listing pkgs, one line per import.
func check(r rule, pkgs map[string]listed) []string {
	p, ok := pkgs[module+r.pkg]
	if !ok {
		return []string{fmt.Sprintf("%s is not in go list's output", module+r.pkg)}
	}
	paths := p.Deps
	if r.direct {
		paths = p.Imports
	}
	if len(p.Deps) == 0 {
		return []string{fmt.Sprintf("go list gives %s no dependency: not the listing of a Go package", p.ImportPath)}
	}
	var bad []string
	for _, dep := range paths {
		for _, f := range r.forbidden {
			if under(dep, f) {
				bad = append(bad, fmt.Sprintf("%s imports %s (%s)", r.pkg, dep, f))
			}
		}
		if r.only != nil && !pkgs[dep].Standard && !slices.ContainsFunc(r.only, func(a string) bool { return under(dep, a) }) {
			bad = append(bad, fmt.Sprintf("%s imports %s: only the standard library and %s are allowed", r.pkg, dep, strings.Join(r.only, ", ")))
		}
	}
	return bad
}

// TestArchitecture checks every rule of the architecture table.
func TestArchitecture(t *testing.T) {
	var targets []string
	for _, r := range architecture {
		if !slices.Contains(targets, module+r.pkg) {
			targets = append(targets, module+r.pkg)
		}
	}
	pkgs, err := goList(targets...)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range architecture {
		t.Run(r.name, func(t *testing.T) {
			for _, b := range check(r, pkgs) {
				t.Errorf("%s: %s", b, r.why)
			}
		})
	}
}

// TestArchitectureCheck runs the check on made-up listings: it catches a
// forbidden import, direct or not, and nothing else.
func TestArchitectureCheck(t *testing.T) {
	std := func(paths ...string) map[string]listed {
		m := map[string]listed{}
		for _, p := range paths {
			m[p] = listed{ImportPath: p, Standard: true}
		}
		return m
	}("fmt", "os", "strings")
	with := func(ps ...listed) map[string]listed {
		m := maps.Clone(std)
		for _, p := range ps {
			m[p.ImportPath] = p
		}
		return m
	}
	handlerNoOS := rule{pkg: "handler", direct: true, forbidden: []string{"os"}}
	tests := []struct {
		name string
		rule rule
		pkgs map[string]listed
		want int // lines reported
	}{
		{"direct import of os", handlerNoOS,
			with(listed{ImportPath: module + "handler", Imports: []string{"fmt", "os"}, Deps: []string{"fmt", "os"}}), 1},
		{"os only through fmt", handlerNoOS,
			with(listed{ImportPath: module + "handler", Imports: []string{"fmt"}, Deps: []string{"fmt", "os"}}), 0},
		{"a dependency's dependency", rule{pkg: "policy", forbidden: []string{logrus}},
			with(listed{ImportPath: module + "policy", Imports: []string{"example.com/x"}, Deps: []string{"example.com/x", logrus + "/hooks"}}), 1},
		{"a package below a forbidden one", rule{pkg: "adapters/functiongraph", forbidden: []string{module + "adapters/awslambda"}},
			with(listed{ImportPath: module + "adapters/functiongraph", Imports: []string{module + "adapters/awslambda/sub"}, Deps: []string{module + "adapters/awslambda/sub"}}), 1},
		{"policy is not policies", rule{pkg: "handler", forbidden: []string{module + "policies"}},
			with(listed{ImportPath: module + "handler", Imports: []string{module + "policy"}, Deps: []string{module + "policy", "fmt"}}), 0},
		{"a module outside the allowed ones", rule{pkg: "policy", only: []string{"github.com/expr-lang/expr"}},
			with(listed{ImportPath: module + "policy", Deps: []string{"fmt", "github.com/expr-lang/expr/vm", "github.com/google/uuid"}}), 1},
		{"the package missing from the listing", handlerNoOS, with(), 1},
		{"a listing with no dependency", handlerNoOS, with(listed{ImportPath: module + "handler"}), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := check(tt.rule, tt.pkgs)
			if len(got) != tt.want {
				t.Errorf("got %d lines %q, want %d", len(got), got, tt.want)
			}
		})
	}
}

// TestGoListFails: when go list fails, goList says so and TestArchitecture
// fails with it; it never passes on an empty listing.
func TestGoListFails(t *testing.T) {
	for _, pkgs := range [][]string{{module + "no-such-package"}, {"./no/such/folder"}} {
		if got, err := goList(pkgs...); err == nil {
			t.Errorf("goList(%q): %d packages, no error; want an error", pkgs, len(got))
		}
	}
}
