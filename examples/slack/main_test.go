package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/examples/internal/exampletest"
	"github.com/dynlimit/dynlimit/httpadapter"
)

const token = "xoxb-test-secret-31415"

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// fakeSlack serves /api/auth.test with handle after checking the request;
// its base URL, like Slack's, ends in /api.
func fakeSlack(t *testing.T, handle func(w http.ResponseWriter)) (string, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path != "/api/auth.test" {
			t.Errorf("request %s %s, want /api/auth.test", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+token {
			t.Errorf("Authorization = %q, want the bearer token", got)
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		handle(w)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/api", &calls
}

func TestRun(t *testing.T) {
	base, calls := fakeSlack(t, func(w http.ResponseWriter) {
		_, _ = w.Write([]byte(`{"ok":true,"url":"https://acme.slack.com/","team":"Acme","user":"reporter",` +
			`"team_id":"T0123ABCD","user_id":"U0456EFGH","bot_id":"B0789IJKL","is_enterprise_install":false}`))
	})
	var stdout, stderr bytes.Buffer
	code := run(env(map[string]string{"SLACK_TOKEN": token, "SLACK_BASE_URL": base}), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	out := stdout.String()
	// auth.test is a tier-4 method: its own limiter starts at 100 calls a
	// minute, not at the tier-2 rate most methods get.
	for _, want := range []string{"200 OK", "user reporter (U0456EFGH) in team Acme", "bot B0789IJKL",
		"limiter for method auth.test: rate 100/min"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if calls.Load() != 1 {
		t.Errorf("%d calls, want 1", calls.Load())
	}
	noToken(t, &stdout, &stderr)
}

func TestRunInvalidAuth(t *testing.T) {
	base, _ := fakeSlack(t, func(w http.ResponseWriter) {
		_, _ = w.Write([]byte(`{"ok":false,"error":"invalid_auth"}`))
	})
	var stdout, stderr bytes.Buffer
	if code := run(env(map[string]string{"SLACK_TOKEN": token, "SLACK_BASE_URL": base}), &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "invalid_auth") || !strings.Contains(stderr.String(), "not a valid token") {
		t.Errorf("stderr does not explain the failure:\n%s", stderr.String())
	}
	noToken(t, &stdout, &stderr)
}

// A 429 without Retry-After means a minute's wait, as slack-go assumes:
// longer than the request timeout, so the call fails at once.
func TestRunThrottled(t *testing.T) {
	base, calls := fakeSlack(t, func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"ok":false,"error":"ratelimited"}`))
	})
	var stdout, stderr bytes.Buffer
	if code := run(env(map[string]string{"SLACK_TOKEN": token, "SLACK_BASE_URL": base}), &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "try again after") {
		t.Errorf("stderr does not say when to retry:\n%s", stderr.String())
	}
	if calls.Load() != 1 {
		t.Errorf("%d calls, want 1", calls.Load())
	}
	noToken(t, &stdout, &stderr)
}

func TestRunWithoutToken(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(env(nil), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	if !strings.Contains(stdout.String(), "SLACK_TOKEN") {
		t.Errorf("stdout does not name SLACK_TOKEN:\n%s", stdout.String())
	}
}

func noToken(t *testing.T, stdout, stderr *bytes.Buffer) {
	t.Helper()
	if strings.Contains(stdout.String()+stderr.String(), token) {
		t.Errorf("the token was printed:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
}

// A Slack that cannot be reached is a network error, said as such at once:
// not a limit, not an overload.
func TestRunUnreachable(t *testing.T) {
	refused := exampletest.RefusedURL(t)
	var stdout, stderr bytes.Buffer
	if code := run(env(map[string]string{"SLACK_TOKEN": token, "SLACK_BASE_URL": refused}), &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	exampletest.Expect(t, stderr.String(), []string{"connection refused", "network error: Slack was not reached", "SLACK_BASE_URL"}, []string{"limiting", "overloaded", "retries exhausted"})
	noToken(t, &stdout, &stderr)
}

// Each failure is explained by what happened: a network failure, an
// overload, a limit, a timeout.
func TestReport(t *testing.T) {
	soon := time.Now().Add(2 * time.Minute)
	exampletest.Reports(t, report, []exampletest.ReportCase{
		{Name: "no answer", Err: &httpadapter.Error{Attempts: 4, Err: errors.New("read: connection reset by peer")},
			Want: "network error: no answer from Slack after 4 attempts", Wrong: []string{"limiting", "overloaded"}},
		{Name: "overloaded", Err: &httpadapter.Error{Attempts: 4, StatusCode: 500}, Want: "Slack is overloaded (last status 500): try again in a minute", Wrong: []string{"limiting", "network"}},
		{Name: "overloaded, with a retry-after", Err: &httpadapter.Error{Attempts: 1, StatusCode: 502, RetryAt: soon}, Want: "Slack is overloaded (last status 502): try again after", Wrong: []string{"limiting", "network"}},
		{Name: "limited", Err: &httpadapter.Error{Attempts: 1, StatusCode: 429, RetryAt: soon}, Want: "Slack is limiting this app on auth.test: try again after", Wrong: []string{"overloaded", "network"}},
		{Name: "limited, no retry-after", Err: &httpadapter.Error{Attempts: 4, StatusCode: 429}, Want: "Slack is limiting this app on auth.test: try again in a minute", Wrong: []string{"overloaded", "network"}},
		{Name: "the limiter's own pause", Err: &httpadapter.Error{Err: &dynlimit.WaitError{RetryAt: soon}, RetryAt: soon}, Want: "Slack is limiting this app on auth.test: try again after", Wrong: []string{"overloaded", "network"}},
		{Name: "timeout", Err: &url.Error{Op: "Get", URL: "https://x.example", Err: exampletest.Timeout{}}, Want: "no answer within 20s", Wrong: []string{"limiting", "overloaded"}},
	})
}
