package main

import (
	"context"
	"fmt"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/handler"
	"github.com/tagwarden/tagwarden/policy"
)

// kms is an emulator serving on loopback.
type kms struct {
	srv *emulator.Server
	url string
}

// startKMS serves keys from an in-process emulator on a loopback port.
func startKMS(keys []benchKey) (*kms, error) {
	srv, err := emulator.New(emulator.Options{Seed: seed(keys)})
	if err != nil {
		return nil, fmt.Errorf("start the emulator: %w", err)
	}
	url, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start the emulator: %w", err)
	}
	return &kms{srv: srv, url: url}, nil
}

func (k *kms) close() { k.srv.Close() }

// storeOptions shape the KMS adapter of one sweep.
type storeOptions struct {
	pacer *huaweikms.Pacer // nil: unlimited
}

// newStore builds the KMS adapter as the function does per invocation:
// the real SDK, signed requests, the emulator's default credentials.
func newStore(url string, o storeOptions) (*huaweikms.Store, error) {
	cfg := huaweikms.Config{
		Endpoint: url, ProjectID: emulator.DefaultProject,
		Credentials: &huaweikms.Credentials{AccessKey: emulator.DefaultAK, SecretKey: emulator.DefaultSK},
		Pacer:       o.pacer, RateLimit: -1,
	}
	s, err := huaweikms.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("build the kms store: %w", err)
	}
	return s, nil
}

// runSweep runs one real sweep through handler.Handle and checks that the
// report accounts for every key.
func runSweep(ctx context.Context, e *policy.Engine, store handler.KeyStore, concurrency int) (handler.Report, time.Duration, error) {
	// One invocation covers the whole sweep, so that its calls and memory
	// are those of a sweep: lift the function's report cap
	// (TAGWARDEN_MAX_REPORT_KEYS, _BYTES), which would otherwise cut a sweep with
	// many non-compliant keys into several invocations.
	h := handler.New(e, handler.Config{Concurrency: concurrency, MaxReportKeys: 1 << 20, MaxReportBytes: 1 << 30}, nil)
	start := time.Now()
	rep := h.Handle(ctx, store, handler.Request{Mode: handler.ModeSweep, Trigger: "bench"})
	d := time.Since(start)
	if rep.Error != "" {
		return rep, d, fmt.Errorf("sweep: %s", rep.Error)
	}
	if rep.Continuation != "" {
		return rep, d, fmt.Errorf("sweep did not finish: it returned a continuation")
	}
	return rep, d, nil
}

// pacedSweep sweeps keys once (runSweep) on an emulator answering with
// faults, through the adapter paced by pacer, as the rate and window
// measurements do: the report, the sweep's wall time and the emulator's
// counts.
func pacedSweep(ctx context.Context, e *policy.Engine, keys []benchKey, faults emulator.Faults, pacer *huaweikms.Pacer, concurrency int) (handler.Report, time.Duration, emulator.Stats, error) {
	k, err := startKMS(keys)
	if err != nil {
		return handler.Report{}, 0, emulator.Stats{}, err
	}
	defer k.close()
	k.srv.SetFaults(faults)
	store, err := newStore(k.url, storeOptions{pacer: pacer})
	if err != nil {
		return handler.Report{}, 0, emulator.Stats{}, err
	}
	rep, d, err := runSweep(ctx, e, store, concurrency)
	return rep, d, k.srv.Stats(), err
}

// failedErrors returns the errors of the first three keys of rep with one.
func failedErrors(rep handler.Report) []string {
	var errs []string
	for _, kr := range rep.Keys {
		if kr.Error != "" && len(errs) < 3 {
			errs = append(errs, kr.Error)
		}
	}
	return errs
}
