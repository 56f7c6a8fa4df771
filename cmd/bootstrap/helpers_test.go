package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/handler"
)

// The Lambda runtime interface emulator, pinned. The tests install it with
// `go install` into a cache folder when it is not there yet.
const (
	rieModule  = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	rieVersion = "v0.0.0-20261030222936-bef5c4ba774d"
)

// tmpRoot holds the binaries built once per test run.
var tmpRoot string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tagwarden-bootstrap-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpRoot = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type built struct {
	once sync.Once
	path string
	err  error
}

var (
	bootstrapBuild built
	echoBuild      built
	rieInstall     built
)

// goBuild builds pkg (relative to this folder) as the function is built:
// static, without the net/rpc code.
func goBuild(b *built, pkg, name string) (string, error) {
	b.once.Do(func() {
		b.path = filepath.Join(tmpRoot, name)
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", b.path, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	return b.path, b.err
}

// bootstrapBinary builds this command once per test run.
func bootstrapBinary(t testing.TB) string {
	t.Helper()
	p, err := goBuild(&bootstrapBuild, ".", "bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// echoBinary builds the empty echo function, the benchmark's baseline.
func echoBinary(t testing.TB) string {
	t.Helper()
	p, err := goBuild(&echoBuild, "./testdata/echo", "echo")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// rieBinary returns the pinned runtime interface emulator, installing it
// into $(go env GOCACHE)/../tagwarden-tools/<version>/ when missing.
func rieBinary(t testing.TB) string {
	t.Helper()
	rieInstall.once.Do(func() {
		out, err := exec.Command("go", "env", "GOCACHE").Output()
		cache := strings.TrimSpace(string(out))
		if err != nil || cache == "" || cache == "off" {
			if cache, err = os.UserCacheDir(); err != nil {
				rieInstall.err = fmt.Errorf("no cache folder for the test tools: %v", err)
				return
			}
			cache = filepath.Join(cache, "go-build")
		}
		dir := filepath.Join(filepath.Dir(cache), "tagwarden-tools", "aws-lambda-rie-"+rieVersion)
		rieInstall.path = filepath.Join(dir, "aws-lambda-rie")
		if _, err := os.Stat(rieInstall.path); err == nil {
			return
		}
		cmd := exec.Command("go", "install", rieModule+"@"+rieVersion)
		cmd.Dir = os.TempDir() // outside this module: the tool's dependencies stay out of go.mod
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOWORK=off", "GOFLAGS=-buildvcs=false", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			rieInstall.err = fmt.Errorf("install the Lambda runtime interface emulator (%s@%s): %v\n%s", rieModule, rieVersion, err, out)
		}
	})
	if rieInstall.err != nil {
		t.Fatal(rieInstall.err)
	}
	return rieInstall.path
}

// cleanEnv is the whole environment of a started process: only what the
// function needs, plus HOME and PATH.
func cleanEnv(vars map[string]string) []string {
	env := []string{"HOME=" + os.Getenv("HOME"), "PATH=" + os.Getenv("PATH")}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// proc is a started process whose output is kept for failure messages.
type proc struct {
	cmd      *exec.Cmd
	out      *syncBuffer
	done     chan error
	stopOnce sync.Once
	exitErr  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs a process with a clean environment; the test's cleanup stops
// it (SIGTERM, then SIGKILL) and logs its output when the test failed.
func start(t testing.TB, dir string, env map[string]string, name string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(name, args...), out: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd.Dir = dir
	p.cmd.Env = cleanEnv(env)
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("output of %s:\n%s", filepath.Base(name), p.out.String())
		}
	})
	return p
}

// stop ends the process it started, by its pid, and returns its exit error.
func (p *proc) stop() error {
	p.stopOnce.Do(func() {
		p.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have exited
		select {
		case p.exitErr = <-p.done:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill() //nolint:errcheck // last resort
			p.exitErr = <-p.done
		}
		p.done <- p.exitErr
	})
	return p.exitErr
}

// freeAddr returns a loopback address with a free port.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// rie is a runtime interface emulator running a function.
type rie struct {
	*proc
	url string
	// client is this emulator's own: a keep-alive connection must never
	// outlive the process, or a later emulator on the same port would get it.
	client *http.Client
}

// startRIE runs bootstrap under the runtime interface emulator, both
// addresses on 127.0.0.1, with a clean environment, and waits until it
// listens.
func startRIE(t testing.TB, bootstrap, dir string, env map[string]string) *rie {
	t.Helper()
	rieAddr, apiAddr := freeAddr(t), freeAddr(t)
	vars := map[string]string{"AWS_LAMBDA_FUNCTION_TIMEOUT": "30"}
	for k, v := range env {
		vars[k] = v
	}
	p := start(t, dir, vars, rieBinary(t),
		"--runtime-interface-emulator-address", rieAddr, "--runtime-api-address", apiAddr, bootstrap)
	r := &rie{proc: p, url: "http://" + rieAddr + "/2015-03-31/functions/function/invocations",
		client: &http.Client{Transport: &http.Transport{}}}
	t.Cleanup(r.client.CloseIdleConnections)
	waitListening(t, rieAddr, p)
	return r
}

// close stops the emulator and drops its connections.
func (r *rie) close() {
	r.stop()
	r.client.CloseIdleConnections()
}

func waitListening(t testing.TB, addr string, p *proc) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("process exited before listening on %s: %v\n%s", addr, err, p.out.String())
		case <-time.After(time.Millisecond):
		}
	}
	t.Fatalf("nothing listens on %s after 10s", addr)
}

