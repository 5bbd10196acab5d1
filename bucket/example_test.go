package bucket_test

import (
	"context"
	"fmt"
	"time"

	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

func ExampleLocal() {
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := policy.DefaultAIMD() // 5 tokens/s; ×0.8 and pause on a throttle
	p.Burst = 1

	b := bucket.NewLocal()
	if err := b.Init(ctx, t0, p.Initial()); err != nil {
		fmt.Println(err)
		return
	}

	first, _ := b.Take(ctx, t0, 1, time.Second)
	second, _ := b.Take(ctx, t0, 1, time.Second)
	fmt.Println("first: ok", first.OK, "after", first.At.Sub(t0))
	fmt.Println("second: ok", second.OK, "after", second.At.Sub(t0))

	// The upstream answers the first call with a 429.
	throttled := policy.Outcome{Signal: signal.Signal{Kind: signal.Throttled, Status: 429}, Epoch: first.Epoch}
	prev, next, _ := b.Apply(ctx, p, throttled, t0)
	fmt.Println("rate:", prev.Rate, "->", next.Rate, "cooldown until", next.CooldownUntil.Sub(t0).Round(time.Millisecond))

	// The second reservation was forfeited; taking again waits for the
	// cooldown and then for a token at the new rate.
	ok, _ := b.Confirm(ctx, second.At, second)
	fmt.Println("second still good:", ok)
	again, _ := b.Take(ctx, t0, 1, time.Second)
	fmt.Println("again: ok", again.OK, "after", again.At.Sub(t0).Round(time.Millisecond))
	// Output:
	// first: ok true after 0s
	// second: ok true after 200ms
	// rate: 5 -> 4 cooldown until 375ms
	// second still good: false
	// again: ok true after 625ms
}
