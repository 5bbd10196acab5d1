package simtest

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/policy"
)

// goodputFloor is the stated floor of the default configuration's goodput
// over random steady upstreams, and throttledCeiling the most of its
// requests that may be throttled there.
const (
	goodputFloor     = 0.80
	throttledCeiling = 0.05
)

// randomScenario draws a steady upstream the default limiter knows nothing
// about: a hidden token bucket of 1 to 60 requests per second with a burst
// of 1 to 2 seconds' worth, Retry-After or not, latency from 5 ms to 300 ms,
// demand well above the limit.
func randomScenario(seed uint64) Scenario {
	rng := rand.New(rand.NewPCG(seed, 42))
	rate := 1 + 59*rng.Float64()
	lat := time.Duration(5+rng.IntN(295)) * time.Millisecond
	u := Upstream{
		Model: ModelTokenBucket, Rate: rate, Burst: max(1, rate*(0.1+1.9*rng.Float64())),
		Latency: Latency{Min: Duration(lat / 4), Mean: Duration(lat)},
	}
	if rng.IntN(2) == 0 {
		u.RetryAfter = Duration(time.Second)
	}
	// Enough workers to ask for about three times the limit.
	workers := max(2, int(3*rate*lat.Seconds())+2)
	return Scenario{
		Name: fmt.Sprintf("random-%d", seed), Seed: seed, Duration: Duration(10 * time.Minute),
		Upstream: u, Clients: Clients{Workers: workers},
	}.withDefaults()
}

func TestPropertyRandomUpstreams(t *testing.T) {
	a := policy.DefaultAIMD()
	for seed := range uint64(24) {
		sc := randomScenario(seed)
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			r := mustRun(t, sc, Default())
			for _, s := range r.Trace {
				if s.Rate < a.MinRate || s.Rate > a.MaxRate {
					t.Fatalf("at %v the rate is %v, outside [%v, %v]", s.T, s.Rate, a.MinRate, a.MaxRate)
				}
			}
			if r.Goodput < goodputFloor || r.ThrottledShare > throttledCeiling {
				t.Errorf("limit %.1f/s burst %.1f latency %v retry-after %v: goodput %.2f%%, throttled %.2f%%; want >= %.0f%% and <= %.0f%%",
					sc.Upstream.Rate, sc.Upstream.Burst, sc.Upstream.Latency.Mean.D(), sc.Upstream.RetryAfter.D(),
					100*r.Goodput, 100*r.ThrottledShare, 100*goodputFloor, 100*throttledCeiling)
			}
		})
	}
}

// The invariants of the limiter hold after every event of a simulation:
// rate within [min_rate, max_rate], tokens within [0, burst], no more
// permits in flight than workers, and no permit granted during a cooldown.
func TestPropertyInvariantsDuringRuns(t *testing.T) {
	a := policy.DefaultAIMD()
	for seed := range uint64(8) {
		sc := randomScenario(seed)
		sc.Duration = Duration(2 * time.Minute)
		sc.Clients.Count = 1 + int(seed%3)
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			e, err := newEngine(sc, Default())
			if err != nil {
				t.Fatal(err)
			}
			var granted []uint64
			e.check = func(e *engine) {
				for i := range e.clients {
					s := e.clients[i].lim.SnapshotAt(e.at())
					switch {
					case s.Rate < a.MinRate || s.Rate > a.MaxRate:
						t.Fatalf("%v: client %d rate %v outside [%v, %v]", e.now, i, s.Rate, a.MinRate, a.MaxRate)
					case s.Tokens < 0 || s.Tokens > s.Burst || s.Reserved < 0:
						t.Fatalf("%v: client %d tokens %v reserved %v, burst %v", e.now, i, s.Tokens, s.Reserved, s.Burst)
					case s.InFlight > int64(sc.Clients.Workers):
						t.Fatalf("%v: client %d has %d in flight with %d workers", e.now, i, s.InFlight, sc.Clients.Workers)
					}
					if len(granted) <= i {
						granted = append(granted, 0)
					}
					if s.Counters.Granted > granted[i] && e.at().Before(s.CooldownUntil) {
						t.Fatalf("%v: client %d granted a permit during a cooldown until %v", e.now, i, s.CooldownUntil)
					}
					granted[i] = s.Counters.Granted
				}
			}
			e.run()
		})
	}
}
