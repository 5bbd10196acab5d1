package clock_test

import (
	"fmt"
	"time"

	"github.com/dynlimit/dynlimit/clock"
)

func ExampleFake() {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c := clock.NewFake(start)
	timeout := c.NewTimer(time.Minute)

	c.Advance(30 * time.Second)
	fmt.Println("pending after 30s:", c.Pending())

	c.Advance(30 * time.Second)
	fired := <-timeout.C()
	fmt.Println("fired after", fired.Sub(start))
	fmt.Println("pending after 1m:", c.Pending())
	// Output:
	// pending after 30s: 1
	// fired after 1m0s
	// pending after 1m: 0
}

// A discrete-event driver never waits: it jumps the clock straight to the
// next deadline, handles what fired, and stops when nothing is left.
func ExampleFake_AdvanceToNext() {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c := clock.NewFake(start)

	backoff := time.Second
	retry := c.NewTimer(backoff)
	giveUp := c.NewTimer(10 * time.Second)

	for c.AdvanceToNext() {
		// No two deadlines coincide here, so exactly one channel is ready.
		select {
		case at := <-retry.C():
			fmt.Println(at.Sub(start), "retry")
			backoff *= 2
			retry.Reset(backoff)
		case at := <-giveUp.C():
			fmt.Println(at.Sub(start), "give up")
			retry.Stop()
		}
	}
	fmt.Println("simulated", c.Now().Sub(start), "with", c.Pending(), "timers left")
	// Output:
	// 1s retry
	// 3s retry
	// 7s retry
	// 10s give up
	// simulated 10s with 0 timers left
}
