package integrations_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/integrations"
)

// GitHub answers 403 both to a missing permission and to a rate limit; only
// the rate limits slow the client down, and each waits as octokit would.
func ExampleGitHubClassifier() {
	now := time.Date(2026, time.November, 27, 14, 0, 0, 0, time.UTC)
	c := integrations.GitHubClassifier(clock.NewFake(now))

	reset := strconv.FormatInt(now.Add(time.Minute).Unix(), 10)
	responses := []struct {
		status  int
		body    string
		headers []string
	}{
		{403, `{"message":"Resource not accessible by integration"}`, []string{"X-RateLimit-Remaining", "4000"}},
		{403, `{"message":"You have exceeded a secondary rate limit."}`, nil},
		{403, `{"message":"API rate limit exceeded"}`, []string{"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", reset}},
		{429, `{"message":"slow down"}`, []string{"Retry-After", "30"}},
	}
	for _, r := range responses {
		resp := &http.Response{StatusCode: r.status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(r.body))}
		for i := 0; i+1 < len(r.headers); i += 2 {
			resp.Header.Set(r.headers[i], r.headers[i+1])
		}
		s := c.Classify(resp, nil)
		body, _ := io.ReadAll(resp.Body) // all of it, even after the classifier looked
		_ = resp.Body.Close()
		fmt.Println(r.status, s.Kind, s.RetryAfter, len(body) == len(r.body))
	}
	// Output:
	// 403 failed 0s true
	// 403 throttled 1m0s true
	// 403 throttled 1m1s true
	// 429 throttled 30s true
}
