package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/cmd/internal/lambdarie"
	"github.com/tagwarden/tagwarden/handler"
)

// LambdaResult is the function under the runtime interface emulator.
type LambdaResult struct {
	// Build is how the binary was built (function.zip.mk, or go build with
	// the documented flags).
	Build     string  `json:"build"`
	BinaryMiB float64 `json:"binary_mib"`
	ZipMiB    float64 `json:"zip_mib"`
	// ColdMS is the median, over Starts, of the time from starting the
	// emulator and the function to the first response (a dry-run check of
	// one key against the KMS emulator).
	ColdMS float64 `json:"cold_ms"`
	// WarmMS is the mean time of Warm such invocations of one instance.
	WarmMS float64 `json:"warm_ms"`
	// WarmSweepMS is one warm dry-run sweep of SweepKeys keys.
	WarmSweepMS float64 `json:"warm_sweep_ms"`
	SweepKeys   int     `json:"sweep_keys"`
	// Echo* are the same figures for an empty function (returns its
	// payload), measured in the same run: the platform's own share.
	EchoBinaryMiB float64 `json:"echo_binary_mib"`
	EchoColdMS    float64 `json:"echo_cold_ms"`
	EchoWarmMS    float64 `json:"echo_warm_ms"`
	ColdRatio     float64 `json:"cold_over_echo"`
	WarmRatio     float64 `json:"warm_over_echo"`
	Starts        int     `json:"starts"`
	Warm          int     `json:"warm"`
}

// moduleRoot is the folder of go.mod: the function is built from source.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	mod := strings.TrimSpace(string(out))
	if err != nil || mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the tagwarden module: run from its folder (go run ./cmd/tagwarden-bench)")
	}
	return filepath.Dir(mod), nil
}

// zipFunction writes bootstrap alone at the root of a zip, mode 0755,
// fixed timestamp, deflated, and returns the zip's size.
func zipFunction(bin, out string) (int64, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return 0, err
	}
	if _, err := w.Write(data); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return 0, err
	}
	return int64(buf.Len()), nil
}

// packageFunction builds the function zip into tmp with the project's
// function.zip.mk when there is one (make -f function.zip.mk DIST=tmp), else
// with go build and the documented flags, zipping bootstrap alone. It
// returns the binary, the zip and how they were built.
func packageFunction(root, tmp string) (bin, zipPath, build string, err error) {
	flags := "go build -tags lambda.norpc -trimpath -buildvcs=false -ldflags='-s -w -buildid=' (CGO_ENABLED=0, " + runtimeTarget() + ")"
	note := ""
	if _, serr := os.Stat(filepath.Join(root, "function.zip.mk")); serr == nil {
		if _, lerr := exec.LookPath("make"); lerr != nil {
			note = "; make not found for function.zip.mk"
		} else {
			dist := filepath.Join(tmp, "dist")
			cmd := exec.Command("make", "-s", "-f", "function.zip.mk", "DIST="+dist, "ARCH="+runtime.GOARCH)
			cmd.Dir = root
			out, merr := cmd.CombinedOutput()
			bin, zipPath = filepath.Join(dist, ".build", runtime.GOARCH, "bootstrap"), filepath.Join(dist, "function.zip")
			if merr == nil && fileMiB(bin) > 0 && fileMiB(zipPath) > 0 {
				return bin, zipPath, "make -f function.zip.mk ARCH=" + runtime.GOARCH + ": bootstrap and policies/", nil
			}
			first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
			note = fmt.Sprintf("; function.zip.mk failed (%v: %.120s), so bootstrap alone", merr, first)
		}
	}
	bin, zipPath = filepath.Join(tmp, "bootstrap"), filepath.Join(tmp, "function.zip")
	if err := lambdarie.Build(root, "./cmd/bootstrap", bin); err != nil {
		return "", "", "", err
	}
	if _, err := zipFunction(bin, zipPath); err != nil {
		return "", "", "", fmt.Errorf("zip the function: %w", err)
	}
	return bin, zipPath, flags + note, nil
}

// startRIE starts fn under the pinned runtime interface emulator
// (lambdarie: both addresses on loopback, only env plus HOME and PATH in its
// environment) and waits until it listens.
func startRIE(rie, fn, dir string, env map[string]string) (*lambdarie.Emulator, error) {
	return lambdarie.Start(rie, fn, lambdarie.Options{Dir: dir, Env: env, Timeout: 60 * time.Second})
}

// invoke sends one event and returns the body, failing on an error body
// and on a report with an error.
func invoke(e *lambdarie.Emulator, payload string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	body, err := e.Invoke(ctx, []byte(payload))
	if err != nil {
		return nil, err
	}
	if eb, ok := lambdarie.ParseError(body); ok {
		return nil, fmt.Errorf("invoke: %s: %s", eb.ErrorType, eb.ErrorMessage)
	}
	var rep struct {
		Error     string `json:"error"`
		ErrorKind string `json:"error_kind"`
	}
	if err := json.Unmarshal(body, &rep); err == nil && rep.Error != "" {
		return nil, fmt.Errorf("invoke: the report has an error (%s): %s", rep.ErrorKind, rep.Error)
	}
	return body, nil
}

