package huaweices

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth"
	ces "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/ces/v1"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/ces/v1/model"
	cesregion "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/ces/v1/region"

	"github.com/tagwarden/tagwarden/adapters/endpoint"
	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/internal/hcsdk"
)

// DefaultHTTPTimeout bounds one call when Config.HTTPTimeout is zero.
const DefaultHTTPTimeout = 30 * time.Second

// Config configures a Sink. Zero fields take the defaults.
type Config struct {
	// Namespace of every datum (default DefaultNamespace); CheckNamespace
	// must accept it.
	Namespace string
	// Region selects the endpoint (the SDK's for CES v1, else
	// https://ces.<region>.myhuaweicloud.com) unless Endpoint is set.
	Region string
	// ProjectID is the project the data goes to. Required unless the
	// credential chain provides one (HUAWEICLOUD_SDK_PROJECT_ID, profile).
	ProjectID string
	// Endpoint overrides the region's endpoint, e.g. cesemu's
	// http://127.0.0.1:port; checked with endpoint.Check.
	Endpoint string
	// Credentials are explicit keys; nil uses the SDK's credential chain:
	// the environment (HUAWEICLOUD_SDK_AK, _SK, _SECURITY_TOKEN,
	// _PROJECT_ID), then the profile file, as the KMS adapter does.
	Credentials *huaweikms.Credentials
	// Transport is the base HTTP transport (nil: a shared default one).
	Transport http.RoundTripper
	// HTTPTimeout bounds one call (default DefaultHTTPTimeout); the
	// caller's context deadline bounds it too.
	HTTPTimeout time.Duration
	// TTL is how long Cloud Eye keeps the data, in seconds, MinTTL to
	// MaxTTL (default DefaultTTL, two days).
	TTL int
	// MaxItems, when positive, bounds the data points of one call. The API
	// documents no such limit (only the body size): 0 sets none.
	MaxItems int
	// Now is the clock that checks collect times (nil: time.Now).
	Now func() time.Time
}

// Sink stores metric data in Cloud Eye through the official SDK
// (CreateMetricData). It is safe for concurrent use. Temporary
// credentials expire: build one per invocation (it is cheap, New makes no
// call).
type Sink struct {
	ns       string
	endpoint string
	cred     *auth.BasicCredentials
	ttl      int32
	timeout  time.Duration
	base     http.RoundTripper
	maxItems int
	now      func() time.Time
	redact   hcsdk.Redactor
}

var _ outputs.Metrics = (*Sink)(nil)

// sharedTransport is used by sinks built without a Transport, so that a
// warm function keeps its connections. It holds no credentials.
var sharedTransport = http.DefaultTransport.(*http.Transport).Clone()

