// Package kmstest starts the KMS emulator for the length of a test and
// builds huaweikms Stores against it: the one test setup of the KMS
// adapter over the official SDK, signed requests and loopback HTTP, for
// the test packages that use the adapter from outside (the end-to-end
// tests in adapters/huaweikms/e2e, the CLI's tests in cmd/tagwarden).
//
// Package huaweikms's own tests cannot import it (kmstest imports
// huaweikms) and keep a setup of their own. Like emulatortest, it is a
// package apart so that no binary links package testing.
package kmstest

import (
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator/emulatortest"
)

// Fast retries: a test's faults cost milliseconds, not the production
// backoff's seconds.
const (
	// BaseBackoff is the first backoff of a Store built by KMS.Store.
	BaseBackoff = time.Millisecond
	// MaxBackoff is the longest backoff of a Store built by KMS.Store.
	MaxBackoff = 20 * time.Millisecond
	// HTTPTimeout bounds one HTTP request of a Store built by KMS.Store.
	HTTPTimeout = 10 * time.Second
)

// KMS is an emulator serving on a loopback port until the test ends, with
// the only credentials it accepts.
type KMS struct {
	// Server is the emulator: seed, faults, stats, the true tags.
	Server *emulator.Server
	// URL is its base URL, the Store's endpoint.
	URL string
	// Project is the project a Store manages: the first of the options'
	// Projects, else emulator.DefaultProject.
	Project string
	// Credentials are those the emulator accepts: the options' AccessKey,
	// SecretKey and SecurityToken, else emulator.DefaultAK and DefaultSK.
	Credentials huaweikms.Credentials
}

// Start serves an emulator built from opts with emulatortest.Start (it
// closes when the test ends, and a failure to start ends the test).
func Start(tb testing.TB, opts emulator.Options) *KMS {
	tb.Helper()
	if opts.AccessKey == "" && opts.SecretKey == "" {
		opts.AccessKey, opts.SecretKey = emulator.DefaultAK, emulator.DefaultSK
	}
	project := emulator.DefaultProject
	if len(opts.Projects) > 0 {
		project = opts.Projects[0]
	}
	srv, url := emulatortest.Start(tb, opts)
	return &KMS{Server: srv, URL: url, Project: project, Credentials: huaweikms.Credentials{
		AccessKey: opts.AccessKey, SecretKey: opts.SecretKey, SecurityToken: opts.SecurityToken,
	}}
}

// Config is the adapter's configuration against k: its URL as the
// endpoint, its project and credentials, no client-side rate limit, and
// fast retries (BaseBackoff, MaxBackoff, HTTPTimeout; the default number
// of retries).
func (k *KMS) Config() huaweikms.Config {
	creds := k.Credentials
	return huaweikms.Config{
		Endpoint:    k.URL,
		ProjectID:   k.Project,
		Credentials: &creds,
		RateLimit:   -1,
		BaseBackoff: BaseBackoff,
		MaxBackoff:  MaxBackoff,
		HTTPTimeout: HTTPTimeout,
	}
}

// Store builds a Store from k.Config() changed by each of mods, in order,
// as the function builds one per invocation (no network call). It ends the
// test when huaweikms.New refuses the configuration.
func (k *KMS) Store(tb testing.TB, mods ...func(*huaweikms.Config)) *huaweikms.Store {
	tb.Helper()
	cfg := k.Config()
	for _, mod := range mods {
		mod(&cfg)
	}
	s, err := huaweikms.New(cfg)
	if err != nil {
		tb.Fatalf("huaweikms.New: %v", err)
	}
	return s
}
