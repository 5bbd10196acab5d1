package simtest

import (
	"math/rand/v2"
	"net/http"
	"testing"
	"time"
)

// call is one request to an upstream model at an instant, and the reply it
// must get.
type call struct {
	at   time.Duration
	want reply
}

// at makes one call per wanted reply, all at instant t.
func callsAt(t time.Duration, wants ...reply) []call {
	cs := make([]call, len(wants))
	for i, w := range wants {
		cs[i] = call{at: t, want: w}
	}
	return cs
}

func seq(parts ...[]call) []call {
	var cs []call
	for _, p := range parts {
		cs = append(cs, p...)
	}
	return cs
}

func times(n int, r reply) []reply {
	rs := make([]reply, n)
	for i := range rs {
		rs[i] = r
	}
	return rs
}

var (
	ok200       = reply{status: http.StatusOK}
	unavailable = reply{status: http.StatusServiceUnavailable}
)

func refused(retryAfter time.Duration) reply {
	return reply{status: http.StatusTooManyRequests, retryAfter: retryAfter}
}

func withQuota(r reply, limit, remaining int, reset time.Duration) reply {
	r.headers, r.limit, r.remaining, r.reset = true, limit, remaining, reset
	return r
}

// play sends cs to a fresh model of u in order. The rates and instants of
// the tables are binary fractions, so the bucket's float arithmetic is exact
// and replies can be compared whole.
func play(t *testing.T, u Upstream, cs []call) {
	t.Helper()
	up := newUpstream(u, rand.New(rand.NewPCG(1, 2)))
	for i, c := range cs {
		if got := up.serve(c.at); got != c.want {
			t.Errorf("call %d at %v: got %+v, want %+v", i, c.at, got, c.want)
		}
	}
}

const (
	msec = time.Millisecond
	sec  = time.Second
)

func TestUpstreamTokenBucket(t *testing.T) {
	tests := []struct {
		name  string
		u     Upstream
		calls []call
	}{
		{
			name: "burst at once then one per 1/rate",
			u:    Upstream{Model: ModelTokenBucket, Rate: 4, Burst: 3},
			calls: seq(
				callsAt(0, ok200, ok200, ok200, refused(0)),
				callsAt(125*msec, refused(0)), // half a token
				callsAt(250*msec, ok200, refused(0)),
				callsAt(500*msec, ok200, refused(0)),
			),
		},
		{
			name: "retry-after as configured",
			u:    Upstream{Model: ModelTokenBucket, Rate: 4, Burst: 1, RetryAfter: d(2 * sec)},
			calls: seq(
				callsAt(0, ok200, refused(2*sec)),
				callsAt(250*msec, ok200, refused(2*sec)),
			),
		},
		{
			name: "refill caps at burst",
			u:    Upstream{Model: ModelTokenBucket, Rate: 4, Burst: 2},
			calls: seq(
				callsAt(0, ok200, ok200, refused(0)),
				callsAt(time.Hour, ok200, ok200, refused(0)),
			),
		},
		{
			// remaining is the whole tokens left, reset the time to a full
			// bucket at the current rate.
			name: "quota headers",
			u:    Upstream{Model: ModelTokenBucket, Rate: 4, Burst: 2, Headers: true, RetryAfter: d(sec)},
			calls: seq(
				callsAt(0, withQuota(ok200, 2, 1, 250*msec), withQuota(ok200, 2, 0, 500*msec), withQuota(refused(sec), 2, 0, 500*msec)),
				callsAt(125*msec, withQuota(refused(sec), 2, 0, 375*msec)),
				callsAt(time.Minute, withQuota(ok200, 2, 1, 250*msec)),
			),
		},
		{
			name: "fractional burst floors in the limit header",
			u:    Upstream{Model: ModelTokenBucket, Rate: 2, Burst: 2.5, Headers: true},
			calls: seq(
				callsAt(0, withQuota(ok200, 2, 1, 500*msec), withQuota(ok200, 2, 0, time.Second), withQuota(refused(0), 2, 0, time.Second)),
			),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { play(t, tt.u, tt.calls) })
	}
}

