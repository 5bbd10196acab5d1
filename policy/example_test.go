package policy_test

import (
	"fmt"
	"time"

	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

func ExampleAIMD() {
	a := policy.DefaultAIMD()
	now := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	s := a.Initial()

	// use reports successes of the current epoch one interval at the rate
	// apart, the last one d after the first: d seconds of use.
	use := func(d time.Duration) {
		end := now.Add(d)
		for now.Before(end) {
			now = now.Add(policy.Seconds(1 / s.Rate))
			if now.After(end) {
				now = end
			}
			s = a.Next(s, policy.Outcome{Signal: signal.Signal{Kind: signal.Success}, Epoch: s.Epoch}, now)
		}
	}
	fmt.Printf("start: %.1f/s\n", s.Rate)

	// Slow start: no limit known yet, each success adds ln 2 / 0.5 ≈
	// 1.39/s, so successes that come back at the rate double it about every
	// 0.5 s (a little less: the steps lag the exponential they approach).
	use(time.Second)
	fmt.Printf("slow start, 1s: %.1f/s\n", s.Rate)
	use(time.Second)
	fmt.Printf("slow start, 2s: %.1f/s\n", s.Rate)

	// A permit of the current epoch comes back 429 without a Retry-After:
	// the limit is about here. The rate drops by ×0.8 and pauses 1.5
	// intervals of the new rate.
	throttled := signal.Signal{Kind: signal.Throttled, Status: 429}
	s = a.Next(s, policy.Outcome{Signal: throttled, Epoch: s.Epoch}, now)
	fmt.Printf("throttled: %.1f/s, ceiling %.1f/s, paused %v, epoch %d\n",
		s.Rate, s.Ceiling, s.CooldownUntil.Sub(now), s.Epoch)

	// Another permit issued before the decrease: an echo of the same event.
	s = a.Next(s, policy.Outcome{Signal: throttled, Epoch: 0}, now.Add(10*time.Millisecond))
	fmt.Printf("echo: %.1f/s, epoch %d\n", s.Rate, s.Epoch)

	// Once the pause is over the rate climbs back to the ceiling in 3 s of
	// use, fast at first and careful near it, then probes past it: slowly
	// at first, faster the longer no throttle comes.
	now = s.CooldownUntil
	use(1500 * time.Millisecond)
	fmt.Printf("climb back, 1.5s: %.1f/s\n", s.Rate)
	use(1500 * time.Millisecond)
	fmt.Printf("climb back, 3s: %.1f/s\n", s.Rate)
	use(12 * time.Second)
	fmt.Printf("probe, 15s: %.2f/s (ceiling %.1f/s)\n", s.Rate, s.Ceiling)

	// Idle time is not use: after ten minutes without a call, the curve
	// counts only the time the bucket takes to fill, and the probe is held
	// below twice the successes of the last seconds, which have decayed: one
	// success leaves the rate where it was (counted as use, ten minutes
	// would have taken the probe far past the ceiling).
	now = now.Add(10 * time.Minute)
	s = a.Next(s, policy.Outcome{Signal: signal.Signal{Kind: signal.Success}, Epoch: s.Epoch}, now)
	fmt.Printf("after 10 minutes idle: %.2f/s\n", s.Rate)
	// Output:
	// start: 5.0/s
	// slow start, 1s: 18.9/s
	// slow start, 2s: 74.3/s
	// throttled: 59.5/s, ceiling 74.3/s, paused 25.230533ms, epoch 1
	// echo: 59.5/s, epoch 1
	// climb back, 1.5s: 72.5/s
	// climb back, 3s: 74.3/s
	// probe, 15s: 75.72/s (ceiling 74.3/s)
	// after 10 minutes idle: 75.72/s
}

func ExampleCUBIC() {
	c := policy.DefaultCUBIC()
	t0 := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

	s := c.Initial()
	fmt.Printf("start: %.0f/s (max_rate)\n", s.Rate)

	// The calls come back every 100 ms: the measured rate is 10/s.
	now := t0
	success := policy.Outcome{Signal: signal.Signal{Kind: signal.Success}}
	for range 50 {
		now = now.Add(100 * time.Millisecond)
		s = c.Next(s, success, now)
	}
	fmt.Printf("measured: %.1f/s\n", s.Measured)

	// A 429: W_max is the measured 10/s, and the rate drops to 0.7 of it.
	now = now.Add(100 * time.Millisecond)
	s = c.Next(s, policy.Outcome{Signal: signal.Signal{Kind: signal.Throttled, Status: 429}, Epoch: s.Epoch}, now)
	fmt.Printf("throttled: %.1f/s (W_max %.1f/s), epoch %d\n", s.Rate, s.Ceiling, s.Epoch)

	// The rate climbs back along 0.4·(t − K)³ + W_max, K = ∛(10·0.3/0.4):
	// quickly, then flat around the old limit, then past it, up to twice
	// the measured rate.
	success.Epoch = s.Epoch
	for i := 1; i <= 60; i++ {
		now = now.Add(100 * time.Millisecond)
		s = c.Next(s, success, now)
		if i%10 == 0 {
			fmt.Printf("%d s later: %.2f/s\n", i/10, s.Rate)
		}
	}
	// Output:
	// start: 100/s (max_rate)
	// measured: 10.0/s
	// throttled: 7.0/s (W_max 10.0/s), epoch 1
	// 1 s later: 9.65/s
	// 2 s later: 10.00/s
	// 3 s later: 10.45/s
	// 4 s later: 13.41/s
	// 5 s later: 20.00/s
	// 6 s later: 20.00/s
}
