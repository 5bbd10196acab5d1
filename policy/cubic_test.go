package policy_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/policy/policytest"
	"github.com/dynlimit/dynlimit/signal"
)

// cubicVariants covers the corners of CUBIC's parameters: the SDK's
// defaults, a start below max_rate, a rate pinned by min_rate == max_rate, a
// steep one that forgets fast, and a slow one whose rates are a request an
// hour.
var cubicVariants = []struct {
	name string
	c    policy.CUBIC
}{
	{"default", policy.DefaultCUBIC()},
	{"start below max_rate", policy.CUBIC{Rate: 3, Burst: 3, MinRate: 0.1, MaxRate: 6, Beta: 0.7, ScaleConstant: 0.4, Smooth: 0.8}},
	{"pinned", policy.CUBIC{Rate: 1, Burst: 1, MinRate: 1, MaxRate: 1, Beta: 0.5, ScaleConstant: 0.4, Smooth: 0.8}},
	{"steep", policy.CUBIC{Burst: 100, MinRate: 0.01, MaxRate: 1000, Beta: 0.1, ScaleConstant: 50, Smooth: 0.999}},
	{"slow", policy.CUBIC{Rate: 1e-3, Burst: 1, MinRate: 1e-6, MaxRate: 1e-2, Beta: 0.99, ScaleConstant: 1e-9, Smooth: 0.01}},
}

func TestCUBICConformance(t *testing.T) {
	for _, v := range cubicVariants {
		t.Run(v.name, func(t *testing.T) { policytest.Run(t, v.c) })
	}
}

// The SDK's own sample, −ln(1 − 0.8) / 0.5 s: what each outcome at the
// instant of the one before adds to the measured rate.
const sameInstant = 3.2188758248682006

