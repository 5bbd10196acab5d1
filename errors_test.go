package dynlimit_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

func TestNewRejectsInvalidPolicyParameters(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name      string
		p         policy.Policy
		wantField string
		wantValue float64
	}{
		{"negative rate", aimdWith(func(a *policy.AIMD) { a.Rate = -1 }), "rate_limit_per_sec", -1},
		{"zero rate", aimdWith(func(a *policy.AIMD) { a.Rate = 0 }), "rate_limit_per_sec", 0},
		{"NaN rate", aimdWith(func(a *policy.AIMD) { a.Rate = nan }), "rate_limit_per_sec", nan},
		{"infinite rate", aimdWith(func(a *policy.AIMD) { a.Rate = inf }), "rate_limit_per_sec", inf},
		{"rate above max_rate", aimdWith(func(a *policy.AIMD) { a.Rate = 2000 }), "rate_limit_per_sec", 2000},
		{"zero burst", aimdWith(func(a *policy.AIMD) { a.Burst = 0 }), "burst_size", 0},
		{"burst below 1", aimdWith(func(a *policy.AIMD) { a.Burst = 0.5 }), "burst_size", 0.5},
		{"-Inf burst", aimdWith(func(a *policy.AIMD) { a.Burst = -inf }), "burst_size", -inf},
		{"zero min_rate", aimdWith(func(a *policy.AIMD) { a.MinRate = 0 }), "min_rate", 0},
		{"NaN min_rate", aimdWith(func(a *policy.AIMD) { a.MinRate = nan }), "min_rate", nan},
		{"negative max_rate", aimdWith(func(a *policy.AIMD) { a.MaxRate = -5 }), "max_rate", -5},
		{"infinite max_rate", aimdWith(func(a *policy.AIMD) { a.MaxRate = inf }), "max_rate", inf},
		{"min_rate above max_rate", aimdWith(func(a *policy.AIMD) { a.MinRate, a.MaxRate = 10, 5 }), "min_rate", 10},
		{"decrease_factor 0", aimdWith(func(a *policy.AIMD) { a.DecreaseFactor = 0 }), "decrease_factor", 0},
		{"decrease_factor 1", aimdWith(func(a *policy.AIMD) { a.DecreaseFactor = 1 }), "decrease_factor", 1},
		{"decrease_factor 1.5", aimdWith(func(a *policy.AIMD) { a.DecreaseFactor = 1.5 }), "decrease_factor", 1.5},
		{"negative decrease_factor", aimdWith(func(a *policy.AIMD) { a.DecreaseFactor = -0.5 }), "decrease_factor", -0.5},
		{"NaN decrease_factor", aimdWith(func(a *policy.AIMD) { a.DecreaseFactor = nan }), "decrease_factor", nan},
		{"negative increase_factor", aimdWith(func(a *policy.AIMD) { a.IncreaseFactor = -0.1 }), "increase_factor", -0.1},
		{"infinite increase_factor", aimdWith(func(a *policy.AIMD) { a.IncreaseFactor = inf }), "increase_factor", inf},
		{"negative cooldown_multiplier", aimdWith(func(a *policy.AIMD) { a.CooldownMultiplier = -1 }), "cooldown_multiplier", -1},
		{"NaN cooldown_multiplier", aimdWith(func(a *policy.AIMD) { a.CooldownMultiplier = nan }), "cooldown_multiplier", nan},
		{"zero AIMD", policy.AIMD{}, "rate_limit_per_sec", 0},
		{"fixed: zero rate", policy.Fixed{Burst: 1}, "rate_limit_per_sec", 0},
		{"fixed: burst below 1", policy.Fixed{Rate: 1, Burst: 0.9}, "burst_size", 0.9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l *dynlimit.Limiter
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("New panicked: %v", r)
					}
				}()
				l, err = dynlimit.New(dynlimit.WithPolicy(tt.p))
			}()
			if l != nil {
				t.Errorf("New returned a limiter along with err %v", err)
			}
			var pe *policy.Error
			if !errors.As(err, &pe) {
				t.Fatalf("New: err = %v, want a *policy.Error", err)
			}
			sameValue := pe.Value == tt.wantValue || (math.IsNaN(pe.Value) && math.IsNaN(tt.wantValue))
			if pe.Field != tt.wantField || !sameValue {
				t.Errorf("error names %s = %v, want %s = %v", pe.Field, pe.Value, tt.wantField, tt.wantValue)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.wantField) || !strings.Contains(msg, fmt.Sprint(tt.wantValue)) {
				t.Errorf("message %q does not name %s and %v", msg, tt.wantField, tt.wantValue)
			}
		})
	}
}

