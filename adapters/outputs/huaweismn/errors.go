package huaweismn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/response"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"

	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/internal/hcsdk"
)

// The service and operation an *outputs.Error of this package names.
const (
	service   = "smn"
	opPublish = "publish"
)

// rule is one line of the error table: an answer with Status (0: any) and
// Code (exact, or a prefix when it ends in '*'; "": any) is of Kind.
type rule struct {
	Status int
	Code   string
	Kind   error
}

// errorTable maps SMN's and the API gateway's answers to kinds; the first
// line that matches wins, so codes come before statuses. Sources: SMN's
// error code table (API reference, Appendix, "Error Codes",
// https://support.huaweicloud.com/intl/en-us/api-smn/smn_api_64000.html)
// and, for codes it does not list, what clients of the live service
// handle (named on their line).
var errorTable = []rule{
	// Not found: "404 SMN.0006 Topic not found." (the error code table, and
	// the example of "Exception Response", smn_api_63001). SMN.00010008,
	// "topic information is not found", is the newer code the live API
	// answers for a topic that does not exist, with status 400
	// (terraform-provider-huaweicloud, huaweicloud/services/smn/
	// resource_huaweicloud_smn_logtank.go converts it to a 404).
	{0, "SMN.0006", outputs.ErrNotFound},
	{0, "SMN.00010008", outputs.ErrNotFound},
	// Invalid parameters answered 403 (the error code table): a subject or
	// message SMN refuses, a value over its length, too many tags. A retry
	// does not help: they are not denials.
	{0, "SMN.0008", outputs.ErrInvalid}, // Parameter: Subject is invalid.
	{0, "SMN.0009", outputs.ErrInvalid}, // Parameter: Message is invalid.
	{0, "SMN.0047", outputs.ErrInvalid}, // Parameter: Value exceeds the maximum length.
	{0, "SMN.0075", outputs.ErrInvalid}, // Parameter: tags are too many.
	// Quotas of deliveries (403 in the table): later sends may pass.
	{0, "SMN.0057", outputs.ErrThrottled}, // The number of SMS messages exceeds the limit.
	{0, "SMN.0065", outputs.ErrThrottled}, // The number of email messages exceeds the limit.
	// The API gateway's throttling (429; APIG.0308 is what the live
	// gateway answered the KMS adapter, see huaweikms's table).
	{0, "APIG.0308", outputs.ErrThrottled},
	{0, "APIGW.0308", outputs.ErrThrottled},
	// The gateway knows no such API: the endpoint is not SMN's. Not the
	// topic's absence, and a retry does not help.
	{0, "APIGW.0101", outputs.ErrInvalid},
	{401, "", outputs.ErrDenied},
	{403, "", outputs.ErrDenied},
	{404, "", outputs.ErrNotFound},
	{429, "", outputs.ErrThrottled},
	{400, "", outputs.ErrInvalid},
	{413, "", outputs.ErrInvalid},
}

// kindOf returns the kind of an error answer: the table's, else transient
// for 5xx and invalid for the other statuses.
func kindOf(status int, code string) error {
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
		return r.Kind
	}
	if status >= 500 {
		return outputs.ErrTransient
	}
	if status >= 400 {
		return outputs.ErrInvalid
	}
	// A 2xx or 3xx on the error path: the SDK could not read the answer.
	return outputs.ErrTransient
}

// classify turns what one PublishMessage returned into an *outputs.Error.
// ctx is the call's: an error after it ended is its cut (transient, no
// status), whatever the transport said.
func classify(ctx context.Context, err error, red hcsdk.Redactor) *outputs.Error {
	e := &outputs.Error{Service: service, Op: opPublish}
	var sre *sdkerr.ServiceResponseError
	if errors.As(err, &sre) {
		e.Status, e.Code, e.Message = sre.StatusCode, sre.ErrorCode, clip(sre.ErrorMessage)
		if sre.RequestId != "" {
			e.Message += " [request id " + sre.RequestId + "]"
		}
		e.Kind = kindOf(sre.StatusCode, sre.ErrorCode)
	} else if cerr := ctx.Err(); cerr != nil {
		e.Kind, e.Message = outputs.ErrTransient, "cut by the caller's context: "+cerr.Error()
	} else {
		// No answer: a refused connection, a reset, the HTTP timeout, an
		// unreadable answer. Worth a retry.
		e.Kind, e.Message = outputs.ErrTransient, err.Error()
	}
	e.Code = red.String(e.Code)
	e.Message = red.String(e.Message)
	if e.Status == 0 {
		e.Message = clip(e.Message)
	}
	return e
}

// refused is the error of a message refused before sending.
func refused(err error) *outputs.Error {
	return &outputs.Error{Service: service, Op: opPublish, Kind: outputs.ErrInvalid,
		Message: "refused locally, not sent: " + err.Error()}
}

// clip keeps a message short enough for a log line.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 300 {
		// Cut on a rune boundary.
		i := 300
		for i > 0 && !utfStart(s[i]) {
			i--
		}
		return s[:i] + "..."
	}
	return s
}

func utfStart(b byte) bool { return b&0xC0 != 0x80 }

// errorHandler keeps the SDK's reading of error bodies (SMN's
// {"request_id","code","message"}, the gateway's flat
// {"error_code","error_msg","request_id"}, nested ones), masks the
// credentials in the body first, and takes the request id from the body
// when the X-Request-Id header has none.
type errorHandler struct{ red hcsdk.Redactor }

// HandleError turns an error answer into an *sdkerr.ServiceResponseError.
func (h errorHandler) HandleError(_ *request.DefaultHttpRequest, resp *response.DefaultHttpResponse) error {
	if resp.GetStatusCode() < 400 {
		return nil
	}
	body, _ := resp.GetBodyAsBytes()
	body = []byte(h.red.String(string(body)))
	r := *resp.Response
	r.Body = io.NopCloser(bytes.NewReader(body))
	sre := sdkerr.NewServiceResponseError(&r)
	if sre.RequestId == "" {
		var b struct {
			RequestID string `json:"request_id"`
		}
		if json.Unmarshal(body, &b) == nil {
			sre.RequestId = h.red.String(b.RequestID)
		}
	}
	return sre
}
