package huaweices

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/response"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/internal/hcsdk"
)

// Names in the errors.
const (
	service = "ces"
	opPut   = "put_metric_data"
)

// rule is one line of the error table: an answer matching Status (0: any)
// and Code ("" any; compared without regard to case) is of Kind.
type rule struct {
	Status int
	Code   string
	Kind   error
}

// errorTable maps Cloud Eye's and the API gateway's answers to the
// outputs' error kinds; the first matching line wins. Codes first: the
// gateway's throttling, and ces.0009 (a system namespace, 403 but no
// question of rights: the namespace is wrong); then the statuses. Sources:
// Cloud Eye's error codes
// (https://support.huaweicloud.com/intl/en-us/api-ces/ErrorCode.html) and
// APIG's (https://support.huaweicloud.com/intl/en-us/usermanual-apig/apig-ug-180530090.html).
var errorTable = []rule{
	{0, "APIG.0308", outputs.ErrThrottled},  // throttling threshold reached
	{0, "APIGW.0308", outputs.ErrThrottled}, // the same, as some gateways spell it
	{0, "ces.0009", outputs.ErrInvalid},     // 403 adding SYS metric is not allowed
	{429, "", outputs.ErrThrottled},
	{401, "", outputs.ErrDenied},   // APIGW.0301, ces.0015
	{403, "", outputs.ErrDenied},   // APIGW.0302, ces.0017
	{404, "", outputs.ErrNotFound}, // APIGW.0101, ces.0016
	{408, "", outputs.ErrTransient},
	{413, "", outputs.ErrInvalid},   // APIG.0201 request entity too large
	{400, "", outputs.ErrInvalid},   // ces.0001, ces.0003, ces.0011, ces.0013, ces.0014
	{500, "", outputs.ErrTransient}, // ces.0007, ces.0008, ces.0012, ces.0019, ces.0021
	{502, "", outputs.ErrTransient},
	{503, "", outputs.ErrTransient},
	{504, "", outputs.ErrTransient},
}

// kindOf returns the kind of an error answer: the table's, else
// transient for a 5xx and invalid for anything else.
func kindOf(status int, code string) error {
	for _, r := range errorTable {
		if r.Status != 0 && r.Status != status {
			continue
		}
		if r.Code != "" && !strings.EqualFold(r.Code, code) {
			continue
		}
		return r.Kind
	}
	if status >= 500 {
		return outputs.ErrTransient
	}
	return outputs.ErrInvalid
}

// errorHandler turns every answer that is not 2xx into an *outputs.Error,
// which the SDK returns as it is. It masks the credentials in the body
// before reading anything from it.
type errorHandler struct{ redact hcsdk.Redactor }

// HandleError is the SDK's hook for answers.
func (h errorHandler) HandleError(_ *request.DefaultHttpRequest, resp *response.DefaultHttpResponse) error {
	status := resp.GetStatusCode()
	if status >= 200 && status < 300 {
		return nil
	}
	body, _ := resp.GetBodyAsBytes()
	return h.errorFor(status, string(body), resp.GetHeader("X-Request-Id"))
}

// errorFor is the error of an answer with this status, body and
// X-Request-Id header.
func (h errorHandler) errorFor(status int, body, headerID string) *outputs.Error {
	code, msg, reqID := parseErrorBody(h.redact.Bytes([]byte(body)))
	if msg == "" {
		msg = http.StatusText(status)
	}
	if reqID == "" {
		reqID = h.redact.String(headerID)
	}
	if reqID != "" {
		msg += " [request id " + reqID + "]"
	}
	return &outputs.Error{Service: service, Op: opPut, Status: status, Code: code,
		Message: clip(msg), Kind: kindOf(status, code)}
}

// parseErrorBody reads the error bodies Cloud Eye and its gateway send:
//
//   - Cloud Eye's {"code":400,"element":..,"message":..,
//     "details":{"details":..,"code":"ces.0014"}} (code and details from
//     details, the message before them);
//   - the gateway's flat {"error_code","error_msg","request_id"};
//   - the nested {"error":{"code"|"error_code","message"|"error_msg"}};
//   - {"code":"ces.XXXX","message":..};
//
// and anything else as text.
func parseErrorBody(body []byte) (code, msg, reqID string) {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return "", strings.TrimSpace(string(body)), ""
	}
	str := func(m map[string]any, keys ...string) string {
		for _, k := range keys {
			switch v := m[k].(type) {
			case string:
				if v != "" {
					return v
				}
			case float64:
				return strconv.FormatFloat(v, 'f', -1, 64)
			}
		}
		return ""
	}
	reqID = str(m, "request_id")
	if d, ok := m["details"].(map[string]any); ok {
		code = str(d, "code", "error_code")
		detail := str(d, "details", "message", "error_msg")
		msg = str(m, "message")
		switch {
		case msg == "":
			msg = detail
		case detail != "":
			msg += ": " + detail
		}
		return code, msg, reqID
	}
	if e, ok := m["error"].(map[string]any); ok {
		return str(e, "error_code", "code"), str(e, "error_msg", "message"), reqID
	}
	code = str(m, "error_code")
	if c, ok := m["code"].(string); ok && code == "" {
		code = c
	}
	msg = str(m, "error_msg", "message")
	if msg == "" {
		msg = strings.TrimSpace(string(body))
	}
	return code, msg, reqID
}

// classify turns what a call returned into an *outputs.Error: the error
// handler's, an answer the SDK could not read, or a transport failure
// (status 0, transient; the context's error when ctx ended the call).
func (s *Sink) classify(ctx context.Context, err error) *outputs.Error {
	var oe *outputs.Error
	if errors.As(err, &oe) {
		return oe
	}
	if sre, ok := huaweikms.AsResponseError(err); ok {
		// A 2xx whose body the SDK could not read.
		return &outputs.Error{Service: service, Op: opPut, Status: sre.StatusCode, Code: s.redact.String(sre.ErrorCode),
			Message: clip("unreadable answer: " + s.redact.String(sre.ErrorMessage)), Kind: outputs.ErrTransient}
	}
	msg := s.redact.String(err.Error())
	if cerr := ctx.Err(); cerr != nil && !strings.Contains(msg, cerr.Error()) {
		msg = cerr.Error() + ": " + msg
	}
	return &outputs.Error{Service: service, Op: opPut, Message: clip(msg), Kind: outputs.ErrTransient}
}

// invalid is a datum or request refused before any call.
func invalid(format string, a ...any) *outputs.Error {
	return &outputs.Error{Service: service, Op: opPut, Message: fmt.Sprintf(format, a...), Kind: outputs.ErrInvalid}
}

// clip keeps messages from answers short enough for a log line.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 400 {
		return s[:400] + "..."
	}
	return s
}