// timeFunction measures the median cold start over starts and the mean of
// warm invocations of one instance.
func timeFunction(rie, fn string, env map[string]string, payload string, starts, warm int) (cold, mean time.Duration, err error) {
	dir, err := os.MkdirTemp("", "tagwarden-bench-fn-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	var colds []time.Duration
	for range starts {
		t0 := time.Now()
		p, err := startRIE(rie, fn, dir, env)
		if err != nil {
			return 0, 0, err
		}
		_, err = invoke(p, payload)
		colds = append(colds, time.Since(t0))
		p.Close()
		if err != nil {
			return 0, 0, fmt.Errorf("%w\n%s", err, p.Output())
		}
	}
	sort.Slice(colds, func(i, j int) bool { return colds[i] < colds[j] })
	p, err := startRIE(rie, fn, dir, env)
	if err != nil {
		return 0, 0, err
	}
	defer p.Close()
	if _, err := invoke(p, payload); err != nil {
		return 0, 0, err
	}
	t0 := time.Now()
	for range warm {
		if _, err := invoke(p, payload); err != nil {
			return 0, 0, err
		}
	}
	return colds[len(colds)/2], time.Since(t0) / time.Duration(max(warm, 1)), nil
}

// measureLambda builds and zips the function and times it under the
// runtime interface emulator against an in-process KMS emulator of
// sweepKeys keys.
func measureLambda(starts, warm, sweepKeys int) (LambdaResult, error) {
	r := LambdaResult{Starts: starts, Warm: warm, SweepKeys: sweepKeys}
	root, err := moduleRoot()
	if err != nil {
		return r, err
	}
	tmp, err := os.MkdirTemp("", "tagwarden-bench-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(tmp)
	bin, zipPath, build, err := packageFunction(root, tmp)
	if err != nil {
		return r, err
	}
	r.Build = build
	echo := filepath.Join(tmp, "echo", "bootstrap")
	if err := lambdarie.Build(root, "./cmd/bootstrap/testdata/echo", echo); err != nil {
		return r, err
	}
	r.ZipMiB, r.BinaryMiB, r.EchoBinaryMiB = fileMiB(zipPath), fileMiB(bin), fileMiB(echo)

	rie, err := lambdarie.Install()
	if err != nil {
		return r, err
	}
	keys := genKeys(sweepKeys, 0.1)
	k, err := startKMS(keys)
	if err != nil {
		return r, err
	}
	defer k.close()
	env := map[string]string{
		"HUAWEICLOUD_SDK_AK":         emulator.DefaultAK,
		"HUAWEICLOUD_SDK_SK":         emulator.DefaultSK,
		"HUAWEICLOUD_SDK_PROJECT_ID": emulator.DefaultProject,
		"TAGWARDEN_KMS_ENDPOINT":     k.url,
		"TAGWARDEN_LOG_LEVEL":        "warn",
		"TAGWARDEN_RATE_LIMIT":       "1000", // the most it takes: measure the function, not the KMS rate limit
	}
	check := `{"action":"check","key_ids":["` + keys[len(keys)/2].id + `"],"dry_run":true}`
	cold, warmD, err := timeFunction(rie, bin, env, check, starts, warm)
	if err != nil {
		return r, fmt.Errorf("tagwarden under the runtime interface emulator: %w", err)
	}
	ecold, ewarm, err := timeFunction(rie, echo, nil, `{}`, starts, warm)
	if err != nil {
		return r, fmt.Errorf("echo function under the runtime interface emulator: %w", err)
	}
	r.ColdMS, r.WarmMS, r.EchoColdMS, r.EchoWarmMS = msOf(cold), msOf(warmD), msOf(ecold), msOf(ewarm)
	r.ColdRatio, r.WarmRatio = r.ColdMS/r.EchoColdMS, r.WarmMS/r.EchoWarmMS

	// One warm dry-run sweep of every key.
	dir, err := os.MkdirTemp(tmp, "sweep-")
	if err != nil {
		return r, err
	}
	p, err := startRIE(rie, bin, dir, env)
	if err != nil {
		return r, err
	}
	defer p.Close()
	if _, err := invoke(p, check); err != nil {
		return r, err
	}
	t0 := time.Now()
	body, err := invoke(p, `{"action":"sweep","dry_run":true}`)
	if err != nil {
		return r, err
	}
	r.WarmSweepMS = msOf(time.Since(t0))
	var rep handler.Report
	if err := json.Unmarshal(body, &rep); err != nil || rep.Scanned != sweepKeys {
		return r, fmt.Errorf("warm sweep under the runtime interface emulator: scanned %d of %d keys (%v): %.300s", rep.Scanned, sweepKeys, err, body)
	}
	return r, nil
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fileMiB(path string) float64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return float64(fi.Size()) / (1 << 20)
}
