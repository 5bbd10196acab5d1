package policy_test

import (
	"fmt"
	"time"

	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

func ExampleAIMD() {
	a := policy.DefaultAIMD()
	t0 := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

	s := a.Initial()
	fmt.Printf("start: %.1f/s\n", s.Rate)

	// A permit of epoch 0 comes back 429 without a Retry-After.
	throttled := signal.Signal{Kind: signal.Throttled, Status: 429}
	s = a.Next(s, policy.Outcome{Signal: throttled, Epoch: 0}, t0)
	fmt.Printf("throttled: %.1f/s, paused %v, epoch %d\n", s.Rate, s.CooldownUntil.Sub(t0), s.Epoch)

	// Another permit issued before the decrease: an echo of the same event.
	s = a.Next(s, policy.Outcome{Signal: throttled, Epoch: 0}, t0.Add(10*time.Millisecond))
	fmt.Printf("echo: %.1f/s\n", s.Rate)

	// Once the cooldown is over, permits of the new epoch succeed. The
	// rate climbs back, more slowly as it nears the 5/s that was throttled
	// (the ceiling), and keeps probing past it.
	now := s.CooldownUntil
	success := policy.Outcome{Signal: signal.Signal{Kind: signal.Success}, Epoch: s.Epoch}
	for _, n := range []uint64{1, 9, 40} {
		success.Count = n
		s = a.Next(s, success, now)
		fmt.Printf("after %d more successes: %.2f/s (ceiling %.1f/s)\n", n, s.Rate, s.Ceiling)
	}
	// Output:
	// start: 5.0/s
	// throttled: 3.5/s, paused 428.571428ms, epoch 1
	// echo: 3.5/s
	// after 1 more successes: 3.60/s (ceiling 5.0/s)
	// after 9 more successes: 4.12/s (ceiling 5.0/s)
	// after 40 more successes: 4.66/s (ceiling 5.0/s)
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
