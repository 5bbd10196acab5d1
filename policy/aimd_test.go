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
// steep one, one whose rates are so low that cooldowns run to hours, and
// one that grows in time with round numbers.
var aimdVariants = []struct {
	name string
	a    policy.AIMD
}{
	{"default", policy.DefaultAIMD()},
	{"original", original},
	{"pinned", policy.AIMD{Rate: 1, Burst: 1, IncreaseFactor: 0, DecreaseFactor: 0.9, MinRate: 1, MaxRate: 1, CooldownMultiplier: 0}},
	{"steep", policy.AIMD{Rate: 50, Burst: 100, IncreaseFactor: 5, DecreaseFactor: 0.1, MinRate: 0.01, MaxRate: 1000, CooldownMultiplier: 10}},
	{"slow", policy.AIMD{Rate: 1e-3, Burst: 1, IncreaseFactor: 1e-4, DecreaseFactor: 0.01, MinRate: 1e-6, MaxRate: 1e-2, CooldownMultiplier: 1000}},
	{"timed", timed()},
}

func TestAIMDConformance(t *testing.T) {
	for _, v := range aimdVariants {
		t.Run(v.name, func(t *testing.T) {
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
		{"success clamps at max_rate", d, at(d.MaxRate-0.05, 2), success(2, 1), t0, at(d.MaxRate, 2)},
		{"batched successes clamp at max_rate", d, at(d.MaxRate-1, 2), success(2, 1000), t0, at(d.MaxRate, 2)},
		{"success at max_rate stays", d, at(d.MaxRate, 2), success(2, 1), t0, at(d.MaxRate, 2)},
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
		{"no growth in time", with(func(a *policy.AIMD) { a.SlowStart, a.Recovery, a.Probe, a.Restart = 0, 0, 0, 0 })},
		{"phases of a day", with(func(a *policy.AIMD) { a.SlowStart, a.Recovery, a.Probe = 86400, 86400, 86400 })},
		{"tiny phases", with(func(a *policy.AIMD) { a.SlowStart, a.Recovery, a.Probe = 5e-324, 1e-9, 1e-9 })},
		{"large restart_above", with(func(a *policy.AIMD) { a.Restart = 1e300 })},
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
		{"rate above max_rate", with(func(a *policy.AIMD) { a.Rate = 2000 }), "rate_limit_per_sec", 2000},
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

		{"negative slow_start_sec", with(func(a *policy.AIMD) { a.SlowStart = -1 }), "slow_start_sec", -1},
		{"NaN slow_start_sec", with(func(a *policy.AIMD) { a.SlowStart = nan }), "slow_start_sec", nan},
		{"+Inf slow_start_sec", with(func(a *policy.AIMD) { a.SlowStart = inf }), "slow_start_sec", inf},
		{"slow_start_sec above a day", with(func(a *policy.AIMD) { a.SlowStart = 86401 }), "slow_start_sec", 86401},
		{"negative recovery_sec", with(func(a *policy.AIMD) { a.Recovery = -0.5 }), "recovery_sec", -0.5},
		{"NaN recovery_sec", with(func(a *policy.AIMD) { a.Recovery = nan }), "recovery_sec", nan},
		{"recovery_sec above a day", with(func(a *policy.AIMD) { a.Recovery = 1e9 }), "recovery_sec", 1e9},
		{"negative probe_sec", with(func(a *policy.AIMD) { a.Probe = -1 }), "probe_sec", -1},
		{"-Inf probe_sec", with(func(a *policy.AIMD) { a.Probe = -inf }), "probe_sec", -inf},
		{"probe_sec above a day", with(func(a *policy.AIMD) { a.Probe = 86400.5 }), "probe_sec", 86400.5},
		{"negative restart_above", with(func(a *policy.AIMD) { a.Restart = -1 }), "restart_above", -1},
		{"NaN restart_above", with(func(a *policy.AIMD) { a.Restart = nan }), "restart_above", nan},
		{"+Inf restart_above", with(func(a *policy.AIMD) { a.Restart = inf }), "restart_above", inf},
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

// timed is an AIMD whose growth in time has round numbers: slow start adds
// ln 2 per token of success (successes at the rate double it every second),
// the rate climbs back to the ceiling in 4 s and has doubled it 8 s later,
// never forgets it, and does not pause after a throttle.
func timed() policy.AIMD {
	return policy.AIMD{Rate: 10, Burst: 10, DecreaseFactor: 0.5, MinRate: 0.1, MaxRate: 1e6,
		SlowStart: 1, Recovery: 4, Probe: 8}
}

// cubic is the curve of the AIMD doc comment, t seconds of use after the
// pause of a throttle at ceiling w.
func cubic(a policy.AIMD, w, t float64) float64 {
	if t < a.Recovery {
		x := 1 - t/a.Recovery
		return w - w*(1-a.DecreaseFactor)*x*x*x
	}
	x := (t - a.Recovery) / a.Probe
	return w * (1 + x*x*x)
}

// slowStep is what slow start adds to the rate for a success of tokens
// tokens: ln 2 / SlowStart each.
func slowStep(a policy.AIMD, tokens float64) float64 { return tokens * math.Ln2 / a.SlowStart }

// use reports successes of the current epoch one interval of frac × the
// rate apart, from now until end, the last one at end when the interval
// allows (so that, at the full rate, every instant until end is use). It
// returns the state and the instant of the last success.
func use(a policy.AIMD, s policy.State, now, end time.Time, frac float64) (policy.State, time.Time) {
	s, now, _ = useCounting(a, s, now, end, frac)
	return s, now
}

// useCounting is use that also returns how many successes it reported.
func useCounting(a policy.AIMD, s policy.State, now, end time.Time, frac float64) (policy.State, time.Time, int) {
	n := 0
	for now.Before(end) {
		next := now.Add(policy.Seconds(1 / (frac * s.Rate)))
		if next.After(end) {
			if frac < 1 {
				break
			}
			next = end
		}
		now = next
		s = a.Next(s, success(s.Epoch, 1), now)
		n++
	}
	return s, now, n
}

// near reports whether got is want to within rel of it.
func near(got, want, rel float64) bool { return math.Abs(got-want) <= rel*math.Abs(want) }

// Slow start: each success adds ln 2 / SlowStart per token of its permit,
// so that successes that come back at the rate double it every SlowStart
// seconds, whatever it started at, and a limiter that uses half its rate
// grows half as fast. (A quarter is where the bound by use stops it: see
// TestAIMDSlowStartBoundedByUse.)
func TestAIMDSlowStart(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fast := timed()
	fast.Rate = 500
	for _, tc := range []struct {
		name  string
		a     policy.AIMD
		frac  float64
		secs  float64
		twice float64 // doublings expected
	}{
		{"default, 2 s at the rate: 4 doublings", policy.DefaultAIMD(), 1, 2, 4},
		{"default, 1 s at the rate: 2 doublings", policy.DefaultAIMD(), 1, 1, 2},
		{"default, 2 s at half the rate: half the growth", policy.DefaultAIMD(), 0.5, 2, 2},
		{"timed, 3 s at the rate", timed(), 1, 3, 3},
		{"timed, 3 s at half the rate", timed(), 0.5, 3, 1.5},
		{"timed from 500/s: as many doublings as from 10/s", fast, 1, 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Measured as if the limiter had been used so for a while.
			start := policy.State{Rate: tc.a.Rate, Burst: tc.a.Burst, Updated: t0, Measured: tc.frac * tc.a.Rate}
			end := t0.Add(policy.Seconds(tc.secs))
			s, last, n := useCounting(tc.a, start, t0, end, tc.frac)
			// A step per success, however far apart they came.
			if want := start.Rate + float64(n)*slowStep(tc.a, 1); !near(s.Rate, want, 1e-9) {
				t.Errorf("rate %v → %v after %d successes, want %v: %v each", start.Rate, s.Rate, n, want, slowStep(tc.a, 1))
			}
			// The steps add up to the exponential of doubling every
			// SlowStart seconds at the rate, as the limit of intervals
			// that shrink as the rate grows: a step adds what the
			// exponential adds at the start of its interval, so the steps
			// lag it, by less than one interval at the starting rate (at a
			// fraction of the rate the last interval may not fit).
			got := math.Log2(s.Rate / start.Rate)
			cont := tc.frac * last.Sub(t0).Seconds() / tc.a.SlowStart
			if lag := 1 / (start.Rate * tc.a.SlowStart); got < cont-lag || got > cont+1e-9 {
				t.Errorf("rate %v → %v: %v doublings in %v, want within %v below %v (about %v)", start.Rate, s.Rate, got, last.Sub(t0), lag, cont, tc.twice)
			}
			if s.Ceiling != 0 || s.Epoch != 0 {
				t.Errorf("ceiling %v, epoch %d after successes alone, want 0 and 0", s.Ceiling, s.Epoch)
			}
		})
	}

	d := policy.DefaultAIMD()
	t.Run("one success adds a step, not a doubling", func(t *testing.T) {
		s := d.Next(d.Initial(), success(0, 1), t0)
		if want := d.Rate + slowStep(d, 1); !near(s.Rate, want, 1e-12) {
			t.Errorf("rate %v after one success, want %v + ln 2 / %v = %v", s.Rate, d.Rate, d.SlowStart, want)
		}
	})
	t.Run("a step per token of the permit", func(t *testing.T) {
		o := success(0, 1)
		o.Tokens = 3
		got := d.Next(d.Initial(), o, t0)
		want := d.Initial()
		for range 3 {
			want = d.Next(want, success(0, 1), t0)
		}
		if !near(got.Rate, d.Rate+slowStep(d, 3), 1e-12) {
			t.Errorf("rate %v after a success of 3 tokens, want %v", got.Rate, d.Rate+slowStep(d, 3))
		}
		if diff := stateDiff(want, got); diff != "" {
			t.Errorf("a success of 3 tokens against 3 of 1 at the same instant (-3 × 1 +1 × 3):\n%s", diff)
		}
		// A permit that says nothing of its tokens took one.
		o.Tokens = 0
		if diff := stateDiff(d.Next(d.Initial(), success(0, 1), t0), d.Next(d.Initial(), o, t0)); diff != "" {
			t.Errorf("Tokens 0 against Tokens 1 (-1 +0):\n%s", diff)
		}
	})
	t.Run("the same steps however the successes are spaced, within the bound by use", func(t *testing.T) {
		const k = 6
		for _, gap := range []time.Duration{0, time.Millisecond, 200 * time.Millisecond, time.Minute, time.Hour} {
			want := d.Rate + slowStep(d, k)
			if gap >= time.Minute {
				// Each success comes alone: Measured is 1 / SlowStart
				// as it counts it, and the rate stops at four times that.
				want = 4 / d.SlowStart
			}
			s, now := d.Initial(), t0
			for range k {
				s = d.Next(s, success(0, 1), now)
				now = now.Add(gap)
			}
			if !near(s.Rate, want, 1e-12) {
				t.Errorf("%d successes %v apart: rate %v, want %v", k, gap, s.Rate, want)
			}
		}
	})
	t.Run("max_rate caps it", func(t *testing.T) {
		s, _ := use(d, policy.State{Rate: 5, Burst: 5, Updated: t0}, t0, t0.Add(10*time.Second), 1)
		if s.Rate != d.MaxRate {
			t.Errorf("rate after 10 s of slow start = %v, want max_rate %v", s.Rate, d.MaxRate)
		}
	})
	t.Run("slow_start_sec 0 turns it off", func(t *testing.T) {
		a := timed()
		a.SlowStart = 0
		s, _ := use(a, policy.State{Rate: 10, Burst: 10, Updated: t0}, t0, t0.Add(10*time.Second), 1)
		if s.Rate != 10 {
			t.Errorf("rate after 10 s without slow start = %v, want 10", s.Rate)
		}
	})
}

// No use, no growth: idle time, a cooldown and the successes of permits
// from before the last decrease do not move the rate up. Slow start does
// not read the time at all: a success adds its step whenever it comes. The
// curve of the climb back and the probe counts, of a wait between
// outcomes, only the time the bucket takes to fill (Burst / Rate), and the
// probe does not pass twice the successes the limiter measured.
func TestAIMDNoGrowthWithoutUse(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := policy.DefaultAIMD()
	idle := t0.Add(10 * time.Minute)
	fill := func(s policy.State) float64 { return s.Burst / s.Rate }
	// In the climb back: a throttle at 10/s, its pause ended at t0, 1 s of
	// use since, the last success at t0+1s.
	climbing := policy.State{Rate: cubic(d, 10, 1), Burst: 5, Ceiling: 10, Since: t0, Updated: t0.Add(time.Second), Measured: 9, Epoch: 1}
	// In the probe: 10 s of use since the pause.
	probing := climbing
	probing.Rate, probing.Updated = cubic(d, 10, 10), t0.Add(10*time.Second)
	// Right after a throttle at 8/s: paused until t0+1s.
	cooling := policy.State{Rate: 6.4, Burst: 5, Ceiling: 8, CooldownUntil: t0.Add(time.Second), Since: t0.Add(time.Second), Updated: t0, Measured: 8, Epoch: 3}
	ms := func(s policy.State, n int) time.Time { return s.Updated.Add(time.Duration(n) * time.Millisecond) }

	for _, tc := range []struct {
		name string
		s    policy.State
		o    policy.Outcome
		now  time.Time
		want float64 // the rate
	}{
		{"slow start: a success after 10 minutes idle adds one step",
			policy.State{Rate: 5, Burst: 5, Since: t0, Updated: t0}, success(0, 1), idle, 5 + slowStep(d, 1)},
		{"slow start: 3 successes after 10 minutes idle add three steps",
			policy.State{Rate: 5, Burst: 5, Since: t0, Updated: t0}, success(0, 3), idle, 5 + slowStep(d, 3)},
		{"climb back: a wait shorter than the bucket takes to fill is all use",
			climbing, success(1, 1), ms(climbing, 300), cubic(d, 10, 1.3)},
		{"climb back: of 10 minutes idle, the curve counts the time the bucket takes to fill",
			climbing, success(1, 1), climbing.Updated.Add(10 * time.Minute), cubic(d, 10, 1+fill(climbing))},
		{"probe: a wait shorter than the bucket takes to fill is all use",
			probing, success(1, 1), ms(probing, 300), cubic(d, 10, 10.3)},
		// Measured has decayed to the one success: the probe is held
		// at the ceiling's side, the rate where it was.
		{"probe: after 10 minutes idle the rate stays",
			probing, success(1, 1), probing.Updated.Add(10 * time.Minute), probing.Rate},
		{"a success of the current epoch during the cooldown", cooling, success(3, 1), t0.Add(500 * time.Millisecond), 6.4},
		{"a batch of them", cooling, success(3, 100), t0.Add(999 * time.Millisecond), 6.4},
		{"a stale success after the cooldown", cooling, success(2, 1), t0.Add(2 * time.Second), 6.4},
		{"a stale batch after the cooldown", cooling, success(0, 100), t0.Add(time.Minute), 6.4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := d.Next(tc.s, tc.o, tc.now)
			if !near(got.Rate, tc.want, 1e-9) {
				t.Errorf("rate %v → %v, want %v", tc.s.Rate, got.Rate, tc.want)
			}
			if got.Ceiling != tc.s.Ceiling || got.Epoch != tc.s.Epoch {
				t.Errorf("ceiling %v → %v, epoch %d → %d: want both kept", tc.s.Ceiling, got.Ceiling, tc.s.Epoch, got.Epoch)
			}
		})
	}

	t.Run("the idle time moves the curve's start", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			now  time.Time
			use  float64 // seconds since Since
		}{
			{"a wait shorter than the fill", ms(climbing, 300), 1.3},
			{"a wait of exactly the fill", climbing.Updated.Add(policy.Seconds(fill(climbing))), 1 + fill(climbing)},
			{"10 minutes", climbing.Updated.Add(10 * time.Minute), 1 + fill(climbing)},
		} {
			got := d.Next(climbing, success(1, 1), tc.now)
			if use := tc.now.Sub(got.Since).Seconds(); !near(use, tc.use, 1e-6) {
				t.Errorf("%s: Since = t0+%v: %v s of use, want %v", tc.name, got.Since.Sub(t0), use, tc.use)
			}
		}
	})
	t.Run("an idle limiter's probe resumes with its use", func(t *testing.T) {
		// Back in use after 10 minutes: the probe follows twice what
		// the limiter measured, which climbs back with its successes.
		now := probing.Updated.Add(10 * time.Minute)
		s, end := use(d, probing, now, now.Add(20*time.Second), 1)
		curve := cubic(d, 10, 10+fill(probing)+end.Sub(now).Seconds())
		if s.Rate <= probing.Rate || s.Rate > curve*(1+1e-12) || s.Rate > 2*s.Measured*(1+1e-12) {
			t.Errorf("rate %v after 20 s of use, want above %v and at most the curve's %v and twice Measured, %v",
				s.Rate, probing.Rate, curve, 2*s.Measured)
		}
	})
}

