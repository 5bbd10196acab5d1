package integrations

import (
	"net/http"
	"strings"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/signal"
)

// JiraClassifier returns the Classifier for the Jira Cloud REST API
// (https://{site}.atlassian.net):
//
//   - 429 and 503 are Throttled: Jira sheds load with either (https://developer.atlassian.com/cloud/jira/platform/rate-limiting/).
//   - A throttle waits what Retry-After (seconds) says, or else until
//     X-RateLimit-Reset, an ISO 8601 time to the minute
//     (2026-11-27T14:30Z) that [signal.ParseQuota] reads, measured against
//     clk; HasRetryAfter is set then.
//   - Everything else is what [signal.HTTP] says.
//
// Jira's limits are per endpoint and method, so the limiter it feeds
// should be keyed by [JiraEndpointKey] (https://developer.atlassian.com/cloud/jira/platform/rate-limiting/: limits are per endpoint and method).
//
// A nil clk means clock.Real.
func JiraClassifier(clk clock.Clock) signal.Classifier {
	base := signal.HTTP{
		Clock:     clk,
		Throttled: append(signal.DefaultThrottled(), http.StatusServiceUnavailable),
	}
	return signal.Chain(base, signal.RuleFunc(func(resp *http.Response, err error) (signal.Signal, bool) {
		if err != nil || resp == nil {
			return signal.Signal{}, false
		}
		s := base.Classify(resp, nil)
		// signal.HTTP takes a reset for a throttle's wait only with a
		// remainder of 0, and Jira sends its reset alone.
		if s.Kind == signal.Throttled && !s.HasRetryAfter && s.RetryAfter == 0 && s.Quota.Reset > 0 {
			s.RetryAfter, s.HasRetryAfter = s.Quota.Reset, true
		}
		return s, true
	}))
}

// JiraEndpointKey returns the endpoint a request calls, to key a limiter
// per endpoint and method: the method, a space and the URL path with the
// parts that name one resource replaced, so that every issue shares its
// endpoint's limiter. A segment of digits becomes {id}, except the API
// version after "api" or "agile" (/rest/api/3, /rest/agile/1.0); an issue
// key such as ABC-123 becomes {key}; a UUID (the cloud id of
// /ex/jira/{cloudId}) becomes {id}; any other segment that
// httpadapter.RouteTemplate would not keep (a token, an account id)
// becomes {}. So GET /rest/api/3/issue/ABC-123/comment/10001 gives
// "GET /rest/api/3/issue/{key}/comment/{id}". The query is left out.
func JiraEndpointKey(req *http.Request) string {
	if req == nil {
		return ""
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	path := ""
	if req.URL != nil {
		path = req.URL.Path
	}
	var b strings.Builder
	b.Grow(len(method) + 1 + len(path))
	b.WriteString(method)
	b.WriteByte(' ')
	prev := ""
	for i, seg := range strings.Split(path, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(jiraSegment(seg, prev))
		prev = seg
	}
	return b.String()
}

// jiraSegment returns the placeholder for a path segment that names one
// resource, or the segment itself. prev is the segment before it.
func jiraSegment(seg, prev string) string {
	switch {
	case seg == "":
		return seg
	case (prev == "api" || prev == "agile") && isAPIVersion(seg):
		return seg
	case allDigits(seg):
		return "{id}"
	case isIssueKey(seg):
		return "{key}"
	case isUUID(seg):
		return "{id}"
	case httpadapter.VariableSegment(seg):
		return "{}"
	}
	return seg
}

// isAPIVersion reports whether s is a Jira API version: digits and dots
// (3, 1.0), or "latest".
func isAPIVersion(s string) bool {
	if s == "latest" {
		return true
	}
	if s == "" || s[0] == '.' {
		return false
	}
	for i := range len(s) {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isIssueKey reports whether s is a Jira issue key: a project key (a
// letter, then letters, digits or underscores), a hyphen and a number. Jira
// resolves keys in any case, so lower case counts too.
func isIssueKey(s string) bool {
	project, num, ok := strings.Cut(s, "-")
	if !ok || project == "" || !allDigits(num) || !isLetter(project[0]) {
		return false
	}
	for i := 1; i < len(project); i++ {
		if c := project[i]; !isLetter(c) && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// isUUID reports whether s has the 8-4-4-4-12 hexadecimal form of a UUID.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
