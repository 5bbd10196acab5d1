package httpadapter_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynlimit/dynlimit/httpadapter"
)

// The limiter here is adaptive(): 50 requests/s with a burst of 50. Left to
// itself it would send every request of these tests at once, so whatever
// spreads them out is the upstream's hints.

// Acceptance check (a): after a 429 that says no request is left until the
// quota frees in 2 s, the upstream gets nothing before those 2 s are up.
func TestExhaustedQuotaHoldsTheRetryUntilTheReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := script(status(429, "RateLimit", `"default";r=0;t=2`), reply{status: 200, body: "ok"})
		lim := newLimiter(t, adaptive())
		rt := newTransport(t, up, lim)
		resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
		if err != nil {
			t.Fatalf("RoundTrip: %v", err)
		}
		if b := readBody(t, resp); b != "ok" {
			t.Errorf("body = %q, want the 200's", b)
		}
		got := up.sent()
		if len(got) != 2 {
			t.Fatalf("upstream saw %d attempts, want 2", len(got))
		}
		if gap := got[1].at.Sub(got[0].at); gap < 2*time.Second || gap > 2*time.Second+100*time.Millisecond {
			t.Errorf("retry went %v after the 429, want 2s (and not much more)", gap)
		}
	})
}

// The same hint on a success holds the next request, whoever makes it: the
// limiter cools down until the reset.
func TestExhaustedQuotaOnASuccessHoldsTheNextRequest(t *testing.T) {
	tests := []struct {
		name   string
		header []string
		reset  time.Duration
	}{
		{"IETF RateLimit", []string{"RateLimit", `"default";r=0;t=2`}, 2 * time.Second},
		{"X-RateLimit, seconds from now", []string{"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "3"}, 3 * time.Second},
		{"X-RateLimit, Unix time", []string{"X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "0",
			"X-RateLimit-Reset", strconv.FormatInt(present.Add(5*time.Second).Unix(), 10)}, 5 * time.Second},
		{"OpenAI", []string{"X-RateLimit-Remaining-Requests", "0", "X-RateLimit-Reset-Requests", "1.5s"}, 1500 * time.Millisecond},
		{"RateLimit draft -07", []string{"RateLimit", "limit=100, remaining=0, reset=4"}, 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				toPresent()
				up := script(status(200, tt.header...), status(200))
				rt := newTransport(t, up, newLimiter(t, adaptive()))
				for range 2 {
					resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
					if err != nil {
						t.Fatalf("RoundTrip: %v", err)
					}
					closeBody(resp)
				}
				g := up.gaps()
				if g[0] < tt.reset || g[0] > tt.reset+100*time.Millisecond {
					t.Errorf("second request went %v after the first, want %v (and not much more)", g[0], tt.reset)
				}
			})
		})
	}
}

// Acceptance check (b): an upstream that says 10 requests are left for the
// next 10 s sees the requests that follow spread over those 10 s, one a
// second, instead of a burst.
func TestRemainingQuotaIsSpreadUntilTheReset(t *testing.T) {
	tests := []struct {
		name   string
		header []string
	}{
		{"x-ratelimit-remaining", []string{"X-RateLimit-Remaining", "10", "X-RateLimit-Reset", "10"}},
		{"IETF RateLimit", []string{"RateLimit", `"default";r=10;t=10`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				up := script(status(200, tt.header...))
				rt := newTransport(t, up, newLimiter(t, adaptive()))
				for range 11 {
					resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
					if err != nil {
						t.Fatalf("RoundTrip: %v", err)
					}
					closeBody(resp)
				}
				// The first request learns the hint. The limiter keeps one
				// token saved while it paces, so the next goes at once; every
				// one after waits a tenth of the window.
				want := []time.Duration{0}
				for range 9 {
					want = append(want, time.Second)
				}
				if g := up.gaps(); fmt.Sprint(g) != fmt.Sprint(want) {
					t.Errorf("gaps between requests = %v, want %v", g, want)
				}
			})
		})
	}
}

// Without hints the same limiter sends everything at once: the spreading
// above is the hints' doing.
func TestNoHintsNoPacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := script(status(200))
		rt := newTransport(t, up, newLimiter(t, adaptive()))
		for range 11 {
			resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
			if err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			closeBody(resp)
		}
		for i, g := range up.gaps() {
			if g != 0 {
				t.Errorf("gap %d = %v, want 0", i, g)
			}
		}
	})
}

