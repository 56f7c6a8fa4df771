package lambdarie_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/cmd/internal/lambdarie"
)

type result struct {
	Env        []string        `json:"env"`
	DeadlineMS int64           `json:"deadline_ms"`
	Payload    json.RawMessage `json:"payload"`
}

// TestEmulator runs a function under the pinned emulator: loopback only, a
// clean environment, the timeout as the function's deadline, error bodies
// told apart, and concurrent Invoke calls serialized.
func TestEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("installs and runs the runtime interface emulator")
	}
	t.Setenv("TAGWARDEN_LEAK_CHECK", "must-not-reach-the-function")
	rie, err := lambdarie.Install()
	if err != nil {
		t.Fatal(err)
	}
	fn := filepath.Join(t.TempDir(), "bootstrap")
	if err := lambdarie.Build(".", "./testdata/envfn", fn); err != nil {
		t.Fatal(err)
	}
	e, err := lambdarie.Start(rie, fn, lambdarie.Options{
		Dir: t.TempDir(), Env: map[string]string{"GIVEN": "yes"}, Timeout: 7 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		e.Close()
		if t.Failed() {
			t.Logf("emulator output:\n%s", e.Output())
		}
	}()
	if u, err := url.Parse(e.URL()); err != nil || u.Hostname() != "127.0.0.1" {
		t.Errorf("emulator at %s, want 127.0.0.1", e.URL())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	sent := time.Now()
	body, err := e.Invoke(ctx, []byte(`{"hello":1}`))
	answered := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if eb, ok := lambdarie.ParseError(body); ok {
		t.Fatalf("got error body %+v, want a result", eb)
	}
	var r result
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	env := strings.Join(r.Env, "\n")
	if !strings.Contains(env, "GIVEN=yes") || !strings.Contains(env, "AWS_LAMBDA_FUNCTION_TIMEOUT=7") {
		t.Errorf("the function's environment lacks the given variables:\n%s", env)
	}
	if strings.Contains(env, "TAGWARDEN_LEAK_CHECK") {
		t.Errorf("the test's environment reached the function:\n%s", env)
	}
	// The deadline is the invocation's start plus the timeout: between the
	// call and its answer, plus 7 s (the runtime API counts milliseconds).
	// However long the cold start takes, this holds.
	dl := time.UnixMilli(r.DeadlineMS)
	if earliest, latest := sent.Add(7*time.Second).Truncate(time.Millisecond), answered.Add(7*time.Second); dl.Before(earliest) || dl.After(latest) {
		t.Errorf("got deadline %s, want the invocation's start plus 7s: between %s and %s",
			dl.Format(time.StampMilli), earliest.Format(time.StampMilli), latest.Format(time.StampMilli))
	}
	if string(r.Payload) != `{"hello":1}` {
		t.Errorf("got payload %s, want {\"hello\":1}", r.Payload)
	}

	body, err = e.Invoke(ctx, []byte(`{"fail":"it broke"}`))
	if err != nil {
		t.Fatal(err)
	}
	if eb, ok := lambdarie.ParseError(body); !ok || eb.ErrorMessage != "it broke" || eb.ErrorType == "" {
		t.Errorf("got %s, want an error body with the message", body)
	}

	// Concurrent callers: each gets its own answer (the emulator itself
	// would crash on overlapping invocations).
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := fmt.Sprintf(`{"n":%d}`, i)
			body, err := e.Invoke(ctx, []byte(want))
			var r result
			if err == nil {
				err = json.Unmarshal(body, &r)
			}
			if err == nil && string(r.Payload) != want {
				err = fmt.Errorf("got payload %s, want %s", r.Payload, want)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if err := e.Close(); err != nil && !strings.Contains(err.Error(), "signal") {
		t.Logf("emulator exit: %v", err)
	}
}

func TestStartOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    lambdarie.Options
		wantErr string
	}{
		{"timeout in env", lambdarie.Options{Env: map[string]string{"AWS_LAMBDA_FUNCTION_TIMEOUT": "3"}}, "set Options.Timeout"},
		{"sub-second timeout", lambdarie.Options{Timeout: time.Millisecond}, "want at least 1s"},
		{"no emulator", lambdarie.Options{}, "start the runtime interface emulator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := lambdarie.Start(filepath.Join(t.TempDir(), "missing-rie"), "bootstrap", tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseError(t *testing.T) {
	tests := []struct {
		body string
		ok   bool
	}{
		{`{"errorMessage":"m","errorType":"T"}`, true},
		{`{"errorType":"T"}`, true},
		{`{"mode":"sweep","scanned":3}`, false},
		{`[1]`, false},
		{`not json`, false},
	}
	for _, tt := range tests {
		if _, ok := lambdarie.ParseError([]byte(tt.body)); ok != tt.ok {
			t.Errorf("ParseError(%s): got ok %v, want %v", tt.body, ok, tt.ok)
		}
	}
}
