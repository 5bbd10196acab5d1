package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/examples/internal/exampletest"
	"github.com/dynlimit/dynlimit/httpadapter"
)

const token = "github_pat_test-secret-2718"

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// fakeGitHub serves GET /user with handle after checking the request.
func fakeGitHub(t *testing.T, handle func(w http.ResponseWriter)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Method != http.MethodGet || r.URL.Path != "/user" {
			t.Errorf("request %s %s, want GET /user", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+token {
			t.Errorf("Authorization = %q, want the bearer token", got)
		}
		for name, want := range map[string]string{"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"} {
			if got := r.Header.Get(name); got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		if r.Header.Get("User-Agent") == "" {
			t.Error("no User-Agent")
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		handle(w)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestRun(t *testing.T) {
	reset := time.Now().Add(30 * time.Minute).Unix()
	srv, calls := fakeGitHub(t, func(w http.ResponseWriter) {
		h := w.Header()
		h.Set("X-Ratelimit-Limit", "5000")
		h.Set("X-Ratelimit-Remaining", "4990")
		h.Set("X-Ratelimit-Used", "10")
		h.Set("X-Ratelimit-Resource", "core")
		h.Set("X-Ratelimit-Reset", strconv.FormatInt(reset, 10))
		_, _ = w.Write([]byte(`{"login":"octocat","id":583231,"name":"The Octocat","type":"User","public_repos":8}`))
	})
	var stdout, stderr bytes.Buffer
	code := run(env(map[string]string{"GITHUB_TOKEN": token, "GITHUB_BASE_URL": srv.URL}), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"200 OK", "user octocat (The Octocat, id 583231)", "rate limit (core): 4990 of 5000 left, 10 used",
		time.Unix(reset, 0).Format(time.RFC3339), "limiter github", "at most 10 in flight", "the remaining quota allows"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if calls.Load() != 1 {
		t.Errorf("%d calls, want 1", calls.Load())
	}
	noToken(t, &stdout, &stderr)
}

// A 403 that is not a rate limit is a permission error: no retry, no wait.
func TestRunForbidden(t *testing.T) {
	srv, calls := fakeGitHub(t, func(w http.ResponseWriter) {
		w.Header().Set("X-Ratelimit-Remaining", "4990")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"message":"Resource not accessible by personal access token",` +
			`"documentation_url":"https://docs.github.com/rest/users/users#get-the-authenticated-user","status":"403"}`))
	})
	var stdout, stderr bytes.Buffer
	if code := run(env(map[string]string{"GITHUB_TOKEN": token, "GITHUB_BASE_URL": srv.URL}), &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "403") || !strings.Contains(stderr.String(), "Resource not accessible") {
		t.Errorf("stderr does not explain the failure:\n%s", stderr.String())
	}
	if calls.Load() != 1 {
		t.Errorf("%d calls, want 1", calls.Load())
	}
	noToken(t, &stdout, &stderr)
}

// A secondary rate limit without retry-after means a minute's wait, as
// octokit assumes: longer than the request timeout, so the call fails at
// once and says when to try again.
func TestRunSecondaryLimit(t *testing.T) {
	srv, calls := fakeGitHub(t, func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}`))
	})
	var stdout, stderr bytes.Buffer
	if code := run(env(map[string]string{"GITHUB_TOKEN": token, "GITHUB_BASE_URL": srv.URL}), &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "try again after") || !strings.Contains(stderr.String(), "1m0s") {
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
	if !strings.Contains(stdout.String(), "GITHUB_TOKEN") {
		t.Errorf("stdout does not name GITHUB_TOKEN:\n%s", stdout.String())
	}
}

func noToken(t *testing.T, stdout, stderr *bytes.Buffer) {
	t.Helper()
	if strings.Contains(stdout.String()+stderr.String(), token) {
		t.Errorf("the token was printed:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
}

// A GitHub that cannot be reached is a network error, said as such at once:
// not a limit, not an overload.
func TestRunUnreachable(t *testing.T) {
	refused := exampletest.RefusedURL(t)
	var stdout, stderr bytes.Buffer
	if code := run(env(map[string]string{"GITHUB_TOKEN": token, "GITHUB_BASE_URL": refused}), &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	exampletest.Expect(t, stderr.String(), []string{"connection refused", "network error: GitHub was not reached", "GITHUB_BASE_URL"}, []string{"limiting", "overloaded", "retries exhausted"})
	noToken(t, &stdout, &stderr)
}

// Each failure is explained by what happened: a network failure, an
// overload, a limit, a timeout.
func TestReport(t *testing.T) {
	soon := time.Now().Add(2 * time.Minute)
	exampletest.Reports(t, report, []exampletest.ReportCase{
		{Name: "no answer", Err: &httpadapter.Error{Attempts: 4, Err: errors.New("read: connection reset by peer")},
			Want: "network error: no answer from GitHub after 4 attempts", Wrong: []string{"limiting", "overloaded"}},
		{Name: "overloaded", Err: &httpadapter.Error{Attempts: 4, StatusCode: 500}, Want: "GitHub is overloaded (last status 500): try again in a minute", Wrong: []string{"limiting", "network"}},
		{Name: "overloaded, with a retry-after", Err: &httpadapter.Error{Attempts: 1, StatusCode: 502, RetryAt: soon}, Want: "GitHub is overloaded (last status 502): try again after", Wrong: []string{"limiting", "network"}},
		{Name: "limited", Err: &httpadapter.Error{Attempts: 1, StatusCode: 429, RetryAt: soon}, Want: "GitHub is limiting this token: try again after", Wrong: []string{"overloaded", "network"}},
		{Name: "limited, no retry-after", Err: &httpadapter.Error{Attempts: 4, StatusCode: 429}, Want: "GitHub is limiting this token: try again in a minute", Wrong: []string{"overloaded", "network"}},
		{Name: "the limiter's own pause", Err: &httpadapter.Error{Err: &dynlimit.WaitError{RetryAt: soon}, RetryAt: soon}, Want: "GitHub is limiting this token: try again after", Wrong: []string{"overloaded", "network"}},
		{Name: "timeout", Err: &url.Error{Op: "Get", URL: "https://x.example", Err: exampletest.Timeout{}}, Want: "no answer within 20s", Wrong: []string{"limiting", "overloaded"}},
	})
}
