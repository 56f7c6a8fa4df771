// Package emulatortest runs the KMS emulator for the length of a test. It is
// apart from package emulator so that binaries which embed the emulator (the
// CLI's demo and emulator commands) do not link package testing.
package emulatortest

import (
	"testing"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
)

// Start builds a Server from opts and serves it on a free loopback port
// (127.0.0.1:0) for the length of a test: it registers Close with
// tb.Cleanup and returns the server and its base URL. It ends the test with
// tb.Fatalf when New or Listen fails.
func Start(tb testing.TB, opts emulator.Options) (*emulator.Server, string) {
	tb.Helper()
	srv, err := emulator.New(opts)
	if err != nil {
		tb.Fatalf("emulator: %v", err)
		return nil, ""
	}
	url, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		tb.Fatalf("emulator listen: %v", err)
		return nil, ""
	}
	tb.Cleanup(func() { srv.Close() })
	return srv, url
}
