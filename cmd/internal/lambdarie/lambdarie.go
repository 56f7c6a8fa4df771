package lambdarie

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The runtime interface emulator, pinned.
const (
	Module  = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	Version = "v0.0.0-20261030222936-bef5c4ba774d"
)

// BuildFlags are the go build flags of the function, as function.zip.mk
// builds it (docs/deploy.md, "Package"): no net/rpc code, no local paths,
// no VCS stamp, no symbols, no build id.
var BuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}

// DefaultTimeout is the function timeout given to the emulator when
// Options.Timeout is zero.
const DefaultTimeout = 30 * time.Second

var install struct {
	mu   sync.Mutex
	path string
}

// ToolsDir is the folder the pinned emulator is installed into:
// $(go env GOCACHE)/../tagwarden-tools/aws-lambda-rie-<Version>.
func ToolsDir() (string, error) {
	out, err := exec.Command("go", "env", "GOCACHE").Output()
	cache := strings.TrimSpace(string(out))
	if err != nil || cache == "" || cache == "off" {
		if cache, err = os.UserCacheDir(); err != nil {
			return "", fmt.Errorf("no cache folder for the runtime interface emulator: %w", err)
		}
		cache = filepath.Join(cache, "go-build")
	}
	return filepath.Join(filepath.Dir(cache), "tagwarden-tools", "aws-lambda-rie-"+Version), nil
}

// Install returns the path of the pinned emulator, installing it into
// ToolsDir with `go install Module@Version` when it is not there. The
// install runs outside this module (its dependencies stay out of go.mod)
// into a temporary folder renamed into place, so that two processes
// installing at once never run a half-written binary.
func Install() (string, error) {
	install.mu.Lock()
	defer install.mu.Unlock()
	if install.path != "" {
		return install.path, nil
	}
	dir, err := ToolsDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "aws-lambda-rie")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		install.path = bin
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("install the runtime interface emulator: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".install-")
	if err != nil {
		return "", fmt.Errorf("install the runtime interface emulator: %w", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "install", Module+"@"+Version)
	cmd.Dir = os.TempDir() // outside this module
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOWORK=off", "GOFLAGS=-buildvcs=false", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("install %s@%s: %w\n%s", Module, Version, err, out)
	}
	if err := os.Rename(filepath.Join(tmp, "aws-lambda-rie"), bin); err != nil {
		return "", fmt.Errorf("install the runtime interface emulator: %w", err)
	}
	install.path = bin
	return bin, nil
}

