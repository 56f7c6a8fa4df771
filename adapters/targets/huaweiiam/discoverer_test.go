package huaweiiam_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
	"github.com/tagwarden/tagwarden/adapters/targets"
	"github.com/tagwarden/tagwarden/adapters/targets/huaweiiam"
	"github.com/tagwarden/tagwarden/adapters/targets/iamemu"
	"github.com/tagwarden/tagwarden/handler"
)

const (
	testSK    = "tagwarden-iam-test-secret-key-0123456789"
	testToken = "tagwarden-iam-test-security-token-abcdefghijklmnopqrstuvwxyz"
)

// testAK is an access key of the test's own: the SDK caches the domain id
// it finds by access key for the whole process, so tests that share one
// would not all look it up.
func testAK(t *testing.T) string {
	sum := sha256.Sum256([]byte(t.Name()))
	return "TW" + strings.ToUpper(hex.EncodeToString(sum[:9]))
}

// startIAM serves an IAM emulator for the length of the test.
func startIAM(t *testing.T, opts iamemu.Options) (*iamemu.Server, string) {
	t.Helper()
	s, err := iamemu.New(opts)
	if err != nil {
		t.Fatalf("iam emulator: %v", err)
	}
	u, err := s.Listen("")
	if err != nil {
		t.Fatalf("iam emulator: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, u
}

// emuProjects is the fixture as the emulator's projects.
func emuProjects(t *testing.T) []iamemu.Project {
	var out []iamemu.Project
	for _, p := range fixtureProjects(t) {
		out = append(out, iamemu.Project{ID: p.ID, Name: p.Name, Enabled: p.Enabled})
	}
	return out
}

func newDiscoverer(t *testing.T, cfg huaweiiam.Config) *huaweiiam.Discoverer {
	t.Helper()
	d, err := huaweiiam.New(cfg)
	if err != nil {
		t.Fatalf("NewIAM: %v", err)
	}
	return d
}

func TestIAMProjects(t *testing.T) {
	type env struct{ ak, url string }
	fixture := fixtureProjects(t)
	var want []targets.Project
	for _, p := range fixture {
		p.Region = targets.RegionOf(p.Name)
		want = append(want, p)
	}
	secrets := []string{testSK, testToken, "wrong-secret-key-0000000000000000", "stale-token-0000000000000000"}
	tests := []struct {
		name      string
		opts      func(e env) iamemu.Options
		cfg       func(e env) huaweiiam.Config
		kinds     []error
		wantErr   []string
		wantCalls iamemu.Calls
	}{
		{
			name: "permanent credentials, domain looked up",
			opts: func(e env) iamemu.Options { return iamemu.Options{AccessKey: e.ak, SecretKey: testSK} },
			cfg: func(e env) huaweiiam.Config {
				return huaweiiam.Config{Endpoint: e.url, Credentials: creds(e.ak, testSK, "")}
			},
			wantCalls: iamemu.Calls{Projects: 1, Domains: 1},
		},
		{
			name: "permanent credentials, domain configured",
			opts: func(e env) iamemu.Options { return iamemu.Options{AccessKey: e.ak, SecretKey: testSK} },
			cfg: func(e env) huaweiiam.Config {
				return huaweiiam.Config{Endpoint: e.url, Credentials: creds(e.ak, testSK, ""), DomainID: iamemu.DefaultDomainID}
			},
			wantCalls: iamemu.Calls{Projects: 1},
		},
		{
			name: "temporary credentials",
			opts: func(e env) iamemu.Options {
				return iamemu.Options{AccessKey: e.ak, SecretKey: testSK, SecurityToken: testToken, DomainID: "aa11bb22cc33"}
			},
			cfg: func(e env) huaweiiam.Config {
				return huaweiiam.Config{Endpoint: e.url, Credentials: creds(e.ak, testSK, testToken)}
			},
			wantCalls: iamemu.Calls{Projects: 1, Domains: 1},
		},
		{
			name: "temporary credentials, domain configured",
			opts: func(e env) iamemu.Options {
				return iamemu.Options{AccessKey: e.ak, SecretKey: testSK, SecurityToken: testToken}
			},
			cfg: func(e env) huaweiiam.Config {
				return huaweiiam.Config{Endpoint: e.url, Credentials: creds(e.ak, testSK, testToken), DomainID: iamemu.DefaultDomainID}
			},
			wantCalls: iamemu.Calls{Projects: 1},
		},
		{
			name: "temporary credentials without their token",
			opts: func(e env) iamemu.Options {
				return iamemu.Options{AccessKey: e.ak, SecretKey: testSK, SecurityToken: testToken}
			},
			cfg: func(e env) huaweiiam.Config {
				return huaweiiam.Config{Endpoint: e.url, Credentials: creds(e.ak, testSK, "")}
			},
			kinds:     []error{handler.ErrDenied},
			wantErr:   []string{"iam KeystoneListAuthDomains", "authentication failed", "(APIGW.0301)", "security token is missing", "http 401", "request id "},
			wantCalls: iamemu.Calls{Domains: 1, Unauthorized: 1},
		},
		{
			name: "expired token",
			opts: func(e env) iamemu.Options {
				return iamemu.Options{AccessKey: e.ak, SecretKey: testSK, SecurityToken: testToken}
			},
			cfg: func(e env) huaweiiam.Config {
				return huaweiiam.Config{Endpoint: e.url, Credentials: creds(e.ak, testSK, "stale-token-0000000000000000"), DomainID: iamemu.DefaultDomainID}
			},
			kinds:     []error{handler.ErrDenied},
			wantErr:   []string{"iam KeystoneListAuthProjects", "temporary credentials expire", "security token is invalid or expired"},
			wantCalls: iamemu.Calls{Projects: 1, Unauthorized: 1},
		},
		{
			name: "wrong secret key, domain looked up",
			opts: func(e env) iamemu.Options { return iamemu.Options{AccessKey: e.ak, SecretKey: testSK} },
			cfg: func(e env) huaweiiam.Config {
				return huaweiiam.Config{Endpoint: e.url, Credentials: creds(e.ak, "wrong-secret-key-0000000000000000", "")}
			},
			kinds:     []error{handler.ErrDenied},
			wantErr:   []string{"iam KeystoneListAuthDomains", "authentication failed", "check the access key, the secret key", "verify aksk signature fail", "http 401"},
			wantCalls: iamemu.Calls{Domains: 1, Unauthorized: 1},
		},
		{
			name: "wrong secret key, domain configured",
			opts: func(e env) iamemu.Options { return iamemu.Options{AccessKey: e.ak, SecretKey: testSK} },
			cfg: func(e env) huaweiiam.Config {
				return huaweiiam.Config{Endpoint: e.url, Credentials: creds(e.ak, "wrong-secret-key-0000000000000000", ""), DomainID: iamemu.DefaultDomainID}
			},
			kinds:     []error{handler.ErrDenied},
			wantErr:   []string{"iam KeystoneListAuthProjects", "authentication failed", "verify aksk signature fail"},
			wantCalls: iamemu.Calls{Projects: 1, Unauthorized: 1},
		},
		{
			name: "unknown access key",
			opts: func(e env) iamemu.Options { return iamemu.Options{AccessKey: "SOMEONEELSE", SecretKey: testSK} },
			cfg: func(e env) huaweiiam.Config {
				return huaweiiam.Config{Endpoint: e.url, Credentials: creds(e.ak, testSK, "")}
			},
			kinds:     []error{handler.ErrDenied},
			wantErr:   []string{"access key does not exist"},
			wantCalls: iamemu.Calls{Domains: 1, Unauthorized: 1},
		},
		{
			name: "another account's domain id",
			opts: func(e env) iamemu.Options { return iamemu.Options{AccessKey: e.ak, SecretKey: testSK} },
			cfg: func(e env) huaweiiam.Config {
				return huaweiiam.Config{Endpoint: e.url, Credentials: creds(e.ak, testSK, ""), DomainID: "0123456789abcdef"}
			},
			kinds:     []error{handler.ErrDenied},
			wantErr:   []string{"iam KeystoneListAuthProjects", "and the domain id", "X-Domain-Id"},
			wantCalls: iamemu.Calls{Projects: 1, Unauthorized: 1},
		},
		{
			name: "denied",
			opts: func(e env) iamemu.Options { return iamemu.Options{AccessKey: e.ak, SecretKey: testSK, Deny: true} },
			cfg: func(e env) huaweiiam.Config {
				return huaweiiam.Config{Endpoint: e.url, Credentials: creds(e.ak, testSK, ""), DomainID: iamemu.DefaultDomainID}
			},
			kinds: []error{handler.ErrDenied},
			wantErr: []string{
				"iam KeystoneListAuthProjects", "cannot list its projects", "needs no permission", "explicit deny", "TAGWARDEN_TARGETS",
				"(IAM.0002)", "You are not authorized", "http 403",
			},
			wantCalls: iamemu.Calls{Projects: 1, Denied: 1},
		},
		{
			name: "denied the domain lookup",
			opts: func(e env) iamemu.Options { return iamemu.Options{AccessKey: e.ak, SecretKey: testSK, Deny: true} },
			cfg: func(e env) huaweiiam.Config {
				return huaweiiam.Config{Endpoint: e.url, Credentials: creds(e.ak, testSK, "")}
			},
			kinds:     []error{handler.ErrDenied},
			wantErr:   []string{"iam KeystoneListAuthDomains", "may not look up its account id", "set the domain id", "(IAM.0002)", "http 403"},
			wantCalls: iamemu.Calls{Domains: 1, Denied: 1},
		},
		{
			name: "no account listed",
			opts: func(e env) iamemu.Options { return iamemu.Options{AccessKey: e.ak, SecretKey: testSK, NoDomains: true} },
			cfg: func(e env) huaweiiam.Config {
				return huaweiiam.Config{Endpoint: e.url, Credentials: creds(e.ak, testSK, "")}
			},
			kinds:     []error{handler.ErrDenied},
			wantErr:   []string{"iam KeystoneListAuthDomains", "could not be found: set the domain id", "iam:users:getUser"},
			wantCalls: iamemu.Calls{Domains: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := env{ak: testAK(t)}
			opts := tc.opts(e)
			opts.Projects = emuProjects(t)
			srv, u := startIAM(t, opts)
			e.url = u
			d := newDiscoverer(t, tc.cfg(e))
			got, err := d.Projects(context.Background())
			checkErr(t, err, tc.kinds, tc.wantErr, secrets)
			if err == nil {
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("projects (-want +got):\n%s", diff)
				}
			} else {
				var ie *huaweiiam.Error
				if !errors.As(err, &ie) {
					t.Errorf("got %T, want an *IAMError", err)
				}
			}
			if diff := cmp.Diff(tc.wantCalls, srv.Calls()); diff != "" {
				t.Errorf("emulator calls (-want +got):\n%s", diff)
			}
		})
	}
}

func creds(ak, sk, token string) huaweikms.Credentials {
	return huaweikms.Credentials{AccessKey: ak, SecretKey: sk, SecurityToken: token}
}

// TestIAMDomainCached: the SDK looks the domain id up once per access key
// for the process.
func TestIAMDomainCached(t *testing.T) {
	ak := testAK(t)
	srv, u := startIAM(t, iamemu.Options{AccessKey: ak, SecretKey: testSK})
	for range 3 {
		if _, err := newDiscoverer(t, huaweiiam.Config{Endpoint: u, Credentials: creds(ak, testSK, "")}).Projects(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := srv.Calls(), (iamemu.Calls{Projects: 3, Domains: 1}); got != want {
		t.Errorf("got calls %+v, want %+v", got, want)
	}
}

func TestIAMConcurrent(t *testing.T) {
	ak := testAK(t)
	srv, u := startIAM(t, iamemu.Options{AccessKey: ak, SecretKey: testSK, SecurityToken: testToken})
	d := newDiscoverer(t, huaweiiam.Config{Endpoint: u, Credentials: creds(ak, testSK, testToken)})
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ps, err := d.Projects(context.Background())
			if err == nil && len(ps) != 2 {
				err = fmt.Errorf("got %d projects, want 2", len(ps))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := srv.Calls().Projects; got != n {
		t.Errorf("got %d project calls, want %d", got, n)
	}
}

func TestIAMUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, domain := range []string{"", "d1"} {
		t.Run("domain "+domain, func(t *testing.T) {
			d := newDiscoverer(t, huaweiiam.Config{Endpoint: "http://" + addr, Credentials: creds(testAK(t), testSK, ""), DomainID: domain})
			_, err := d.Projects(context.Background())
			checkErr(t, err, []error{handler.ErrTransient}, []string{"IAM did not answer", addr}, []string{testSK})
			var ue *url.Error
			if !errors.As(err, &ue) {
				t.Errorf("got %v, want it to wrap the network error", err)
			}
		})
	}
}

func TestIAMContext(t *testing.T) {
	var mu sync.Mutex
	hits := 0
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		<-r.Context().Done()
	}))
	defer slow.Close()
	d := newDiscoverer(t, huaweiiam.Config{Endpoint: slow.URL, Credentials: creds(testAK(t), testSK, ""), DomainID: "d1", HTTPTimeout: time.Minute})

	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := d.Projects(ctx)
		checkErr(t, err, []error{handler.ErrTransient, context.DeadlineExceeded}, []string{"iam KeystoneListAuthProjects", "context"}, nil)
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("took %v, want the call cut at the deadline", el)
		}
	})
	t.Run("ended before", func(t *testing.T) {
		mu.Lock()
		before := hits
		mu.Unlock()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := d.Projects(ctx)
		checkErr(t, err, []error{handler.ErrTransient, context.Canceled}, []string{"not sent"}, nil)
		mu.Lock()
		defer mu.Unlock()
		if hits != before {
			t.Errorf("got %d requests, want none once the context has ended", hits-before)
		}
	})
}

