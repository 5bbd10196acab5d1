package policy_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// originalJSON is a configuration file of the original design, verbatim.
const originalJSON = `{"rate_limit_per_sec": 2.0, "burst_size": 2.0, "increase_factor": 0.1, "decrease_factor": 0.5, "min_rate": 0.1, "max_rate": 5.0, "cooldown_multiplier": 1.5}`

var aimdFields = map[string]bool{
	"rate_limit_per_sec":  true,
	"burst_size":          true,
	"increase_factor":     true,
	"decrease_factor":     true,
	"min_rate":            true,
	"max_rate":            true,
	"cooldown_multiplier": true,
	"slow_start_sec":      true,
	"recovery_sec":        true,
	"probe_sec":           true,
	"restart_above":       true,
}

func TestParseAIMD(t *testing.T) {
	with := func(change func(*policy.AIMD)) policy.AIMD {
		a := policy.DefaultAIMD()
		change(&a)
		return a
	}

	for _, tc := range []struct {
		name string
		json string
		want policy.AIMD
	}{
		// A file of the original format names none of the newer
		// parameters: they keep their defaults.
		{"original format", originalJSON, with(func(a *policy.AIMD) {
			p := original
			p.SlowStart, p.Recovery, p.Probe, p.Restart = a.SlowStart, a.Recovery, a.Probe, a.Restart
			*a = p
		})},
		{"empty object gives the defaults", `{}`, policy.DefaultAIMD()},
		{"surrounding white space", " \n\t{}\n", policy.DefaultAIMD()},
		{"one field overrides only itself", `{"max_rate": 50}`,
			with(func(a *policy.AIMD) { a.MaxRate = 50 })},
		{"two fields", `{"rate_limit_per_sec": 1, "cooldown_multiplier": 0}`,
			with(func(a *policy.AIMD) { a.Rate, a.CooldownMultiplier = 1, 0 })},
		{"integers and exponents", `{"min_rate": 1e-2, "burst_size": 10}`,
			with(func(a *policy.AIMD) { a.MinRate, a.Burst = 0.01, 10 })},
		{"the growth in time", `{"slow_start_sec": 1, "recovery_sec": 4, "probe_sec": 8, "restart_above": 0.25}`,
			with(func(a *policy.AIMD) { a.SlowStart, a.Recovery, a.Probe, a.Restart = 1, 4, 8, 0.25 })},
		{"the growth in time off: plain AIMD", `{"increase_factor": 0.1, "slow_start_sec": 0, "recovery_sec": 0, "probe_sec": 0, "restart_above": 0}`,
			with(func(a *policy.AIMD) { a.IncreaseFactor, a.SlowStart, a.Recovery, a.Probe, a.Restart = 0.1, 0, 0, 0, 0 })},
		{"a day is the longest phase", `{"slow_start_sec": 86400, "recovery_sec": 86400, "probe_sec": 86400}`,
			with(func(a *policy.AIMD) { a.SlowStart, a.Recovery, a.Probe = 86400, 86400, 86400 })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := policy.ParseAIMD([]byte(tc.json))
			if err != nil {
				t.Fatalf("ParseAIMD(%s) error: %v", tc.json, err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("ParseAIMD(%s) mismatch (-want +got):\n%s", tc.json, d)
			}
		})
	}

	for _, tc := range []struct {
		name string
		json string
		// mention is what the error must say for the user to find the
		// problem.
		mention string
	}{
		{"unknown field", `{"rate_limit_per_sec": 2, "rate": 3}`, `rate = 3: unknown field`},
		{"misspelt field", `{"max_rates": 5}`, `max_rates = 5: unknown field; did you mean "max_rate"?`},
		{"named twice", `{"max_rate": 5, "max_rate": 6}`, `max_rate = 6: named twice`},
		{"null for a number", `{"max_rate": null}`, `max_rate = null: must be a number`},
		{"null", `null`, "want a JSON object, got null"},
		{"several problems, all named", `{"max_rates": 5, "burst_size": "x"}`, `burst_size = "x": must be a number`},
		{"string for a number", `{"burst_size": "5"}`, "burst_size"},
		{"bool for a number", `{"decrease_factor": true}`, "decrease_factor"},
		{"number out of float64 range", `{"max_rate": 1e400}`, "max_rate"},
		{"array instead of an object", `[]`, "array"},
		{"second object", `{} {}`, "after"},
		{"trailing garbage", `{"min_rate": 1}x`, "after"},
		{"stray closing brace", `{"min_rate": 1}}`, "after"},
		{"stray closing bracket", `{"min_rate": 1}]`, "after"},
		{"truncated", `{"min_rate": 1`, "EOF"},
		{"empty input", ``, "empty input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.ParseAIMD([]byte(tc.json))
			if err == nil {
				t.Fatalf("ParseAIMD(%s) = nil error, want one mentioning %s", tc.json, tc.mention)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("ParseAIMD(%s) error = %q, want it to mention %s", tc.json, err, tc.mention)
			}
			if pe := (*policy.Error)(nil); !errors.As(err, &pe) {
				t.Errorf("ParseAIMD(%s) error = %q (%T), want a *policy.Error", tc.json, err, err)
			}
		})
	}

	for _, tc := range []struct {
		name  string
		json  string
		field string
		value float64
	}{
		{"decrease_factor 1.5", `{"decrease_factor": 1.5}`, "decrease_factor", 1.5},
		{"negative rate", `{"rate_limit_per_sec": -2}`, "rate_limit_per_sec", -2},
		{"min_rate above max_rate", `{"min_rate": 10, "max_rate": 5, "rate_limit_per_sec": 5}`, "min_rate", 10},
		{"rate above the default max_rate", `{"rate_limit_per_sec": 5000}`, "rate_limit_per_sec", 5000},
		{"burst below 1", `{"burst_size": 0.5}`, "burst_size", 0.5},
		{"negative slow_start_sec", `{"slow_start_sec": -1}`, "slow_start_sec", -1},
		{"recovery_sec above a day", `{"recovery_sec": 86401}`, "recovery_sec", 86401},
		{"negative probe_sec", `{"probe_sec": -0.5}`, "probe_sec", -0.5},
		{"negative restart_above", `{"restart_above": -1}`, "restart_above", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.ParseAIMD([]byte(tc.json))
			if err == nil {
				t.Fatalf("ParseAIMD(%s) = nil error, want one for %s", tc.json, tc.field)
			}
			wantPolicyError(t, err, tc.field, tc.value)
		})
	}
}

