package policy_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/policy/policytest"
	"github.com/dynlimit/dynlimit/signal"
)

// classic is the original design's AIMD: +0.1 per success, ×0.5 on a
// throttle, no growth in time. The mechanics tests below are written
// against its round numbers.
func classic() policy.AIMD {
	a := policy.DefaultAIMD()
	a.IncreaseFactor, a.DecreaseFactor = 0.1, 0.5
	a.SlowStart, a.Recovery, a.Probe, a.Restart = 0, 0, 0, 0
	return a
}

// original is the configuration of the design this library replaces; it
// must keep loading and behaving.
var original = policy.AIMD{
	Rate:               2,
	Burst:              2,
	IncreaseFactor:     0.1,
	DecreaseFactor:     0.5,
	MinRate:            0.1,
	MaxRate:            5,
	CooldownMultiplier: 1.5,
}

// aimdVariants covers the corners of the parameter space: the defaults, a
// rate pinned by min_rate == max_rate with no increase and no pause, a
// steep one, and one whose rates are so low that cooldowns run to hours.
var aimdVariants = []struct {
	name string
	a    policy.AIMD
}{
	{"default", policy.DefaultAIMD()},
	{"original", original},
	{"pinned", policy.AIMD{Rate: 1, Burst: 1, IncreaseFactor: 0, DecreaseFactor: 0.9, MinRate: 1, MaxRate: 1, CooldownMultiplier: 0}},
	{"steep", policy.AIMD{Rate: 50, Burst: 100, IncreaseFactor: 5, DecreaseFactor: 0.1, MinRate: 0.01, MaxRate: 1000, CooldownMultiplier: 10}},
	{"slow", policy.AIMD{Rate: 1e-3, Burst: 1, IncreaseFactor: 1e-4, DecreaseFactor: 0.01, MinRate: 1e-6, MaxRate: 1e-2, CooldownMultiplier: 1000}},
}

func TestAIMDConformance(t *testing.T) {
	for _, v := range aimdVariants {
		t.Run(v.name, func(t *testing.T) {
			if v.a.SlowStart > 0 || v.a.Recovery > 0 {
				// See known in policytest's tests: everything but
				// CountMeansRepeats is checked there.
				t.Skip("the growth in time breaks CountMeansRepeats: a batch of k successes stands for k intervals, k successes at one instant for one")
			}
			policytest.Run(t, v.a)
		})
	}
}

