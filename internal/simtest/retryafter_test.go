package simtest

import (
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/policy"
)

// A request counts as sent inside a Retry-After when its client sends it
// before the latest instant a throttled response it received forbade, from
// the response's arrival: one hand-traced run.
func TestInsideRetryAfterCount(t *testing.T) {
	// One token a second, 100 ms to answer, Retry-After 1 s; two workers
	// that do not pace. At 0 the first gets the token and the second a 429
	// (answered at 0.1: no sending until 1.1). At 0.1 the first sends again
	// and gets a 429 (answered at 0.2: no sending until 1.2). At 1.1 the
	// second retries, inside the Retry-After of the first's 429. The first
	// retries at 1.2, after the run.
	ms := func(n int) Duration { return d(time.Duration(n) * time.Millisecond) }
	sc := Scenario{
		Name: "two-workers", Seed: 1, Duration: ms(1150),
		Upstream: Upstream{Rate: 1, Burst: 1, RetryAfter: d(time.Second), Latency: Latency{Min: ms(100), Mean: ms(100)}},
		Clients:  Clients{Workers: 2},
	}
	r := mustRun(t, sc, NaiveRetry())
	if r.Sent != 4 || r.Throttled != 2 || r.InsideRetryAfter != 1 {
		t.Errorf("sent %d, throttled %d, inside a Retry-After %d; want 4, 2 and 1", r.Sent, r.Throttled, r.InsideRetryAfter)
	}

	// Without Retry-After nothing is forbidden, however hard the clients
	// push.
	sc, _ = ScenarioByName("S1")
	sc.Upstream.RetryAfter = 0
	sc.Duration = d(time.Minute)
	if r := mustRun(t, sc, NaiveRetry()); r.Throttled == 0 || r.InsideRetryAfter != 0 {
		t.Errorf("S1 without Retry-After: throttled %d, inside a Retry-After %d; want some and 0", r.Throttled, r.InsideRetryAfter)
	}
}

// The library's policies honour Retry-After as a cooldown of the limiter:
// no request of theirs goes inside one, on S1 (an occasional throttle) and
// S6 (every request throttled for 2 s). The AWS SDK's adaptive mode only
// delays the throttled request's retry: its other requests go on S1.
func TestInsideRetryAfter(t *testing.T) {
	for _, name := range []string{"S1", "S6"} {
		sc, ok := ScenarioByName(name)
		if !ok {
			t.Fatalf("no scenario %s", name)
		}
		share := sc.Upstream.RateAt(0) / float64(sc.Clients.Count)
		for _, st := range []Strategy{
			Default(),
			CUBICFor(sc),
			// x/time/rate's bucket told the true rate, pausing for
			// Retry-After. FixedRate, the baseline, does not pause.
			Dynlimit("fixed-honouring", policy.Fixed{Rate: share, Burst: max(share, 1), HonorRetryAfter: true}),
		} {
			r := mustRun(t, sc, st)
			if r.InsideRetryAfter != 0 {
				t.Errorf("%s, %s: %d requests sent inside a Retry-After, want 0", sc.Name, st.Name, r.InsideRetryAfter)
			}
			if r.Throttled == 0 {
				t.Errorf("%s, %s: no throttle, so no Retry-After to honour", sc.Name, st.Name)
			}
		}
	}

	sc, _ := ScenarioByName("S1")
	if r := mustRun(t, sc, AWSAdaptive()); r.InsideRetryAfter == 0 {
		t.Errorf("%s, aws-adaptive: no request sent inside a Retry-After (throttled %d), want some", sc.Name, r.Throttled)
	}
	// The same bucket as above without the pause: the measure tells them
	// apart.
	share := sc.Upstream.RateAt(0) / float64(sc.Clients.Count)
	st := Dynlimit("fixed", policy.Fixed{Rate: share, Burst: max(share, 1)})
	if r := mustRun(t, sc, st); r.InsideRetryAfter == 0 {
		t.Errorf("%s, a fixed bucket that does not pause: no request sent inside a Retry-After (throttled %d), want some",
			sc.Name, r.Throttled)
	}
}

// CUBICFor lifts DefaultCUBIC's ceiling above a scenario's highest limit,
// and leaves it alone below.
func TestCUBICFor(t *testing.T) {
	def := policy.DefaultCUBIC()
	for _, sc := range Scenarios() {
		c, ok := CUBICFor(sc).Policy.(policy.CUBIC)
		if !ok {
			t.Fatalf("%s: CUBICFor's policy is %T, want policy.CUBIC", sc.Name, CUBICFor(sc).Policy)
		}
		peak := sc.PeakRate()
		want := def
		if peak > def.MaxRate {
			want.MaxRate = 2 * peak
		}
		if c != want {
			t.Errorf("%s (highest limit %g): CUBICFor's policy %+v, want %+v", sc.Name, peak, c, want)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", sc.Name, err)
		}
	}
	// A limit that rises above the default's ceiling during the run.
	sc, _ := ScenarioByName("S2")
	sc.Upstream.Profile = append(sc.Upstream.Profile, Step{At: sc.Duration - d(time.Second), Rate: 3 * def.MaxRate})
	if got := sc.PeakRate(); got != 3*def.MaxRate {
		t.Errorf("PeakRate with a last step to %g = %g", 3*def.MaxRate, got)
	}
	if c := CUBICFor(sc).Policy.(policy.CUBIC); c.MaxRate != 6*def.MaxRate {
		t.Errorf("CUBICFor a limit that rises to %g: max rate %g, want %g", 3*def.MaxRate, c.MaxRate, 6*def.MaxRate)
	}
	// A step at the end of the run is not reached.
	sc.Upstream.Profile[len(sc.Upstream.Profile)-1].At = sc.Duration
	if c := CUBICFor(sc).Policy.(policy.CUBIC); c != def {
		t.Errorf("CUBICFor a step at the end of the run: %+v, want the default %+v", c, def)
	}
}
