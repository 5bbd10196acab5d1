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

const token = "vat_test-secret-77d1e0"

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// fakeVanta serves GET /v1/tests with handle after checking the request.
func fakeVanta(t *testing.T, handle func(w http.ResponseWriter)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Method != http.MethodGet || r.URL.Path != "/v1/tests" || r.URL.Query().Get("pageSize") != "3" {
			t.Errorf("request %s %s, want GET /v1/tests?pageSize=3", r.Method, r.URL)
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
	srv, calls := fakeVanta(t, func(w http.ResponseWriter) {
		_, _ = w.Write([]byte(`{"results":{"data":[` +
			`{"id":"inventory-list-owners","name":"Inventory items have active owners","status":"NEEDS_ATTENTION","category":"Infrastructure"},` +
			`{"id":"mfa-on-accounts","name":"MFA on user accounts","status":"OK","category":"Accounts"}],` +
			`"pageInfo":{"hasNextPage":true,"hasPreviousPage":false,"endCursor":"YXJyYXk6MQ==","startCursor":"YXJyYXk6MA=="}}}`))
	})
	var stdout, stderr bytes.Buffer
	code := run(env(map[string]string{"VANTA_TOKEN": token, "VANTA_BASE_URL": srv.URL}), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"200 OK", "2 tests (more: true)", "Inventory items have active owners", "NEEDS_ATTENTION", "limiter vanta"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if calls.Load() != 1 {
		t.Errorf("%d calls, want 1", calls.Load())
	}
	noToken(t, &stdout, &stderr)
}

// A throttle whose Retry-After passes the request timeout fails at once and
// says when to try again, rather than waiting.
func TestRunThrottledTooLong(t *testing.T) {
	srv, calls := fakeVanta(t, func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"name":"TooManyRequests","message":"Rate limit exceeded"}`))
	})
	var stdout, stderr bytes.Buffer
	if code := run(env(map[string]string{"VANTA_TOKEN": token, "VANTA_BASE_URL": srv.URL}), &stdout, &stderr); code != 1 {
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

func TestRunUnauthorized(t *testing.T) {
	srv, _ := fakeVanta(t, func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"name":"Unauthorized","message":"Invalid token"}`))
	})
	var stdout, stderr bytes.Buffer
	if code := run(env(map[string]string{"VANTA_TOKEN": token, "VANTA_BASE_URL": srv.URL}), &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "401") || !strings.Contains(stderr.String(), "/oauth/token") {
		t.Errorf("stderr does not explain the failure:\n%s", stderr.String())
	}
	noToken(t, &stdout, &stderr)
}

func TestRunWithoutToken(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(env(nil), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	if !strings.Contains(stdout.String(), "VANTA_TOKEN") {
		t.Errorf("stdout does not name VANTA_TOKEN:\n%s", stdout.String())
	}
}

func noToken(t *testing.T, stdout, stderr *bytes.Buffer) {
	t.Helper()
	if strings.Contains(stdout.String()+stderr.String(), token) {
		t.Errorf("the token was printed:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
}

// A Vanta that cannot be reached is a network error, said as such at once:
// not a limit, not an overload.
func TestRunUnreachable(t *testing.T) {
	refused := exampletest.RefusedURL(t)
	var stdout, stderr bytes.Buffer
	if code := run(env(map[string]string{"VANTA_TOKEN": token, "VANTA_BASE_URL": refused}), &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	exampletest.Expect(t, stderr.String(), []string{"connection refused", "network error: Vanta was not reached", "VANTA_BASE_URL"}, []string{"limiting", "overloaded", "retries exhausted"})
	noToken(t, &stdout, &stderr)
}

// Each failure is explained by what happened: a network failure, an
// overload, a limit, a timeout.
func TestReport(t *testing.T) {
	soon := time.Now().Add(2 * time.Minute)
	exampletest.Reports(t, report, []exampletest.ReportCase{
		{Name: "no answer", Err: &httpadapter.Error{Attempts: 4, Err: errors.New("read: connection reset by peer")},
			Want: "network error: no answer from Vanta after 4 attempts", Wrong: []string{"limiting", "overloaded"}},
		{Name: "overloaded", Err: &httpadapter.Error{Attempts: 4, StatusCode: 500}, Want: "Vanta is overloaded (last status 500): try again in a minute", Wrong: []string{"limiting", "network"}},
		{Name: "overloaded, with a retry-after", Err: &httpadapter.Error{Attempts: 1, StatusCode: 502, RetryAt: soon}, Want: "Vanta is overloaded (last status 502): try again after", Wrong: []string{"limiting", "network"}},
		{Name: "limited", Err: &httpadapter.Error{Attempts: 1, StatusCode: 429, RetryAt: soon}, Want: "Vanta is limiting this application: try again after", Wrong: []string{"overloaded", "network"}},
		{Name: "limited, no retry-after", Err: &httpadapter.Error{Attempts: 4, StatusCode: 429}, Want: "Vanta is limiting this application: try again in a minute", Wrong: []string{"overloaded", "network"}},
		{Name: "the limiter's own pause", Err: &httpadapter.Error{Err: &dynlimit.WaitError{RetryAt: soon}, RetryAt: soon}, Want: "Vanta is limiting this application: try again after", Wrong: []string{"overloaded", "network"}},
		{Name: "timeout", Err: &url.Error{Op: "Get", URL: "https://x.example", Err: exampletest.Timeout{}}, Want: "no answer within 20s", Wrong: []string{"limiting", "overloaded"}},
	})
}
