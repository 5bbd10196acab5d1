package httpadapter_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// One event per logical request, after its retries, with the time spent
// waiting for permits, backing off and in the upstream.
func TestRequestEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := script(status(429, "Retry-After", "2"), reply{status: 200, body: "ok"})
		var got []httpadapter.RequestEvent
		lim := newLimiter(t, steady, dynlimit.WithName("notion"))
		rt := newTransport(t, up, lim, httpadapter.WithOnRequest(func(ev httpadapter.RequestEvent) { got = append(got, ev) }),
			httpadapter.WithTenant("fallback"))
		ctx := httpadapter.ContextWithTenant(context.Background(), "tenant-123")
		resp, err := rt.RoundTrip(get(t, ctx, "https://api.example/v1/users/42/posts?token=secret"))
		if err != nil {
			t.Fatal(err)
		}
		closeBody(resp)
		if len(got) != 1 {
			t.Fatalf("%d events, want 1", len(got))
		}
		ev := got[0]
		want := httpadapter.RequestEvent{
			Integration: "notion", Tenant: "tenant-123", Method: "GET", Host: "api.example",
			Route: "/v1/users/{}/posts", Status: 200, Attempts: 2, Start: synctestEpoch,
			Elapsed: 2 * time.Second, Backoff: 2 * time.Second,
		}
		opts := cmp.Options{cmpIgnore("Signal", "Snapshot")}
		if d := cmp.Diff(want, ev, opts); d != "" {
			t.Errorf("event (-want +got):\n%s", d)
		}
		if ev.Signal.Kind != signal.Success || ev.Snapshot.Counters.Throttled != 1 {
			t.Errorf("signal %v, snapshot throttled %d; want success and 1", ev.Signal.Kind, ev.Snapshot.Counters.Throttled)
		}
	})
}

func cmpIgnore(fields ...string) cmp.Option {
	return cmp.FilterPath(func(p cmp.Path) bool {
		for _, f := range fields {
			if p.String() == f {
				return true
			}
		}
		return false
	}, cmp.Ignore())
}

// A failed request's event says why, with no credential in its message.
func TestRequestEventOnFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := script(status(503))
		var got []httpadapter.RequestEvent
		rt := newTransport(t, up, newLimiter(t, steady), constant(time.Second), httpadapter.WithMaxRetries(1),
			httpadapter.WithOnRequest(func(ev httpadapter.RequestEvent) { got = append(got, ev) }))
		resp, err := rt.RoundTrip(get(t, context.Background(), "https://user:pw@api.example/x?api_key=secret"))
		closeBody(resp)
		if !errors.Is(err, httpadapter.ErrRetriesExhausted) {
			t.Fatalf("err = %v", err)
		}
		ev := got[0]
		if ev.ErrKind != httpadapter.ErrKindRetriesExhausted || ev.Attempts != 2 || ev.Status != 503 || ev.Backoff != time.Second {
			t.Errorf("event = %+v", ev)
		}
		if msg := ev.Error(); strings.Contains(msg, "secret") || strings.Contains(msg, "pw") {
			t.Errorf("event error leaks a credential: %s", msg)
		}
	})
}

// A request that ends in an error reports, in its event and its log, the
// last status the upstream sent on any attempt, as its error does.
func TestFailedRequestReportsLastStatus(t *testing.T) {
	reset := errors.New("connection reset by peer")
	for _, tt := range []struct {
		name    string
		replies []reply
		opts    []httpadapter.Option
		kind    string
		status  int
	}{
		{"retries exhausted", []reply{status(503)}, nil, httpadapter.ErrKindRetriesExhausted, 503},
		{"retry-after too long", []reply{status(429, "Retry-After", "3600")}, nil, httpadapter.ErrKindWaitTooLong, 429},
		{"503, then a transport error", []reply{status(503), {err: reset}}, []httpadapter.Option{httpadapter.WithMaxRetries(1)}, httpadapter.ErrKindRetriesExhausted, 503},
		{"no response at all", []reply{{err: reset}}, nil, httpadapter.ErrKindRetriesExhausted, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var buf bytes.Buffer
				logger := slog.New(slog.NewJSONHandler(&buf, nil))
				var got []httpadapter.RequestEvent
				opts := append([]httpadapter.Option{
					constant(time.Second), httpadapter.WithLogger(logger), httpadapter.WithMaxWait(time.Minute),
					httpadapter.WithOnRequest(func(ev httpadapter.RequestEvent) { got = append(got, ev) }),
				}, tt.opts...)
				rt := newTransport(t, script(tt.replies...), newLimiter(t, steady), opts...)
				resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
				closeBody(resp)
				if err == nil || len(got) != 1 {
					t.Fatalf("err = %v, %d events; want an error and one event", err, len(got))
				}
				if ev := got[0]; ev.ErrKind != tt.kind || ev.Status != tt.status {
					t.Errorf("event: kind %q, status %d; want %q, %d (err: %v)", ev.ErrKind, ev.Status, tt.kind, tt.status, err)
				}
				if want := fmt.Sprintf(`"status":%d,`, tt.status); !strings.Contains(buf.String(), want) {
					t.Errorf("log lacks %s:\n%s", want, buf.String())
				}
			})
		})
	}
}