// The climb back after a throttle: CUBIC's curve from DecreaseFactor ×
// ceiling to the ceiling in Recovery seconds of use, then the probe, which
// has doubled the ceiling Probe seconds later.
func TestAIMDRecoveryCurve(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := policy.DefaultAIMD()
	noRestart := d
	noRestart.Restart = 0
	for _, tc := range []struct {
		name string
		a    policy.AIMD
		t    float64 // seconds of use since the pause
		want float64 // × the ceiling
	}{
		{"timed, at the start", timed(), 0, 0.5},
		{"timed, halfway: most of the way", timed(), 2, 1 - 0.5/8},
		{"timed, at Recovery: the ceiling", timed(), 4, 1},
		{"timed, halfway through the probe: 1/8 above", timed(), 8, 1.125},
		{"timed, at Recovery+Probe: twice the ceiling", timed(), 12, 2},
		{"default, at Recovery: the ceiling", d, d.Recovery, 1},
		{"default, a third into the probe", d, d.Recovery + d.Probe/3, 1 + 1.0/27},
		{"default without restart, at Recovery+Probe: twice the ceiling", noRestart, d.Recovery + d.Probe, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.a
			// Slow start found 20/s: the limit. The smoothed successes
			// lag behind; the ceiling is the rate.
			s := policy.State{Rate: 20, Burst: a.Burst, Since: t0.Add(-5 * time.Second), Updated: t0, Measured: 12}
			s = a.Next(s, throttled(0, 0), t0)
			if s.Ceiling != 20 || s.Rate != 20*a.DecreaseFactor || s.Epoch != 1 || !s.Since.Equal(s.CooldownUntil) {
				t.Fatalf("after the throttle: %+v; want ceiling 20, rate %v, epoch 1, the climb from the pause's end", s, 20*a.DecreaseFactor)
			}
			from := s.Since
			if tc.t > 0 {
				s, _ = use(a, s, from, from.Add(policy.Seconds(tc.t)), 1)
			}
			if got := s.Rate / 20; !near(got, tc.want, 1e-9) {
				t.Errorf("after %v s of use: rate %v = %v × the ceiling, want %v×", tc.t, s.Rate, got, tc.want)
			}
			if s.Ceiling != 20 {
				t.Errorf("ceiling %v after the climb, want 20 kept", s.Ceiling)
			}
		})
	}

	t.Run("recovery_sec 0: no curve, growth by increase_factor alone", func(t *testing.T) {
		a := timed()
		a.Recovery, a.IncreaseFactor = 0, 0.1
		s := policy.State{Rate: 20, Burst: 10, Ceiling: 20, Since: t0, Updated: t0}
		s = a.Next(s, success(0, 10), t0.Add(time.Minute))
		if !near(s.Rate, 21, 1e-12) {
			t.Errorf("rate %v after 10 successes, want 21", s.Rate)
		}
	})
	t.Run("increase_factor adds to the curve", func(t *testing.T) {
		a := timed()
		a.IncreaseFactor = 0.1
		// 2 s of use since the pause, within the 10 s the bucket takes
		// to fill: the curve is at 18.75, and 3 successes add 0.3.
		s := policy.State{Rate: 10, Burst: 100, Ceiling: 20, Since: t0, Updated: t0, Measured: 10}
		s = a.Next(s, success(0, 3), t0.Add(2*time.Second))
		if want := cubic(a, 20, 2) + 0.3; !near(s.Rate, want, 1e-12) {
			t.Errorf("rate %v, want the curve's %v + 0.3 = %v", s.Rate, cubic(a, 20, 2), want)
		}
		// And to slow start's steps.
		s = a.Next(policy.State{Rate: 10, Burst: 10, Measured: 10}, success(0, 3), t0)
		if want := 10 + slowStep(a, 3) + 0.3; !near(s.Rate, want, 1e-12) {
			t.Errorf("rate %v in slow start, want %v", s.Rate, want)
		}
	})
	t.Run("probe_sec 0 holds the rate at the ceiling", func(t *testing.T) {
		a := timed()
		a.Probe = 0
		s := policy.State{Rate: 20, Burst: 10, Ceiling: 20, Since: t0, Updated: t0}
		s, _ = use(a, s, t0, t0.Add(time.Minute), 1)
		if s.Rate != 20 {
			t.Errorf("rate %v a minute past Recovery, want the ceiling, 20", s.Rate)
		}
	})
}

