package policy

import (
	"fmt"
	"math"
	"time"

	"github.com/dynlimit/dynlimit/signal"
)

// CUBIC grows the rate along a cubic of the time since the last throttle, as
// the adaptive retry mode of the AWS SDK for Go v2 paces its calls
// (github.com/aws/aws-sdk-go-v2, aws/retry/adaptive_ratelimit.go, after TCP
// CUBIC):
//
//   - On a throttle, W_max, the rate at which it happened, is the lower of
//     the rate and the measured rate of outcomes (the SDK's
//     min(measuredTxRate, fillRate)); it is kept in State.Ceiling. The rate
//     becomes Beta × W_max, and the throttle's instant, kept in State.Since,
//     starts the cubic. Every throttle sets W_max, one that a classifier
//     made of a burst of server errors included, as the curve needs one
//     (AIMD learns no ceiling from those).
//   - On a success, the rate becomes ScaleConstant × (t − K)³ + W_max, t
//     being the seconds since the throttle and K = ∛(W_max × (1 − Beta) /
//     ScaleConstant) the time the cubic takes to climb back to W_max: fast
//     at first, it flattens out near the old limit, then probes ever faster
//     past it for a raised one.
//   - The new rate is at most twice the measured rate, so that a limiter
//     that sends less than its rate allows does not raise the rate far above
//     what it uses; and it stays within [MinRate, MaxRate].
//
// [DefaultCUBIC] has the SDK's constants: beta 0.7, scaleConstant 0.4,
// smooth 0.8 and minFillRate 0.5.
//
// # The measured rate
//
// The SDK counts responses in half-second buckets of the wall clock
// (floor(t × 2) / 2) and, when a response opens a new bucket, folds the
// count over the time since the last bucket into its estimate with weight
// smooth. A State has no room for a count, so CUBIC folds each outcome in as
// it comes, in State.Measured, with its instant in State.Updated: an outcome
// dt seconds after the one before is a sample of 1/dt outcomes per second,
// weighted 1 − (1 − Smooth)^(dt / 0.5 s), so that the older estimate keeps
// (1 − Smooth) of its weight per half second, as the SDK's keeps it per
// bucket. It is deterministic (no wall-clock grid: the same outcomes at the
// same instants measure the same) and measures evenly spaced outcomes at
// exactly their rate, whatever it is. Where it differs: outcomes at one
// instant (a batch, Count) each add the limit of that weight over dt as dt
// goes to 0, −ln(1 − Smooth) / 0.5 s (3.2/s by default), so a burst of k
// counts as k outcomes spread over about a third of a second; bursts that
// come much further apart than that measure higher than their average rate,
// where the SDK finds it by counting the burst in its bucket, which makes
// the cap looser, never tighter. The first outcome only starts the
// measurement: Measured stays 0 (unknown, and then nothing is capped by it)
// until a second one. Every outcome counts but a Canceled one (no answer
// came back), as the SDK counts every response.
//
// # Where it differs from the SDK
//
//   - The start. The SDK's limiter lets every call through until the first
//     throttle; a limiter here always has a rate. CUBIC starts at Rate,
//     which defaults to MaxRate: with Rate 0, as in [DefaultCUBIC], it
//     starts there, the nearest it comes to unrestricted. Before the first
//     throttle W_max and K are 0, so the cubic is ScaleConstant × t³ from
//     the first outcome, which is how the SDK computes the rate it does not
//     yet enforce from its creation: a lower Rate rises along it once the
//     cubic passes it, twice the measured rate at most.
//   - Retry-After. A throttle or an overload that carries one pauses the
//     limiter for it, through State.CooldownUntil, so that the cooldown
//     holds every waiter, as with [AIMD]; the SDK leaves it to the retry's
//     delay. The cubic's clock stands still during a cooldown: t counts from
//     the later of the throttle and the end of the cooldown. A throttle
//     without Retry-After does not pause.
//   - One decrease per congestion event. A throttle of a permit issued
//     before the last decrease (see the package doc on epochs) does not
//     decrease again, though a longer Retry-After it carries still extends
//     the cooldown; the SDK lowers its rate for every throttled response.
//   - No growth on old news or while paused. A success of a permit issued
//     before the last decrease, or one reported during a cooldown, does not
//     raise the rate. Overloaded and Failed outcomes count toward the
//     measured rate but never raise the rate, where the SDK counts every
//     response that is not a throttle as a success.
//   - A success never lowers the rate. In the SDK the cap of twice the
//     measured rate also pulls the rate down, after a quiet spell say; here
//     a decrease is a congestion event (a new epoch, which drains the bucket
//     and makes the permits in flight stale), so the cap only bounds growth.
//     After a quiet spell the measured rate is low, and the rate does not
//     grow until the calls come back.
//   - Burst is fixed (burst_size); the SDK's bucket holds a second's worth
//     of its current rate.
//
// Quota hints pace the limiter as for any policy (see [Pace]).
//
// CUBIC has no RateBounds method, unlike [AIMD] and [Fixed]: its step sets
// the rate to a point of a curve instead of adding to it, so a bucket shared
// by several processes must not add up the steps each computed. It writes
// each step as a whole state, computed again from the state as it is if
// another process wrote first (see bucket/redisbucket); each process so
// measures from the last outcome any of them counted, and the measured rate
// is roughly the fleet's.
//
// The zero CUBIC is not valid: start from [DefaultCUBIC] and change what you
// need. Its JSON names are those of [AIMD] where they mean the same thing.
type CUBIC struct {
	// Rate is the starting rate in requests (tokens) per second, within
	// [MinRate, MaxRate]; 0 starts at MaxRate.
	Rate float64 `json:"rate_limit_per_sec"`
	// Burst is the bucket's capacity, >= 1.
	Burst float64 `json:"burst_size"`
	// MinRate is the floor of the rate, > 0: the SDK's minimum fill rate.
	MinRate float64 `json:"min_rate"`
	// MaxRate is the ceiling of the rate, >= MinRate. The SDK has none.
	MaxRate float64 `json:"max_rate"`
	// Beta multiplies W_max on a throttle, in (0, 1): the SDK's beta.
	Beta float64 `json:"beta"`
	// ScaleConstant is the cubic's scale, C, in requests per second per
	// second cubed, > 0: the SDK's scaleConstant. Larger climbs faster.
	ScaleConstant float64 `json:"scale_constant"`
	// Smooth is the weight, in (0, 1), of the last half second's outcomes
	// in the measured rate: the SDK's smooth.
	Smooth float64 `json:"smooth"`
}