func TestUpstreamFixedWindow(t *testing.T) {
	const w = 10 * sec
	tests := []struct {
		name  string
		u     Upstream
		calls []call
	}{
		{
			name: "limit per window, rollover at the exact boundary",
			u:    Upstream{Model: ModelFixedWindow, Limit: 2, Window: d(w), RetryAfter: d(3 * sec)},
			calls: seq(
				callsAt(0, ok200, ok200, refused(3*sec)),
				callsAt(w-1, refused(3*sec)),
				callsAt(w, ok200, ok200, refused(3*sec)),
				callsAt(2*w-1, refused(3*sec)),
				callsAt(2*w, ok200),
			),
		},
		{
			// reset counts down to the end of the window the instant falls
			// in, also after idle windows.
			name: "quota headers",
			u:    Upstream{Model: ModelFixedWindow, Limit: 3, Window: d(w), Headers: true},
			calls: seq(
				callsAt(0, withQuota(ok200, 3, 2, w), withQuota(ok200, 3, 1, w), withQuota(ok200, 3, 0, w), withQuota(refused(0), 3, 0, w)),
				callsAt(4*sec, withQuota(refused(0), 3, 0, 6*sec)),
				callsAt(w-1, withQuota(refused(0), 3, 0, 1)),
				callsAt(w, withQuota(ok200, 3, 2, w)),
				callsAt(35*sec, withQuota(ok200, 3, 2, 5*sec)),
				callsAt(39*sec+500*msec, withQuota(ok200, 3, 1, 500*msec)),
				callsAt(40*sec, withQuota(ok200, 3, 2, w)),
			),
		},
		{
			// The limit changes at the step'sec instant, even mid-window; what
			// the window has used so far still counts.
			name: "profile step",
			u: Upstream{
				Model: ModelFixedWindow, Limit: 3, Window: d(w), Headers: true,
				Profile: []Step{{At: d(15 * sec), Limit: 5}, {At: d(30 * sec), Limit: 1}},
			},
			calls: seq(
				callsAt(w, withQuota(ok200, 3, 2, w), withQuota(ok200, 3, 1, w), withQuota(ok200, 3, 0, w), withQuota(refused(0), 3, 0, w)),
				callsAt(15*sec, withQuota(ok200, 5, 1, 5*sec), withQuota(ok200, 5, 0, 5*sec), withQuota(refused(0), 5, 0, 5*sec)),
				callsAt(2*w, withQuota(ok200, 5, 4, w)),
				callsAt(30*sec, withQuota(ok200, 1, 0, w), withQuota(refused(0), 1, 0, w)),
			),
		},
		{
			name: "used beyond a lowered limit reports no negative remaining",
			u: Upstream{
				Model: ModelFixedWindow, Limit: 4, Window: d(w), Headers: true,
				Profile: []Step{{At: d(5 * sec), Limit: 1}},
			},
			calls: seq(
				callsAt(0, withQuota(ok200, 4, 3, w), withQuota(ok200, 4, 2, w)),
				callsAt(5*sec, withQuota(refused(0), 1, 0, 5*sec)),
			),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { play(t, tt.u, tt.calls) })
	}
}

func TestUpstreamTokenBucketProfile(t *testing.T) {
	tests := []struct {
		name  string
		u     Upstream
		calls []call
	}{
		{
			name:  "no step: 3 tokens after 3 sec at 1/sec",
			u:     Upstream{Model: ModelTokenBucket, Rate: 1, Burst: 10},
			calls: seq(callsAt(0, times(10, ok200)...), callsAt(3*sec, append(times(3, ok200), refused(0))...)),
		},
		{
			// 2 sec at the old rate, then 1 sec at the new one.
			name: "raise: refills at the old rate up to the step, then the new",
			u:    Upstream{Model: ModelTokenBucket, Rate: 1, Burst: 10, Profile: []Step{{At: d(2 * sec), Rate: 4}}},
			calls: seq(
				callsAt(0, times(10, ok200)...),
				callsAt(3*sec, append(times(2+4, ok200), refused(0))...),
			),
		},
		{
			name: "drop",
			u:    Upstream{Model: ModelTokenBucket, Rate: 4, Burst: 10, Profile: []Step{{At: d(sec), Rate: 1}}},
			calls: seq(
				callsAt(0, times(10, ok200)...),
				callsAt(2*sec, append(times(4+1, ok200), refused(0))...),
				callsAt(3*sec, ok200, refused(0)),
			),
		},
		{
			name: "step at 0 sets the starting rate",
			u:    Upstream{Model: ModelTokenBucket, Rate: 100, Burst: 1, Profile: []Step{{At: 0, Rate: 2}}},
			calls: seq(
				callsAt(0, ok200, refused(0)),
				callsAt(250*msec, refused(0)),
				callsAt(500*msec, ok200),
			),
		},
		{
			name: "steps passed between two requests all apply",
			u: Upstream{Model: ModelTokenBucket, Rate: 1, Burst: 20,
				Profile: []Step{{At: d(sec), Rate: 2}, {At: d(2 * sec), Rate: 4}, {At: d(3 * sec), Rate: 8}}},
			calls: seq(
				callsAt(0, times(20, ok200)...),
				callsAt(4*sec, append(times(1+2+4+8, ok200), refused(0))...),
			),
		},
		{
			name: "reset header uses the rate in force",
			u:    Upstream{Model: ModelTokenBucket, Rate: 1, Burst: 2, Headers: true, Profile: []Step{{At: d(10 * sec), Rate: 4}}},
			calls: seq(
				callsAt(0, withQuota(ok200, 2, 1, sec), withQuota(ok200, 2, 0, 2*sec)),
				callsAt(10*sec, withQuota(ok200, 2, 1, 250*msec), withQuota(ok200, 2, 0, 500*msec)),
			),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { play(t, tt.u, tt.calls) })
	}
}

