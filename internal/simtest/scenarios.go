package simtest

import (
	"slices"
	"strings"
	"time"
)

func d(x time.Duration) Duration { return Duration(x) }

// Scenarios returns the built-in scenario suite, S1 to S6, in order.
func Scenarios() []Scenario {
	steady := Upstream{
		Model: ModelTokenBucket, Rate: 10, Burst: 10, RetryAfter: d(time.Second),
		Latency: Latency{Min: d(20 * time.Millisecond), Mean: d(80 * time.Millisecond)},
	}
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
	}
	for i := range s {
		s[i] = s[i].withDefaults()
	}
	return s
}

// ScenarioByName returns the built-in scenario whose name is name or starts
// with name followed by "-" (so "S1" and "s1" find "S1-steady"), ignoring
// case.
func ScenarioByName(name string) (Scenario, bool) {
	i := slices.IndexFunc(Scenarios(), func(s Scenario) bool {
		return strings.EqualFold(s.Name, name) ||
			len(s.Name) > len(name) && strings.EqualFold(s.Name[:len(name)], name) && s.Name[len(name)] == '-'
	})
	if i < 0 {
		return Scenario{}, false
	}
	return Scenarios()[i], true
}

func with(u Upstream, f func(*Upstream)) Upstream {
	u.Profile = slices.Clone(u.Profile)
	u.Outages = slices.Clone(u.Outages)
	f(&u)
	return u
}
