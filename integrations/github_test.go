package integrations_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/signal"
)

func TestGitHubClassifier(t *testing.T) {
	epoch := func(d time.Duration) string { return strconv.FormatInt(ruleT0.Add(d).Unix(), 10) }
	primary := signal.Quota{Limit: 5000, Remaining: 0, HasRemaining: true, Reset: 10 * time.Minute}
	primaryHeaders := []string{"X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", epoch(10 * time.Minute)}
	cases := []ruleCase{
		{
			name: "429 with retry-after", status: 429,
			header: []string{"Retry-After", "30"},
			want:   signal.Signal{Kind: signal.Throttled, RetryAfter: 30 * time.Second, HasRetryAfter: true},
		},
		{
			name: "429 secondary without retry-after waits 60s", status: 429,
			want: signal.Signal{Kind: signal.Throttled, RetryAfter: time.Minute, HasRetryAfter: true},
		},
		{
			name: "429 primary waits until the epoch reset plus 1s", status: 429,
			header: primaryHeaders,
			want:   signal.Signal{Kind: signal.Throttled, RetryAfter: 10*time.Minute + time.Second, HasRetryAfter: true, Quota: primary},
		},
		{
			name: "403 primary: remaining 0", status: 403,
			header: primaryHeaders, body: `{"message":"API rate limit exceeded for user ID 1."}`,
			want: signal.Signal{Kind: signal.Throttled, RetryAfter: 10*time.Minute + time.Second, HasRetryAfter: true, Quota: primary},
		},
		{
			name: "403 primary: retry-after wins over the reset", status: 403,
			header: append([]string{"Retry-After", "5"}, primaryHeaders...),
			want:   signal.Signal{Kind: signal.Throttled, RetryAfter: 5 * time.Second, HasRetryAfter: true, Quota: primary},
		},
		{
			name: "403 primary: reset already past waits 1s", status: 403,
			header: []string{"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", epoch(-time.Minute)},
			want:   signal.Signal{Kind: signal.Throttled, RetryAfter: time.Second, HasRetryAfter: true, Quota: signal.Quota{HasRemaining: true}},
		},
		{
			name: "403 primary: malformed reset waits 60s", status: 403,
			header: []string{"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "soon"},
			want:   signal.Signal{Kind: signal.Throttled, RetryAfter: time.Minute, HasRetryAfter: true, Quota: signal.Quota{HasRemaining: true}},
		},
		{
			name: "403 with retry-after", status: 403,
			header: []string{"Retry-After", "120", "X-RateLimit-Remaining", "4000"},
			want:   signal.Signal{Kind: signal.Throttled, RetryAfter: 2 * time.Minute, HasRetryAfter: true, Quota: signal.Quota{Remaining: 4000, HasRemaining: true}},
		},
		{
			name: "403 with a malformed retry-after is still a rate limit", status: 403,
			header: []string{"Retry-After", "later"},
			want:   signal.Signal{Kind: signal.Throttled, RetryAfter: time.Minute, HasRetryAfter: true},
		},
		{
			name: "403 secondary in the body", status: 403,
			header: []string{"X-RateLimit-Remaining", "4000"},
			body:   `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}`,
			want:   signal.Signal{Kind: signal.Throttled, RetryAfter: time.Minute, HasRetryAfter: true, Quota: signal.Quota{Remaining: 4000, HasRemaining: true}},
		},
		{
			name: "403 secondary in the body, any case", status: 403,
			body: `{"message":"You have exceeded a Secondary Rate Limit."}`,
			want: signal.Signal{Kind: signal.Throttled, RetryAfter: time.Minute, HasRetryAfter: true},
		},
		{
			name: "403 permission error is Failed", status: 403,
			header: []string{"X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "4999"},
			body:   `{"message":"Resource not accessible by integration"}`,
			want:   signal.Signal{Kind: signal.Failed, Quota: signal.Quota{Limit: 5000, Remaining: 4999, HasRemaining: true}},
		},
		{
			name: "403 without headers or body is Failed", status: 403,
			want: signal.Signal{Kind: signal.Failed},
		},
		{
			name: "403 with a malformed remaining is Failed", status: 403,
			header: []string{"X-RateLimit-Remaining", "zero"},
			body:   `{"message":"Must have admin rights to Repository."}`,
			want:   signal.Signal{Kind: signal.Failed},
		},
		{
			name: "403 mentioning a rate limit that is not secondary is Failed", status: 403,
			body: `{"message":"Rate limits are described in the docs."}`,
			want: signal.Signal{Kind: signal.Failed},
		},
		{
			name: "200 carries the quota", status: 200,
			header: []string{"X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "10", "X-RateLimit-Reset", epoch(time.Hour), "X-RateLimit-Resource", "core"},
			want:   signal.Signal{Kind: signal.Success, Quota: signal.Quota{Limit: 5000, Remaining: 10, HasRemaining: true, Reset: time.Hour}},
		},
		{name: "404", status: 404, body: `{"message":"Not Found"}`, want: signal.Signal{Kind: signal.Failed}},
		{name: "502", status: 502, want: signal.Signal{Kind: signal.Overloaded}},
	}
	runRuleCases(t, integrations.GitHubClassifier, cases)
}

// Only the first 64 KiB of a 403's body are looked at, and the caller reads
// all of it whatever the classifier saw.
func TestGitHubClassifierLargeBody(t *testing.T) {
	pad := strings.Repeat("x", 64<<10)
	phrase := "secondary rate limit"
	limited := signal.Signal{Kind: signal.Throttled, RetryAfter: time.Minute, HasRetryAfter: true}
	cases := []ruleCase{
		{name: "phrase first", status: 403, body: phrase + pad, want: limited},
		{name: "phrase ending at 64 KiB", status: 403, body: pad[len(phrase):] + phrase + pad, want: limited},
		{name: "phrase beyond 64 KiB", status: 403, body: pad + phrase, want: signal.Signal{Kind: signal.Failed}},
		{name: "phrase across 64 KiB", status: 403, body: pad[1:] + phrase, want: signal.Signal{Kind: signal.Failed}},
	}
	runRuleCases(t, integrations.GitHubClassifier, cases)
}

// A reset too far ahead for a Duration saturates instead of wrapping
// around into a negative wait.
func TestGitHubClassifierHugeReset(t *testing.T) {
	c := integrations.GitHubClassifier(nil)
	resp := &http.Response{StatusCode: http.StatusForbidden, Header: ruleHeader("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "999999999999999999999"), Body: http.NoBody}
	s := c.Classify(resp, nil)
	if s.Kind != signal.Throttled || s.RetryAfter <= 0 {
		t.Errorf("Classify = %+v, want Throttled with a positive RetryAfter", s)
	}
}

// GitHub documents x-ratelimit-reset as a Unix time, and the classifier
// reads it as one whatever its clock reads: a clock.Fake at the Unix epoch
// or just after it, or a testing/synctest bubble's 2000-01-01, as well as a
// real clock. A small value is an instant long past, not seconds from now.
func TestGitHubClassifierResetIsAlwaysUnixTime(t *testing.T) {
	for _, tc := range []struct {
		name  string
		now   time.Time
		reset string
		want  time.Duration
	}{
		{"2026: an hour ahead", ruleT0, strconv.FormatInt(ruleT0.Add(time.Hour).Unix(), 10), time.Hour},
		{"synctest: an hour ahead", bubbleT0, strconv.FormatInt(bubbleT0.Add(time.Hour).Unix(), 10), time.Hour},
		{"Unix 0: an hour ahead", time.Unix(0, 0), "3600", time.Hour},
		{"Unix 1000: an hour ahead", time.Unix(1000, 0), "4600", time.Hour},
		{"Unix 1000: 30 is past", time.Unix(1000, 0), "30", 0},
		{"2026: 30 is past", ruleT0, "30", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := integrations.GitHubClassifier(clock.NewFake(tc.now))
			for _, status := range []int{http.StatusOK, http.StatusForbidden} {
				h := ruleHeader("X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "4999", "X-RateLimit-Reset", tc.reset)
				s := c.Classify(&http.Response{StatusCode: status, Header: h, Body: http.NoBody}, nil)
				if s.Quota.Reset != tc.want {
					t.Errorf("status %d: Reset = %v, want %v", status, s.Quota.Reset, tc.want)
				}
			}
			// An exhausted primary limit waits until the reset plus 1 s.
			h := ruleHeader("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", tc.reset)
			s := c.Classify(&http.Response{StatusCode: http.StatusForbidden, Header: h, Body: http.NoBody}, nil)
			if want := tc.want + time.Second; s.Kind != signal.Throttled || s.RetryAfter != want {
				t.Errorf("exhausted 403: %v after %v, want Throttled after %v", s.Kind, s.RetryAfter, want)
			}
		})
	}
}

// bubbleT0 is where a testing/synctest bubble's clock starts.
var bubbleT0 = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)