func aimdWith(change func(*policy.AIMD)) policy.AIMD {
	a := classic()
	change(&a)
	return a
}

func TestNewRejectsInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  dynlimit.Option
		want dynlimit.ArgError
	}{
		{"WithMaxInFlight(-1)", dynlimit.WithMaxInFlight(-1), dynlimit.ArgError{Name: "WithMaxInFlight", Value: "-1", Reason: "must be >= 0"}},
		{"WithMaxWait(-1)", dynlimit.WithMaxWait(-1), dynlimit.ArgError{Name: "WithMaxWait", Value: "-1ns", Reason: "must be >= 0"}},
		{"WithMaxWait(-1s)", dynlimit.WithMaxWait(-time.Second), dynlimit.ArgError{Name: "WithMaxWait", Value: "-1s", Reason: "must be >= 0"}},
		{"WithMaxPause(0)", dynlimit.WithMaxPause(0), dynlimit.ArgError{Name: "WithMaxPause", Value: "0s", Reason: "must be > 0"}},
		{"WithMaxPause(-1s)", dynlimit.WithMaxPause(-time.Second), dynlimit.ArgError{Name: "WithMaxPause", Value: "-1s", Reason: "must be > 0"}},
		{"WithPolicy(nil)", dynlimit.WithPolicy(nil), dynlimit.ArgError{Name: "WithPolicy", Value: "nil", Reason: "must be a policy"}},
		{"WithBucket(nil)", dynlimit.WithBucket(nil), dynlimit.ArgError{Name: "WithBucket", Value: "nil", Reason: "must be a bucket"}},
		{"WithClock(nil)", dynlimit.WithClock(nil), dynlimit.ArgError{Name: "WithClock", Value: "nil", Reason: "must be a clock"}},
		{"WithObserver(nil)", dynlimit.WithObserver(nil), dynlimit.ArgError{Name: "WithObserver", Value: "nil", Reason: "must be an observer"}},
		{"WithObserver(o, nil)", dynlimit.WithObserver(&recorder{}, nil), dynlimit.ArgError{Name: "WithObserver", Value: "nil", Reason: "must be an observer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := dynlimit.New(tt.opt)
			if l != nil {
				t.Errorf("New returned a limiter along with err %v", err)
			}
			var ae *dynlimit.ArgError
			if !errors.As(err, &ae) {
				t.Fatalf("New: err = %v, want a *dynlimit.ArgError", err)
			}
			if diff := cmp.Diff(tt.want, *ae); diff != "" {
				t.Errorf("ArgError (-want +got):\n%s", diff)
			}
			if want := "dynlimit: " + tt.want.Name + " = " + tt.want.Value + ": " + tt.want.Reason; err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
		})
	}
}

func TestNewAcceptsZeroAndNilMeaningDefault(t *testing.T) {
	l, err := dynlimit.New(nil, dynlimit.WithMaxInFlight(0), dynlimit.WithMaxWait(0), dynlimit.WithObserver())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s := l.Snapshot()
	if s.Rate != 5 || s.Burst != 5 || s.MaxInFlight != 0 {
		t.Errorf("rate %v, burst %v, max in flight %d; want the defaults 5, 5, 0", s.Rate, s.Burst, s.MaxInFlight)
	}
}

func TestBadTokenCounts(t *testing.T) {
	ctx := context.Background()
	l := newLimiter(t, dynlimit.WithClock(clock.NewFake(t0)))
	before := l.SnapshotAt(t0)

	for _, n := range []int{0, -1, math.MinInt} {
		_, err := l.WaitN(ctx, n)
		var ae *dynlimit.ArgError
		if !errors.As(err, &ae) || ae.Name != "n" || ae.Value != fmt.Sprint(n) {
			t.Errorf("WaitN(%d): err = %v, want an ArgError naming n and its value", n, err)
		}
		if _, err := l.ReserveN(t0, n); !errors.As(err, &ae) || ae.Name != "n" {
			t.Errorf("ReserveN(%d): err = %v, want an ArgError naming n", n, err)
		}
		if _, ok := l.AllowN(t0, n); ok {
			t.Errorf("AllowN(%d) = true", n)
		}
	}
	for _, n := range []int{6, math.MaxInt} {
		_, err := l.WaitN(ctx, n)
		var be *bucket.BurstError
		if !errors.As(err, &be) || be.Burst != 5 || !strings.Contains(err.Error(), "burst_size") {
			t.Errorf("WaitN(%d): err = %v, want a BurstError naming burst_size", n, err)
		}
		if _, err := l.ReserveN(t0, n); !errors.As(err, &be) {
			t.Errorf("ReserveN(%d): err = %v, want a BurstError", n, err)
		}
		if _, ok := l.AllowN(t0, n); ok {
			t.Errorf("AllowN(%d) = true", n)
		}
	}
	if diff := cmp.Diff(before, l.SnapshotAt(t0)); diff != "" {
		t.Errorf("bad token counts changed the limiter (-before +after):\n%s", diff)
	}
}

