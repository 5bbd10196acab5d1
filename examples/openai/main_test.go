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

const key = "sk-proj-test-secret-1618"

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// fakeOpenAI serves GET /v1/models, handing call n (from 1) to handle.
func fakeOpenAI(t *testing.T, handle func(w http.ResponseWriter, n int32)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Method != http.MethodGet || r.URL.Path != "/v1/models" {
			t.Errorf("request %s %s, want GET /v1/models", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+key {
			t.Errorf("Authorization = %q, want the bearer key", got)
		}
		w.Header().Set("Content-Type", "application/json")
		handle(w, n)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

const models = `{"object":"list","data":[` +
	`{"id":"gpt-4o-mini","object":"model","created":1721172741,"owned_by":"system"},` +
	`{"id":"text-embedding-3-small","object":"model","created":1705948997,"owned_by":"system"},` +
	`{"id":"gpt-4o","object":"model","created":1715367049,"owned_by":"system"}]}`

func ok(w http.ResponseWriter) {
	h := w.Header()
	h.Set("X-Ratelimit-Limit-Requests", "500")
	h.Set("X-Ratelimit-Remaining-Requests", "499")
	h.Set("X-Ratelimit-Reset-Requests", "120ms")
	_, _ = w.Write([]byte(models))
}

func TestRun(t *testing.T) {
	srv, calls := fakeOpenAI(t, func(w http.ResponseWriter, _ int32) { ok(w) })
	var stdout, stderr bytes.Buffer
	code := run(env(map[string]string{"OPENAI_API_KEY": key, "OPENAI_BASE_URL": srv.URL}), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"200 OK, 3 models", "gpt-4o\n", "gpt-4o-mini", "rate limit (requests): 499 of 500 left, resets in 120ms",
		"limiter openai"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "rate limit (tokens)") {
		t.Errorf("stdout reports token limits the server did not send:\n%s", out)
	}
	if calls.Load() != 1 {
		t.Errorf("%d calls, want 1", calls.Load())
	}
	noKey(t, &stdout, &stderr)
}

// insufficient_quota is final: one call, no retry, and a word on billing.
func TestRunInsufficientQuota(t *testing.T) {
	srv, calls := fakeOpenAI(t, func(w http.ResponseWriter, _ int32) {
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"error":{"message":"You exceeded your current quota, please check your plan and billing details.",` +
			`"type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`))
	})
	var stdout, stderr bytes.Buffer
	if code := run(env(map[string]string{"OPENAI_API_KEY": key, "OPENAI_BASE_URL": srv.URL}), &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "429") || !strings.Contains(stderr.String(), "out of credit") {
		t.Errorf("stderr does not explain the failure:\n%s", stderr.String())
	}
	if calls.Load() != 1 {
		t.Errorf("%d calls, want 1", calls.Load())
	}
	noKey(t, &stdout, &stderr)
}

func TestRunWithoutKey(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(env(nil), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	if !strings.Contains(stdout.String(), "OPENAI_API_KEY") {
		t.Errorf("stdout does not name OPENAI_API_KEY:\n%s", stdout.String())
	}
}

func noKey(t *testing.T, stdout, stderr *bytes.Buffer) {
	t.Helper()
	if strings.Contains(stdout.String()+stderr.String(), key) {
		t.Errorf("the key was printed:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
}

// A OpenAI that cannot be reached is a network error, said as such at once:
// not a limit, not an overload.
func TestRunUnreachable(t *testing.T) {
	refused := exampletest.RefusedURL(t)
	var stdout, stderr bytes.Buffer
	if code := run(env(map[string]string{"OPENAI_API_KEY": key, "OPENAI_BASE_URL": refused}), &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	exampletest.Expect(t, stderr.String(), []string{"connection refused", "network error: OpenAI was not reached", "OPENAI_BASE_URL"}, []string{"limiting", "overloaded", "retries exhausted"})
	noKey(t, &stdout, &stderr)
}

// Each failure is explained by what happened: a network failure, an
// overload, a limit, a timeout.
func TestReport(t *testing.T) {
	soon := time.Now().Add(2 * time.Minute)
	exampletest.Reports(t, report, []exampletest.ReportCase{
		{Name: "no answer", Err: &httpadapter.Error{Attempts: 4, Err: errors.New("read: connection reset by peer")},
			Want: "network error: no answer from OpenAI after 4 attempts", Wrong: []string{"limiting", "overloaded"}},
		{Name: "overloaded", Err: &httpadapter.Error{Attempts: 4, StatusCode: 500}, Want: "OpenAI is overloaded (last status 500): try again in a minute", Wrong: []string{"limiting", "network"}},
		{Name: "overloaded, with a retry-after", Err: &httpadapter.Error{Attempts: 1, StatusCode: 502, RetryAt: soon}, Want: "OpenAI is overloaded (last status 502): try again after", Wrong: []string{"limiting", "network"}},
		{Name: "limited", Err: &httpadapter.Error{Attempts: 1, StatusCode: 429, RetryAt: soon}, Want: "OpenAI is limiting this project: try again after", Wrong: []string{"overloaded", "network"}},
		{Name: "limited, no retry-after", Err: &httpadapter.Error{Attempts: 4, StatusCode: 429}, Want: "OpenAI is limiting this project: try again in a minute", Wrong: []string{"overloaded", "network"}},
		{Name: "the limiter's own pause", Err: &httpadapter.Error{Err: &dynlimit.WaitError{RetryAt: soon}, RetryAt: soon}, Want: "OpenAI is limiting this project: try again after", Wrong: []string{"overloaded", "network"}},
		{Name: "timeout", Err: &url.Error{Op: "Get", URL: "https://x.example", Err: exampletest.Timeout{}}, Want: "no answer within 20s", Wrong: []string{"limiting", "overloaded"}},
	})
}
