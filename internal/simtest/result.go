package simtest

import (
	"fmt"
	"io"
	"time"
)

// Result is what a run measured.
type Result struct {
	Scenario string        `json:"scenario"`
	Strategy string        `json:"strategy"`
	Seed     uint64        `json:"seed"`
	Duration time.Duration `json:"duration_ns"`
	// Capacity is how many requests the upstream could have served.
	Capacity float64 `json:"capacity"`
	// Sent counts the requests that reached the upstream, retries included.
	Sent uint64 `json:"sent"`
	// Succeeded, Throttled and Overloaded count the responses by kind.
	Succeeded  uint64 `json:"succeeded"`
	Throttled  uint64 `json:"throttled"`
	Overloaded uint64 `json:"overloaded"`
	// Failed counts the callers' requests that failed: retries exhausted,
	// or an open-loop queue full.
	Failed uint64 `json:"failed"`
	// Goodput is Succeeded / Capacity.
	Goodput float64 `json:"goodput"`
	// ThrottledShare is Throttled / Sent.
	ThrottledShare float64 `json:"throttled_share"`
	// LatencyP50 and LatencyP99 are the callers' latencies, waits
	// included, of the requests that succeeded.
	LatencyP50 time.Duration `json:"latency_p50_ns"`
	LatencyP99 time.Duration `json:"latency_p99_ns"`
	// Decreases is the number of rate decreases over all limiters, and
	// over the pacers that count theirs (see Pacer).
	Decreases uint64 `json:"decreases"`
	// Fairness is Jain's index of the clients' successes (1 = equal).
	Fairness float64 `json:"fairness"`
	// OutageHits counts the requests that reached the upstream during an
	// outage.
	OutageHits uint64 `json:"outage_hits"`
	// BreakerRejected counts the attempts a circuit breaker refused before
	// any call (Strategy.Breaker); they count as Failed too.
	BreakerRejected uint64 `json:"breaker_rejected,omitempty"`
	// InsideRetryAfter counts the requests a client sent to the upstream
	// while the Retry-After of a throttled response it had received
	// forbade it: before the latest instant that any such Retry-After, as
	// the classifier reported it (signal.Signal.RetryAfter) and counted from
	// the response's arrival, reached.
	InsideRetryAfter uint64 `json:"inside_retry_after"`
	// Start describes how the clients climbed to the limit from the start
	// of the run; Drops how they reacted to each drop of the hidden limit,
	// Raises to each raise, Outages to the end of each outage.
	Start   Startup    `json:"start"`
	Drops   []Drop     `json:"drops,omitempty"`
	Raises  []Raise    `json:"raises,omitempty"`
	Outages []Recovery `json:"outages,omitempty"`
	// Trace is sampled every second.
	Trace []Sample `json:"trace,omitempty"`
}

// Sample is one second of a run.
type Sample struct {
	// T is the end of the second.
	T time.Duration `json:"t_ns"`
	// Limit is the hidden rate (requests per second) during it.
	Limit float64 `json:"limit"`
	// Rate is the clients' mean rate in force at T.
	Rate float64 `json:"rate"`
	// Succeeded and Throttled count the responses of the second.
	Succeeded uint64 `json:"succeeded"`
	Throttled uint64 `json:"throttled"`
}

// Startup is the climb to the limit from the start of a run.
type Startup struct {
	// Until is how far the measure looks: the first change of the hidden
	// limit, the start of the first outage, or the end of the run.
	Until time.Duration `json:"until_ns"`
	// To90 is how long after the start the goodput over 5 s first reached
	// 90 % of the limit in force at the start, the same measure as a
	// Raise's; -1 when it did not by Until.
	To90 time.Duration `json:"to90_ns"`
}

// Drop is the reaction to a drop of the hidden limit at At.
type Drop struct {
	At time.Duration `json:"at_ns"`
	// Settle is the time to stop throttling: from At to the last throttle
	// before the rate settled on the new limit (stayed at or below 1.25
	// times it for 30 s). 0 when no throttle came.
	Settle time.Duration `json:"settle_ns"`
	// Episodes counts the bursts of throttles before the rate settled, a
	// burst ending after 5 s without a throttle.
	Episodes int `json:"episodes"`
	// Throttled counts the throttled responses from At to the next step of
	// the limit (or the end of the run), before the rate settled or after.
	Throttled uint64 `json:"throttled"`
	// Unpaced is set when the trace shows no rate after At: the strategy
	// has no limiter or pacer, so there is no rate to settle, and Settle
	// and Episodes cover every throttle up to the next step.
	Unpaced bool `json:"unpaced,omitempty"`
}

// Raise is the reaction to a raise of the hidden limit at At.
type Raise struct {
	At time.Duration `json:"at_ns"`
	// To90 is how long after At the goodput over 5 s first reached 90 % of
	// the new limit; -1 when it never did.
	To90 time.Duration `json:"to90_ns"`
}

