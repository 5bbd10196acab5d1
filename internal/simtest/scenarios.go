package simtest

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

func d(x time.Duration) Duration { return Duration(x) }

// steady is the upstream of S1: a hidden token bucket of 10 requests per
// second, burst 10, with Retry-After 1 s on a 429 and 20 ms to 80 ms of
// latency.
func steady() Upstream {
	return Upstream{
		Model: ModelTokenBucket, Rate: 10, Burst: 10, RetryAfter: d(time.Second),
		Latency: Latency{Min: d(20 * time.Millisecond), Mean: d(80 * time.Millisecond)},
	}
}

// Scenarios returns the built-in scenario suite, S1 to S8, in order: S8
// is the representative of its family, MovingLimits.
func Scenarios() []Scenario {
	steady := steady()
	// 3× capacity: a client whose workers each send as soon as allowed,
	// with enough of them to ask for 30 req/s at this latency.
	demand := Clients{Workers: 8}
	s := []Scenario{
		{
			Name:        "S1-steady",
			Description: "hidden token bucket 10 req/s burst 10, no rate headers, Retry-After 1 s on 429, demand 3x capacity, 10 min",
			Seed:        1, Duration: d(10 * time.Minute), Upstream: steady, Clients: demand,
		},
		{
			Name:        "S2-step",
			Description: "the hidden limit goes 10 -> 4 -> 12 req/s",
			Seed:        2, Duration: d(6 * time.Minute),
			Upstream: with(steady, func(u *Upstream) {
				u.Profile = []Step{{At: d(2 * time.Minute), Rate: 4}, {At: d(4 * time.Minute), Rate: 12}}
			}),
			Clients: demand,
		},
		{
			Name:        "S3-shared",
			Description: "four clients, each with its own limiter, share one 20 req/s quota",
			Seed:        3, Duration: d(10 * time.Minute),
			Upstream: with(steady, func(u *Upstream) { u.Rate, u.Burst = 20, 20 }),
			Clients:  Clients{Count: 4, Workers: 8},
		},
		{
			Name:        "S4-headers",
			Description: "a 600-per-minute window that reports remaining and reset",
			Seed:        4, Duration: d(10 * time.Minute),
			Upstream: Upstream{
				Model: ModelFixedWindow, Limit: 600, Window: d(time.Minute), Headers: true, RetryAfter: d(time.Second),
				Latency: steady.Latency,
			},
			Clients: Clients{Workers: 16},
		},
		{
			Name:        "S5-outage",
			Description: "S1 with 30 s of 503s in the middle",
			Seed:        5, Duration: d(10 * time.Minute),
			Upstream: with(steady, func(u *Upstream) {
				u.Outages = []Span{{From: d(5 * time.Minute), To: d(5*time.Minute + 30*time.Second)}}
			}),
			Clients: demand,
		},
		{
			Name:        "S6-in-flight",
			Description: "every request in flight during the first 2 s gets 429 (50 of them for a limiter with a burst of 50), answered after 1 s",
			Seed:        6, Duration: d(30 * time.Second),
			Upstream: with(steady, func(u *Upstream) {
				u.Rate, u.Burst = 50, 50
				u.Throttles = []Span{{From: 0, To: d(2 * time.Second)}}
				u.Latency = Latency{Min: d(time.Second), Mean: d(time.Second)}
			}),
			Clients: Clients{Workers: 50},
		},
		{
			Name:        "S7-slow-start",
			Description: "S1's upstream at 200 req/s burst 200, demand 3x capacity: how long the clients take from their initial rate to the limit, 2 min",
			Seed:        7, Duration: d(2 * time.Minute),
			Upstream: with(steady, func(u *Upstream) { u.Rate, u.Burst = 200, 200 }),
			// 3 × 200 req/s at 80 ms each: 48 workers, and a few more.
			Clients: Clients{Workers: 50},
		},
		movingLimit(3, 40*time.Second),
	}
	for i := range s {
		s[i] = s[i].withDefaults()
	}
	return s
}

// The S8 family: a square wave between movingLow and movingLow × each
// ratio, for each period, over movingDuration.
var (
	movingRatios  = []int{2, 3, 4}
	movingPeriods = []time.Duration{20 * time.Second, 40 * time.Second, time.Minute, 2 * time.Minute}
)

const (
	movingLow      = 4 // requests per second
	movingDuration = 10 * time.Minute
)

// MovingLimits returns the S8 family, named S8-moving-r<ratio>-p<period in
// seconds>: S1's upstream with a hidden limit that moves as a square wave
// between 4 req/s × the ratio (at the start) and 4 req/s, half a period at
// each, over 10 min, for ratios 2, 3 and 4 and periods of 20, 40, 60 and
// 120 s, in that order. Scenarios holds S8-moving-r3-p40 of them. The
// wave is a profile of steps, which a scenario file writes as well.
func MovingLimits() []Scenario {
	var s []Scenario
	for _, r := range movingRatios {
		for _, p := range movingPeriods {
			s = append(s, movingLimit(r, p).withDefaults())
		}
	}
	return s
}

// movingLimit is the member of the S8 family of a ratio and a period.
func movingLimit(ratio int, period time.Duration) Scenario {
	high := float64(movingLow * ratio)
	half := period / 2
	u := steady()
	u.Rate, u.Burst = high, high
	for k := 1; time.Duration(k)*half < movingDuration; k++ {
		rate := high
		if k%2 == 1 {
			rate = movingLow
		}
		u.Profile = append(u.Profile, Step{At: d(time.Duration(k) * half), Rate: rate})
	}
	return Scenario{
		Name: fmt.Sprintf("S8-moving-r%d-p%d", ratio, int(period/time.Second)),
		Description: fmt.Sprintf("the hidden limit moves between %g and %d req/s, %d s at each, %d min",
			high, movingLow, int(half/time.Second), int(movingDuration/time.Minute)),
		Seed: 8, Duration: d(movingDuration), Upstream: u,
		// The demand of S1, several times even the high limit.
		Clients: Clients{Workers: 8},
	}
}

// AllScenarios returns the built-in scenarios with each family in full:
// S1 to S7, then every member of the S8 family (MovingLimits), S8's
// representative among them.
func AllScenarios() []Scenario {
	s := Scenarios()
	return append(slices.DeleteFunc(s, func(sc Scenario) bool { return strings.HasPrefix(sc.Name, "S8-") }), MovingLimits()...)
}

// ScenarioByName returns the built-in scenario whose name is name or starts
// with name followed by "-" (so "S1" and "s1" find "S1-steady", and "S8"
// the representative of its family), ignoring case; failing that, the
// member of a family (AllScenarios) so named or so starting.
func ScenarioByName(name string) (Scenario, bool) {
	for _, scs := range [][]Scenario{Scenarios(), AllScenarios()} {
		i := slices.IndexFunc(scs, func(s Scenario) bool {
			return strings.EqualFold(s.Name, name) ||
				len(s.Name) > len(name) && strings.EqualFold(s.Name[:len(name)], name) && s.Name[len(name)] == '-'
		})
		if i >= 0 {
			return scs[i], true
		}
	}
	return Scenario{}, false
}

func with(u Upstream, f func(*Upstream)) Upstream {
	u.Profile = slices.Clone(u.Profile)
	u.Outages = slices.Clone(u.Outages)
	f(&u)
	return u
}