func TestCUBICNext(t *testing.T) {
	t0 := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	at := t0.Add
	c := policy.DefaultCUBIC()
	sec := time.Second
	ms := time.Millisecond

	// Measured 10/s with the last outcome at u: another 100 ms after it
	// keeps the measured rate at 10/s.
	steady := func(rate float64, u time.Time) policy.State {
		return policy.State{Rate: rate, Burst: 5, Since: t0, Updated: u, Measured: 10}
	}
	// After a throttle at 10/s at t0: the cubic's W_max is 10.
	after := func(rate float64, u time.Time) policy.State {
		s := steady(rate, u)
		s.Ceiling, s.Epoch = 10, 1
		return s
	}
	with := func(s policy.State, change func(*policy.State)) policy.State {
		change(&s)
		return s
	}
	// 0.4 × (1 s − ∛(10 × 0.3 / 0.4))³ + 10: the cubic a second into its
	// growth after a throttle at 10/s.
	const oneSecondIn = 9.64893600966

	tests := []struct {
		name string
		c    policy.CUBIC
		s    policy.State
		o    policy.Outcome
		now  time.Time
		want policy.State
	}{
		// Measurement.
		{"the first outcome starts the clocks", c, c.Initial(), success(0, 1), t0,
			policy.State{Rate: 100, Burst: 5, Since: t0, Updated: t0}},
		{"the rest of a first batch count at its instant", c, c.Initial(), success(0, 3), t0,
			policy.State{Rate: 100, Burst: 5, Since: t0, Updated: t0, Measured: 2 * sameInstant}},
		{"an outcome half a second on: the old estimate keeps a fifth", c,
			policy.State{Rate: 10, Burst: 5, Since: t0, Updated: t0, Measured: 4}, success(0, 1), at(500 * ms),
			policy.State{Rate: 10, Burst: 5, Since: t0, Updated: at(500 * ms), Measured: 0.2*4 + 0.8/0.5}},
		{"evenly spaced outcomes measure their rate", c, steady(20, t0), success(0, 1), at(100 * ms),
			steady(20, at(100*ms))},
		{"an outcome before the last measured counts as at its instant", c, steady(20, at(sec)), success(0, 1), t0,
			with(steady(20, at(sec)), func(s *policy.State) { s.Measured += sameInstant })},

		// Throttle on a permit of the current epoch.
		{"throttle: W_max is the measured rate below the rate", c, steady(20, t0), throttled(0, 0), at(100 * ms),
			policy.State{Rate: 7, Burst: 5, Since: at(100 * ms), Updated: at(100 * ms), Measured: 10, Ceiling: 10, Epoch: 1}},
		{"throttle: W_max is the rate below the measured rate", c, steady(5, t0), throttled(0, 0), at(100 * ms),
			policy.State{Rate: 3.5, Burst: 5, Since: at(100 * ms), Updated: at(100 * ms), Measured: 10, Ceiling: 5, Epoch: 1}},
		{"throttle before anything is measured: W_max is the rate", c, c.Initial(), throttled(0, 0), t0,
			policy.State{Rate: 70, Burst: 5, Since: t0, Updated: t0, Ceiling: 100, Epoch: 1}},
		{"throttle with Retry-After pauses", c, steady(20, t0), throttled(0, 30*sec), at(100 * ms),
			policy.State{Rate: 7, Burst: 5, CooldownUntil: at(30*sec + 100*ms), Since: at(100 * ms), Updated: at(100 * ms),
				Measured: 10, Ceiling: 10, Epoch: 1}},
		{"throttle keeps a later cooldown", c, with(steady(20, t0), func(s *policy.State) { s.CooldownUntil = at(time.Hour) }),
			throttled(0, sec), at(100 * ms),
			policy.State{Rate: 7, Burst: 5, CooldownUntil: at(time.Hour), Since: at(100 * ms), Updated: at(100 * ms),
				Measured: 10, Ceiling: 10, Epoch: 1}},
		{"throttle clamps at min_rate and still opens an epoch", c, policy.State{Rate: 0.6, Burst: 5, Since: t0, Epoch: 3},
			throttled(3, 0), t0, policy.State{Rate: 0.5, Burst: 5, Since: t0, Updated: t0, Ceiling: 0.6, Epoch: 4}},
		{"a batch of throttles decreases once", c, steady(20, t0),
			policy.Outcome{Signal: throttled(0, 0).Signal, Count: 50}, at(100 * ms),
			policy.State{Rate: 7, Burst: 5, Since: at(100 * ms), Updated: at(100 * ms), Measured: 10 + 49*sameInstant,
				Ceiling: 10, Epoch: 1}},

		// Throttle on a permit of an older epoch: an echo.
		{"stale throttle is only measured", c, after(7, t0), throttled(0, 0), at(100 * ms), after(7, at(100*ms))},
		{"stale throttle with a longer Retry-After extends the cooldown", c, after(7, t0), throttled(0, 10*sec), at(100 * ms),
			with(after(7, at(100*ms)), func(s *policy.State) { s.CooldownUntil, s.Epoch = at(10*sec+100*ms), 2 })},

		// Success.
		{"a second into the cubic", c, after(7, at(900*ms)), success(1, 1), at(sec),
			after(oneSecondIn, at(sec))},
		{"the cubic past W_max", c, after(7, at(9900*ms)), success(1, 1), at(10 * sec),
			// 0.4 × (10 − 1.957...)³ + 10, within twice the measured 10/s
			after(20, at(10*sec))},
		{"capped at twice the measured rate", c,
			with(after(3, at(500*ms)), func(s *policy.State) { s.Measured = 2 }), success(1, 1), at(sec),
			with(after(4, at(sec)), func(s *policy.State) { s.Measured = 2 })},
		{"capped at max_rate", c,
			with(after(7, at(99990*ms)), func(s *policy.State) { s.Measured = 100 }), success(1, 1), at(100 * sec),
			with(after(100, at(100*sec)), func(s *policy.State) { s.Measured = 100 })},
		{"a success never lowers the rate", c, after(12, at(900*ms)), success(1, 1), at(sec), after(12, at(sec))},
		{"after a quiet spell the measured rate holds the rate", c, after(7, t0), success(1, 1), at(time.Minute),
			with(after(7, at(time.Minute)), func(s *policy.State) { s.Measured = 10*math.Pow(0.2, 120) + (1-math.Pow(0.2, 120))/60 })},
		{"the cubic's clock stands still in a cooldown", c,
			with(after(7, at(30900*ms)), func(s *policy.State) { s.CooldownUntil = at(30 * sec) }), success(1, 1), at(31 * sec),
			with(after(oneSecondIn, at(31*sec)), func(s *policy.State) { s.CooldownUntil = at(30 * sec) })},
		{"no growth during a cooldown", c,
			with(after(7, at(30900*ms)), func(s *policy.State) { s.CooldownUntil = at(32 * sec) }), success(1, 1), at(31 * sec),
			with(after(7, at(31*sec)), func(s *policy.State) { s.CooldownUntil = at(32 * sec) })},
		{"no growth on a stale success", c, with(after(7, at(900*ms)), func(s *policy.State) { s.Epoch = 2 }), success(1, 1), at(sec),
			with(after(7, at(sec)), func(s *policy.State) { s.Epoch = 2 })},
		{"before the first throttle the cubic is C·t³ from the first outcome", c, steady(3, at(2900*ms)), success(0, 1), at(3 * sec),
			steady(0.4*27, at(3*sec))},
		{"before the first throttle nothing grows below the start", c, steady(50, at(2900*ms)), success(0, 1), at(3 * sec),
			steady(50, at(3*sec))},
		{"a batch of successes is capped by the measured rate after it", c,
			with(after(3, at(9500*ms)), func(s *policy.State) { s.Measured = 2 }), success(1, 2), at(10 * sec),
			with(after(4+2*sameInstant, at(10*sec)), func(s *policy.State) { s.Measured = 2 + sameInstant })},

		// Other kinds.
		{"overloaded is measured", c, steady(20, t0), overloaded(0, 0), at(100 * ms), steady(20, at(100*ms))},
		{"overloaded with Retry-After pauses", c, steady(20, t0), overloaded(0, 5*sec), at(100 * ms),
			with(steady(20, at(100*ms)), func(s *policy.State) { s.CooldownUntil, s.Epoch = at(5*sec+100*ms), 1 })},
		{"failed is measured and changes nothing else", c, steady(20, t0), outcomeOf(signal.Failed, 0, time.Hour), at(100 * ms),
			steady(20, at(100*ms))},
		{"canceled changes nothing", c, c.Initial(), outcomeOf(signal.Canceled, 0, time.Hour), t0, c.Initial()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.c.Next(tc.s, tc.o, tc.now)
			if d := stateDiff(tc.want, got); d != "" {
				t.Errorf("Next(%+v, %+v) mismatch (-want +got):\n%s", tc.s, tc.o, d)
			}
			if d := stateDiff(got, policy.Sanitize(tc.s, got)); d != "" {
				t.Errorf("Sanitize changed Next's result (-next +sanitized):\n%s", d)
			}
		})
	}
}

