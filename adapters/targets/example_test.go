package targets_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/tagwarden/tagwarden/adapters/targets"
)

// A static list, a payload naming one of its targets, and one naming
// another project.
func ExampleConfig_Lookup() {
	list, err := targets.Parse("ap-southeast-1/0b1f2e3d4c5b6a79887766554433221a, cn-north-4/5c6d7e8f=http://127.0.0.1:8080")
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := targets.Config{Static: list}

	t, err := cfg.Lookup(context.Background(), nil, "cn-north-4/5c6d7e8f")
	fmt.Println(t.Name(), t.Endpoint, err)

	_, err = cfg.Lookup(context.Background(), nil, "cn-north-4/ffffffff")
	fmt.Println(errors.Is(err, targets.ErrNotConfigured))
	// Output:
	// cn-north-4/5c6d7e8f http://127.0.0.1:8080 <nil>
	// true
}