func TestZeroValuesDoNotPanic(t *testing.T) {
	var p dynlimit.Permit
	p.Done(throttle(time.Second))
	p.DoneAt(t0, signal.Signal{})
	if p.Epoch() != 0 || !p.Issued().IsZero() || p.Tokens() != 0 {
		t.Errorf("zero Permit: epoch %d, issued %v, tokens %v", p.Epoch(), p.Issued(), p.Tokens())
	}

	var r dynlimit.Reservation
	if r.OK() || !r.At().IsZero() || r.Epoch() != 0 || r.DelayFrom(t0) != 0 {
		t.Errorf("zero Reservation: OK %v, at %v, epoch %d, delay %v", r.OK(), r.At(), r.Epoch(), r.DelayFrom(t0))
	}
	r.CancelAt(t0)
	if _, err := r.PermitAt(t0); !errors.Is(err, dynlimit.ErrForfeited) {
		t.Errorf("zero Reservation's PermitAt: err = %v, want ErrForfeited", err)
	}
}

// A Kind the limiter does not know still ends the permit: the slot is
// freed and it no longer counts as in flight.
func TestDoneWithAnUnknownKind(t *testing.T) {
	l := newLimiter(t, dynlimit.WithClock(clock.NewFake(t0)), dynlimit.WithMaxInFlight(1))
	allow(t, l, t0, 1).DoneAt(t0, signal.Signal{Kind: signal.Kind(200)})
	s := l.SnapshotAt(t0)
	if s.InFlight != 0 || s.Rate != 5 {
		t.Errorf("in flight %d, rate %v; want 0, 5", s.InFlight, s.Rate)
	}
	if _, ok := l.AllowN(t0, 1); !ok {
		t.Error("AllowN refused: the slot was not freed")
	}
}

func TestWaitErrorMessage(t *testing.T) {
	tests := []struct {
		name      string
		err       dynlimit.WaitError
		want      string
		wantDelay time.Duration
	}{
		{
			"deadline",
			dynlimit.WaitError{Now: t0, RetryAt: t0.Add(2500 * time.Millisecond), Bound: t0.Add(time.Second), Deadline: true},
			"dynlimit: wait of 2.5s would pass the context deadline (capacity frees at 2026-03-02T09:00:02.5Z)",
			2500 * time.Millisecond,
		},
		{
			"max wait",
			dynlimit.WaitError{Now: t0, RetryAt: t0.Add(time.Minute), Bound: t0.Add(time.Second)},
			"dynlimit: wait of 1m0s would pass the limiter's max wait (capacity frees at 2026-03-02T09:01:00Z)",
			time.Minute,
		},
		{
			"slot, max wait",
			dynlimit.WaitError{Now: t0, Bound: t0.Add(time.Second)},
			"dynlimit: no in-flight slot freed before the limiter's max wait",
			0,
		},
		{
			"slot, deadline",
			dynlimit.WaitError{Now: t0, Bound: t0.Add(time.Second), Deadline: true},
			"dynlimit: no in-flight slot freed before the context deadline",
			0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := error(&tt.err)
			if got := err.Error(); got != tt.want {
				t.Errorf("Error() = %q\nwant      %q", got, tt.want)
			}
			if got := tt.err.Delay(); got != tt.wantDelay {
				t.Errorf("Delay() = %v, want %v", got, tt.wantDelay)
			}
			wrapped := fmt.Errorf("calling upstream: %w", err)
			if !errors.Is(wrapped, dynlimit.ErrWaitTooLong) {
				t.Error("errors.Is(wrapped, ErrWaitTooLong) = false")
			}
			for _, other := range []error{dynlimit.ErrInFlight, dynlimit.ErrForfeited, dynlimit.ErrEarly, context.DeadlineExceeded} {
				if errors.Is(err, other) {
					t.Errorf("errors.Is(err, %v) = true", other)
				}
			}
		})
	}
}

func TestSentinelMessages(t *testing.T) {
	for _, err := range []error{dynlimit.ErrWaitTooLong, dynlimit.ErrInFlight, dynlimit.ErrForfeited, dynlimit.ErrEarly} {
		if !strings.HasPrefix(err.Error(), "dynlimit: ") {
			t.Errorf("%q does not start with the package name", err)
		}
	}
}
