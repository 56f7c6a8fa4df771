package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/functiongraph/runtimetest"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator/emulatortest"
	"github.com/tagwarden/tagwarden/adapters/selfinvoke"
	"github.com/tagwarden/tagwarden/adapters/selfinvoke/fgasync"
	"github.com/tagwarden/tagwarden/adapters/selfinvoke/lambdaasync"
	"github.com/tagwarden/tagwarden/adapters/targets/iamemu"
	"github.com/tagwarden/tagwarden/handler"
)

// An organisation of three targets in two regions: two KMS emulators, the
// first serving two projects.
const (
	orgRegionA  = "ap-southeast-1"
	orgRegionB  = "cn-north-4"
	orgProjectA = "0a000000000000000000000000000001"
	orgProjectB = "0a000000000000000000000000000002"
	orgProjectC = "0c000000000000000000000000000003"
	orgKeys     = 40 // per target, each untagged: one write each
	orgPerLink  = 10 // TAGWARDEN_MAX_REPORT_KEYS: a link decides at most this many
	orgAK       = "ORGTEMPORARYAK000001"
	orgSK       = "org-temporary-secret-key-000000000000001"
	orgToken    = "org-security-token-0001"
	orgContKey  = "0123456789abcdef0123456789abcdef-org"
)

// org is the two regions' emulators, with the keys of each project.
type org struct {
	a, b       *emulator.Server
	urlA, urlB string
}

func newOrg(t *testing.T, token string) org {
	t.Helper()
	seed := func(project string, n int) []emulator.SeedKey {
		var ks []emulator.SeedKey
		for i := range n {
			k := seedKey(fmt.Sprintf("%s-%04d", project[:4], i)+"-0000-4000-8000-000000000000", fmt.Sprintf("app-%d", i), nil)
			k.ProjectID = project
			ks = append(ks, k)
		}
		return ks
	}
	var o org
	o.a, o.urlA = emulatortest.Start(t, emulator.Options{Projects: []string{orgProjectA, orgProjectB},
		AccessKey: orgAK, SecretKey: orgSK, SecurityToken: token, Seed: append(seed(orgProjectA, orgKeys), seed(orgProjectB, orgKeys)...)})
	o.b, o.urlB = emulatortest.Start(t, emulator.Options{Projects: []string{orgProjectC},
		AccessKey: orgAK, SecretKey: orgSK, SecurityToken: token, Seed: seed(orgProjectC, orgKeys)})
	return o
}

// targets is TAGWARDEN_TARGETS for the organisation.
func (o org) targets() string {
	return fmt.Sprintf("%s/%s=%s,%s/%s=%s,%s/%s=%s", orgRegionA, orgProjectA, o.urlA, orgRegionA, orgProjectB, o.urlA, orgRegionB, orgProjectC, o.urlB)
}

// check checks that every key of every target was written exactly once and
// now has an owner.
func (o org) check(t *testing.T) {
	t.Helper()
	for _, s := range []struct {
		srv      *emulator.Server
		projects []string
	}{{o.a, []string{orgProjectA, orgProjectB}}, {o.b, []string{orgProjectC}}} {
		if w := s.srv.Stats().Writes; w != orgKeys*len(s.projects) {
			t.Errorf("%v: %d writes, want %d (one per key)", s.projects, w, orgKeys*len(s.projects))
		}
		for _, p := range s.projects {
			for _, k := range s.srv.Keys(p) {
				if tagValue(k, "owner") == "" {
					t.Errorf("%s: key %s has no owner: %v", p, k.ResourceID, k.Tags)
				}
			}
		}
	}
}

func tagValue(k emulator.SeedKey, name string) string {
	for _, tg := range k.Tags {
		if tg.Key == name {
			return tg.Value
		}
	}
	return ""
}

