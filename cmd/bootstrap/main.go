package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/adapters/awslambda"
	"github.com/tagwarden/tagwarden/adapters/functiongraph"
	"github.com/tagwarden/tagwarden/adapters/huaweikms"
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
		awslambda.Start(&awslambda.Function{
			Handler: inst.handler,
			InitErr: inst.initErr,
			OpenStore: func(context.Context) (handler.KeyStore, error) {
				return huaweikms.New(inst.kms) // credentials: the SDK's chain
			},
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
	fn := &functiongraph.Function{
		Handler: inst.handler,
		InitErr: inst.initErr,
		OpenStore: func(_ context.Context, c functiongraph.Credentials) (handler.KeyStore, error) {
			cfg := inst.kms
			cfg.ProjectID = project
			cfg.Credentials = &huaweikms.Credentials{AccessKey: c.AccessKey, SecretKey: c.SecretKey, SecurityToken: c.SecurityToken}
			return huaweikms.New(cfg)
		},
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
	kms     huaweikms.Config // the per-invocation store's configuration, pacer shared
	initErr error
}

func setup(getenv func(string) string) instance {
	p, err := config.FromEnv(getenv)
	inst := instance{log: config.NewLogger(p), process: p, initErr: err}
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
	inst.kms = p.KMS(engine, inst.log) // once: every invocation's store shares its pacer
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
	}
	return inst
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