// Recovery is the reaction to the end of an outage at End.
type Recovery struct {
	End time.Duration `json:"end_ns"`
	// To90 is how long after End the goodput over 5 s first reached 90 %
	// of the limit; -1 when it never did.
	To90 time.Duration `json:"to90_ns"`
}

// analyse derives the reactions to the profile's steps and the outages
// from the trace.
func (r *Result) analyse(sc Scenario) {
	u := sc.Upstream
	end := sc.Duration.D()
	prev := rateAt(u, 0)
	r.Start.Until = end
	for _, st := range u.Profile {
		if at := st.At.D(); at > 0 && at < r.Start.Until && rateAt(u, at) != prev {
			r.Start.Until = at
			break
		}
	}
	for _, o := range u.Outages {
		r.Start.Until = min(r.Start.Until, max(o.From.D(), 0))
	}
	r.Start.To90 = r.to90(0, r.Start.Until, prev)
	for i, st := range u.Profile {
		if st.At.D() == 0 {
			continue
		}
		if st.At.D() >= end { // a step the run does not reach
			break
		}
		next := end
		if i+1 < len(u.Profile) {
			next = u.Profile[i+1].At.D()
		}
		cur := rateAt(u, st.At.D())
		switch {
		case cur < prev:
			r.Drops = append(r.Drops, r.drop(st.At.D(), next))
		case cur > prev:
			r.Raises = append(r.Raises, Raise{At: st.At.D(), To90: r.to90(st.At.D(), next, cur)})
		}
		prev = cur
	}
	for _, o := range u.Outages {
		r.Outages = append(r.Outages, Recovery{End: o.To.D(), To90: r.to90(o.To.D(), end, rateAt(u, o.To.D()))})
	}
}

// settled is how long the rate must stay at or below 1.25 times a dropped
// limit for the limiter to count as settled on it.
const settled = 30 * time.Second

// drop measures the reaction to a drop of the limit at at: the limiter has
// settled once its rate stays at or below 1.25 times the new limit for 30 s
// (a limiter that keeps probing just above the limit is settled; one that
// keeps bouncing back far above it is not). Episodes counts the bursts of
// throttles before that instant, Settle the time from the drop to the end of
// the last of them. A trace with no rate after the drop (no limiter, no
// pacer: every sample's rate is 0) never settles.
func (r *Result) drop(at, next time.Duration) Drop {
	d := Drop{At: at, Unpaced: true}
	seen := false
	for _, s := range r.Trace {
		if s.T > at && s.T <= next {
			seen = true
			d.Throttled += s.Throttled
			d.Unpaced = d.Unpaced && s.Rate == 0
		}
	}
	d.Unpaced = d.Unpaced && seen
	var settleAt time.Duration = -1
	var runStart time.Duration = -1
	for _, s := range r.Trace {
		if d.Unpaced {
			break
		}
		if s.T <= at || s.T > next {
			continue
		}
		if s.Rate > 1.25*s.Limit {
			runStart = -1
			continue
		}
		if runStart < 0 {
			runStart = s.T - time.Second
		}
		if s.T-runStart >= settled {
			settleAt = runStart
			break
		}
	}
	if settleAt < 0 {
		settleAt = next
	}
	last := at
	for _, s := range r.Trace {
		if s.T <= at || s.T-time.Second >= settleAt || s.Throttled == 0 {
			continue
		}
		if d.Episodes == 0 || s.T-last > 5*time.Second {
			d.Episodes++
		}
		last = s.T
	}
	d.Settle = last - at
	return d
}

// to90 returns how long after at the goodput over a 5 s window first
// reached 90 % of limit, looking no further than until; -1 if never.
func (r *Result) to90(at, until time.Duration, limit float64) time.Duration {
	const window = 5
	for i, s := range r.Trace {
		if s.T-window*time.Second < at || s.T > until || i+1 < window {
			continue
		}
		var sum uint64
		for _, w := range r.Trace[i+1-window : i+1] {
			sum += w.Succeeded
		}
		if float64(sum) >= 0.9*limit*window {
			return s.T - at
		}
	}
	return -1
}

// WriteSummary writes r as a short aligned table.
func (r *Result) WriteSummary(w io.Writer) error {
	_, err := fmt.Fprintf(w, "%-17s %-18s goodput %6.2f%%  throttled %5.2f%%  failed %5d  p50 %8s  p99 %8s  decreases %4d  fairness %.3f  insideRA %5d\n",
		r.Scenario, r.Strategy, 100*r.Goodput, 100*r.ThrottledShare, r.Failed,
		round(r.LatencyP50), round(r.LatencyP99), r.Decreases, r.Fairness, r.InsideRetryAfter)
	return err
}

func round(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}
