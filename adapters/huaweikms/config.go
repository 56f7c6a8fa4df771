package huaweikms

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/provider"
	kmsregion "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/region"
	"github.com/sirupsen/logrus"

	"github.com/tagwarden/tagwarden/adapters/endpoint"
	"github.com/tagwarden/tagwarden/policy"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultRateLimit    = 20   // requests per second (KMS allows 20 per user per second)
	DefaultPageSize     = 1000 // ListKeys limit
	DefaultBulkPageSize = 1000 // resource_instances limit (the API's maximum)
	DefaultMaxRetries   = 4    // retries after the first attempt: 5 attempts
	// DefaultMaxThrottleRetries bounds the retries of a throttled call (429).
	// Throttling says "later", not "broken": with many workers sharing one
	// account's rate, a call can meet several 429s in a row and still succeed.
	DefaultMaxThrottleRetries = 12
	DefaultHTTPTimeout        = 30 * time.Second // per HTTP request
	DefaultBaseBackoff        = 100 * time.Millisecond
	DefaultMaxBackoff         = 5 * time.Second
)

// Credentials are an explicit access key pair, with the security token of
// temporary credentials (FunctionGraph hands out new ones per invocation).
type Credentials struct {
	AccessKey, SecretKey, SecurityToken string
}

// String never shows the secrets.
func (c Credentials) String() string {
	return fmt.Sprintf("huaweikms.Credentials{AccessKey: %s, SecretKey: <redacted>, SecurityToken: %t}",
		MaskAccessKey(c.AccessKey), c.SecurityToken != "")
}

// GoString never shows the secrets, even with %#v.
func (c Credentials) GoString() string { return c.String() }

// MaskAccessKey is an access key as a message may show it: its first four
// characters and ****, or only **** when it has four or fewer.
func MaskAccessKey(ak string) string {
	if len(ak) <= 4 {
		return "****"
	}
	return ak[:4] + "****"
}

// Config configures a Store. Zero fields take the defaults above.
type Config struct {
	// Region selects the endpoint (kms.<region>.myhuaweicloud.com) unless
	// Endpoint is set.
	Region string
	// Endpoint overrides the region's endpoint: the emulator or a private
	// endpoint, e.g. "http://127.0.0.1:8080". Used as given.
	Endpoint string
	// ProjectID is the project whose keys are managed. Required unless the
	// credential chain provides one (HUAWEICLOUD_SDK_PROJECT_ID, profile).
	ProjectID string
	// Credentials are explicit keys; nil uses the SDK's credential chain:
	// the environment (HUAWEICLOUD_SDK_AK, _SK, _SECURITY_TOKEN,
	// _PROJECT_ID), then the profile file (~/.huaweicloud/credentials).
	Credentials *Credentials
	// Pacer paces every HTTP call of this store, retries included: even
	// spacing, at most floor(rate) sends in any sliding second (plus
	// WindowSlack), and a pause of every caller after a 429 (see Pacer).
	// Give the stores of a process the same one (NewPacer): the gateway
	// counts per user. Nil: a new one at RateLimit.
	Pacer *Pacer
	// RateLimit in requests per second for a new Pacer (default
	// DefaultRateLimit); negative means unlimited. Ignored when Pacer is
	// set.
	RateLimit float64
	// PageSize is the ListKeys page size (default 1000).
	PageSize int
	// BulkPageSize is the resource_instances page size, 1..1000 (default 1000).
	BulkPageSize int
	// MaxRetries bounds the retries after a first failed attempt (default 4;
	// negative means none).
	MaxRetries int
	// MaxThrottleRetries bounds the retries of a throttled call (default 12;
	// negative means none). The caller's deadline bounds both kinds.
	MaxThrottleRetries int
	// BaseBackoff and MaxBackoff shape the exponential backoff with full
	// jitter between retries (defaults 100ms and 5s).
	BaseBackoff, MaxBackoff time.Duration
	// HTTPTimeout bounds one HTTP request (default 30s); the caller's
	// context deadline bounds it too.
	HTTPTimeout time.Duration
	// Limits are the tag rules Apply enforces before sending: MaxBatch tags
	// per call, key and value lengths, reserved prefixes. Zero fields take
	// policy.DefaultLimits (the API reference's stricter rules). Pass the
	// policy engine's Limits so that planner and store agree.
	Limits policy.Limits
	// Transport is the base HTTP transport (nil: a shared default one).
	Transport http.RoundTripper
	// Log receives warnings (bulk listing fallback) and debug lines. Nil
	// discards them. Credentials never reach it.
	Log logrus.FieldLogger
}

