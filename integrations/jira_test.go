package integrations_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/signal"
)

func TestJiraClassifier(t *testing.T) {
	// ruleT0 is 14:00 UTC; Jira's resets are to the minute.
	cases := []ruleCase{
		{
			name: "429 with Retry-After", status: 429, header: []string{"Retry-After", "10"},
			want: signal.Signal{Kind: signal.Throttled, RetryAfter: 10 * time.Second, HasRetryAfter: true},
		},
		{
			name: "503 is Throttled", status: 503, header: []string{"Retry-After", "5"},
			want: signal.Signal{Kind: signal.Throttled, RetryAfter: 5 * time.Second, HasRetryAfter: true},
		},
		{
			name: "429 waits until an ISO 8601 reset to the minute", status: 429,
			header: []string{"X-RateLimit-Reset", "2026-11-27T14:30Z", "RateLimit-Reason", "jira-burst-based"},
			want:   signal.Signal{Kind: signal.Throttled, RetryAfter: 30 * time.Minute, HasRetryAfter: true, Quota: signal.Quota{Reset: 30 * time.Minute}},
		},
		{
			name: "a reset with an offset", status: 429,
			header: []string{"X-RateLimit-Reset", "2026-11-27T15:05+01:00"},
			want:   signal.Signal{Kind: signal.Throttled, RetryAfter: 5 * time.Minute, HasRetryAfter: true, Quota: signal.Quota{Reset: 5 * time.Minute}},
		},
		{
			name: "Retry-After wins over the reset", status: 429,
			header: []string{"Retry-After", "10", "X-RateLimit-Reset", "2026-11-27T14:30Z"},
			want:   signal.Signal{Kind: signal.Throttled, RetryAfter: 10 * time.Second, HasRetryAfter: true, Quota: signal.Quota{Reset: 30 * time.Minute}},
		},
		{name: "a reset in the past waits for nothing", status: 429, header: []string{"X-RateLimit-Reset", "2026-11-27T13:59Z"}, want: signal.Signal{Kind: signal.Throttled}},
		{name: "a malformed reset is ignored", status: 429, header: []string{"X-RateLimit-Reset", "2026-11-27 14:30"}, want: signal.Signal{Kind: signal.Throttled}},
		{name: "a reset without a zone is ignored", status: 429, header: []string{"X-RateLimit-Reset", "2026-11-27T14:30"}, want: signal.Signal{Kind: signal.Throttled}},
		{
			name: "a success with a reset is no throttle", status: 200,
			header: []string{"X-RateLimit-Reset", "2026-11-27T14:30Z", "X-RateLimit-NearLimit", "true"},
			want:   signal.Signal{Quota: signal.Quota{Reset: 30 * time.Minute}},
		},
		{name: "500", status: 500, want: signal.Signal{Kind: signal.Overloaded}},
		{name: "404", status: 404, want: signal.Signal{Kind: signal.Failed}},
	}
	runRuleCases(t, integrations.JiraClassifier, cases)
}

func TestJiraEndpointKey(t *testing.T) {
	tests := []struct {
		method string
		url    string
		want   string
	}{
		{"GET", "https://x.atlassian.net/rest/api/3/issue/ABC-123", "GET /rest/api/3/issue/{key}"},
		{"GET", "https://x.atlassian.net/rest/api/3/issue/10001", "GET /rest/api/3/issue/{id}"},
		{"POST", "https://x.atlassian.net/rest/api/3/issue/ABC-123/comment", "POST /rest/api/3/issue/{key}/comment"},
		{"PUT", "https://x.atlassian.net/rest/api/2/issue/abc_2-7/comment/10042?notify=false", "PUT /rest/api/2/issue/{key}/comment/{id}"},
		{"GET", "https://x.atlassian.net/rest/api/3/search?jql=project%3DABC", "GET /rest/api/3/search"},
		{"GET", "https://x.atlassian.net/rest/agile/1.0/board/42/sprint", "GET /rest/agile/1.0/board/{id}/sprint"},
		{"GET", "https://api.atlassian.com/ex/jira/1a2b3c4d-0000-4e5f-8a9b-0123456789ab/rest/api/3/project/ABC", "GET /ex/jira/{id}/rest/api/3/project/ABC"},
		{"", "https://x.atlassian.net/rest/api/3/myself", "GET /rest/api/3/myself"},
		{"DELETE", "https://x.atlassian.net/rest/api/3/issue/ABC-123/", "DELETE /rest/api/3/issue/{key}/"},
		// Not issue keys, but not names either.
		{"GET", "https://x.atlassian.net/rest/api/3/issue/-123", "GET /rest/api/3/issue/{}"},
		{"GET", "https://x.atlassian.net/rest/api/3/issue/ABC-", "GET /rest/api/3/issue/ABC-"},
		{"GET", "https://x.atlassian.net/rest/api/3/issue/1ABC-2", "GET /rest/api/3/issue/{}"},
		// Versions stay; an account id or a token does not.
		{"GET", "https://x.atlassian.net/rest/api/latest/user/search", "GET /rest/api/latest/user/search"},
		{"GET", "https://x.atlassian.net/rest/api/3/user/5b10ac8d82e05b22cc7d4ef5", "GET /rest/api/3/user/{}"},
		{"GET", "https://x.atlassian.net/rest/api/3/attachment/content/zqxkvbwhpmtjrdlgfnscwyqz", "GET /rest/api/3/attachment/content/{}"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := integrations.JiraEndpointKey(&http.Request{Method: tt.method, URL: u}); got != tt.want {
			t.Errorf("JiraEndpointKey(%s %s) = %q, want %q", tt.method, tt.url, got, tt.want)
		}
	}
	if got := integrations.JiraEndpointKey(&http.Request{Method: http.MethodGet}); got != "GET " {
		t.Errorf("JiraEndpointKey(no URL) = %q, want %q", got, "GET ")
	}
	if got := integrations.JiraEndpointKey(nil); got != "" {
		t.Errorf("JiraEndpointKey(nil) = %q, want \"\"", got)
	}
}
