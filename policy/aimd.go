package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/dynlimit/dynlimit/internal/fmath"

	"github.com/dynlimit/dynlimit/signal"
)

// AIMD is additive increase, multiplicative decrease: each success adds
// IncreaseFactor to the rate, each throttle multiplies it by DecreaseFactor,
// within [MinRate, MaxRate].
//
// On a throttle the limiter also pauses: for the signal's Retry-After when
// the upstream sent one, otherwise for CooldownMultiplier intervals at the
// reduced rate (CooldownMultiplier / rate seconds). The bucket is drained at
// the same time, so the limiter resumes at the new rate rather than with a
// burst.
//
// It reacts once per congestion event: a throttle on a permit issued before
// the last decrease (see the package doc on epochs) does not decrease again,
// though a longer Retry-After it carries still extends the cooldown. A
// success increases the rate only if its permit was issued in the current
// epoch and the cooldown is over, so the echoes of the old rate do not undo
// a decrease and an idle limiter never grows. Overloaded outcomes do not move
// the rate (a burst of them is turned into a throttle by a classifier), but a
// Retry-After on one is honoured; Failed and Canceled outcomes change nothing.
//
// The zero AIMD is not valid: start from [DefaultAIMD] and change what you
// need. Field names in JSON are those of the original configuration format.
type AIMD struct {
	// Rate is the initial rate in requests (tokens) per second.
	Rate float64 `json:"rate_limit_per_sec"`
	// Burst is the bucket's capacity: how many requests may go at once after
	// a quiet spell. At least 1.
	Burst float64 `json:"burst_size"`
	// IncreaseFactor is added to the rate, in requests per second, on each
	// success. Zero turns increases off.
	IncreaseFactor float64 `json:"increase_factor"`
	// DecreaseFactor multiplies the rate on a throttle; in (0, 1).
	DecreaseFactor float64 `json:"decrease_factor"`
	// MinRate is the floor of the rate, > 0.
	MinRate float64 `json:"min_rate"`
	// MaxRate is the ceiling of the rate, >= MinRate.
	MaxRate float64 `json:"max_rate"`
	// CooldownMultiplier sets the pause after a throttle that came without a
	// Retry-After: CooldownMultiplier / rate seconds, rate being the reduced
	// one. Zero means no pause.
	CooldownMultiplier float64 `json:"cooldown_multiplier"`

	// ProbeBand makes the increase remember where the limit was: the rate
	// at the last throttle (State.Ceiling). Within ProbeBand of it (a
	// fraction of the ceiling, on either side) each success adds less than
	// IncreaseFactor — IncreaseFactor × max(ProbeFloor, (distance /
	// (ProbeBand × ceiling))²) — so the rate creeps up to the old limit and
	// past it, while far from it, below or above, it moves at full speed.
	// 0 turns this off: plain AIMD.
	ProbeBand float64 `json:"probe_band"`
	// ProbeFloor is the fraction of IncreaseFactor still added right at the
	// ceiling, in (0, 1]; it keeps the rate probing for a raised limit.
	ProbeFloor float64 `json:"probe_floor"`
}

// DefaultAIMD returns the default parameters: start at 5 requests/s with a
// burst of 5, add 0.1 requests/s per success, multiply by 0.7 on a throttle,
// stay within [0.1, 100] requests/s, pause 1.5 intervals of the new rate
// after a throttle that came without a Retry-After, and remember the rate of
// the last throttle: within 30 % of it each success adds as little as 5 % of
// the full step.
//
// These values come from the simulator's scenario suite (docs/design.md,
// docs/benchmarks.md): the original design's ×0.5 with plain additive
// increase reaches about 92 % of a steady upstream's capacity with 1.3 % of
// requests throttled; remembering the ceiling and decreasing by ×0.7 reaches
// 96 % with under 0.5 % throttled, shares a quota fairly between clients,
// and still finds a raised limit within a minute.
func DefaultAIMD() AIMD {
	return AIMD{
		Rate:               5,
		Burst:              5,
		IncreaseFactor:     0.1,
		DecreaseFactor:     0.7,
		MinRate:            0.1,
		MaxRate:            100,
		CooldownMultiplier: 1.5,
		ProbeBand:          0.3,
		ProbeFloor:         0.05,
	}
}

var _ Policy = AIMD{}

// Validate reports the first invalid parameter: non-finite or negative
// values, zero where it matters, MinRate > MaxRate, an initial rate outside
// [MinRate, MaxRate], a DecreaseFactor outside (0, 1) or a Burst below 1.
func (a AIMD) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"rate_limit_per_sec", a.Rate},
		{"burst_size", a.Burst},
		{"min_rate", a.MinRate},
		{"max_rate", a.MaxRate},
	} {
		if err := positive(f.name, f.v); err != nil {
			return err
		}
	}
	if a.Burst < 1 {
		return &Error{Field: "burst_size", Value: a.Burst, Reason: "must be >= 1"}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"increase_factor", a.IncreaseFactor},
		{"cooldown_multiplier", a.CooldownMultiplier},
	} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			return &Error{Field: f.name, Value: f.v, Reason: "must be a finite number >= 0"}
		}
	}
	if math.IsNaN(a.ProbeBand) || math.IsInf(a.ProbeBand, 0) || a.ProbeBand < 0 || a.ProbeBand > 10 {
		return &Error{Field: "probe_band", Value: a.ProbeBand, Reason: "must be within [0, 10]"}
	}
	if a.ProbeBand > 0 && (math.IsNaN(a.ProbeFloor) || a.ProbeFloor <= 0 || a.ProbeFloor > 1) {
		return &Error{Field: "probe_floor", Value: a.ProbeFloor, Reason: "must be in (0, 1] when probe_band > 0"}
	}
	if math.IsNaN(a.DecreaseFactor) || a.DecreaseFactor <= 0 || a.DecreaseFactor >= 1 {
		return &Error{Field: "decrease_factor", Value: a.DecreaseFactor, Reason: "must be in (0, 1)"}
	}
	if a.MinRate > a.MaxRate {
		return &Error{Field: "min_rate", Value: a.MinRate, Reason: fmt.Sprintf("must be <= max_rate (%v)", a.MaxRate)}
	}
	if a.Rate < a.MinRate || a.Rate > a.MaxRate {
		return &Error{Field: "rate_limit_per_sec", Value: a.Rate,
			Reason: fmt.Sprintf("must be within [min_rate, max_rate] = [%v, %v]", a.MinRate, a.MaxRate)}
	}
	return nil
}

