package emulatortest_test

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator/emulatortest"
)

func TestStart(t *testing.T) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var url string
	t.Run("serves", func(t *testing.T) {
		srv, u := emulatortest.Start(t, emulator.Options{Seed: emulator.SampleKeys(3, 1)})
		url = u
		if !strings.HasPrefix(url, "http://127.0.0.1:") {
			t.Errorf("got base URL %q, want http://127.0.0.1:<port>", url)
		}
		if got := len(srv.Keys(emulator.DefaultProject)); got != 3 {
			t.Errorf("got %d keys, want the 3 seeded", got)
		}
		resp, err := client.Post(url+"/v1.0/"+emulator.DefaultProject+"/kms/list-keys", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatalf("the started emulator does not answer: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("unsigned request: got status %d, want %d", resp.StatusCode, http.StatusUnauthorized)
		}
	})
	if url == "" {
		t.Fatal("no URL to check after the subtest")
	}
	if resp, err := client.Get(url); err == nil {
		resp.Body.Close()
		t.Errorf("the emulator still answers at %s after its test ended: status %d", url, resp.StatusCode)
	}
}

// fatalTB records the first Fatalf and ends its goroutine, as testing does.
type fatalTB struct {
	testing.TB
	msg      string
	cleanups int
}

func (f *fatalTB) Helper()        {}
func (f *fatalTB) Cleanup(func()) { f.cleanups++ }
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestStartFailsTheTest(t *testing.T) {
	keys := emulator.SampleKeys(1, 1)
	keys = append(keys, keys[0]) // a key listed twice: New refuses it
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		emulatortest.Start(tb, emulator.Options{Seed: keys})
		t.Error("Start returned after a failing New")
	}()
	<-done
	if !strings.Contains(tb.msg, "listed twice") {
		t.Errorf("got Fatalf %q, want the error of New", tb.msg)
	}
	if tb.cleanups != 0 {
		t.Errorf("got %d cleanups registered, want none for a server that never started", tb.cleanups)
	}
}
