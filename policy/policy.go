package policy

import (
	"fmt"
	"math"
	"time"

	"github.com/dynlimit/dynlimit/signal"
)

// State is the adaptive state of one limiter. Buckets store it next to their
// tokens and change both atomically.
type State struct {
	// Rate is the number of tokens added per second. Always > 0 and finite.
	Rate float64
	// Burst is the bucket's capacity in tokens. Always >= 1 and finite.
	Burst float64
	// CooldownUntil is the instant before which no permit is granted; the
	// zero time means no cooldown.
	CooldownUntil time.Time
	// Epoch counts congestion events: it grows by one each time the policy
	// lowers Rate or moves CooldownUntil later.
	Epoch uint64
	// QuotaRate is the rate at which the upstream's remaining quota can be
	// spent evenly until QuotaUntil, from its last quota hints (see [Pace]);
	// 0 when it gave none. Policies pass it through unchanged.
	QuotaRate float64
	// QuotaUntil is when the upstream's quota window resets.
	QuotaUntil time.Time
	// Ceiling is the rate at which the last congestion event happened,
	// for policies that remember where the limit was; 0 when unknown.
	Ceiling float64
	// Since is when the policy's current phase of growth began: for
	// [AIMD] and [CUBIC], the last decrease, or the start of a slow start;
	// the zero time when the policy keeps none.
	Since time.Time
	// Updated is the instant of the last outcome the policy counted in
	// Measured; the zero time before the first.
	Updated time.Time
	// Measured is the policy's estimate of the rate at which outcomes come
	// back, per second, smoothed over time; 0 before the first. Policies
	// that grow the rate bound it by what the limiter actually uses.
	Measured float64
}

// Paced reports whether, at now, the upstream's quota hints hold the rate
// below the policy's: QuotaRate is set, lower than Rate, and its window has
// not reset.
func (s State) Paced(now time.Time) bool {
	return s.QuotaRate > 0 && s.QuotaRate < s.Rate && now.Before(s.QuotaUntil)
}

// RateAt returns the rate in force at now: the lower of Rate and the
// quota's rate while the quota window runs.
func (s State) RateAt(now time.Time) float64 {
	if s.Paced(now) {
		return s.QuotaRate
	}
	return s.Rate
}

// Accrual returns how long it takes, starting at from, to accrue need
// tokens at the rates in force: the quota's rate until its window resets,
// the policy's after. Like [Seconds], it saturates at the largest Duration
// instead of overflowing.
func (s State) Accrual(need float64, from time.Time) time.Duration {
	if need <= 0 {
		return 0
	}
	if s.Paced(from) {
		left := s.QuotaUntil.Sub(from)
		if during := s.QuotaRate * left.Seconds(); during < need {
			// A window that resets centuries ahead leaves no room for
			// the rest: the sum would wrap negative, a wait in the past.
			if rest := Seconds((need - during) / s.Rate); rest < math.MaxInt64-left {
				return left + rest
			}
			return math.MaxInt64
		}
		return Seconds(need / s.QuotaRate)
	}
	return Seconds(need / s.Rate)
}

