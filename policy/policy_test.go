package policy_test

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// stateDiff compares states with room for the last bits of float
// arithmetic; CooldownUntil goes through time.Time.Equal.
func stateDiff(want, got policy.State) string {
	return cmp.Diff(want, got, cmpopts.EquateApprox(1e-12, 0))
}

// mechDiff is stateDiff without the fields a policy keeps for its growth
// in time (Since, Updated, Measured), for the tests of other mechanics;
// TestAIMDTracksTimeInUse checks them.
func mechDiff(want, got policy.State) string {
	return cmp.Diff(want, got, cmpopts.EquateApprox(1e-12, 0),
		cmpopts.IgnoreFields(policy.State{}, "Since", "Updated", "Measured"))
}

// Outcome builders, so that tables read as what happened.
func success(epoch, count uint64) policy.Outcome {
	return policy.Outcome{Signal: signal.Signal{Kind: signal.Success, Status: 200}, Epoch: epoch, Tokens: 1, Count: count}
}

func throttled(epoch uint64, retryAfter time.Duration) policy.Outcome {
	return policy.Outcome{Signal: signal.Signal{Kind: signal.Throttled, Status: 429, RetryAfter: retryAfter}, Epoch: epoch, Tokens: 1}
}

func overloaded(epoch uint64, retryAfter time.Duration) policy.Outcome {
	return policy.Outcome{Signal: signal.Signal{Kind: signal.Overloaded, Status: 503, RetryAfter: retryAfter}, Epoch: epoch, Tokens: 1}
}

func outcomeOf(k signal.Kind, epoch uint64, retryAfter time.Duration) policy.Outcome {
	return policy.Outcome{Signal: signal.Signal{Kind: k, RetryAfter: retryAfter}, Epoch: epoch, Tokens: 1}
}

// wantPolicyError checks that err is a *policy.Error for field whose
// message shows the rejected value, so that a user can find the bad line
// of their configuration.
func wantPolicyError(t *testing.T, err error, field string, value float64) {
	t.Helper()
	var pe *policy.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v (%T), want a *policy.Error", err, err)
	}
	if pe.Field != field {
		t.Errorf("Field = %q, want %q (error: %v)", pe.Field, field, err)
	}
	if !(pe.Value == value || math.IsNaN(pe.Value) && math.IsNaN(value)) {
		t.Errorf("Value = %v, want %v", pe.Value, value)
	}
	msg := err.Error()
	if !strings.Contains(msg, field) || !strings.Contains(msg, formatValue(value)) {
		t.Errorf("Error() = %q, want it to name %s and %s", msg, field, formatValue(value))
	}
	if pe.Reason == "" {
		t.Errorf("Reason is empty: the user is not told what a valid value is")
	}
}

