package huaweiobs

import (
	"testing"

	"github.com/tagwarden/tagwarden/adapters/outputs"
)

func TestErrorTable(t *testing.T) {
	cases := []struct {
		status int
		code   string
		kind   error
	}{
		{404, "NoSuchKey", outputs.ErrNotFound},
		{404, "NoSuchBucket", outputs.ErrNotFound},
		{404, "", outputs.ErrNotFound},
		{403, "AccessDenied", outputs.ErrDenied},
		{403, "SignatureDoesNotMatch", outputs.ErrDenied},
		{403, "InvalidAccessKeyId", outputs.ErrDenied},
		{403, "RequestTimeTooSkewed", outputs.ErrDenied},
		{401, "", outputs.ErrDenied},
		{503, "SlowDown", outputs.ErrThrottled},
		{503, "ServiceUnavailable", outputs.ErrTransient},
		{429, "", outputs.ErrThrottled},
		{500, "InternalError", outputs.ErrTransient},
		{502, "", outputs.ErrTransient},
		{504, "", outputs.ErrTransient},
		{400, "RequestTimeout", outputs.ErrTransient},
		{400, "IncompleteBody", outputs.ErrTransient},
		{408, "", outputs.ErrTransient},
		{400, "BadDigest", outputs.ErrInvalid},
		{400, "EntityTooLarge", outputs.ErrInvalid},
		{400, "KeyTooLongError", outputs.ErrInvalid},
		{411, "MissingContentLength", outputs.ErrInvalid},
		{409, "", outputs.ErrInvalid},
		{301, "PermanentRedirect", outputs.ErrInvalid},
		{307, "TemporaryRedirect", outputs.ErrInvalid},
		{0, "", outputs.ErrTransient},
	}
	for _, c := range cases {
		if got := kindOf(c.status, c.code); got != c.kind {
			t.Errorf("%d %s: %v, want %v", c.status, c.code, got, c.kind)
		}
	}
}

func TestRedact(t *testing.T) {
	s := &Store{}
	s.creds.AccessKey, s.creds.SecretKey, s.creds.SecurityToken = "AKIDEXAMPLE", "secret-key-1", "token-abc"
	got := s.redact("ak AKIDEXAMPLE sk secret-key-1 tok token-abc")
	if want := "ak AKID**** sk <redacted> tok <redacted>"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