// Well past the ceiling without a throttle, the limit moved: the ceiling
// is forgotten and slow start resumes. restart_above 0 never forgets it.
func TestAIMDRestart(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := timed()
	a.Restart = 0.5
	s := policy.State{Rate: 10, Burst: 10, Ceiling: 10, Since: t0, Updated: t0, Measured: 10, Epoch: 1}
	now := t0
	for s.Ceiling > 0 {
		if now.Sub(t0) > time.Minute {
			t.Fatalf("ceiling still %v after a minute: %+v", s.Ceiling, s)
		}
		// A success every millisecond: Measured runs far above the
		// rate, so twice it never bounds the probe.
		s, now = use(a, s, now, now.Add(time.Millisecond), 1)
	}
	// The curve reaches 1.5 × the ceiling (1 + x³ = 1.5) that many
	// seconds into the probe.
	at := a.Recovery + math.Cbrt(0.5)*a.Probe
	if got := now.Sub(t0).Seconds(); math.Abs(got-at) > 0.2 {
		t.Errorf("ceiling forgotten after %v s of use, want about %v", got, at)
	}
	// Slow start does not read Since: the restart leaves it.
	if s.Rate < 15 || s.Rate > 15.5 || !s.Since.Equal(t0) {
		t.Errorf("at the restart: rate %v, Since t0+%v; want just past 15, Since t0 kept", s.Rate, s.Since.Sub(t0))
	}
	// Slow start again: a step per success, successes at the rate
	// doubling it every second.
	before := s.Rate
	s, last, n := useCounting(a, s, now, now.Add(2*time.Second), 1)
	if want := before + float64(n)*slowStep(a, 1); !near(s.Rate, want, 1e-9) {
		t.Errorf("rate %v → %v after %d successes of slow start, want %v", before, s.Rate, n, want)
	}
	if got := math.Log2(s.Rate / before); got < 2-1/(before*a.SlowStart) || got > 2+1e-9 {
		t.Errorf("%v doublings in 2 s after the restart, want about 2", got)
	}
	// The next throttle is like the first: the ceiling is the rate, and
	// the climb back starts when its pause ends.
	rate := s.Rate
	s = a.Next(s, throttled(s.Epoch, 0), last)
	if s.Ceiling != rate || !s.Since.Equal(s.CooldownUntil) || s.Epoch != 2 {
		t.Errorf("after the restart's first throttle: %+v; want ceiling %v, Since the end of the pause, epoch 2", s, rate)
	}

	t.Run("restart_above 0 never forgets", func(t *testing.T) {
		a := timed()
		s := policy.State{Rate: 10, Burst: 10, Ceiling: 10, Since: t0, Updated: t0, Epoch: 1}
		s, _ = use(a, s, t0, t0.Add(30*time.Second), 1)
		// Past 1.5 × the ceiling, where restart_above 0.5 would have
		// forgotten it; below the curve, held at twice Measured.
		if s.Ceiling != 10 || s.Rate < 15 || s.Rate > cubic(a, 10, 30) || !near(s.Rate, 2*s.Measured, 1e-12) {
			t.Errorf("after 30 s: rate %v, ceiling %v, Measured %v; want the ceiling kept, the rate past 15, below the curve's %v and twice Measured",
				s.Rate, s.Ceiling, s.Measured, cubic(a, 10, 30))
		}
	})
}