// The cubic in full: a limiter whose calls come back at 10/s is throttled;
// it drops to 7/s, climbs back to 10/s at K ≈ 1.96 s, flat around it, and
// then probes past it, up to twice what it measures.
func TestCUBICFollowsTheCubic(t *testing.T) {
	c := policy.DefaultCUBIC()
	t0 := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	s := c.Initial()
	now := t0
	// Outcomes come back every 100 ms, whatever the rate: measured 10/s.
	tick := func() { now = now.Add(100 * time.Millisecond) }
	for range 200 {
		tick()
		s = policy.Sanitize(s, c.Next(s, success(s.Epoch, 1), now))
	}
	if s.Rate != 100 || math.Abs(s.Measured-10) > 1e-9 {
		t.Fatalf("before the throttle: %+v, want 100/s (the start, max_rate) with 10/s measured", s)
	}
	tick()
	throttleAt := now
	s = policy.Sanitize(s, c.Next(s, throttled(s.Epoch, 0), now))
	if math.Abs(s.Rate-7) > 1e-9 || math.Abs(s.Ceiling-10) > 1e-9 || s.Epoch != 1 {
		t.Fatalf("after the throttle: %+v, want 7/s, W_max 10/s, epoch 1", s)
	}
	k := math.Cbrt(10 * 0.3 / 0.4)
	for range 60 {
		tick()
		s = policy.Sanitize(s, c.Next(s, success(s.Epoch, 1), now))
		tt := now.Sub(throttleAt).Seconds()
		d := tt - k
		want := min(0.4*d*d*d+10, 20)
		if math.Abs(s.Rate-want) > 1e-9 {
			t.Fatalf("%.1f s after the throttle: rate %v, want %v", tt, s.Rate, want)
		}
	}
	if math.Abs(s.Rate-20) > 1e-9 {
		t.Errorf("6 s after the throttle: rate %v, want 20/s: twice the measured 10/s", s.Rate)
	}
}