func FuzzParseAIMD(f *testing.F) {
	for _, seed := range []string{
		originalJSON,
		`{}`,
		`{"max_rate": 50}`,
		`{"rate_limit_per_sec": 1e-300, "min_rate": 1e-300, "cooldown_multiplier": 1e300}`,
		`{"rate_limit_per_sec": 1e308, "max_rate": 1e308, "increase_factor": 1e308, "burst_size": 1e308}`,
		`{"min_rate": 5e-324, "rate_limit_per_sec": 5e-324, "decrease_factor": 1e-300}`,
		`{"decrease_factor": 0.999999999999}`,
		`{"slow_start_sec": 1e-9, "recovery_sec": 1e-9, "probe_sec": 1e-9, "restart_above": 1e300}`,
		`{"slow_start_sec": 86400, "recovery_sec": 0, "probe_sec": 86400, "restart_above": 0}`,
		`{"recovery_sec": 5e-324, "probe_sec": 0, "increase_factor": 1e308}`,
		`{"slow_start_sec": 86401}`,
		`{"restart_above": -1}`,
		`{"rate_limit_per_sec": 3, "min_rate": 3, "max_rate": 3}`,
		`{"rate": 3}`,
		`{"burst_size": "5"}`,
		`{"decrease_factor": 1}`,
		`{"min_rate": 10, "max_rate": 5}`,
		`{"max_rate": 1e400}`,
		`{"min_rate": -0}`,
		`{} {}`,
		`{}}`,
		`{"min_rate": 1`,
		`null`,
		`[]`,
		`"text"`,
		``,
		`{"0"`, `{"rate": 1, "max_rate"`, `{"max_rates": 1, "burst_size": null, "burst_size": 2}`,
	} {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := policy.ParseAIMD(data)
		if err != nil {
			var pe *policy.Error
			// A field of the format, or the whole input (""), or a field
			// the input named that the format does not have.
			if errors.As(err, &pe) && !aimdFields[pe.Field] && pe.Field != "" && !strings.HasPrefix(pe.Reason, "unknown field") {
				t.Fatalf("ParseAIMD(%q) error names %q, not a field of the format", data, pe.Field)
			}
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("ParseAIMD(%q) = %+v, which Validate rejects: %v", data, a, err)
		}

		// What was accepted must survive being written back.
		out, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("json.Marshal(%+v): %v", a, err)
		}
		again, err := policy.ParseAIMD(out)
		if err != nil {
			t.Fatalf("ParseAIMD(%s) of a marshalled AIMD: %v", out, err)
		}
		if again != a {
			t.Fatalf("round trip changed %+v to %+v", a, again)
		}

		// Whatever the parameters, the rate a limiter runs at stays in
		// bounds: every kind, fresh and stale, batched, with and without
		// Retry-After.
		t0 := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
		s := a.Initial()
		now := t0
		for i, o := range []policy.Outcome{
			success(0, 1),
			throttled(0, 0),
			throttled(0, time.Hour),
			success(1, math.MaxUint64),
			overloaded(1, math.MaxInt64),
			throttled(1, 0),
			success(2, 1),
			outcomeOf(signal.Failed, 2, time.Second),
			outcomeOf(signal.Canceled, 2, 0),
			success(2, 1000),
		} {
			if o.Epoch > s.Epoch {
				o.Epoch = s.Epoch
			}
			next := a.Next(s, o, now)
			if problem := aimdInvariants(a, s, next); problem != "" {
				t.Fatalf("%+v: outcome %d (%+v) at %v: Next(%+v) = %+v: %s", a, i, o, now, s, next, problem)
			}
			s = policy.Sanitize(s, next)
			// Jump past the cooldown, saturating if it is absurdly far,
			// so that successes are counted.
			if s.CooldownUntil.After(now) {
				now = s.CooldownUntil
			}
		}
	})
}

