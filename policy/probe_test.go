package policy_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

func TestAIMDProbeStep(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := policy.DefaultAIMD() // +0.1, band 30 %, floor 5 %
	success := policy.Outcome{Signal: signal.Signal{Kind: signal.Success}}
	tests := []struct {
		name          string
		rate, ceiling float64
		wantStep      float64
	}{
		{"no ceiling known: full step", 5, 0, 0.1},
		{"far below the ceiling: faster than a step", 4, 10, 0.4},
		{"far, far below: at most ten steps", 1, 10, 0.9},
		{"at the edge of the band: full step", 7, 10, 0.1},
		{"halfway into the band: a quarter", 8.5, 10, 0.025},
		{"at the ceiling: the floor", 10, 10, 0.005},
		{"just above: the floor", 10.3, 10, 0.005},
		{"halfway above: a quarter", 11.5, 10, 0.025},
		{"far above: full step again", 14, 10, 0.1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := policy.State{Rate: tt.rate, Burst: 5, Ceiling: tt.ceiling}
			got := a.Next(s, success, t0).Rate - tt.rate
			if math.Abs(got-tt.wantStep) > 1e-12 {
				t.Errorf("step = %v, want %v", got, tt.wantStep)
			}
		})
	}
}

func TestAIMDThrottleRemembersTheCeiling(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	throttled := policy.Outcome{Signal: signal.Signal{Kind: signal.Throttled}}
	s := policy.State{Rate: 12, Burst: 5, Ceiling: 20}
	if got := policy.DefaultAIMD().Next(s, throttled, t0); got.Ceiling != 12 || math.Abs(got.Rate-8.4) > 1e-12 {
		t.Errorf("after a throttle at 12/s: %+v, want ceiling 12 and rate 8.4", got)
	}
	// A stale throttle is an echo: it moves neither the rate nor the ceiling.
	stale := throttled
	s.Epoch = 3
	if got := policy.DefaultAIMD().Next(s, stale, t0); got.Ceiling != 20 || got.Rate != 12 {
		t.Errorf("after a stale throttle: %+v, want it unchanged", got)
	}
	// Without a probe band the ceiling is not tracked: plain AIMD.
	plain := policy.DefaultAIMD()
	plain.ProbeBand = 0
	s = policy.State{Rate: 12, Burst: 5}
	if got := plain.Next(s, throttled, t0); got.Ceiling != 0 {
		t.Errorf("plain AIMD recorded a ceiling: %+v", got)
	}
}

func TestAIMDProbeValidate(t *testing.T) {
	for _, tc := range []struct {
		band, floor float64
		field       string
	}{
		{-0.1, 0.05, "probe_band"},
		{math.NaN(), 0.05, "probe_band"},
		{math.Inf(1), 0.05, "probe_band"},
		{11, 0.05, "probe_band"},
		{0.3, 0, "probe_floor"},
		{0.3, -1, "probe_floor"},
		{0.3, 1.5, "probe_floor"},
		{0.3, math.NaN(), "probe_floor"},
	} {
		a := policy.DefaultAIMD()
		a.ProbeBand, a.ProbeFloor = tc.band, tc.floor
		var pe *policy.Error
		if err := a.Validate(); !errors.As(err, &pe) || pe.Field != tc.field {
			t.Errorf("Validate(band %v, floor %v) = %v, want an error naming %s", tc.band, tc.floor, err, tc.field)
		}
	}
	// No band: the floor does not matter.
	a := policy.DefaultAIMD()
	a.ProbeBand, a.ProbeFloor = 0, 0
	if err := a.Validate(); err != nil {
		t.Errorf("Validate(band 0, floor 0) = %v, want nil", err)
	}
}

// A throttle that stands for a burst of server errors lowers the rate but
// teaches no ceiling: the upstream was sick, not at its limit.
func TestAIMDServerErrorThrottleKeepsTheCeiling(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := policy.State{Rate: 10, Burst: 5, Ceiling: 11}
	o := policy.Outcome{Signal: signal.Signal{Kind: signal.Throttled, Status: 503}}
	got := policy.DefaultAIMD().Next(s, o, t0)
	if got.Ceiling != 11 || math.Abs(got.Rate-7) > 1e-12 {
		t.Errorf("after a 5xx throttle: %+v, want rate 7 and the ceiling kept at 11", got)
	}
	// Far below the ceiling the rate climbs faster than one step.
	low := policy.State{Rate: 1, Burst: 5, Ceiling: 11}
	success := policy.Outcome{Signal: signal.Signal{Kind: signal.Success}}
	if step := policy.DefaultAIMD().Next(low, success, t0).Rate - 1; step <= 0.1 {
		t.Errorf("step far below the ceiling = %v, want more than the increase factor", step)
	}
}
