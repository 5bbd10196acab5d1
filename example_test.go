package dynlimit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// A worker asks for a permit, makes its call and reports what happened. A
// throttle lowers the rate (×0.8 by default) and pauses the limiter for the
// upstream's Retry-After; successes then bring the rate back up, slowly near
// the rate that was throttled.
func Example() {
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	// 5 req/s, burst 5, x0.8 on a throttle; until a throttle teaches it
	// where the limit is, each success adds ln 2 / 0.5 ≈ 1.39/s, which
	// doubles the rate every 0.5 s while successes come back at it.
	a := policy.DefaultAIMD()
	lim, err := dynlimit.New(dynlimit.WithPolicy(a), dynlimit.WithClock(fake))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	p, _ := lim.Wait(ctx)
	p.Done(signal.Signal{Kind: signal.Throttled, Status: 429, RetryAfter: 2 * time.Second})
	s := lim.Snapshot()
	fmt.Printf("after a 429: rate %.1f/s, paused for %s\n", s.Rate, s.CooldownUntil.Sub(s.Time))

	// Reserve says when the next permit is due without blocking; a worker
	// would call Wait, which sleeps until then.
	r, _ := lim.Reserve()
	fmt.Println("next permit after", r.At().Sub(s.Time).Round(time.Millisecond))
	fake.Set(r.At())
	p, _ = r.PermitAt(fake.Now())
	p.Done(signal.Signal{})

	// The 429 came before any success: every request had been refused,
	// whatever the rate, so it teaches no limit and slow start goes on.
	// Each success adds its step, but slow start stops at four times the
	// successes of the last half second or so: the one above and four
	// more, one a second, take the rate from 4 to 10.6/s, 1.39 a success,
	// less for the fourth, which meets that bound.
	for range 4 {
		fake.Advance(time.Second)
		p, _ := lim.Wait(ctx)
		p.Done(signal.Signal{})
	}
	s = lim.Snapshot()
	fmt.Printf("after 5 successes: rate %.1f/s; granted %d, throttled %d, decreases %d\n",
		s.Rate, s.Counters.Granted, s.Counters.Throttled, s.Counters.Decreases)
	// Output:
	// after a 429: rate 4.0/s, paused for 2s
	// next permit after 2.25s
	// after 5 successes: rate 10.6/s; granted 6, throttled 1, decreases 1
}

// One limiter per Slack method, each learning its own limit: a throttle on
// one method does not slow the others.
func ExampleGroup() {
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	g, err := dynlimit.NewGroup(
		dynlimit.WithGroupClock(fake),
		dynlimit.WithMaxKeys(1000),
		dynlimit.WithIdleTimeout(10*time.Minute),
	)
	if err != nil {
		panic(err)
	}
	history, _ := g.Get("conversations.history")
	post, _ := g.Get("chat.postMessage")

	p, _ := history.Allow()
	p.Done(signal.Signal{Kind: signal.Throttled, Status: 429})

	fmt.Printf("%s: %.1f/s\n", history.Name(), history.Snapshot().Rate)
	fmt.Printf("%s: %.1f/s\n", post.Name(), post.Snapshot().Rate)
	fmt.Println("limiters:", g.Len())
	// Output:
	// conversations.history: 4.0/s
	// chat.postMessage: 5.0/s
	// limiters: 2
}
