package policy_test

import (
	"math"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

func TestPace(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	base := policy.State{Rate: 5, Burst: 5}
	remaining := func(r float64, reset time.Duration) signal.Quota {
		return signal.Quota{Limit: 100, Remaining: r, HasRemaining: true, Reset: reset}
	}
	tests := []struct {
		name string
		q    signal.Quota
		want policy.State
	}{
		{"no hints", signal.Quota{}, base},
		{"remaining without reset", signal.Quota{Remaining: 3, HasRemaining: true}, base},
		{"reset without remaining", signal.Quota{Reset: time.Second}, base},
		{"10 left for 10 s", remaining(10, 10*time.Second),
			policy.State{Rate: 5, Burst: 5, QuotaRate: 1, QuotaUntil: t0.Add(10 * time.Second)}},
		{"plenty left: recorded, not in force", remaining(1000, 10*time.Second),
			policy.State{Rate: 5, Burst: 5, QuotaRate: 100, QuotaUntil: t0.Add(10 * time.Second)}},
		{"none left: cooldown until the reset", remaining(0, 2*time.Second),
			policy.State{Rate: 5, Burst: 5, CooldownUntil: t0.Add(2 * time.Second)}},
		{"negative left counts as none", remaining(-3, 2*time.Second),
			policy.State{Rate: 5, Burst: 5, CooldownUntil: t0.Add(2 * time.Second)}},
		{"a reset of a nanosecond with units left", remaining(1e300, time.Nanosecond), base},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := policy.Pace(base, signal.Signal{Quota: tt.q}, t0); got != tt.want {
				t.Errorf("Pace(%+v) = %+v, want %+v", tt.q, got, tt.want)
			}
		})
	}

	// An exhausted quota never shortens a longer cooldown.
	long := base
	long.CooldownUntil = t0.Add(time.Minute)
	if got := policy.Pace(long, signal.Signal{Quota: remaining(0, time.Second)}, t0); !got.CooldownUntil.Equal(long.CooldownUntil) {
		t.Errorf("Pace moved a 1 min cooldown to %v", got.CooldownUntil.Sub(t0))
	}
	// Sanitize then bumps the epoch, as for any cooldown.
	if got := policy.Sanitize(base, policy.Pace(base, signal.Signal{Quota: remaining(0, time.Second)}, t0)); got.Epoch != 1 {
		t.Errorf("epoch after an exhausted quota = %d, want 1", got.Epoch)
	}
}

func TestPaceRefilling(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	base := policy.State{Rate: 5, Burst: 5}
	// 30 units that refill continuously, full again in reset.
	refilling := func(r float64, reset time.Duration) signal.Quota {
		return signal.Quota{Limit: 30, Remaining: r, HasRemaining: true, Reset: reset, Refills: true}
	}
	earlier := base
	earlier.QuotaRate, earlier.QuotaUntil = 0.1, t0.Add(time.Hour)
	tests := []struct {
		name       string
		s          policy.State
		q          signal.Quota
		retryAfter time.Duration
		want       policy.State
	}{
		{"half left is plenty, whatever the reset", base, refilling(15, time.Hour), 0, base},
		{"plenty drops an earlier quota rate", earlier, refilling(29, time.Second), 0, base},
		// 10 left and 20 to refill in 40 s: 30 units over 40 s.
		{"a third left: Limit / Reset", base, refilling(10, 40*time.Second), 0,
			policy.State{Rate: 5, Burst: 5, QuotaRate: 0.75, QuotaUntil: t0.Add(40 * time.Second)}},
		// None left: the refill rate, and a new epoch, no cooldown.
		{"none left: the refill rate, a new epoch", base, refilling(0, time.Minute), 0,
			policy.State{Rate: 5, Burst: 5, QuotaRate: 0.5, QuotaUntil: t0.Add(time.Minute), Epoch: 1}},
		// A cooldown of 3 s (a Retry-After) ends a unit early, 2 s at
		// 0.5/s, so that the first token is due at 3 s.
		{"none left, a cooldown: it ends a unit early", policy.State{Rate: 5, Burst: 5, CooldownUntil: t0.Add(3 * time.Second)}, refilling(0, time.Minute), 3 * time.Second,
			policy.State{Rate: 5, Burst: 5, CooldownUntil: t0.Add(time.Second), QuotaRate: 0.5, QuotaUntil: t0.Add(time.Minute), Epoch: 1}},
		// A cooldown shorter than a unit's refill ends now: the unit is the
		// later of the two.
		{"none left, a short cooldown: the unit decides", policy.State{Rate: 5, Burst: 5, CooldownUntil: t0.Add(time.Second)}, refilling(0, time.Minute), time.Second,
			policy.State{Rate: 5, Burst: 5, CooldownUntil: t0, QuotaRate: 0.5, QuotaUntil: t0.Add(time.Minute), Epoch: 1}},
		// A cooldown this signal did not set (an earlier Retry-After, an
		// answer without one) is left as it is.
		{"none left, an earlier cooldown: kept", policy.State{Rate: 5, Burst: 5, CooldownUntil: t0.Add(3 * time.Second)}, refilling(0, time.Minute), 0,
			policy.State{Rate: 5, Burst: 5, CooldownUntil: t0.Add(3 * time.Second), QuotaRate: 0.5, QuotaUntil: t0.Add(time.Minute), Epoch: 1}},
		{"none left, another Retry-After's cooldown: kept", policy.State{Rate: 5, Burst: 5, CooldownUntil: t0.Add(3 * time.Second)}, refilling(0, time.Minute), 2 * time.Second,
			policy.State{Rate: 5, Burst: 5, CooldownUntil: t0.Add(3 * time.Second), QuotaRate: 0.5, QuotaUntil: t0.Add(time.Minute), Epoch: 1}},
		// A full bucket says its reset is 0 (Shopify's "0/40", OpenAI's
		// "0s"): plenty, and the earlier pacing goes.
		{"full, a reset of 0: plenty", earlier, refilling(30, 0), 0, base},
		{"no limit: a window", base, signal.Quota{Remaining: 0, HasRemaining: true, Reset: time.Minute, Refills: true}, 0,
			policy.State{Rate: 5, Burst: 5, CooldownUntil: t0.Add(time.Minute)}},
		{"a reset of a nanosecond", base, refilling(1, time.Nanosecond), 0,
			policy.State{Rate: 5, Burst: 5, QuotaRate: 3e10, QuotaUntil: t0.Add(time.Nanosecond)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := policy.Pace(tt.s, signal.Signal{Quota: tt.q, RetryAfter: tt.retryAfter}, t0); got != tt.want {
				t.Errorf("Pace(%+v) = %+v, want %+v", tt.q, got, tt.want)
			}
		})
	}
}