// Without a callback, logger or instrument, the Transport allocates nothing
// of its own for a request that succeeds at once.
func TestRoundTripAllocatesNothingUnobserved(t *testing.T) {
	resp := &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}}
	base := roundTripFunc(func(*http.Request) (*http.Response, error) { return resp, nil })
	// A limit that never makes a request wait: a wait's timer is the
	// limiter's allocation, not the Transport's.
	rt := newTransport(t, base, newLimiter(t, policy.Fixed{Rate: 1e12, Burst: 1e9}),
		httpadapter.WithClassifier(signal.HTTP{}))
	req := get(t, context.Background(), apiURL)
	if n := testing.AllocsPerRun(1000, func() { r, _ := rt.RoundTrip(req); closeBody(r) }); n != 0 {
		t.Errorf("RoundTrip allocates %v times per request, want 0", n)
	}
}

// Nothing secret reaches the log: not the headers, not the query string,
// not the user info, not in the transport's error either.
func TestLoggerRedacts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		calls := 0
		base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			calls++
			if calls == 1 {
				return response(req, 429, "", "Retry-After", "1"), nil
			}
			if calls == 2 {
				return response(req, 200, "ok"), nil
			}
			return nil, &url.Error{Op: "Get", URL: req.URL.String(), Err: errors.New("connection refused")}
		})
		lim := newLimiter(t, steady, dynlimit.WithObserver(dynlimit.NewLogObserver(logger)))
		rt := newTransport(t, base, lim, httpadapter.WithLogger(logger), httpadapter.WithMaxRetries(0))
		for i := range 3 {
			req := get(t, context.Background(), fmt.Sprintf("https://bob:hunter2@api.example/v1/items/%d?token=s3cr3t&api_key=s3cr3t", i))
			req.Header.Set("Authorization", "Bearer s3cr3t")
			req.Header.Set("Cookie", "session=s3cr3t")
			req.Header.Set("X-Api-Key", "s3cr3t")
			req.Header.Set("Proxy-Authorization", "Basic s3cr3t")
			resp, _ := rt.RoundTrip(req)
			closeBody(resp)
		}
		out := buf.String()
		for _, secret := range []string{"s3cr3t", "hunter2", "bob"} {
			if strings.Contains(out, secret) {
				t.Errorf("log holds %q:\n%s", secret, out)
			}
		}
		for _, want := range []string{`"msg":"request"`, `"msg":"request failed"`, `"msg":"throttled"`, `"route":"/v1/items/{}"`, `"error_kind":"transport"`, `"level":"WARN"`} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %s:\n%s", want, out)
			}
		}
	})
}

func TestErrorKind(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{context.Canceled, httpadapter.ErrKindCanceled},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), httpadapter.ErrKindTimeout},
		{&url.Error{Op: "Get", URL: "u", Err: timeoutErr{}}, httpadapter.ErrKindTimeout},
		{errors.New("connection reset"), httpadapter.ErrKindTransport},
	}
	for _, tt := range tests {
		if got := httpadapter.ErrorKind(tt.err); got != tt.want {
			t.Errorf("ErrorKind(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string { return "i/o timeout" }
func (timeoutErr) Timeout() bool { return true }

func TestRedactError(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{
			fmt.Errorf("calling: %w", &url.Error{Op: "Post", URL: "https://u:p@api.example/x?token=abc#frag", Err: errors.New("EOF")}),
			`calling: Post "https://api.example/x": EOF`,
		},
		{
			// A webhook's secret is its path.
			&url.Error{Op: "Post", URL: "https://hooks.slack.com/services/T0/B0/XXXXXXXXXXXXXXXXXXXXXXXX", Err: errors.New("EOF")},
			`Post "https://hooks.slack.com/services/{}/{}/{}": EOF`,
		},
		{
			&url.Error{Op: "Get", URL: "https://u:p@api.example/%zz/XXXXXXXXXXXXXXXXXXXXXXXX?token=abc", Err: errors.New("EOF")},
			`Get "https://api.example/{}/{}": EOF`,
		},
		{errors.New("no URL"), "no URL"},
		{nil, ""},
	} {
		if got := httpadapter.RedactError(tt.err); got != tt.want {
			t.Errorf("RedactError(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// peekCounter counts the snapshots taken of its bucket.
type peekCounter struct {
	bucket.Bucket
	n int
}

func (p *peekCounter) Peek(ctx context.Context, now time.Time) (bucket.Status, error) {
	p.n++
	return p.Bucket.Peek(ctx, now)
}

// A logger whose level drops a request's event costs no snapshot of the
// bucket (a call to Redis for a shared one); one that logs it does.
func TestSnapshotOnlyForALoggedEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tc := range []struct {
			level slog.Level
			want  int
		}{{slog.LevelInfo, 0}, {slog.LevelDebug, 1}} {
			b := &peekCounter{Bucket: bucket.NewLocal()}
			logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: tc.level}))
			rt := newTransport(t, script(reply{status: 200}), newLimiter(t, steady, dynlimit.WithBucket(b)), httpadapter.WithLogger(logger))
			resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
			if err != nil {
				t.Fatal(err)
			}
			closeBody(resp)
			if b.n != tc.want {
				t.Errorf("logger at %v: %d snapshots for a successful request, want %d", tc.level, b.n, tc.want)
			}
		}
	})
}