// Which throttles teach a ceiling, and which one: the rate at the first
// throttle about it; after that the rate of successes achieved (Measured)
// within [rate × DecreaseFactor, rate]; none from a throttle before any
// success grew the rate (every request was refused, whatever the rate:
// S6's case), nor from one that a burst of overloads became
// (Signal.FromOverloads). A 5xx status that the configuration counts as a
// throttle (a 529, a 503) teaches one as a 429 does. After a fresh
// throttle, once a ceiling is known, the climb back starts at the end of
// the pause.
func TestAIMDThrottleCeiling(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := policy.DefaultAIMD()
	slowStart := policy.State{Rate: 20, Burst: 5, Since: t0.Add(-time.Second), Updated: t0, Measured: 5}
	known := policy.State{Rate: 20, Burst: 5, Ceiling: 18, Since: t0.Add(-10 * time.Second), Updated: t0, Epoch: 2}
	withMeasured := func(m float64) policy.State { s := known; s.Measured = m; return s }
	status := func(o policy.Outcome, code int) policy.Outcome { o.Signal.Status = code; return o }
	// What signal.Burst makes of the fifth 503 in a row.
	overloads := func(o policy.Outcome) policy.Outcome {
		o.Signal.Status, o.Signal.FromOverloads = 503, true
		return o
	}

	for _, tc := range []struct {
		name        string
		s           policy.State
		o           policy.Outcome
		wantCeiling float64
		wantRate    float64
	}{
		{"before any success: no ceiling", d.Initial(), throttled(0, 0), 0, 4},
		{"before any success, with a Retry-After: no ceiling", d.Initial(), throttled(0, time.Minute), 0, 4},
		{"before any success, a 529: no ceiling", d.Initial(), status(throttled(0, 0), 529), 0, 4},
		{"the first throttle about the rate: the rate", slowStart, throttled(0, 0), 20, 16},
		{"a 529 in slow start: the rate", slowStart, status(throttled(0, 0), 529), 20, 16},
		{"a 503 configured as a throttle, in slow start: the rate", slowStart, status(throttled(0, 0), 503), 20, 16},
		{"a burst of overloads in slow start: no ceiling", slowStart, overloads(throttled(0, 0)), 0, 16},
		{"a burst of overloads with a ceiling: the old one kept", withMeasured(19), overloads(throttled(2, 0)), 18, 16},
		{"a 529 with a ceiling: measured", withMeasured(19), status(throttled(2, 0), 529), 19, 16},
		{"measured below rate × DecreaseFactor: rate × DecreaseFactor", withMeasured(10), throttled(2, 0), 16, 16},
		{"measured between: measured", withMeasured(18.5), throttled(2, 0), 18.5, 16},
		{"measured above the rate: the rate", withMeasured(25), throttled(2, 0), 20, 16},
		{"stale: nothing learnt", withMeasured(10), throttled(1, 0), 18, 20},
		{"at min_rate: the ceiling still learnt", policy.State{Rate: 0.1, Burst: 5, Since: t0, Updated: t0}, throttled(0, 0), 0.1, 0.1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := d.Next(tc.s, tc.o, t0)
			if !near(got.Ceiling, tc.wantCeiling, 1e-12) || !near(got.Rate, tc.wantRate, 1e-12) {
				t.Errorf("ceiling %v, rate %v; want %v and %v", got.Ceiling, got.Rate, tc.wantCeiling, tc.wantRate)
			}
			fresh := !tc.o.Stale(tc.s)
			if fresh && got.Epoch != tc.s.Epoch+1 || !fresh && got.Epoch != tc.s.Epoch {
				t.Errorf("epoch %d → %d", tc.s.Epoch, got.Epoch)
			}
			// The climb back, from the old ceiling or a new one, starts
			// when the pause ends; slow start has no use for Since.
			wantSince := tc.s.Since
			if fresh && got.Ceiling > 0 {
				wantSince = got.CooldownUntil
			}
			if !got.Since.Equal(wantSince) {
				t.Errorf("Since = %v, want %v (cooldown until %v)", got.Since, wantSince, got.CooldownUntil)
			}
		})
	}

	t.Run("the first throttle resets Measured from above", func(t *testing.T) {
		got := d.Next(slowStart, throttled(0, 0), t0)
		if got.Measured != 20 {
			t.Errorf("Measured = %v, want the throttled rate, 20", got.Measured)
		}
	})
	t.Run("a throttle before any success still decreases, once per event", func(t *testing.T) {
		s := d.Initial()
		for i := range 50 {
			s = d.Next(s, throttled(0, 0), t0.Add(time.Duration(i)*time.Millisecond))
		}
		if s.Rate != 4 || s.Epoch != 1 || s.Ceiling != 0 || !s.Since.IsZero() {
			t.Errorf("after 50 throttles of epoch 0: %+v; want rate 4, epoch 1, no ceiling, no Since", s)
		}
		// A throttle of a permit issued after it is a new event.
		s = d.Next(s, throttled(1, 0), s.CooldownUntil)
		if !near(s.Rate, 3.2, 1e-12) || s.Epoch != 2 || s.Ceiling != 0 {
			t.Errorf("after a second event: %+v; want rate 3.2, epoch 2, still no ceiling", s)
		}
		// The first success grows the rate: a throttle from then on is
		// about it.
		s = d.Next(s, success(2, 1), s.CooldownUntil)
		rate := s.Rate
		s = d.Next(s, throttled(2, 0), s.CooldownUntil)
		if s.Ceiling != rate {
			t.Errorf("after a success and a throttle: ceiling %v, want the rate %v", s.Ceiling, rate)
		}
	})
}