// TestIAMOddAnswers: answers that are not IAM's give errors, not panics.
func TestIAMOddAnswers(t *testing.T) {
	tests := []struct {
		name, domain, body string
		kinds              []error
		wantErr            []string
	}{
		{name: "domains without a list", body: `{}`, kinds: []error{handler.ErrDenied}, wantErr: []string{"iam KeystoneListAuthDomains", "could not be found"}},
		{name: "projects without a list", domain: "d1", body: `{}`, kinds: []error{handler.ErrTransient}, wantErr: []string{"iam KeystoneListAuthProjects", "no projects list"}},
		{name: "not JSON", domain: "d1", body: `<html>`, kinds: []error{handler.ErrTransient}, wantErr: []string{"iam KeystoneListAuthProjects", "unreadable answer"}},
		{name: "server error", domain: "d1", body: `{"error_msg":"An unexpected error","error_code":"IAM.0006"}`, kinds: []error{handler.ErrTransient}, wantErr: []string{"server error", "IAM.0006", "http 500"}},
		{name: "not IAM", domain: "d1", body: `{"error_msg":"The API does not exist or has not been published in the environment","error_code":"APIGW.0101","request_id":"r1"}`, kinds: []error{handler.ErrInvalid}, wantErr: []string{"is the IAM endpoint IAM's?", "APIGW.0101", "http 404"}},
		{name: "throttled", domain: "d1", body: `{"error_msg":"The throttling threshold has been reached","error_code":"APIG.0308"}`, kinds: []error{handler.ErrThrottled}, wantErr: []string{"throttled", "http 429"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				switch {
				case strings.Contains(tc.body, "IAM.0006"):
					w.WriteHeader(http.StatusInternalServerError)
				case strings.Contains(tc.body, "APIG.0308"):
					w.WriteHeader(http.StatusTooManyRequests)
				case strings.Contains(tc.body, "APIGW.0101"):
					w.WriteHeader(http.StatusNotFound)
				}
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			d := newDiscoverer(t, huaweiiam.Config{Endpoint: srv.URL, Credentials: creds(testAK(t), testSK, ""), DomainID: tc.domain})
			_, err := d.Projects(context.Background())
			checkErr(t, err, tc.kinds, tc.wantErr, []string{testSK})
		})
	}
}

