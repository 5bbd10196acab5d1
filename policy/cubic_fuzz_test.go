package policy_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

var cubicFields = map[string]bool{
	"rate_limit_per_sec": true,
	"burst_size":         true,
	"min_rate":           true,
	"max_rate":           true,
	"beta":               true,
	"scale_constant":     true,
	"smooth":             true,
}

func FuzzParseCUBIC(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"max_rate": 20}`,
		`{"rate_limit_per_sec": 3, "burst_size": 3, "min_rate": 0.1, "max_rate": 6, "beta": 0.5, "scale_constant": 1, "smooth": 0.5}`,
		`{"min_rate": 5e-324, "max_rate": 1e308, "scale_constant": 5e-324, "smooth": 5e-324, "beta": 5e-324}`,
		`{"max_rate": 1e308, "burst_size": 1e308, "scale_constant": 1e308, "smooth": 0.9999999999999999, "beta": 0.9999999999999999}`,
		`{"rate_limit_per_sec": 1, "min_rate": 1, "max_rate": 1}`,
		`{"smooth": 1}`,
		`{"beta": 0}`,
		`{"decrease_factor": 0.5}`,
		`{} {}`,
		`null`,
		``,
		`{"0"`, `{"beta": 0.5, "x"`, `{"max_rates": 1, "beta": "x", "beta": 2}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := policy.ParseCUBIC(data)
		if err != nil {
			var pe *policy.Error
			// A field of the format, or the whole input (""), or a field
			// the input named that the format does not have.
			if errors.As(err, &pe) && !cubicFields[pe.Field] && pe.Field != "" && !strings.HasPrefix(pe.Reason, "unknown field") {
				t.Fatalf("ParseCUBIC(%q) error names %q, not a field of the format", data, pe.Field)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseCUBIC(%q) = %+v, which Validate rejects: %v", data, c, err)
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("json.Marshal(%+v): %v", c, err)
		}
		if again, err := policy.ParseCUBIC(out); err != nil || again != c {
			t.Fatalf("round trip of %+v through %s: %+v, %v", c, out, again, err)
		}
		checkCUBICWalk(t, c, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 255, 128, 64, 32})
	})
}

// FuzzCUBICNext drives CUBIC of fuzzed parameters through a fuzzed
// sequence of outcomes and checks Next's invariants at every step: see
// checkCUBICWalk.
func FuzzCUBICNext(f *testing.F) {
	d := policy.DefaultCUBIC()
	f.Add(d.Rate, d.Burst, d.MinRate, d.MaxRate, d.Beta, d.ScaleConstant, d.Smooth, []byte{0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 200, 17, 90, 3})
	f.Add(3.0, 3.0, 0.1, 6.0, 0.7, 0.4, 0.8, []byte{1, 40, 7, 3, 0, 0, 0, 0, 0, 0, 0, 0, 9, 250, 250, 250})
	f.Add(0.0, 1.0, 5e-324, 1e308, 0.9999999999999999, 1e308, 0.9999999999999999, []byte{1, 0, 3, 4, 0, 2, 3, 1, 0, 3, 3, 2})
	f.Add(1e-3, 1.0, 1e-6, 1e-2, 1e-300, 5e-324, 5e-324, []byte{1, 0, 2, 1, 0, 3, 3, 3, 4, 4, 4, 4})
	f.Fuzz(func(t *testing.T, rate, burst, minRate, maxRate, beta, scale, smooth float64, script []byte) {
		c := policy.CUBIC{Rate: rate, Burst: burst, MinRate: minRate, MaxRate: maxRate, Beta: beta, ScaleConstant: scale, Smooth: smooth}
		if c.Validate() != nil {
			return
		}
		checkCUBICWalk(t, c, script)
	})
}

