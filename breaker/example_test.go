package breaker_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/dynlimit/dynlimit/breaker"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

func ExampleBreaker() {
	clk := clock.NewFake(time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC))
	cfg := breaker.DefaultConfig()
	cfg.FailureThreshold = 2
	cfg.OpenInterval = 10 * time.Second
	cfg.Multiplier = 2
	b, err := breaker.New(cfg,
		breaker.WithClock(clk),
		breaker.WithName("notion"),
		breaker.WithOnStateChange(func(c breaker.Change) {
			fmt.Printf("  %s: %v → %v at %s", c.Name, c.From, c.To, c.At.Format(time.TimeOnly))
			if c.To == breaker.Open {
				fmt.Printf(", probes at %s (trip %d)", c.OpenUntil.Format(time.TimeOnly), c.Trips)
			}
			fmt.Println()
		}))
	if err != nil {
		fmt.Println(err)
		return
	}

	// call stands for an HTTP call whose outcome is kind.
	call := func(kind signal.Kind) {
		t, err := b.Allow()
		if err != nil {
			fmt.Println("refused:", err, errors.Is(err, breaker.ErrOpen))
			return
		}
		fmt.Println("call:", kind)
		t.Done(kind)
	}

	call(signal.Overloaded)
	call(signal.Overloaded) // the second 503 in a row opens the circuit
	call(signal.Success)    // refused without a request

	clk.Advance(10 * time.Second)
	call(signal.Overloaded) // the probe fails: open twice as long

	clk.Advance(20 * time.Second)
	call(signal.Success) // the probe succeeds: closed
	fmt.Println("state:", b.State())
	// Output:
	// call: overloaded
	// call: overloaded
	//   notion: closed → open at 09:00:00, probes at 09:00:10 (trip 1)
	// refused: breaker: circuit "notion" open until 2025-03-14T09:00:10Z true
	//   notion: open → half_open at 09:00:10
	// call: overloaded
	//   notion: half_open → open at 09:00:10, probes at 09:00:30 (trip 2)
	//   notion: open → half_open at 09:00:30
	// call: success
	//   notion: half_open → closed at 09:00:30
	// state: closed
}
