// Package hcsdk holds what the output drivers over the Huawei Cloud SDK
// (huaweismn, huaweices) share: the credentials masked in what answers and
// transport errors say (Redactor), the explicit credentials or the SDK's
// chain, the region's endpoint, and the client of one call (one attempt,
// bound to the caller's context). What a driver sends, and how it reads
// and classifies its service's errors, stays the driver's.
package hcsdk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	httpclient "github.com/huaweicloud/huaweicloud-sdk-go-v3/core"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/provider"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/region"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
)

// Redactor masks a driver's credentials in text that came from an answer
// or a transport error: the KMS store's (huaweikms.Redactor), so that the
// drivers and the store mask alike. The zero value masks nothing.
type Redactor = huaweikms.Redactor

// NewRedactor masks ak, sk and token (empty ones are skipped), as written
// and as JSON escapes them.
func NewRedactor(ak, sk, token string) Redactor { return huaweikms.NewRedactor(ak, sk, token) }

// Explicit builds the SDK's basic credentials from explicit keys, for
// project. Its errors never quote the keys.
func Explicit(c *huaweikms.Credentials, project string) (*auth.BasicCredentials, error) {
	if c.AccessKey == "" || c.SecretKey == "" {
		return nil, errors.New("explicit credentials need both an access key and a secret key")
	}
	if project == "" {
		return nil, errors.New("no project id: set the project id with explicit credentials")
	}
	cred, err := basic.NewCredentialsBuilder().WithAk(c.AccessKey).WithSk(c.SecretKey).
		WithSecurityToken(c.SecurityToken).WithProjectId(project).SafeBuild()
	if err != nil {
		// The SDK's message may quote what it was given: say only that it failed.
		return nil, errors.New("the SDK refused the credentials")
	}
	return cred, nil
}

// Chain returns the basic credentials of the SDK's credential chain, as
// the KMS adapter reads it: the environment (HUAWEICLOUD_SDK_AK, _SK,
// _SECURITY_TOKEN, _PROJECT_ID), then the profile file.
func Chain() (*auth.BasicCredentials, error) {
	chain := provider.NewCredentialProviderChain([]provider.ICredentialProvider{
		provider.BasicCredentialEnvProvider(), provider.BasicCredentialProfileProvider(),
	})
	ic, err := chain.GetCredentials()
	if err != nil {
		return nil, errors.New("no credentials: set them explicitly, or HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK, or a profile file")
	}
	cred, ok := ic.(*auth.BasicCredentials)
	if !ok {
		return nil, fmt.Errorf("credential chain returned %T, want basic credentials", ic)
	}
	return cred, nil
}

// RegionEndpoint is the first endpoint of a service's region as the SDK
// knows it, https:// when it names no scheme; false when the SDK knows
// none. It takes what the service's region.SafeValueOf returns.
func RegionEndpoint(r *region.Region, err error) (string, bool) {
	if err != nil || r == nil || len(r.Endpoints) == 0 {
		return "", false
	}
	ep := r.Endpoints[0]
	if !strings.HasPrefix(ep, "http") {
		ep = "https://" + ep
	}
	return ep, true
}

// Call is what one call's SDK client is built from.
type Call struct {
	// Endpoint is the service's endpoint.
	Endpoint string
	// Credentials sign the call.
	Credentials auth.ICredential
	// Timeout bounds one request.
	Timeout time.Duration
	// Transport is the base HTTP transport.
	Transport http.RoundTripper
	// Errors reads the answers that are errors.
	Errors sdkerr.ErrorHandler
}

// Client builds, with b (the service's client builder, e.g.
// smn.SmnClientBuilder()), the SDK client of one call bound to ctx: every
// request goes through c.Transport with ctx, since the SDK takes no
// context, so that ctx's deadline and cancellation reach the connection.
// The SDK retries nothing: HttpConfig.Retries is 0 (and unused by its
// synchronous calls), and with a single endpoint it has no other to fail
// over to.
func (c Call) Client(ctx context.Context, b *httpclient.HcHttpClientBuilder) (*httpclient.HcHttpClient, error) {
	hc := config.DefaultHttpConfig().
		WithTimeout(c.Timeout).
		WithRetries(0).
		WithHttpRoundTripper(ctxTransport{ctx: ctx, base: c.Transport}).
		WithUserAgent("tagwarden")
	return b.WithEndpoints([]string{c.Endpoint}).
		WithCredential(c.Credentials).
		WithHttpConfig(hc).
		WithErrorHandler(c.Errors).
		SafeBuild()
}

// ctxTransport binds every request to a call's context.
type ctxTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.base.RoundTrip(r.WithContext(t.ctx))
}
