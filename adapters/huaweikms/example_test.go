package huaweikms_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/tagwarden/tagwarden/adapters/huaweikms"
	"github.com/tagwarden/tagwarden/adapters/huaweikms/emulator"
)

// Example lists every key of a project with its tags, here from the emulator.
func Example() {
	srv, err := emulator.New(emulator.Options{Seed: emulator.SampleKeys(1500, 1)})
	if err != nil {
		log.Fatal(err)
	}
	url, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	store, err := huaweikms.New(huaweikms.Config{
		Endpoint:    url, // or Region: "ap-southeast-1"
		ProjectID:   emulator.DefaultProject,
		Credentials: &huaweikms.Credentials{AccessKey: emulator.DefaultAK, SecretKey: emulator.DefaultSK},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	keys, unknown := 0, 0
	for l := store.List(ctx, ""); ; {
		page, err := l.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		for _, r := range page.Records {
			keys++
			if r.Tags == nil { // not in the bulk listing: read its tags
				unknown++
				if _, err := store.Tags(ctx, r.Key.ID); err != nil {
					log.Fatal(err)
				}
			}
		}
	}
	fmt.Println(keys, "keys,", unknown, "read one by one")
	// Output: 1500 keys, 0 read one by one
}