// One decrease per congestion event: the permits in flight when the
// upstream started refusing come back throttled, and only the first, of
// the current epoch, lowers the rate.
func TestAIMDOneDecreasePerEvent(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := policy.DefaultAIMD()
	start := policy.State{Rate: 40, Burst: 5, Since: t0.Add(-time.Second), Updated: t0, Measured: 10}
	for _, tc := range []struct {
		name string
		o    func(i int) policy.Outcome
		n    int
	}{
		{"50 throttles, one by one", func(int) policy.Outcome { return throttled(0, 0) }, 50},
		{"a batch of 50", func(int) policy.Outcome { o := throttled(0, 0); o.Count = 50; return o }, 1},
		{"throttles and overloads", func(i int) policy.Outcome {
			if i%2 == 1 {
				return overloaded(0, 0)
			}
			return throttled(0, 0)
		}, 50},
		{"with Retry-After, each one later", func(int) policy.Outcome { return throttled(0, time.Second) }, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start
			for i := range tc.n {
				s = d.Next(s, tc.o(i), t0.Add(time.Duration(i)*time.Millisecond))
			}
			if s.Rate != 32 || s.Ceiling != 40 {
				t.Errorf("rate %v, ceiling %v; want one decrease to 32 and the ceiling 40", s.Rate, s.Ceiling)
			}
			// Each later Retry-After that extends the cooldown opens an
			// epoch of its own, without a decrease.
			if s.Epoch < 1 {
				t.Errorf("epoch %d, want at least 1", s.Epoch)
			}
		})
	}
}

