package buckettest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/bucket/buckettest"
	"github.com/dynlimit/dynlimit/policy"
)

// A bucket whose capacity shrank to 5 under a state that says 20.
func ExampleShrunk() {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := buckettest.Shrunk(bucket.NewLocal(), 5)
	if err := b.Init(context.Background(), now, policy.State{Rate: 10, Burst: 20}); err != nil {
		fmt.Println(err)
		return
	}
	_, err := b.Take(context.Background(), now, 10, 0)
	fmt.Println(err)
	r, err := b.Take(context.Background(), now, 5, 0)
	fmt.Println(r.OK, err)
	// Output:
	// bucket: n = 10 exceeds burst_size = 5
	// true <nil>
}
