package sdktest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-github/v81/github"

	"github.com/dynlimit/dynlimit/integrations"
)

func gitHubClient(t *testing.T, up *upstream) *github.Client {
	t.Helper()
	rt, err := integrations.NewTransport("github", up)
	if err != nil {
		t.Fatal(err)
	}
	c := github.NewClient(&http.Client{Transport: rt}).WithAuthToken("ghp_test")
	c.BaseURL, _ = url.Parse("https://api.github.com/")
	return c
}

// A secondary rate limit on creating an issue, a POST: GitHub's 403 with
// Retry-After and its message. The library waits it out and sends the POST
// again (GitHub did not act on it); go-github sees the 201.
func TestGitHubCreateIssueSecondaryLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &upstream{h: func(w http.ResponseWriter, _ *http.Request, n int) {
			w.Header().Set("Content-Type", "application/json")
			if n == 1 {
				w.Header().Set("Retry-After", "60")
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprint(w, `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",`+
					`"documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`)
				return
			}
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"number":1,"title":"t"}`)
		}}
		start := time.Now()
		issue, _, err := gitHubClient(t, up).Issues.Create(context.Background(), "o", "r", &github.IssueRequest{Title: github.Ptr("t")})
		attempts, throttled := up.counts()
		t.Logf("go-github, a secondary limit on a POST: 1 call, %d attempts, %d throttled, err %v, after %v", attempts, throttled, err, time.Since(start))
		if err != nil || issue.GetNumber() != 1 || attempts != 2 || throttled != 1 {
			t.Errorf("issue %v, err %v after %d attempts (%d throttled); want #1 after 2 (1)", issue, err, attempts, throttled)
		}
		if waited := time.Since(start); waited < time.Minute {
			t.Errorf("answered after %v, before the 60 s Retry-After", waited)
		}
	})
}

// An exhausted primary limit: the response that spends the last unit says
// x-ratelimit-remaining 0 and a reset a minute away. go-github then refuses
// the next call itself, with a *github.RateLimitError and no request, where
// the limiter would have paced it; with DisableRateLimitCheck the call goes
// to the limiter, which holds it until the reset, and it succeeds.
func TestGitHubPrimaryLimitCheck(t *testing.T) {
	for _, disable := range []bool{false, true} {
		t.Run("DisableRateLimitCheck="+strconv.FormatBool(disable), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reset := time.Now().Add(time.Minute).Truncate(time.Second)
				up := &upstream{h: func(w http.ResponseWriter, _ *http.Request, n int) {
					w.Header().Set("Content-Type", "application/json")
					w.Header().Set("X-RateLimit-Limit", "5000")
					remaining := "0"
					if n > 1 {
						remaining = "4999" // after the reset
					}
					w.Header().Set("X-RateLimit-Remaining", remaining)
					w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
					fmt.Fprint(w, `{"id":1,"name":"r","full_name":"o/r"}`)
				}}
				c := gitHubClient(t, up)
				c.DisableRateLimitCheck = disable
				if _, _, err := c.Repositories.Get(context.Background(), "o", "r"); err != nil {
					t.Fatal(err)
				}
				_, _, err := c.Repositories.Get(context.Background(), "o", "r")
				attempts, _ := up.counts()
				t.Logf("go-github, DisableRateLimitCheck %v, the call after the last unit: %d attempts in all, err %v, at reset%+v",
					disable, attempts, err, time.Since(reset))
				var rl *github.RateLimitError
				if !disable {
					if !errors.As(err, &rl) || attempts != 1 {
						t.Errorf("err = %v after %d attempts, want go-github's own RateLimitError and no request", err, attempts)
					}
					return
				}
				if err != nil || attempts != 2 {
					t.Errorf("err = %v after %d attempts, want the call to succeed", err, attempts)
				}
				if time.Now().Before(reset) {
					t.Errorf("sent %v before the reset", time.Until(reset))
				}
			})
		})
	}
}