// A batch of k successes is k successes at one instant, whatever k: the
// closed form and the repeats agree, on a fresh limiter too, where the
// first one is measured from nothing.
func TestCUBICBatchIsRepeats(t *testing.T) {
	t0 := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	c := cubicVariants[1].c
	starts := []policy.State{
		c.Initial(),
		{Rate: 3, Burst: 3, Since: t0.Add(-time.Minute), Ceiling: 4, Epoch: 1},
		{Rate: 3, Burst: 3, Since: t0.Add(-time.Minute), Updated: t0.Add(-time.Second), Measured: 1, Ceiling: 4, Epoch: 1},
		{Rate: 3, Burst: 3, Since: t0.Add(-time.Minute), Updated: t0, Measured: 1, Ceiling: 4, Epoch: 1},
	}
	for _, s := range starts {
		for _, o := range []policy.Outcome{success(s.Epoch, 1), throttled(s.Epoch, time.Second), overloaded(s.Epoch, 0)} {
			for _, k := range []uint64{2, 3, 10, 100} {
				batch := o
				batch.Count = k
				got := c.Next(s, batch, t0)
				want := s
				for range k {
					want = c.Next(want, o, t0)
				}
				if d := cmp.Diff(want, got, approxFloats); d != "" {
					t.Errorf("from %+v, %v ×%d (-repeats +batch):\n%s", s, o.Signal.Kind, k, d)
				}
			}
		}
	}
}

