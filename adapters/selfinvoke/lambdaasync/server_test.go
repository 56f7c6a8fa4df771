package lambdaasync_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/tagwarden/tagwarden/adapters/selfinvoke"
	"github.com/tagwarden/tagwarden/adapters/selfinvoke/lambdaasync"
)

const (
	region = "eu-west-1"
	token  = "session-token-0001"
)

// echo answers {"echo": payload}, or fails when the payload says so.
func echo(_ context.Context, payload []byte) ([]byte, error) {
	var p struct{ Fail string }
	json.Unmarshal(payload, &p) //nolint:errcheck // any JSON value
	switch p.Fail {
	case "error":
		return nil, errors.New("it failed")
	case "body":
		return []byte(`{"errorMessage":"bad input","errorType":"Runtime.Error"}`), nil
	}
	return json.Marshal(map[string]json.RawMessage{"echo": payload})
}

func start(t *testing.T, opts lambdaasync.Options, fn lambdaasync.Function) *lambdaasync.Server {
	t.Helper()
	opts.Region, opts.SessionToken = region, token
	srv, err := lambdaasync.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.Register("tagwarden", fn, "live"); err != nil {
		t.Fatal(err)
	}
	return srv
}

// client is aws-sdk-go-v2's Lambda client for srv, without retries.
func client(srv *lambdaasync.Server, clientRegion, ak, sk, tok string) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:       clientRegion,
		BaseEndpoint: aws.String(srv.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider(ak, sk, tok),
		Retryer:      aws.NopRetryer{},
	})
}

