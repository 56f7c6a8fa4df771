package handler

import (
	"fmt"

	"github.com/tagwarden/tagwarden/policies"
	"github.com/tagwarden/tagwarden/policy"
)

// LoadEngine loads the policies cfg names: the folder PoliciesDir, or the
// shipped policies embedded in the binary when it is empty. BatchSize, when
// set, becomes the engine's MaxBatch.
func LoadEngine(cfg Config) (*policy.Engine, error) {
	opts := policy.Options{Limits: policy.DefaultLimits()}
	if cfg.BatchSize > 0 {
		opts.Limits.MaxBatch = cfg.BatchSize
	}
	if cfg.PoliciesDir == "" {
		e, err := policy.Load(policies.FS, opts)
		if err != nil {
			return nil, fmt.Errorf("load the shipped policies: %w", err)
		}
		return e, nil
	}
	e, err := policy.LoadDir(cfg.PoliciesDir, opts)
	if err != nil {
		return nil, fmt.Errorf("load policies from %s=%q: %w", EnvPolicies, cfg.PoliciesDir, err)
	}
	return e, nil
}
