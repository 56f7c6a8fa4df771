package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/adapters/awslambda"
	"github.com/tagwarden/tagwarden/adapters/functiongraph"
	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/invocation"
	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/selfinvoke"
	"github.com/tagwarden/tagwarden/adapters/targets"
	"github.com/tagwarden/tagwarden/adapters/targets/huaweiiam"
	"github.com/tagwarden/tagwarden/cmd/internal/config"
	"github.com/tagwarden/tagwarden/handler"
)

const envLambdaAPI = "AWS_LAMBDA_RUNTIME_API"

const usage = `bootstrap is the tagwarden function for Huawei FunctionGraph (custom runtime) and
Lambda-compatible runtimes. It serves invocations from a platform's runtime API and does
nothing on its own: neither RUNTIME_API_ADDR (FunctionGraph) nor AWS_LAMBDA_RUNTIME_API
(Lambda) is set.

To run tagwarden locally:
  go run ./cmd/tagwarden demo                 the whole job on an embedded KMS emulator
  go run ./cmd/tagwarden invoke EVENT.json    one event, exactly as the function would
  go run ./cmd/tagwarden --help               plan, apply, validate policies

To run this binary as a function on your machine, under the Lambda runtime interface emulator
(bind both addresses to loopback: it listens on 0.0.0.0 otherwise):
  TAGWARDEN_REGION=ap-southeast-1 HUAWEICLOUD_SDK_AK=... HUAWEICLOUD_SDK_SK=... \
  HUAWEICLOUD_SDK_PROJECT_ID=... aws-lambda-rie \
    --runtime-interface-emulator-address 127.0.0.1:9000 --runtime-api-address 127.0.0.1:9001 ./bootstrap
  curl -d '{"action":"sweep","dry_run":true}' \
    http://127.0.0.1:9000/2015-03-31/functions/function/invocations

See docs/deploy.md.
`

func main() {
	os.Exit(run(os.Getenv, os.Stderr))
}