// quotaWindow is an upstream with a real quota: limit requests per window,
// the window starting with the first request. Every response says what is
// left and when the window resets, in the form the header function chooses;
// a request over the quota gets a 429.
type quotaWindow struct {
	limit  int
	window time.Duration
	header func(remaining int, reset time.Duration, end time.Time) []string

	mu      sync.Mutex
	start   time.Time
	used    int
	at      []time.Time
	refused int
}

func (q *quotaWindow) RoundTrip(req *http.Request) (*http.Response, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	if q.start.IsZero() || !now.Before(q.start.Add(q.window)) {
		q.start, q.used = now, 0
	}
	q.at = append(q.at, now)
	end := q.start.Add(q.window)
	if q.used == q.limit {
		q.refused++
		return response(req, 429, "", q.header(0, end.Sub(now), end)...), nil
	}
	q.used++
	return response(req, 200, "", q.header(q.limit-q.used, end.Sub(now), end)...), nil
}

// Acceptance check (b) against an upstream that counts: 11 requests a 10 s
// window, so 10 left after the first. The Transport spreads them over the
// window and is never refused.
func TestQuotaWindowIsNeverOverrun(t *testing.T) {
	secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }
	tests := []struct {
		name   string
		header func(remaining int, reset time.Duration, end time.Time) []string
	}{
		{"X-RateLimit, seconds from now", func(r int, reset time.Duration, _ time.Time) []string {
			return []string{"X-RateLimit-Remaining", strconv.Itoa(r), "X-RateLimit-Reset", secs(reset)}
		}},
		{"X-RateLimit, Unix time", func(r int, _ time.Duration, end time.Time) []string {
			return []string{"X-RateLimit-Limit", "11", "X-RateLimit-Remaining", strconv.Itoa(r), "X-RateLimit-Reset", strconv.FormatInt(end.Unix(), 10)}
		}},
		{"IETF RateLimit, whole seconds", func(r int, reset time.Duration, _ time.Time) []string {
			return []string{"RateLimit", fmt.Sprintf(`"default";r=%d;t=%d`, r, int(math.Ceil(reset.Seconds()))),
				"RateLimit-Policy", `"default";q=11;w=10`}
		}},
		// OpenAI's headers are not here: its quotas refill continuously,
		// and TestRefillingQuota paces by them as OpenAI counts.
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				toPresent()
				up := &quotaWindow{limit: 11, window: 10 * time.Second, header: tt.header}
				rt := newTransport(t, up, newLimiter(t, adaptive()), httpadapter.WithMaxRetries(0))
				for range 11 {
					resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
					if err != nil {
						t.Fatalf("RoundTrip: %v", err)
					}
					closeBody(resp)
				}
				if up.refused != 0 {
					t.Errorf("%d requests refused, want none", up.refused)
				}
				// After the first two (the second on the one saved token),
				// each request waits what is left of the window divided by
				// what is left of the quota: about 10/9 s.
				first := up.at[0]
				for i := 2; i < len(up.at); i++ {
					if g := up.at[i].Sub(up.at[i-1]); g < time.Second || g > 1400*time.Millisecond {
						t.Errorf("gap before request %d = %v, want about 1.1s", i+1, g)
					}
				}
				if last := up.at[len(up.at)-1].Sub(first); last < 9*time.Second || last > 11*time.Second {
					t.Errorf("the 11 requests took %v, want them spread over the 10 s window", last)
				}
			})
		})
	}
}

