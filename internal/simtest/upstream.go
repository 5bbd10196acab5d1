package simtest

import (
	"math/rand/v2"
	"time"

	"github.com/dynlimit/dynlimit/internal/fmath"
)

// reply is what the upstream answers to one request.
type reply struct {
	status     int
	retryAfter time.Duration // sent as Retry-After when > 0
	// quota headers, when the upstream reports them
	headers   bool
	limit     int
	remaining int
	reset     time.Duration
	latency   time.Duration
}

// upstream is the model of the API; times are offsets from the start.
type upstream struct {
	u   Upstream
	rng *rand.Rand

	// token bucket
	rate, burst, tokens float64
	last                time.Duration
	// fixed window
	limit       int
	windowStart time.Duration
	used        int
	// profile
	step int // index of the next profile step to apply
	// penalty box
	blockedUntil time.Duration
}

func newUpstream(u Upstream, rng *rand.Rand) *upstream {
	up := &upstream{u: u, rng: rng, rate: u.Rate, burst: u.Burst, tokens: u.Burst, limit: u.Limit}
	up.applyProfile(0)
	return up
}

// applyProfile brings the hidden limit up to date with the profile at now.
func (up *upstream) applyProfile(now time.Duration) {
	for up.step < len(up.u.Profile) && up.u.Profile[up.step].At.D() <= now {
		st := up.u.Profile[up.step]
		if up.u.Model == ModelTokenBucket {
			up.refill(st.At.D())
			up.rate = st.Rate
		} else {
			up.limit = st.Limit
		}
		up.step++
	}
}

func (up *upstream) refill(now time.Duration) {
	if now > up.last {
		up.tokens = fmath.Min(up.burst, up.tokens+up.rate*(now-up.last).Seconds())
		up.last = now
	}
}

func within(spans []Span, now time.Duration) bool {
	for _, o := range spans {
		if now >= o.From.D() && now < o.To.D() {
			return true
		}
	}
	return false
}

func (up *upstream) latency() time.Duration {
	l := up.u.Latency
	if l.Mean <= l.Min {
		return l.Min.D()
	}
	return l.Min.D() + time.Duration(up.rng.ExpFloat64()*float64(l.Mean-l.Min))
}

// serve answers a request that reaches the upstream at now.
func (up *upstream) serve(now time.Duration) reply {
	var r reply
	up.serveInto(now, &r)
	return r
}

// serveInto is serve, writing the reply to *r.
func (up *upstream) serveInto(now time.Duration, r *reply) {
	up.applyProfile(now)
	*r = reply{status: 200, latency: up.latency()}
	if within(up.u.Outages, now) {
		r.status = 503
		return
	}
	if within(up.u.Throttles, now) {
		r.status = 429
		r.retryAfter = up.u.RetryAfter.D()
		return
	}
	if up.u.Penalty > 0 && now < up.blockedUntil {
		up.blockedUntil += up.u.Penalty.D()
		r.status = 429
		r.retryAfter = up.blockedUntil - now
		up.quota(now, r)
		if r.headers {
			// Blocked, the caller has nothing left until the block ends,
			// whatever the bucket or the window would say.
			r.remaining, r.reset = 0, max(r.reset, up.blockedUntil-now)
		}
		return
	}
	ok := false
	switch up.u.Model {
	case ModelTokenBucket:
		up.refill(now)
		if up.tokens >= 1 {
			up.tokens--
			ok = true
		}
	case ModelFixedWindow:
		w := up.u.Window.D()
		if now-up.windowStart >= w {
			up.windowStart += (now - up.windowStart) / w * w
			up.used = 0
		}
		if up.used < up.limit {
			up.used++
			ok = true
		}
	}
	if !ok {
		r.status = 429
		r.retryAfter = up.u.RetryAfter.D()
		if up.u.Penalty > 0 {
			up.blockedUntil = now + up.u.Penalty.D()
			r.retryAfter = max(r.retryAfter, up.u.Penalty.D())
		}
	}
	up.quota(now, r)
	if !ok && r.headers && up.u.Penalty > 0 {
		r.remaining, r.reset = 0, max(r.reset, up.blockedUntil-now)
	}
}

// quota fills the quota headers of r, if the upstream reports them.
func (up *upstream) quota(now time.Duration, r *reply) {
	if !up.u.Headers {
		return
	}
	r.headers = true
	switch up.u.Model {
	case ModelTokenBucket:
		r.limit = int(up.burst)
		r.remaining = int(up.tokens)
		// Until the bucket is full again.
		r.reset = time.Duration((up.burst - up.tokens) / up.rate * float64(time.Second))
	case ModelFixedWindow:
		r.limit = up.limit
		r.remaining = max(up.limit-up.used, 0)
		r.reset = up.windowStart + up.u.Window.D() - now
	}
}

// capacity returns how many requests the upstream could have served over
// [0, d): the integral of its hidden rate, plus the initial burst of a
// token bucket, or for each window that began in the span the highest limit
// in force during it.
func capacity(u Upstream, d time.Duration) float64 {
	switch u.Model {
	case ModelFixedWindow:
		// A window serves up to its limit; a step of the profile inside it
		// changes the limit at once while what was used still counts, so
		// the most it can serve is the highest limit in force during it.
		w := u.Window.D()
		total := 0.0
		for start := time.Duration(0); start < d; start += w {
			most := limitAt(u, start)
			for _, st := range u.Profile {
				if at := st.At.D(); at > start && at < min(start+w, d) {
					most = max(most, limitAt(u, at))
				}
			}
			total += float64(most)
		}
		return total
	default:
		total, rate, from := u.Burst, u.Rate, time.Duration(0)
		for _, st := range u.Profile {
			at := min(st.At.D(), d)
			total += rate * (at - from).Seconds()
			rate, from = st.Rate, at
		}
		total += rate * (d - max(from, 0)).Seconds()
		return total - outageLoss(u, d)
	}
}

// outageLoss is the capacity a token bucket would have had during its
// outages, which nobody could use.
func outageLoss(u Upstream, d time.Duration) float64 {
	loss := 0.0
	for _, o := range u.Outages {
		from, to := o.From.D(), min(o.To.D(), d)
		for t := from; t < to; t += time.Second {
			loss += rateAt(u, t) * min(time.Second, to-t).Seconds()
		}
	}
	return loss
}

// RateAt returns the hidden limit at t, in requests per second: the token
// bucket's rate, or a fixed window's limit divided by its length.
func (u Upstream) RateAt(t time.Duration) float64 { return rateAt(u, t) }

// PeakRate returns the highest hidden limit of s's upstream within its
// duration, in requests per second (see Upstream.RateAt).
func (s Scenario) PeakRate() float64 {
	peak := s.Upstream.RateAt(0)
	for _, st := range s.Upstream.Profile {
		if at := st.At.D(); at > 0 && at < s.Duration.D() {
			peak = max(peak, s.Upstream.RateAt(at))
		}
	}
	return peak
}

// rateAt is the hidden rate of a token bucket (or the per-second rate of a
// fixed window) at t.
func rateAt(u Upstream, t time.Duration) float64 {
	if u.Model == ModelFixedWindow {
		return float64(limitAt(u, t)) / u.Window.D().Seconds()
	}
	r := u.Rate
	for _, st := range u.Profile {
		if st.At.D() <= t {
			r = st.Rate
		}
	}
	return r
}

func limitAt(u Upstream, t time.Duration) int {
	l := u.Limit
	for _, st := range u.Profile {
		if st.At.D() <= t {
			l = st.Limit
		}
	}
	return l
}