func TestRateAtAndAccrual(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t10 := t0.Add(10 * time.Second)
	paced := policy.State{Rate: 5, Burst: 5, QuotaRate: 1, QuotaUntil: t10}
	plenty := policy.State{Rate: 5, Burst: 5, QuotaRate: 50, QuotaUntil: t10}
	tests := []struct {
		name        string
		s           policy.State
		at          time.Time
		need        float64
		wantRate    float64
		wantPaced   bool
		wantAccrual time.Duration
	}{
		{"no quota", policy.State{Rate: 5, Burst: 5}, t0, 1, 5, false, 200 * time.Millisecond},
		{"quota in force", paced, t0, 2, 1, true, 2 * time.Second},
		{"quota higher than the policy", plenty, t0, 1, 5, false, 200 * time.Millisecond},
		{"window over", paced, t10, 1, 5, false, 200 * time.Millisecond},
		// 1 token by t10 at 1/s from t9, then the rest at 5/s.
		{"accrual across the reset", paced, t10.Add(-time.Second), 2, 1, true, time.Second + 200*time.Millisecond},
		{"nothing needed", paced, t0, 0, 1, true, 0},
		// A window as long as a Duration, then more: saturated, not wrapped.
		{"window beyond a Duration", policy.State{Rate: 4, Burst: 4, QuotaRate: 1e-10, QuotaUntil: t0.Add(math.MaxInt64)}, t0, 3, 1e-10, true, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Paced(tt.at); got != tt.wantPaced {
				t.Errorf("Paced = %v, want %v", got, tt.wantPaced)
			}
			if got := tt.s.RateAt(tt.at); got != tt.wantRate {
				t.Errorf("RateAt = %v, want %v", got, tt.wantRate)
			}
			if got := tt.s.Accrual(tt.need, tt.at); got != tt.wantAccrual {
				t.Errorf("Accrual(%v) = %v, want %v", tt.need, got, tt.wantAccrual)
			}
		})
	}
}

func TestSanitizeQuotaRate(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	prev := policy.State{Rate: 5, Burst: 5, QuotaRate: 2, QuotaUntil: t0}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), -1} {
		next := prev
		next.QuotaRate, next.QuotaUntil = bad, t0.Add(time.Hour)
		if got := policy.Sanitize(prev, next); got.QuotaRate != 2 || !got.QuotaUntil.Equal(t0) {
			t.Errorf("Sanitize kept QuotaRate %v: got %+v", bad, got)
		}
	}
}

// After a throttle whose Retry-After outlasts a unit's refill, the answers
// of requests already in flight, which report the same empty quota, leave
// the cooldown where the throttle put it: the first token is still due at
// the Retry-After.
func TestPaceRefillingInFlightAnswers(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := policy.DefaultAIMD()
	empty := signal.Quota{Limit: 30, Remaining: 0, HasRemaining: true, Reset: time.Minute, Refills: true}
	step := func(s policy.State, sig signal.Signal, now time.Time) policy.State {
		return policy.Sanitize(s, policy.Pace(p.Next(s, policy.Outcome{Signal: sig, Epoch: s.Epoch}, now), sig, now))
	}
	s := step(p.Initial(), signal.Signal{Kind: signal.Throttled, RetryAfter: 10 * time.Second, HasRetryAfter: true, Quota: empty}, t0)
	firstToken := func(s policy.State) time.Time { return s.CooldownUntil.Add(s.Accrual(1, s.CooldownUntil)) }
	if got := firstToken(s); !got.Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("after the throttle the first token is due at %v, want 10s", got.Sub(t0))
	}
	for i := range 4 {
		now := t0.Add(time.Duration(i+1) * 100 * time.Millisecond)
		s = step(s, signal.Signal{Kind: signal.Success, Quota: empty}, now)
		if got := firstToken(s); got.Before(t0.Add(10 * time.Second)) {
			t.Fatalf("after %d answers in flight the first token is due at %v, before the Retry-After's 10s", i+1, got.Sub(t0))
		}
	}
}