// New checks cfg and resolves the endpoint and the credentials. It makes
// no network call. Its errors never show a secret.
func New(cfg Config) (*Sink, error) {
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if err := CheckNamespace(cfg.Namespace); err != nil {
		return nil, fmt.Errorf("configure ces: %w", err)
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.TTL < MinTTL || cfg.TTL > MaxTTL {
		return nil, fmt.Errorf("configure ces: ttl %d s: want %d to %d", cfg.TTL, MinTTL, MaxTTL)
	}
	if cfg.MaxItems < 0 {
		return nil, fmt.Errorf("configure ces: MaxItems %d is negative", cfg.MaxItems)
	}
	ep, err := cesEndpoint(cfg.Endpoint, cfg.Region)
	if err != nil {
		return nil, fmt.Errorf("configure ces: %w", err)
	}
	cred, err := credentials(cfg)
	if err != nil {
		return nil, fmt.Errorf("configure ces: %w", err)
	}
	s := &Sink{ns: cfg.Namespace, endpoint: ep, cred: cred, ttl: int32(cfg.TTL), timeout: cfg.HTTPTimeout,
		base: cfg.Transport, maxItems: cfg.MaxItems, now: cfg.Now,
		redact: hcsdk.NewRedactor(cred.AK, cred.SK, cred.SecurityToken)}
	if s.timeout <= 0 {
		s.timeout = DefaultHTTPTimeout
	}
	if s.base == nil {
		s.base = sharedTransport
	}
	if s.now == nil {
		s.now = time.Now
	}
	// Build one client now, so that a configuration the SDK refuses fails here.
	if _, err := s.client(context.Background()); err != nil {
		return nil, fmt.Errorf("configure ces: %w", err)
	}
	return s, nil
}

var regionRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)+$`)

// cesEndpoint is the override, checked, or the region's endpoint.
func cesEndpoint(override, region string) (string, error) {
	if strings.TrimSpace(override) != "" {
		return endpoint.Check("CES", override)
	}
	if region == "" {
		return "", errors.New("no CES endpoint: set a region or an endpoint")
	}
	if ep, ok := hcsdk.RegionEndpoint(cesregion.SafeValueOf(region)); ok {
		return ep, nil
	}
	if !regionRE.MatchString(region) {
		return "", fmt.Errorf("region %q is not a region id: set the CES endpoint explicitly", region)
	}
	return "https://ces." + region + ".myhuaweicloud.com", nil
}

// credentials builds the SDK's basic credentials, the project id always
// set, as the KMS adapter does.
func credentials(cfg Config) (*auth.BasicCredentials, error) {
	if c := cfg.Credentials; c != nil {
		return hcsdk.Explicit(c, cfg.ProjectID)
	}
	cred, err := hcsdk.Chain()
	if err != nil {
		return nil, err
	}
	if cfg.ProjectID != "" {
		cred.ProjectId = cfg.ProjectID
	}
	if cred.ProjectId == "" {
		return nil, errors.New("no project id: set it in the configuration or HUAWEICLOUD_SDK_PROJECT_ID")
	}
	return cred, nil
}

// Where names the namespace, as a report shows it.
func (s *Sink) Where() string { return s.ns }

// ProjectID is the project the data goes to.
func (s *Sink) ProjectID() string { return s.cred.ProjectId }

// Endpoint is the CES endpoint in use.
func (s *Sink) Endpoint() string { return s.endpoint }

// client builds the SDK client of one call, bound to ctx (hcsdk.Call):
// one attempt, HTTPTimeout, every answer that is not 2xx made an
// *outputs.Error by errorHandler.
func (s *Sink) client(ctx context.Context) (*ces.CesClient, error) {
	c, err := hcsdk.Call{Endpoint: s.endpoint, Credentials: s.cred, Timeout: s.timeout, Transport: s.base,
		Errors: errorHandler{redact: s.redact}}.Client(ctx, ces.CesClientBuilder())
	if err != nil {
		return nil, fmt.Errorf("build the ces client: %w", err)
	}
	return ces.NewCesClient(c), nil
}

// Put stores the points under the sink's namespace. It first checks every
// datum (a datum Cloud Eye would refuse is refused here, ErrInvalid,
// naming it, before any call), then sends them in order in as few calls
// as MaxRequestBytes (and Config.MaxItems) allow, one attempt each. The
// first failed call ends Put; its *outputs.Error says which call it was
// and how many points were stored before it. An empty points makes no
// call.
func (s *Sink) Put(ctx context.Context, points []outputs.Datum) error {
	if len(points) == 0 {
		return nil
	}
	now := s.now()
	items := make([]model.CreateMetricDataRequestBody, len(points))
	sizes := make([]int, len(points))
	for i, d := range points {
		if err := s.check(d, now); err != nil {
			return invalid("datum %d (metric %s): %v", i, quote(d.Metric), err)
		}
		items[i] = s.item(d)
		n, err := encodedLen(items[i])
		if err != nil {
			return invalid("datum %d (metric %s): %v", i, quote(d.Metric), err)
		}
		sizes[i] = n
	}
	batches := split(sizes, MaxRequestBytes, s.maxItems)
	stored := 0
	for k, b := range batches {
		var err *outputs.Error
		if cerr := ctx.Err(); cerr != nil {
			err = &outputs.Error{Service: service, Op: opPut, Message: cerr.Error(), Kind: outputs.ErrTransient}
		} else {
			err = s.call(ctx, items[b[0]:b[1]])
		}
		if err != nil {
			if len(batches) > 1 {
				err.Message += fmt.Sprintf(" (call %d of %d; %d of %d points stored before it)", k+1, len(batches), stored, len(points))
			}
			return err
		}
		stored = b[1]
	}
	return nil
}

// call sends one CreateMetricData.
func (s *Sink) call(ctx context.Context, items []model.CreateMetricDataRequestBody) *outputs.Error {
	c, err := s.client(ctx)
	if err != nil {
		return &outputs.Error{Service: service, Op: opPut, Message: s.redact.String(err.Error()), Kind: outputs.ErrInvalid}
	}
	if _, err := c.CreateMetricData(&model.CreateMetricDataRequest{Body: &items}); err != nil {
		return s.classify(ctx, err)
	}
	return nil
}

// check applies Cloud Eye's rules to one datum at time now.
func (s *Sink) check(d outputs.Datum, now time.Time) error {
	if err := CheckMetricName(d.Metric); err != nil {
		return err
	}
	if n := len(d.Dimensions); n < 1 || n > MaxDimensions {
		return fmt.Errorf("%d dimensions: want 1 to %d", n, MaxDimensions)
	}
	for i, dim := range d.Dimensions {
		if err := CheckDimension(dim.Name, dim.Value); err != nil {
			return err
		}
		for _, prev := range d.Dimensions[:i] {
			if prev.Name == dim.Name {
				return fmt.Errorf("dimension %s given twice", dim.Name)
			}
		}
	}
	if math.IsNaN(d.Value) || math.IsInf(d.Value, 0) {
		return fmt.Errorf("value %v: want a finite number", d.Value)
	}
	if err := checkUnit(d.Unit); err != nil {
		return err
	}
	if d.At.IsZero() {
		return errors.New("no collect time (At)")
	}
	earliest := now.Add(-MaxCollectAge + CollectMargin)
	latest := now.Add(MaxCollectAhead - CollectMargin)
	if d.At.Before(earliest) || d.At.After(latest) {
		return fmt.Errorf("collected at %s: Cloud Eye takes data collected from three days before to ten minutes after now (%s), less %s at each end",
			d.At.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), CollectMargin)
	}
	return nil
}

// maxExactInt is 2^53: integers up to it are exact in a float64.
const maxExactInt = 1 << 53

// item is the SDK's body for one datum: type "int" when the value is a
// whole number a float64 holds exactly, else "float".
func (s *Sink) item(d outputs.Datum) model.CreateMetricDataRequestBody {
	dims := make([]model.MetricsDimension, len(d.Dimensions))
	for i, dim := range d.Dimensions {
		dims[i] = model.MetricsDimension{Name: dim.Name, Value: dim.Value}
	}
	typ := "float"
	if d.Value == math.Trunc(d.Value) && math.Abs(d.Value) <= maxExactInt {
		typ = "int"
	}
	it := model.CreateMetricDataRequestBody{
		Metric:      &model.MetricInfo{Namespace: s.ns, MetricName: d.Metric, Dimensions: dims},
		Ttl:         s.ttl,
		CollectTime: d.At.UnixMilli(),
		Value:       d.Value,
		Type:        &typ,
	}
	if d.Unit != "" {
		unit := d.Unit
		it.Unit = &unit
	}
	return it
}

// encodedLen is the length of v as the SDK encodes a request body
// (encoding/json without HTML escaping), without the final newline.
func encodedLen(v any) (int, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return 0, err
	}
	return buf.Len() - 1, nil
}

// bodyLen is the length of the body the SDK sends for items of these
// encoded sizes: "[", the items separated by ",", "]" and a newline.
func bodyLen(total, n int) int { return total + n + 2 }

// split cuts the items, in order, into the fewest runs [from, to) whose
// bodies fit in maxBytes and that hold at most maxItems items (0: any
// number). Filling each run as far as it goes is optimal for runs in
// order. Every item fits alone: a valid datum encodes to well under 2 KB.
func split(sizes []int, maxBytes, maxItems int) [][2]int {
	var out [][2]int
	from, total := 0, 0
	for i, n := range sizes {
		count := i - from
		if count > 0 && (bodyLen(total+n, count+1) > maxBytes || maxItems > 0 && count+1 > maxItems) {
			out = append(out, [2]int{from, i})
			from, total = i, 0
		}
		total += n
	}
	return append(out, [2]int{from, len(sizes)})
}
