package httpadapter_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/signal"
)

func TestNewTransportRejectsBadArguments(t *testing.T) {
	lim := newLimiter(t, steady)
	tests := []struct {
		name      string
		lim       *dynlimit.Limiter
		opt       httpadapter.Option
		wantName  string
		wantValue string
	}{
		{"nil limiter", nil, nil, "lim", "nil"},
		{"negative max retries", lim, httpadapter.WithMaxRetries(-1), "WithMaxRetries", "-1"},
		{"negative max wait", lim, httpadapter.WithMaxWait(-time.Second), "WithMaxWait", "-1s"},
		{"negative attempt timeout", lim, httpadapter.WithAttemptTimeout(-1), "WithAttemptTimeout", "-1ns"},
		{"negative drain limit", lim, httpadapter.WithDrainLimit(-1), "WithDrainLimit", "-1"},
		{"nil classifier", lim, httpadapter.WithClassifier(nil), "WithClassifier", "nil"},
		{"nil backoff", lim, httpadapter.WithBackoff(nil), "WithBackoff", "nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, err := httpadapter.NewTransport(nil, tt.lim, tt.opt)
			var oe *httpadapter.OptionError
			if !errors.As(err, &oe) {
				t.Fatalf("NewTransport = %v, %v; want an *OptionError", rt, err)
			}
			if rt != nil {
				t.Error("a Transport came with the error")
			}
			if oe.Name != tt.wantName || oe.Value != tt.wantValue || oe.Reason == "" {
				t.Errorf("OptionError = %+v, want Name %q, Value %q and a reason", *oe, tt.wantName, tt.wantValue)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "httpadapter: "+tt.wantName+" = "+tt.wantValue+": ") {
				t.Errorf("message %q does not name the option and its value", msg)
			}
		})
	}
}

func TestNewTransportAcceptsEdgeValues(t *testing.T) {
	_ = newTransport(t, nil, newLimiter(t, steady),
		nil,
		httpadapter.WithMaxRetries(0),
		httpadapter.WithMaxWait(time.Nanosecond),
		httpadapter.WithAttemptTimeout(0),
		httpadapter.WithDrainLimit(0),
		httpadapter.WithRetryNonIdempotent(false),
		httpadapter.WithReturnLastResponse(false),
	)
}

func TestErrorMessage(t *testing.T) {
	const secretURL = "https://alice:hunter2@api.example.com/v1/items?token=SECRET&page=2#frag"
	tests := []struct {
		name  string
		opts  []httpadapter.Option
		reply reply
		ctx   func() (context.Context, context.CancelFunc)
		want  string
	}{
		{
			name:  "retries exhausted",
			opts:  []httpadapter.Option{httpadapter.WithMaxRetries(3), constant(time.Second)},
			reply: status(503),
			want:  "httpadapter: GET https://api.example.com/v1/items: retries exhausted after 4 attempts, last status 503",
		},
		{
			name:  "no retries allowed",
			opts:  []httpadapter.Option{httpadapter.WithMaxRetries(0)},
			reply: reply{err: errors.New("connection refused")},
			// Nothing to give up on: the transport error comes back as it
			// is.
			want: "connection refused",
		},
		{
			name:  "retries exhausted with a Retry-After",
			opts:  []httpadapter.Option{httpadapter.WithMaxRetries(1)},
			reply: status(429, "Retry-After", "1"),
			want: "httpadapter: GET https://api.example.com/v1/items: retries exhausted after 2 attempts, last status 429, " +
				"retry-after 1s, next attempt possible at 2000-01-01T00:00:02Z",
		},
		{
			name:  "wait too long",
			opts:  []httpadapter.Option{httpadapter.WithMaxWait(time.Minute)},
			reply: status(429, "Retry-After", "120"),
			want: "httpadapter: GET https://api.example.com/v1/items: gave up waiting after 1 attempt, last status 429, " +
				"retry-after 2m0s, next attempt possible at 2000-01-01T00:02:00Z: wait of 2m0s exceeds the max wait of 1m0s",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt := newTransport(t, script(tt.reply), newLimiter(t, steady), tt.opts...)
				resp, err := rt.RoundTrip(get(t, context.Background(), secretURL))
				closeBody(resp)
				if err == nil {
					t.Fatal("no error")
				}
				msg := err.Error()
				if msg != tt.want {
					t.Errorf("message:\n got %s\nwant %s", msg, tt.want)
				}
				for _, secret := range []string{"SECRET", "token", "hunter2", "alice", "frag", "page"} {
					if strings.Contains(msg, secret) {
						t.Errorf("message %q leaks %q", msg, secret)
					}
				}
				var e *httpadapter.Error
				if errors.As(err, &e) && e.URL != "https://api.example.com/v1/items" {
					t.Errorf("URL = %q, want it without user info, query and fragment", e.URL)
				}
			})
		})
	}
}

func TestInFlightCapWaitsUntilTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := newLimiter(t, steady, dynlimit.WithMaxInFlight(1))
		p, err := lim.Wait(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer p.Done(signal.Signal{})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		rt := newTransport(t, script(status(200)), lim)
		start := time.Now()
		resp, err := rt.RoundTrip(get(t, ctx, apiURL))
		closeBody(resp)
		if d := time.Since(start); d != time.Second {
			t.Errorf("returned after %v, want at the deadline, 1s", d)
		}
		// An in-flight slot that does not free before the deadline is not a
		// *dynlimit.WaitError with a RetryAt: it comes back as the context's
		// error, after the wait.
		if err != context.DeadlineExceeded { //nolint:errorlint // ctx.Err() comes back unchanged
			t.Fatalf("err = %v, want the deadline", err)
		}
	})
}

// WithMaxWait(0) takes away the Transport's own cap, as
// dynlimit.WithMaxWait(0) does for permits: a Retry-After of 2 min, past
// the default cap of 1 min, is waited out and the retry succeeds.
func TestZeroMaxWaitMeansNoCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		rt := newTransport(t, script(status(429, "Retry-After", "120"), status(200)), newLimiter(t, steady), httpadapter.WithMaxWait(0))
		resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
		closeBody(resp)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("RoundTrip = %v, %v; want the retry's 200", resp, err)
		}
		if waited := time.Since(start); waited != 2*time.Minute {
			t.Errorf("answered after %v, want the Retry-After's 2m0s", waited)
		}
	})
}

// The default classifier reads dates on the limiter's clock, whatever it is.
func TestDefaultClassifierUsesTheLimitersClock(t *testing.T) {
	now := time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)
	lim := newLimiter(t, steady, dynlimit.WithClock(clock.NewFake(now)), dynlimit.WithMaxPause(3*time.Hour))
	up := script(status(429, "Retry-After", now.Add(2*time.Hour).Format(http.TimeFormat)))
	rt := newTransport(t, up, lim, httpadapter.WithMaxWait(time.Hour))
	resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
	closeBody(resp)
	var e *httpadapter.Error
	if !errors.As(err, &e) || e.RetryAfter != 2*time.Hour || !e.RetryAt.Equal(now.Add(2*time.Hour)) {
		t.Fatalf("err = %v, want a wait too long of 2h measured on the fake clock", err)
	}
}

func TestErrorOfARequestWithoutURL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := newTransport(t, script(status(503)), newLimiter(t, steady), httpadapter.WithMaxRetries(1), constant(time.Second))
		req := (&http.Request{Method: http.MethodGet, Header: http.Header{}}).WithContext(context.Background())
		resp, err := rt.RoundTrip(req)
		closeBody(resp)
		var e *httpadapter.Error
		if !errors.As(err, &e) || e.URL != "" {
			t.Fatalf("err = %v, want an *Error with no URL", err)
		}
		if want := "httpadapter: GET : retries exhausted after 2 attempts, last status 503"; err.Error() != want {
			t.Errorf("message:\n got %s\nwant %s", err, want)
		}
	})
}

// The URL of an *Error has the request's route for its path: a secret in
// the path (a webhook's) stays out of the message, as the query does.
func TestErrorURLIsTheRoute(t *testing.T) {
	const secretPath = "https://hooks.example.com/services/T0/B0/XXXXXXXXXXXXXXXXXXXXXXXX?token=SECRET"
	for _, tc := range []struct {
		name string
		opts []httpadapter.Option
		want string
	}{
		{"RouteTemplate", nil, "https://hooks.example.com/services/{}/{}/{}"},
		{"WithRoute", []httpadapter.Option{httpadapter.WithRoute(func(*http.Request) string { return "/services/{team}/{bot}/{secret}" })},
			"https://hooks.example.com/services/{team}/{bot}/{secret}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				opts := append([]httpadapter.Option{httpadapter.WithMaxRetries(1), constant(time.Second)}, tc.opts...)
				rt := newTransport(t, script(status(503)), newLimiter(t, steady), opts...)
				resp, err := rt.RoundTrip(get(t, context.Background(), secretPath))
				closeBody(resp)
				var e *httpadapter.Error
				if !errors.As(err, &e) || e.URL != tc.want {
					t.Fatalf("err = %v, want an *Error for %s", err, tc.want)
				}
				if msg := err.Error(); strings.Contains(msg, "XXXX") || strings.Contains(msg, "SECRET") {
					t.Errorf("message %q leaks the secret", msg)
				}
			})
		})
	}
}