func TestNewIAM(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		d := newDiscoverer(t, huaweiiam.Config{Credentials: creds("AK01", testSK, "")})
		if got := d.Endpoint(); got != huaweiiam.DefaultEndpoint {
			t.Errorf("got endpoint %q, want %q", got, huaweiiam.DefaultEndpoint)
		}
	})
	t.Run("endpoint normalised", func(t *testing.T) {
		d := newDiscoverer(t, huaweiiam.Config{Endpoint: " iam.ap-southeast-1.myhuaweicloud.com/ ", Credentials: creds("AK01", testSK, "")})
		if got, want := d.Endpoint(), "https://iam.ap-southeast-1.myhuaweicloud.com"; got != want {
			t.Errorf("got endpoint %q, want %q", got, want)
		}
	})
	tests := []struct {
		name    string
		cfg     huaweiiam.Config
		wantErr []string
		absent  []string
	}{
		{name: "scheme", cfg: huaweiiam.Config{Endpoint: "ftp://iam.example", Credentials: creds("AK01", testSK, "")}, wantErr: []string{"configure iam", `IAM endpoint's scheme is "ftp"`}, absent: []string{"KMS"}},
		{name: "password", cfg: huaweiiam.Config{Endpoint: "https://u:hunter2@iam.example", Credentials: creds("AK01", testSK, "")}, wantErr: []string{"user name or password"}, absent: []string{"hunter2"}},
		{name: "path", cfg: huaweiiam.Config{Endpoint: "https://gw.example/iam", Credentials: creds("AK01", testSK, "")}, wantErr: []string{"has a path", "host only"}},
		{name: "access key without secret", cfg: huaweiiam.Config{Credentials: creds("AK01", "", "")}, wantErr: []string{"both an access key and a secret key"}},
		{name: "token alone", cfg: huaweiiam.Config{Credentials: creds("", "", testToken)}, wantErr: []string{"both an access key and a secret key"}, absent: []string{testToken}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := huaweiiam.New(tc.cfg)
			checkErr(t, err, nil, tc.wantErr, append(tc.absent, testSK))
		})
	}
}

