package huaweiiam

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	sdk "github.com/huaweicloud/huaweicloud-sdk-go-v3/core"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/global"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/provider"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/region"
	iam "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3/model"

	"github.com/tagwarden/tagwarden/adapters/endpoint"
	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/targets"
	"github.com/tagwarden/tagwarden/handler"
)

// Defaults New applies to zero fields of Config.
const (
	// DefaultEndpoint is IAM's global endpoint (the SDK's default too).
	DefaultEndpoint = "https://iam.myhuaweicloud.com"
	// DefaultHTTPTimeout bounds one HTTP request to IAM.
	DefaultHTTPTimeout = 30 * time.Second
)

// Config configures a Discoverer.
type Config struct {
	// Endpoint is IAM's endpoint (default DefaultEndpoint): the global
	// one, a region's (https://iam.<region>.myhuaweicloud.com) or the
	// local emulator. It is checked like a KMS endpoint (endpoint.Check),
	// and takes no path: scheme, host and port only.
	Endpoint string
	// Credentials are the function's access key pair, with the security
	// token of temporary (agency) credentials. The zero value reads the
	// SDK's chain: the environment (HUAWEICLOUD_SDK_AK, _SK,
	// _SECURITY_TOKEN, _DOMAIN_ID), then the profile file.
	Credentials huaweikms.Credentials
	// DomainID is the account (domain) id that IAM, a global service,
	// needs in X-Domain-Id. Empty: the SDK looks it up at each Projects
	// call with KeystoneListAuthDomains (GET /v3/auth/domains), and keeps
	// it in its process-wide cache by access key.
	DomainID string
	// Region is the function's own region, optional: when IAM lists no
	// account for the credentials, the SDK asks that region's STS
	// (GetCallerIdentity) for the account id, in the regions that have
	// STS. Empty: no such fallback.
	Region string
	// HTTPTimeout bounds one HTTP request (default DefaultHTTPTimeout);
	// the caller's context bounds it too.
	HTTPTimeout time.Duration
	// Transport is the base HTTP transport (nil: http.DefaultTransport).
	Transport http.RoundTripper
}

// Discoverer is a targets.Discoverer over IAM's KeystoneListAuthProjects
// (GET /v3/auth/projects) through the official SDK (services/iam/v3) with
// the SDK's global credentials, which sign SDK-HMAC-SHA256 with the
// X-Domain-Id header. It is safe for concurrent use; its String never
// shows the credentials.
type Discoverer struct {
	endpoint  string
	creds     huaweikms.Credentials
	domainID  string
	region    string
	timeout   time.Duration
	transport http.RoundTripper
	redact    *strings.Replacer
}

var _ targets.Discoverer = (*Discoverer)(nil)

// New checks cfg and returns the discoverer. It makes no network call.
// Its errors never show the credentials.
func New(cfg Config) (*Discoverer, error) {
	ep := strings.TrimSpace(cfg.Endpoint)
	if ep == "" {
		ep = DefaultEndpoint
	}
	ep, err := endpoint.Check("IAM", ep)
	if err != nil {
		return nil, fmt.Errorf("configure iam: %w", err)
	}
	if u, err := url.Parse(ep); err != nil || u.Path != "" {
		// The SDK (core/request, fillPath) replaces an endpoint's path with
		// the API's: a prefix would be dropped without a word.
		return nil, errors.New("configure iam: the IAM endpoint has a path: the SDK sends to the scheme and host only")
	}
	creds, domainID := cfg.Credentials, strings.TrimSpace(cfg.DomainID)
	switch {
	case creds.AccessKey == "" && creds.SecretKey == "" && creds.SecurityToken == "":
		c, err := chainCredentials()
		if err != nil {
			return nil, fmt.Errorf("configure iam: %w", err)
		}
		creds.AccessKey, creds.SecretKey, creds.SecurityToken = c.AK, c.SK, c.SecurityToken
		if domainID == "" {
			domainID = c.DomainId
		}
	case creds.AccessKey == "" || creds.SecretKey == "":
		return nil, errors.New("configure iam: explicit credentials need both an access key and a secret key")
	}
	if cfg.HTTPTimeout <= 0 {
		cfg.HTTPTimeout = DefaultHTTPTimeout
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport
	}
	return &Discoverer{
		endpoint:  ep,
		creds:     creds,
		domainID:  domainID,
		region:    strings.TrimSpace(cfg.Region),
		timeout:   cfg.HTTPTimeout,
		transport: cfg.Transport,
		redact:    newRedactor(creds),
	}, nil
}