func TestInvoke(t *testing.T) {
	t.Parallel()
	srv := start(t, lambdaasync.Options{}, echo)
	good := client(srv, region, lambdaasync.DefaultAccessKey, lambdaasync.DefaultSecretKey, token)
	tests := []struct {
		name      string
		client    *lambda.Client
		in        lambda.InvokeInput
		wantCode  string // error code; "" for success
		wantHTTP  int
		wantMsg   string
		wantBody  string // RequestResponse: the body answered
		wantFnErr string // RequestResponse: X-Amz-Function-Error
		wantRuns  int    // invocations accepted
	}{
		{name: "request-response", client: good, in: lambda.InvokeInput{FunctionName: aws.String("tagwarden"), Payload: []byte(`{"a":1}`)},
			wantHTTP: 200, wantBody: `{"echo":{"a":1}}`, wantRuns: 1},
		{name: "request-response, function error", client: good, in: lambda.InvokeInput{FunctionName: aws.String("tagwarden"), Payload: []byte(`{"fail":"error"}`)},
			wantHTTP: 200, wantBody: `{"errorMessage":"it failed","errorType":"errorString"}`, wantFnErr: "Unhandled", wantRuns: 1},
		{name: "request-response, error body", client: good, in: lambda.InvokeInput{FunctionName: aws.String("tagwarden"), Payload: []byte(`{"fail":"body"}`)},
			wantHTTP: 200, wantBody: `{"errorMessage":"bad input","errorType":"Runtime.Error"}`, wantFnErr: "Unhandled", wantRuns: 1},
		{name: "empty payload is {}", client: good, in: lambda.InvokeInput{FunctionName: aws.String("tagwarden")},
			wantHTTP: 200, wantBody: `{"echo":{}}`, wantRuns: 1},
		{name: "event", client: good, in: lambda.InvokeInput{FunctionName: aws.String("tagwarden"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"a":1}`)},
			wantHTTP: 202, wantRuns: 1},
		{name: "dry run", client: good, in: lambda.InvokeInput{FunctionName: aws.String("tagwarden"), InvocationType: types.InvocationTypeDryRun},
			wantHTTP: 204},
		{name: "qualifier parameter", client: good, in: lambda.InvokeInput{FunctionName: aws.String("tagwarden"), Qualifier: aws.String("live"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`)},
			wantHTTP: 202, wantRuns: 1},
		{name: "qualifier in conflict", client: good, in: lambda.InvokeInput{FunctionName: aws.String("tagwarden:live"), Qualifier: aws.String("$LATEST"), Payload: []byte(`{}`)},
			wantCode: "InvalidParameterValueException", wantHTTP: 400, wantMsg: "derived qualifier"},
		{name: "unknown function", client: good, in: lambda.InvokeInput{FunctionName: aws.String("nobody"), Payload: []byte(`{}`)},
			wantCode: "ResourceNotFoundException", wantHTTP: 404, wantMsg: "Function not found: arn:aws:lambda:eu-west-1:123456789012:function:nobody"},
		{name: "ARN of another region", client: good, in: lambda.InvokeInput{FunctionName: aws.String("arn:aws:lambda:us-east-2:123456789012:function:tagwarden"), Payload: []byte(`{}`)},
			wantCode: "ResourceNotFoundException", wantHTTP: 404, wantMsg: "us-east-2"},
		{name: "bad function name", client: good, in: lambda.InvokeInput{FunctionName: aws.String("tag warden"), Payload: []byte(`{}`)},
			wantCode: "ValidationException", wantHTTP: 400, wantMsg: "functionName"},
		{name: "bad invocation type", client: good, in: lambda.InvokeInput{FunctionName: aws.String("tagwarden"), InvocationType: "Later", Payload: []byte(`{}`)},
			wantCode: "ValidationException", wantHTTP: 400, wantMsg: "invocationType"},
		{name: "not JSON", client: good, in: lambda.InvokeInput{FunctionName: aws.String("tagwarden"), Payload: []byte(`{"a":`)},
			wantCode: "InvalidRequestContentException", wantHTTP: 400},
		{name: "event over 1 MB", client: good, in: lambda.InvokeInput{FunctionName: aws.String("tagwarden"), InvocationType: types.InvocationTypeEvent,
			Payload: []byte(`"` + strings.Repeat("x", selfinvoke.LambdaMaxAsyncPayload) + `"`)},
			wantCode: "RequestEntityTooLargeException", wantHTTP: 413, wantMsg: "too large for the Event invocation type (limit 1048576 bytes)"},
		{name: "request-response over 1 MB", client: good, in: lambda.InvokeInput{FunctionName: aws.String("tagwarden"),
			Payload: []byte(`"` + strings.Repeat("x", selfinvoke.LambdaMaxAsyncPayload) + `"`)},
			wantHTTP: 200, wantRuns: 1},
		{name: "over 6 MB", client: good, in: lambda.InvokeInput{FunctionName: aws.String("tagwarden"),
			Payload: []byte(`"` + strings.Repeat("x", selfinvoke.LambdaMaxSyncPayload) + `"`)},
			wantCode: "RequestEntityTooLargeException", wantHTTP: 413, wantMsg: "smaller than 6291456 bytes"},
		{name: "wrong secret key", client: client(srv, region, lambdaasync.DefaultAccessKey, "wrong", token), in: lambda.InvokeInput{FunctionName: aws.String("tagwarden"), Payload: []byte(`{}`)},
			wantCode: "InvalidSignatureException", wantHTTP: 403, wantMsg: "signature we calculated does not match"},
		{name: "unknown access key", client: client(srv, region, "AKIAOTHER", lambdaasync.DefaultSecretKey, token), in: lambda.InvokeInput{FunctionName: aws.String("tagwarden"), Payload: []byte(`{}`)},
			wantCode: "UnrecognizedClientException", wantHTTP: 403},
		{name: "no session token", client: client(srv, region, lambdaasync.DefaultAccessKey, lambdaasync.DefaultSecretKey, ""), in: lambda.InvokeInput{FunctionName: aws.String("tagwarden"), Payload: []byte(`{}`)},
			wantCode: "UnrecognizedClientException", wantHTTP: 403},
		{name: "scoped to another region", client: client(srv, "us-west-2", lambdaasync.DefaultAccessKey, lambdaasync.DefaultSecretKey, token), in: lambda.InvokeInput{FunctionName: aws.String("tagwarden"), Payload: []byte(`{}`)},
			wantCode: "InvalidSignatureException", wantHTTP: 403, wantMsg: "valid region"},
	}
	var mu sync.Mutex // the count of invocations is shared
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			defer mu.Unlock()
			before := len(srv.Invocations())
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, err := tt.client.Invoke(ctx, &tt.in)
			if tt.wantCode != "" {
				var ae smithy.APIError
				var re *awshttp.ResponseError
				if !errors.As(err, &ae) || !errors.As(err, &re) {
					t.Fatalf("got %v, want an API error %s", err, tt.wantCode)
				}
				if ae.ErrorCode() != tt.wantCode || re.HTTPStatusCode() != tt.wantHTTP || !strings.Contains(ae.ErrorMessage(), tt.wantMsg) {
					t.Errorf("got %d %s %q, want %d %s with %q", re.HTTPStatusCode(), ae.ErrorCode(), ae.ErrorMessage(), tt.wantHTTP, tt.wantCode, tt.wantMsg)
				}
				if re.ServiceRequestID() == "" {
					t.Error("got no request id")
				}
			} else {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				if int(out.StatusCode) != tt.wantHTTP {
					t.Errorf("got status %d, want %d", out.StatusCode, tt.wantHTTP)
				}
				if tt.wantBody != "" && string(out.Payload) != tt.wantBody {
					t.Errorf("got body %.100s, want %s", out.Payload, tt.wantBody)
				}
				if got := aws.ToString(out.FunctionError); got != tt.wantFnErr {
					t.Errorf("got function error %q, want %q", got, tt.wantFnErr)
				}
			}
			if err := srv.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			if got := len(srv.Invocations()) - before; got != tt.wantRuns {
				t.Errorf("got %d invocations accepted, want %d", got, tt.wantRuns)
			}
		})
	}
}

