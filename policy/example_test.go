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

	// Once the cooldown is over, permits of the new epoch succeed.
	now := s.CooldownUntil
	for range 3 {
		s = a.Next(s, policy.Outcome{Signal: signal.Signal{Kind: signal.Success}, Epoch: s.Epoch}, now)
		fmt.Printf("success: %.1f/s\n", s.Rate)
	}
	// Output:
	// start: 5.0/s
	// throttled: 2.5/s, paused 600ms, epoch 1
	// echo: 2.5/s
	// success: 2.6/s
	// success: 2.7/s
	// success: 2.8/s
}

func ExampleParseAIMD() {
	a, err := policy.ParseAIMD([]byte(`{"rate_limit_per_sec": 2, "max_rate": 10}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("rate %v/s within [%v, %v], burst %v\n", a.Rate, a.MinRate, a.MaxRate, a.Burst)

	_, err = policy.ParseAIMD([]byte(`{"decrease_factor": 1.5}`))
	fmt.Println(err)

	_, err = policy.ParseAIMD([]byte(`{"max_rps": 10}`))
	fmt.Println(err)
	// Output:
	// rate 2/s within [0.1, 10], burst 5
	// policy: decrease_factor = 1.5: must be in (0, 1)
	// policy: decode AIMD parameters: json: unknown field "max_rps"
}
