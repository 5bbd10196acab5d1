package redisbucket_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/bucket/redisbucket"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// Every process that makes its limiter with this bucket and name shares one
// rate. Here Redis is not there at all: the bucket falls back to a local one
// at a quarter of the fleet's rate and burst, and the limiter goes on.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	defer rdb.Close()
	b, err := redisbucket.New(rdb, "notion-workspace-42",
		redisbucket.WithOnFailure(func(key string, err error) {
			fmt.Println(key, "redis down:", err != nil)
		}))
	if err != nil {
		fmt.Println(err)
		return
	}
	lim, err := dynlimit.New(dynlimit.WithBucket(b), dynlimit.WithPolicy(policy.Fixed{Rate: 40, Burst: 8}))
	if err != nil {
		fmt.Println(err)
		return
	}
	granted := 0
	for range 5 {
		if p, ok := lim.Allow(); ok {
			granted++
			p.Done(signal.Signal{Kind: signal.Success})
		}
	}
	s, _ := b.Peek(context.Background(), time.Now())
	fmt.Println("granted at once:", granted, "of 5; local rate", s.State.Rate, "burst", s.State.Burst)
	// Output:
	// dynlimit:{notion-workspace-42} redis down: true
	// granted at once: 2 of 5; local rate 10 burst 2
}
