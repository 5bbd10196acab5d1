package httpadapter_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/policy"
)

// An upstream that answers every request with a Retry-After of 31,709
// years locks the limiter for its max pause, an hour, and no longer: the
// request that gets it fails at once saying when to retry, the event and
// the log report the capped pause, the requests with a deadline inside the
// hour fail at once, and a request without a deadline goes an hour (and
// a token) later.
func TestAHostileRetryAfterPausesForTheMaxPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := script(status(429, "Retry-After", "1000000000000"))
		lim := newLimiter(t, policy.DefaultAIMD())
		var buf bytes.Buffer
		var events []httpadapter.RequestEvent
		rt := newTransport(t, up, lim,
			httpadapter.WithLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))),
			httpadapter.WithOnRequest(func(ev httpadapter.RequestEvent) { events = append(events, ev) }))

		start := time.Now()
		resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
		closeBody(resp)
		var e *httpadapter.Error
		if !errors.As(err, &e) || !errors.Is(err, httpadapter.ErrWaitTooLong) {
			t.Fatalf("err = %v, want a wait too long", err)
		}
		if e.RetryAfter != dynlimit.DefaultMaxPause || !e.RetryAt.Equal(start.Add(dynlimit.DefaultMaxPause)) {
			t.Errorf("RetryAfter %v, RetryAt %v; want the max pause, %v, from the start", e.RetryAfter, e.RetryAt, dynlimit.DefaultMaxPause)
		}
		if len(events) != 1 || !events[0].Signal.PauseCapped || events[0].Signal.RetryAfter != time.Hour {
			t.Fatalf("events = %+v, want one whose signal has a Retry-After capped at 1h", events)
		}
		if log := buf.String(); !strings.Contains(log, `"retry_after":3600000000000`) || !strings.Contains(log, `"pause_capped":true`) {
			t.Errorf("log %s does not report the capped retry_after and pause_capped", log)
		}

		for i := range 20 {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			resp, err := rt.RoundTrip(get(t, ctx, apiURL))
			closeBody(resp)
			cancel()
			if !errors.Is(err, httpadapter.ErrWaitTooLong) {
				t.Fatalf("request %d with a 30s deadline: err = %v, want a wait too long", i, err)
			}
		}
		if time.Since(start) != 0 || up.attempts() != 1 {
			t.Fatalf("after %v, %d attempts; want none more during the pause, at once", time.Since(start), up.attempts())
		}

		resp, err = rt.RoundTrip(get(t, context.Background(), apiURL))
		closeBody(resp)
		// The throttle drained the bucket: the first token after the pause
		// comes one interval of the reduced rate later.
		if d := time.Since(start); d < time.Hour || d > time.Hour+time.Second {
			t.Errorf("a request without a deadline returned after %v, want the max pause, 1h, and a token", d)
		}
		if !errors.Is(err, httpadapter.ErrWaitTooLong) || up.attempts() != 2 {
			t.Errorf("err = %v after %d attempts; want the upstream reached again, once, and the same answer", err, up.attempts())
		}
	})
}
