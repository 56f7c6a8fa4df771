package e2e_test

// Helpers shared by the end-to-end tests: the shipped policies, a JSON log
// buffer, the report checks, and the real KMS adapter (huaweikms, the
// official SDK, signed requests) against the KMS emulator over loopback,
// set up by kmstest.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	"github.com/tagwarden/tagwarden/adapters/huaweikms/kmstest"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policies"
	"github.com/tagwarden/tagwarden/policy"
)

// shippedPolicies is the engine of the shipped policies, loaded once.
var shippedPolicies struct {
	once sync.Once
	e    *policy.Engine
	err  error
}

// shipped loads the policies shipped in the binary (package policies),
// with the API's tag limits, as the function does.
func shipped(t *testing.T) *policy.Engine {
	t.Helper()
	shippedPolicies.once.Do(func() {
		shippedPolicies.e, shippedPolicies.err = policy.Load(policies.FS, policy.Options{Limits: policy.DefaultLimits()})
	})
	if shippedPolicies.err != nil {
		t.Fatalf("load the shipped policies: %v", shippedPolicies.err)
	}
	return shippedPolicies.e
}

// testContinuationKey is the continuation key of the tests' deployment.
var testContinuationKey = []byte("tagwarden-test-continuation-key-0001")

func ptr[T any](v T) *T { return &v }

// counts shows a report's counts, error and continuation, not its keys.
func counts(r handler.Report) string {
	return fmt.Sprintf("scanned %d compliant %d changed %d planned %d violating %d failed %d skipped %d; error %q; reason %q; continuation %t",
		r.Scanned, r.Compliant, r.Changed, r.Planned, r.Violating, r.Failed, r.Skipped, r.Error, r.Reason, r.Continuation != "")
}

// checkCounts checks that every scanned key counts once in a report, and
// that the report lists every key that was not compliant.
func checkCounts(t *testing.T, r handler.Report) {
	t.Helper()
	sum := r.Compliant + r.Changed + r.Planned + r.Violating + r.Failed + r.Skipped
	if sum != r.Scanned {
		t.Errorf("outcome counts add to %d, scanned %d: %s", sum, r.Scanned, counts(r))
	}
	if got, want := len(r.Keys), r.Scanned-r.Compliant; got != want {
		t.Errorf("report lists %d keys, want %d (every key not compliant)", got, want)
	}
}

func byID(keys []handler.KeyReport) map[string]handler.KeyReport {
	m := map[string]handler.KeyReport{}
	for _, k := range keys {
		m[k.KeyID] = k
	}
	return m
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

// keyDecisions counts the key decision entries (those with an outcome)
// of the JSON log lines per key id.
func (b *logBuffer) keyDecisions(t *testing.T) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
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

// kms is an emulator on loopback with the seed it started from.
type kms struct {
	*kmstest.KMS
	seed []emulator.SeedKey
}

// startKMS starts an emulator that accepts only the distinctive
// credentials (secretAK, secretSK, secretToken).
func startKMS(t *testing.T, seed []emulator.SeedKey) *kms {
	t.Helper()
	return fltStartWith(t, seed, emulator.Options{AccessKey: secretAK, SecretKey: secretSK, SecurityToken: secretToken})
}

// fltStart starts an emulator with its default credentials.
func fltStart(t *testing.T, seed []emulator.SeedKey) *kms {
	t.Helper()
	return fltStartWith(t, seed, emulator.Options{})
}

// fltStartWith starts an emulator with the credentials and the listing
// behaviour of opts (shapes, untagged keys left out); its default
// credentials when opts names none.
func fltStartWith(t *testing.T, seed []emulator.SeedKey, opts emulator.Options) *kms {
	t.Helper()
	opts.Seed = seed
	return &kms{KMS: kmstest.Start(t, opts), seed: seed}
}

// store builds the adapter as the function does per invocation, with two
// fast retries at most.
func (k *kms) store(t *testing.T, log logrus.FieldLogger) handler.KeyStore {
	t.Helper()
	return k.Store(t, func(cfg *huaweikms.Config) {
		cfg.MaxRetries, cfg.MaxBackoff, cfg.Log = 2, 5*time.Millisecond, log
	})
}

// fltStore builds the adapter as the function does per invocation, with
// the default retries, fast, so that faults cost little time; tr and lim,
// when set, are its transport and its rate limiter.
func (k *kms) fltStore(t *testing.T, tr http.RoundTripper, lim *rate.Limiter) *huaweikms.Store {
	t.Helper()
	return k.Store(t, func(cfg *huaweikms.Config) {
		cfg.Limiter, cfg.BaseBackoff, cfg.MaxBackoff = lim, 2*time.Millisecond, 40*time.Millisecond
		cfg.HTTPTimeout, cfg.Transport = 3*time.Second, tr
	})
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
			tags, ok := k.Server.Tags(emulator.DefaultProject, r.Key.ID)
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