func TestAIMDNext(t *testing.T) {
	t0 := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	t1 := t0.Add(time.Second)
	// The default pause after a throttle from 5/s to 2.5/s with no
	// Retry-After: cooldown_multiplier / 2.5 = 0.6 s.
	tCool := t0.Add(600 * time.Millisecond)
	hour := t0.Add(time.Hour)

	d := classic()
	noIncrease := d
	noIncrease.IncreaseFactor = 0
	noPause := d
	noPause.CooldownMultiplier = 0

	start := d.Initial()
	// Right after the throttle above: epoch 1, cooling down until tCool.
	cooling := policy.State{Rate: 2.5, Burst: 5, CooldownUntil: tCool, Epoch: 1}
	at := func(rate float64, epoch uint64) policy.State {
		return policy.State{Rate: rate, Burst: 5, Epoch: epoch}
	}

	tests := []struct {
		name string
		a    policy.AIMD
		s    policy.State
		o    policy.Outcome
		now  time.Time
		want policy.State
	}{
		// Success.
		{"success adds increase_factor", d, start, success(0, 1), t0, at(5.1, 0)},
		{"Count 0 is one success", d, start, success(0, 0), t0, at(5.1, 0)},
		{"ten batched successes add ten increments", d, start, success(0, 10), t0, at(6, 0)},
		{"success clamps at max_rate", d, at(99.95, 2), success(2, 1), t0, at(100, 2)},
		{"batched successes clamp at max_rate", d, at(99, 2), success(2, 1000), t0, at(100, 2)},
		{"success at max_rate stays", d, at(100, 2), success(2, 1), t0, at(100, 2)},
		{"increase_factor 0 never increases", noIncrease, start, success(0, 5), t0, start},
		{"success during cooldown", d, cooling, success(1, 1), tCool.Add(-time.Nanosecond), cooling},
		{"success as the cooldown ends", d, cooling, success(1, 1), tCool,
			policy.State{Rate: 2.6, Burst: 5, CooldownUntil: tCool, Epoch: 1}},
		{"stale success after the cooldown", d, cooling, success(0, 1), t1, cooling},
		{"stale batch of successes", d, cooling, success(0, 50), t1, cooling},

		// Throttle on a permit of the current epoch.
		{"throttle without Retry-After", d, start, throttled(0, 0), t0,
			policy.State{Rate: 2.5, Burst: 5, CooldownUntil: tCool, Epoch: 1}},
		{"throttle with Retry-After", d, start, throttled(0, 30*time.Second), t0,
			policy.State{Rate: 2.5, Burst: 5, CooldownUntil: t0.Add(30 * time.Second), Epoch: 1}},
		{"throttle with a short Retry-After uses it", d, start, throttled(0, time.Millisecond), t0,
			policy.State{Rate: 2.5, Burst: 5, CooldownUntil: t0.Add(time.Millisecond), Epoch: 1}},
		{"throttle clamps at min_rate", d, at(0.15, 3), throttled(3, 0), t0,
			// Pause computed at the clamped rate: 1.5 / 0.1 s.
			policy.State{Rate: 0.1, Burst: 5, CooldownUntil: t0.Add(15 * time.Second), Epoch: 4}},
		{"throttle at min_rate still opens an epoch", d, at(0.1, 3), throttled(3, 0), t0,
			policy.State{Rate: 0.1, Burst: 5, CooldownUntil: t0.Add(15 * time.Second), Epoch: 4}},
		{"throttle keeps a later cooldown", d, policy.State{Rate: 5, Burst: 5, CooldownUntil: hour}, throttled(0, 0), t0,
			policy.State{Rate: 2.5, Burst: 5, CooldownUntil: hour, Epoch: 1}},
		{"throttle with cooldown_multiplier 0 does not pause", noPause, start, throttled(0, 0), t0,
			// A cooldown that ends the instant it starts lets the next
			// permit through at once.
			policy.State{Rate: 2.5, Burst: 5, CooldownUntil: t0, Epoch: 1}},
		{"throttle with cooldown_multiplier 0 honours Retry-After", noPause, start, throttled(0, 2*time.Second), t0,
			policy.State{Rate: 2.5, Burst: 5, CooldownUntil: t0.Add(2 * time.Second), Epoch: 1}},
		{"batch of throttles decreases once", d, start, policy.Outcome{Signal: throttled(0, 0).Signal, Count: 50}, t0,
			policy.State{Rate: 2.5, Burst: 5, CooldownUntil: tCool, Epoch: 1}},
		{"throttle from a future epoch counts as current", d, at(5, 2), throttled(7, 0), t0,
			policy.State{Rate: 2.5, Burst: 5, CooldownUntil: tCool, Epoch: 3}},

		// Throttle on a permit of an older epoch: an echo.
		{"stale throttle without Retry-After", d, cooling, throttled(0, 0), t0, cooling},
		{"stale throttle with a shorter Retry-After", d, cooling, throttled(0, 100*time.Millisecond), t0, cooling},
		{"stale throttle with a longer Retry-After extends the cooldown", d, cooling, throttled(0, 10*time.Second), t1,
			policy.State{Rate: 2.5, Burst: 5, CooldownUntil: t1.Add(10 * time.Second), Epoch: 2}},

		// Overloaded.
		{"overloaded without Retry-After", d, start, overloaded(0, 0), t0, start},
		{"overloaded with Retry-After pauses", d, start, overloaded(0, 5*time.Second), t0,
			policy.State{Rate: 5, Burst: 5, CooldownUntil: t0.Add(5 * time.Second), Epoch: 1}},
		{"overloaded with a shorter Retry-After", d, policy.State{Rate: 5, Burst: 5, CooldownUntil: hour, Epoch: 2},
			overloaded(2, 5*time.Second), t0, policy.State{Rate: 5, Burst: 5, CooldownUntil: hour, Epoch: 2}},
		{"stale overloaded with a longer Retry-After", d, cooling, overloaded(0, time.Minute), t1,
			policy.State{Rate: 2.5, Burst: 5, CooldownUntil: t1.Add(time.Minute), Epoch: 2}},

		// No evidence about capacity.
		{"failed", d, cooling, outcomeOf(signal.Failed, 1, 0), t1, cooling},
		{"failed with Retry-After", d, cooling, outcomeOf(signal.Failed, 1, time.Hour), t1, cooling},
		{"canceled", d, start, outcomeOf(signal.Canceled, 0, 0), t0, start},
		{"canceled with Retry-After", d, cooling, outcomeOf(signal.Canceled, 1, time.Hour), t0, cooling},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.a.Next(tc.s, tc.o, tc.now)
			if d := mechDiff(tc.want, got); d != "" {
				t.Errorf("Next(%+v, %+v) mismatch (-want +got):\n%s", tc.s, tc.o, d)
			}
			// Next is what the bucket stores; Sanitize must have nothing
			// to repair in it.
			if d := stateDiff(got, policy.Sanitize(tc.s, got)); d != "" {
				t.Errorf("Sanitize changed Next's result (-next +sanitized):\n%s", d)
			}
		})
	}
}

