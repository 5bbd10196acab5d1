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
