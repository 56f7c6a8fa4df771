package huaweiobs

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/provider"

	"github.com/tagwarden/tagwarden/adapters/endpoint"
	"github.com/tagwarden/tagwarden/adapters/huaweikms"
)

// DefaultHTTPTimeout bounds one HTTP exchange when Config.HTTPTimeout is
// zero: the request, the response, and the body of a Get read by the
// caller.
const DefaultHTTPTimeout = 60 * time.Second

// Config configures a Store.
type Config struct {
	// Bucket holds the objects (CheckBucket).
	Bucket string
	// Prefix, when set, is put before every key: the object of key k is
	// Prefix + "/" + k (a trailing "/" on Prefix changes nothing). See
	// CheckPrefix.
	Prefix string
	// Region selects the endpoint https://obs.{Region}.myhuaweicloud.com
	// (https://support.huaweicloud.com/en-us/devg-obs/obs_06_0007.html)
	// unless Endpoint is set. Regions under another domain
	// (obs.eu-west-101.myhuaweicloud.eu) need Endpoint.
	Region string
	// Endpoint overrides the region's endpoint: a private endpoint or the
	// local emulator, e.g. "http://127.0.0.1:9000". It is checked with
	// endpoint.Check, and the OBS SDK takes only a scheme, a host and a
	// port: no path, and no IPv6 literal (it splits host and port at ":").
	Endpoint string
	// Credentials are explicit keys; nil takes them from the chain the KMS
	// adapter uses (the Huawei Cloud SDK's providers): the environment
	// (HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK,
	// HUAWEICLOUD_SDK_SECURITY_TOKEN), then the profile file
	// (~/.huaweicloud/credentials). OBS needs an access key pair: an
	// identity federated with an IdP token gives none and is refused.
	Credentials *huaweikms.Credentials
	// Transport is the HTTP transport (nil: a shared clone of
	// http.DefaultTransport, which verifies TLS certificates and follows
	// the proxy environment). The SDK's own transport, which does not
	// verify certificates by default, is never used.
	Transport http.RoundTripper
	// HTTPTimeout bounds one HTTP exchange, the body of a Get included
	// (default DefaultHTTPTimeout); the caller's context bounds it too.
	HTTPTimeout time.Duration
	// PathStyle addresses the bucket in the path (http://host/bucket/key)
	// instead of the host name (http://bucket.host/key). The SDK uses the
	// path whatever this says when the endpoint's host is an IP address
	// (the local emulator at 127.0.0.1); set it for a host name that
	// cannot take the bucket in front (localhost), or for a bucket name
	// with periods over HTTPS (a wildcard certificate covers one label).
	PathStyle bool
}

// sharedTransport serves the stores built without a Transport, so that a
// warm function keeps its connections. It holds no credentials.
var sharedTransport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 32
	return t
}()

var regionRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// CheckEndpoint returns an OBS endpoint override in the one form the SDK
// takes, or why it cannot be one: endpoint.Check's rule (a scheme, a host,
// no user, query or fragment), and neither a path nor an IPv6 literal,
// which the OBS SDK cannot take (it appends the bucket and the key to
// scheme://host:port, and splits host and port at the first ":"). Its
// errors never repeat a user, password or query.
func CheckEndpoint(ep string) (string, error) {
	ep, err := endpoint.Check("OBS", ep)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(ep)
	if err != nil { // unreachable: Check parsed it
		return "", errors.New("the OBS endpoint is not a URL")
	}
	switch {
	case u.Path != "" || u.RawPath != "":
		return "", fmt.Errorf("the OBS endpoint %s has a path: give the scheme, host and port only", endpoint.Shown(ep))
	case strings.Contains(u.Hostname(), ":"):
		return "", fmt.Errorf("the OBS endpoint %s has an IPv6 address: the OBS SDK cannot take one, use a host name", endpoint.Shown(ep))
	}
	return ep, nil
}

// endpoint resolves the endpoint from the override or the region.
func (c Config) endpoint() (string, error) {
	if strings.TrimSpace(c.Endpoint) != "" {
		return CheckEndpoint(c.Endpoint)
	}
	if c.Region == "" {
		return "", errors.New("no OBS endpoint: set a region or an endpoint")
	}
	if len(c.Region) > 64 || !regionRE.MatchString(c.Region) {
		return "", fmt.Errorf("OBS region %q is not a region id (such as ap-southeast-1)", c.Region)
	}
	return "https://obs." + c.Region + ".myhuaweicloud.com", nil
}

// credentials returns the explicit credentials, or the chain's.
func (c Config) credentials() (huaweikms.Credentials, error) {
	if c.Credentials != nil {
		if c.Credentials.AccessKey == "" || c.Credentials.SecretKey == "" {
			return huaweikms.Credentials{}, errors.New("explicit OBS credentials need both an access key and a secret key")
		}
		return *c.Credentials, nil
	}
	chain := provider.NewCredentialProviderChain([]provider.ICredentialProvider{
		provider.BasicCredentialEnvProvider(), provider.BasicCredentialProfileProvider(),
	})
	ic, err := chain.GetCredentials()
	if err != nil {
		return huaweikms.Credentials{}, fmt.Errorf("no OBS credentials: set them explicitly, or HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK, or a profile file: %w", err)
	}
	bc, ok := ic.(*auth.BasicCredentials)
	if !ok {
		return huaweikms.Credentials{}, fmt.Errorf("the credential chain returned %T, want basic credentials", ic)
	}
	if bc.AK == "" || bc.SK == "" {
		return huaweikms.Credentials{}, errors.New("the credential chain gave no access key pair (an identity federated by IdP token?): OBS signs with an AK/SK")
	}
	return huaweikms.Credentials{AccessKey: bc.AK, SecretKey: bc.SK, SecurityToken: bc.SecurityToken}, nil
}
