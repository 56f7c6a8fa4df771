package config

import (
	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/policy"
)

// KMS returns the configuration of the KMS adapter that p calls for: its
// endpoint (Region, or Endpoint), ProjectID, a new pacer at RateLimit, the
// tag rules of engine (so that the store refuses what the planner would
// never plan) and log. Credentials are left nil (the SDK's chain): the
// platform sets them per invocation where it hands them out.
//
// Call it once per process and give every store built from it the same
// result: the pacer inside is the one rate limit of the process, shared by
// all its calls, as KMS counts requests per user.
func (p Process) KMS(engine *policy.Engine, log logrus.FieldLogger) huaweikms.Config {
	return huaweikms.Config{
		Region:    p.Region,
		Endpoint:  p.Endpoint,
		ProjectID: p.ProjectID,
		Pacer:     huaweikms.NewPacer(p.RateLimit),
		Limits:    engine.Limits(),
		Log:       log,
	}
}
