package selfinvoke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/response"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	fgv2 "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2/model"
	fgregion "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/functiongraph/v2/region"

	"github.com/tagwarden/tagwarden/adapters/endpoint"
	"github.com/tagwarden/tagwarden/adapters/huaweikms"
)

// FunctionGraphConfig configures a FunctionGraph dispatcher.
type FunctionGraphConfig struct {
	// URN is the function to invoke: the running one (URNFromRuntime).
	URN URN
	// Endpoint overrides the region's endpoint, e.g.
	// http://127.0.0.1:port for fgasync. Default: the SDK's endpoint of
	// URN.Region, else https://functiongraph.{region}.myhuaweicloud.com.
	Endpoint string
	// Credentials sign the calls: the invocation's temporary credentials
	// (their agency needs functiongraph:function:invokeAsync on the
	// function). The project id is URN.ProjectID.
	Credentials Credentials
	// HTTPTimeout bounds one HTTP request (default DefaultHTTPTimeout); a
	// request cut by it is not retried.
	HTTPTimeout time.Duration
	// Retry bounds the attempts of one dispatch.
	Retry RetryPolicy
	// Transport is the base HTTP transport (nil: a shared one).
	Transport http.RoundTripper
}

// FunctionGraph dispatches asynchronous invocations of one FunctionGraph
// function through the official SDK (AsyncInvokeFunction). Temporary
// credentials expire: build one per invocation, with that invocation's
// credentials (it is cheap). Safe for concurrent use.
type FunctionGraph struct {
	urn      URN
	target   string
	endpoint string
	cred     *auth.BasicCredentials
	timeout  time.Duration
	retry    RetryPolicy
	base     http.RoundTripper
}

var _ Dispatcher = (*FunctionGraph)(nil)

// NewFunctionGraph checks cfg and returns its dispatcher.
func NewFunctionGraph(cfg FunctionGraphConfig) (*FunctionGraph, error) {
	if err := cfg.URN.validate(); err != nil {
		return nil, fmt.Errorf("functiongraph dispatcher: %w", err)
	}
	if cfg.Credentials.AccessKey == "" || cfg.Credentials.SecretKey == "" {
		return nil, errors.New("functiongraph dispatcher: the credentials need an access key and a secret key")
	}
	ep, err := fgEndpoint(cfg.Endpoint, cfg.URN.Region)
	if err != nil {
		return nil, fmt.Errorf("functiongraph dispatcher: %w", err)
	}
	cred, err := basic.NewCredentialsBuilder().WithAk(cfg.Credentials.AccessKey).WithSk(cfg.Credentials.SecretKey).
		WithSecurityToken(cfg.Credentials.SecurityToken).WithProjectId(cfg.URN.ProjectID).SafeBuild()
	if err != nil {
		// The SDK's message may quote what it was given: say only that it failed.
		return nil, errors.New("functiongraph dispatcher: the SDK refused the credentials")
	}
	f := &FunctionGraph{
		urn: cfg.URN, target: cfg.URN.String(), endpoint: ep, cred: cred,
		timeout: cfg.HTTPTimeout, retry: cfg.Retry.withDefaults(), base: cfg.Transport,
	}
	if f.timeout <= 0 {
		f.timeout = DefaultHTTPTimeout
	}
	if f.base == nil {
		f.base = sharedTransport
	}
	return f, nil
}

// fgEndpoint is the override, checked, or the region's endpoint.
func fgEndpoint(override, region string) (string, error) {
	if strings.TrimSpace(override) != "" {
		return endpoint.Check("", override)
	}
	if r, err := fgregion.SafeValueOf(region); err == nil && r != nil && len(r.Endpoints) > 0 {
		ep := r.Endpoints[0]
		if !strings.HasPrefix(ep, "http") {
			ep = "https://" + ep
		}
		return ep, nil
	}
	return "https://functiongraph." + region + ".myhuaweicloud.com", nil
}

// URN is the function the dispatcher invokes.
func (f *FunctionGraph) URN() URN { return f.urn }

// Dispatch invokes the function asynchronously with payload, a JSON object
// of at most FunctionGraphMaxAsyncPayload bytes once the SDK encodes it,
// and returns FunctionGraph's request_id ("" when an accepting answer
// carries none). See Dispatcher for the errors.
func (f *FunctionGraph) Dispatch(ctx context.Context, payload []byte) (string, error) {
	body, red, err := checkPayload(f.target, "FunctionGraph", payload, FunctionGraphMaxAsyncPayload, encodedSize)
	if err != nil {
		return "", err
	}
	call := func(ctx context.Context) (string, error) {
		c, err := f.client(ctx, red)
		if err != nil {
			return "", err
		}
		resp, err := c.AsyncInvokeFunction(&model.AsyncInvokeFunctionRequest{
			FunctionUrn: f.target,
			ContentType: "application/json",
			Body:        body,
		})
		if err != nil {
			return "", err
		}
		if resp.RequestId == nil {
			return "", nil
		}
		return *resp.RequestId, nil
	}
	return f.retry.run(ctx, f.target, red, call, classifyFunctionGraph)
}

// encodedSize is the length of the body the SDK sends for m: encoding/json
// without HTML escaping, with a trailing newline
// (request.DefaultHttpRequest.GetBodyToBytes).
func encodedSize(m map[string]any) (int, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return 0, err
	}
	return buf.Len(), nil
}

// client builds the SDK client of one attempt, bound to ctx (the SDK makes
// requests without a context).
func (f *FunctionGraph) client(ctx context.Context, red *redactor) (*fgv2.FunctionGraphClient, error) {
	hc := config.DefaultHttpConfig().
		WithTimeout(f.timeout).
		WithHttpRoundTripper(tracking{ctx: ctx, base: f.base}).
		WithUserAgent("tagwarden")
	c, err := fgv2.FunctionGraphClientBuilder().
		WithEndpoints([]string{f.endpoint}).
		WithCredential(f.cred).
		WithHttpConfig(hc).
		WithErrorHandler(fgErrorHandler{red: red}).
		SafeBuild()
	if err != nil {
		return nil, fmt.Errorf("build the functiongraph client: %w", err)
	}
	return fgv2.NewFunctionGraphClient(c), nil
}

// fgErrorHandler keeps the SDK's parsing of error bodies (error_code,
// error_msg; nested or flat), takes the request id from the body when the
// X-Request-Id header has none, and masks the payload's strings first.
type fgErrorHandler struct{ red *redactor }

// HandleError turns an error answer into an *sdkerr.ServiceResponseError.
func (h fgErrorHandler) HandleError(_ *request.DefaultHttpRequest, resp *response.DefaultHttpResponse) error {
	if resp.GetStatusCode() < 400 {
		return nil
	}
	body, _ := resp.GetBodyAsBytes()
	body = []byte(h.red.mask(string(body)))
	r := *resp.Response
	r.Body = io.NopCloser(bytes.NewReader(body))
	sre := sdkerr.NewServiceResponseError(&r)
	if sre.RequestId == "" {
		var b struct {
			RequestID string `json:"request_id"`
		}
		if json.Unmarshal(body, &b) == nil {
			sre.RequestId = b.RequestID
		}
	}
	return sre
}

// classifyFunctionGraph classifies a failed AsyncInvokeFunction.
func classifyFunctionGraph(err error, connected bool) *Error {
	if sre, ok := huaweikms.AsResponseError(err); ok {
		return fromStatus(sre.StatusCode, sre.ErrorCode, sre.ErrorMessage, sre.RequestId)
	}
	return fromTransport(err, connected)
}
