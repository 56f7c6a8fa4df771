package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator/emulatortest"
	"github.com/tagwarden/tagwarden/cmd/internal/lambdarie"
	"github.com/tagwarden/tagwarden/handler"
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
)

// goBuild builds pkg (relative to this folder) once per test run, as the
// function is built (lambdarie.Build: static, the documented flags).
func goBuild(b *built, pkg, name string) (string, error) {
	b.once.Do(func() {
		b.path = filepath.Join(tmpRoot, name)
		b.err = lambdarie.Build(".", pkg, b.path)
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

// rieBinary returns the pinned runtime interface emulator, installed by
// lambdarie into a cache folder when missing.
func rieBinary(t testing.TB) string {
	t.Helper()
	p, err := lambdarie.Install()
	if err != nil {
		t.Fatal(err)
	}
	return p
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

// rie is a runtime interface emulator running a function.
type rie struct {
	*lambdarie.Emulator
}

// startRIE runs bootstrap under the runtime interface emulator (lambdarie:
// both addresses on 127.0.0.1, a clean environment); the test's cleanup
// stops it and logs its output when the test failed.
func startRIE(t testing.TB, bootstrap, dir string, env map[string]string) *rie {
	t.Helper()
	return startRIETimeout(t, bootstrap, dir, env, 0)
}

// startRIETimeout is startRIE with the function timeout given (0: lambdarie's default).
func startRIETimeout(t testing.TB, bootstrap, dir string, env map[string]string, timeout time.Duration) *rie {
	t.Helper()
	e, err := lambdarie.Start(rieBinary(t), bootstrap, lambdarie.Options{Dir: dir, Env: env, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Close()
		if t.Failed() {
			t.Logf("output of the runtime interface emulator:\n%s", e.Output())
		}
	})
	return &rie{e}
}

// invoke sends one event (lambdarie serializes invocations: the emulator
// crashes on concurrent ones) and returns the body: a report or an error.
func (r *rie) invoke(t testing.TB, payload string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	body, err := r.Invoke(ctx, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// fnError is an error body: the runtime API's {"errorMessage","errorType"}.
type fnError = lambdarie.ErrorBody

// asReport decodes a success body, failing on an error body.
func asReport(t testing.TB, body []byte) handler.Report {
	t.Helper()
	if e, ok := lambdarie.ParseError(body); ok {
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
	return emulatortest.Start(t, emulator.Options{
		AccessKey: ak, SecretKey: sk, SecurityToken: token,
		Seed: []emulator.SeedKey{
			seedKey(keyOwned, "orders", map[string]string{"owner": "team-a"}),
			seedKey(keyNoOwner, "billing", map[string]string{"env": "dev"}),
			seedKey(keyUntagged, "search", nil),
			seedKey(keyDefault, "kms/default", nil),
		},
	})
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
