package main

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/adapters/functiongraph/runtimetest"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator/emulatortest"
	"github.com/tagwarden/tagwarden/handler"
)

// maxZip is the size the package aims to stay under (function.zip.mk warns
// above it). Self-invocation brings in the AWS SDK's Lambda client and the
// Huawei SDK's FunctionGraph and IAM clients: about 2 MiB of the zip. The
// platforms take far more (FunctionGraph 40 MB through the console, Lambda
// 50 MB); the bound is there to notice growth.
const maxZip = 8 << 20

// makeZip runs function.zip.mk, as a user would, writing into dist.
func makeZip(t *testing.T, dist string, vars ...string) string {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed: the package is built by function.zip.mk")
	}
	args := append([]string{"-s", "-C", "../..", "-f", "function.zip.mk", "DIST=" + dist}, vars...)
	out, err := exec.Command("make", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return filepath.Join(dist, "function.zip")
}

// unzip extracts a zip with its modes and returns the entries' modes.
func unzip(t *testing.T, zipPath, dir string) map[string]fs.FileMode {
	t.Helper()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	modes := map[string]fs.FileMode{}
	for _, f := range zr.File {
		modes[f.Name] = f.Mode()
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if !strings.HasPrefix(p, filepath.Clean(dir)+string(os.PathSeparator)) {
			t.Fatalf("entry %s escapes the folder", f.Name)
		}
		if f.Mode().IsDir() {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, f.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return modes
}

func crcOf(t *testing.T, zipPath, name string) uint32 {
	t.Helper()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name == name {
			return f.CRC32
		}
	}
	t.Fatalf("%s has no %s", zipPath, name)
	return 0
}

// differing names the entries whose content or header differs.
func differing(t *testing.T, a, b string) []string {
	t.Helper()
	za, err := zip.OpenReader(a)
	if err != nil {
		t.Fatal(err)
	}
	defer za.Close()
	zb, err := zip.OpenReader(b)
	if err != nil {
		t.Fatal(err)
	}
	defer zb.Close()
	type sum struct {
		CRC      uint32
		Size     uint64
		Mode     fs.FileMode
		Modified time.Time
	}
	sums := func(r *zip.ReadCloser) map[string]sum {
		out := map[string]sum{}
		for _, f := range r.File {
			out[f.Name] = sum{f.CRC32, f.UncompressedSize64, f.Mode(), f.Modified}
		}
		return out
	}
	sa, sb := sums(za), sums(zb)
	var names []string
	for n := range sa {
		if sa[n] != sb[n] {
			names = append(names, n)
		}
	}
	for n := range sb {
		if _, ok := sa[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// sampleEmulator is a KMS emulator with realistic sample keys.
func sampleEmulator(t *testing.T, ak, sk, token string) (*emulator.Server, string) {
	t.Helper()
	return emulatortest.Start(t, emulator.Options{AccessKey: ak, SecretKey: sk, SecurityToken: token, Seed: emulator.SampleKeys(40, 7)})
}

// sweepTwice checks the artifact on one platform: a dry run plans changes
// and writes nothing, the sweep applies exactly those, and a second dry run
// finds nothing left to change.
func sweepTwice(t *testing.T, kms *emulator.Server, dryRun, sweep func() handler.Report) {
	t.Helper()
	before := snapshot(kms)
	plan := dryRun()
	if !plan.DryRun || plan.Planned == 0 || plan.Scanned != len(before) {
		t.Fatalf("dry run: got %+v, want changes planned over all %d keys", plan, len(before))
	}
	if diff := cmp.Diff(before, snapshot(kms)); diff != "" {
		t.Fatalf("the dry run changed keys (-before +after):\n%s", diff)
	}
	applied := sweep()
	if applied.DryRun || applied.Changed != plan.Planned || applied.Failed != 0 {
		t.Errorf("sweep: got changed %d failed %d, want the %d planned changes applied", applied.Changed, applied.Failed, plan.Planned)
	}
	if kms.Stats().Writes == 0 {
		t.Error("the emulator saw no tag write")
	}
	again := dryRun()
	if again.Planned != 0 || again.Changed != 0 || again.Failed != 0 {
		t.Errorf("dry run after the sweep: got %+v, want nothing left to change", again)
	}
}

// TestArtifact builds dist/function.zip with function.zip.mk twice (the
// bytes must match), unzips it, and runs ITS bootstrap, with the policies
// of its policies/ folder, under the Lambda runtime interface emulator and
// under the FunctionGraph runtime API test server, against the KMS emulator.
func TestArtifact(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package twice")
	}
	zip1 := makeZip(t, t.TempDir())
	zip2 := makeZip(t, t.TempDir())
	b1, err := os.ReadFile(zip1)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := os.ReadFile(zip2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1, b2) {
		t.Fatalf("two builds of function.zip differ: entries %v (was a source file edited meanwhile?)", differing(t, zip1, zip2))
	}
	t.Logf("function.zip: %d bytes", len(b1))
	if len(b1) > maxZip {
		t.Errorf("function.zip is %d bytes, want under %d", len(b1), maxZip)
	}

	dir := t.TempDir()
	modes := unzip(t, zip1, dir)
	if m := modes["bootstrap"]; m != 0o755 {
		t.Errorf("bootstrap mode %v, want 0755", m)
	}
	var shipped, policies []string
	for name := range modes {
		if strings.HasPrefix(name, "policies/") && name != "policies/" {
			shipped = append(shipped, strings.TrimPrefix(name, "policies/"))
		}
	}
	repo, _ := filepath.Glob("../../policies/*.yaml")
	for _, p := range repo {
		if !strings.HasSuffix(p, "_test.yaml") {
			policies = append(policies, filepath.Base(p))
		}
	}
	sort.Strings(shipped)
	if diff := cmp.Diff(policies, shipped); diff != "" {
		t.Errorf("the zip's policies/ differ from the repository's policies (-repo +zip):\n%s", diff)
	}
	bootstrap := filepath.Join(dir, "bootstrap")

	t.Run("lambda", func(t *testing.T) {
		kms, kmsURL := sampleEmulator(t, emulator.DefaultAK, emulator.DefaultSK, "")
		r := startRIE(t, bootstrap, dir, map[string]string{
			"LAMBDA_TASK_ROOT":           dir, // as on Lambda: the zip's policies/ is found there
			"HUAWEICLOUD_SDK_AK":         emulator.DefaultAK,
			"HUAWEICLOUD_SDK_SK":         emulator.DefaultSK,
			"HUAWEICLOUD_SDK_PROJECT_ID": emulator.DefaultProject,
			"TAGWARDEN_KMS_ENDPOINT":     kmsURL,
			"TAGWARDEN_RATE_LIMIT":       "500",
		})
		sweepTwice(t, kms,
			func() handler.Report { return asReport(t, r.invoke(t, `{"action":"sweep","dry_run":true}`)) },
			func() handler.Report { return asReport(t, r.invoke(t, eventFixture(t, "scheduled-event.json"))) })
		if out := r.Output(); !strings.Contains(out, filepath.Join(dir, "policies")) {
			t.Errorf("the log does not show the zip's policies/ loaded:\n%s", out)
		}
	})

	t.Run("functiongraph", func(t *testing.T) {
		const ak, sk, token = "FGARTIFACTAK00000001", "fg-artifact-secret-key-00000000000000001", "fg-artifact-token"
		kms, kmsURL := sampleEmulator(t, ak, sk, token)
		api, err := runtimetest.New()
		if err != nil {
			t.Fatal(err)
		}
		defer api.Close()
		p := start(t, dir, map[string]string{
			"RUNTIME_API_ADDR":       api.Addr(),
			"RUNTIME_TIMEOUT":        "60",
			"RUNTIME_PROJECT_ID":     emulator.DefaultProject,
			"RUNTIME_CODE_ROOT":      dir, // as on FunctionGraph: the zip's policies/ is found there
			"TAGWARDEN_KMS_ENDPOINT": kmsURL,
			"TAGWARDEN_RATE_LIMIT":   "500",
		}, bootstrap)
		n := 0
		invoke := func(payload string) handler.Report {
			t.Helper()
			n++
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			res, err := api.Invoke(ctx, runtimetest.Event{
				RequestID: "artifact-" + string(rune('a'+n)), Payload: []byte(payload),
				Header: header("X-CFF-Access-Key", ak, "X-CFF-Secret-Key", sk, "X-CFF-Security-Token", token),
			})
			if err != nil {
				t.Fatal(err)
			}
			return asReport(t, res.Body)
		}
		sweepTwice(t, kms,
			func() handler.Report { return invoke(eventFixture(t, "timer-manual-dry-run.json")) },
			func() handler.Report { return invoke(eventFixture(t, "timer.json")) })
		if out := p.out.String(); !strings.Contains(out, filepath.Join(dir, "policies")) {
			t.Errorf("the log does not show the zip's policies/ loaded:\n%s", out)
		}
	})

	t.Run("repack replaces the policies, not the binary", func(t *testing.T) {
		dist := filepath.Dir(zip1)
		pol, err := filepath.Abs("testdata/policies")
		if err != nil {
			t.Fatal(err)
		}
		repacked := makeZip(t, dist, "repack", "POLICIES="+pol)
		if crcOf(t, repacked, "bootstrap") != crcOf(t, zip2, "bootstrap") {
			t.Error("repack changed the bootstrap binary")
		}
		modes := unzip(t, repacked, t.TempDir())
		var names []string
		for name := range modes {
			names = append(names, name)
		}
		sort.Strings(names)
		if diff := cmp.Diff([]string{"bootstrap", "policies/", "policies/owner.yaml"}, names); diff != "" {
			t.Errorf("repacked entries mismatch (-want +got):\n%s", diff)
		}
	})
}
