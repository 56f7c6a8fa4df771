package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/local"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// checkPage parses a page and checks it names every key and loads nothing
// from outside.
func checkPage(t *testing.T, path string, keys ...string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if n.Data == "script" {
				t.Errorf("%s: a script element", path)
			}
			for _, a := range n.Attr {
				if a.Key == "src" || a.Key == "href" || a.Key == "srcset" || a.Key == "action" {
					t.Errorf("%s: <%s %s=%q>: an external resource", path, n.Data, a.Key, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	for _, k := range keys {
		if !bytes.Contains(b, []byte(k)) {
			t.Errorf("%s does not name %s", path, k)
		}
	}
}

// TestPlanHTML: plan --html writes the plan's page beside the table.
func TestPlanHTML(t *testing.T) {
	k := startKMS(t)
	page := filepath.Join(t.TempDir(), "plan.html")
	r := cli(t, k.env, "plan", "--endpoint", k.url, "--html", page)
	r.expect(t, 2, []string{"to change"}, nil)
	if !strings.Contains(r.stdout, "Wrote the plan's page to "+page) {
		t.Errorf("stdout does not name the page:\n%s", r.stdout)
	}
	var ids []string
	for _, key := range k.srv.Keys(emulator.DefaultProject) {
		if len(key.Tags) == 0 && key.ResourceDetail.DefaultKeyFlag != "1" {
			ids = append(ids, key.ResourceID)
		}
	}
	checkPage(t, page, ids...)
	cli(t, k.env, "plan", "--endpoint", k.url, "--html", page, "--compare", "../../policies").
		expect(t, 1, nil, []string{"--html writes the page of a plan"})
}

// storedRun stores a run of two links in the local OBS, as the function
// does, and returns the services.
func storedRun(t *testing.T) *local.Services {
	t.Helper()
	svc, err := local.Start(local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	c, err := svc.Clients()
	if err != nil {
		t.Fatal(err)
	}
	rec := outputs.New(outputs.Options{TempDir: t.TempDir()})
	target := local.Region + "/" + local.Project
	now := time.Now().UTC()
	for link := 1; link <= 2; link++ {
		kr := handler.KeyReport{KeyID: "key-" + string(rune('0'+link)), Alias: "app-" + string(rune('0'+link)), Outcome: handler.OutcomeViolation,
			Violations: []policy.Violation{{Policy: "environment", Rule: "allowed env", Tag: "env", Message: "env is not allowed"}}}
		rep := handler.Report{RequestID: "r" + string(rune('0'+link)), Mode: handler.ModeSweep, Trigger: "timer", Started: now, Finished: now,
			Scanned: 5, Compliant: 4, Violating: 1, Policies: map[string]int{"environment": 1}, Keys: []handler.KeyReport{kr},
			Run: "run-cli", Link: link, Target: target}
		if link == 1 {
			rep.Chain = &handler.ChainReport{State: handler.ChainContinued}
			rec.Link(context.Background(), c, &rep)
			continue
		}
		tot := handler.Counts{Scanned: 10, Compliant: 8, Violating: 2, Policies: map[string]int{"environment": 2}}
		rep.Totals, rep.Chain = &tot, &handler.ChainReport{State: handler.ChainDone}
		rec.End(context.Background(), c, &rep)
		for _, o := range rep.Outputs {
			if !o.OK {
				t.Fatalf("storing the run: %+v", o)
			}
		}
	}
	return svc
}

// TestReport: a stored run, read from OBS (a target's latest sweep, a
// run's folder) or from a file, shown as a plan is, or as its page.
func TestReport(t *testing.T) {
	svc := storedRun(t)
	env := []string{"HUAWEICLOUD_SDK_AK=" + emulator.DefaultAK, "HUAWEICLOUD_SDK_SK=" + emulator.DefaultSK,
		"TAGWARDEN_REGION=" + local.Region, "TAGWARDEN_OBS_ENDPOINT=" + svc.OBSURL}
	targetDir := "obs://" + svc.Bucket + "/tagwarden/targets/" + local.Region + "/" + local.Project + "/"
	for _, src := range []string{targetDir, targetDir + "runs/run-cli/", targetDir + "runs/run-cli/summary.json"} {
		r := cli(t, env, "report", src)
		r.expect(t, 2, []string{"Run run-cli of " + local.Region + "/" + local.Project + ": sweep, done", "key-1", "key-2", "app-2"}, nil)
	}
	j := cli(t, env, "report", targetDir, "-o", "json")
	if rep := decodeReport(t, j.stdout); rep.Scanned != 10 || len(rep.Keys) != 2 {
		t.Errorf("report -o json: %d scanned, %d keys; want the two links merged: 10 and 2", rep.Scanned, len(rep.Keys))
	}
	page := filepath.Join(t.TempDir(), "run.html")
	cli(t, env, "report", targetDir, "--html", page).expect(t, 0, nil, []string{"Wrote the page of run run-cli to " + page})
	checkPage(t, page, "key-1", "key-2", "environment")

	// One stored report, as a file, compressed as stored.
	obj, _, ok := svc.OBS.Object(svc.Bucket, "tagwarden/targets/"+local.Region+"/"+local.Project+"/runs/run-cli/link-0001.json.gz")
	if !ok {
		t.Fatal("link 1 not stored")
	}
	file := filepath.Join(t.TempDir(), "link-0001.json.gz")
	if err := os.WriteFile(file, obj, 0o600); err != nil {
		t.Fatal(err)
	}
	cli(t, nil, "report", file).expect(t, 2, []string{"Run run-cli", "key-1"}, nil)
	zr, err := gzip.NewReader(bytes.NewReader(obj))
	if err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer
	plain.ReadFrom(zr)
	if err := os.WriteFile(file+".json", plain.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cli(t, nil, "report", file+".json").expect(t, 2, []string{"key-1"}, nil)

	// What cannot be read says so.
	cli(t, env, "report", "obs://"+svc.Bucket+"/tagwarden/targets/eu-west-0/none/").expect(t, 1, nil, []string{"summary.json"})
	cli(t, env, "report", "obs://Not_A_Bucket/x").expect(t, 1, nil, []string{"bucket"})
	notReport := filepath.Join(t.TempDir(), "x.json")
	b, _ := json.Marshal(map[string]any{"hello": "world"})
	os.WriteFile(notReport, b, 0o600)
	cli(t, nil, "report", notReport).expect(t, 1, nil, []string{"not a tagwarden report"})
	cli(t, []string{"HUAWEICLOUD_SDK_AK=x", "HUAWEICLOUD_SDK_SK=y"}, "report", targetDir).expect(t, 1, nil, []string{"region"})
}
