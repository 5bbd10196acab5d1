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

const token = "fg_us_test-secret-0b8e31"

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// fakeFieldguide answers the sample GET, after refusing the first
// `overloaded` calls with 503 and Retry-After: 0: Fieldguide's 503 is a
// throttle, so the client waits as told and retries.
func fakeFieldguide(t *testing.T, overloaded int32) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Method != http.MethodGet || r.URL.Path != "/v1/engagements" {
			t.Errorf("request %s %s, want GET /v1/engagements", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+token {
			t.Errorf("Authorization = %q, want the bearer token", got)
		}
		w.Header().Set("Content-Type", "application/json")
		if n <= overloaded {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{"data":[{"id":"eng_1","name":"SOC 2 Type II 2026"},{"id":"eng_2","name":"ISO 27001 surveillance"}],` +
			`"pagination":{"limit":3,"hasMore":false}}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// The overloaded-then-retried case is tested with fake time in httpadapter
// and integrations: here it would wait on the wall clock for the limiter's
// own pause after a throttle.
func TestRun(t *testing.T) {
	for _, tt := range []struct {
		name       string
		overloaded int32
	}{
		{name: "ok"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, calls := fakeFieldguide(t, tt.overloaded)
			var stdout, stderr bytes.Buffer
			code := run(env(map[string]string{"FIELDGUIDE_TOKEN": token, "FIELDGUIDE_BASE_URL": srv.URL}), &stdout, &stderr)
			if code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
			}
			out := stdout.String()
			for _, want := range []string{"200 OK", "data (2 items)", "pagination", "limiter fieldguide"} {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			if tt.overloaded > 0 && !strings.Contains(out, "1 throttled") {
				t.Errorf("stdout does not report the throttle:\n%s", out)
			}
			if got, want := calls.Load(), tt.overloaded+1; got != want {
				t.Errorf("%d calls, want %d", got, want)
			}
			noToken(t, &stdout, &stderr)
		})
	}
}

func TestRunForbidden(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"message":"Missing scope engagements:read"}`))
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	if code := run(env(map[string]string{"FIELDGUIDE_TOKEN": token, "FIELDGUIDE_BASE_URL": srv.URL}), &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "403") || !strings.Contains(stderr.String(), "Missing scope") {
		t.Errorf("stderr does not explain the failure:\n%s", stderr.String())
	}
	noToken(t, &stdout, &stderr)
}

func TestRunWithoutToken(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(env(nil), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	if !strings.Contains(stdout.String(), "FIELDGUIDE_TOKEN") {
		t.Errorf("stdout does not name FIELDGUIDE_TOKEN:\n%s", stdout.String())
	}
}

func noToken(t *testing.T, stdout, stderr *bytes.Buffer) {
	t.Helper()
	if strings.Contains(stdout.String()+stderr.String(), token) {
		t.Errorf("the token was printed:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
}

// A Fieldguide that cannot be reached is a network error, said as such at once:
// not a limit, not an overload.
func TestRunUnreachable(t *testing.T) {
	refused := exampletest.RefusedURL(t)
	var stdout, stderr bytes.Buffer
	if code := run(env(map[string]string{"FIELDGUIDE_TOKEN": token, "FIELDGUIDE_BASE_URL": refused}), &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	exampletest.Expect(t, stderr.String(), []string{"connection refused", "network error: Fieldguide was not reached", "FIELDGUIDE_BASE_URL"}, []string{"limiting", "overloaded", "retries exhausted"})
	noToken(t, &stdout, &stderr)
}

// Each failure is explained by what happened: a network failure, an
// overload, a limit, a timeout.
func TestReport(t *testing.T) {
	soon := time.Now().Add(2 * time.Minute)
	exampletest.Reports(t, report, []exampletest.ReportCase{
		{Name: "no answer", Err: &httpadapter.Error{Attempts: 4, Err: errors.New("read: connection reset by peer")},
			Want: "network error: no answer from Fieldguide after 4 attempts", Wrong: []string{"limiting", "overloaded"}},
		{Name: "overloaded", Err: &httpadapter.Error{Attempts: 4, StatusCode: 500}, Want: "Fieldguide is overloaded (last status 500): try again in a minute", Wrong: []string{"limiting", "network"}},
		{Name: "overloaded, with a retry-after", Err: &httpadapter.Error{Attempts: 1, StatusCode: 502, RetryAt: soon}, Want: "Fieldguide is overloaded (last status 502): try again after", Wrong: []string{"limiting", "network"}},
		{Name: "limited", Err: &httpadapter.Error{Attempts: 1, StatusCode: 429, RetryAt: soon}, Want: "Fieldguide is limiting this token: try again after", Wrong: []string{"overloaded", "network"}},
		{Name: "limited, no retry-after", Err: &httpadapter.Error{Attempts: 4, StatusCode: 429}, Want: "Fieldguide is limiting this token: try again in a minute", Wrong: []string{"overloaded", "network"}},
		{Name: "Fieldguide's 503 is a throttle", Err: &httpadapter.Error{Attempts: 4, StatusCode: 503}, Want: "Fieldguide is limiting this token: try again in a minute", Wrong: []string{"overloaded", "network"}},
		{Name: "the limiter's own pause", Err: &httpadapter.Error{Err: &dynlimit.WaitError{RetryAt: soon}, RetryAt: soon}, Want: "Fieldguide is limiting this token: try again after", Wrong: []string{"overloaded", "network"}},
		{Name: "timeout", Err: &url.Error{Op: "Get", URL: "https://x.example", Err: exampletest.Timeout{}}, Want: "no answer within 20s", Wrong: []string{"limiting", "overloaded"}},
	})
}
