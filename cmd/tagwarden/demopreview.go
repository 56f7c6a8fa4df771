package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tagwarden/tagwarden/cmd/internal/config"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policies"
)

// The preview step of the demo: a policy change that requires one more tag,
// previewed against the keys as "tagwarden plan --compare" does.
const (
	demoNewTag     = "data-class"
	demoNewPolicy  = "data-class.yaml"
	demoNewDefault = "unclassified"
)

// demoNewPolicyFile is the policy the demo's change adds.
var demoNewPolicyFile = `# The change under review: every customer key says what class of data it protects.
policies:
  - name: data-class-required
    description: Every customer key says what class of data it protects.
    match: '!key.default && key.state != "pending_deletion"'
    rules:
      - require: ` + demoNewTag + `
        default: ` + demoNewDefault + `
`

// writeDemoPolicySets writes, under dir, the policy folders of the demo's
// change: old, the shipped policies; new, the same and demoNewPolicy.
func writeDemoPolicySets(dir string) (oldDir, newDir string, err error) {
	oldDir, newDir = filepath.Join(dir, "policies-old"), filepath.Join(dir, "policies-new")
	for _, d := range []string{oldDir, newDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", "", err
		}
		files, err := fs.Glob(policies.FS, "*.yaml")
		if err != nil {
			return "", "", err
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.yaml") {
				continue
			}
			data, err := fs.ReadFile(policies.FS, f)
			if err != nil {
				return "", "", err
			}
			if err := os.WriteFile(filepath.Join(d, f), data, 0o644); err != nil {
				return "", "", err
			}
		}
	}
	if err := os.WriteFile(filepath.Join(newDir, demoNewPolicy), []byte(demoNewPolicyFile), 0o644); err != nil {
		return "", "", err
	}
	return oldDir, newDir, nil
}

// runDemoPreview previews the demo's policy change against the keys of
// store, as "tagwarden plan --policies NEW --compare OLD" does.
func runDemoPreview(ctx context.Context, g *globals, cfg config.Process, store handler.KeyStore) (preview, error) {
	dir, err := os.MkdirTemp("", "tagwarden-demo-")
	if err != nil {
		return preview{}, err
	}
	defer os.RemoveAll(dir)
	oldDir, newDir, err := writeDemoPolicySets(dir)
	if err != nil {
		return preview{}, fmt.Errorf("write the policy sets: %w", err)
	}
	oldCfg, newCfg := cfg, cfg
	oldCfg.PoliciesDir, newCfg.PoliciesDir = oldDir, newDir
	old, err := loadPolicies(oldCfg)
	if err != nil {
		return preview{}, err
	}
	cur, err := loadPolicies(newCfg)
	if err != nil {
		return preview{}, err
	}
	dry := true
	s := sweep{g: g, cfg: newCfg, engine: cur, store: store, output: formatJSON, // no progress bar
		req: handler.Request{Mode: handler.ModeSweep, DryRun: &dry, Trigger: "demo"}}
	p, err := s.previewOf(ctx, old, oldDir)
	if err != nil {
		return p, err
	}
	// The folders are gone when the demo ends: name them for what they hold.
	p.Old.Policies, p.New.Policies = "the shipped policies", "the shipped policies + "+demoNewPolicy
	return p, nil
}