// run wires the parts and serves; it returns the exit status.
func run(getenv func(string) string, stderr io.Writer) int {
	lambdaAPI := getenv(envLambdaAPI)
	fgAPI := getenv(functiongraph.EnvAPIAddr)
	if lambdaAPI == "" && fgAPI == "" {
		fmt.Fprint(stderr, usage)
		return 2
	}

	inst := setup(getenv)
	if inst.initErr != nil {
		inst.log.WithError(inst.initErr).Error("configuration error: every invocation will answer it")
	}

	if lambdaAPI != "" {
		// The SDK's credential chain gives the stores their project when
		// TAGWARDEN_PROJECT_ID is unset: the function's own target (its
		// reports' object keys, its metrics' dimensions) names the same.
		inst.own(strings.TrimSpace(getenv(config.EnvSDKProjectID)))
		awslambda.Start(&awslambda.Function{
			Handler: inst.handler,
			InitErr: inst.initErr,
			Runs:    inst.runs,
			Cloud:   inst.lambdaCloud,
		})
		return 1 // not reached: Start exits the process on failure
	}

	client, err := functiongraph.ClientFromEnv(getenv, inst.log)
	if err != nil {
		fmt.Fprintf(stderr, "bootstrap: %v\n", err)
		return 1
	}
	project := inst.kms.ProjectID
	if project == "" {
		project = getenv(functiongraph.EnvProjectID)
	}
	if project == "" && inst.initErr == nil {
		inst.initErr = fmt.Errorf("configuration: no project id: %s is not set (set %s)", functiongraph.EnvProjectID, config.EnvProjectID)
		inst.log.WithError(inst.initErr).Error("configuration error: every invocation will answer it")
	}
	inst.own(project)
	inst.functionURN(getenv)
	fn := &functiongraph.Function{
		Handler: inst.handler,
		InitErr: inst.initErr,
		Runs:    inst.runs,
		Cloud:   inst.functionGraphCloud,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	inst.log.WithField("runtime_api", fgAPI).Info("serving FunctionGraph invocations")
	if err := client.Serve(ctx, fn.Invoke); err != nil {
		inst.log.WithError(err).Error("invocation loop stopped")
		return 1
	}
	return 0
}

// instance is what one process builds once, at cold start.
type instance struct {
	log     *logrus.Logger
	process config.Process // the configuration read, policy folder chosen
	handler *handler.Handler
	kms     huaweikms.Config  // the per-invocation store's configuration
	pacers  *huaweikms.Pacers // one per target, shared by the process's invocations
	runs    invocation.Runs   // targets, chain, the process's memory of links
	urn     selfinvoke.URN    // FunctionGraph: the function itself
	urnErr  error             // why the function cannot invoke itself
	lambdas *sync.Map         // Lambda: function ARN -> *selfinvoke.Lambda
	initErr error
}

// own sets the function's own target, its project from the configuration
// or else project (the platform's).
func (inst *instance) own(project string) {
	own := inst.process.OwnTarget(project)
	inst.runs.Targets.Own = own
	if inst.initErr == nil {
		inst.runs.Outputs = inst.process.Recorder(own.Name(), inst.log)
	}
}

// outputs opens the invocation's outputs with creds (nil: the SDK's
// chain), metrics in the function's own project.
func (inst *instance) outputs(creds *huaweikms.Credentials) func(context.Context) (outputs.Clients, error) {
	if inst.runs.Outputs == nil {
		return nil
	}
	project := inst.runs.Targets.Own.ProjectID
	return func(context.Context) (outputs.Clients, error) { return inst.process.OutputClients(creds, project) }
}

// functionURN finds the FunctionGraph function's own URN, for fan-outs and
// chains: TAGWARDEN_FUNCTION_URN, or the runtime's variables.
func (inst *instance) functionURN(getenv func(string) string) {
	var err error
	if u := inst.process.FunctionURN; u != "" {
		inst.urn, err = selfinvoke.ParseURN(u)
	} else {
		inst.urn, err = selfinvoke.URNFromRuntime(getenv, inst.process.Region)
	}
	if err != nil {
		inst.urnErr = fmt.Errorf("the function's own URN: %w (set %s)", err, config.EnvFunctionURN)
		if inst.initErr == nil && (inst.runs.MaxChain > 0 || len(inst.runs.Targets.Static) > 0 || inst.runs.Targets.Auto) {
			inst.log.WithError(inst.urnErr).Warn("sweeps cannot fan out or continue themselves")
		}
	}
}

// store opens the key store of target t with creds (nil: the SDK's chain).
func (inst *instance) store(t targets.Target, creds *huaweikms.Credentials) (handler.KeyStore, error) {
	cfg := inst.kms
	cfg.Region, cfg.Endpoint, cfg.ProjectID = t.Region, t.Endpoint, t.ProjectID
	cfg.Pacer = inst.pacers.For(t.Name())
	cfg.Credentials = creds
	return huaweikms.New(cfg)
}

// functionGraphCloud is what a FunctionGraph invocation reaches with its
// temporary credentials.
func (inst *instance) functionGraphCloud(_ context.Context, c functiongraph.Credentials) invocation.Cloud {
	creds := huaweikms.Credentials{AccessKey: c.AccessKey, SecretKey: c.SecretKey, SecurityToken: c.SecurityToken}
	cloud := invocation.Cloud{
		Store: func(_ context.Context, t targets.Target) (handler.KeyStore, error) { return inst.store(t, &creds) },
		Discoverer: func(context.Context) (targets.Discoverer, error) {
			return huaweiiam.New(huaweiiam.Config{Endpoint: inst.process.IAMEndpoint, Credentials: creds, Region: inst.process.Region})
		},
		Outputs: inst.outputs(&creds),
	}
	if inst.urnErr == nil {
		cloud.Dispatcher = func(context.Context) (invocation.Dispatcher, error) {
			return selfinvoke.NewFunctionGraph(selfinvoke.FunctionGraphConfig{URN: inst.urn, Endpoint: inst.process.FunctionGraphEndpoint,
				Credentials: creds})
		}
	}
	return cloud
}

// lambdaCloud is what a Lambda invocation reaches: Huawei Cloud with the
// SDK's credential chain, the function itself with the AWS SDK's.
func (inst *instance) lambdaCloud(ctx context.Context) invocation.Cloud {
	cloud := invocation.Cloud{
		Store: func(_ context.Context, t targets.Target) (handler.KeyStore, error) { return inst.store(t, nil) },
		Discoverer: func(context.Context) (targets.Discoverer, error) {
			return huaweiiam.New(huaweiiam.Config{Endpoint: inst.process.IAMEndpoint, Region: inst.process.Region})
		},
		Outputs: inst.outputs(nil),
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.InvokedFunctionArn != "" {
		// The function itself, unqualified: the role grants invoking that
		// ARN (template.yaml), not an alias or version.
		arn := unqualified(lc.InvokedFunctionArn)
		cloud.Dispatcher = func(ctx context.Context) (invocation.Dispatcher, error) {
			if d, ok := inst.lambdas.Load(arn); ok {
				return d.(*selfinvoke.Lambda), nil
			}
			d, err := selfinvoke.NewLambda(ctx, selfinvoke.LambdaConfig{FunctionName: arn})
			if err != nil {
				return nil, err
			}
			inst.lambdas.Store(arn, d)
			return d, nil
		}
	}
	return cloud
}

func setup(getenv func(string) string) instance {
	p, err := config.FromEnv(getenv)
	inst := instance{log: config.NewLogger(p), process: p, initErr: err, lambdas: &sync.Map{}}
	if err != nil {
		return inst
	}
	if p.Region == "" && p.Endpoint == "" {
		inst.initErr = fmt.Errorf("configuration: set %s (e.g. ap-southeast-1) or %s", config.EnvRegion, config.EnvEndpoint)
		return inst
	}
	if p.PoliciesDir == "" {
		p.PoliciesDir = defaultPolicies(getenv)
		inst.process = p
	}
	engine, err := config.LoadEngine(p)
	if err != nil {
		inst.initErr = err
		return inst
	}
	inst.handler = handler.New(engine, p.Handler, inst.log)
	inst.kms = p.KMS(engine, inst.log)
	inst.pacers = huaweikms.NewPacers(p.RateLimit) // once: every invocation of a target shares its pacer
	inst.runs = invocation.Runs{Targets: p.Targets, MaxChain: p.MaxChain, Memory: &invocation.Memory{}, Log: inst.log, BadTargets: p.BadTargets}
	for _, msg := range p.BadTargets {
		inst.log.Error("configuration: " + msg + ": this target is not swept; the others are")
	}
	src := p.PoliciesDir
	if src == "" {
		src = "embedded"
	}
	inst.log.WithFields(logrus.Fields{"policies": src, "policy_digest": engine.Digest()}).Info("policies loaded")
	for _, w := range engine.Warnings() { // exemption entries already past their date
		inst.log.WithFields(logrus.Fields{"file": w.File, "line": w.Line, "column": w.Column}).Warn(w.Message)
	}
	if len(p.Handler.ContinuationKey) == 0 {
		inst.log.Warnf("%s is not set: this instance signs continuations with a key of its own, so another instance refuses them; set the same random key (32 bytes or more) on every instance", config.EnvContinuationKey)
		if inst.runs.MaxChain > 0 {
			// The next link may run on any instance: with a key of this
			// instance's own it would be refused there, and the chain end.
			inst.runs.MaxChain = 0
			inst.log.Warnf("cut sweeps do not continue themselves (as with %s=0) until %s is set: they return their continuation", config.EnvMaxChain, config.EnvContinuationKey)
		}
	}
	return inst
}

// unqualified drops the version or alias of a Lambda function ARN
// (arn:aws:lambda:region:account:function:name[:qualifier]).
func unqualified(arn string) string {
	if parts := strings.Split(arn, ":"); len(parts) == 8 {
		return strings.Join(parts[:7], ":")
	}
	return arn
}

// defaultPolicies returns the policies/ folder beside the function's code
// when it exists, or "" for the embedded policies.
func defaultPolicies(getenv func(string) string) string {
	for _, root := range []string{getenv(functiongraph.EnvCodeRoot), getenv("LAMBDA_TASK_ROOT")} {
		if root == "" {
			continue
		}
		dir := filepath.Join(root, "policies")
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return dir
		}
	}
	return ""
}
