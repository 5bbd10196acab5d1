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

const token = "patTEST.secret-5c0ffee"

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// fakeAirtable serves GET /v0/appTEST0123456789/{table} with handle after checking
// the request.
func fakeAirtable(t *testing.T, table string, handle func(w http.ResponseWriter)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Method != http.MethodGet || r.URL.Path != "/v0/appTEST0123456789/"+table || r.URL.Query().Get("maxRecords") != "3" {
			t.Errorf("request %s %s, want GET /v0/appTEST0123456789/%s?maxRecords=3", r.Method, r.URL, table)
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

const records = `{"records":[` +
	`{"id":"rec560UJdUtocSouk","createdTime":"2026-03-01T10:00:00.000Z","fields":{"Name":"Ada","Status":"Todo"}},` +
	`{"id":"rec3lbPRG4aVqkeOQ","createdTime":"2026-03-02T11:30:00.000Z","fields":{"Name":"Grace"}}],` +
	`"offset":"itrXYZ/rec3lbPRG4aVqkeOQ"}`

func TestRun(t *testing.T) {
	for _, tt := range []struct {
		name, table, wantTable string
	}{
		{name: "default table", wantTable: "Table 1"},
		{name: "named table", table: "Tasks", wantTable: "Tasks"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, calls := fakeAirtable(t, tt.wantTable, func(w http.ResponseWriter) { _, _ = w.Write([]byte(records)) })
			var stdout, stderr bytes.Buffer
			code := run(env(map[string]string{"AIRTABLE_TOKEN": token, "AIRTABLE_BASE_ID": "appTEST0123456789",
				"AIRTABLE_TABLE": tt.table, "AIRTABLE_BASE_URL": srv.URL}), &stdout, &stderr)
			if code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
			}
			out := stdout.String()
			for _, want := range []string{"200 OK", "2 records (more: true)", "rec560UJdUtocSouk", "2 fields",
				"limiter for base appTEST0123456789: rate 5.00/s"} {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			if calls.Load() != 1 {
				t.Errorf("%d calls, want 1", calls.Load())
			}
			noToken(t, &stdout, &stderr)
		})
	}
}

// Airtable wants 30 s of silence after a 429, longer than the request
// timeout: the call fails at once and says when to call again.
func TestRunThrottled(t *testing.T) {
	srv, calls := fakeAirtable(t, "Table 1", func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"errors":[{"error":"RATE_LIMIT_REACHED","message":"Rate limit exceeded. Please try again later"}]}`))
	})
	var stdout, stderr bytes.Buffer
	code := run(env(map[string]string{"AIRTABLE_TOKEN": token, "AIRTABLE_BASE_ID": "appTEST0123456789", "AIRTABLE_BASE_URL": srv.URL}),
		&stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "make no call before") || !strings.Contains(stderr.String(), "30s") {
		t.Errorf("stderr does not say when to call again:\n%s", stderr.String())
	}
	if calls.Load() != 1 {
		t.Errorf("%d calls, want 1", calls.Load())
	}
	noToken(t, &stdout, &stderr)
}

func TestRunNotFound(t *testing.T) {
	srv, _ := fakeAirtable(t, "Table 1", func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"NOT_FOUND"}`))
	})
	var stdout, stderr bytes.Buffer
	code := run(env(map[string]string{"AIRTABLE_TOKEN": token, "AIRTABLE_BASE_ID": "appTEST0123456789", "AIRTABLE_BASE_URL": srv.URL}),
		&stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "404") || !strings.Contains(stderr.String(), "NOT_FOUND") {
		t.Errorf("stderr does not explain the failure:\n%s", stderr.String())
	}
	noToken(t, &stdout, &stderr)
}

func TestRunWithoutConfiguration(t *testing.T) {
	for _, vars := range []map[string]string{
		nil,
		{"AIRTABLE_TOKEN": token},
		{"AIRTABLE_BASE_ID": "appTEST0123456789"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(env(vars), &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d, want 0", vars, code)
		}
		for _, want := range []string{"AIRTABLE_TOKEN", "AIRTABLE_BASE_ID"} {
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

// A Airtable that cannot be reached is a network error, said as such at once:
// not a limit, not an overload.
func TestRunUnreachable(t *testing.T) {
	refused := exampletest.RefusedURL(t)
	var stdout, stderr bytes.Buffer
	if code := run(env(map[string]string{"AIRTABLE_TOKEN": token, "AIRTABLE_BASE_URL": refused, "AIRTABLE_BASE_ID": "appTEST"}), &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	exampletest.Expect(t, stderr.String(), []string{"connection refused", "network error: Airtable was not reached", "AIRTABLE_BASE_URL"}, []string{"limiting", "overloaded", "retries exhausted"})
	noToken(t, &stdout, &stderr)
}

// Each failure is explained by what happened: a network failure, an
// overload, a limit, a timeout.
func TestReport(t *testing.T) {
	soon := time.Now().Add(2 * time.Minute)
	exampletest.Reports(t, report, []exampletest.ReportCase{
		{Name: "no answer", Err: &httpadapter.Error{Attempts: 4, Err: errors.New("read: connection reset by peer")},
			Want: "network error: no answer from Airtable after 4 attempts", Wrong: []string{"limiting", "overloaded"}},
		{Name: "overloaded", Err: &httpadapter.Error{Attempts: 4, StatusCode: 500}, Want: "Airtable is overloaded (last status 500): try again in a minute", Wrong: []string{"limiting", "network"}},
		{Name: "overloaded, with a retry-after", Err: &httpadapter.Error{Attempts: 1, StatusCode: 502, RetryAt: soon}, Want: "Airtable is overloaded (last status 502): try again after", Wrong: []string{"limiting", "network"}},
		{Name: "limited", Err: &httpadapter.Error{Attempts: 1, StatusCode: 429, RetryAt: soon}, Want: "Airtable is limiting this base: make no call before", Wrong: []string{"overloaded", "network"}},
		{Name: "limited, no retry-after", Err: &httpadapter.Error{Attempts: 4, StatusCode: 429}, Want: "Airtable is limiting this base: try again in a minute", Wrong: []string{"overloaded", "network"}},
		{Name: "the limiter's own pause", Err: &httpadapter.Error{Err: &dynlimit.WaitError{RetryAt: soon}, RetryAt: soon}, Want: "Airtable is limiting this base: make no call before", Wrong: []string{"overloaded", "network"}},
		{Name: "timeout", Err: &url.Error{Op: "Get", URL: "https://x.example", Err: exampletest.Timeout{}}, Want: "no answer within 20s", Wrong: []string{"limiting", "overloaded"}},
	})
}
