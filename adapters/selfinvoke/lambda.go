package selfinvoke

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/tagwarden/tagwarden/adapters/endpoint"
)

// LambdaFunction is a Lambda function reference as the Invoke API takes
// it: a name, a partial ARN (account:function:name) or a full ARN, each
// with an optional qualifier (a version, an alias or $LATEST).
type LambdaFunction struct {
	// Partition is the ARN's partition (aws, aws-cn, ...), "" without an ARN.
	Partition string
	// Region is the ARN's region, "" when not given.
	Region string
	// AccountID is the account's 12 digits, "" when not given.
	AccountID string
	// Name is the function's name.
	Name string
	// Qualifier is the version or alias, "" when not given.
	Qualifier string
}

// lambdaFunctionPattern is the Invoke API's FunctionName pattern (Lambda API
// reference, Invoke, "FunctionName"), anchored.
var lambdaFunctionPattern = regexp.MustCompile(`^(arn:(aws[a-zA-Z-]*)?:lambda:)?(([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}):)?((\d{12}):)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?$`)

// ParseLambdaFunction parses a FunctionName of the Invoke API. Its errors
// quote the input clipped.
func ParseLambdaFunction(s string) (LambdaFunction, error) {
	if s == "" || len(s) > 256 {
		return LambdaFunction{}, fmt.Errorf("lambda function name: %d characters, want 1 to 256", len(s))
	}
	m := lambdaFunctionPattern.FindStringSubmatch(s)
	if m == nil {
		return LambdaFunction{}, fmt.Errorf("lambda function name %s: want a name, account:function:name or an ARN, each with an optional :qualifier", quote(s))
	}
	f := LambdaFunction{Partition: m[2], Region: m[4], AccountID: m[10], Name: m[12], Qualifier: m[14]}
	switch {
	case m[1] != "" && (f.Region == "" || f.AccountID == "" || m[11] == ""):
		return LambdaFunction{}, fmt.Errorf("lambda function name %s: an ARN needs a region, an account and function:", quote(s))
	case f.AccountID != "" && m[11] == "":
		return LambdaFunction{}, fmt.Errorf("lambda function name %s: a partial ARN is account:function:name", quote(s))
	case len(f.Name) > 64:
		return LambdaFunction{}, fmt.Errorf("lambda function name: the name has %d characters, want at most 64", len(f.Name))
	}
	return f, nil
}

// LambdaConfig configures a Lambda dispatcher.
type LambdaConfig struct {
	// FunctionName is the function's name or ARN: the caller passes
	// lambdacontext's InvokedFunctionArn.
	FunctionName string
	// Region of the Lambda endpoint. Default: the SDK's (AWS_REGION, set
	// in Lambda), else the ARN's.
	Region string
	// Endpoint overrides the endpoint (lambdaasync's URL). Without it the
	// SDK resolves it, honouring AWS_ENDPOINT_URL_LAMBDA and
	// AWS_ENDPOINT_URL.
	Endpoint string
	// HTTPTimeout bounds one HTTP request (default DefaultHTTPTimeout); a
	// request cut by it is not retried.
	HTTPTimeout time.Duration
	// Retry bounds the attempts of one dispatch; the SDK's own retries are
	// off.
	Retry RetryPolicy
	// Transport is the base HTTP transport (nil: a shared one).
	Transport http.RoundTripper
}

// Lambda dispatches asynchronous (Event) invocations of one Lambda function
// through aws-sdk-go-v2, with the SDK's default credential chain (the
// execution role in Lambda). Safe for concurrent use.
type Lambda struct {
	client *lambda.Client
	name   string
	retry  RetryPolicy
}

var _ Dispatcher = (*Lambda)(nil)

// NewLambda checks cfg, loads the SDK's default configuration and returns
// the dispatcher. Credentials are resolved at the first Dispatch.
func NewLambda(ctx context.Context, cfg LambdaConfig) (*Lambda, error) {
	name := strings.TrimSpace(cfg.FunctionName)
	fn, err := ParseLambdaFunction(name)
	if err != nil {
		return nil, fmt.Errorf("lambda dispatcher: %w", err)
	}
	var ep string
	if strings.TrimSpace(cfg.Endpoint) != "" {
		if ep, err = endpoint.Check("", cfg.Endpoint); err != nil {
			return nil, fmt.Errorf("lambda dispatcher: %w", err)
		}
	}
	var opts []func(*config.LoadOptions) error
	if r := strings.TrimSpace(cfg.Region); r != "" {
		opts = append(opts, config.WithRegion(r))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("lambda dispatcher: load the AWS configuration: %w", err)
	}
	region := awsCfg.Region
	if region == "" {
		region = fn.Region
	}
	if region == "" {
		return nil, errors.New("lambda dispatcher: no region: set it, AWS_REGION or give the function's ARN")
	}
	timeout := cfg.HTTPTimeout
	if timeout <= 0 {
		timeout = DefaultHTTPTimeout
	}
	base := cfg.Transport
	if base == nil {
		base = sharedTransport
	}
	client := lambda.NewFromConfig(awsCfg, func(o *lambda.Options) {
		o.Region = region
		o.Retryer = aws.NopRetryer{}
		o.RetryMaxAttempts = 0
		o.HTTPClient = &http.Client{Transport: tracking{base: base}, Timeout: timeout}
		if ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
	})
	return &Lambda{client: client, name: name, retry: cfg.Retry.withDefaults()}, nil
}

// FunctionName is the function the dispatcher invokes.
func (l *Lambda) FunctionName() string { return l.name }

// Dispatch invokes the function asynchronously (InvocationType Event) with
// payload, a JSON object of at most LambdaMaxAsyncPayload bytes, and
// returns Lambda's request id (x-amzn-RequestId). See Dispatcher for the
// errors.
func (l *Lambda) Dispatch(ctx context.Context, payload []byte) (string, error) {
	_, red, err := checkPayload(l.name, "Lambda", payload, LambdaMaxAsyncPayload, nil)
	if err != nil {
		return "", err
	}
	call := func(ctx context.Context) (string, error) {
		out, err := l.client.Invoke(ctx, &lambda.InvokeInput{
			FunctionName:   aws.String(l.name),
			InvocationType: types.InvocationTypeEvent,
			Payload:        payload,
		})
		if err != nil {
			return "", err
		}
		id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
		return id, nil
	}
	return l.retry.run(ctx, l.name, red, call, classifyLambda)
}

// classifyLambda classifies a failed Invoke: an answer by its status and
// the smithy API error's code, otherwise by what the request reached.
func classifyLambda(err error, connected bool) *Error {
	// The SDK wraps a failure to send in a ResponseError too, without a
	// status: only a status makes an answer.
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() != 0 {
		var code, msg string
		var ae smithy.APIError
		if errors.As(err, &ae) {
			code, msg = ae.ErrorCode(), ae.ErrorMessage()
		} else if re.Err != nil {
			msg = re.Err.Error()
		}
		return fromStatus(re.HTTPStatusCode(), code, msg, re.ServiceRequestID())
	}
	return fromTransport(err, connected)
}
