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

const token = "zap-test-secret-9a7d44"

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// fakeZapier serves GET /v2/zaps with handle after checking the request.
func fakeZapier(t *testing.T, handle func(w http.ResponseWriter)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Method != http.MethodGet || r.URL.Path != "/v2/zaps" || r.URL.Query().Get("limit") != "3" {
			t.Errorf("request %s %s, want GET /v2/zaps?limit=3", r.Method, r.URL)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+token {
			t.Errorf("Authorization = %q, want the bearer token", got)
		}
		w.Header().Set("Content-Type", "application/json")
		handle(w)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestRun(t *testing.T) {
	srv, calls := fakeZapier(t, func(w http.ResponseWriter) {
		_, _ = w.Write([]byte(`{"links":{"next":null,"prev":null},"meta":{"count":2,"offset":0,"limit":3},"data":[` +
			`{"type":"zap","id":"00000000-0000-c000-8000-000000012345","is_enabled":true,"title":"New deal to Slack",` +
			`"updated_at":"2026-08-24T14:15:22Z","last_successful_run_date":"2026-08-24T14:15:22Z"},` +
			`{"type":"zap","id":"00000000-0000-c000-8000-000000012346","is_enabled":false,"title":"Form to sheet",` +
			`"updated_at":"2026-08-20T09:00:00Z","last_successful_run_date":null}]}`))
	})
	var stdout, stderr bytes.Buffer
	code := run(env(map[string]string{"ZAPIER_TOKEN": token, "ZAPIER_BASE_URL": srv.URL}), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"200 OK", "2 of 2 Zaps", "New deal to Slack", "limiter zapier: rate 60/min"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if calls.Load() != 1 {
		t.Errorf("%d calls, want 1", calls.Load())
	}
	noToken(t, &stdout, &stderr)
}

// Zapier's cooldown after a 429 is 60 s, longer than the request timeout:
// the call fails at once and says when to try again.
func TestRunThrottled(t *testing.T) {
	srv, calls := fakeZapier(t, func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"errors":[{"status":429,"code":"throttled","title":"Request was throttled."}]}`))
	})
	var stdout, stderr bytes.Buffer
	if code := run(env(map[string]string{"ZAPIER_TOKEN": token, "ZAPIER_BASE_URL": srv.URL}), &stdout, &stderr); code != 1 {
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

func TestRunWithoutConfiguration(t *testing.T) {
	for _, vars := range []map[string]string{
		nil,
		{"ZAPIER_TOKEN": token},
		{"ZAPIER_BASE_URL": "https://api.zapier.com"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(env(vars), &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d, want 0", vars, code)
		}
		for _, want := range []string{"ZAPIER_TOKEN", "ZAPIER_BASE_URL"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("%v: stdout does not name %s:\n%s", vars, want, stdout.String())
			}
		}
		noToken(t, &stdout, &stderr)
	}
}

func noToken(t *testing.T, stdout, stderr *bytes.Buffer) {
	t.Helper()
	if strings.Contains(stdout.String()+stderr.String(), token) {
		t.Errorf("the token was printed:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
}

// A Zapier that cannot be reached is a network error, said as such at once:
// not a limit, not an overload.
func TestRunUnreachable(t *testing.T) {
	refused := exampletest.RefusedURL(t)
	var stdout, stderr bytes.Buffer
	if code := run(env(map[string]string{"ZAPIER_TOKEN": token, "ZAPIER_BASE_URL": refused}), &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	exampletest.Expect(t, stderr.String(), []string{"connection refused", "network error: Zapier was not reached", "ZAPIER_BASE_URL"}, []string{"limiting", "overloaded", "retries exhausted"})
	noToken(t, &stdout, &stderr)
}

// Each failure is explained by what happened: a network failure, an
// overload, a limit, a timeout.
func TestReport(t *testing.T) {
	soon := time.Now().Add(2 * time.Minute)
	exampletest.Reports(t, report, []exampletest.ReportCase{
		{Name: "no answer", Err: &httpadapter.Error{Attempts: 4, Err: errors.New("read: connection reset by peer")},
			Want: "network error: no answer from Zapier after 4 attempts", Wrong: []string{"limiting", "overloaded"}},
		{Name: "overloaded", Err: &httpadapter.Error{Attempts: 4, StatusCode: 500}, Want: "Zapier is overloaded (last status 500): try again in a minute", Wrong: []string{"limiting", "network"}},
		{Name: "overloaded, with a retry-after", Err: &httpadapter.Error{Attempts: 1, StatusCode: 502, RetryAt: soon}, Want: "Zapier is overloaded (last status 502): try again after", Wrong: []string{"limiting", "network"}},
		{Name: "limited", Err: &httpadapter.Error{Attempts: 1, StatusCode: 429, RetryAt: soon}, Want: "Zapier is limiting this IP or partner: try again after", Wrong: []string{"overloaded", "network"}},
		{Name: "limited, no retry-after", Err: &httpadapter.Error{Attempts: 4, StatusCode: 429}, Want: "Zapier is limiting this IP or partner: try again in a minute", Wrong: []string{"overloaded", "network"}},
		{Name: "the limiter's own pause", Err: &httpadapter.Error{Err: &dynlimit.WaitError{RetryAt: soon}, RetryAt: soon}, Want: "Zapier is limiting this IP or partner: try again after", Wrong: []string{"overloaded", "network"}},
		{Name: "timeout", Err: &url.Error{Op: "Get", URL: "https://x.example", Err: exampletest.Timeout{}}, Want: "no answer within 20s", Wrong: []string{"limiting", "overloaded"}},
	})
}
