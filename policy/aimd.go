package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"

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
}

// DefaultAIMD returns the default parameters: start at 5 requests/s with a
// burst of 5, add 0.1 requests/s per success, halve on a throttle, stay
// within [0.1, 100] requests/s, and pause 1.5 intervals of the new rate after
// a throttle that came without a Retry-After.
func DefaultAIMD() AIMD {
	return AIMD{
		Rate:               5,
		Burst:              5,
		IncreaseFactor:     0.1,
		DecreaseFactor:     0.5,
		MinRate:            0.1,
		MaxRate:            100,
		CooldownMultiplier: 1.5,
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

// Initial returns the starting state: Rate and Burst, no cooldown, epoch 0.
func (a AIMD) Initial() State {
	return State{Rate: a.Rate, Burst: a.Burst}
}

// Next applies one outcome; see the type's documentation.
func (a AIMD) Next(s State, o Outcome, now time.Time) State {
	switch o.Signal.Kind {
	case signal.Success:
		if o.Stale(s) || now.Before(s.CooldownUntil) {
			return s
		}
		s.Rate = math.Min(s.Rate+a.IncreaseFactor*float64(o.N()), a.MaxRate)
	case signal.Throttled:
		// Only the first of a batch of throttles can be fresh: it opens a
		// new epoch, which makes the rest stale.
		if o.Stale(s) {
			return extendCooldown(s, now, o.Signal.RetryAfter)
		}
		s.Rate = math.Max(s.Rate*a.DecreaseFactor, a.MinRate)
		s.Epoch++
		pause := o.Signal.RetryAfter
		if pause <= 0 && !o.Signal.HasRetryAfter {
			pause = Seconds(a.CooldownMultiplier / s.Rate)
		}
		s.CooldownUntil = later(s.CooldownUntil, now.Add(pause))
	case signal.Overloaded:
		return extendCooldown(s, now, o.Signal.RetryAfter)
	}
	return s
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