// signedRequest is an Invoke call signed with the SDK's signer at signedAt;
// body is sent, signedBody signed.
func signedRequest(t *testing.T, srv *lambdaasync.Server, body, signedBody string, signedAt time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL()+"/2015-03-31/functions/tagwarden/invocations", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Invocation-Type", "Event")
	req.ContentLength = int64(len(body))
	sum := sha256.Sum256([]byte(signedBody))
	creds := aws.Credentials{AccessKeyID: lambdaasync.DefaultAccessKey, SecretAccessKey: lambdaasync.DefaultSecretKey, SessionToken: token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "lambda", region, signedAt); err != nil {
		t.Fatal(err)
	}
	return req
}

// TestSignatureRaw pins what only raw requests can show: the error's shape
// on the wire, a body changed after signing, a stale date.
func TestSignatureRaw(t *testing.T) {
	t.Parallel()
	srv := start(t, lambdaasync.Options{}, echo)
	unsigned, err := http.NewRequest(http.MethodPost, srv.URL()+"/2015-03-31/functions/tagwarden/invocations", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		req      *http.Request
		want     int
		wantType string
		wantMsg  string
	}{
		{"signed", signedRequest(t, srv, `{"a":1}`, `{"a":1}`, time.Now()), 202, "", ""},
		{"no Authorization", unsigned, 403, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"body changed after signing", signedRequest(t, srv, `{"a":2}`, `{"a":1}`, time.Now()), 403, "InvalidSignatureException", "does not match"},
		{"signed 20 minutes ago", signedRequest(t, srv, `{"a":1}`, `{"a":1}`, time.Now().Add(-20*time.Minute)), 403, "InvalidSignatureException", "Signature expired"},
		{"signed 20 minutes ahead", signedRequest(t, srv, `{"a":1}`, `{"a":1}`, time.Now().Add(20*time.Minute)), 403, "InvalidSignatureException", "not yet current"},
		{"signed 10 minutes ago", signedRequest(t, srv, `{"a":1}`, `{"a":1}`, time.Now().Add(-10*time.Minute)), 202, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.DefaultClient.Do(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, data, tt.want)
			}
			if resp.Header.Get("x-amzn-RequestId") == "" {
				t.Error("got no x-amzn-RequestId")
			}
			if tt.wantType == "" {
				if len(data) != 0 {
					t.Errorf("got body %q, want none for an Event", data)
				}
				return
			}
			if got := resp.Header.Get("x-amzn-ErrorType"); got != tt.wantType {
				t.Errorf("got x-amzn-ErrorType %q, want %q", got, tt.wantType)
			}
			var body map[string]string
			if err := json.Unmarshal(data, &body); err != nil || body["Type"] != "User" || !strings.Contains(body["message"], tt.wantMsg) || len(body) != 2 {
				t.Errorf("got body %s, want {\"Type\":\"User\",\"message\": ...%s...}", data, tt.wantMsg)
			}
		})
	}
}

// TestOneAtATime: a function's invocations run one at a time in the order
// accepted, a duplicated one twice, and Close drops what is queued.
func TestOneAtATime(t *testing.T) {
	t.Parallel()
	var (
		mu      sync.Mutex
		order   []string
		running int
		overlap bool
	)
	gate := make(chan struct{})
	srv := start(t, lambdaasync.Options{Duplicate: true}, func(ctx context.Context, payload []byte) ([]byte, error) {
		mu.Lock()
		running++
		overlap = overlap || running > 1
		order = append(order, string(payload))
		mu.Unlock()
		defer func() { mu.Lock(); running--; mu.Unlock() }()
		if string(payload) == `"block"` {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		<-gate
		return []byte(`{}`), nil
	})
	c := client(srv, region, lambdaasync.DefaultAccessKey, lambdaasync.DefaultSecretKey, token)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, p := range []string{`"a"`, `"b"`} {
		if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("tagwarden"), InvocationType: types.InvocationTypeEvent, Payload: []byte(p)}); err != nil {
			t.Fatal(err)
		}
	}
	close(gate)
	if err := srv.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := strings.Join(order, " ")
	mu.Unlock()
	// Each duplicate is queued again behind what was accepted before it ran.
	if got != `"a" "b" "a" "b"` || overlap {
		t.Errorf("got runs %s (overlap %t), want \"a\" \"b\" \"a\" \"b\" one at a time", got, overlap)
	}
	srv.SetDuplicate(false)
	for _, p := range []string{`"block"`, `"queued"`} {
		if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("tagwarden"), InvocationType: types.InvocationTypeEvent, Payload: []byte(p)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Wait(ctx); err != nil {
		t.Fatalf("got %v after Close, want nothing pending", err)
	}
	invs := srv.Invocations()
	last := invs[len(invs)-1]
	if !bytes.Equal(last.Payload, []byte(`"queued"`)) || len(last.Deliveries) != 1 || last.Deliveries[0].Err == nil {
		t.Errorf("got %+v, want the queued invocation dropped with an error", last)
	}
}
