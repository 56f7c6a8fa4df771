package huaweices_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/outputs"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweices"
	"github.com/tagwarden/tagwarden/adapters/outputs/huaweices/cesemu"
)

// Put a run's counts into a local Cloud Eye, one series per target.
func Example() {
	srv, err := cesemu.New(cesemu.Options{})
	if err != nil {
		panic(err)
	}
	url, err := srv.Listen("")
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	sink, err := huaweices.New(huaweices.Config{Endpoint: url, ProjectID: cesemu.DefaultProject,
		Credentials: &huaweikms.Credentials{AccessKey: cesemu.DefaultAK, SecretKey: cesemu.DefaultSK}})
	if err != nil {
		panic(err)
	}
	target := huaweices.SafeDimensionValue("ap-southeast-1/p1")
	err = sink.Put(context.Background(), []outputs.Datum{
		{Metric: "keys_checked", Value: 120, Unit: "count", At: time.Now(),
			Dimensions: []outputs.Dimension{{Name: "target", Value: target}}},
		{Metric: "violations", Value: 3, Unit: "count", At: time.Now(),
			Dimensions: []outputs.Dimension{{Name: "target", Value: target}}},
	})
	fmt.Println(err, len(srv.Points()), "points in", sink.Where())

	// A datum Cloud Eye would refuse is refused before any call.
	err = sink.Put(context.Background(), []outputs.Datum{{Metric: "keys_checked", Value: 1, At: time.Now(),
		Dimensions: []outputs.Dimension{{Name: "target", Value: "ap-southeast-1/p1"}}}})
	fmt.Println(errors.Is(err, outputs.ErrInvalid), srv.Calls().Total, "call")
	// Output:
	// <nil> 2 points in TagWarden.KMS
	// true 1 call
}