// checkStory checks the reports of a run's invocations: one fan-out to
// the three targets, then each target's chain of links ending done with
// totals counting every key once; duplicates did nothing.
func checkStory(t *testing.T, bodies [][]byte, dup bool) {
	t.Helper()
	var fanouts, dups int
	links := map[string]map[int]int{}
	done := map[string]*handler.Counts{}
	for _, b := range bodies {
		rep := asReport(t, b)
		switch {
		case rep.Chain != nil && rep.Chain.State == handler.ChainDuplicate:
			dups++
			if rep.Scanned != 0 || len(rep.Targets) != 0 {
				t.Errorf("a duplicate did something: %s", b)
			}
			continue
		case rep.Mode == handler.ModeFanout:
			fanouts++
			for _, tr := range rep.Targets {
				if !tr.Dispatched {
					t.Errorf("fan-out: %+v", tr)
				}
			}
			continue
		case rep.Chain == nil:
			t.Errorf("a link without chain: %s", b)
			continue
		}
		if links[rep.Target] == nil {
			links[rep.Target] = map[int]int{}
		}
		links[rep.Target][rep.Link]++
		if rep.Chain.State == handler.ChainDone {
			done[rep.Target] = rep.Totals
		}
		if rep.Error != "" {
			t.Errorf("%s link %d: %s", rep.Target, rep.Link, rep.Error)
		}
	}
	if fanouts != 1 || len(links) != 3 {
		t.Fatalf("%d fan-outs, %d targets linked; want 1 and 3", fanouts, len(links))
	}
	for target, ls := range links {
		for l := 1; l <= len(ls); l++ {
			if ls[l] != 1 {
				t.Errorf("%s: link %d served %d times (links %v)", target, l, ls[l], ls)
			}
		}
		if len(ls) < orgKeys/orgPerLink {
			t.Errorf("%s: %d links, want at least %d", target, len(ls), orgKeys/orgPerLink)
		}
		if tot := done[target]; tot == nil || tot.Scanned != orgKeys || tot.Changed != orgKeys {
			t.Errorf("%s: the last link's totals %+v, want %d keys scanned and changed", target, tot, orgKeys)
		}
	}
	if dup && dups != len(bodies)/2 {
		t.Errorf("%d of %d deliveries answered as duplicates, want half", dups, len(bodies))
	}
	t.Logf("%d invocations: 1 fan-out, links %v, %d duplicates", len(bodies), links, dups)
}

