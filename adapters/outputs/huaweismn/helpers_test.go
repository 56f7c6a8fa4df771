package huaweismn_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweismn"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweismn/smnemu"
)

// The secrets of the tests' credentials: no error may show them.
const (
	testToken = "TEMPORARY-SECURITY-TOKEN-0123456789abcdef"
)

// startEmu starts an emulator with opts on a loopback port, closed at the
// end of the test.
func startEmu(t *testing.T, opts smnemu.Options) (*smnemu.Server, string) {
	t.Helper()
	s, err := smnemu.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	url, err := s.Listen("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, url
}

// defaultTopic is smnemu.DefaultTopic parsed.
func defaultTopic(t *testing.T) huaweismn.TopicURN {
	t.Helper()
	u, err := huaweismn.ParseTopicURN(smnemu.DefaultTopic)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// emuCreds are the emulator's default credentials, with token.
func emuCreds(token string) *huaweikms.Credentials {
	return &huaweikms.Credentials{AccessKey: emulator.DefaultAK, SecretKey: emulator.DefaultSK, SecurityToken: token}
}

// newNotifier builds a notifier for topic at url.
func newNotifier(t *testing.T, url string, topic huaweismn.TopicURN, creds *huaweikms.Credentials) *huaweismn.Notifier {
	t.Helper()
	n, err := huaweismn.New(huaweismn.Config{Topic: topic, Endpoint: url, Credentials: creds, HTTPTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// asError asserts err is an *outputs.Error of service smn, op publish.
func asError(t *testing.T, err error) *outputs.Error {
	t.Helper()
	var e *outputs.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *outputs.Error", err, err)
	}
	if e.Service != "smn" || e.Op != "publish" {
		t.Errorf("error names %s %s, want smn publish", e.Service, e.Op)
	}
	return e
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
