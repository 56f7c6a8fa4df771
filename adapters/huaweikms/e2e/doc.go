// Package e2e holds tagwarden's end-to-end tests, and nothing else: the
// handler (package handler) with the shipped policies (package policies),
// through the KMS adapter (package huaweikms) and the official Huawei Cloud
// SDK, signing every request, over loopback HTTP to the KMS emulator
// (package emulator), which checks the signatures and the tag rules and
// injects faults (throttling, server errors, latency, dropped connections,
// expired credentials).
//
// They check what the documentation promises of a whole sweep: the dry
// run's plan is what a real run writes, every key is decided exactly once
// across any chain of continuations and with every listing shape the
// emulator has, faults are retried or reported per key, writes rest on
// fresh tags, and no credential reaches a log or a report. The handler's
// own tests (go test ./handler/) run on the in-memory store in seconds;
// these take longer:
//
//	go test ./adapters/huaweikms/e2e/
//	go test -short ./adapters/huaweikms/e2e/   # fewer keys
package e2e