// TestAIMDInFlight is the classic congestion event: fifty permits issued at
// 5/s are in flight when the upstream starts refusing, and all of them come
// back 429, one after the other.
func TestAIMDInFlight(t *testing.T) {
	t0 := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	d := classic()

	t.Run("without Retry-After", func(t *testing.T) {
		s := d.Initial()
		for i := range 50 {
			s = policy.Sanitize(s, d.Next(s, throttled(0, 0), t0.Add(time.Duration(i)*time.Millisecond)))
		}
		want := policy.State{Rate: 2.5, Burst: 5, CooldownUntil: t0.Add(600 * time.Millisecond), Epoch: 1}
		if diff := mechDiff(want, s); diff != "" {
			t.Errorf("after 50 throttles of epoch 0 (-want +got):\n%s", diff)
		}
	})

	t.Run("with Retry-After", func(t *testing.T) {
		// Each answer asks for one more second from when it was sent: the
		// cooldown follows the last, the rate halves once.
		s := d.Initial()
		last := t0
		for i := range 50 {
			last = t0.Add(time.Duration(i) * time.Millisecond)
			s = policy.Sanitize(s, d.Next(s, throttled(0, time.Second), last))
		}
		if s.Rate != 2.5 {
			t.Errorf("Rate = %v, want 2.5: one congestion event, one decrease", s.Rate)
		}
		if want := last.Add(time.Second); !s.CooldownUntil.Equal(want) {
			t.Errorf("CooldownUntil = %v, want %v", s.CooldownUntil, want)
		}
	})

	t.Run("echoes do not undo the decrease", func(t *testing.T) {
		s := d.Next(d.Initial(), throttled(0, 0), t0)
		after := s.CooldownUntil.Add(time.Second)
		// Successes of permits issued at the old rate prove nothing about
		// the new one.
		for range 20 {
			s = d.Next(s, success(0, 1), after)
		}
		if s.Rate != 2.5 {
			t.Fatalf("Rate = %v after stale successes, want 2.5", s.Rate)
		}
		s = d.Next(s, success(s.Epoch, 1), after)
		if math.Abs(s.Rate-2.6) > 1e-12 {
			t.Errorf("Rate = %v after a success of the new epoch, want 2.6", s.Rate)
		}
	})

	t.Run("a second event decreases again", func(t *testing.T) {
		s := d.Next(d.Initial(), throttled(0, 0), t0)
		s = d.Next(s, throttled(s.Epoch, 0), s.CooldownUntil)
		if s.Rate != 1.25 || s.Epoch != 2 {
			t.Errorf("State = %+v, want Rate 1.25 in epoch 2", s)
		}
	})
}