// checkCUBICWalk runs c from its Initial state through the outcomes that
// script describes, four bytes each (kind, epoch and Retry-After, count,
// time step), and fails on the first step that breaks an invariant:
//
//   - the rate stays finite and within [min_rate, max_rate], the burst
//     does not move, the measured rate stays finite and >= 0;
//   - the epoch never goes back, and a step that lowers the rate or moves
//     the cooldown later bumps it, so that Sanitize has nothing to repair;
//   - the same inputs give the same state;
//   - a Count of k is k outcomes of Count 1 at the same instant, but for
//     throttles of an epoch ahead (see CUBIC.Next);
//   - only a success of the current epoch after the cooldown raises the
//     rate; a stale throttle does not lower it; Canceled changes nothing.
func checkCUBICWalk(t *testing.T, c policy.CUBIC, script []byte) {
	t.Helper()
	t0 := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	kinds := []signal.Kind{signal.Success, signal.Success, signal.Throttled, signal.Overloaded, signal.Failed, signal.Canceled}
	retryAfters := []time.Duration{0, time.Millisecond, time.Second, time.Hour, 1000 * 24 * time.Hour, math.MaxInt64}
	counts := []uint64{0, 1, 2, 7, 64, 1 << 20, math.MaxUint64}
	s, now := c.Initial(), t0
	if s.Rate < c.MinRate || s.Rate > c.MaxRate {
		t.Fatalf("%+v: Initial rate %v outside [%v, %v]", c, s.Rate, c.MinRate, c.MaxRate)
	}
	for i := 0; i+4 <= len(script); i += 4 {
		b := script[i : i+4]
		o := policy.Outcome{Signal: signal.Signal{Kind: kinds[int(b[0])%len(kinds)]}, Tokens: 1, Count: counts[int(b[2])%len(counts)]}
		o.Signal.Status = map[signal.Kind]int{signal.Success: 200, signal.Throttled: 429, signal.Overloaded: 503, signal.Failed: 400}[o.Signal.Kind]
		o.Signal.RetryAfter = retryAfters[int(b[1]>>4)%len(retryAfters)]
		o.Epoch = s.Epoch
		switch b[1] & 3 {
		case 1:
			if s.Epoch > 0 {
				o.Epoch = s.Epoch - 1 - uint64(b[1]>>2&3)%s.Epoch
			}
		case 2:
			o.Epoch = s.Epoch + 1 // a permit of a later epoch, as a clock that lags may report
		}
		switch b[3] % 6 {
		case 0: // the same instant
		case 1:
			now = now.Add(time.Duration(b[3]) * time.Millisecond)
		case 2:
			now = now.Add(time.Duration(b[3]) * time.Second)
		case 3:
			now = now.Add(time.Duration(b[3]) * time.Hour)
		case 4:
			if s.CooldownUntil.After(now) {
				now = s.CooldownUntil
			}
		case 5:
			now = now.Add(-time.Duration(b[3]) * time.Millisecond) // another process's clock
		}
		next := c.Next(s, o, now)
		where := func() string {
			return fmt.Sprintf("step %d: Next(%+v, %v ×%d of epoch %d, Retry-After %v, %v) = %+v",
				i/4, s, o.Signal.Kind, o.N(), o.Epoch, o.Signal.RetryAfter, now.Format(time.RFC3339Nano), next)
		}
		switch {
		case math.IsNaN(next.Rate) || next.Rate < c.MinRate || next.Rate > c.MaxRate:
			t.Fatalf("%+v: %s: rate outside [%v, %v]", c, where(), c.MinRate, c.MaxRate)
		case next.Burst != s.Burst:
			t.Fatalf("%+v: %s: the burst moved", c, where())
		case math.IsNaN(next.Measured) || math.IsInf(next.Measured, 0) || next.Measured < 0:
			t.Fatalf("%+v: %s: measured rate out of range", c, where())
		case next.Epoch < s.Epoch:
			t.Fatalf("%+v: %s: the epoch went back", c, where())
		case next.Epoch == s.Epoch && (next.Rate < s.Rate || next.CooldownUntil.After(s.CooldownUntil)):
			t.Fatalf("%+v: %s: lowered the rate or moved the cooldown later without a new epoch", c, where())
		case !cmp.Equal(policy.Sanitize(s, next), next):
			t.Fatalf("%+v: %s: Sanitize repaired it", c, where())
		case !cmp.Equal(c.Next(s, o, now), next):
			t.Fatalf("%+v: %s: not deterministic", c, where())
		}
		grows := o.Signal.Kind == signal.Success && !o.Stale(s) && !now.Before(s.CooldownUntil)
		if next.Rate > s.Rate && !grows {
			t.Fatalf("%+v: %s: raised the rate on no evidence", c, where())
		}
		if o.Signal.Kind == signal.Throttled && o.Stale(s) && next.Rate != s.Rate {
			t.Fatalf("%+v: %s: a stale throttle moved the rate", c, where())
		}
		if o.Signal.Kind == signal.Canceled && !cmp.Equal(next, s) {
			t.Fatalf("%+v: %s: Canceled changed the state", c, where())
		}
		// A throttle of a permit from an epoch ahead of the state's (a
		// view that lags) is fresh, and so would be the next of its
		// batch: CUBIC, as AIMD, decreases once per batch.
		ahead := o.Signal.Kind == signal.Throttled && o.Epoch > s.Epoch
		if k := o.N(); k > 1 && k <= 64 && !ahead {
			one := o
			one.Count = 1
			want := s
			for range k {
				want = c.Next(want, one, now)
			}
			if !cmp.Equal(want, next, approxFloats) {
				t.Fatalf("%+v: %s, but %d outcomes of Count 1 give %+v", c, where(), k, want)
			}
		}
		s = next
	}
}
