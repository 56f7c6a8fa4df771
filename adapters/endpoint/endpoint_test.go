package endpoint_test

import (
	"strings"
	"testing"

	"github.com/tagwarden/tagwarden/adapters/endpoint"
)

func TestCheck(t *testing.T) {
	tests := []checkCase{
		{"KMS", "http://127.0.0.1:8080", "http://127.0.0.1:8080", false},
		{"KMS", "HTTP://Host:1/", "http://Host:1", false},
		{"KMS", " kms.vpc.example ", "https://kms.vpc.example", false},
		{"KMS", "https://kms.example/prefix/", "https://kms.example/prefix", false},
		{"KMS", "http://[::1]:80", "http://[::1]:80", false},
		{"KMS", "ftp://x", `the KMS endpoint's scheme is "ftp": want http or https`, true},
		{"KMS", "https://", "the KMS endpoint has no host", true},
		{"KMS", "", "the KMS endpoint has no host", true},
		{"KMS", "://x", "the KMS endpoint is not a URL", true},
		{"KMS", "http://%zz", "the KMS endpoint is not a URL", true},
		{"KMS", "https://x:notaport", "the KMS endpoint's port is not a number from 1 to 65535", true},
		{"KMS", "https://x:hunter2", "the KMS endpoint's port is not a number from 1 to 65535", true},
		{"KMS", "https://x:0", `the KMS endpoint's port is "0": want a number from 1 to 65535`, true},
		{"KMS", "https://x:65536", `the KMS endpoint's port is "65536": want a number from 1 to 65535`, true},
		{"KMS", "https://x:99999999999999999999", `the KMS endpoint's port is "99999999999999999999": want a number from 1 to 65535`, true},
		{"KMS", "x:70000", `the KMS endpoint's port is "70000": want a number from 1 to 65535`, true},
		{"KMS", "https://x:", `the KMS endpoint's port is empty: want a number from 1 to 65535, or no ":"`, true},
		{"KMS", "https://x:/p", `the KMS endpoint's port is empty: want a number from 1 to 65535, or no ":"`, true},
		{"KMS", "http://[::1]:", `the KMS endpoint's port is empty: want a number from 1 to 65535, or no ":"`, true},
		{"KMS", "http://[::1]:0", `the KMS endpoint's port is "0": want a number from 1 to 65535`, true},
		{"KMS", "https://x:65535", "https://x:65535", false},
		{"KMS", "https://x:1/p", "https://x:1/p", false},
		{"KMS", "https://u:hunter2@x", "the KMS endpoint holds a user name or password: give the host only (credentials go in the credentials)", true},
		{"KMS", "https://u@x", "the KMS endpoint holds a user name or password: give the host only (credentials go in the credentials)", true},
		{"KMS", "https://x?token=hunter2", "the KMS endpoint has a query or fragment: give the scheme, host and port only", true},
		{"KMS", "https://x?", "the KMS endpoint has a query or fragment: give the scheme, host and port only", true},
		{"KMS", "https://x#f", "the KMS endpoint has a query or fragment: give the scheme, host and port only", true},
		{"IAM", "ftp://iam.example", `the IAM endpoint's scheme is "ftp": want http or https`, true},
		{"", "http://", "the endpoint has no host", true},
		{"", "http://127.0.0.1:9000/", "http://127.0.0.1:9000", false},
	}
	runChecks(t, endpoint.Check, tests)
}

// TestCheckHost: an endpoint of an SDK that appends its own paths takes
// no path; everything Check refuses is refused too.
func TestCheckHost(t *testing.T) {
	tests := []checkCase{
		{"SMN", "http://127.0.0.1:9000", "http://127.0.0.1:9000", false},
		{"SMN", "http://127.0.0.1:9000/", "http://127.0.0.1:9000", false},
		{"CES", " ces.example ", "https://ces.example", false},
		{"SMN", "http://127.0.0.1:9000/v2", "the SMN endpoint has a path: give the scheme, host and port only (the SDK adds its own paths)", true},
		{"CES", "https://ces.example/prefix/", "the CES endpoint has a path: give the scheme, host and port only (the SDK adds its own paths)", true},
		{"OBS", "obs.example/a%2Fb", "the OBS endpoint has a path: give the scheme, host and port only (the SDK adds its own paths)", true},
		{"", "https://x/a/", "the endpoint has a path: give the scheme, host and port only (the SDK adds its own paths)", true},
		{"SMN", "https://x:0", `the SMN endpoint's port is "0": want a number from 1 to 65535`, true},
		{"SMN", "https://x:", `the SMN endpoint's port is empty: want a number from 1 to 65535, or no ":"`, true},
		{"SMN", "https://u:hunter2@x", "the SMN endpoint holds a user name or password: give the host only (credentials go in the credentials)", true},
		{"CES", "ftp://x", `the CES endpoint's scheme is "ftp": want http or https`, true},
	}
	runChecks(t, endpoint.CheckHost, tests)
}

// checkCase is one endpoint given to a check, and what it gives.
type checkCase struct {
	service, in string
	want        string // the endpoint, or the error
	wantErr     bool
}

// runChecks runs check on each case; no error may repeat the secret
// "hunter2" the cases hide in user parts, ports and queries.
func runChecks(t *testing.T, check func(service, ep string) (string, error), tests []checkCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.service+" "+tt.in, func(t *testing.T) {
			got, err := check(tt.service, tt.in)
			switch {
			case tt.wantErr && (err == nil || err.Error() != tt.want):
				t.Errorf("got %q, %v; want the error %q", got, err, tt.want)
			case !tt.wantErr && (err != nil || got != tt.want):
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			case err != nil && strings.Contains(err.Error(), "hunter2"):
				t.Errorf("the error %q repeats the secret", err)
			}
		})
	}
}

func TestShown(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8080/p", "http://127.0.0.1:8080/p"},
		{"http://u:hunter2@127.0.0.1:8080", "http://xxxxx@127.0.0.1:8080"},
		{"http://u:hunter2@127.0.0.1:1/%zz", "http://xxxxx@127.0.0.1:1/%zz"},
		{"ftp://u:hunter2@h", "ftp://xxxxx@h"},
		{"u:hunter2@kms.example", "xxxxx@kms.example"},
		{"http://127.0.0.1:8080?token=hunter2", "http://127.0.0.1:8080..."},
		{"http://h#hunter2", "http://h..."},
		{"http://u:p@h/a@b?q=hunter2", "http://xxxxx@b..."}, // a path with an "@" is masked too
		{"http://admin:hunter2", "http://admin:xxxxx"},      // a password without its user
		{"admin:hunter2/p", "admin:xxxxx/p"},
		{"http://h:8080/a:b", "http://h:8080/a:b"},
		{"http://h:/p", "http://h:/p"},
		{"http://[::1]:8080", "http://[::1]:8080"},
		{"http://[::1]", "http://[::1]"},
		{"http://[::1]:hunter2", "http://[::1]:xxxxx"},
		{"http://u:hunter2@h:hunter3", "http://xxxxx@h:xxxxx"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := endpoint.Shown(tt.in); got != tt.want {
			t.Errorf("Shown(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}