// Pace returns s with the quota hints of sig (sig.Quota, q below), reported
// at now, taken into account, whatever the policy:
//
//   - no unit left (q.Exhausted) and a known reset: a cooldown until the
//     reset, so nobody goes before it;
//   - units left and a known reset: QuotaRate = Remaining / Reset until the
//     reset, so the limiter spends what is left evenly instead of bursting
//     into a throttle. The lower of QuotaRate and Rate is in force, so
//     hints that show plenty never slow the policy down;
//   - anything else: s unchanged.
//
// A quota that refills continuously (q.Refills: OpenAI's, Anthropic's,
// Shopify's) and states its Limit is not a window, and is spent as the token
// bucket it is:
//
//   - at least half of Limit left: plenty. Nothing is paced, and a quota
//     rate set by earlier hints is dropped: the policy's rate is in force
//     until the quota runs below half, however far off its reset is. (A
//     reset that does not fit the units used, as in OpenAI's own example
//     headers, 16 of 150,000 tokens used and 6m0s to full, so paces
//     nothing.)
//   - less: QuotaRate = Limit / Reset until the reset, the units left and
//     those that refill until the quota is full, spent evenly. It is
//     Remaining / Reset plus the refill rate, (Limit - Remaining) / Reset,
//     and falls toward the refill rate, which the upstream sustains, as the
//     quota runs down.
//   - none left: the same rate, which is then the refill rate, and the
//     epoch bumped, which empties the bucket and forfeits the reservations
//     made at the earlier pace: the next unit is due when the upstream has
//     refilled one, Reset / Limit from now, not at the reset. A Retry-After
//     sent with it (sig.RetryAfter) decides instead when it is later: the
//     cooldown the policy set from it, now + sig.RetryAfter, is shortened
//     by one unit's refill, so that the first token, which accrues after
//     the cooldown, is due at the instant the Retry-After named, not one
//     unit after it. Only that cooldown: one set earlier, or by another
//     signal, is left as it is, so that the answers of requests already in
//     flight, which report the same empty quota, do not shorten it again.
//
// A refilling quota without a Limit cannot tell its refill rate and is
// spent as a window, the safe side.
//
// Buckets call it on every outcome, after the policy's step.
func Pace(s State, sig signal.Signal, now time.Time) State {
	q := sig.Quota
	if !q.HasRemaining {
		return s
	}
	if q.Refills && q.Limit > 0 {
		return paceRefilling(s, sig, now)
	}
	if q.Reset <= 0 {
		return s
	}
	until := now.Add(q.Reset)
	if q.Exhausted() {
		s.CooldownUntil = later(s.CooldownUntil, until)
		return s
	}
	if r := q.Remaining / q.Reset.Seconds(); r > 0 && !math.IsInf(r, 0) {
		s.QuotaRate, s.QuotaUntil = r, until
	}
	return s
}

// paceRefilling is Pace for a quota that refills continuously and states
// its Limit.
func paceRefilling(s State, sig signal.Signal, now time.Time) State {
	q := sig.Quota
	if q.Remaining >= q.Limit/2 {
		// Plenty, a full bucket (a reset of 0) included.
		s.QuotaRate, s.QuotaUntil = 0, time.Time{}
		return s
	}
	if q.Reset <= 0 {
		return s
	}
	r := q.Limit / q.Reset.Seconds()
	if !(r > 0) || math.IsInf(r, 0) {
		return s
	}
	s.QuotaRate, s.QuotaUntil = r, now.Add(q.Reset)
	if q.Exhausted() {
		s.Epoch++
		// The bucket is empty once the cooldown the policy set from this
		// Retry-After ends, and its first token accrues at the rate in
		// force after that. The upstream refills during the cooldown, so
		// the cooldown ends one unit early: the first token is then due at
		// its end, exactly, or a unit's refill from now if that is later.
		if sig.RetryAfter > 0 && s.CooldownUntil.Equal(now.Add(sig.RetryAfter)) && s.Paced(now) {
			unit := s.Accrual(1, s.CooldownUntil)
			s.CooldownUntil = later(now, s.CooldownUntil.Add(-unit))
		}
	}
	return s
}

// Outcome is what a policy learns from one permit.
type Outcome struct {
	// Signal is what the call taught.
	Signal signal.Signal
	// Epoch is the epoch the permit was issued in.
	Epoch uint64
	// Tokens is the number of tokens the permit took (for a batch, each
	// permit's).
	Tokens float64
	// Count is the number of identical outcomes this one stands for: the
	// limiter reports the successes of the current epoch in batches, off the
	// hot path. 0 means 1.
	Count uint64
}

// N returns the number of outcomes o stands for: Count, or 1 when Count is 0.
func (o Outcome) N() uint64 {
	if o.Count == 0 {
		return 1
	}
	return o.Count
}

// Stale reports whether the permit was issued before the congestion event s
// is in: a throttle on it is an echo of an event already reacted to.
func (o Outcome) Stale(s State) bool { return o.Epoch < s.Epoch }

// Policy decides the limiter's next state from its current state and one
// outcome.
//
// Implementations must be pure and safe for concurrent use: Next is called
// under a bucket's lock and may be called again for the same inputs (a shared
// bucket retries on conflict). Next must bump Epoch whenever it lowers Rate or
// moves CooldownUntil later; buckets enforce this. Next must treat an
// Outcome whose Count is k as k identical outcomes reported one after the
// other at the same instant.
type Policy interface {
	// Initial returns the state a new limiter starts in.
	Initial() State
	// Next returns the state after outcome o is reported at now.
	Next(s State, o Outcome, now time.Time) State
	// Validate reports the first invalid parameter, naming it and its value.
	Validate() error
}