// DefaultCUBIC returns the AWS SDK for Go v2's constants (aws/retry,
// adaptive_ratelimit.go): beta 0.7, scale constant 0.4, smooth 0.8, and its
// minimum fill rate of 0.5 requests/s as min_rate; with a max_rate of 100
// requests/s, [DefaultAIMD]'s, as the SDK has none, a start at max_rate
// (rate_limit_per_sec 0), and DefaultAIMD's burst of 5.
func DefaultCUBIC() CUBIC {
	return CUBIC{
		Burst:         5,
		MinRate:       0.5,
		MaxRate:       100,
		Beta:          0.7,
		ScaleConstant: 0.4,
		Smooth:        0.8,
	}
}

var _ Policy = CUBIC{}

// sendRateBucket is the SDK's bucket of the measured rate: the span over
// which the older estimate keeps 1 − Smooth of its weight.
const sendRateBucket = 0.5 // seconds

// Validate reports the first invalid parameter: non-finite or negative
// values, zero where it matters, MinRate > MaxRate, a Rate other than 0
// outside [MinRate, MaxRate], a Beta or a Smooth outside (0, 1) or a Burst
// below 1.
func (c CUBIC) Validate() error {
	if math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) || c.Rate < 0 {
		return &Error{Field: "rate_limit_per_sec", Value: c.Rate, Reason: "must be a finite number >= 0 (0 starts at max_rate)"}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"burst_size", c.Burst},
		{"min_rate", c.MinRate},
		{"max_rate", c.MaxRate},
		{"scale_constant", c.ScaleConstant},
	} {
		if err := positive(f.name, f.v); err != nil {
			return err
		}
	}
	if c.Burst < 1 {
		return &Error{Field: "burst_size", Value: c.Burst, Reason: "must be >= 1"}
	}
	if math.IsNaN(c.Beta) || c.Beta <= 0 || c.Beta >= 1 {
		return &Error{Field: "beta", Value: c.Beta, Reason: "must be in (0, 1)"}
	}
	if math.IsNaN(c.Smooth) || c.Smooth <= 0 || c.Smooth >= 1 {
		return &Error{Field: "smooth", Value: c.Smooth, Reason: "must be in (0, 1)"}
	}
	if c.MinRate > c.MaxRate {
		return &Error{Field: "min_rate", Value: c.MinRate, Reason: fmt.Sprintf("must be <= max_rate (%v)", c.MaxRate)}
	}
	if c.Rate != 0 && (c.Rate < c.MinRate || c.Rate > c.MaxRate) {
		return &Error{Field: "rate_limit_per_sec", Value: c.Rate,
			Reason: fmt.Sprintf("must be 0 (start at max_rate) or within [min_rate, max_rate] = [%v, %v]", c.MinRate, c.MaxRate)}
	}
	return nil
}