// TestIAMCredentialChain: without explicit credentials, the SDK's chain
// (here the environment) gives them, the domain id included.
func TestIAMCredentialChain(t *testing.T) {
	ak := testAK(t)
	srv, u := startIAM(t, iamemu.Options{AccessKey: ak, SecretKey: testSK, SecurityToken: testToken})
	t.Setenv("HUAWEICLOUD_SDK_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("HUAWEICLOUD_SDK_IDP_ID", "")
	t.Setenv("HUAWEICLOUD_SDK_ID_TOKEN_FILE", "")
	t.Setenv("HUAWEICLOUD_SDK_AK", "")
	t.Setenv("HUAWEICLOUD_SDK_SK", "")
	if _, err := huaweiiam.New(huaweiiam.Config{Endpoint: u}); err == nil || !strings.Contains(err.Error(), "no credentials") {
		t.Fatalf("got %v with no credentials anywhere, want an error saying so", err)
	}
	t.Setenv("HUAWEICLOUD_SDK_AK", ak)
	t.Setenv("HUAWEICLOUD_SDK_SK", testSK)
	t.Setenv("HUAWEICLOUD_SDK_SECURITY_TOKEN", testToken)
	t.Setenv("HUAWEICLOUD_SDK_DOMAIN_ID", iamemu.DefaultDomainID)
	d := newDiscoverer(t, huaweiiam.Config{Endpoint: u})
	if _, err := d.Projects(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := srv.Calls(), (iamemu.Calls{Projects: 1}); got != want {
		t.Errorf("got calls %+v, want %+v (the domain id from the environment)", got, want)
	}
}

func TestIAMStringHidesSecrets(t *testing.T) {
	cfg := huaweiiam.Config{Endpoint: "http://127.0.0.1:1", Credentials: creds("AKVISIBLEPREFIX", testSK, testToken), DomainID: "d1"}
	d := newDiscoverer(t, cfg)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{d, *d, cfg, &cfg} {
			s := fmt.Sprintf(format, v)
			for _, secret := range []string{testSK, testToken, "AKVISIBLEPREFIX"} {
				if strings.Contains(s, secret) {
					t.Errorf("Sprintf(%q, %T) = %q: shows a secret", format, v, s)
				}
			}
		}
	}
	if s := d.String(); !strings.Contains(s, "AKVI****") || !strings.Contains(s, "http://127.0.0.1:1") {
		t.Errorf("got %q, want the masked access key and the endpoint", s)
	}
}

// TestAutoThroughIAM runs discovery end to end: the configuration, the
// SDK and the emulator serving the fixture's projects.
func TestAutoThroughIAM(t *testing.T) {
	ak := testAK(t)
	srv, u := startIAM(t, iamemu.Options{AccessKey: ak, SecretKey: testSK, SecurityToken: testToken, Projects: emuProjects(t)})
	d := newDiscoverer(t, huaweiiam.Config{Endpoint: u, Credentials: creds(ak, testSK, testToken)})
	cfg := targets.Config{
		Auto:      true,
		Regions:   mustFilter(t, "cn-.*|ap-.*"),
		Projects:  mustFilter(t, "cn-north-4|ap-southeast-1"),
		Endpoints: map[string]string{"ap-southeast-1": "http://127.0.0.1:8080"},
	}
	got, err := cfg.Resolve(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]targets.Target{withEndpoint(tAP, "http://127.0.0.1:8080"), tCN}, got); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	if tg, err := cfg.Lookup(context.Background(), d, "ap-southeast-1/"+emulator.DefaultProject); err != nil || tg.Endpoint != "http://127.0.0.1:8080" {
		t.Errorf("got %+v, %v, want the emulator's project with the configured endpoint", tg, err)
	}
	for _, name := range []string{"cn-north-4/" + projProd, "cn-north-4/" + projOld, "eu-west-101/" + projEU, "ap-southeast-1/" + projMOS} {
		if _, err := cfg.Lookup(context.Background(), d, name); !errors.Is(err, targets.ErrNotConfigured) {
			t.Errorf("Lookup(%s): got %v, want ErrNotConfigured: a project of the identity that the configuration leaves out", name, err)
		}
	}
	if got := srv.Calls().Projects; got != 6 {
		t.Errorf("got %d discoveries, want 6 (one per Resolve and Lookup)", got)
	}
}
