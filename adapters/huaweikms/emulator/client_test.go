package emulator_test

import (
	"errors"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	kms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
)

// creds are what a client signs with.
type creds struct{ ak, sk, token, project string }

func defaultCreds() creds {
	return creds{emulator.DefaultAK, emulator.DefaultSK, "", emulator.DefaultProject}
}

// start serves a new emulator on loopback and returns it with its URL.
func start(t *testing.T, opts emulator.Options) (*emulator.Server, string) {
	t.Helper()
	s, err := emulator.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	url, err := s.Listen("")
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, url
}

// client builds a real SDK client pointed at the emulator.
func client(t *testing.T, url string, c creds) *kms.KmsClient {
	t.Helper()
	b := basic.NewCredentialsBuilder().WithAk(c.ak).WithSk(c.sk).WithProjectId(c.project)
	if c.token != "" {
		b = b.WithSecurityToken(c.token)
	}
	cred, err := b.SafeBuild()
	if err != nil {
		t.Fatalf("credentials: %v", err)
	}
	hc, err := kms.KmsClientBuilder().WithEndpoints([]string{url}).WithCredential(cred).
		WithHttpConfig(config.DefaultHttpConfig().WithTimeout(10e9)).SafeBuild()
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return kms.NewKmsClient(hc)
}

// svcErr extracts the SDK's service error, failing the test without one.
func svcErr(t *testing.T, err error) *sdkerr.ServiceResponseError {
	t.Helper()
	var se *sdkerr.ServiceResponseError
	if !errors.As(err, &se) {
		t.Fatalf("got error %v (%T), want *sdkerr.ServiceResponseError", err, err)
	}
	return se
}

func ptr[T any](v T) *T { return &v }