// Count k against k single outcomes at the same instant, the Policy
// interface's contract: the whole state agrees, for every kind of outcome
// and in every phase. Slow start adds a step per token, the curve depends
// on the instant alone, and so do the decay of Measured and the idle time
// that moves Since; only the first of a batch of throttles is fresh. (A
// batch whose successes take the rate past restart_above is the one
// exception: see known in policytest's tests.)
func TestAIMDBatches(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0.Add(10 * time.Second)
	d := policy.DefaultAIMD()
	withIncrease := d
	withIncrease.IncreaseFactor = 0.1
	slowStart := policy.State{Rate: 10, Burst: 5, Since: t0, Updated: t0, Measured: 3}
	// 1 s of use into the climb back at the last success, 1 s ago.
	climbing := policy.State{Rate: 8, Burst: 5, Ceiling: 10, Since: now.Add(-2 * time.Second), Updated: now.Add(-time.Second), Measured: 9, Epoch: 2}
	// 35 s of use after the pause, where the curve (13.6/s) is above
	// twice Measured, so that the bound rises with each success.
	probing := policy.State{Rate: 12, Burst: 5, Ceiling: 10, Since: now.Add(-35 * time.Second), Updated: now.Add(-100 * time.Millisecond), Measured: 6, Epoch: 2}
	cooling := climbing
	cooling.CooldownUntil = now.Add(time.Second)
	const k = 7
	repeat := func(a policy.AIMD, s policy.State, o policy.Outcome) policy.State {
		o.Count = 1
		for range k {
			s = a.Next(s, o, now)
		}
		return s
	}
	batch := func(a policy.AIMD, s policy.State, o policy.Outcome) policy.State {
		o.Count = k
		return a.Next(s, o, now)
	}
	tokens := func(o policy.Outcome, n float64) policy.Outcome { o.Tokens = n; return o }
	fromOverloads := func(o policy.Outcome) policy.Outcome {
		o.Signal.Status, o.Signal.FromOverloads = 503, true
		return o
	}

	for _, tc := range []struct {
		name string
		a    policy.AIMD
		s    policy.State
		o    policy.Outcome
	}{
		{"plain AIMD successes", classic(), slowStart, success(0, 1)},
		{"slow start successes", d, slowStart, success(0, 1)},
		{"slow start successes of 2.5 tokens", d, slowStart, tokens(success(0, 1), 2.5)},
		{"slow start successes with increase_factor", withIncrease, slowStart, success(0, 1)},
		{"successes after a long idle", d, slowStart, success(0, 1)}, // slowStart.Updated is 10 s before now
		{"climb back successes", d, climbing, success(2, 1)},
		{"climb back successes with increase_factor", withIncrease, climbing, success(2, 1)},
		{"probe successes, bounded by twice Measured", d, probing, success(2, 1)},
		{"probe successes of 2 tokens, up to the curve", d, probing, tokens(success(2, 1), 2)},
		{"successes during a cooldown", d, cooling, success(2, 1)},
		{"stale successes", d, climbing, success(1, 1)},
		{"throttles in slow start", d, slowStart, throttled(0, 0)},
		{"throttles a burst of overloads made", d, climbing, fromOverloads(throttled(2, 0))},
		{"throttles with Retry-After", d, climbing, throttled(2, time.Minute)},
		{"stale throttles", d, climbing, throttled(1, time.Minute)},
		{"overloads", d, probing, overloaded(2, 0)},
		{"overloads with Retry-After", d, climbing, overloaded(2, time.Minute)},
		{"failed", d, climbing, outcomeOf(signal.Failed, 2, time.Minute)},
		{"canceled", d, probing, outcomeOf(signal.Canceled, 2, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, got := repeat(tc.a, tc.s, tc.o), batch(tc.a, tc.s, tc.o)
			if diff := stateDiff(want, got); diff != "" {
				t.Errorf("Count %d against %d outcomes at one instant (-repeated +batch):\n%s", k, k, diff)
			}
		})
	}

	for _, tc := range []struct {
		name string
		s    policy.State
		want func(got policy.State) float64 // the batch's rate
	}{
		// Measured has decayed to nothing in the 10 s since: the first
		// success (Measured 2, bound 8) cannot raise 10; the second
		// (bound 16) and the rest take full steps.
		{"slow start: a step for each success under the bound", slowStart, func(policy.State) float64 { return 10 + slowStep(d, k-1) }},
		// Of the 1 s since the last success, 1 − Burst / Rate was idle.
		{"climb back: the curve at the instant", climbing, func(policy.State) float64 { return cubic(d, 10, 2-(1-5.0/8)) }},
		{"probe: twice Measured", probing, func(got policy.State) float64 { return 2 * got.Measured }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := batch(d, tc.s, success(tc.s.Epoch, 1))
			if want := tc.want(got); !near(got.Rate, want, 1e-9) {
				t.Errorf("rate after a batch of %d = %v, want %v", k, got.Rate, want)
			}
		})
	}
}

