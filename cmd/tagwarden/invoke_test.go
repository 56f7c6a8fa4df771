package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/local"
)

// TestInvokeOutputs: invoke sends the outputs the function's variables
// configure, as the function does: one notification, the metrics, the
// stored report and page, under the function's own target, whose project
// comes from the configuration, else the SDK's variable, else its profile.
func TestInvokeOutputs(t *testing.T) {
	k := startKMS(t)
	creds := k.kit.Credentials
	profile := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(profile, []byte("[basic]\nak = "+creds.AccessKey+"\nsk = "+creds.SecretKey+"\nproject_id = "+k.kit.Project+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  []string
	}{
		{"project from the SDK's variable", k.env},
		{"project from TAGWARDEN_PROJECT_ID", append(k.env[:2:2], "TAGWARDEN_PROJECT_ID="+k.kit.Project)},
		{"project from the SDK's profile", []string{"HUAWEICLOUD_SDK_CREDENTIALS_FILE=" + profile}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, err := local.Start(local.Options{Credentials: creds})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { svc.Close() })
			env := append([]string{"TAGWARDEN_REGION=" + local.Region, "TAGWARDEN_NOTIFY_CHANGES=true"}, tt.env...)
			for name, v := range svc.Env() {
				env = append(env, name+"="+v)
			}
			r := cli(t, env, "invoke", "--endpoint", k.url, "--dry-run", "testdata/cts-create-key.json")
			if r.code != 2 {
				t.Fatalf("invoke: exit %d, want 2 (changes planned): %s", r.code, r.stderr)
			}
			rep := decodeReport(t, r.stdout)
			sent := map[string]bool{}
			for _, o := range rep.Outputs {
				if !o.OK && !o.Skipped {
					t.Errorf("output failed: %+v", o)
				}
				sent[o.What] = o.OK
			}
			for _, w := range []string{"notification", "metrics", "page", "summary", "state", "latest", "report"} {
				if !sent[w] {
					t.Errorf("no %s sent, in the report's outputs %+v", w, rep.Outputs)
				}
			}
			if pub := svc.SMN.Published(); len(pub) != 1 || !strings.Contains(pub[0].Message, "0d0466b0-e727-4d9c-b35d-f84bb474a37f") {
				t.Errorf("published %+v, want one message naming the event's key", pub)
			}
			own := outputs.DefaultPrefix + "targets/" + local.Region + "/" + k.kit.Project + "/"
			keys := svc.OBS.Keys(svc.Bucket)
			for _, key := range keys {
				if !strings.HasPrefix(key, own) {
					t.Errorf("object %s: not under the function's own target %s", key, own)
				}
			}
			if len(keys) == 0 || len(svc.CES.Points()) == 0 {
				t.Errorf("objects %v, %d metric points: want the run stored and its metrics", keys, len(svc.CES.Points()))
			}
		})
	}
}
