package httpadapter_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/bucket/buckettest"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/policy"
)

// fixedCost prices every request with a body at n units, one without at 0.
func fixedCost(n float64) httpadapter.CostFunc {
	return func(req *http.Request) float64 {
		if req.Body == nil || req.Body == http.NoBody {
			return 0
		}
		return n
	}
}

// A token budget of 100 tokens/s with a burst of 100 lets one 100-token
// request through at once and the next a second later, though the request
// limiter would let both go at once.
func TestCostPacesByTheSecondBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := script(reply{status: 200, body: "ok"})
		tokens := newLimiter(t, policy.Fixed{Rate: 100, Burst: 100})
		rt := newTransport(t, up, newLimiter(t, steady), httpadapter.WithCost(tokens, fixedCost(100)))
		for range 3 {
			resp, err := rt.RoundTrip(newRequest(t, context.Background(), http.MethodPost, apiURL, `{"max_tokens":100}`))
			if err != nil {
				t.Fatal(err)
			}
			closeBody(resp)
		}
		// GET: no body, no cost: at once.
		resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
		if err != nil {
			t.Fatal(err)
		}
		closeBody(resp)
		var got []time.Duration
		for _, s := range up.sent() {
			got = append(got, s.at.Sub(synctestEpoch))
		}
		want := []time.Duration{0, time.Second, 2 * time.Second, 2 * time.Second}
		if len(got) != len(want) {
			t.Fatalf("sent at %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("request %d sent at %v, want %v", i, got[i], want[i])
			}
		}
		if s := tokens.Snapshot(); s.Counters.Granted != 3 {
			t.Errorf("token budget granted %d permits, want 3", s.Counters.Granted)
		}
	})
}

// A cost above the burst is capped at the burst rather than never served;
// NaN, negative and 0 costs spend nothing.
func TestCostIsCappedAtTheBurst(t *testing.T) {
	for _, tc := range []struct {
		cost float64
		want float64 // tokens taken
	}{
		{1e9, 50}, {0.2, 1}, {49.5, 50}, {0, 0}, {-3, 0}, {nanCost(), 0},
	} {
		t.Run(strconv.FormatFloat(tc.cost, 'g', -1, 64), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tokens := newLimiter(t, policy.Fixed{Rate: 1, Burst: 50})
				rt := newTransport(t, script(reply{status: 200}), newLimiter(t, steady), httpadapter.WithCost(tokens, fixedCost(tc.cost)))
				resp, err := rt.RoundTrip(newRequest(t, context.Background(), http.MethodPost, apiURL, "{}"))
				if err != nil {
					t.Fatal(err)
				}
				closeBody(resp)
				if got := 50 - tokens.Snapshot().Tokens; got < tc.want-1e-6 || got > tc.want+1e-6 {
					t.Errorf("took %v tokens, want %v", got, tc.want)
				}
			})
		})
	}
}

func nanCost() float64 { var z float64; return z / z }

// The token quota headers reach the token budget, the request quota headers
// the request limiter: each budget paces by its own.
func TestCostLearnsFromTheTokenHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := script(status(200,
			"X-RateLimit-Remaining-Requests", "99", "X-RateLimit-Reset-Requests", "10s",
			"X-RateLimit-Remaining-Tokens", "0", "X-RateLimit-Reset-Tokens", "3s"),
			reply{status: 200})
		tokens := newLimiter(t, adaptive())
		reqs := newLimiter(t, adaptive())
		rt := newTransport(t, up, reqs, httpadapter.WithCost(tokens, fixedCost(1)))
		for range 2 {
			resp, err := rt.RoundTrip(newRequest(t, context.Background(), http.MethodPost, apiURL, "{}"))
			if err != nil {
				t.Fatal(err)
			}
			closeBody(resp)
		}
		got := up.sent()
		// After the reset, one token at the budget's 50/s: 20 ms.
		if gap := got[1].at.Sub(got[0].at); gap < 3*time.Second || gap > 3*time.Second+20*time.Millisecond {
			t.Errorf("second request went %v after the first, want the token reset, 3s (and a token's 20 ms)", gap)
		}
		if s := reqs.Snapshot(); s.QuotaRate != 99.0/10 {
			t.Errorf("request limiter's quota rate = %v, want 9.9 (99 left over 10 s)", s.QuotaRate)
		}
	})
}