// Error reports an invalid policy parameter.
type Error struct {
	// Field is the parameter's JSON name, for example "decrease_factor";
	// "" for a problem of the whole input (empty, not an object, not JSON).
	Field string
	// Value is the rejected value.
	Value float64
	// Text is the rejected value as the input wrote it, when the problem is
	// found in the input (a field that is unknown, named twice or not a
	// number); "" otherwise, and Value holds it.
	Text string
	// Reason says what a valid value looks like.
	Reason string
}

func (e *Error) Error() string {
	switch {
	case e.Field == "":
		return "policy: " + e.Reason
	case e.Text != "":
		return fmt.Sprintf("policy: %s = %s: %s", e.Field, e.Text, e.Reason)
	}
	return fmt.Sprintf("policy: %s = %v: %s", e.Field, e.Value, e.Reason)
}

// positive checks that v is a finite number > 0.
func positive(field string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return &Error{Field: field, Value: v, Reason: "must be a finite number > 0"}
	}
	return nil
}

// Sanitize returns next with any field a buggy policy left out of range
// replaced from prev: a non-positive or non-finite Rate, a Burst below 1, a
// negative or non-finite QuotaRate, an Epoch that went back, or a change
// that lowered Rate or moved the cooldown later without bumping Epoch.
// Buckets call it after every Policy.Next (and [Pace]) so that no policy can
// break their invariants.
func Sanitize(prev, next State) State {
	if next.sane(&prev) {
		return next
	}
	return sanitize(prev, next)
}

// sane reports whether Sanitize(*prev, s) is s: every field in range, and
// the epoch bumped if it must be. Sanitize, which checks this first, is
// small enough to be inlined into the buckets' policy step, which so skips
// the copies of two states for a policy that behaves.
func (s *State) sane(prev *State) bool {
	return s.QuotaRate >= 0 && s.QuotaRate <= math.MaxFloat64 &&
		s.Ceiling >= 0 && s.Ceiling <= math.MaxFloat64 &&
		s.Measured >= 0 && s.Measured <= math.MaxFloat64 &&
		s.Rate > 0 && s.Rate <= math.MaxFloat64 &&
		s.Burst >= 1 && s.Burst <= math.MaxFloat64 &&
		(s.Epoch > prev.Epoch || s.Epoch == prev.Epoch && s.Rate >= prev.Rate && !s.CooldownUntil.After(prev.CooldownUntil))
}

func sanitize(prev, next State) State {
	if math.IsNaN(next.QuotaRate) || math.IsInf(next.QuotaRate, 0) || next.QuotaRate < 0 {
		next.QuotaRate, next.QuotaUntil = prev.QuotaRate, prev.QuotaUntil
	}
	if math.IsNaN(next.Ceiling) || math.IsInf(next.Ceiling, 0) || next.Ceiling < 0 {
		next.Ceiling = prev.Ceiling
	}
	if math.IsNaN(next.Measured) || math.IsInf(next.Measured, 0) || next.Measured < 0 {
		next.Measured = prev.Measured
	}
	if math.IsNaN(next.Rate) || math.IsInf(next.Rate, 0) || next.Rate <= 0 {
		next.Rate = prev.Rate
	}
	if math.IsNaN(next.Burst) || math.IsInf(next.Burst, 0) || next.Burst < 1 {
		next.Burst = prev.Burst
	}
	if next.Epoch < prev.Epoch {
		next.Epoch = prev.Epoch
	}
	if next.Epoch == prev.Epoch && (next.Rate < prev.Rate || next.CooldownUntil.After(prev.CooldownUntil)) {
		next.Epoch++
	}
	return next
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// extendCooldown moves s's cooldown to now+d when that is later, bumping the
// epoch, and returns s.
func extendCooldown(s State, now time.Time, d time.Duration) State {
	extendCooldownOf(&s, now, d)
	return s
}

// extendCooldownOf is extendCooldown in place.
func extendCooldownOf(s *State, now time.Time, d time.Duration) {
	if d <= 0 {
		return
	}
	if until := now.Add(d); until.After(s.CooldownUntil) {
		s.CooldownUntil = until
		s.Epoch++
	}
}

// Seconds converts a number of seconds to a Duration, saturating instead of
// overflowing: NaN and negative values give 0, values beyond the range of a
// Duration give the largest Duration.
func Seconds(sec float64) time.Duration {
	switch {
	case !(sec > 0):
		return 0
	case sec >= float64(math.MaxInt64)/float64(time.Second):
		return math.MaxInt64
	}
	return time.Duration(sec * float64(time.Second))
}
