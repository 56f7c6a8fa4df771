package huaweismn

import (
	"context"
	"errors"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"

	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/internal/hcsdk"
)

func TestKindOf(t *testing.T) {
	tests := []struct {
		status int
		code   string
		want   error
	}{
		{404, "SMN.0006", outputs.ErrNotFound},
		{400, "SMN.00010008", outputs.ErrNotFound},
		{404, "", outputs.ErrNotFound},
		{403, "SMN.0008", outputs.ErrInvalid},
		{403, "SMN.0009", outputs.ErrInvalid},
		{403, "SMN.0047", outputs.ErrInvalid},
		{403, "SMN.0001", outputs.ErrDenied},
		{403, "SMN.00308", outputs.ErrDenied},
		{403, "APIGW.0302", outputs.ErrDenied},
		{403, "SMN.0065", outputs.ErrThrottled},
		{401, "APIGW.0301", outputs.ErrDenied},
		{429, "APIG.0308", outputs.ErrThrottled},
		{429, "", outputs.ErrThrottled},
		{404, "APIGW.0101", outputs.ErrInvalid},
		{400, "SMN.0005", outputs.ErrInvalid},
		{400, "", outputs.ErrInvalid},
		{413, "", outputs.ErrInvalid},
		{409, "", outputs.ErrInvalid},
		{500, "SMN.0018", outputs.ErrTransient},
		{502, "", outputs.ErrTransient},
		{503, "", outputs.ErrTransient},
		{504, "", outputs.ErrTransient},
		{200, "", outputs.ErrTransient},
	}
	for _, tc := range tests {
		if got := kindOf(tc.status, tc.code); got != tc.want {
			t.Errorf("kindOf(%d, %q) = %v, want %v", tc.status, tc.code, got, tc.want)
		}
	}
}

func TestClassify(t *testing.T) {
	red := hcsdk.NewRedactor("AKAKAKAK", "SKSKSKSK", "")
	ctx := context.Background()
	e := classify(ctx, &sdkerr.ServiceResponseError{StatusCode: 404, ErrorCode: "SMN.0006", ErrorMessage: "Topic not found.", RequestId: "r1"}, red)
	want := outputs.Error{Service: "smn", Op: "publish", Status: 404, Code: "SMN.0006", Message: "Topic not found. [request id r1]", Kind: outputs.ErrNotFound}
	if *e != want {
		t.Errorf("classify = %+v, want %+v", *e, want)
	}
	e = classify(ctx, errors.New("dial tcp: connection refused with SKSKSKSK"), red)
	if e.Kind != outputs.ErrTransient || e.Status != 0 || e.Message != "dial tcp: connection refused with <secret key redacted>" {
		t.Errorf("transport error classified %+v", *e)
	}
	cut, cancel := context.WithCancel(ctx)
	cancel()
	e = classify(cut, errors.New("anything"), red)
	if e.Kind != outputs.ErrTransient || e.Message != "cut by the caller's context: context canceled" {
		t.Errorf("cut call classified %+v", *e)
	}
}