// Slow start stops at four times what the limiter uses: 50 successes a
// second hold the rate near 200, not at max_rate, and stop its growth
// there however long they go on; a throttle then finds the limiter near
// the rate it used.
func TestAIMDSlowStartBoundedByUse(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := policy.DefaultAIMD()
	s, now := d.Initial(), t0
	var at10 float64
	for i := range 1000 { // 20 s at 50/s
		s = d.Next(s, success(0, 1), now)
		now = now.Add(20 * time.Millisecond)
		if i == 499 {
			at10 = s.Rate
		}
	}
	// Measured just after a success at 50/s over 0.5 s: 2 / (1 − e^−0.04).
	peak := 2 / -math.Expm1(-0.04)
	if bound := 4 * peak; s.Rate > bound || s.Rate < 150 {
		t.Errorf("rate after 20 s of 50 successes a second = %v, want within [150, %v]", s.Rate, bound)
	}
	if !near(s.Rate, at10, 1e-6) {
		t.Errorf("rate at 10 s %v, at 20 s %v: the bound holds it still", at10, s.Rate)
	}
	if s.Ceiling != 0 {
		t.Errorf("ceiling %v after successes alone", s.Ceiling)
	}
}

// Since, Updated and Measured: what the growth in time is computed from.
func TestAIMDTracksTimeInUse(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := policy.DefaultAIMD()
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	step := slowStep(d, 1)
	s := d.Initial()
	r1 := 5 + step
	r2 := r1 + step
	// In slow start Measured counts a token as 1 / SlowStart and decays
	// over SlowStart (0.5 s).
	m2 := 2*math.Exp(-0.4) + 2
	// 2 s after the last outcome, at r2 the bucket fills in 5 / r2 s: the
	// rest was idle.
	since5 := t0.Add(policy.Seconds(2 - 5/r2))
	r5 := r2 + 2*step
	m5 := m2*math.Exp(-0.2)*math.Exp(-4) + 4
	twoTokens := success(0, 1)
	twoTokens.Tokens = 2
	steps := []struct {
		name string
		o    policy.Outcome
		now  time.Time
		want policy.State
	}{
		{"the first success starts the slow start", success(0, 1), t0,
			policy.State{Rate: r1, Burst: 5, Since: t0, Updated: t0, Measured: 2}},
		{"a failure is not counted", outcomeOf(signal.Failed, 0, 0), ms(100),
			policy.State{Rate: r1, Burst: 5, Since: t0, Updated: t0, Measured: 2}},
		{"a success 200ms later, less than the bucket takes to fill: all use", success(0, 1), ms(200),
			policy.State{Rate: r2, Burst: 5, Since: t0, Updated: ms(200), Measured: m2}},
		{"an overload: no growth, Updated moves, Measured decays", overloaded(0, 0), ms(300),
			policy.State{Rate: r2, Burst: 5, Since: t0, Updated: ms(300), Measured: m2 * math.Exp(-0.2)}},
		{"a success of 2 tokens 2 s later: idle beyond the fill, which moves Since", twoTokens, ms(2300),
			policy.State{Rate: r5, Burst: 5, Since: since5, Updated: ms(2300), Measured: m5}},
		{"a success at the same instant", success(0, 1), ms(2300),
			policy.State{Rate: r5 + step, Burst: 5, Since: since5, Updated: ms(2300), Measured: m5 + 2}},
		{"a success reported out of order: counted, no decay, Updated kept", success(0, 1), ms(2200),
			policy.State{Rate: r5 + 2*step, Burst: 5, Since: since5, Updated: ms(2300), Measured: m5 + 4}},
	}
	for _, st := range steps {
		s = d.Next(s, st.o, st.now)
		if diff := stateDiff(st.want, s); diff != "" {
			t.Fatalf("%s (-want +got):\n%s", st.name, diff)
		}
	}
	// The throttle: Since is the end of its pause, Measured the rate.
	rate := s.Rate
	s = d.Next(s, throttled(0, 0), ms(2400))
	pause := policy.Seconds(1.5 / (rate * 0.8))
	want := policy.State{Rate: rate * 0.8, Burst: 5, CooldownUntil: ms(2400).Add(pause), Epoch: 1, Ceiling: rate,
		Since: ms(2400).Add(pause), Updated: ms(2400), Measured: rate}
	if diff := stateDiff(want, s); diff != "" {
		t.Fatalf("the throttle (-want +got):\n%s", diff)
	}

	t.Run("Measured follows the rate of successes", func(t *testing.T) {
		for _, frac := range []float64{1, 0.5} {
			a := classic()
			a.IncreaseFactor = 0 // the rate stays at 10/s
			s := policy.State{Rate: 10, Burst: 10}
			s, _ = use(a, s, t0, t0.Add(time.Minute), frac)
			if want := 10 * frac; !near(s.Measured, want, 0.1) {
				t.Errorf("Measured after a minute at %v of 10/s = %v, want about %v", frac, s.Measured, want)
			}
		}
	})
}