// aimdInvariants says what is wrong with next = a.Next(prev, ...), or "":
// the rate within [MinRate, MaxRate], Measured and Ceiling finite and >= 0,
// the epoch never going back and bumped by any decrease or later cooldown.
func aimdInvariants(a policy.AIMD, prev, next policy.State) string {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case !finite(next.Rate) || next.Rate < a.MinRate || next.Rate > a.MaxRate:
		return fmt.Sprintf("rate %v outside [%v, %v]", next.Rate, a.MinRate, a.MaxRate)
	case !finite(next.Measured) || next.Measured < 0:
		return fmt.Sprintf("Measured %v, want a finite number >= 0", next.Measured)
	case !finite(next.Ceiling) || next.Ceiling < 0:
		return fmt.Sprintf("Ceiling %v, want a finite number >= 0", next.Ceiling)
	case next.Epoch < prev.Epoch:
		return fmt.Sprintf("epoch went back from %d to %d", prev.Epoch, next.Epoch)
	case next.Rate < prev.Rate && next.Epoch == prev.Epoch:
		return fmt.Sprintf("rate lowered from %v to %v without an epoch bump", prev.Rate, next.Rate)
	case next.CooldownUntil.After(prev.CooldownUntil) && next.Epoch == prev.Epoch:
		return "cooldown moved later without an epoch bump"
	}
	return ""
}

// inPhase maps any float64 into [0, hi): the fuzzer's numbers, made valid.
func inPhase(x, hi float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return math.Mod(math.Abs(x), hi)
}

// FuzzAIMDNext drives the default AIMD with random slow_start_sec,
// recovery_sec, probe_sec and restart_above over random outcomes (fresh
// and stale, batched, 429 and 503 throttles, Retry-After) at random
// instants (the same one, moments apart, minutes of idle, the end of the
// cooldown), and checks aimdInvariants after every step, and that only a
// success raises the rate and only a fresh throttle lowers it.
func FuzzAIMDNext(f *testing.F) {
	for _, seed := range []struct {
		slowStart, recovery, probe, restart float64
		seed                                uint64
	}{
		{0.5, 3, 30, 0.5, 1},
		{0, 0, 0, 0, 2},
		{1e-9, 1e-9, 1e-9, 0, 3},
		{86399, 86399, 86399, 9, 4},
		{0.5, 3, 0, 0, 5},
		{0, 3, 30, 0.5, 6},
		{5e-324, 1e-300, 1e-300, 1e-300, 7},
	} {
		f.Add(seed.slowStart, seed.recovery, seed.probe, seed.restart, seed.seed)
	}
	f.Fuzz(func(t *testing.T, slowStart, recovery, probe, restart float64, seed uint64) {
		a := policy.DefaultAIMD()
		a.SlowStart, a.Recovery, a.Probe = inPhase(slowStart, 86400), inPhase(recovery, 86400), inPhase(probe, 86400)
		a.Restart = inPhase(restart, 10)
		if err := a.Validate(); err != nil {
			t.Fatalf("%+v: %v", a, err)
		}
		r := rand.New(rand.NewPCG(seed, 0xa1bd))
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		s, now := a.Initial(), t0
		for i := range 300 {
			o := randomOutcome(r, s)
			if o.Signal.Kind == signal.Throttled && r.IntN(4) == 0 {
				o.Signal.Status = 503
			}
			switch n := r.IntN(10); {
			case n < 2: // the same instant
			case n < 7:
				now = now.Add(time.Duration(r.Int64N(int64(time.Second))))
			case n < 8:
				now = now.Add(10 * time.Minute)
			default:
				now = later(now, s.CooldownUntil)
			}
			next := a.Next(s, o, now)
			if problem := aimdInvariants(a, s, next); problem != "" {
				t.Fatalf("%+v, step %d: Next(%+v, %+v, t0+%v) = %+v: %s", a, i, s, o, now.Sub(t0), next, problem)
			}
			fresh := !o.Stale(s)
			if next.Rate > s.Rate && !(o.Signal.Kind == signal.Success && fresh && !now.Before(s.CooldownUntil)) {
				t.Fatalf("%+v, step %d: Next(%+v, %+v) raised the rate to %v", a, i, s, o, next.Rate)
			}
			if next.Rate < s.Rate && !(o.Signal.Kind == signal.Throttled && fresh) {
				t.Fatalf("%+v, step %d: Next(%+v, %+v) lowered the rate to %v", a, i, s, o, next.Rate)
			}
			s = policy.Sanitize(s, next)
		}
	})
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
