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

const token = "ntn_test-secret-4f2a9c"

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// fakeNotion answers GET /v1/users/me as Notion does for a bot, after
// refusing the first `throttle` calls with 429 and Retry-After: 0.
func fakeNotion(t *testing.T, throttle int32) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Method != http.MethodGet || r.URL.Path != "/v1/users/me" {
			t.Errorf("request %s %s, want GET /v1/users/me", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+token {
			t.Errorf("Authorization = %q, want the bearer token", got)
		}
		if got := r.Header.Get("Notion-Version"); got != "2022-06-28" {
			t.Errorf("Notion-Version = %q", got)
		}
		w.Header().Set("Content-Type", "application/json")
		if n <= throttle {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"object":"error","status":429,"code":"rate_limited","message":"You have been rate limited."}`))
			return
		}
		_, _ = w.Write([]byte(`{"object":"user","id":"9a3b5c1e-0000-4000-8000-000000000001","name":"Reporting bot",` +
			`"avatar_url":null,"type":"bot","bot":{"owner":{"type":"workspace","workspace":true},"workspace_name":"Acme"}}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// The throttled-then-retried case is tested with fake time in httpadapter
// and integrations: here it would wait on the wall clock for the limiter's
// own pause after a throttle.
func TestRun(t *testing.T) {
	for _, tt := range []struct {
		name      string
		throttle  int32
		wantCalls int32
	}{
		{name: "ok", throttle: 0, wantCalls: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, calls := fakeNotion(t, tt.throttle)
			var stdout, stderr bytes.Buffer
			code := run(env(map[string]string{"NOTION_TOKEN": token, "NOTION_BASE_URL": srv.URL}), &stdout, &stderr)
			if code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
			}
			out := stdout.String()
			for _, want := range []string{"200 OK", "Reporting bot", "Acme", "limiter notion"} {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			if tt.throttle > 0 && !strings.Contains(out, "1 throttled") {
				t.Errorf("stdout does not report the throttle:\n%s", out)
			}
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("%d calls, want %d", got, tt.wantCalls)
			}
			noToken(t, &stdout, &stderr)
		})
	}
}

func TestRunAPIError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"object":"error","status":401,"code":"unauthorized","message":"API token is invalid."}`))
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	if code := run(env(map[string]string{"NOTION_TOKEN": token, "NOTION_BASE_URL": srv.URL}), &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "401") || !strings.Contains(stderr.String(), "API token is invalid") {
		t.Errorf("stderr does not explain the failure:\n%s", stderr.String())
	}
	noToken(t, &stdout, &stderr)
}

func TestRunWithoutToken(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(env(nil), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	if !strings.Contains(stdout.String(), "NOTION_TOKEN") {
		t.Errorf("stdout does not name NOTION_TOKEN:\n%s", stdout.String())
	}
}

func noToken(t *testing.T, stdout, stderr *bytes.Buffer) {
	t.Helper()
	if strings.Contains(stdout.String()+stderr.String(), token) {
		t.Errorf("the token was printed:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
}

// A Notion that cannot be reached is a network error, said as such at once:
// not a limit, not an overload.
func TestRunUnreachable(t *testing.T) {
	refused := exampletest.RefusedURL(t)
	var stdout, stderr bytes.Buffer
	if code := run(env(map[string]string{"NOTION_TOKEN": token, "NOTION_BASE_URL": refused}), &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	exampletest.Expect(t, stderr.String(), []string{"connection refused", "network error: Notion was not reached", "NOTION_BASE_URL"}, []string{"limiting", "overloaded", "retries exhausted"})
	noToken(t, &stdout, &stderr)
}

// Each failure is explained by what happened: a network failure, an
// overload, a limit, a timeout.
func TestReport(t *testing.T) {
	soon := time.Now().Add(2 * time.Minute)
	exampletest.Reports(t, report, []exampletest.ReportCase{
		{Name: "no answer", Err: &httpadapter.Error{Attempts: 4, Err: errors.New("read: connection reset by peer")},
			Want: "network error: no answer from Notion after 4 attempts", Wrong: []string{"limiting", "overloaded"}},
		{Name: "overloaded", Err: &httpadapter.Error{Attempts: 4, StatusCode: 500}, Want: "Notion is overloaded (last status 500): try again in a minute", Wrong: []string{"limiting", "network"}},
		{Name: "overloaded, with a retry-after", Err: &httpadapter.Error{Attempts: 1, StatusCode: 502, RetryAt: soon}, Want: "Notion is overloaded (last status 502): try again after", Wrong: []string{"limiting", "network"}},
		{Name: "limited", Err: &httpadapter.Error{Attempts: 1, StatusCode: 429, RetryAt: soon}, Want: "Notion is limiting this integration: try again after", Wrong: []string{"overloaded", "network"}},
		{Name: "limited, no retry-after", Err: &httpadapter.Error{Attempts: 4, StatusCode: 429}, Want: "Notion is limiting this integration: try again in a minute", Wrong: []string{"overloaded", "network"}},
		{Name: "Notion's 529 is a throttle", Err: &httpadapter.Error{Attempts: 4, StatusCode: 529}, Want: "Notion is limiting this integration: try again in a minute", Wrong: []string{"overloaded", "network"}},
		{Name: "the limiter's own pause", Err: &httpadapter.Error{Err: &dynlimit.WaitError{RetryAt: soon}, RetryAt: soon}, Want: "Notion is limiting this integration: try again after", Wrong: []string{"overloaded", "network"}},
		{Name: "timeout", Err: &url.Error{Op: "Get", URL: "https://x.example", Err: exampletest.Timeout{}}, Want: "no answer within 20s", Wrong: []string{"limiting", "overloaded"}},
	})
}