// TestAIMDRateBounds drives every variant over random outcomes and checks
// the rate against [min_rate, max_rate] after every step, and that it moves
// only for the reasons AIMD gives.
func TestAIMDRateBounds(t *testing.T) {
	t0 := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	for _, v := range aimdVariants {
		t.Run(v.name, func(t *testing.T) {
			a := v.a
			for seed := range uint64(8) {
				r := rand.New(rand.NewPCG(seed, 42))
				s, now := a.Initial(), t0
				for i := range 2000 {
					o := randomOutcome(r, s)
					now = now.Add(time.Duration(r.Int64N(int64(3 * time.Second))))
					next := policy.Sanitize(s, a.Next(s, o, now))
					if next.Rate < a.MinRate || next.Rate > a.MaxRate {
						t.Fatalf("seed %d step %d: Next(%+v, %+v) rate %v outside [%v, %v]",
							seed, i, s, o, next.Rate, a.MinRate, a.MaxRate)
					}
					fresh := !o.Stale(s)
					switch {
					case next.Rate > s.Rate && !(o.Signal.Kind == signal.Success && fresh && !now.Before(s.CooldownUntil)):
						t.Fatalf("seed %d step %d: Next(%+v, %+v) raised the rate to %v", seed, i, s, o, next.Rate)
					case next.Rate < s.Rate && !(o.Signal.Kind == signal.Throttled && fresh):
						t.Fatalf("seed %d step %d: Next(%+v, %+v) lowered the rate to %v", seed, i, s, o, next.Rate)
					}
					s = next
				}
			}
		})
	}
}

// randomOutcome weighs successes and throttles so that rates travel between
// their bounds, with stale epochs, batches and Retry-After mixed in.
func randomOutcome(r *rand.Rand, s policy.State) policy.Outcome {
	o := policy.Outcome{Tokens: 1}
	switch n := r.IntN(10); {
	case n < 6:
		o.Signal.Kind = signal.Success
	case n < 8:
		o.Signal.Kind = signal.Throttled
	default:
		o.Signal.Kind = signal.Kind(r.IntN(signal.NumKinds))
	}
	if r.IntN(3) == 0 {
		o.Signal.RetryAfter = time.Duration(r.Int64N(int64(10 * time.Second)))
	}
	if s.Epoch > 0 && r.IntN(3) == 0 {
		o.Epoch = r.Uint64N(s.Epoch)
	} else {
		o.Epoch = s.Epoch
	}
	if r.IntN(4) == 0 {
		o.Count = uint64(r.IntN(200))
	}
	return o
}

