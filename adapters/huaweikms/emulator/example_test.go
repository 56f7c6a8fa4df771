package emulator_test

import (
	"fmt"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	kms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
)

// Serve sample keys on loopback and talk to them with the official SDK.
func Example() {
	srv, err := emulator.New(emulator.Options{Seed: emulator.SampleKeys(20, 1)})
	if err != nil {
		panic(err)
	}
	url, err := srv.Listen("")
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	cred := basic.NewCredentialsBuilder().WithAk(emulator.DefaultAK).WithSk(emulator.DefaultSK).
		WithProjectId(emulator.DefaultProject).Build()
	c := kms.NewKmsClient(kms.KmsClientBuilder().WithEndpoints([]string{url}).WithCredential(cred).Build())

	all := model.GetListKeysRequestBodyKeySpecEnum().ALL
	resp, err := c.ListKeys(&model.ListKeysRequest{Body: &model.ListKeysRequestBody{KeySpec: &all}})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(*resp.Keys), "keys, truncated", resp.Truncated.Value())

	id := (*resp.Keys)[0]
	_, err = c.BatchCreateKmsTags(&model.BatchCreateKmsTagsRequest{KeyId: id, Body: &model.BatchCreateKmsTagsRequestBody{
		Action: "create", Tags: []model.TagItem{{Key: "bad*key"}}}})
	fmt.Println(err != nil)
	fmt.Println(srv.Stats().RejectedWrites, "rejected write")
	// Output:
	// 20 keys, truncated false
	// true
	// 1 rejected write
}