// RateBounds returns MinRate and MaxRate: a bucket shared by several
// processes, which adds up the increases each one computed, keeps the sum
// within them.
func (a AIMD) RateBounds() (minRate, maxRate float64) { return a.MinRate, a.MaxRate }

// Initial returns the starting state: Rate and Burst, no cooldown, epoch 0.
func (a AIMD) Initial() State {
	return State{Rate: a.Rate, Burst: a.Burst}
}

// Next applies one outcome; see the type's documentation.
//
// The outcomes other than a success, which are rare, are handled through
// pointers by functions of their own: that keeps the success, which the
// limiter reports for nearly every call, from paying for copies of the
// state and the outcome that only the other branches need.
func (a AIMD) Next(s State, o Outcome, now time.Time) State {
	if o.Signal.Kind != signal.Success {
		a.next(&s, &o, now)
		return s
	}
	// o.Stale(s) and o.N(), without a copy of o
	if o.Epoch < s.Epoch || now.Before(s.CooldownUntil) {
		return s
	}
	n := o.Count
	if n == 0 {
		n = 1
	}
	s.Rate = a.increase(s.Rate, s.Ceiling, n)
	return s
}

// next applies to *s an outcome that is not a success.
func (a *AIMD) next(s *State, o *Outcome, now time.Time) {
	switch o.Signal.Kind {
	case signal.Throttled:
		a.throttle(s, o, now)
	case signal.Overloaded:
		extendCooldownOf(s, now, o.Signal.RetryAfter)
	}
}

// throttle applies a throttle to *s.
func (a *AIMD) throttle(s *State, o *Outcome, now time.Time) {
	// Only the first of a batch of throttles can be fresh: it opens a
	// new epoch, which makes the rest stale.
	if o.Stale(*s) {
		extendCooldownOf(s, now, o.Signal.RetryAfter)
		return
	}
	// A throttle that a burst of server errors stands for (a classifier
	// turned 5xx responses into one) says the upstream is sick, not
	// where its limit is: it lowers the rate but teaches no ceiling.
	if a.ProbeBand > 0 && o.Signal.Status < 500 {
		s.Ceiling = s.Rate
	}
	s.Rate = math.Max(s.Rate*a.DecreaseFactor, a.MinRate)
	s.Epoch++
	pause := o.Signal.RetryAfter
	if pause <= 0 && !o.Signal.HasRetryAfter {
		pause = Seconds(a.CooldownMultiplier / s.Rate)
	}
	s.CooldownUntil = later(s.CooldownUntil, now.Add(pause))
}

// probeBelow caps the step far below the ceiling at this many increase
// factors: well below a rate that was sustained, after an outage say, the
// rate climbs back in seconds rather than minutes. Above the ceiling the
// step never exceeds one factor: that is unknown ground.
const probeBelow = 10

// maxSteps bounds the work of one batch of successes.
const maxSteps = 1 << 16

// increase returns rate after n successes.
func (a AIMD) increase(rate, ceiling float64, n uint64) float64 {
	if a.ProbeBand <= 0 || ceiling <= 0 {
		return fmath.Min(rate+a.IncreaseFactor*float64(n), a.MaxRate)
	}
	// The step depends on the rate, so a batch is applied one success at a
	// time, as the Count contract requires; it stops at the ceiling of the
	// rate, so a long batch costs no more than the climb it describes.
	band := a.ProbeBand * ceiling
	for i := 0; n > 0 && rate < a.MaxRate; n-- {
		x := (rate - ceiling) / band
		f := max(a.ProbeFloor, x*x)
		if x < 0 {
			f = min(f, probeBelow)
		} else {
			f = min(f, 1)
		}
		if i++; i > maxSteps {
			// Beyond this the batch is applied at the last step's size:
			// a bounded cost for any Count.
			rate += a.IncreaseFactor * f * float64(n)
			break
		}
		rate += a.IncreaseFactor * f
	}
	return fmath.Min(rate, a.MaxRate)
}

// ParseAIMD decodes a JSON object of AIMD parameters over the defaults of
// [DefaultAIMD] and validates the result. Unknown fields, wrong types and
// trailing data are errors that name the problem.
func ParseAIMD(data []byte) (AIMD, error) {
	a := DefaultAIMD()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return AIMD{}, fmt.Errorf("policy: decode AIMD parameters: %w", err)
	}
	// Decoder.More stops at a stray '}' or ']' as if a container ended, so it
	// would accept `{...}}`; only io.EOF proves nothing follows the object.
	if _, err := dec.Token(); err != io.EOF {
		return AIMD{}, fmt.Errorf("policy: decode AIMD parameters: data after the JSON object")
	}
	if err := a.Validate(); err != nil {
		return AIMD{}, err
	}
	return a, nil
}