// invoke sends one event (one at a time: the emulator crashes on
// concurrent invocations) and returns the body: a report or an error.
func (r *rie) invoke(t testing.TB, payload string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("invoke: status %d: %s", resp.StatusCode, body)
	}
	return body
}

// fnError is an error body: the runtime API's {"errorMessage","errorType"}.
type fnError struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

// asReport decodes a success body, failing on an error body.
func asReport(t testing.TB, body []byte) handler.Report {
	t.Helper()
	var e fnError
	if json.Unmarshal(body, &e) == nil && e.ErrorType != "" {
		t.Fatalf("got error %s: %s, want a report", e.ErrorType, e.ErrorMessage)
	}
	var rep handler.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatalf("decode report %s: %v", body, err)
	}
	return rep
}

// asError decodes an error body, failing on anything else.
func asError(t testing.TB, body []byte) fnError {
	t.Helper()
	var e fnError
	if err := json.Unmarshal(body, &e); err != nil || e.ErrorType == "" || e.ErrorMessage == "" {
		t.Fatalf("got %s, want an error body {errorMessage, errorType}", body)
	}
	return e
}

// Keys of the end-to-end tests' emulator.
const (
	keyOwned    = "11111111-1111-4111-8111-111111111111"
	keyNoOwner  = "22222222-2222-4222-8222-222222222222"
	keyUntagged = "33333333-3333-4333-8333-333333333333"
	keyDefault  = "44444444-4444-4444-8444-444444444444"
	keyNew      = "55555555-5555-4555-8555-555555555555"
)

func seedKey(id, alias string, tags map[string]string) emulator.SeedKey {
	k := emulator.SeedKey{ResourceID: id, ResourceDetail: emulator.KeyDetails{
		KeyID: id, KeyAlias: alias, KeySpec: "AES_256", KeyUsage: "ENCRYPT_DECRYPT", KeyState: "2",
		DefaultKeyFlag: "0", Origin: "kms", CreationDate: "1764400000000",
	}, Tags: []emulator.Tag{}}
	if strings.HasSuffix(alias, "/default") {
		k.ResourceDetail.DefaultKeyFlag = "1"
	}
	for key, v := range tags {
		k.Tags = append(k.Tags, emulator.Tag{Key: key, Value: v})
	}
	return k
}

// newEmulator starts a KMS emulator on loopback that accepts only the
// given credentials, seeded with the test keys.
func newEmulator(t testing.TB, ak, sk, token string) (*emulator.Server, string) {
	t.Helper()
	srv, err := emulator.New(emulator.Options{
		AccessKey: ak, SecretKey: sk, SecurityToken: token,
		Seed: []emulator.SeedKey{
			seedKey(keyOwned, "orders", map[string]string{"owner": "team-a"}),
			seedKey(keyNoOwner, "billing", map[string]string{"env": "dev"}),
			seedKey(keyUntagged, "search", nil),
			seedKey(keyDefault, "kms/default", nil),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	url, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, url
}

// tagsOf reads a key's tags from the emulator.
func tagsOf(t testing.TB, srv *emulator.Server, id string) map[string]string {
	t.Helper()
	tags, ok := srv.Tags(emulator.DefaultProject, id)
	if !ok {
		t.Fatalf("key %s is not in the emulator", id)
	}
	return tags
}

// snapshot is every key's tags.
func snapshot(srv *emulator.Server) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, k := range srv.Keys(emulator.DefaultProject) {
		tags := map[string]string{}
		for _, tg := range k.Tags {
			tags[tg.Key] = tg.Value
		}
		out[k.ResourceID] = tags
	}
	return out
}

func testPolicies(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs("testdata/policies")
	if err != nil {
		t.Fatal(err)
	}
	return p
}