// Build builds the Go package pkg (a path relative to dir, e.g.
// ./cmd/bootstrap) into out, as the function is built: CGO_ENABLED=0 and
// BuildFlags, for this machine's platform (the emulator runs it here).
func Build(dir, pkg, out string) error {
	args := append([]string{"build"}, BuildFlags...)
	cmd := exec.Command("go", append(args, "-o", out, pkg)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// Options configure one emulator.
type Options struct {
	// Dir is the working folder of the emulator and the function.
	Dir string
	// Env holds the function's variables: with HOME, PATH and
	// AWS_LAMBDA_FUNCTION_TIMEOUT, its whole environment.
	Env map[string]string
	// Timeout is the function timeout (AWS_LAMBDA_FUNCTION_TIMEOUT, whole
	// seconds, at least 1); DefaultTimeout when zero.
	Timeout time.Duration
	// Output, when set, receives the emulator's and the function's output
	// as well; Emulator.Output keeps the first MaxOutput bytes.
	Output io.Writer
	// StartTimeout bounds the wait for the emulator to listen (10s when zero).
	StartTimeout time.Duration
}

// MaxOutput is how much output an Emulator keeps for Output.
const MaxOutput = 4 << 20

// Emulator is a function running under the runtime interface emulator.
type Emulator struct {
	cmd    *exec.Cmd
	url    string
	out    *capped
	client *http.Client
	done   chan struct{}
	err    error // the exit error, set before done closes

	invoke    sync.Mutex // one invocation at a time
	closeOnce sync.Once
}

// Start runs function under the emulator at rie (see Install), both
// addresses on 127.0.0.1 ports chosen free, with a clean environment, and
// returns once the emulator listens.
func Start(rie, function string, opts Options) (*Emulator, error) {
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if timeout < time.Second {
		return nil, fmt.Errorf("function timeout %s: want at least 1s", timeout)
	}
	rieAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	env := []string{"HOME=" + os.Getenv("HOME"), "PATH=" + os.Getenv("PATH")}
	for k, v := range opts.Env {
		if k == "AWS_LAMBDA_FUNCTION_TIMEOUT" {
			return nil, errors.New("set Options.Timeout, not AWS_LAMBDA_FUNCTION_TIMEOUT in Env")
		}
		env = append(env, k+"="+v)
	}
	env = append(env, "AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(int(timeout/time.Second)))

	e := &Emulator{
		url:  "http://" + rieAddr + "/2015-03-31/functions/function/invocations",
		out:  &capped{max: MaxOutput, also: opts.Output},
		done: make(chan struct{}),
		// Its own client: a kept-alive connection must not outlive this
		// emulator, or a later one on the same port could receive it.
		client: &http.Client{Transport: &http.Transport{}},
	}
	e.cmd = exec.Command(rie, "--runtime-interface-emulator-address", rieAddr, "--runtime-api-address", apiAddr, function)
	e.cmd.Dir = opts.Dir
	e.cmd.Env = env
	e.cmd.Stdout, e.cmd.Stderr = e.out, e.out
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the runtime interface emulator: %w", err)
	}
	go func() {
		e.err = e.cmd.Wait()
		close(e.done)
	}()

	wait := opts.StartTimeout
	if wait == 0 {
		wait = 10 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		if c, err := net.DialTimeout("tcp", rieAddr, 100*time.Millisecond); err == nil {
			c.Close()
			return e, nil
		}
		select {
		case <-e.done:
			return nil, fmt.Errorf("runtime interface emulator exited before listening: %v\n%s", e.err, e.out.String())
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.Close()
			return nil, fmt.Errorf("runtime interface emulator: not listening on %s after %s\n%s", rieAddr, wait, e.out.String())
		}
	}
}

// URL is the invocation endpoint.
func (e *Emulator) URL() string { return e.url }

// Output is what the emulator and the function wrote so far (the first
// MaxOutput bytes).
func (e *Emulator) Output() string { return e.out.String() }

// Invoke sends one event and returns the body: the function's result or an
// error body (see ParseError), both with status 200. Calls are serialized.
// A status other than 200 or a broken connection is an error.
func (e *Emulator) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	e.invoke.Lock()
	defer e.invoke.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("invoke: read the response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("invoke: status %d: %s", resp.StatusCode, body)
	}
	return body, nil
}

// Close stops the emulator and its function (SIGTERM, then SIGKILL after
// 5s), by the pid it started, drops its connections and returns the exit
// error. Later calls return the same.
func (e *Emulator) Close() error {
	e.closeOnce.Do(func() {
		e.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have exited
		select {
		case <-e.done:
		case <-time.After(5 * time.Second):
			e.cmd.Process.Kill() //nolint:errcheck // last resort
			<-e.done
		}
		e.client.CloseIdleConnections()
	})
	return e.err
}

// ErrorBody is the body of a failed invocation.
type ErrorBody struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

// ParseError decodes an error body; ok is false for any other body.
func ParseError(body []byte) (e ErrorBody, ok bool) {
	if json.Unmarshal(body, &e) != nil || e.ErrorType == "" && e.ErrorMessage == "" {
		return ErrorBody{}, false
	}
	return e, true
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// capped keeps the first max bytes written and passes all to also.
type capped struct {
	mu   sync.Mutex
	b    bytes.Buffer
	max  int
	also io.Writer
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.b.Len(); room > 0 {
		c.b.Write(p[:min(room, len(p))])
	}
	if c.also != nil {
		c.also.Write(p) //nolint:errcheck // a copy for the caller; the function's output must not block
	}
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String()
}
