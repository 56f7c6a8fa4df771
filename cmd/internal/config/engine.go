package config

import (
	"fmt"

	"github.com/tagwarden/tagwarden/policies"
	"github.com/tagwarden/tagwarden/policy"
)

// LoadEngine loads the policies p names: the folder PoliciesDir, or the
// shipped policies embedded in the binary when it is empty. The handler's
// BatchSize, when set, becomes the engine's MaxBatch.
func LoadEngine(p Process) (*policy.Engine, error) {
	opts := policy.Options{Limits: policy.DefaultLimits()}
	if p.Handler.BatchSize > 0 {
		opts.Limits.MaxBatch = p.Handler.BatchSize
	}
	if p.PoliciesDir == "" {
		e, err := policy.Load(policies.FS, opts)
		if err != nil {
			return nil, fmt.Errorf("load the shipped policies: %w", err)
		}
		return e, nil
	}
	e, err := policy.LoadDir(p.PoliciesDir, opts)
	if err != nil {
		return nil, fmt.Errorf("load policies from %s=%q: %w", EnvPolicies, p.PoliciesDir, err)
	}
	return e, nil
}
