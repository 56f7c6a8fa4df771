package e2e_test

// Helpers shared by the end-to-end tests: the shipped policies, and the real
// KMS adapter (huaweikms, the official SDK, signed requests) against the KMS
// emulator over loopback, set up by kmstest. The report checks and the JSON
// log buffer are handler/handlertest's, shared with the handler's tests.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

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
// the default retries, fast, so that faults cost little time; tr and pacer,
// when set, are its transport and its rate limiter.
func (k *kms) fltStore(t *testing.T, tr http.RoundTripper, pacer *huaweikms.Pacer) *huaweikms.Store {
	t.Helper()
	return k.Store(t, func(cfg *huaweikms.Config) {
		cfg.Pacer, cfg.BaseBackoff, cfg.MaxBackoff = pacer, 2*time.Millisecond, 40*time.Millisecond
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
