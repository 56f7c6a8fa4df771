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
			rep.Reason, rep.Continuation = "report full: 1 key entry", "tok"
			rep.Totals = &handler.Counts{Scanned: 5, Compliant: 4, Violating: 1}
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
	if rep := decodeReport(t, j.stdout); rep.Link != 2 || rep.Reason != "" || rep.Totals == nil || rep.Totals.Scanned != 10 {
		t.Errorf("the merged run's link %d, reason %q, totals %+v: want the last link's", rep.Link, rep.Reason, rep.Totals)
	}
	if rep := decodeReport(t, j.stdout); rep.Scanned != 10 || len(rep.Keys) != 2 {
		t.Errorf("report -o json: %d scanned, %d keys; want the two links merged: 10 and 2", rep.Scanned, len(rep.Keys))
	}
	page := filepath.Join(t.TempDir(), "run.html")
	// As plan --html: the page written, the exit status the run's (2: keys
	// keep violations).
	cli(t, env, "report", targetDir, "--html", page).expect(t, 2, nil, []string{"Wrote the page of run run-cli to " + page})
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

// gzipped compresses b.
func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestReadReport: only a report tagwarden wrote is read; anything else is
// an error naming the file and what is wrong, never an empty view; a
// report not compressed is read within its bound.
func TestReadReport(t *testing.T) {
	valid := `{"mode":"sweep","dry_run":true,"started":"2026-12-07T02:00:00Z","finished":"2026-12-07T02:00:01Z","scanned":2,"compliant":1,` +
		`"changed":0,"planned":1,"violating":0,"failed":0,"skipped":0,"keys":[{"key_id":"k1","alias":"a","outcome":"planned"}]}`
	summary := `{"run":"r1","mode":"sweep","dry_run":false,"started":"2026-12-07T02:00:00Z","finished":"2026-12-07T02:00:01Z",` +
		`"state":"done","complete":true,"counts":{"scanned":2},"policies":null,"findings":0,"new":0,"notified":0,"suppressed":0,` +
		`"reports":["obs://b/tagwarden/targets/r/p/runs/r1/link-0001.json.gz"]}`
	tests := []struct {
		name string
		in   []byte
		want string // "" : read, with one key
	}{
		{"a report", []byte(valid), ""},
		{"a report, compressed", gzipped(t, []byte(valid)), ""},
		{"arbitrary JSON", []byte(`{"hello":"world"}`), "r.json: not a tagwarden report: no mode"},
		{"an array", []byte(`[1,2]`), "r.json: not a tagwarden report: not a JSON object"},
		{"null", []byte(`null`), "r.json: not a tagwarden report: not a JSON object"},
		{"not JSON", []byte(`hello`), "r.json: not a tagwarden report: not a JSON object"},
		{"no keys list", []byte(`{"mode":"sweep","scanned":0}`), "r.json: not a tagwarden report: no keys list"},
		{"no counts", []byte(`{"mode":"sweep","keys":[]}`), "r.json: not a tagwarden report: no counts (scanned)"},
		{"unknown mode", []byte(`{"mode":"dance","keys":[],"scanned":0}`), `r.json: not a tagwarden report: unknown mode "dance"`},
		{"empty mode", []byte(`{"mode":"","keys":[],"scanned":0}`), "r.json: not a tagwarden report: no mode"},
		{"a key without id", []byte(`{"mode":"sweep","keys":[{"alias":"a"}],"scanned":1}`), "r.json: not a tagwarden report: key entry 1 has no key_id"},
		{"a summary", []byte(summary), "r.json: a run's summary, not a report: give its OBS location"},
		{"a summary, compressed", gzipped(t, []byte(summary)), "r.json: a run's summary, not a report"},
		{"a broken gzip stream", []byte{0x1f, 0x8b, 0, 0}, "r.json: not a tagwarden report: gzip: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := readReport("r.json", bytes.NewReader(tt.in))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want the report", err)
			case tt.want == "" && (len(rep.Keys) != 1 || rep.Mode != handler.ModeSweep):
				t.Errorf("got %+v, want the sweep's one key", rep)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Errorf("got %v, want an error starting %q", err, tt.want)
			}
		})
	}
}

