package policy

import (
	"math"
	"time"

	"github.com/dynlimit/dynlimit/signal"
)

// Fixed is a plain token bucket: a constant Rate and Burst that no outcome
// changes. It is what golang.org/x/time/rate gives, and the baseline the
// adaptive policies are measured against.
//
// With HonorRetryAfter set, a Retry-After on a throttled or overloaded
// outcome still pauses the limiter; the rate never moves.
type Fixed struct {
	// Rate is the constant rate in requests (tokens) per second, > 0.
	Rate float64 `json:"rate_limit_per_sec"`
	// Burst is the bucket's capacity, >= 1.
	Burst float64 `json:"burst_size"`
	// HonorRetryAfter makes the limiter pause for the upstream's Retry-After.
	HonorRetryAfter bool `json:"honor_retry_after"`
}

var _ Policy = Fixed{}

// Validate reports a Rate that is not a finite number > 0 or a Burst that is
// not a finite number >= 1.
func (f Fixed) Validate() error {
	if err := positive("rate_limit_per_sec", f.Rate); err != nil {
		return err
	}
	if math.IsNaN(f.Burst) || math.IsInf(f.Burst, 0) || f.Burst < 1 {
		return &Error{Field: "burst_size", Value: f.Burst, Reason: "must be a finite number >= 1"}
	}
	return nil
}

// RateBounds returns Rate twice: the rate never moves.
func (f Fixed) RateBounds() (minRate, maxRate float64) { return f.Rate, f.Rate }

// Initial returns Rate and Burst with no cooldown.
func (f Fixed) Initial() State { return State{Rate: f.Rate, Burst: f.Burst} }

// Next returns s, paused for the Retry-After of a throttled or overloaded
// outcome when HonorRetryAfter is set.
func (f Fixed) Next(s State, o Outcome, now time.Time) State {
	if f.HonorRetryAfter && (o.Signal.Kind == signal.Throttled || o.Signal.Kind == signal.Overloaded) {
		return extendCooldown(s, now, o.Signal.RetryAfter)
	}
	return s
}
