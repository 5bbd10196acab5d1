package policy_test

import (
	"math"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/policy/policytest"
	"github.com/dynlimit/dynlimit/signal"
)

func TestFixedConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    policy.Fixed
	}{
		{"plain", policy.Fixed{Rate: 10, Burst: 20}},
		{"honor Retry-After", policy.Fixed{Rate: 10, Burst: 20, HonorRetryAfter: true}},
		{"slow", policy.Fixed{Rate: 0.01, Burst: 1, HonorRetryAfter: true}},
	} {
		t.Run(tc.name, func(t *testing.T) { policytest.Run(t, tc.f) })
	}
}

func TestFixedNext(t *testing.T) {
	t0 := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	t1 := t0.Add(time.Second)
	hour := t0.Add(time.Hour)

	plain := policy.Fixed{Rate: 10, Burst: 20}
	honor := policy.Fixed{Rate: 10, Burst: 20, HonorRetryAfter: true}
	start := plain.Initial()
	cooling := policy.State{Rate: 10, Burst: 20, CooldownUntil: hour, Epoch: 3}

	tests := []struct {
		name string
		f    policy.Fixed
		s    policy.State
		o    policy.Outcome
		now  time.Time
		want policy.State
	}{
		{"success", plain, start, success(0, 100), t0, start},
		{"throttle", plain, start, throttled(0, 0), t0, start},
		{"throttle with Retry-After ignored", plain, start, throttled(0, time.Minute), t0, start},
		{"overloaded with Retry-After ignored", plain, start, overloaded(0, time.Minute), t0, start},

		{"honoured: success", honor, start, success(0, 1), t0, start},
		{"honoured: throttle without Retry-After", honor, start, throttled(0, 0), t0, start},
		{"honoured: throttle with Retry-After", honor, start, throttled(0, time.Minute), t1,
			policy.State{Rate: 10, Burst: 20, CooldownUntil: t1.Add(time.Minute), Epoch: 1}},
		{"honoured: stale throttle with Retry-After", honor, cooling, throttled(0, 2*time.Hour), t1,
			policy.State{Rate: 10, Burst: 20, CooldownUntil: t1.Add(2 * time.Hour), Epoch: 4}},
		{"honoured: overloaded with Retry-After", honor, start, overloaded(0, 5*time.Second), t0,
			policy.State{Rate: 10, Burst: 20, CooldownUntil: t0.Add(5 * time.Second), Epoch: 1}},
		{"honoured: shorter Retry-After keeps the cooldown", honor, cooling, throttled(3, time.Minute), t0, cooling},
		{"honoured: failed with Retry-After", honor, start, outcomeOf(signal.Failed, 0, time.Minute), t0, start},
		{"honoured: canceled with Retry-After", honor, start, outcomeOf(signal.Canceled, 0, time.Minute), t0, start},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.f.Next(tc.s, tc.o, tc.now)
			if d := stateDiff(tc.want, got); d != "" {
				t.Errorf("Next(%+v, %+v) mismatch (-want +got):\n%s", tc.s, tc.o, d)
			}
		})
	}
}

func TestFixedInitial(t *testing.T) {
	f := policy.Fixed{Rate: 2.5, Burst: 4}
	if d := stateDiff(policy.State{Rate: 2.5, Burst: 4}, f.Initial()); d != "" {
		t.Errorf("Initial() mismatch (-want +got):\n%s", d)
	}
}

func TestFixedValidate(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, f := range []policy.Fixed{
		{Rate: 1, Burst: 1},
		{Rate: 0.001, Burst: 1.5, HonorRetryAfter: true},
		{Rate: 1e6, Burst: 1e6},
	} {
		if err := f.Validate(); err != nil {
			t.Errorf("%+v.Validate() = %v, want nil", f, err)
		}
	}

	for _, tc := range []struct {
		name  string
		f     policy.Fixed
		field string
		value float64
	}{
		{"zero Fixed", policy.Fixed{}, "rate_limit_per_sec", 0},
		{"negative rate", policy.Fixed{Rate: -1, Burst: 1}, "rate_limit_per_sec", -1},
		{"NaN rate", policy.Fixed{Rate: nan, Burst: 1}, "rate_limit_per_sec", nan},
		{"+Inf rate", policy.Fixed{Rate: inf, Burst: 1}, "rate_limit_per_sec", inf},
		{"-Inf rate", policy.Fixed{Rate: -inf, Burst: 1}, "rate_limit_per_sec", -inf},
		{"zero burst", policy.Fixed{Rate: 1, Burst: 0}, "burst_size", 0},
		{"burst 0.5", policy.Fixed{Rate: 1, Burst: 0.5}, "burst_size", 0.5},
		{"NaN burst", policy.Fixed{Rate: 1, Burst: nan}, "burst_size", nan},
		{"+Inf burst", policy.Fixed{Rate: 1, Burst: inf}, "burst_size", inf},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.f.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil for %+v, want an error for %s", tc.f, tc.field)
			}
			wantPolicyError(t, err, tc.field, tc.value)
		})
	}
}
