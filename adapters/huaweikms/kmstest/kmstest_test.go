package kmstest_test

import (
	"context"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/kmstest"
	"github.com/tagwarden/tagwarden/handler"
)

// count lists every key through s.
func count(ctx context.Context, s handler.KeyStore) (int, error) {
	n := 0
	for l := s.List(ctx, ""); ; {
		p, err := l.Next(ctx)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n += len(p.Records)
	}
}

// TestStart: the store a KMS builds reaches its emulator with the
// credentials and the project it serves, and only with them.
func TestStart(t *testing.T) {
	const ak, sk, token = "KMSTESTAK00000000001", "kmstest-secret-key-000000000000000000001", "kmstest-token-1"
	tests := []struct {
		name        string
		opts        emulator.Options
		wantProject string
		wantCreds   huaweikms.Credentials
	}{
		{"emulator defaults", emulator.Options{}, emulator.DefaultProject,
			huaweikms.Credentials{AccessKey: emulator.DefaultAK, SecretKey: emulator.DefaultSK}},
		{"temporary credentials", emulator.Options{AccessKey: ak, SecretKey: sk, SecurityToken: token}, emulator.DefaultProject,
			huaweikms.Credentials{AccessKey: ak, SecretKey: sk, SecurityToken: token}},
		{"another project", emulator.Options{Projects: []string{"0a1b2c3d4e5f60718293a4b5c6d7e8f9"}}, "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
			huaweikms.Credentials{AccessKey: emulator.DefaultAK, SecretKey: emulator.DefaultSK}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Seed = emulator.SampleKeys(30, 1)
			k := kmstest.Start(t, tt.opts)
			if k.Project != tt.wantProject || k.Credentials != tt.wantCreds {
				t.Errorf("got project %q, credentials %+v; want %q, %+v", k.Project, k.Credentials, tt.wantProject, tt.wantCreds)
			}
			cfg := k.Config()
			if cfg.Endpoint != k.URL || cfg.ProjectID != tt.wantProject || cfg.Credentials == nil || *cfg.Credentials != tt.wantCreds ||
				cfg.RateLimit >= 0 || cfg.BaseBackoff != kmstest.BaseBackoff || cfg.MaxBackoff != kmstest.MaxBackoff || cfg.HTTPTimeout != kmstest.HTTPTimeout {
				t.Errorf("got config %+v, want the emulator's endpoint, project and credentials, no rate limit and fast retries", cfg)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if n, err := count(ctx, k.Store(t)); err != nil || n != 30 {
				t.Errorf("listed %d keys (%v), want the 30 seeded", n, err)
			}
			if k.Server.Stats().Status[200] == 0 {
				t.Errorf("the emulator answered no call: %+v", k.Server.Stats())
			}
			// The emulator accepts only its credentials.
			wrongSK := k.Store(t, func(c *huaweikms.Config) { c.Credentials.SecretKey += "x" }, func(c *huaweikms.Config) { c.MaxRetries = -1 })
			if _, err := count(ctx, wrongSK); !errors.Is(err, handler.ErrDenied) {
				t.Errorf("a wrong secret key: got %v, want %v", err, handler.ErrDenied)
			}
		})
	}
}

// TestStoreMods: each change is applied to the configuration, in order,
// and a configuration the adapter refuses ends the test.
func TestStoreMods(t *testing.T) {
	k := kmstest.Start(t, emulator.Options{})
	var seen []int
	k.Store(t, func(c *huaweikms.Config) { seen = append(seen, 1); c.MaxRetries = 7 },
		func(c *huaweikms.Config) {
			if c.MaxRetries != 7 {
				t.Errorf("second change sees MaxRetries %d, want the first's 7", c.MaxRetries)
			}
			seen = append(seen, 2)
		})
	if len(seen) != 2 || seen[0] != 1 || seen[1] != 2 {
		t.Errorf("changes applied %v, want [1 2]", seen)
	}
	if cfg := k.Config(); cfg.MaxRetries != 0 {
		t.Errorf("a change leaked into Config: MaxRetries %d", cfg.MaxRetries)
	}

	ft := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		k.Store(ft, func(c *huaweikms.Config) { c.Endpoint, c.Region = "", "" })
	}()
	<-done
	if !ft.fatal {
		t.Error("a configuration without endpoint or region did not end the test")
	}
}

// fatalTB records Fatalf instead of ending the test.
type fatalTB struct {
	testing.TB
	fatal bool
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(string, ...any) {
	f.fatal = true
	runtime.Goexit()
}
