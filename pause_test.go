package dynlimit_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

// pauseForm is one way an upstream can ask for a pause, through the headers
// of one response.
type pauseForm struct {
	name   string
	status int
	header []string // name, value, name, value...
	// cooldown: the form stops every permit until its end (a Retry-After,
	// an exhausted quota); otherwise it paces the quota's units left.
	cooldown bool
}

// farPauseForms are the forms of an absurd or hostile pause, each at least
// years long, at t0: every one must be acted on as the max pause at most.
func farPauseForms() []pauseForm {
	far := t0.AddDate(30, 0, 0)
	return []pauseForm{
		{"Retry-After 1e12 seconds", 429, []string{"Retry-After", "1000000000000"}, true},
		{"Retry-After past int64 nanoseconds", 429, []string{"Retry-After", "99999999999"}, true},
		{"Retry-After HTTP-date in 2999", 429, []string{"Retry-After", time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat)}, true},
		{"retry-after-ms of years", 429, []string{"Retry-After-Ms", "999999999999"}, true},
		{"429, X-RateLimit reset epoch 30 years out", 429, []string{"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(far.Unix(), 10)}, true},
		{"200, X-RateLimit-Remaining 0 and a reset epoch 30 years out", 200, []string{"X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(far.Unix(), 10)}, true},
		{"200, X-RateLimit-Remaining 0 and a reset of 3 years", 200, []string{"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "100000000"}, true},
		{"200, X-RateLimit reset at the parser's saturation", 200, []string{"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1000000000000000"}, true},
		{"200, X-RateLimit-Remaining 1 and a far reset", 200, []string{"X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "1", "X-RateLimit-Reset", strconv.FormatInt(far.Unix(), 10)}, false},
		{"IETF RateLimit r=0;t=999999999", 200, []string{"RateLimit", `"default";r=0;t=999999999`, "RateLimit-Policy", `"default";q=100;w=60`}, true},
		{"IETF RateLimit r=1;t=999999999", 200, []string{"RateLimit", `"default";r=1;t=999999999`, "RateLimit-Policy", `"default";q=100;w=60`}, false},
		{"draft RateLimit-Reset of years", 429, []string{"RateLimit-Limit", "100", "RateLimit-Remaining", "0", "RateLimit-Reset", "999999999"}, true},
		{"draft RateLimit dictionary reset of years", 200, []string{"RateLimit", "limit=100, remaining=0, reset=999999999"}, true},
		// A quota that refills does not stop permits: it paces them at
		// Limit / the capped reset.
		{"OpenAI reset-requests of 99999h", 200, []string{"X-RateLimit-Limit-Requests", "500", "X-RateLimit-Remaining-Requests", "0", "X-RateLimit-Reset-Requests", "99999h"}, false},
		{"Jira timestamp in 2999", 200, []string{"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "2999-01-01T00:00Z"}, true},
	}
}

// classify is what signal.HTTP makes, on clk, of a response with status
// and header.
func classify(clk clock.Clock, status int, header []string) signal.Signal {
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Add(header[i], header[i+1])
	}
	resp := &http.Response{StatusCode: status, Header: h, Body: http.NoBody}
	defer resp.Body.Close()
	return signal.HTTP{Clock: clk}.Classify(resp, nil)
}

// Whatever form an upstream's pause takes, the limiter acts on it as the
// max pause at most: its cooldown and quota pacing end by then, the
// outcome its observers see is capped and says so, and a permit can be
// had when the pause is over.
func TestUpstreamPausesAreCappedAtTheMaxPause(t *testing.T) {
	for _, maxPause := range []time.Duration{0, 10 * time.Minute, 24 * time.Hour} {
		want := maxPause
		var opts []dynlimit.Option
		if maxPause == 0 {
			want = dynlimit.DefaultMaxPause
		} else {
			opts = append(opts, dynlimit.WithMaxPause(maxPause))
		}
		for _, f := range farPauseForms() {
			t.Run(want.String()+"/"+f.name, func(t *testing.T) {
				clk := clock.NewFake(t0)
				var seen []dynlimit.Event
				lim := newLimiter(t, append(opts, dynlimit.WithClock(clk),
					dynlimit.WithObserver(dynlimit.ObserverFunc(func(e dynlimit.Event) {
						if e.Kind == dynlimit.EventOutcome {
							seen = append(seen, e)
						}
					})))...)
				if got := lim.MaxPause(); got != want {
					t.Fatalf("MaxPause() = %v, want %v", got, want)
				}
				sig := classify(clk, f.status, f.header)
				if !sig.HasRetryAfter && sig.Quota.Reset <= want {
					t.Fatalf("the classifier read %+v: not a far pause, the test is wrong", sig)
				}
				p := allow(t, lim, t0, 1)
				p.DoneAt(t0, sig)

				if len(seen) != 1 {
					t.Fatalf("%d outcome events, want 1", len(seen))
				}
				got := seen[0].Signal
				if !got.PauseCapped || got.RetryAfter > want || got.Quota.Reset > want || got.TokenQuota.Reset > want {
					t.Errorf("the event's signal = %+v, want its pauses capped at %v and PauseCapped", got, want)
				}
				s := lim.Snapshot()
				end := t0.Add(want)
				if s.CooldownUntil.After(end) || s.QuotaUntil.After(end) {
					t.Fatalf("cooldown until %v, quota paced until %v: past the max pause, %v", s.CooldownUntil, s.QuotaUntil, end)
				}
				if f.cooldown && !s.CooldownUntil.Equal(end) {
					t.Errorf("cooldown until %v, want %v: the pause the upstream asked for, capped", s.CooldownUntil, end)
				}
				if !f.cooldown && !s.QuotaUntil.Equal(end) {
					t.Errorf("quota paced until %v, want %v", s.QuotaUntil, end)
				}
				if f.cooldown {
					if _, ok := lim.AllowN(end.Add(-time.Millisecond), 1); ok {
						t.Error("a permit was granted during the cooldown")
					}
				}
				// Once the pause is over, the limiter is not locked: the rate
				// is the policy's again and a permit comes within its interval.
				r, err := lim.ReserveN(end, 1)
				if err != nil {
					t.Fatal(err)
				}
				if d := r.DelayFrom(end); d > time.Second {
					t.Errorf("a permit asked for at the end of the pause waits %v more", d)
				}
			})
		}
	}
}

// A pause within the max pause is acted on as sent, and not reported as
// capped.
func TestPausesWithinTheMaxPauseAreKept(t *testing.T) {
	clk := clock.NewFake(t0)
	var got signal.Signal
	lim := newLimiter(t, dynlimit.WithClock(clk), dynlimit.WithMaxPause(time.Minute),
		dynlimit.WithObserver(dynlimit.ObserverFunc(func(e dynlimit.Event) {
			if e.Kind == dynlimit.EventOutcome {
				got = e.Signal
			}
		})))
	sig := classify(clk, 429, []string{"Retry-After", "60"})
	allow(t, lim, t0, 1).DoneAt(t0, sig)
	if got.PauseCapped || got.RetryAfter != time.Minute {
		t.Errorf("the event's signal = %+v, want Retry-After 1m0s, not capped", got)
	}
	if s := lim.Snapshot(); !s.CooldownUntil.Equal(t0.Add(time.Minute)) {
		t.Errorf("cooldown until %v, want %v", s.CooldownUntil, t0.Add(time.Minute))
	}
}