// chainCredentials reads the SDK's chain: environment, then profile file.
func chainCredentials() (*auth.GlobalCredentials, error) {
	chain := provider.NewCredentialProviderChain([]provider.ICredentialProvider{
		provider.GlobalCredentialEnvProvider(), provider.GlobalCredentialProfileProvider(),
	})
	ic, err := chain.GetCredentials()
	if err != nil {
		return nil, errors.New("no credentials: set them explicitly, or HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK, or a profile file")
	}
	c, ok := ic.(*auth.GlobalCredentials)
	if !ok || c.AK == "" || c.SK == "" {
		return nil, errors.New("no credentials: the SDK's chain gave no access key pair (federated identities are not supported here)")
	}
	return c, nil
}

// Endpoint returns the IAM endpoint in use.
func (i *Discoverer) Endpoint() string { return i.endpoint }

// String describes the discoverer without its secrets.
func (i Discoverer) String() string {
	return fmt.Sprintf("huaweiiam.Discoverer{Endpoint: %s, AccessKey: %s, SecretKey: <redacted>, SecurityToken: %t, DomainID: %q}",
		i.endpoint, huaweikms.MaskAccessKey(i.creds.AccessKey), i.creds.SecurityToken != "", i.domainID)
}

// GoString is String, so that %#v shows no secret either.
func (i Discoverer) GoString() string { return i.String() }

// Projects lists the projects the credentials can reach with
// KeystoneListAuthProjects, first looking up the account id with
// KeystoneListAuthDomains when DomainID is empty (the SDK does, and caches
// it by access key). Projects whose is_domain is true are left out. Each
// Project's Region is targets.RegionOf its name. Errors are *Error.
func (i *Discoverer) Projects(ctx context.Context) ([]targets.Project, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Op: OpListAuthProjects, Kind: handler.ErrTransient, Hint: "not sent: the context has ended", Message: err.Error(), Err: err}
	}
	// Fresh credentials per call: the SDK writes the domain id it finds
	// into them, so sharing them between concurrent calls would race.
	cred, err := global.NewCredentialsBuilder().
		WithAk(i.creds.AccessKey).WithSk(i.creds.SecretKey).WithSecurityToken(i.creds.SecurityToken).
		WithDomainId(i.domainID).WithIamEndpointOverride(i.endpoint).SafeBuild()
	if err != nil {
		return nil, &Error{Op: OpListAuthProjects, Kind: handler.ErrInvalid, Hint: "the SDK refused the credentials", Message: i.redact.Replace(err.Error())}
	}
	hc := config.DefaultHttpConfig().
		WithTimeout(i.timeout).
		WithHttpRoundTripper(ctxTransport{ctx: ctx, base: i.transport}).
		WithUserAgent("tagwarden")
	// With a region the SDK resolves the domain id while building (when it
	// is not set): KeystoneListAuthDomains on the credentials' IAM endpoint.
	builder := iam.IamClientBuilder().
		WithRegion(region.NewRegion(i.region, i.endpoint)).
		WithCredential(cred).
		WithHttpConfig(hc)
	hcc, err := safeBuild(builder)
	if err != nil {
		return nil, i.classify(ctx, OpListAuthDomains, err)
	}
	resp, err := iam.NewIamClient(hcc).KeystoneListAuthProjects(&model.KeystoneListAuthProjectsRequest{})
	if err != nil {
		return nil, i.classify(ctx, OpListAuthProjects, err)
	}
	if resp.Projects == nil {
		return nil, &Error{Op: OpListAuthProjects, Kind: handler.ErrTransient, Status: resp.HttpStatusCode,
			Hint: "the answer has no projects list: is the endpoint IAM's?"}
	}
	out := make([]targets.Project, 0, len(*resp.Projects))
	for _, p := range *resp.Projects {
		if p.IsDomain {
			continue
		}
		out = append(out, targets.Project{ID: p.Id, Name: p.Name, Region: targets.RegionOf(p.Name), Enabled: p.Enabled})
	}
	return out, nil
}

// safeBuild builds the SDK client, turning a panic of the SDK's domain
// lookup (it dereferences the answer's domains list unchecked) into an
// error.
func safeBuild(b *sdk.HcHttpClientBuilder) (c *sdk.HcHttpClient, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("failed to get domain id automatically: the SDK could not read IAM's answer (%v)", r)
		}
	}()
	return b.SafeBuild()
}

// ctxTransport binds every request of one call to the caller's context, so
// that the SDK (which has no context) stops at the caller's deadline.
type ctxTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.base.RoundTrip(r.WithContext(t.ctx))
}
