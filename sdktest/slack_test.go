package sdktest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/slack-go/slack"

	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/integrations"
)

// slackUpstream answers chat.postMessage as Slack does: 429 with
// Retry-After and {"ok":false,"error":"ratelimited"} for the attempts
// throttle says, then {"ok":true,...}.
func slackUpstream(throttle func(n int) bool) *upstream {
	return &upstream{h: func(w http.ResponseWriter, _ *http.Request, n int) {
		w.Header().Set("Content-Type", "application/json")
		if throttle(n) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"ok":false,"error":"ratelimited"}`)
			return
		}
		fmt.Fprint(w, `{"ok":true,"channel":"C1","ts":"1700000000.000100"}`)
	}}
}

func slackClient(t *testing.T, up *upstream, opts ...httpadapter.Option) *slack.Client {
	t.Helper()
	rt, err := integrations.NewTransport("slack", up, integrations.WithTransportOptions(opts...))
	if err != nil {
		t.Fatal(err)
	}
	return slack.New("xoxb-test", slack.OptionHTTPClient(&http.Client{Transport: rt}), slack.OptionAPIURL("https://slack.com/api/"))
}

// One 429 on chat.postMessage, a POST like every Web API call: the
// library waits out its Retry-After and sends it again; the SDK sees the
// success.
func TestSlackPostMessageThrottledOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := slackUpstream(func(n int) bool { return n == 1 })
		start := time.Now()
		_, _, err := slackClient(t, up).PostMessageContext(context.Background(), "C1", slack.MsgOptionText("hi", false))
		attempts, throttled := up.counts()
		t.Logf("slack-go, one 429: 1 call, %d attempts, %d throttled, err %v, after %v", attempts, throttled, err, time.Since(start))
		if err != nil || attempts != 2 || throttled != 1 {
			t.Errorf("err %v after %d attempts (%d throttled), want none after 2 (1)", err, attempts, throttled)
		}
		if waited := time.Since(start); waited < time.Second {
			t.Errorf("answered after %v, before the 1 s Retry-After", waited)
		}
	})
}

// Always 429. By default the library gives up with its own error, which
// slack-go wraps: errors.As finds the *httpadapter.Error and its RetryAt.
// With WithReturnLastResponse the SDK gets the last 429 itself and returns
// its *slack.RateLimitedError, whose RetryAfter its own retry loops read.
func TestSlackAlwaysThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := slackUpstream(func(int) bool { return true })
		_, _, err := slackClient(t, up).PostMessageContext(context.Background(), "C1", slack.MsgOptionText("hi", false))
		attempts, throttled := up.counts()
		t.Logf("slack-go, always 429, library's error: %d attempts, %d throttled, err %v", attempts, throttled, err)
		var he *httpadapter.Error
		if !errors.As(err, &he) || he.RetryAt.IsZero() || he.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("err = %v, want an *httpadapter.Error with RetryAt", err)
		}
		if attempts != 1+httpadapter.DefaultMaxRetries {
			t.Errorf("%d attempts, want 1 + %d retries", attempts, httpadapter.DefaultMaxRetries)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		up := slackUpstream(func(int) bool { return true })
		_, _, err := slackClient(t, up, httpadapter.WithReturnLastResponse(true)).
			PostMessageContext(context.Background(), "C1", slack.MsgOptionText("hi", false))
		attempts, throttled := up.counts()
		t.Logf("slack-go, always 429, last response: %d attempts, %d throttled, err %v", attempts, throttled, err)
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) || rl.RetryAfter != time.Second {
			t.Fatalf("err = %v (%T), want a *slack.RateLimitedError of 1 s", err, err)
		}
		if attempts != 1+httpadapter.DefaultMaxRetries {
			t.Errorf("%d attempts, want 1 + %d retries", attempts, httpadapter.DefaultMaxRetries)
		}
	})
}
