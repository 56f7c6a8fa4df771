package targets

import (
	"testing"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
)

// TestCheckEndpointAgrees pins checkEndpoint to huaweikms.CheckEndpoint,
// whose rule it copies: the same endpoint, or the same error, for every
// input.
func TestCheckEndpointAgrees(t *testing.T) {
	for _, ep := range []string{
		"http://127.0.0.1:8080", "HTTP://Host:1/", "kms.vpc.example", " https://kms.example/prefix/ ",
		"ftp://x", "https://", "://x", "https://u:p@x", "https://u@x", "https://x?q", "https://x?", "https://x#f",
		"http://[::1]:80", "http://%zz", "", " ", "https://x/a@b", "https://x:notaport",
	} {
		got, gotErr := checkEndpoint(ep)
		want, wantErr := huaweikms.CheckEndpoint(ep)
		if got != want || (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Errorf("checkEndpoint(%q) = %q, %v; huaweikms.CheckEndpoint says %q, %v", ep, got, gotErr, want, wantErr)
		}
	}
}

// FuzzCheckEndpointAgrees: the copy and the original agree on any input.
func FuzzCheckEndpointAgrees(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:8080", "https://u:p@x?q#f", "kms.example/x/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ep string) {
		got, gotErr := checkEndpoint(ep)
		want, wantErr := huaweikms.CheckEndpoint(ep)
		if got != want || (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Errorf("checkEndpoint(%q) = %q, %v; huaweikms.CheckEndpoint says %q, %v", ep, got, gotErr, want, wantErr)
		}
	})
}