// TestParseSummary: a run's summary needs its run, a known mode and its
// reports list.
func TestParseSummary(t *testing.T) {
	tests := []struct {
		name, in, want string // want "": parsed
	}{
		{"a summary", `{"run":"r1","mode":"sweep","reports":["obs://b/k"]}`, ""},
		{"arbitrary JSON", `{"hello":"world"}`, "no run"},
		{"an array", `[]`, "not a JSON object of a summary's fields"},
		{"no mode", `{"run":"r1","reports":["obs://b/k"]}`, "no mode"},
		{"unknown mode", `{"run":"r1","mode":"x","reports":["obs://b/k"]}`, `unknown mode "x"`},
		{"no reports", `{"run":"r1","mode":"sweep"}`, "no reports list"},
		{"empty reports", `{"run":"r1","mode":"sweep","reports":[]}`, "no reports list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSummary([]byte(tt.in))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want the summary", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// TestReportRefuses: stored objects that are not what tagwarden writes
// are errors naming them; a summary's reports outside the bucket read are
// listed as missing, never fetched; a summary or pointer past its bound is
// not read.
func TestReportRefuses(t *testing.T) {
	svc := storedRun(t)
	env := []string{"HUAWEICLOUD_SDK_AK=" + emulator.DefaultAK, "HUAWEICLOUD_SDK_SK=" + emulator.DefaultSK,
		"TAGWARDEN_REGION=" + local.Region, "TAGWARDEN_OBS_ENDPOINT=" + svc.OBSURL}
	target := "tagwarden/targets/" + local.Region + "/" + local.Project + "/"
	link1 := "obs://" + svc.Bucket + "/" + target + "runs/run-cli/link-0001.json.gz"
	plant := func(key string, body []byte) string {
		t.Helper()
		if err := svc.OBS.SetObject(svc.Bucket, key, body, "application/json", ""); err != nil {
			t.Fatal(err)
		}
		return "obs://" + svc.Bucket + "/" + key
	}
	summary := func(reports ...string) []byte {
		b, err := json.Marshal(map[string]any{"run": "run-cli", "mode": "sweep", "state": "done", "reports": reports})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	// Reports elsewhere: listed as missing, not read; the others shown.
	elsewhere := plant(target+"runs/run-x/summary.json", summary(link1,
		"obs://another-bucket/"+target+"runs/run-cli/link-0002.json.gz", "https://example.com/link.json.gz", "obs://"+svc.Bucket))
	svc.OBS.ResetCalls()
	r := cli(t, env, "report", elsewhere)
	r.expect(t, 1, []string{"key-1",
		"Missing: obs://another-bucket/" + target + "runs/run-cli/link-0002.json.gz: in another bucket than " + svc.Bucket + ": not read",
		"Missing: https://example.com/link.json.gz: not an obs:// location",
		"Missing: obs://" + svc.Bucket + ": names no object"},
		[]string{"3 of the run's reports could not be read"})
	if strings.Contains(r.stdout, "key-2") {
		t.Errorf("showed a key of a report in another bucket:\n%s", r.stdout)
	}
	if c := svc.OBS.Calls(); c.Status[404] != 0 || c.Status[200] != 2 {
		t.Errorf("OBS answered %v: want the summary and the one report in the bucket read, nothing else asked", c.Status)
	}

	// A report listed twice is read once; another run's report is not
	// read into this one.
	other := plant(target+"runs/run-o/link-0001.json", []byte(`{"mode":"sweep","run":"run-o","link":1,"scanned":7,"keys":[{"key_id":"key-other","outcome":"compliant"}]}`))
	twice := plant(target+"runs/run-t/summary.json", summary(link1, link1, other))
	r = cli(t, env, "report", twice)
	r.expect(t, 1, []string{"key-1", "listed twice in the summary", `the report of run "run-o"`}, nil)
	if strings.Contains(r.stdout, "key-other") || strings.Count(r.stdout, "key-1") != 1 {
		t.Errorf("a report read twice or another run's read:\n%s", r.stdout)
	}

	// Objects that are not what tagwarden writes.
	for _, tc := range []struct {
		name, key string
		body      []byte
		want      string
	}{
		{"summary arbitrary JSON", target + "runs/run-a/summary.json", []byte(`{"hello":"world"}`), "runs/run-a/summary.json: not a tagwarden run summary: no run"},
		{"summary not JSON", target + "runs/run-b/summary.json", []byte(`hello`), "runs/run-b/summary.json: not a tagwarden run summary"},
		{"summary without reports", target + "runs/run-c/summary.json", []byte(`{"run":"run-c","mode":"sweep"}`), "runs/run-c/summary.json: not a tagwarden run summary: no reports list"},
		{"summary too large", target + "runs/run-d/summary.json", append(summary(link1), bytes.Repeat([]byte(" "), maxSmallJSON)...), "runs/run-d/summary.json: larger than 8 MiB: not a run summary tagwarden wrote"},
		{"report arbitrary JSON", target + "runs/run-e/link-0001.json.gz", []byte(`{"hello":"world"}`), "runs/run-e/link-0001.json.gz: not a tagwarden report: no mode"},
		{"report a summary", target + "runs/run-f/link-0001.json", summary(link1), "runs/run-f/link-0001.json: a run's summary, not a report"},
		{"latest arbitrary JSON", "tagwarden/targets/eu-west-0/p1/latest.json", []byte(`{"hello":"world"}`), "eu-west-0/p1/latest.json: not a tagwarden latest pointer: no run or mode"},
		{"latest too large", "tagwarden/targets/eu-west-0/p2/latest.json", bytes.Repeat([]byte(" "), maxSmallJSON+1), "eu-west-0/p2/latest.json: larger than 8 MiB: not a latest pointer tagwarden wrote"},
		{"latest to another bucket", "tagwarden/targets/eu-west-0/p3/latest.json",
			[]byte(`{"run":"r","mode":"sweep","sweep":{"run":"r","summary":"obs://another-bucket/tagwarden/targets/eu-west-0/p3/runs/r/summary.json"}}`),
			"eu-west-0/p3/latest.json: its sweep's summary \"obs://another-bucket/tagwarden/targets/eu-west-0/p3/runs/r/summary.json\": in another bucket than " + svc.Bucket},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc := plant(tc.key, tc.body)
			if strings.HasSuffix(loc, "latest.json") {
				loc = strings.TrimSuffix(loc, "latest.json")
			}
			cli(t, env, "report", loc).expect(t, 1, nil, []string{tc.want})
		})
	}

	// A summary as a local file: not a report, and said so.
	b, _, _ := svc.OBS.Object(svc.Bucket, target+"runs/run-cli/summary.json")
	file := filepath.Join(t.TempDir(), "summary.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cli(t, nil, "report", file).expect(t, 1, nil, []string{file + ": a run's summary, not a report"})
	cli(t, nil, "report", filepath.Dir(file)).expect(t, 1, nil, []string{"is a folder"})

	// An OBS endpoint that the SDK cannot take is named by where it came
	// from, its password never repeated.
	cli(t, env, "report", "--obs-endpoint", svc.OBSURL+"/obs", elsewhere).
		expect(t, 1, nil, []string{`--obs-endpoint="` + svc.OBSURL + `/obs": the OBS endpoint has a path`})
	r = cli(t, []string{"TAGWARDEN_OBS_ENDPOINT=http://u:hunter2@127.0.0.1:1/x"}, "report", "--region", local.Region, elsewhere)
	r.expect(t, 1, nil, []string{`TAGWARDEN_OBS_ENDPOINT="http://xxxxx@127.0.0.1:1/x": the OBS endpoint holds a user name or password`})
	if strings.Contains(r.stderr, "hunter2") {
		t.Errorf("the error repeats the password: %s", r.stderr)
	}
}