// Initial returns the starting state: Rate (MaxRate when Rate is 0) and
// Burst, no cooldown, epoch 0, nothing measured.
func (c CUBIC) Initial() State {
	r := c.Rate
	if r == 0 {
		r = c.MaxRate
	}
	return State{Rate: r, Burst: c.Burst}
}

// Next applies one outcome; see the type's documentation. A batch (Count k)
// is k outcomes at the same instant: the first of a batch of throttles
// decreases and the others are its echoes; each of a batch of successes
// adds to the measured rate that caps the next one's step. As with [AIMD],
// a batch of throttles decreases once even when its permits are of an epoch
// ahead of s's (a view that lags), which k throttles one by one would not.
func (c CUBIC) Next(s State, o Outcome, now time.Time) State {
	if o.Signal.Kind == signal.Canceled {
		return s
	}
	if s.Since.IsZero() {
		// The first outcome starts the cubic before any throttle.
		s.Since = now
	}
	n := o.N()
	switch o.Signal.Kind {
	case signal.Success:
		fresh := o.Epoch >= s.Epoch && !now.Before(s.CooldownUntil)
		c.measure(&s, 1, now)
		if n > 1 {
			// Each success raises the measured rate that caps the next,
			// so the last of a batch raises the rate most; but the first
			// ever is capped by nothing, as nothing is measured yet.
			if fresh && s.Measured == 0 {
				c.grow(&s, now)
			}
			c.measure(&s, n-1, now)
		}
		if fresh {
			c.grow(&s, now)
		}
	case signal.Throttled:
		c.measure(&s, 1, now)
		c.throttle(&s, &o, now)
		// The rest of the batch: echoes of the event just reacted to.
		c.measure(&s, n-1, now)
	case signal.Overloaded:
		c.measure(&s, n, now)
		extendCooldownOf(&s, now, o.Signal.RetryAfter)
	default:
		c.measure(&s, n, now)
	}
	return s
}

// measure counts n outcomes at now in s.Measured; see the type's
// documentation.
func (c CUBIC) measure(s *State, n uint64, now time.Time) {
	if n == 0 {
		return
	}
	if s.Updated.IsZero() {
		// Nothing to measure the first outcome from.
		s.Updated = now
		n--
	}
	// ln of the weight the older estimate keeps per window.
	keep := math.Log1p(-c.Smooth) / sendRateBucket
	if dt := now.Sub(s.Updated).Seconds(); dt > 0 && n > 0 {
		// One sample of 1/dt, weighted 1 - e^(keep·dt).
		x := keep * dt
		s.Measured = s.Measured*math.Exp(x) - math.Expm1(x)/dt
		s.Updated = now
		n--
	}
	// The others at the same instant (or at an earlier one, from a process
	// whose clock lags): the sample's weight over dt as dt goes to 0.
	s.Measured += float64(n) * -keep
}

// grow applies a success that counts to s.
func (c CUBIC) grow(s *State, now time.Time) {
	// The cubic's clock stands still during a cooldown.
	t := max(0, now.Sub(later(s.Since, s.CooldownUntil)).Seconds())
	w := s.Ceiling
	k := math.Cbrt(w * (1 - c.Beta) / c.ScaleConstant)
	d := t - k
	target := c.ScaleConstant*d*d*d + w
	if s.Measured > 0 {
		target = min(target, 2*s.Measured)
	}
	target = min(target, c.MaxRate)
	// A success never lowers the rate: the cap bounds growth only. A NaN,
	// which parameters at the edge of float64 could make, changes nothing.
	if target > s.Rate {
		s.Rate = target
	}
}

// throttle applies a throttle to *s.
func (c CUBIC) throttle(s *State, o *Outcome, now time.Time) {
	if o.Stale(*s) {
		extendCooldownOf(s, now, o.Signal.RetryAfter)
		return
	}
	w := s.Rate
	if s.Measured > 0 && s.Measured < w {
		w = s.Measured
	}
	s.Ceiling = w
	// The SDK caps this at twice the measured rate too, which Beta < 1
	// makes moot: W_max is at most the measured rate when it is known.
	s.Rate = max(min(w*c.Beta, c.MaxRate), c.MinRate)
	s.Since = now
	s.Epoch++
	if d := o.Signal.RetryAfter; d > 0 {
		s.CooldownUntil = later(s.CooldownUntil, now.Add(d))
	}
}

// ParseCUBIC decodes a JSON object of CUBIC parameters over the defaults of
// [DefaultCUBIC] and validates the result. Unknown fields, wrong types and
// trailing data are errors that name the problem.
func ParseCUBIC(data []byte) (CUBIC, error) {
	c := DefaultCUBIC()
	if err := decodeStrict(data, &c, "CUBIC"); err != nil {
		return CUBIC{}, err
	}
	if err := c.Validate(); err != nil {
		return CUBIC{}, err
	}
	return c, nil
}