func TestAIMDValidate(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	with := func(change func(*policy.AIMD)) policy.AIMD {
		a := policy.DefaultAIMD()
		change(&a)
		return a
	}

	valid := []struct {
		name string
		a    policy.AIMD
	}{
		{"default", policy.DefaultAIMD()},
		{"original", original},
		{"increase_factor 0", with(func(a *policy.AIMD) { a.IncreaseFactor = 0 })},
		{"cooldown_multiplier 0", with(func(a *policy.AIMD) { a.CooldownMultiplier = 0 })},
		{"burst_size 1", with(func(a *policy.AIMD) { a.Burst = 1 })},
		{"fractional burst_size above 1", with(func(a *policy.AIMD) { a.Burst = 1.5 })},
		{"rate pinned by min_rate == max_rate", with(func(a *policy.AIMD) { a.Rate, a.MinRate, a.MaxRate = 3, 3, 3 })},
		{"rate at min_rate", with(func(a *policy.AIMD) { a.Rate = a.MinRate })},
		{"rate at max_rate", with(func(a *policy.AIMD) { a.Rate = a.MaxRate })},
		{"decrease_factor close to 0", with(func(a *policy.AIMD) { a.DecreaseFactor = 1e-9 })},
		{"decrease_factor close to 1", with(func(a *policy.AIMD) { a.DecreaseFactor = 0.999999 })},
	}
	for _, tc := range valid {
		t.Run("valid/"+tc.name, func(t *testing.T) {
			if err := tc.a.Validate(); err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
		})
	}

	invalid := []struct {
		name  string
		a     policy.AIMD
		field string
		value float64
	}{
		{"zero AIMD", policy.AIMD{}, "rate_limit_per_sec", 0},
		{"negative rate", with(func(a *policy.AIMD) { a.Rate = -1 }), "rate_limit_per_sec", -1},
		{"zero rate", with(func(a *policy.AIMD) { a.Rate = 0 }), "rate_limit_per_sec", 0},
		{"NaN rate", with(func(a *policy.AIMD) { a.Rate = nan }), "rate_limit_per_sec", nan},
		{"+Inf rate", with(func(a *policy.AIMD) { a.Rate = inf }), "rate_limit_per_sec", inf},
		{"-Inf rate", with(func(a *policy.AIMD) { a.Rate = -inf }), "rate_limit_per_sec", -inf},
		{"rate above max_rate", with(func(a *policy.AIMD) { a.Rate = 200 }), "rate_limit_per_sec", 200},
		{"rate below min_rate", with(func(a *policy.AIMD) { a.Rate = 0.05 }), "rate_limit_per_sec", 0.05},

		{"zero burst", with(func(a *policy.AIMD) { a.Burst = 0 }), "burst_size", 0},
		{"negative burst", with(func(a *policy.AIMD) { a.Burst = -5 }), "burst_size", -5},
		{"burst 0.5", with(func(a *policy.AIMD) { a.Burst = 0.5 }), "burst_size", 0.5},
		{"NaN burst", with(func(a *policy.AIMD) { a.Burst = nan }), "burst_size", nan},
		{"+Inf burst", with(func(a *policy.AIMD) { a.Burst = inf }), "burst_size", inf},

		{"negative increase_factor", with(func(a *policy.AIMD) { a.IncreaseFactor = -0.1 }), "increase_factor", -0.1},
		{"NaN increase_factor", with(func(a *policy.AIMD) { a.IncreaseFactor = nan }), "increase_factor", nan},
		{"+Inf increase_factor", with(func(a *policy.AIMD) { a.IncreaseFactor = inf }), "increase_factor", inf},

		{"decrease_factor 0", with(func(a *policy.AIMD) { a.DecreaseFactor = 0 }), "decrease_factor", 0},
		{"decrease_factor 1", with(func(a *policy.AIMD) { a.DecreaseFactor = 1 }), "decrease_factor", 1},
		{"decrease_factor 1.5", with(func(a *policy.AIMD) { a.DecreaseFactor = 1.5 }), "decrease_factor", 1.5},
		{"negative decrease_factor", with(func(a *policy.AIMD) { a.DecreaseFactor = -0.5 }), "decrease_factor", -0.5},
		{"NaN decrease_factor", with(func(a *policy.AIMD) { a.DecreaseFactor = nan }), "decrease_factor", nan},
		{"+Inf decrease_factor", with(func(a *policy.AIMD) { a.DecreaseFactor = inf }), "decrease_factor", inf},
		{"-Inf decrease_factor", with(func(a *policy.AIMD) { a.DecreaseFactor = -inf }), "decrease_factor", -inf},

		{"zero min_rate", with(func(a *policy.AIMD) { a.MinRate = 0 }), "min_rate", 0},
		{"negative min_rate", with(func(a *policy.AIMD) { a.MinRate = -1 }), "min_rate", -1},
		{"NaN min_rate", with(func(a *policy.AIMD) { a.MinRate = nan }), "min_rate", nan},
		{"min_rate above max_rate", with(func(a *policy.AIMD) { a.MinRate, a.MaxRate = 10, 5 }), "min_rate", 10},

		{"zero max_rate", with(func(a *policy.AIMD) { a.MaxRate = 0 }), "max_rate", 0},
		{"+Inf max_rate", with(func(a *policy.AIMD) { a.MaxRate = inf }), "max_rate", inf},
		{"NaN max_rate", with(func(a *policy.AIMD) { a.MaxRate = nan }), "max_rate", nan},

		{"negative cooldown_multiplier", with(func(a *policy.AIMD) { a.CooldownMultiplier = -1 }), "cooldown_multiplier", -1},
		{"NaN cooldown_multiplier", with(func(a *policy.AIMD) { a.CooldownMultiplier = nan }), "cooldown_multiplier", nan},
		{"+Inf cooldown_multiplier", with(func(a *policy.AIMD) { a.CooldownMultiplier = inf }), "cooldown_multiplier", inf},
	}
	for _, tc := range invalid {
		t.Run("invalid/"+tc.name, func(t *testing.T) {
			err := tc.a.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil for %+v, want an error for %s", tc.a, tc.field)
			}
			wantPolicyError(t, err, tc.field, tc.value)
		})
	}
}

func TestAIMDInitial(t *testing.T) {
	a := policy.AIMD{Rate: 3, Burst: 7, IncreaseFactor: 1, DecreaseFactor: 0.5, MinRate: 1, MaxRate: 10}
	want := policy.State{Rate: 3, Burst: 7}
	if d := stateDiff(want, a.Initial()); d != "" {
		t.Errorf("Initial() mismatch (-want +got):\n%s", d)
	}
}
