package huaweismn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth"
	smn "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/smn/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/smn/v2/model"
	smnregion "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/smn/v2/region"

	"github.com/tagwarden/tagwarden/adapters/endpoint"
	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/internal/hcsdk"
)

// DefaultHTTPTimeout bounds one PublishMessage request when
// Config.HTTPTimeout is zero; the caller's context bounds it too.
const DefaultHTTPTimeout = 10 * time.Second

// Config configures a Notifier.
type Config struct {
	// Topic is where messages go (ParseTopicURN). Its region selects the
	// endpoint and its project signs the calls.
	Topic TopicURN
	// Endpoint overrides the region's endpoint (smnemu, a private
	// endpoint), checked with endpoint.Check. Default: the SDK's endpoint
	// of Topic.Region, else https://smn.{region}.myhuaweicloud.com.
	Endpoint string
	// Credentials are explicit keys (FunctionGraph's temporary ones); nil
	// uses the SDK's credential chain: the environment
	// (HUAWEICLOUD_SDK_AK, _SK, _SECURITY_TOKEN), then the profile file.
	// Either way the project id is Topic.ProjectID.
	Credentials *huaweikms.Credentials
	// Transport is the base HTTP transport (nil: a shared one).
	Transport http.RoundTripper
	// HTTPTimeout bounds one request (default DefaultHTTPTimeout).
	HTTPTimeout time.Duration
}

// Notifier publishes messages to one SMN topic through the official SDK
// (PublishMessage). It makes one attempt per Publish: the caller decides
// on retries (outputs.Error.Retryable). Safe for concurrent use; build one
// per invocation when the credentials are temporary.
type Notifier struct {
	topic    TopicURN
	urn      string
	endpoint string
	cred     *auth.BasicCredentials
	timeout  time.Duration
	base     http.RoundTripper
	red      hcsdk.Redactor
}

var _ outputs.Notifier = (*Notifier)(nil)

// sharedTransport serves the notifiers built without a Transport, so that
// a warm function keeps its connections. It holds no credentials.
var sharedTransport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 4
	return t
}()

// New checks cfg and builds the Notifier. It makes no network call. Its
// errors never carry the credentials.
func New(cfg Config) (*Notifier, error) {
	if cfg.Topic.IsZero() {
		return nil, errors.New("smn notifier: no topic")
	}
	if err := cfg.Topic.validate(); err != nil {
		return nil, fmt.Errorf("smn notifier: %w", err)
	}
	ep, err := smnEndpoint(cfg.Endpoint, cfg.Topic.Region)
	if err != nil {
		return nil, fmt.Errorf("smn notifier: %w", err)
	}
	cred, err := credentials(cfg.Credentials, cfg.Topic.ProjectID)
	if err != nil {
		return nil, fmt.Errorf("smn notifier: %w", err)
	}
	n := &Notifier{
		topic: cfg.Topic, urn: cfg.Topic.String(), endpoint: ep, cred: cred,
		timeout: cfg.HTTPTimeout, base: cfg.Transport,
		red: hcsdk.NewRedactor(cred.AK, cred.SK, cred.SecurityToken),
	}
	if n.timeout <= 0 {
		n.timeout = DefaultHTTPTimeout
	}
	if n.base == nil {
		n.base = sharedTransport
	}
	// Build one client now, so that a configuration the SDK refuses fails
	// here and not at the first message.
	if _, err := n.client(context.Background()); err != nil {
		return nil, fmt.Errorf("smn notifier: %w", err)
	}
	return n, nil
}

// smnEndpoint is the override, checked, or the region's endpoint.
func smnEndpoint(override, region string) (string, error) {
	if strings.TrimSpace(override) != "" {
		return endpoint.Check("SMN", override)
	}
	if ep, ok := hcsdk.RegionEndpoint(smnregion.SafeValueOf(region)); ok {
		return ep, nil
	}
	return "https://smn." + region + ".myhuaweicloud.com", nil
}

// credentials builds the SDK's basic credentials for project: the explicit
// keys, or the SDK's chain (environment, then profile) as the KMS adapter
// reads it, its project replaced by the topic's.
func credentials(c *huaweikms.Credentials, project string) (*auth.BasicCredentials, error) {
	if c != nil {
		return hcsdk.Explicit(c, project)
	}
	cred, err := hcsdk.Chain()
	if err != nil {
		return nil, err
	}
	// A copy: the chain's value is not ours to change.
	cp := *cred
	cp.ProjectId = project
	return &cp, nil
}

// client builds the SDK client of one call, bound to ctx (hcsdk.Call):
// one attempt, HTTPTimeout.
func (n *Notifier) client(ctx context.Context) (*smn.SmnClient, error) {
	c, err := hcsdk.Call{Endpoint: n.endpoint, Credentials: n.cred, Timeout: n.timeout, Transport: n.base,
		Errors: errorHandler{red: n.red}}.Client(ctx, smn.SmnClientBuilder())
	if err != nil {
		return nil, fmt.Errorf("build the smn client: %s", n.red.String(err.Error()))
	}
	return smn.NewSmnClient(c), nil
}

// Where is the topic's URN.
func (n *Notifier) Where() string { return n.urn }

// Topic is the topic messages go to.
func (n *Notifier) Topic() TopicURN { return n.topic }

// Endpoint is the SMN endpoint in use.
func (n *Notifier) Endpoint() string { return n.endpoint }

// Publish sends m with one PublishMessage call and returns SMN's message
// id ("" when an accepting answer carries none). A message breaking SMN's
// rules (see the limits) is refused before sending with ErrInvalid. The
// attributes with values go as message_attributes of type STRING_ARRAY,
// in order, each value once. ctx bounds the call; the caller retries. Errors are
// *outputs.Error.
func (n *Notifier) Publish(ctx context.Context, m outputs.Message) (string, error) {
	attrs, err := prepare(m)
	if err != nil {
		return "", refused(err)
	}
	if err := ctx.Err(); err != nil {
		return "", &outputs.Error{Service: service, Op: opPublish, Kind: outputs.ErrTransient,
			Message: "not sent: " + err.Error()}
	}
	body := &model.PublishMessageRequestBody{Message: &m.Body}
	if m.Subject != "" {
		body.Subject = &m.Subject
	}
	if len(attrs) > 0 {
		list := make([]model.MessageAttribute, len(attrs))
		for i, a := range attrs {
			var v any = a.values
			list[i] = model.MessageAttribute{
				Name:  a.name,
				Type:  model.GetMessageAttributeTypeEnum().STRING_ARRAY,
				Value: &v,
			}
		}
		body.MessageAttributes = &list
	}
	c, err := n.client(ctx)
	if err != nil {
		return "", &outputs.Error{Service: service, Op: opPublish, Kind: outputs.ErrInvalid, Message: err.Error()}
	}
	resp, err := c.PublishMessage(&model.PublishMessageRequest{TopicUrn: n.urn, Body: body})
	if err != nil {
		return "", classify(ctx, err, n.red)
	}
	if resp == nil || resp.MessageId == nil {
		return "", nil
	}
	return *resp.MessageId, nil
}