func TestUpstreamOutagesAndThrottles(t *testing.T) {
	tests := []struct {
		name  string
		u     Upstream
		calls []call
	}{
		{
			// An outage answers before the limit is looked at, so it spends
			// no tokens and carries no quota headers.
			name: "outage is 503 over [from, to)",
			u: Upstream{Model: ModelTokenBucket, Rate: 1, Burst: 1, Headers: true, RetryAfter: d(sec),
				Outages: []Span{{From: d(10 * sec), To: d(20 * sec)}}},
			calls: seq(
				callsAt(10*sec-1, withQuota(ok200, 1, 0, sec)),
				callsAt(10*sec, unavailable, unavailable),
				callsAt(20*sec-1, unavailable),
				callsAt(20*sec, withQuota(ok200, 1, 0, sec)),
			),
		},
		{
			name: "several outages",
			u: Upstream{Model: ModelFixedWindow, Limit: 100, Window: d(time.Minute),
				Outages: []Span{{From: d(sec), To: d(2 * sec)}, {From: d(5 * sec), To: d(6 * sec)}}},
			calls: seq(
				callsAt(0, ok200), callsAt(sec, unavailable), callsAt(2*sec, ok200), callsAt(4*sec, ok200), callsAt(5*sec, unavailable), callsAt(6*sec, ok200),
			),
		},
		{
			name: "throttle span is 429 with Retry-After and spends nothing",
			u: Upstream{Model: ModelTokenBucket, Rate: 1, Burst: 2, RetryAfter: d(3 * sec),
				Throttles: []Span{{From: 0, To: d(2 * sec)}}},
			calls: seq(
				callsAt(0, refused(3*sec), refused(3*sec), refused(3*sec)),
				callsAt(2*sec-1, refused(3*sec)),
				callsAt(2*sec, ok200, ok200, refused(3*sec)),
			),
		},
		{
			name: "throttle span without Retry-After",
			u: Upstream{Model: ModelFixedWindow, Limit: 5, Window: d(time.Minute),
				Throttles: []Span{{From: d(sec), To: d(2 * sec)}}},
			calls: seq(callsAt(0, ok200), callsAt(sec, refused(0)), callsAt(2*sec, ok200)),
		},
		{
			name: "an outage wins over a throttle span",
			u: Upstream{Model: ModelTokenBucket, Rate: 1, Burst: 1, RetryAfter: d(sec),
				Outages:   []Span{{From: 0, To: d(sec)}},
				Throttles: []Span{{From: 0, To: d(2 * sec)}}},
			calls: seq(callsAt(0, unavailable), callsAt(sec, refused(sec)), callsAt(2*sec, ok200)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { play(t, tt.u, tt.calls) })
	}
}

func TestUpstreamPenaltyBox(t *testing.T) {
	const p = 10 * sec
	tests := []struct {
		name  string
		u     Upstream
		calls []call
	}{
		{
			// The block starts at the first 429, each refused request
			// pushes its end unavailable by the penalty, and Retry-After is the time
			// left. Tokens refill during the block.
			name: "block, extensions, release",
			u:    Upstream{Model: ModelTokenBucket, Rate: 1, Burst: 1, RetryAfter: d(sec), Penalty: d(p)},
			calls: seq(
				callsAt(0, ok200, refused(p)),
				callsAt(4*sec, refused(20*sec-4*sec)),
				callsAt(19*sec, refused(30*sec-19*sec)),
				callsAt(30*sec-1, refused(40*sec-(30*sec-1))),
				callsAt(40*sec, ok200, refused(p)),
				callsAt(50*sec, ok200),
			),
		},
		{
			name: "a longer Retry-After wins on the first refusal",
			u:    Upstream{Model: ModelTokenBucket, Rate: 1, Burst: 1, RetryAfter: d(15 * sec), Penalty: d(p)},
			calls: seq(
				callsAt(0, ok200, refused(15*sec)),
				callsAt(5*sec, refused(15*sec)),
				callsAt(25*sec, ok200),
			),
		},
		{
			name: "fixed window",
			u:    Upstream{Model: ModelFixedWindow, Limit: 1, Window: d(sec), Penalty: d(p)},
			calls: seq(
				callsAt(0, ok200, refused(p)),
				callsAt(2*sec, refused(18*sec)),
				callsAt(20*sec, ok200),
			),
		},
		{
			// With quota headers, a blocked caller is told it has nothing
			// left until the block ends, though the bucket refills: the
			// headers do not invite it back early.
			name: "headers during the block",
			u:    Upstream{Model: ModelTokenBucket, Rate: 1, Burst: 1, Penalty: d(p), Headers: true},
			calls: seq(
				callsAt(0, withQuota(ok200, 1, 0, sec), withQuota(refused(p), 1, 0, p)),
				callsAt(4*sec, withQuota(refused(16*sec), 1, 0, 16*sec)),
				callsAt(20*sec, withQuota(ok200, 1, 0, sec)),
			),
		},
		{
			name: "no penalty: a 429 blocks nothing",
			u:    Upstream{Model: ModelTokenBucket, Rate: 1, Burst: 1},
			calls: seq(
				callsAt(0, ok200, refused(0)),
				callsAt(sec, ok200),
			),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { play(t, tt.u, tt.calls) })
	}
}

func TestUpstreamLatency(t *testing.T) {
	tests := []struct {
		name     string
		lat      Latency
		min      time.Duration
		mean     time.Duration
		constant bool
	}{
		{name: "zero", lat: Latency{}, constant: true},
		{name: "mean equals min", lat: Latency{Min: d(70 * msec), Mean: d(70 * msec)}, min: 70 * msec, mean: 70 * msec, constant: true},
		{name: "exponential above min", lat: Latency{Min: d(20 * msec), Mean: d(80 * msec)}, min: 20 * msec, mean: 80 * msec},
		{name: "no min", lat: Latency{Mean: d(sec)}, mean: sec},
	}
	const n = 20000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := Upstream{Model: ModelTokenBucket, Rate: 1, Burst: 1, Latency: tt.lat}
			up := newUpstream(u, rand.New(rand.NewPCG(3, 4)))
			var sum time.Duration
			for i := range n {
				// Refused and outage replies take time too; the instant
				// does not matter.
				l := up.serve(time.Duration(i) * msec).latency
				if l < tt.min || tt.constant && l != tt.min {
					t.Fatalf("draw %d: latency %v, want >= %v (constant %v)", i, l, tt.min, tt.constant)
				}
				sum += l
			}
			// The exponential part'sec sample mean has a relative standard
			// error of 1/sqrt(n), under 1 %: 3 % is far unavailable in the tail.
			got := sum / n
			if diff := got - tt.mean; diff < -tt.mean*3/100 || diff > tt.mean*3/100 {
				t.Errorf("mean latency %v over %d draws, want %v ± 3%%", got, n, tt.mean)
			}
		})
	}
}