func TestCUBICValidate(t *testing.T) {
	d := policy.DefaultCUBIC()
	with := func(change func(*policy.CUBIC)) policy.CUBIC {
		c := d
		change(&c)
		return c
	}
	for _, v := range cubicVariants {
		if err := v.c.Validate(); err != nil {
			t.Errorf("%s: %v", v.name, err)
		}
	}
	for _, tc := range []struct {
		name  string
		c     policy.CUBIC
		field string
		value float64
	}{
		{"negative rate", with(func(c *policy.CUBIC) { c.Rate = -1 }), "rate_limit_per_sec", -1},
		{"NaN rate", with(func(c *policy.CUBIC) { c.Rate = math.NaN() }), "rate_limit_per_sec", math.NaN()},
		{"rate above max_rate", with(func(c *policy.CUBIC) { c.Rate = 101 }), "rate_limit_per_sec", 101},
		{"rate below min_rate", with(func(c *policy.CUBIC) { c.Rate = 0.1 }), "rate_limit_per_sec", 0.1},
		{"burst below 1", with(func(c *policy.CUBIC) { c.Burst = 0.5 }), "burst_size", 0.5},
		{"infinite burst", with(func(c *policy.CUBIC) { c.Burst = math.Inf(1) }), "burst_size", math.Inf(1)},
		{"zero min_rate", with(func(c *policy.CUBIC) { c.MinRate = 0 }), "min_rate", 0},
		{"min_rate above max_rate", with(func(c *policy.CUBIC) { c.MinRate = 200 }), "min_rate", 200},
		{"zero max_rate", with(func(c *policy.CUBIC) { c.MaxRate = 0 }), "max_rate", 0},
		{"beta 1", with(func(c *policy.CUBIC) { c.Beta = 1 }), "beta", 1},
		{"beta 0", with(func(c *policy.CUBIC) { c.Beta = 0 }), "beta", 0},
		{"zero scale_constant", with(func(c *policy.CUBIC) { c.ScaleConstant = 0 }), "scale_constant", 0},
		{"infinite scale_constant", with(func(c *policy.CUBIC) { c.ScaleConstant = math.Inf(1) }), "scale_constant", math.Inf(1)},
		{"smooth 1", with(func(c *policy.CUBIC) { c.Smooth = 1 }), "smooth", 1},
		{"NaN smooth", with(func(c *policy.CUBIC) { c.Smooth = math.NaN() }), "smooth", math.NaN()},
		{"zero CUBIC", policy.CUBIC{}, "burst_size", 0},
	} {
		t.Run(tc.name, func(t *testing.T) { wantPolicyError(t, tc.c.Validate(), tc.field, tc.value) })
	}
}

func TestParseCUBIC(t *testing.T) {
	with := func(change func(*policy.CUBIC)) policy.CUBIC {
		c := policy.DefaultCUBIC()
		change(&c)
		return c
	}
	for _, tc := range []struct {
		name, json string
		want       policy.CUBIC
	}{
		{"empty object gives the defaults", `{}`, policy.DefaultCUBIC()},
		{"a lower max_rate alone: the start follows it", `{"max_rate": 20}`, with(func(c *policy.CUBIC) { c.MaxRate = 20 })},
		{"every field", `{"rate_limit_per_sec": 3, "burst_size": 3, "min_rate": 0.1, "max_rate": 6, "beta": 0.5, "scale_constant": 1, "smooth": 0.5}`,
			policy.CUBIC{Rate: 3, Burst: 3, MinRate: 0.1, MaxRate: 6, Beta: 0.5, ScaleConstant: 1, Smooth: 0.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := policy.ParseCUBIC([]byte(tc.json))
			if err != nil {
				t.Fatalf("ParseCUBIC(%s): %v", tc.json, err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("ParseCUBIC(%s) (-want +got):\n%s", tc.json, d)
			}
		})
	}
	for _, tc := range []struct{ name, json, mention string }{
		{"an AIMD field", `{"decrease_factor": 0.5}`, `decrease_factor = 0.5: unknown field`},
		{"misspelt field", `{"betta": 0.5}`, `betta = 0.5: unknown field; did you mean "beta"?`},
		{"string for a number", `{"beta": "0.5"}`, "beta"},
		{"trailing data", `{} {}`, "after"},
		{"stray closing brace", `{}}`, "after"},
		{"truncated", `{"beta": 0.5`, "EOF"},
		{"null", `null`, "want a JSON object, got null"},
		{"empty", ` `, "empty input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.ParseCUBIC([]byte(tc.json))
			var pe *policy.Error
			if err == nil || !strings.Contains(err.Error(), tc.mention) || !errors.As(err, &pe) {
				t.Errorf("ParseCUBIC(%s) error = %v, want a *policy.Error mentioning %s", tc.json, err, tc.mention)
			}
		})
	}
	_, err := policy.ParseCUBIC([]byte(`{"smooth": 1}`))
	wantPolicyError(t, err, "smooth", 1)
}

// approxFloats compares floats to the rounding of k additions against one
// multiplication by k.
var approxFloats = cmp.Comparer(func(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
})
