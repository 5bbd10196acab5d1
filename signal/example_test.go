package signal_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

// A classifier for an API that answers 429 with a Retry-After in seconds and
// reports its remaining quota in a header.
func ExampleClassifierFunc() {
	c := signal.ClassifierFunc(func(resp *http.Response, err error) signal.Signal {
		if err != nil {
			return signal.Signal{Kind: signal.Overloaded}
		}
		s := signal.Signal{Status: resp.StatusCode}
		if n, err := strconv.Atoi(resp.Header.Get("X-Remaining")); err == nil {
			s.Quota.Remaining, s.Quota.HasRemaining = float64(n), true
		}
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			s.Kind = signal.Throttled
			if sec, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && sec > 0 {
				s.RetryAfter = time.Duration(sec) * time.Second
			}
		case resp.StatusCode >= 500:
			s.Kind = signal.Overloaded
		case resp.StatusCode >= 400:
			s.Kind = signal.Failed
		}
		return s
	})

	resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{}}
	resp.Header.Set("Retry-After", "3")
	resp.Header.Set("X-Remaining", "0")
	s := c.Classify(resp, nil)
	fmt.Println(s.Kind, s.RetryAfter, s.Quota.Exhausted())
	// Output: throttled 3s true
}

// The built-in classifier reads the status and every rate-limit hint the
// response carries, successes included.
func ExampleHTTP() {
	now := time.Date(2026, time.November, 27, 14, 0, 0, 0, time.UTC)
	c := signal.HTTP{Clock: clock.NewFake(now)}

	ok := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}}
	ok.Header.Set("X-RateLimit-Limit", "5000")
	ok.Header.Set("X-RateLimit-Remaining", "4999")
	ok.Header.Set("X-RateLimit-Reset", strconv.FormatInt(now.Add(time.Hour).Unix(), 10))
	s := c.Classify(ok, nil)
	fmt.Println(s.Kind, s.Quota.Limit, s.Quota.Remaining, s.Quota.Reset)

	tooMany := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{}}
	tooMany.Header.Set("Retry-After", "1.5")
	s = c.Classify(tooMany, nil)
	fmt.Println(s.Kind, s.RetryAfter)

	s = c.Classify(&http.Response{StatusCode: http.StatusServiceUnavailable}, nil)
	fmt.Println(s.Kind, s.Status)
	s = c.Classify(&http.Response{StatusCode: http.StatusNotFound}, nil)
	fmt.Println(s.Kind, s.Status)
	s = c.Classify(nil, context.Canceled)
	fmt.Println(s.Kind)
	// Output:
	// success 5000 4999 1h0m0s
	// throttled 1.5s
	// overloaded 503
	// failed 404
	// canceled
}

// A lone 500 leaves the rate alone; three 503s within ten seconds read as a
// rate limit, after which the count starts over.
func ExampleBurst() {
	clk := clock.NewFake(time.Date(2026, time.November, 27, 14, 0, 0, 0, time.UTC))
	b, err := signal.NewBurst(signal.HTTP{}, 3, 10*time.Second, clk)
	if err != nil {
		panic(err)
	}
	calls := []struct {
		after  time.Duration
		status int
	}{
		{0, 500},
		{time.Minute, 503},
		{time.Second, 503},
		{time.Second, 503},
		{time.Second, 503},
	}
	for _, call := range calls {
		clk.Advance(call.after)
		s := b.Classify(&http.Response{StatusCode: call.status}, nil)
		fmt.Println(call.status, s.Kind)
	}
	// Output:
	// 500 overloaded
	// 503 overloaded
	// 503 overloaded
	// 503 throttled
	// 503 overloaded
}

// GitHub answers 403 both to a missing permission and to a rate limit, and
// only the latter should slow the client down: a 403 is a rate limit when
// x-ratelimit-remaining is 0, when retry-after is sent, or when the body
// mentions a secondary rate limit.
func ExampleChain() {
	now := time.Date(2026, time.November, 27, 14, 0, 0, 0, time.UTC)
	base := signal.HTTP{Clock: clock.NewFake(now)}
	gitHub403 := signal.RuleFunc(func(resp *http.Response, err error) (signal.Signal, bool) {
		if err != nil || resp.StatusCode != http.StatusForbidden {
			return signal.Signal{}, false
		}
		s := base.Classify(resp, nil)
		limited := s.Quota.Exhausted() || resp.Header.Get("Retry-After") != ""
		if !limited {
			body, _ := signal.PeekBody(resp, 4096)
			limited = bytes.Contains(bytes.ToLower(body), []byte("secondary rate limit"))
		}
		if !limited {
			return signal.Signal{}, false
		}
		s.Kind = signal.Throttled
		if s.RetryAfter == 0 && s.Quota.Exhausted() {
			s.RetryAfter = s.Quota.Reset // GitHub: wait for the primary window to reset
		}
		return s, true
	})
	c := signal.Chain(base, gitHub403)

	reset := strconv.FormatInt(now.Add(time.Minute).Unix(), 10)
	responses := []struct {
		body    string
		headers []string
	}{
		{`{"message":"Resource not accessible by integration"}`, []string{"X-RateLimit-Remaining", "4000"}},
		{`{"message":"You have exceeded a Secondary Rate Limit."}`, nil},
		{`{"message":"API rate limit exceeded"}`, []string{"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", reset}},
	}
	for _, r := range responses {
		resp := &http.Response{
			StatusCode: http.StatusForbidden,
			Header:     http.Header{},
			Body:       io.NopCloser(strings.NewReader(r.body)),
		}
		for i := 0; i+1 < len(r.headers); i += 2 {
			resp.Header.Set(r.headers[i], r.headers[i+1])
		}
		s := c.Classify(resp, nil)
		body, _ := io.ReadAll(resp.Body) // all of it, even after a peek
		_ = resp.Body.Close()
		fmt.Println(s.Kind, s.RetryAfter, string(body))
	}
	// Output:
	// failed 0s {"message":"Resource not accessible by integration"}
	// throttled 0s {"message":"You have exceeded a Secondary Rate Limit."}
	// throttled 1m0s {"message":"API rate limit exceeded"}
}

// OpenAI reports a request quota and a token quota, with resets as
// duration strings.
func ExampleParseQuota() {
	h := http.Header{}
	h.Set("x-ratelimit-limit-requests", "500")
	h.Set("x-ratelimit-remaining-requests", "499")
	h.Set("x-ratelimit-reset-requests", "120ms")
	h.Set("x-ratelimit-limit-tokens", "30000")
	h.Set("x-ratelimit-remaining-tokens", "0")
	h.Set("x-ratelimit-reset-tokens", "6m0s")
	requests, tokens := signal.ParseQuota(h, time.Now())
	fmt.Println(requests.Remaining, requests.Reset)
	fmt.Println(tokens.Exhausted(), tokens.Reset)
	// Output:
	// 499 120ms
	// true 6m0s
}