// TestFunctionGraphOrganisation: the real bootstrap on the FunctionGraph
// runtime API, a timer sweep of three targets in two regions: it fans out
// through the SDK's AsyncInvokeFunction to the local asynchronous
// endpoint, which runs each link through the runtime loop again; every
// target's sweep continues itself link by link until done; every key is
// written once. Delivered twice, every link still writes once and the
// chains do not fork. With targets auto, the projects come from IAM.
func TestFunctionGraphOrganisation(t *testing.T) {
	for _, tc := range []struct {
		name      string
		duplicate bool
		auto      bool
	}{
		{name: "targets listed"},
		{name: "every link delivered twice", duplicate: true},
		{name: "targets auto"},
		{name: "two bad targets beside the others"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.auto = tc.name == "targets auto"
			o := newOrg(t, orgToken)
			rt, err := runtimetest.New()
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Close()
			signer := emulator.Signer{AccessKey: orgAK, SecretKey: orgSK, SecurityToken: orgToken}
			creds := selfinvoke.Credentials{AccessKey: orgAK, SecretKey: orgSK, SecurityToken: orgToken}
			fg, err := fgasync.New(fgasync.Options{Signer: signer, ProjectID: orgProjectA, FunctionCredentials: creds, Duplicate: tc.duplicate})
			if err != nil {
				t.Fatal(err)
			}
			defer fg.Close()
			urn := selfinvoke.URN{Region: orgRegionA, ProjectID: orgProjectA, Package: "default", Name: "tagwarden", Version: "latest"}
			if err := fg.Register(urn, rt); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{
				"RUNTIME_API_ADDR":                 rt.Addr(),
				"RUNTIME_TIMEOUT":                  "60",
				"RUNTIME_PROJECT_ID":               orgProjectA,
				"RUNTIME_PACKAGE":                  "default",
				"RUNTIME_FUNC_NAME":                "tagwarden",
				"RUNTIME_FUNC_VERSION":             "latest",
				"TAGWARDEN_REGION":                 orgRegionA,
				"TAGWARDEN_TARGETS":                o.targets(),
				"TAGWARDEN_FUNCTIONGRAPH_ENDPOINT": fg.URL(),
				"TAGWARDEN_MAX_REPORT_KEYS":        fmt.Sprint(orgPerLink),
				"TAGWARDEN_CONTINUATION_KEY":       orgContKey,
			}
			if tc.auto {
				iam, err := iamemu.New(iamemu.Options{AccessKey: orgAK, SecretKey: orgSK, SecurityToken: orgToken, Projects: []iamemu.Project{
					{ID: orgProjectA, Name: orgRegionA, Enabled: true},
					{ID: orgProjectB, Name: orgRegionA + "_team", Enabled: true},
					{ID: orgProjectC, Name: orgRegionB, Enabled: true},
					{ID: "0d000000000000000000000000000004", Name: "eu-west-0", Enabled: true}, // filtered out
				}})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := iam.Listen("127.0.0.1:0"); err != nil {
					t.Fatal(err)
				}
				defer iam.Close()
				env["TAGWARDEN_TARGETS"] = "auto"
				env["TAGWARDEN_TARGET_REGIONS"] = orgRegionA + "|" + orgRegionB
				env["TAGWARDEN_KMS_ENDPOINTS"] = fmt.Sprintf("%s=%s,%s=%s", orgRegionA, o.urlA, orgRegionB, o.urlB)
				env["TAGWARDEN_IAM_ENDPOINT"] = iam.URL()
			}
			bad := tc.name == "two bad targets beside the others"
			if bad {
				// A target whose endpoint does not answer, and one in a
				// region the SDK does not know.
				env["TAGWARDEN_TARGETS"] += ",eu-west-0/0e000000000000000000000000000005=http://127.0.0.1:1,xx-nowhere-9/0f000000000000000000000000000006"
			}
			p := start(t, t.TempDir(), env, bootstrapBinary(t))

			// The timer, as FunctionGraph invokes it: asynchronously.
			d, err := selfinvoke.NewFunctionGraph(selfinvoke.FunctionGraphConfig{URN: urn, Endpoint: fg.URL(), Credentials: creds})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if _, err := d.Dispatch(ctx, []byte(`{"version":"v1.0","time":"2026-12-07T10:00:00+08:00","trigger_type":"TIMER","trigger_name":"sweep","user_event":""}`)); err != nil {
				t.Fatal(err)
			}
			if err := fg.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			var bodies [][]byte
			for _, inv := range fg.Invocations() {
				for _, del := range inv.Deliveries {
					if del.Err != nil || del.Error {
						t.Fatalf("invocation %s: %v %s", inv.RequestID, del.Err, del.Result)
					}
					bodies = append(bodies, del.Result)
				}
			}
			if bad {
				bodies = checkBadTargets(t, bodies)
			}
			checkStory(t, bodies, tc.duplicate)
			o.check(t)
			checkLogs(t, p.out.String)
		})
	}
}

// checkBadTargets checks that the two bad targets were each reported,
// naming the target and why, and returns the other invocations' bodies
// (the fan-out's with the bad targets taken out).
func checkBadTargets(t *testing.T, bodies [][]byte) [][]byte {
	t.Helper()
	var rest [][]byte
	seen := map[string]bool{}
	for _, b := range bodies {
		rep := asReport(t, b)
		switch {
		case rep.Mode == handler.ModeFanout:
			n := len(rep.Targets)
			rep.Targets = slicesDeleteFunc(rep.Targets, func(tr handler.TargetReport) bool {
				return strings.HasPrefix(tr.Target, "eu-west-0/") || strings.HasPrefix(tr.Target, "xx-nowhere-9/")
			})
			if n != 5 || len(rep.Targets) != 3 {
				t.Errorf("fan-out of %d targets, want 5", n)
			}
			b, _ = json.Marshal(rep)
		case strings.HasPrefix(rep.Target, "eu-west-0/"):
			seen["dead"] = true
			t.Logf("%s: %s", rep.Target, rep.Error)
			if rep.Error == "" || rep.Chain == nil || rep.Chain.State != handler.ChainFailed || rep.Scanned != 0 {
				t.Errorf("target that does not answer: error %q chain %+v", rep.Error, rep.Chain)
			}
			continue
		case strings.HasPrefix(rep.Target, "xx-nowhere-9/"):
			seen["region"] = true
			t.Logf("%s: %s", rep.Target, rep.Error)
			if !strings.Contains(rep.Error, "xx-nowhere-9") || rep.Chain == nil || rep.Chain.State != handler.ChainRefused {
				t.Errorf("unknown region: error %q chain %+v", rep.Error, rep.Chain)
			}
			continue
		}
		rest = append(rest, b)
	}
	if !seen["dead"] || !seen["region"] {
		t.Errorf("bad targets reported: %v", seen)
	}
	return rest
}