// formatValue spells v as a user would look for it in the error.
func formatValue(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func TestErrorMessage(t *testing.T) {
	err := &policy.Error{Field: "decrease_factor", Value: 1.5, Reason: "must be in (0, 1)"}
	want := "policy: decrease_factor = 1.5: must be in (0, 1)"
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestOutcomeN(t *testing.T) {
	for _, tc := range []struct {
		count, want uint64
	}{{0, 1}, {1, 1}, {2, 2}, {math.MaxUint64, math.MaxUint64}} {
		if got := (policy.Outcome{Count: tc.count}).N(); got != tc.want {
			t.Errorf("Outcome{Count: %d}.N() = %d, want %d", tc.count, got, tc.want)
		}
	}
}

func TestOutcomeStale(t *testing.T) {
	s := policy.State{Rate: 1, Burst: 1, Epoch: 3}
	for _, tc := range []struct {
		epoch uint64
		want  bool
	}{{0, true}, {2, true}, {3, false}, {4, false}} {
		if got := (policy.Outcome{Epoch: tc.epoch}).Stale(s); got != tc.want {
			t.Errorf("Outcome{Epoch: %d}.Stale(State{Epoch: 3}) = %v, want %v", tc.epoch, got, tc.want)
		}
	}
}

func TestSanitize(t *testing.T) {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	t1 := t0.Add(time.Second)
	t2 := t0.Add(2 * time.Second)
	prev := policy.State{Rate: 5, Burst: 5, CooldownUntil: t1, Epoch: 3}

	tests := []struct {
		name string
		next policy.State
		want policy.State
	}{
		{"unchanged", prev, prev},
		{"increase in the same epoch is kept",
			policy.State{Rate: 5.1, Burst: 5, CooldownUntil: t1, Epoch: 3},
			policy.State{Rate: 5.1, Burst: 5, CooldownUntil: t1, Epoch: 3}},
		{"decrease with a bumped epoch is kept",
			policy.State{Rate: 2.5, Burst: 5, CooldownUntil: t2, Epoch: 4},
			policy.State{Rate: 2.5, Burst: 5, CooldownUntil: t2, Epoch: 4}},
		{"epoch jumping by more than one is kept",
			policy.State{Rate: 2.5, Burst: 5, CooldownUntil: t2, Epoch: 9},
			policy.State{Rate: 2.5, Burst: 5, CooldownUntil: t2, Epoch: 9}},
		{"NaN rate", policy.State{Rate: math.NaN(), Burst: 5, CooldownUntil: t1, Epoch: 3}, prev},
		{"+Inf rate", policy.State{Rate: math.Inf(1), Burst: 5, CooldownUntil: t1, Epoch: 3}, prev},
		{"-Inf rate", policy.State{Rate: math.Inf(-1), Burst: 5, CooldownUntil: t1, Epoch: 3}, prev},
		{"zero rate", policy.State{Rate: 0, Burst: 5, CooldownUntil: t1, Epoch: 3}, prev},
		{"negative rate", policy.State{Rate: -1, Burst: 5, CooldownUntil: t1, Epoch: 3}, prev},
		{"burst below 1", policy.State{Rate: 5, Burst: 0.5, CooldownUntil: t1, Epoch: 3}, prev},
		{"zero burst", policy.State{Rate: 5, Burst: 0, CooldownUntil: t1, Epoch: 3}, prev},
		{"NaN burst", policy.State{Rate: 5, Burst: math.NaN(), CooldownUntil: t1, Epoch: 3}, prev},
		{"+Inf burst", policy.State{Rate: 5, Burst: math.Inf(1), CooldownUntil: t1, Epoch: 3}, prev},
		{"burst of exactly 1 is kept",
			policy.State{Rate: 5, Burst: 1, CooldownUntil: t1, Epoch: 3},
			policy.State{Rate: 5, Burst: 1, CooldownUntil: t1, Epoch: 3}},
		{"epoch going back", policy.State{Rate: 5, Burst: 5, CooldownUntil: t1, Epoch: 1}, prev},
		{"epoch going back with a decrease",
			policy.State{Rate: 2.5, Burst: 5, CooldownUntil: t1, Epoch: 1},
			policy.State{Rate: 2.5, Burst: 5, CooldownUntil: t1, Epoch: 4}},
		{"decrease without an epoch bump",
			policy.State{Rate: 2.5, Burst: 5, CooldownUntil: t1, Epoch: 3},
			policy.State{Rate: 2.5, Burst: 5, CooldownUntil: t1, Epoch: 4}},
		{"later cooldown without an epoch bump",
			policy.State{Rate: 5, Burst: 5, CooldownUntil: t2, Epoch: 3},
			policy.State{Rate: 5, Burst: 5, CooldownUntil: t2, Epoch: 4}},
		{"earlier cooldown needs no bump",
			policy.State{Rate: 5, Burst: 5, CooldownUntil: t0, Epoch: 3},
			policy.State{Rate: 5, Burst: 5, CooldownUntil: t0, Epoch: 3}},
		{"NaN rate restored is not a decrease",
			policy.State{Rate: math.NaN(), Burst: 0, CooldownUntil: t1, Epoch: 3}, prev},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := policy.Sanitize(prev, tc.next)
			if d := stateDiff(tc.want, got); d != "" {
				t.Errorf("Sanitize(%+v, %+v) mismatch (-want +got):\n%s", prev, tc.next, d)
			}
			// Buckets may sanitize a state twice (a retried write): the
			// second pass must not bump the epoch again.
			if again := policy.Sanitize(prev, got); stateDiff(got, again) != "" {
				t.Errorf("Sanitize is not idempotent: %+v, then %+v", got, again)
			}
		})
	}
}

func TestSeconds(t *testing.T) {
	// The smallest number of seconds Seconds saturates at.
	limit := float64(math.MaxInt64) / float64(time.Second)

	tests := []struct {
		name string
		sec  float64
		want time.Duration
	}{
		{"NaN", math.NaN(), 0},
		{"-Inf", math.Inf(-1), 0},
		{"negative", -1, 0},
		{"negative zero", math.Copysign(0, -1), 0},
		{"zero", 0, 0},
		{"below a nanosecond truncates", 1e-10, 0},
		{"one nanosecond", 1e-9, time.Nanosecond},
		{"millisecond", 0.001, time.Millisecond},
		{"default cooldown at 2.5/s", 1.5 / 2.5, 600 * time.Millisecond},
		{"one and a half", 1.5, 1500 * time.Millisecond},
		{"a day", 86400, 24 * time.Hour},
		{"close to the limit", 9.2e9, time.Duration(9.2e18)},
		{"at the limit", limit, math.MaxInt64},
		{"huge", 1e300, math.MaxInt64},
		{"+Inf", math.Inf(1), math.MaxInt64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := policy.Seconds(tc.sec); got != tc.want {
				t.Errorf("Seconds(%v) = %v (%d), want %v (%d)", tc.sec, got, int64(got), tc.want, int64(tc.want))
			}
		})
	}

	// Just below the limit the product rounds close to 2^63, where a
	// float-to-int conversion that overflows would wrap to a negative
	// Duration.
	sec := limit
	for range 64 {
		sec = math.Nextafter(sec, 0)
		if got := policy.Seconds(sec); got <= 0 {
			t.Fatalf("Seconds(%v) = %d, want a positive Duration", sec, int64(got))
		}
	}
}