// sharedTransport is reused by stores built without a Transport, so a warm
// function keeps its connections. It holds no credentials.
var sharedTransport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 32
	return t
}()

func (c Config) withDefaults() Config {
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.PageSize <= 0 {
		c.PageSize = DefaultPageSize
	}
	if c.BulkPageSize <= 0 || c.BulkPageSize > 1000 {
		c.BulkPageSize = DefaultBulkPageSize
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	} else if c.MaxRetries < 0 {
		c.MaxRetries = 0
	}
	if c.MaxThrottleRetries == 0 {
		c.MaxThrottleRetries = DefaultMaxThrottleRetries
	} else if c.MaxThrottleRetries < 0 {
		c.MaxThrottleRetries = 0
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = DefaultBaseBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.HTTPTimeout <= 0 {
		c.HTTPTimeout = DefaultHTTPTimeout
	}
	c.Limits = c.Limits.WithDefaults()
	if c.Transport == nil {
		c.Transport = sharedTransport
	}
	if c.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		c.Log = l
	}
	if c.Pacer == nil {
		c.Pacer = NewPacer(c.RateLimit)
	}
	return c
}

// endpoint resolves the KMS endpoint from the override or the region.
func (c Config) endpoint() (string, error) {
	if ep := strings.TrimSpace(c.Endpoint); ep != "" {
		return CheckEndpoint(ep)
	}
	if c.Region == "" {
		return "", errors.New("no KMS endpoint: set a region or an endpoint")
	}
	r, err := kmsregion.SafeValueOf(c.Region)
	if err != nil || r == nil || len(r.Endpoints) == 0 {
		return "", fmt.Errorf("unknown KMS region %q: set the endpoint explicitly", c.Region)
	}
	ep := r.Endpoints[0]
	if !strings.HasPrefix(ep, "http") {
		ep = "https://" + ep
	}
	return ep, nil
}

// CheckEndpoint returns an endpoint override in the one form the SDK takes
// (scheme in lower case, https:// when none is given), or why it cannot be
// one: only a scheme, a host and a path prefix; no user, query or fragment,
// which the SDK would sign wrongly or send nowhere. Its errors never repeat
// a user, password or query. The configuration and the CLI check an
// endpoint with it, so that all three agree; the rule is endpoint.Check's,
// the errors name the KMS endpoint.
func CheckEndpoint(ep string) (string, error) { return endpoint.Check("KMS", ep) }

// credentials builds the SDK's basic credentials, the project id always set.
func (c Config) credentials() (*auth.BasicCredentials, error) {
	if c.Credentials != nil {
		if c.Credentials.AccessKey == "" || c.Credentials.SecretKey == "" {
			return nil, errors.New("explicit credentials need both an access key and a secret key")
		}
		if c.ProjectID == "" {
			return nil, errors.New("no project id: set the project id with explicit credentials")
		}
		cred, err := basic.NewCredentialsBuilder().WithAk(c.Credentials.AccessKey).WithSk(c.Credentials.SecretKey).
			WithSecurityToken(c.Credentials.SecurityToken).WithProjectId(c.ProjectID).SafeBuild()
		if err != nil {
			return nil, fmt.Errorf("build credentials: %w", err)
		}
		return cred, nil
	}
	chain := provider.NewCredentialProviderChain([]provider.ICredentialProvider{
		provider.BasicCredentialEnvProvider(), provider.BasicCredentialProfileProvider(),
	})
	ic, err := chain.GetCredentials()
	if err != nil {
		return nil, fmt.Errorf("no credentials: set them explicitly, or HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK, or a profile file: %w", err)
	}
	cred, ok := ic.(*auth.BasicCredentials)
	if !ok {
		return nil, fmt.Errorf("credential chain returned %T, want basic credentials", ic)
	}
	if c.ProjectID != "" {
		cred.ProjectId = c.ProjectID
	}
	if cred.ProjectId == "" {
		return nil, errors.New("no project id: set it in the configuration or HUAWEICLOUD_SDK_PROJECT_ID")
	}
	return cred, nil
}