// The same header forms through the whole net/http stack (a real
// http.Server and http.Transport over in-memory pipes), in fake time: the
// retry after a 429 never goes before the instant the upstream allowed,
// and the 429's connection, drained, is reused.
func TestHeaderFormsEndToEndInBubble(t *testing.T) {
	tests := []struct {
		name   string
		header func(now time.Time) []string
		wait   time.Duration
	}{
		{"Retry-After seconds", func(time.Time) []string { return []string{"Retry-After", "2"} }, 2 * time.Second},
		{"Retry-After HTTP-date", func(now time.Time) []string {
			return []string{"Retry-After", now.Add(3 * time.Second).UTC().Format(http.TimeFormat)}
		}, 3 * time.Second},
		{"retry-after-ms", func(time.Time) []string { return []string{"Retry-After-Ms", "1500"} }, 1500 * time.Millisecond},
		{"X-RateLimit Unix time", func(now time.Time) []string {
			return []string{"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(now.Add(4*time.Second).Unix(), 10)}
		}, 4 * time.Second},
		{"IETF RateLimit", func(time.Time) []string { return []string{"RateLimit", `"default";r=0;t=2`} }, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				toPresent()
				var seen arrivals
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					now := time.Now()
					if seen.add(now) == 1 {
						h := tt.header(now)
						for i := 0; i < len(h); i += 2 {
							w.Header().Set(h[i], h[i+1])
						}
						http.Error(w, "slow down", http.StatusTooManyRequests)
						return
					}
					_, _ = io.WriteString(w, "ok")
				})
				base := serveInBubble(t, h)
				var dials int
				dial := base.DialContext
				base.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
					dials++
					return dial(ctx, network, addr)
				}
				lim := newLimiter(t, adaptive())
				client := &http.Client{Transport: newTransport(t, base, lim), Timeout: time.Minute}

				resp, err := client.Get("http://upstream.test/v1/items")
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				if b := readBody(t, resp); resp.StatusCode != http.StatusOK || b != "ok" {
					t.Errorf("got %d %q, want 200 ok", resp.StatusCode, b)
				}
				at := seen.all()
				if len(at) != 2 {
					t.Fatalf("server saw %d requests, want 2", len(at))
				}
				if gap := at[1].Sub(at[0]); gap < tt.wait || gap > tt.wait+100*time.Millisecond {
					t.Errorf("retry arrived %v after the 429, want %v (and not much more)", gap, tt.wait)
				}
				if dials != 1 {
					t.Errorf("%d connections dialed, want the drained one reused", dials)
				}
				if s := lim.Snapshot().Counters; s.Throttled != 1 || s.Succeeded != 1 {
					t.Errorf("counters = %+v, want one throttle and one success", s)
				}
			})
		})
	}
}

// OpenAI's quota headers describe a bucket that refills continuously, the
// reset being the time until it is full again: paced by them, a limiter is
// not slowed while half or more is left, spends Limit / Reset below that,
// and after the last unit waits for one to refill, not for the reset.
func TestRefillingQuota(t *testing.T) {
	openAI := func(limit, remaining string, reset time.Duration) []string {
		return []string{"X-RateLimit-Limit-Requests", limit, "X-RateLimit-Remaining-Requests", remaining,
			"X-RateLimit-Reset-Requests", reset.String()}
	}
	tests := []struct {
		name   string
		header []string
		gaps   []time.Duration // between the requests after the hint
	}{
		// 59 of 60 left: plenty, whatever the reset says (OpenAI's own
		// example says 6m0s for 16 of 150,000 tokens used).
		{"plenty left, a reset that does not fit", openAI("60", "59", 6*time.Minute), []time.Duration{0, 0}},
		// 10 of 30 left, full again in 40 s: 30 / 40 s, 0.75 a second,
		// after the one token the bucket keeps.
		{"a third left", openAI("30", "10", 40*time.Second), []time.Duration{0, 1333333333}},
		// None of 30 left, full in 60 s: one refills in 2 s. Read as a
		// window, this waited 60 s.
		{"none left", openAI("30", "0", time.Minute), []time.Duration{2 * time.Second, 2 * time.Second}},
		// Without the limit the refill rate is unknown: read as a window,
		// a cooldown until the reset, then the policy's 50 a second from
		// an empty bucket.
		{"none left, no limit", []string{"X-RateLimit-Remaining-Requests", "0", "X-RateLimit-Reset-Requests", "5s"},
			[]time.Duration{5*time.Second + 20*time.Millisecond, 20 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				up := script(status(200, tt.header...), status(200))
				rt := newTransport(t, up, newLimiter(t, adaptive()))
				for range 3 {
					resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
					if err != nil {
						t.Fatalf("RoundTrip: %v", err)
					}
					closeBody(resp)
				}
				if len(up.gaps()) != len(tt.gaps) {
					t.Fatalf("gaps %v, want %v", up.gaps(), tt.gaps)
				}
				for i, g := range up.gaps() {
					if w := tt.gaps[i]; g < w || g > w+time.Millisecond {
						t.Errorf("gaps %v, want %v", up.gaps(), tt.gaps)
						break
					}
				}
			})
		})
	}
}
