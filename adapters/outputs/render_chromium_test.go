//go:build linux || darwin

package outputs

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"
)

// chromiumTestBinary finds a Chromium or Chrome on PATH.
func chromiumTestBinary(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium, chromium-browser or google-chrome on PATH: the page is not opened in a browser (apt-get install chromium)")
	return ""
}

// chromiumTestRun opens the file in headless Chromium with every host
// name unresolvable and the browser's own background traffic off, and
// returns what it printed, its log, and the page's network requests from
// the browser's net log (each as "initiator url").
func chromiumTestRun(t *testing.T, bin, file string, args ...string) (stdout, stderr string, pageRequests []string) {
	t.Helper()
	dir := t.TempDir()
	netlog := filepath.Join(dir, "netlog.json")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	all := append([]string{
		"--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--no-default-browser-check",
		"--user-data-dir=" + filepath.Join(dir, "profile"),
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
		"--disable-default-apps", "--disable-breakpad", "--disable-domain-reliability",
		"--host-resolver-rules=MAP * ~NOTFOUND",
		"--log-net-log=" + netlog,
		"--enable-logging=stderr", "--v=0",
	}, args...)
	all = append(all, "file://"+file)
	cmd := exec.CommandContext(ctx, bin, all...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s %s: %v in %v", filepath.Base(bin), strings.Join(args, " "), err, time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, chromiumTestLog(errb.String()))
	}
	return out.String(), errb.String(), chromiumTestPageRequests(t, netlog)
}

// chromiumTestPageRequests reads the net log: requests a page starts have
// its origin as initiator ("null" for a file), the browser's own "not an
// origin".
func chromiumTestPageRequests(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("net log: %v", err)
	}
	var log struct {
		Constants struct {
			LogEventTypes map[string]int `json:"logEventTypes"`
		} `json:"constants"`
		Events []struct {
			Type   int `json:"type"`
			Params struct {
				URL       string `json:"url"`
				Initiator string `json:"initiator"`
			} `json:"params"`
		} `json:"events"`
	}
	// A browser killed before its end leaves the log unclosed.
	if err := json.Unmarshal(raw, &log); err != nil {
		fixed := strings.TrimRight(strings.TrimSpace(string(raw)), ",") + "]}"
		if err := json.Unmarshal([]byte(fixed), &log); err != nil {
			t.Fatalf("net log: %v", err)
		}
	}
	start, ok := log.Constants.LogEventTypes["URL_REQUEST_START_JOB"]
	if !ok {
		t.Fatal("net log without URL_REQUEST_START_JOB events")
	}
	var out []string
	for _, e := range log.Events {
		if e.Type == start && e.Params.URL != "" && e.Params.Initiator != "not an origin" {
			out = append(out, e.Params.Initiator+" "+e.Params.URL)
		}
	}
	return out
}

// chromiumTestLog is the browser's log without the D-Bus noise of a
// machine with no session bus.
func chromiumTestLog(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.Contains(l, "dbus") && !strings.Contains(l, "D-Bus") && strings.TrimSpace(l) != "" {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// TestWritePageInChromium opens the page from a file in headless Chromium
// (when one is installed): the DOM it builds has the counts, the bars, the
// keys and their findings, nothing runs or is fetched, and the page makes
// no network request. A control page with external references shows that
// the net log sees such requests.
func TestWritePageInChromium(t *testing.T) {
	bin := chromiumTestBinary(t)
	dir := t.TempDir()

	s, hostile := renderHostile()
	findings := append(renderTestFindings(), hostile...)
	var page bytes.Buffer
	if err := WritePage(&page, s, slices.Values(findings)); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, page.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	dom, stderr, requests := chromiumTestRun(t, bin, file, "--dump-dom")
	if len(requests) != 0 {
		t.Errorf("the page made network requests: %q", requests)
	}
	log := chromiumTestLog(stderr)
	for _, bad := range []string{"Content Security Policy", "Content-Security-Policy", "net::ERR_", "Uncaught"} {
		if strings.Contains(log, bad) {
			t.Errorf("the browser's log has %q:\n%s", bad, log)
		}
	}
	doc, err := html.Parse(strings.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	if len(pageTestAll(doc, pageTestElem("body"))) != 1 || !strings.Contains(dom, "Generated by tagwarden") {
		t.Fatalf("chromium's DOM is not the page:\n%.2000s", dom)
	}
	pageTestSafe(t, doc)
	if diff := cmp.Diff(pageTestWantCounts(s.Counts), pageTestCounts(t, doc)); diff != "" {
		t.Errorf("counts in chromium's DOM (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(pageTestWantBars(s.Policies), pageTestBars(t, doc),
		cmp.Comparer(func(a, b float64) bool { return a-b < 0.051 && b-a < 0.051 })); diff != "" {
		t.Errorf("bars in chromium's DOM (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(pageTestWant(findings), pageTestGroups(doc)); diff != "" {
		t.Errorf("groups in chromium's DOM (-want +got):\n%s", diff)
	}
	for _, f := range findings {
		if !strings.Contains(pageTestText(doc), renderTestText(f.KeyID)) {
			t.Errorf("key id %q not in chromium's DOM", f.KeyID)
		}
	}

	// A screenshot: the page lays out and paints from the file alone.
	shot := filepath.Join(dir, "report.png")
	_, _, requests = chromiumTestRun(t, bin, file, "--screenshot="+shot, "--window-size=1280,2400", "--hide-scrollbars")
	if len(requests) != 0 {
		t.Errorf("the page made network requests for the screenshot: %q", requests)
	}
	if png, err := os.ReadFile(shot); err != nil || len(png) < 10_000 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("screenshot: %d bytes, %v", len(png), err)
	}
	if keep := os.Getenv("TAGWARDEN_RENDER_KEEP"); keep != "" {
		for _, f := range []string{file, shot} {
			b, _ := os.ReadFile(f)
			if err := os.WriteFile(filepath.Join(keep, filepath.Base(f)), b, 0o644); err != nil {
				t.Error(err)
			}
		}
	}

	// The control: a page that does fetch shows in the net log.
	control := filepath.Join(dir, "control.html")
	if err := os.WriteFile(control, []byte(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>control</title>`+
		`<link rel="stylesheet" href="http://tagwarden-control.example/x.css"></head>`+
		`<body><img alt="" src="https://tagwarden-control.example/y.png"></body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, requests = chromiumTestRun(t, bin, control, "--dump-dom")
	if len(requests) < 2 {
		t.Errorf("control: the net log shows %q, not the page's two requests: the check above proves nothing", requests)
	}
}
