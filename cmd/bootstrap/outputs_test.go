package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/functiongraph/runtimetest"
	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/local"
	"github.com/tagwarden/tagwarden/handler"
)

// checkOutputs checks that a sweep's report lists every output sent, that
// the local services got one message, the metrics and the page, and that
// the objects and the metrics name the function's own target, project
// included.
func checkOutputs(t *testing.T, rep handler.Report, svc *local.Services, project string) {
	t.Helper()
	if rep.Error != "" || rep.Changed == 0 {
		t.Fatalf("sweep: %+v, want keys changed", rep)
	}
	sent := map[string]bool{}
	for _, o := range rep.Outputs {
		if !o.OK {
			t.Errorf("output failed: %+v", o)
		}
		sent[o.What] = true
	}
	for _, w := range []string{"notification", "metrics", "page", "summary", "state", "latest", "report"} {
		if !sent[w] {
			t.Errorf("no %s in the report's outputs %+v", w, rep.Outputs)
		}
	}
	if pub := svc.SMN.Published(); len(pub) != 1 || !strings.Contains(pub[0].Message, "[changed] wrote") {
		t.Errorf("published %+v, want one message listing the changes", pub)
	}
	if len(svc.CES.Points()) < 7 {
		t.Errorf("%d metric points, want the 7 counts at least", len(svc.CES.Points()))
	}
	for _, p := range svc.CES.Points() {
		for _, d := range p.Dimensions {
			if d.Name == "project" && d.Value != project {
				t.Errorf("metric %s: dimension project=%q, want %q", p.Metric, d.Value, project)
			}
		}
	}
	page := false
	own := outputs.DefaultPrefix + "targets/" + local.Region + "/" + project + "/"
	for _, k := range svc.OBS.Keys(svc.Bucket) {
		page = page || strings.HasSuffix(k, "/report.html")
		if !strings.HasPrefix(k, own) {
			t.Errorf("object %s: not under %s", k, own)
		}
	}
	if !page {
		t.Errorf("no page stored: %v", svc.OBS.Keys(svc.Bucket))
	}
}

// TestFunctionGraphOutputs: the function on FunctionGraph's runtime API
// sends its outputs with the invocation's temporary credentials, and a
// topic URN that does not parse is a configuration error naming the
// variable.
func TestFunctionGraphOutputs(t *testing.T) {
	const ak, sk, token = "FGTEMPORARYAK0000002", "fg-temporary-secret-key-0000000000000002", "fg-security-token-0002"
	_, kmsURL := newEmulator(t, ak, sk, token)
	svc, err := local.Start(local.Options{Credentials: huaweikms.Credentials{AccessKey: ak, SecretKey: sk, SecurityToken: token}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	for _, bad := range []bool{false, true} {
		api, err := runtimetest.New()
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]string{
			"RUNTIME_API_ADDR":         api.Addr(),
			"RUNTIME_TIMEOUT":          "60",
			"RUNTIME_PROJECT_ID":       emulator.DefaultProject,
			"TAGWARDEN_REGION":         local.Region,
			"TAGWARDEN_KMS_ENDPOINT":   kmsURL,
			"TAGWARDEN_POLICIES":       testPolicies(t),
			"TAGWARDEN_NOTIFY_CHANGES": "true",
		}
		for k, v := range svc.Env() {
			env[k] = v
		}
		if bad {
			env["TAGWARDEN_SMN_TOPIC"] = "urn:smn:ap-southeast-1:not a project:topic"
		}
		p := start(t, t.TempDir(), env, bootstrapBinary(t))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		res, err := api.Invoke(ctx, runtimetest.Event{RequestID: "fg-outputs", Payload: []byte(`{"action":"sweep"}`),
			Header: header("X-CFF-Access-Key", ak, "X-CFF-Secret-Key", sk, "X-CFF-Security-Token", token)})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if bad {
			e := asError(t, res.Body)
			if e.ErrorType != "ConfigurationError" || !strings.Contains(e.ErrorMessage, "TAGWARDEN_SMN_TOPIC") {
				t.Errorf("bad topic: %+v, want a ConfigurationError naming TAGWARDEN_SMN_TOPIC", e)
			}
		} else {
			checkOutputs(t, asReport(t, res.Body), svc, emulator.DefaultProject)
		}
		p.stop()
		api.Close()
	}
}

// TestLambdaOutputs: the function under the Lambda runtime interface
// emulator sends its outputs with the SDK's credential chain; without
// TAGWARDEN_PROJECT_ID its own target takes the chain's project
// (HUAWEICLOUD_SDK_PROJECT_ID), in object keys and metric dimensions.
func TestLambdaOutputs(t *testing.T) {
	_, kmsURL := newEmulator(t, emulator.DefaultAK, emulator.DefaultSK, "")
	svc, err := local.Start(local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	env := map[string]string{
		"HUAWEICLOUD_SDK_AK":         emulator.DefaultAK,
		"HUAWEICLOUD_SDK_SK":         emulator.DefaultSK,
		"HUAWEICLOUD_SDK_PROJECT_ID": emulator.DefaultProject,
		"TAGWARDEN_REGION":           local.Region,
		"TAGWARDEN_KMS_ENDPOINT":     kmsURL,
		"TAGWARDEN_POLICIES":         testPolicies(t),
		"TAGWARDEN_NOTIFY_CHANGES":   "true",
	}
	for k, v := range svc.Env() {
		env[k] = v
	}
	r := startRIE(t, bootstrapBinary(t), t.TempDir(), env)
	checkOutputs(t, asReport(t, r.invoke(t, `{"action":"sweep"}`)), svc, emulator.DefaultProject)
}
