package huaweiiam

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/handler"
)

// IAM API names in errors.
const (
	// OpListAuthProjects is GET /v3/auth/projects: the projects the
	// identity can reach.
	OpListAuthProjects = "KeystoneListAuthProjects"
	// OpListAuthDomains is GET /v3/auth/domains: the account (domain) id
	// the SDK looks up when none is configured.
	OpListAuthDomains = "KeystoneListAuthDomains"
)

// Error is a failed IAM call. It unwraps to one of the handler's error
// kinds (handler.ErrDenied, handler.ErrThrottled, handler.ErrTransient,
// handler.ErrInvalid) and, when there is one, to the cause (a network
// error, a context error). It never holds the credentials.
type Error struct {
	Op        string // OpListAuthProjects or OpListAuthDomains
	Kind      error  // one of the handler's error kinds
	Status    int    // HTTP status, 0 when no response was received
	Code      string // error_code of the response (APIGW.0301, IAM.0002, ...)
	Message   string // error_msg of the response, or the cause's text
	RequestID string // X-Request-Id of the response
	Hint      string // what it means for the operator
	Err       error  // the underlying cause, if any
}

// Error says, in one line, which call failed, what it means, the code, the
// message, the status and the request id, in the KMS adapter's words
// (huaweikms.Error.Detail).
func (e *Error) Error() string {
	d := huaweikms.Error{Kind: e.Kind, Hint: e.Hint, Status: e.Status, Code: e.Code, Message: e.Message, RequestID: e.RequestID}
	return "iam " + e.Op + ": " + d.Detail()
}

// Unwrap returns the kind and the cause, so errors.Is works on both.
func (e *Error) Unwrap() []error {
	out := []error{e.Kind}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// iamRule is one line of the IAM error table: a response with Status (0:
// any) and Code ("" any; a trailing * is a prefix) to an operation (""
// any) is of Kind.
type iamRule struct {
	Op     string
	Status int
	Code   string
	Kind   error
	Hint   string
}

// iamErrors maps IAM's and the API gateway's answers to kinds. The first
// matching line wins.
var iamErrors = []iamRule{
	{"", 0, "APIG.0308", handler.ErrThrottled, "throttled by the API gateway"},
	{"", 429, "", handler.ErrThrottled, "throttled"},
	{OpListAuthDomains, 401, "", handler.ErrDenied, "authentication failed while looking up the account id: check the access key, the secret key and the security token (temporary credentials expire)"},
	{"", 401, "", handler.ErrDenied, "authentication failed: check the access key, the secret key, the security token (temporary credentials expire) and the domain id"},
	{OpListAuthDomains, 403, "", handler.ErrDenied, "the identity may not look up its account id: set the domain id so that no lookup is needed"},
	{"", 403, "", handler.ErrDenied, "the identity cannot list its projects: IAM's API reference says KeystoneListAuthProjects needs no permission, so an explicit deny (an identity or agency policy, an organization's service control policy) refuses it; list the targets in TAGWARDEN_TARGETS instead of auto"},
	{"", 404, "", handler.ErrInvalid, "no such IAM API at this endpoint: is the IAM endpoint IAM's?"},
	{"", 0, "APIGW.*", handler.ErrDenied, "rejected by the API gateway: check the access key, the secret key, the security token and the domain id"},
	{"", 400, "", handler.ErrInvalid, "request rejected as invalid"},
}

func classifyIAM(op string, status int, code string) (kind error, hint string) {
	for _, r := range iamErrors {
		if r.Op != "" && r.Op != op || r.Status != 0 && r.Status != status {
			continue
		}
		if p, ok := strings.CutSuffix(r.Code, "*"); ok && !strings.HasPrefix(code, p) ||
			!ok && r.Code != "" && r.Code != code {
			continue
		}
		return r.Kind, r.Hint
	}
	switch {
	case status >= 500:
		return handler.ErrTransient, "IAM failed (server error)"
	case status >= 400:
		return handler.ErrInvalid, "request rejected"
	default:
		return handler.ErrTransient, "unreadable answer"
	}
}

// classify turns an error of the SDK into an *Error.
func (i *Discoverer) classify(ctx context.Context, op string, err error) *Error {
	if sre, ok := huaweikms.AsResponseError(err); ok {
		kind, hint := classifyIAM(op, sre.StatusCode, sre.ErrorCode)
		// The SDK appends IAM's trace id to the message of the domain
		// lookup: keep it as the request id instead.
		msg, reqID := sre.ErrorMessage, sre.RequestId
		if m, trace, ok := strings.Cut(msg, ", X-IAM-Trace-Id="); ok {
			msg = m
			if reqID == "" {
				reqID = trace
			}
		}
		return &Error{Op: op, Kind: kind, Status: sre.StatusCode, Code: i.redact.Replace(sre.ErrorCode),
			Message: i.redact.Replace(clip(msg, 512)), RequestID: i.redact.Replace(clip(reqID, 128)), Hint: hint}
	}
	msg := i.redact.Replace(clip(err.Error(), 512))
	if cerr := ctx.Err(); cerr != nil {
		return &Error{Op: op, Kind: handler.ErrTransient, Hint: "cut short by the caller's context", Message: msg, Err: cerr}
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return &Error{Op: op, Kind: handler.ErrTransient, Hint: "IAM did not answer: check the IAM endpoint and the network", Message: msg, Err: err}
	}
	if op == OpListAuthDomains {
		// The SDK found no account in IAM's answer (its message names the
		// permission it expects) or could not read the answer.
		return &Error{Op: op, Kind: handler.ErrDenied, Hint: "the account (domain) id of the credentials could not be found: set the domain id", Message: msg}
	}
	return &Error{Op: op, Kind: handler.ErrTransient, Hint: "unreadable answer", Message: msg, Err: err}
}

// newRedactor masks the credentials in text that came from a response or
// the SDK.
func newRedactor(c huaweikms.Credentials) *strings.Replacer {
	secrets := []struct{ v, mask string }{
		{c.SecurityToken, "<security token redacted>"},
		{c.SecretKey, "<secret key redacted>"},
		{c.AccessKey, huaweikms.MaskAccessKey(c.AccessKey)},
	}
	// Longest first: the replacer tries its pairs in order, so a secret
	// that contains another is masked whole.
	slices.SortStableFunc(secrets, func(a, b struct{ v, mask string }) int { return len(b.v) - len(a.v) })
	var args []string
	for _, s := range secrets {
		if len(s.v) >= 4 {
			args = append(args, s.v, s.mask)
		}
	}
	return strings.NewReplacer(args...)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
