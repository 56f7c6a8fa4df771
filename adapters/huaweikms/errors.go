package huaweikms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	"golang.org/x/time/rate"

	"github.com/tagwarden/tagwarden/handler"
)

// Error is a failed KMS call. It unwraps to one of the handler's error kinds
// (handler.ErrNotFound, ...) and, when there is one, to the underlying cause
// (a network error, context.DeadlineExceeded).
type Error struct {
	Op        string // the API: list-keys, describe-key, resource-instances, show-tags, tags-action
	KeyID     string // the key concerned, if any
	Kind      error  // one of the handler's error kinds
	Status    int    // HTTP status, 0 when no response was received
	Code      string // error_code of the response (KMS.0207, APIGW.0301, ...)
	Message   string // error_msg of the response, or the cause's text
	RequestID string // X-Request-Id or the body's request_id
	Hint      string // what the kind means for the operator
	Err       error  // the underlying cause, if any
}

// Error describes the failure in one line: operation, key, what it means, code, message.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("kms ")
	b.WriteString(e.Op)
	if e.KeyID != "" {
		b.WriteString(" key ")
		b.WriteString(e.KeyID)
	}
	b.WriteString(": ")
	e.detail(&b)
	return b.String()
}

// Detail is Error without the operation and the key: what the failure
// means (the hint, else the kind), the code, the message, and the HTTP
// status and request id in brackets. Errors of other Huawei Cloud APIs
// (huaweiiam's) write the same words after their own operation.
func (e *Error) Detail() string {
	var b strings.Builder
	e.detail(&b)
	return b.String()
}