func TestCapacity(t *testing.T) {
	tb := Upstream{Model: ModelTokenBucket, Rate: 10, Burst: 5}
	fw := Upstream{Model: ModelFixedWindow, Limit: 100, Window: d(time.Minute)}
	tests := []struct {
		name string
		u    Upstream
		d    time.Duration
		want float64
	}{
		{"token bucket", tb, time.Minute, 5 + 10*60},
		{"token bucket, no time", tb, 0, 5},
		{"token bucket, fractional seconds", tb, 1500 * msec, 5 + 15},
		{"token bucket, profile", with(tb, func(u *Upstream) {
			u.Profile = []Step{{At: d(20 * sec), Rate: 4}, {At: d(40 * sec), Rate: 12}}
		}), time.Minute, 5 + 10*20 + 4*20 + 12*20},
		{"token bucket, step at 0", with(tb, func(u *Upstream) {
			u.Profile = []Step{{At: 0, Rate: 2}}
		}), time.Minute, 5 + 2*60},
		{"token bucket, step after the end", with(tb, func(u *Upstream) {
			u.Profile = []Step{{At: d(30 * sec), Rate: 4}, {At: d(90 * sec), Rate: 1000}}
		}), time.Minute, 5 + 10*30 + 4*30},
		{"token bucket, outage", with(tb, func(u *Upstream) {
			u.Outages = []Span{{From: d(10 * sec), To: d(20 * sec)}}
		}), time.Minute, 5 + 10*60 - 10*10},
		{"token bucket, outage of part seconds", with(tb, func(u *Upstream) {
			u.Outages = []Span{{From: d(10500 * msec), To: d(12 * sec)}}
		}), time.Minute, 5 + 10*60 - 15},
		{"token bucket, outage past the end", with(tb, func(u *Upstream) {
			u.Outages = []Span{{From: d(50 * sec), To: d(90 * sec)}, {From: d(2 * time.Minute), To: d(3 * time.Minute)}}
		}), time.Minute, 5 + 10*60 - 10*10},
		{"token bucket, outage across a step", with(tb, func(u *Upstream) {
			u.Profile = []Step{{At: d(20 * sec), Rate: 4}}
			u.Outages = []Span{{From: d(15 * sec), To: d(25 * sec)}}
		}), time.Minute, 5 + 10*20 + 4*40 - (10*5 + 4*5)},
		{"fixed window", fw, 10 * time.Minute, 100 * 10},
		{"fixed window, exact end", fw, time.Minute, 100},
		{"fixed window, a window begun in the span counts whole", fw, time.Minute + 1, 200},
		{"fixed window, partial last window", fw, 10*time.Minute + 30*sec, 100 * 11},
		{"fixed window, profile", with(fw, func(u *Upstream) {
			u.Profile = []Step{{At: d(2 * time.Minute), Limit: 50}, {At: d(3 * time.Minute), Limit: 200}}
		}), 4 * time.Minute, 100 + 100 + 50 + 200},
		{"fixed window, a step raises a window's limit mid-window", with(fw, func(u *Upstream) {
			u.Profile = []Step{{At: d(90 * sec), Limit: 300}}
		}), 2 * time.Minute, 100 + 300},
		{"fixed window, a step lowers it mid-window: what was served stays", with(fw, func(u *Upstream) {
			u.Profile = []Step{{At: d(90 * sec), Limit: 10}}
		}), 3 * time.Minute, 100 + 100 + 10},
		{"fixed window, a step after the end changes nothing", with(fw, func(u *Upstream) {
			u.Profile = []Step{{At: d(90 * sec), Limit: 300}}
		}), 80 * sec, 100 + 100},
		{"fixed window, outages do not count", with(fw, func(u *Upstream) {
			u.Outages = []Span{{From: 0, To: d(time.Minute)}}
		}), 2 * time.Minute, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := capacity(tt.u, tt.d); got != tt.want {
				t.Errorf("capacity over %v = %v, want %v", tt.d, got, tt.want)
			}
		})
	}
}

func TestRateAt(t *testing.T) {
	tb := Upstream{Model: ModelTokenBucket, Rate: 10, Burst: 10,
		Profile: []Step{{At: d(10 * sec), Rate: 4}, {At: d(20 * sec), Rate: 12}}}
	fw := Upstream{Model: ModelFixedWindow, Limit: 600, Window: d(time.Minute),
		Profile: []Step{{At: d(time.Minute), Limit: 120}}}
	tests := []struct {
		u    Upstream
		t    time.Duration
		want float64
	}{
		{tb, 0, 10}, {tb, 10*sec - 1, 10}, {tb, 10 * sec, 4}, {tb, 20 * sec, 12}, {tb, time.Hour, 12},
		{fw, 0, 10}, {fw, time.Minute, 2},
	}
	for _, tt := range tests {
		if got := tt.u.RateAt(tt.t); got != tt.want {
			t.Errorf("%sec RateAt(%v) = %v, want %v", tt.u.Model, tt.t, got, tt.want)
		}
	}
}