// A 429 that the headers blame on tokens alone slows the token budget, not
// the request rate; one they blame on requests alone the reverse; one with
// no headers both.
func TestCostThrottleAttribution(t *testing.T) {
	tests := []struct {
		name               string
		header             []string
		reqDecr, tokenDecr uint64
	}{
		{"tokens", []string{"X-RateLimit-Remaining-Requests", "50", "X-RateLimit-Reset-Requests", "1s",
			"X-RateLimit-Remaining-Tokens", "0", "X-RateLimit-Reset-Tokens", "1s"}, 0, 1},
		{"requests", []string{"X-RateLimit-Remaining-Requests", "0", "X-RateLimit-Reset-Requests", "1s",
			"X-RateLimit-Remaining-Tokens", "500", "X-RateLimit-Reset-Tokens", "1s"}, 1, 0},
		{"unknown", nil, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				up := script(status(429, tt.header...), reply{status: 200})
				tokens := newLimiter(t, adaptive())
				reqs := newLimiter(t, adaptive())
				rt := newTransport(t, up, reqs, httpadapter.WithCost(tokens, fixedCost(1)), constant(time.Second))
				resp, err := rt.RoundTrip(newRequest(t, context.Background(), http.MethodPut, apiURL, "{}"))
				if err != nil {
					t.Fatal(err)
				}
				closeBody(resp)
				if got := reqs.Snapshot().Counters.Decreases; got != tt.reqDecr {
					t.Errorf("request limiter decreased %d times, want %d", got, tt.reqDecr)
				}
				if got := tokens.Snapshot().Counters.Decreases; got != tt.tokenDecr {
					t.Errorf("token budget decreased %d times, want %d", got, tt.tokenDecr)
				}
			})
		})
	}
}

// A wait for tokens past the request's deadline fails at once with
// ErrWaitTooLong, and the request permit already taken is given back.
func TestCostWaitPastTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := script(reply{status: 200})
		tokens := newLimiter(t, policy.Fixed{Rate: 1, Burst: 10})
		reqs := newLimiter(t, steady, dynlimit.WithMaxInFlight(1))
		rt := newTransport(t, up, reqs, httpadapter.WithCost(tokens, fixedCost(10)))
		resp, err := rt.RoundTrip(newRequest(t, context.Background(), http.MethodPost, apiURL, "{}"))
		if err != nil {
			t.Fatal(err)
		}
		closeBody(resp)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		resp, err = rt.RoundTrip(newRequest(t, ctx, http.MethodPost, apiURL, "{}"))
		closeBody(resp)
		if !errors.Is(err, httpadapter.ErrWaitTooLong) {
			t.Fatalf("err = %v, want ErrWaitTooLong", err)
		}
		if time.Since(start) != 0 {
			t.Errorf("failed after %v, want at once", time.Since(start))
		}
		if n := reqs.Snapshot().InFlight; n != 0 {
			t.Errorf("%d request permits still out, want 0", n)
		}
		if up.attempts() != 1 {
			t.Errorf("upstream saw %d attempts, want 1", up.attempts())
		}
	})
}

func TestWithCostRejectsNil(t *testing.T) {
	lim := newLimiter(t, steady)
	for _, o := range []httpadapter.Option{httpadapter.WithCost(nil, fixedCost(1)), httpadapter.WithCost(lim, nil)} {
		var oe *httpadapter.OptionError
		if _, err := httpadapter.NewTransport(nil, lim, o); !errors.As(err, &oe) || oe.Name != "WithCost" {
			t.Errorf("err = %v, want an OptionError naming WithCost", err)
		}
	}
}

// The Transport's Snapshots lists its limiter, then the cost budget's.
func TestTransportSnapshots(t *testing.T) {
	reqs := newLimiter(t, steady, dynlimit.WithName("requests"))
	tokens := newLimiter(t, steady, dynlimit.WithName("tokens"))
	rt := newTransport(t, nil, reqs, httpadapter.WithCost(tokens, fixedCost(1)))
	var names []string
	for _, s := range rt.Snapshots() {
		names = append(names, s.Name)
	}
	if len(names) != 2 || names[0] != "requests" || names[1] != "tokens" {
		t.Errorf("snapshots of %v, want [requests tokens]", names)
	}
	if got := newTransport(t, nil, reqs).Snapshots(); len(got) != 1 {
		t.Errorf("%d snapshots without a cost budget, want 1", len(got))
	}
}

// A budget whose capacity shrank below what its limiter last knew still
// serves a costly request, at the capacity the bucket reports, rather than
// refuse every one of them until a policy step tells the limiter.
func TestCostCappedAtAShrunkBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tokens := newLimiter(t, policy.Fixed{Rate: 1, Burst: 50}, dynlimit.WithBucket(buckettest.Shrunk(bucket.NewLocal(), 12)))
		rt := newTransport(t, script(reply{status: 200}, reply{status: 200}), newLimiter(t, steady), httpadapter.WithCost(tokens, fixedCost(40)))
		for i := range 2 {
			resp, err := rt.RoundTrip(newRequest(t, context.Background(), http.MethodPost, apiURL, "{}"))
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			closeBody(resp)
		}
		if s := tokens.Snapshot(); s.Counters.Granted != 2 {
			t.Errorf("the budget granted %d permits, want 2", s.Counters.Granted)
		}
	})
}