func (e *Error) detail(b *strings.Builder) {
	hint := e.Hint
	if hint == "" && e.Kind != nil {
		hint = e.Kind.Error()
	}
	b.WriteString(hint)
	if e.Code != "" {
		fmt.Fprintf(b, " (%s)", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Status != 0 || e.RequestID != "" {
		b.WriteString(" [")
		if e.Status != 0 {
			fmt.Fprintf(b, "http %d", e.Status)
		}
		if e.RequestID != "" {
			if e.Status != 0 {
				b.WriteString(", ")
			}
			b.WriteString("request id ")
			b.WriteString(e.RequestID)
		}
		b.WriteString("]")
	}
}

// Unwrap returns the kind and the cause, so errors.Is works on both.
func (e *Error) Unwrap() []error {
	out := []error{e.Kind}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// Retryable reports whether the call may succeed if repeated: throttling,
// 500/502/503/504 and network faults. Never 400, 401, 403 or 404.
func (e *Error) Retryable() bool {
	switch {
	case e.Kind == handler.ErrThrottled:
		return true
	case e.Kind != handler.ErrTransient:
		return false
	case e.Status == 0:
		return e.Err != nil && (isNetworkError(e.Err) || errors.Is(e.Err, context.DeadlineExceeded))
	default:
		switch e.Status {
		case 500, 502, 503, 504:
			return true
		}
		return false
	}
}

// rule is one line of the error table: a response matching Status (0 = any)
// and Code (exact, or a prefix when it ends in '*'; "" = any) is of Kind.
type rule struct {
	Status int
	Code   string
	Kind   error
	Hint   string
}

// errorTable maps KMS and API gateway responses to error kinds. The first
// matching line wins: KMS codes and the gateway's throttling code first,
// then 401 and 403 (whose hints are more precise than the APIGW.* line
// after them), then the other statuses.
var errorTable = []rule{
	{0, "KMS.0207", handler.ErrNotFound, "key not found"},
	{0, "KMS.0211", handler.ErrDefaultKey, "default keys cannot be tagged"},
	{0, "KMS.0416", handler.ErrNotFound, "tag not found"},
	{0, "APIG.0308", handler.ErrThrottled, "throttled by the API gateway"},
	{401, "", handler.ErrDenied, "authentication failed: check the AK/SK, the security token (temporary credentials expire) and the project id"},
	{403, "", handler.ErrDenied, "permission denied: the credentials need kms:cmk:list, kms:cmk:get, kms:cmkTag:listInstance, kms:cmkTag:list and kms:cmkTag:batch"},
	{0, "APIGW.*", handler.ErrDenied, "rejected by the API gateway: check the AK/SK, the security token and the project id"},
	{429, "", handler.ErrThrottled, "throttled"},
	{404, "", handler.ErrNotFound, "not found"},
	{400, "", handler.ErrInvalid, "request rejected as invalid"},
	{500, "", handler.ErrTransient, "server error"},
	{502, "", handler.ErrTransient, "bad gateway"},
	{503, "", handler.ErrTransient, "service unavailable"},
	{504, "", handler.ErrTransient, "gateway timeout"},
}

// classifyResponse returns the kind and hint of an error response.
func classifyResponse(status int, code string) (kind error, hint string) {
	for _, r := range errorTable {
		if r.Status != 0 && r.Status != status {
			continue
		}
		if r.Code != "" {
			if p, ok := strings.CutSuffix(r.Code, "*"); ok {
				if !strings.HasPrefix(code, p) {
					continue
				}
			} else if r.Code != code {
				continue
			}
		}
		return r.Kind, r.Hint
	}
	switch {
	case status >= 500:
		return handler.ErrTransient, "server error"
	case status >= 400:
		return handler.ErrInvalid, "request rejected"
	default:
		// A 2xx/3xx reaching the error path: the SDK could not decode the body.
		return handler.ErrTransient, "unreadable response"
	}
}

// classify turns whatever a call returned into an *Error.
func classify(op, keyID string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if sre, ok := AsResponseError(err); ok {
		kind, hint := classifyResponse(sre.StatusCode, sre.ErrorCode)
		return &Error{Op: op, KeyID: keyID, Kind: kind, Hint: hint, Status: sre.StatusCode,
			Code: sre.ErrorCode, Message: clip(sre.ErrorMessage), RequestID: sre.RequestId}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &Error{Op: op, KeyID: keyID, Kind: handler.ErrTransient, Hint: "call timed out or was cancelled", Message: clip(err.Error()), Err: err}
	case isNetworkError(err):
		return &Error{Op: op, KeyID: keyID, Kind: handler.ErrTransient, Hint: "network error", Message: clip(err.Error()), Err: err}
	}
	return &Error{Op: op, KeyID: keyID, Kind: handler.ErrInvalid, Hint: "request could not be made", Message: clip(err.Error()), Err: err}
}

// AsResponseError finds the SDK's error answer (status, error_code,
// error_msg, request id) in err's chain, whether the SDK returned it by
// pointer or by value.
func AsResponseError(err error) (*sdkerr.ServiceResponseError, bool) {
	var sre *sdkerr.ServiceResponseError
	if errors.As(err, &sre) {
		return sre, true
	}
	var vre sdkerr.ServiceResponseError
	if errors.As(err, &vre) {
		return &vre, true
	}
	return nil, false
}

// isNetworkError reports whether err is a transport fault worth retrying.
func isNetworkError(err error) bool {
	var ue *url.Error
	var ne net.Error
	var ce *sdkerr.ConnectionError
	var te *sdkerr.RequestTimeoutError
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.As(err, &ce) || errors.As(err, &te) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}

// gatewayLimit matches the limit in the gateway's throttling message, e.g.
// "policy user over ratelimit,limit:20,time:1 second".
var gatewayLimit = regexp.MustCompile(`limit:\s*(\d+(?:\.\d+)?)\s*,\s*time:\s*(\d+)\s*(second|minute|hour|day)s?`)

// throttleHint explains a throttled call from what the gateway said and the
// rate this store allows itself (rate.Inf: none).
func throttleHint(base, message string, limit rate.Limit) string {
	var b strings.Builder
	b.WriteString(base)
	if m := gatewayLimit.FindStringSubmatch(message); m != nil {
		per := m[3]
		if m[2] != "1" {
			per = m[2] + " " + m[3] + "s"
		}
		fmt.Fprintf(&b, " (its limit: %s requests per %s, over every caller of the same IAM user)", m[1], per)
	}
	if limit == rate.Inf {
		b.WriteString("; tagwarden's own rate limit is off: set TAGWARDEN_RATE_LIMIT")
	} else {
		fmt.Fprintf(&b, "; tagwarden sends at most %s requests per second: lower TAGWARDEN_RATE_LIMIT",
			strconv.FormatFloat(float64(limit), 'g', -1, 64))
	}
	return b.String()
}

// clip keeps messages from error bodies short enough for a log line.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// Redactor masks a client's own credentials in text that came from a
// response or a transport error: a server may echo the access key
// ("access key ... is invalid"). The KMS store and the output drivers
// (adapters/outputs/internal/hcsdk) use it.
// The access key becomes its masked form (MaskAccessKey); the secret key
// and the security token, which no server should ever echo, are replaced
// whole. The zero value masks nothing.
type Redactor struct {
	r *strings.Replacer
}

// NewRedactor masks ak, sk and token (empty ones are skipped), as written
// and as a JSON encoder may escape them.
func NewRedactor(ak, sk, token string) Redactor {
	type pair struct{ secret, mask string }
	var pairs []pair
	add := func(secret, mask string) {
		if secret == "" {
			return
		}
		forms := []string{secret, strings.ReplaceAll(secret, "/", `\/`)}
		if b, err := json.Marshal(secret); err == nil {
			forms = append(forms, string(b[1:len(b)-1]))
		}
		for _, f := range forms {
			if !slices.ContainsFunc(pairs, func(p pair) bool { return p.secret == f }) {
				pairs = append(pairs, pair{f, mask})
			}
		}
	}
	add(token, "<security token redacted>")
	add(sk, "<secret key redacted>")
	add(ak, MaskAccessKey(ak))
	if len(pairs) == 0 {
		return Redactor{}
	}
	// The longest first: at one position, the replacer takes the first
	// match in argument order, so a secret containing another is masked
	// whole.
	slices.SortStableFunc(pairs, func(a, b pair) int { return len(b.secret) - len(a.secret) })
	args := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		args = append(args, p.secret, p.mask)
	}
	return Redactor{strings.NewReplacer(args...)}
}

// String returns s with the credentials masked.
func (r Redactor) String(s string) string {
	if r.r == nil || s == "" {
		return s
	}
	return r.r.Replace(s)
}

// Bytes returns b with the credentials masked (b itself when none appears).
func (r Redactor) Bytes(b []byte) []byte {
	if r.r == nil || len(b) == 0 {
		return b
	}
	s := string(b)
	if out := r.r.Replace(s); out != s {
		return []byte(out)
	}
	return b
}

// scrub masks the credentials in the parts of e that come from a response
// or a cause: the message, the code and the request id. The hint is the
// store's own words (throttleHint reads only numbers from the message, after
// scrub), so a short test access key such as "AK" cannot garble "AK/SK".
func (r Redactor) scrub(e *Error) {
	if r.r == nil || e == nil {
		return
	}
	e.Message = r.String(e.Message)
	e.Code = r.String(e.Code)
	e.RequestID = r.String(e.RequestID)
}
