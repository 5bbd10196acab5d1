package main

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(env(map[string]string{"NOTION_TOKEN": token, "NOTION_BASE_URL": "http://" + addr}), &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	out := stderr.String()
	for _, want := range []string{"connection refused", "network error: Notion was not reached", "NOTION_BASE_URL"} {
		if !strings.Contains(out, want) {
			t.Errorf("stderr lacks %q:\n%s", want, out)
		}
	}
	for _, wrong := range []string{"limiting", "overloaded", "retries exhausted"} {
		if strings.Contains(out, wrong) {
			t.Errorf("stderr says %q of a refused connection:\n%s", wrong, out)
		}
	}
	noToken(t, &stdout, &stderr)
}

// Each failure is explained by what happened: a network failure, an
// overload, a limit, a timeout.
func TestReport(t *testing.T) {
	soon := time.Now().Add(2 * time.Minute)
	for _, tt := range []struct {
		name  string
		err   error
		want  string
		wrong []string
	}{
		{"no answer", &httpadapter.Error{Attempts: 4, Err: errors.New("read: connection reset by peer")},
			"network error: no answer from Notion after 4 attempts", []string{"limiting", "overloaded"}},
		{"overloaded", &httpadapter.Error{Attempts: 4, StatusCode: 500}, "Notion is overloaded (last status 500): try again in a minute", []string{"limiting", "network"}},
		{"overloaded, with a retry-after", &httpadapter.Error{Attempts: 1, StatusCode: 502, RetryAt: soon}, "Notion is overloaded (last status 502): try again after", []string{"limiting", "network"}},
		{"limited", &httpadapter.Error{Attempts: 1, StatusCode: 429, RetryAt: soon}, "Notion is limiting this integration: try again after", []string{"overloaded", "network"}},
		{"limited, no retry-after", &httpadapter.Error{Attempts: 4, StatusCode: 429}, "Notion is limiting this integration: try again in a minute", []string{"overloaded", "network"}},
		{"Notion's 529 is a throttle", &httpadapter.Error{Attempts: 4, StatusCode: 529}, "Notion is limiting this integration: try again in a minute", []string{"overloaded", "network"}},
		{"the limiter's own pause", &httpadapter.Error{Err: &dynlimit.WaitError{RetryAt: soon}, RetryAt: soon}, "Notion is limiting this integration: try again after", []string{"overloaded", "network"}},
		{"timeout", &url.Error{Op: "Get", URL: "https://x.example", Err: timeout{}}, "no answer within 20s", []string{"limiting", "overloaded"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := report(&stderr, tt.err); code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			out := stderr.String()
			if !strings.Contains(out, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, out)
			}
			for _, w := range tt.wrong {
				if strings.Contains(out, w) {
					t.Errorf("stderr says %q:\n%s", w, out)
				}
			}
		})
	}
}

type timeout struct{}

func (timeout) Error() string   { return "i/o timeout" }
func (timeout) Timeout() bool   { return true }
func (timeout) Temporary() bool { return true }
