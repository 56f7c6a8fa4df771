package huaweiobs

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/huaweicloud/huaweicloud-sdk-go-obs/obs"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/outputs"
)

// Operations as outputs.Error.Op names them.
const (
	OpPut = "put_object"
	OpGet = "get_object"
)

// errorRule is one line of the error table: a response whose status is in
// [Lo, Hi] (0, 0: any) and whose OBS code is Code ("": any) is of Kind.
type errorRule struct {
	Lo, Hi int
	Code   string
	Kind   error
}

// errorTable maps OBS answers to the outputs error kinds; the first
// matching line wins. The codes are OBS's
// (https://support.huaweicloud.com/intl/en-us/sdk-go-devg-obs/obs_23_1601.html):
// the codes first, as they say more than the status (a 503 SlowDown is
// throttling, a 400 RequestTimeout a network fault), then the statuses.
var errorTable = []errorRule{
	{0, 0, "NoSuchKey", outputs.ErrNotFound},
	{0, 0, "NoSuchBucket", outputs.ErrNotFound},
	{0, 0, "SlowDown", outputs.ErrThrottled},
	{0, 0, "TooManyRequests", outputs.ErrThrottled},
	{0, 0, "RequestTimeout", outputs.ErrTransient}, // 400: the body came too slowly
	{0, 0, "IncompleteBody", outputs.ErrTransient}, // 400: the body was cut on the way
	{401, 401, "", outputs.ErrDenied},
	{403, 403, "", outputs.ErrDenied}, // AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId, RequestTimeTooSkewed
	{404, 404, "", outputs.ErrNotFound},
	{408, 408, "", outputs.ErrTransient},
	{429, 429, "", outputs.ErrThrottled},
	{500, 599, "", outputs.ErrTransient},
	{300, 499, "", outputs.ErrInvalid}, // 400 and the rest; a redirect (bucket in another region) too
}

// kindOf returns the kind of an OBS answer (ErrTransient when no line
// matches).
func kindOf(status int, code string) error {
	for _, r := range errorTable {
		if r.Code != "" && r.Code != code {
			continue
		}
		if r.Lo != 0 && (status < r.Lo || status > r.Hi) {
			continue
		}
		return r.Kind
	}
	return outputs.ErrTransient
}

// failure builds the error of a call that failed before or without an
// answer from OBS.
func failure(op string, kind error, msg string) *outputs.Error {
	return &outputs.Error{Service: "obs", Op: op, Message: msg, Kind: kind}
}

// classify turns what the SDK returned into an *outputs.Error. ctx is the
// call's: once it is done, its error is the message.
func (s *Store) classify(op string, ctx context.Context, err error) *outputs.Error {
	var oe obs.ObsError
	if errors.As(err, &oe) {
		status := oe.StatusCode
		if status == 0 {
			status, _ = strconv.Atoi(strings.TrimSpace(strings.SplitN(oe.Status, " ", 2)[0]))
		}
		msg := oe.Message
		if msg == "" {
			msg = oe.Status
		}
		return &outputs.Error{Service: "obs", Op: op, Status: status, Code: oe.Code, Message: s.redact(msg), Kind: kindOf(status, oe.Code)}
	}
	if cerr := ctx.Err(); cerr != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		return failure(op, outputs.ErrTransient, cerr.Error())
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// A transport failure: no answer. Its text without the URL.
		if ue.Timeout() {
			return failure(op, outputs.ErrTransient, "timeout: "+s.redact(ue.Err.Error()))
		}
		return failure(op, outputs.ErrTransient, s.redact(ue.Err.Error()))
	}
	// The SDK's own refusals, before sending.
	return failure(op, outputs.ErrInvalid, s.redact(err.Error()))
}

// redact removes the credentials from a message, should a service or a
// transport ever repeat them.
func (s *Store) redact(msg string) string {
	for _, secret := range []string{s.creds.SecretKey, s.creds.SecurityToken} {
		if len(secret) >= 4 {
			msg = strings.ReplaceAll(msg, secret, "<redacted>")
		}
	}
	if ak := s.creds.AccessKey; len(ak) >= 4 {
		msg = strings.ReplaceAll(msg, ak, huaweikms.MaskAccessKey(ak))
	}
	return msg
}
