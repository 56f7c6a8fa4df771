package endpoint_test

import (
	"strings"
	"testing"

	"github.com/tagwarden/tagwarden/adapters/endpoint"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		service, in string
		want        string // the endpoint, or the error
		wantErr     bool
	}{
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
		{"KMS", "https://x:notaport", "the KMS endpoint is not a URL", true},
		{"KMS", "https://u:hunter2@x", "the KMS endpoint holds a user name or password: give the host only (credentials go in the credentials)", true},
		{"KMS", "https://u@x", "the KMS endpoint holds a user name or password: give the host only (credentials go in the credentials)", true},
		{"KMS", "https://x?token=hunter2", "the KMS endpoint has a query or fragment: give the scheme, host and port only", true},
		{"KMS", "https://x?", "the KMS endpoint has a query or fragment: give the scheme, host and port only", true},
		{"KMS", "https://x#f", "the KMS endpoint has a query or fragment: give the scheme, host and port only", true},
		{"IAM", "ftp://iam.example", `the IAM endpoint's scheme is "ftp": want http or https`, true},
		{"", "http://", "the endpoint has no host", true},
		{"", "http://127.0.0.1:9000/", "http://127.0.0.1:9000", false},
	}
	for _, tt := range tests {
		t.Run(tt.service+" "+tt.in, func(t *testing.T) {
			got, err := endpoint.Check(tt.service, tt.in)
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
		{"", ""},
	}
	for _, tt := range tests {
		if got := endpoint.Shown(tt.in); got != tt.want {
			t.Errorf("Shown(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}
