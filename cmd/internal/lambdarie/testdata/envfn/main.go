// Command envfn is the Lambda function of package lambdarie's test: it
// returns its environment, its deadline (Unix milliseconds) and its
// payload, or an error when the payload is {"fail":"message"}.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type result struct {
	Env        []string        `json:"env"`
	DeadlineMS int64           `json:"deadline_ms"`
	Payload    json.RawMessage `json:"payload"`
}

func main() {
	lambda.Start(func(ctx context.Context, in json.RawMessage) (result, error) {
		var f struct{ Fail string }
		if json.Unmarshal(in, &f) == nil && f.Fail != "" {
			return result{}, errors.New(f.Fail)
		}
		dl, _ := ctx.Deadline()
		time.Sleep(20 * time.Millisecond) // overlapping invocations would reach the emulator together
		return result{Env: os.Environ(), DeadlineMS: dl.UnixMilli(), Payload: in}, nil
	})
}
