package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	kmsregion "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/region"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/cmd/internal/config"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// target holds the flags that say which KMS project to work on and how.
// Unset flags fall back to the function's own TAGWARDEN_* variables.
type target struct {
	region, projectID, endpoint, policiesDir string
	concurrency                              int
	rateLimit                                float64
	dryRun                                   bool
}

func (t *target) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&t.region, "region", "", "Huawei Cloud region, e.g. ap-southeast-1 (default $TAGWARDEN_REGION)")
	fs.StringVar(&t.projectID, "project-id", "", "project id (default $TAGWARDEN_PROJECT_ID, else $HUAWEICLOUD_SDK_PROJECT_ID or the profile's)")
	fs.StringVar(&t.endpoint, "endpoint", "", "KMS endpoint URL instead of the region's, e.g. an emulator (default $TAGWARDEN_KMS_ENDPOINT)")
	fs.StringVar(&t.policiesDir, "policies", "", "folder of policy files (default $TAGWARDEN_POLICIES, else the shipped policies)")
	fs.IntVar(&t.concurrency, "concurrency", 0, "keys processed at once (default $TAGWARDEN_CONCURRENCY, else 4)")
	fs.Float64Var(&t.rateLimit, "rate-limit", 0, "KMS requests per second (default $TAGWARDEN_RATE_LIMIT, else 20)")
}

// config builds the configuration (see settings) and checks that it names
// a KMS endpoint.
func (t *target) config(cmd *cobra.Command) (config.Process, error) {
	cfg, err := t.settings(cmd)
	if err != nil {
		return cfg, err
	}
	return cfg, checkTarget(cfg)
}

// settings builds the configuration: the TAGWARDEN_* environment first, as
// the function reads it, then the flags that were set.
func (t *target) settings(cmd *cobra.Command) (config.Process, error) {
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return cfg, fmt.Errorf("configuration from the environment: %w", err)
	}
	set := func(name string) bool { return cmd.Flags().Changed(name) }
	if set("region") {
		cfg.Region = t.region
	}
	if set("project-id") {
		cfg.ProjectID = t.projectID
	}
	if set("endpoint") {
		cfg.Endpoint = t.endpoint
	}
	if set("policies") {
		cfg.PoliciesDir = t.policiesDir
	}
	if set("concurrency") {
		if t.concurrency < 1 {
			return cfg, fmt.Errorf("--concurrency: %d is not a positive number", t.concurrency)
		}
		cfg.Handler.Concurrency = t.concurrency
	}
	if set("rate-limit") {
		if t.rateLimit <= 0 {
			return cfg, fmt.Errorf("--rate-limit: %v is not a positive number of requests per second", t.rateLimit)
		}
		cfg.RateLimit = t.rateLimit
	}
	if set("dry-run") {
		cfg.Handler.DryRun = t.dryRun
	}
	return cfg, nil
}

// checkTarget gives the short, clear errors a user needs before anything
// is sent: no region, a region the SDK does not know, a bad endpoint.
func checkTarget(cfg config.Process) error {
	if cfg.Endpoint != "" {
		if _, err := huaweikms.CheckEndpoint(cfg.Endpoint); err != nil {
			return fmt.Errorf("%w: give an http(s) URL such as https://kms.ap-southeast-1.myhuaweicloud.com", err)
		}
		return nil
	}
	if cfg.Region == "" {
		return errors.New("no region: pass --region (e.g. ap-southeast-1) or set TAGWARDEN_REGION, or --endpoint for an emulator")
	}
	if _, err := kmsregion.SafeValueOf(cfg.Region); err != nil {
		return fmt.Errorf("unknown region %q: not a KMS region of the Huawei Cloud SDK (e.g. ap-southeast-1, cn-north-4, eu-west-101)", cfg.Region)
	}
	return nil
}

// endpointURL is the URL the store will call: the override, or the
// region's endpoint in the SDK.
func endpointURL(cfg config.Process) string {
	if cfg.Endpoint != "" {
		return cfg.Endpoint
	}
	if r, err := kmsregion.SafeValueOf(cfg.Region); err == nil && r != nil && len(r.Endpoints) > 0 {
		ep := r.Endpoints[0]
		if !strings.Contains(ep, "://") {
			ep = "https://" + ep
		}
		return ep
	}
	return "https://kms." + cfg.Region + ".myhuaweicloud.com"
}

// checkReachable dials the endpoint once, so that an unreachable one fails in
// seconds with a clear message rather than after every retry.
func checkReachable(ctx context.Context, cfg config.Process) error {
	raw := endpointURL(cfg)
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("endpoint %q: %w", raw, err)
	}
	host := u.Host
	if u.Port() == "" {
		port := "443"
		if u.Scheme == "http" {
			port = "80"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return fmt.Errorf("cannot reach the KMS endpoint %s: %w", raw, unwrapDial(err))
	}
	return conn.Close()
}

// unwrapDial keeps the innermost part of a dial error ("connection
// refused", "no such host").
func unwrapDial(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// loadPolicies loads the policies cfg names (the shipped ones when
// PoliciesDir is empty) exactly as the function does. Its error lists each
// problem on one line, file:line:column first.
func loadPolicies(cfg config.Process) (*policy.Engine, error) {
	if err := checkPolicyDir(cfg.PoliciesDir); err != nil {
		return nil, err
	}
	e, err := config.LoadEngine(cfg)
	if err == nil {
		return e, nil
	}
	var les policy.LoadErrors
	if !errors.As(err, &les) {
		return nil, fmt.Errorf("bad policies: %w", err)
	}
	dir := describeDir(cfg.PoliciesDir)
	var b strings.Builder
	fmt.Fprintf(&b, "bad policies in %s: %d %s (tagwarden validate %s shows each with its source line)",
		dir, len(les), plural(len(les), "error", "errors"), cfg.PoliciesDir)
	for _, le := range les {
		b.WriteString("\n  " + le.Error())
	}
	return nil, errors.New(b.String())
}

// newStore builds the KMS adapter for cfg with credentials creds (nil = the
// SDK's chain: environment, then profile), as the function does (see
// config.Process.KMS): refusing what engine's planner would never plan.
func newStore(cfg config.Process, engine *policy.Engine, creds *huaweikms.Credentials, g *globals) (handler.KeyStore, error) {
	kc := cfg.KMS(engine, g.logger())
	kc.Credentials = creds
	s, err := huaweikms.New(kc)
	if err != nil {
		return nil, explainStoreError(err)
	}
	return s, nil
}

// explainStoreError turns an adapter construction error into the short
// message a user needs, keeping the cause.
func explainStoreError(err error) error {
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "no credentials"):
		// The SDK's own account of each provider it tried is long and
		// says less than this.
		return errors.New("no Huawei Cloud credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK " +
			"(HUAWEICLOUD_SDK_SECURITY_TOKEN for temporary ones), or a profile in ~/.huaweicloud/credentials")
	case strings.Contains(msg, "no project id"):
		return errors.New("no project id: pass --project-id or set HUAWEICLOUD_SDK_PROJECT_ID")
	}
	return fmt.Errorf("kms client: %w", err)
}