func slicesDeleteFunc[T any](s []T, del func(T) bool) []T {
	var out []T
	for _, v := range s {
		if !del(v) {
			out = append(out, v)
		}
	}
	return out
}

// checkLogs checks the function's log lines: every link logs its run,
// target and number, and each target's last link its totals. The lines
// reach logs through a pipe: the last may come a moment after the
// invocation's result, so it waits for them a little.
func checkLogs(t *testing.T, logs func() string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Count(logs(), `"state":"done"`) >= 3 {
			break
		}
	}
	checkLogLines(t, logs())
}

func checkLogLines(t *testing.T, logs string) {
	t.Helper()
	ends := 0
	totals := 0
	for _, line := range strings.Split(logs, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["event"] != "link_end" {
			continue
		}
		ends++
		if m["run"] == "" || m["target"] == "" || m["link"] == nil {
			t.Errorf("link_end without run, target or link: %s", line)
		}
		if m["state"] == handler.ChainDone {
			if tot, ok := m["totals"].(map[string]any); !ok || tot["scanned"] != float64(orgKeys) {
				t.Errorf("the last link logs totals %v: %s", m["totals"], line)
			}
			totals++
		}
	}
	if ends == 0 || totals != 3 {
		t.Errorf("%d link_end lines, %d with the totals of a finished target; want 3", ends, totals)
	}
}

// TestLambdaOrganisation: the real bootstrap under the AWS Lambda runtime
// interface emulator; the fan-out and every continuation go through
// aws-sdk-go-v2's Invoke (InvocationType Event) to the local Lambda
// endpoint, which runs them, one at a time, through the emulator again.
func TestLambdaOrganisation(t *testing.T) {
	const awsAK, awsSK = "AKIAORGTEST000000001", "org-aws-secret-key-0000000000000000000001"
	o := newOrg(t, "")
	la, err := lambdaasync.New(lambdaasync.Options{Region: "us-east-1", AccountID: "012345678912", AccessKey: awsAK, SecretKey: awsSK})
	if err != nil {
		t.Fatal(err)
	}
	defer la.Close()
	r := startRIE(t, bootstrapBinary(t), t.TempDir(), map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":   "tagwarden",
		"AWS_REGION":                 "us-east-1",
		"AWS_ACCESS_KEY_ID":          awsAK,
		"AWS_SECRET_ACCESS_KEY":      awsSK,
		"AWS_ENDPOINT_URL_LAMBDA":    la.URL(),
		"HUAWEICLOUD_SDK_AK":         orgAK,
		"HUAWEICLOUD_SDK_SK":         orgSK,
		"TAGWARDEN_REGION":           orgRegionA,
		"TAGWARDEN_TARGETS":          o.targets(),
		"TAGWARDEN_MAX_REPORT_KEYS":  fmt.Sprint(orgPerLink),
		"TAGWARDEN_CONTINUATION_KEY": orgContKey,
	})
	if err := la.Register("tagwarden", r.Invoke); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", awsAK)
	t.Setenv("AWS_SECRET_ACCESS_KEY", awsSK)
	d, err := selfinvoke.NewLambda(context.Background(), selfinvoke.LambdaConfig{FunctionName: la.ARN("tagwarden"), Region: "us-east-1", Endpoint: la.URL()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := d.Dispatch(ctx, []byte(`{"action":"sweep"}`)); err != nil {
		t.Fatal(err)
	}
	if err := la.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	var bodies [][]byte
	for _, inv := range la.Invocations() {
		for _, del := range inv.Deliveries {
			if del.Err != nil || del.Error {
				t.Fatalf("invocation %s: %v %s", inv.RequestID, del.Err, del.Result)
			}
			bodies = append(bodies, del.Result)
		}
	}
	checkStory(t, bodies, false)
	o.check(t)
	checkLogs(t, r.Output)
}
