package lambdaasync

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	sigAlgorithm = "AWS4-HMAC-SHA256"
	amzDate      = "20060102T150405Z"
	maxSkew      = 15 * time.Minute
	service      = "lambda"
)

// Messages of the service's signature errors.
const (
	msgBadSignature = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgBadToken     = "The security token included in the request is invalid."
)

// authError is a refused signature: 403 with its error type.
type authError struct {
	errType, msg string
}

// verify checks r's Signature Version 4 by recomputing it with the SDK's
// signer for the configured credentials: the access key, the credential
// scope (date, region, "lambda", aws4_request), X-Amz-Date within 15
// minutes of now, the security token when one is configured (and none
// when none is), the headers signed (host and x-amz-date among them) and
// the signature. body is the request's body, already read.
func (s *Server) verify(r *http.Request, body []byte, now time.Time) *authError {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return &authError{"MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	alg, rest, _ := strings.Cut(auth, " ")
	if alg != sigAlgorithm {
		return &authError{"IncompleteSignatureException", fmt.Sprintf("Unsupported AWS 'algorithm': %s", clip(alg))}
	}
	var credential, signedList, signature string
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			credential = v
		case "SignedHeaders":
			signedList = v
		case "Signature":
			signature = v
		}
	}
	if credential == "" || signedList == "" || signature == "" {
		return &authError{"IncompleteSignatureException", "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters."}
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 {
		return &authError{"IncompleteSignatureException", "Authorization header's Credential is malformed: want access-key/date/region/service/aws4_request."}
	}
	ak, day, region, svc, term := scope[0], scope[1], scope[2], scope[3], scope[4]
	if subtle.ConstantTimeCompare([]byte(ak), []byte(s.opts.AccessKey)) != 1 {
		return &authError{"UnrecognizedClientException", msgBadToken}
	}
	date := r.Header.Get("X-Amz-Date")
	t, err := time.Parse(amzDate, date)
	if err != nil {
		return &authError{"IncompleteSignatureException", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."}
	}
	if now.Sub(t) > maxSkew {
		return &authError{"InvalidSignatureException", fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			date, now.Add(-maxSkew).UTC().Format(amzDate), now.UTC().Format(amzDate))}
	}
	if t.Sub(now) > maxSkew {
		return &authError{"InvalidSignatureException", fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)",
			date, now.Add(maxSkew).UTC().Format(amzDate), now.UTC().Format(amzDate))}
	}
	switch {
	case day != date[:8]:
		return &authError{"InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP."}
	case region != s.opts.Region:
		return &authError{"InvalidSignatureException", "Credential should be scoped to a valid region."}
	case svc != service:
		return &authError{"InvalidSignatureException", "Credential should be scoped to correct service: 'lambda'."}
	case term != "aws4_request":
		return &authError{"InvalidSignatureException", "Credential should be scoped with a valid terminator: 'aws4_request'."}
	}
	signed := strings.Split(signedList, ";")
	if !slices.Contains(signed, "host") || !slices.Contains(signed, "x-amz-date") {
		return &authError{"InvalidSignatureException", "'Host' and 'X-Amz-Date' must be signed."}
	}
	token := r.Header.Get("X-Amz-Security-Token")
	switch {
	case s.opts.SessionToken == "" && token != "",
		s.opts.SessionToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.opts.SessionToken)) != 1:
		return &authError{"UnrecognizedClientException", msgBadToken}
	case token != "" && !slices.Contains(signed, "x-amz-security-token"):
		return &authError{"InvalidSignatureException", "'X-Amz-Security-Token' must be signed."}
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		return &authError{"InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not match what was computed."}
	}

	// The request as the client signed it: the signed headers only.
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	clone := &http.Request{Method: r.Method, URL: &u, Host: r.Host, Header: http.Header{}}
	for _, h := range signed {
		switch h {
		case "host":
		case "content-length":
			clone.ContentLength = r.ContentLength
		default:
			for _, v := range r.Header.Values(h) {
				clone.Header.Add(h, v)
			}
		}
	}
	creds := aws.Credentials{AccessKeyID: s.opts.AccessKey, SecretAccessKey: s.opts.SecretKey, SessionToken: token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, clone, payloadHash, service, region, t); err != nil {
		return &authError{"InvalidSignatureException", msgBadSignature}
	}
	want := clone.Header.Get("Authorization")
	wantSigned, wantSig := authParam(want, "SignedHeaders"), authParam(want, "Signature")
	got, err1 := hex.DecodeString(signature)
	exp, err2 := hex.DecodeString(wantSig)
	if err1 != nil || err2 != nil || wantSigned != signedList || !hmac.Equal(got, exp) {
		return &authError{"InvalidSignatureException", msgBadSignature}
	}
	return nil
}

// authParam returns one parameter of an Authorization header.
func authParam(auth, name string) string {
	_, rest, _ := strings.Cut(auth, " ")
	for _, part := range strings.Split(rest, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok && k == name {
			return v
		}
	}
	return ""
}

// clip shortens an input echoed in a message.
func clip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return url.PathEscape(s)
}
