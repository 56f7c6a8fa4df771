package handler_test

// Helpers shared by the handler's tests: the policy engines, a JSON log
// buffer, and the real KMS adapter (huaweikms, the official SDK, signed
// requests) against the KMS emulator over loopback.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator/emulatortest"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// onceEngine is a policy engine loaded once per test run.
type onceEngine struct {
	once sync.Once
	e    *policy.Engine
	err  error
}

var testPolicies, shippedPolicies onceEngine

// load loads the engine of cfg the first time, and fails the test when
// that load failed.
func (o *onceEngine) load(t *testing.T, cfg handler.Config, what string) *policy.Engine {
	t.Helper()
	o.once.Do(func() { o.e, o.err = handler.LoadEngine(cfg) })
	if o.err != nil {
		t.Fatalf("load %s: %v", what, o.err)
	}
	return o.e
}

// testEngine loads testdata/policies: ownership (owner and env, with
// defaults), no-temp (deletes temp-* tags), cost (report-only cost-center).
func testEngine(t *testing.T) *policy.Engine {
	t.Helper()
	return testPolicies.load(t, handler.Config{PoliciesDir: "testdata/policies"}, "test policies")
}

// shipped loads the policies shipped in the binary, as the function does.
func shipped(t *testing.T) *policy.Engine {
	t.Helper()
	return shippedPolicies.load(t, handler.Config{}, "the shipped policies")
}

// logBuffer collects log lines; logrus serialises writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// entries decodes the JSON log lines.
func (b *logBuffer) entries(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

// keyDecisions counts the key decision entries per key id.
func (b *logBuffer) keyDecisions(t *testing.T) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, e := range b.entries(t) {
		if _, ok := e["outcome"]; ok {
			n[e["key_id"].(string)]++
		}
	}
	return n
}

// jsonLogger logs JSON lines, from level up, into a buffer.
func jsonLogger(level logrus.Level) (*logrus.Logger, *logBuffer) {
	logs := &logBuffer{}
	log := logrus.New()
	log.SetOutput(logs)
	log.SetFormatter(&logrus.JSONFormatter{})
	log.SetLevel(level)
	return log, logs
}

// Distinctive credentials: the log scan looks for them.
const (
	secretAK    = "TWAKLOGLEAKPROBE0001"
	secretSK    = "tw-sk-must-never-reach-a-log-7f3a9c1e55d2b8"
	secretToken = "tw-token-must-never-reach-a-log-QzX81vPp0Lm"
)

// kms is an emulator on loopback, the seed it started from and the only
// credentials it accepts.
type kms struct {
	srv   *emulator.Server
	url   string
	seed  []emulator.SeedKey
	creds huaweikms.Credentials
}

// startKMS starts an emulator that accepts only the distinctive
// credentials (secretAK, secretSK, secretToken).
func startKMS(t *testing.T, seed []emulator.SeedKey) *kms {
	t.Helper()
	return startEmulator(t, seed, huaweikms.Credentials{AccessKey: secretAK, SecretKey: secretSK, SecurityToken: secretToken})
}

// fltStart starts an emulator with its default credentials.
func fltStart(t *testing.T, seed []emulator.SeedKey) *kms {
	t.Helper()
	return startEmulator(t, seed, huaweikms.Credentials{AccessKey: emulator.DefaultAK, SecretKey: emulator.DefaultSK})
}

func startEmulator(t *testing.T, seed []emulator.SeedKey, creds huaweikms.Credentials) *kms {
	t.Helper()
	srv, url := emulatortest.Start(t, emulator.Options{
		AccessKey: creds.AccessKey, SecretKey: creds.SecretKey, SecurityToken: creds.SecurityToken, Seed: seed,
	})
	return &kms{srv: srv, url: url, seed: seed, creds: creds}
}

// config is the adapter's configuration against this emulator, signed
// with its credentials, with no client-side rate limit.
func (k *kms) config() huaweikms.Config {
	creds := k.creds
	return huaweikms.Config{Endpoint: k.url, ProjectID: emulator.DefaultProject, Credentials: &creds, RateLimit: -1}
}

func newAdapter(t *testing.T, cfg huaweikms.Config) *huaweikms.Store {
	t.Helper()
	s, err := huaweikms.New(cfg)
	if err != nil {
		t.Fatalf("huaweikms.New: %v", err)
	}
	return s
}

// store builds the adapter as the function does per invocation.
func (k *kms) store(t *testing.T, log logrus.FieldLogger) handler.KeyStore {
	t.Helper()
	cfg := k.config()
	cfg.MaxRetries, cfg.BaseBackoff, cfg.MaxBackoff = 2, time.Millisecond, 5*time.Millisecond
	cfg.HTTPTimeout, cfg.Log = 10*time.Second, log
	return newAdapter(t, cfg)
}

// fltStore builds the adapter as the function does per invocation, with
// fast retries so that faults cost little time.
func (k *kms) fltStore(t *testing.T, tr http.RoundTripper, lim *rate.Limiter) *huaweikms.Store {
	t.Helper()
	cfg := k.config()
	cfg.Limiter, cfg.BaseBackoff, cfg.MaxBackoff = lim, 2*time.Millisecond, 40*time.Millisecond
	cfg.HTTPTimeout, cfg.Transport = 3*time.Second, tr
	return newAdapter(t, cfg)
}

// finalState reads every key through a fresh listing and its true tags from
// the emulator.
func (k *kms) finalState(t *testing.T) map[string]handler.Record {
	t.Helper()
	return k.state(t, context.Background(), k.store(t, nil))
}

// fltState lists every key through a fresh store (no faults) and reads its
// true tags from the emulator; the listing must hold every seeded key.
func (k *kms) fltState(t *testing.T) map[string]handler.Record {
	t.Helper()
	out := k.state(t, fltCtx(t), k.fltStore(t, nil, nil))
	if len(out) != len(k.seed) {
		t.Fatalf("final listing has %d keys, the seed %d", len(out), len(k.seed))
	}
	return out
}

// state lists every key through s and reads its true tags from the emulator.
func (k *kms) state(t *testing.T, ctx context.Context, s handler.KeyStore) map[string]handler.Record {
	t.Helper()
	out := map[string]handler.Record{}
	l := s.List(ctx, "")
	for {
		p, err := l.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("final listing: %v", err)
		}
		for _, r := range p.Records {
			tags, ok := k.srv.Tags(emulator.DefaultProject, r.Key.ID)
			if !ok {
				t.Fatalf("listed key %s is not in the emulator", r.Key.ID)
			}
			if tags == nil {
				tags = map[string]string{}
			}
			out[r.Key.ID] = handler.Record{Key: r.Key, Tags: tags}
		}
	}
}
