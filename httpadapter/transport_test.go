package httpadapter_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

const apiURL = "https://api.example.com/v1/items"

func TestSuccessPassesThrough(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := script(reply{status: http.StatusOK, body: "hello", header: []string{"X-Upstream", "yes"}})
		lim := newLimiter(t, steady)
		rt := newTransport(t, up, lim)

		req := newRequest(t, context.Background(), http.MethodPut, apiURL+"/1?page=2", "payload")
		req.Header.Set("Authorization", "Bearer secret")
		header, u, reqBody, ctx := req.Header.Clone(), *req.URL, req.Body, req.Context()

		start := time.Now()
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("RoundTrip: %v", err)
		}
		defer resp.Body.Close()
		if d := time.Since(start); d != 0 {
			t.Errorf("RoundTrip took %v with tokens to spare, want no wait", d)
		}

		got := up.sent()
		if len(got) != 1 {
			t.Fatalf("upstream saw %d attempts, want 1", len(got))
		}
		// No clone on the success path: the only attempt is the caller's
		// request itself.
		if got[0].req != req {
			t.Error("the only attempt did not send the caller's request")
		}
		if got[0].body != "payload" {
			t.Errorf("upstream read body %q, want %q", got[0].body, "payload")
		}
		if resp.Body != io.ReadCloser(up.responseBodies()[0]) || resp.Header.Get("X-Upstream") != "yes" || resp.StatusCode != http.StatusOK {
			t.Error("the response is not the base transport's, untouched")
		}
		if b := readBody(t, resp); b != "hello" {
			t.Errorf("body = %q, want %q", b, "hello")
		}

		if diff := cmp.Diff(header, req.Header); diff != "" {
			t.Errorf("request headers changed (-before +after):\n%s", diff)
		}
		if *req.URL != u {
			t.Errorf("request URL changed: %v, was %v", req.URL, &u)
		}
		if req.Body != reqBody || req.Context() != ctx {
			t.Error("request body or context replaced")
		}

		want := dynlimit.Counters{Granted: 1, Succeeded: 1}
		if diff := cmp.Diff(want, lim.Snapshot().Counters); diff != "" {
			t.Errorf("counters (-want +got):\n%s", diff)
		}
	})
}

func TestNilBaseIsDefaultTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "from the server")
	}))
	defer srv.Close()
	t.Cleanup(http.DefaultTransport.(*http.Transport).CloseIdleConnections)

	lim := newLimiter(t, steady)
	rt := newTransport(t, nil, lim)
	if rt.Limiter() != lim {
		t.Error("Limiter() is not the limiter passed to NewTransport")
	}
	resp, err := (&http.Client{Transport: rt}).Get(srv.URL)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if b := readBody(t, resp); b != "from the server" {
		t.Errorf("body = %q", b)
	}
	if got := lim.Snapshot().Counters; got.Granted != 1 || got.Succeeded != 1 {
		t.Errorf("counters = %+v, want one granted and succeeded", got)
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name    string
		opts    []httpadapter.Option
		replies []reply
		// The response returned, or the *Error.
		wantStatus    int
		wantBody      string
		wantErr       error
		wantAttempts  int
		wantErrStatus int
		want          dynlimit.Counters
	}{
		{
			name:       "429 then 200",
			replies:    []reply{status(429), {status: 200, body: "ok"}},
			wantStatus: 200, wantBody: "ok", wantAttempts: 2,
			want: dynlimit.Counters{Granted: 2, Throttled: 1, Succeeded: 1},
		},
		{
			name:       "overloads then 200",
			replies:    []reply{status(500), status(502), status(504), {status: 200, body: "ok"}},
			wantStatus: 200, wantBody: "ok", wantAttempts: 4,
			want: dynlimit.Counters{Granted: 4, Overloaded: 3, Succeeded: 1},
		},
		{
			name:    "503 until the retries run out",
			opts:    []httpadapter.Option{httpadapter.WithMaxRetries(3)},
			replies: []reply{{status: 503, body: "busy"}},
			wantErr: httpadapter.ErrRetriesExhausted, wantAttempts: 4, wantErrStatus: 503,
			want: dynlimit.Counters{Granted: 4, Overloaded: 4},
		},
		{
			name:    "429 until the default retries run out",
			replies: []reply{status(429)},
			wantErr: httpadapter.ErrRetriesExhausted, wantAttempts: httpadapter.DefaultMaxRetries + 1, wantErrStatus: 429,
			want: dynlimit.Counters{Granted: httpadapter.DefaultMaxRetries + 1, Throttled: httpadapter.DefaultMaxRetries + 1},
		},
		{
			name:       "last response returned when asked for",
			opts:       []httpadapter.Option{httpadapter.WithMaxRetries(2), httpadapter.WithReturnLastResponse(true)},
			replies:    []reply{{status: 503, body: "first"}, {status: 503, body: "second"}, {status: 503, body: "third"}},
			wantStatus: 503, wantBody: "third", wantAttempts: 3,
			want: dynlimit.Counters{Granted: 3, Overloaded: 3},
		},
		{
			name:       "no retries",
			opts:       []httpadapter.Option{httpadapter.WithMaxRetries(0)},
			replies:    []reply{{status: 429, body: "slow down"}, status(200)},
			wantStatus: 429, wantBody: "slow down", wantAttempts: 1,
			want: dynlimit.Counters{Granted: 1, Throttled: 1},
		},
		{
			name:       "a failure is not retried",
			replies:    []reply{{status: 404, body: "no such item"}, status(200)},
			wantStatus: 404, wantBody: "no such item", wantAttempts: 1,
			want: dynlimit.Counters{Granted: 1, Failed: 1},
		},
		{
			name:       "501 is a failure",
			replies:    []reply{{status: 501, body: "no"}, status(200)},
			wantStatus: 501, wantBody: "no", wantAttempts: 1,
			want: dynlimit.Counters{Granted: 1, Failed: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				up := script(tt.replies...)
				lim := newLimiter(t, steady)
				rt := newTransport(t, up, lim, append([]httpadapter.Option{constant(100 * time.Millisecond)}, tt.opts...)...)

				resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
				if n := up.attempts(); n != tt.wantAttempts {
					t.Errorf("upstream saw %d attempts, want %d", n, tt.wantAttempts)
				}
				bodies := up.responseBodies()
				if tt.wantErr != nil {
					closeBody(resp)
					var e *httpadapter.Error
					if !errors.As(err, &e) || !errors.Is(err, tt.wantErr) {
						t.Fatalf("err = %v, want an *Error matching %v", err, tt.wantErr)
					}
					if resp != nil {
						t.Error("a response came with the error")
					}
					want := httpadapter.Error{Method: http.MethodGet, URL: apiURL, Attempts: tt.wantAttempts, StatusCode: tt.wantErrStatus}
					if e.Method != want.Method || e.URL != want.URL || e.Attempts != want.Attempts || e.StatusCode != want.StatusCode ||
						e.RetryAfter != 0 || !e.RetryAt.IsZero() || e.Err != nil {
						t.Errorf("Error = %+v, want %+v", *e, want)
					}
					if errors.Is(err, httpadapter.ErrWaitTooLong) {
						t.Error("exhausted retries match ErrWaitTooLong")
					}
				} else {
					if err != nil {
						t.Fatalf("RoundTrip: %v", err)
					}
					if resp.StatusCode != tt.wantStatus {
						t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
					}
					if resp.Body != io.ReadCloser(bodies[len(bodies)-1]) {
						t.Error("the response returned is not the last one")
					}
					if b := readBody(t, resp); b != tt.wantBody {
						t.Errorf("body = %q, want %q", b, tt.wantBody)
					}
					bodies = bodies[:len(bodies)-1]
				}
				for i, b := range bodies {
					if read, closed := b.state(); !closed || read != int64(len(tt.replies[min(i, len(tt.replies)-1)].body)) {
						t.Errorf("discarded body %d: read %d bytes, closed %v; want drained and closed", i, read, closed)
					}
				}
				if diff := cmp.Diff(tt.want, lim.Snapshot().Counters); diff != "" {
					t.Errorf("counters (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestRetryWaits(t *testing.T) {
	tests := []struct {
		name    string
		opts    []httpadapter.Option
		replies []reply
		want    []time.Duration
	}{
		{
			name:    "Retry-After in seconds",
			replies: []reply{status(429, "Retry-After", "2"), status(200)},
			want:    []time.Duration{2 * time.Second},
		},
		{
			name:    "Retry-After on overloads",
			replies: []reply{status(503, "Retry-After", "1"), status(503, "Retry-After", "3"), status(200)},
			want:    []time.Duration{time.Second, 3 * time.Second},
		},
		{
			name:    "fractional Retry-After",
			replies: []reply{status(429, "Retry-After", "1.5"), status(200)},
			want:    []time.Duration{1500 * time.Millisecond},
		},
		{
			name:    "retry-after-ms",
			replies: []reply{status(429, "Retry-After-Ms", "250", "Retry-After", "1"), status(200)},
			want:    []time.Duration{250 * time.Millisecond},
		},
		{
			name: "Retry-After as an HTTP-date",
			// The bubble starts on a whole second, so the date is exact.
			replies: []reply{status(429, "Retry-After", synctestEpoch.Add(3*time.Second).Format(http.TimeFormat)), status(200)},
			want:    []time.Duration{3 * time.Second},
		},
		{
			name:    "reset of an exhausted quota",
			replies: []reply{status(429, "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "4"), status(200)},
			// The exhausted quota is also a cooldown in the limiter,
			// which empties its bucket: the first token after it comes
			// one interval (1 ms at steady's rate) later.
			want: []time.Duration{4*time.Second + time.Millisecond},
		},
		{
			name:    "Retry-After: 0 means at once, not the backoff",
			opts:    []httpadapter.Option{constant(700 * time.Millisecond)},
			replies: []reply{status(429, "Retry-After", "0"), status(200)},
			want:    []time.Duration{0},
		},
		{
			name:    "backoff without Retry-After",
			opts:    []httpadapter.Option{constant(700 * time.Millisecond)},
			replies: []reply{status(503), status(429), status(200)},
			want:    []time.Duration{700 * time.Millisecond, 700 * time.Millisecond},
		},
		{
			name:    "Retry-After over the backoff",
			opts:    []httpadapter.Option{constant(700 * time.Millisecond)},
			replies: []reply{status(503), status(503, "Retry-After", "2"), status(200)},
			want:    []time.Duration{700 * time.Millisecond, 2 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				up := script(tt.replies...)
				rt := newTransport(t, up, newLimiter(t, steady), tt.opts...)
				resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
				if err != nil {
					t.Fatalf("RoundTrip: %v", err)
				}
				closeBody(resp)
				if resp.StatusCode != http.StatusOK {
					t.Errorf("status = %d, want 200", resp.StatusCode)
				}
				if diff := cmp.Diff(tt.want, up.gaps()); diff != "" {
					t.Errorf("gaps between attempts (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestDefaultBackoffIsExponentialWithJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := script(status(503), status(503), status(503), status(200))
		rt := newTransport(t, up, newLimiter(t, steady))
		resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
		if err != nil {
			t.Fatalf("RoundTrip: %v", err)
		}
		closeBody(resp)
		// backoff.ExponentialBackOff's defaults: 500 ms, ×1.5, ±50 %.
		interval := 500 * time.Millisecond
		for i, g := range up.gaps() {
			if lo, hi := interval/2, interval*3/2; g < lo || g > hi {
				t.Errorf("wait %d = %v, want within [%v, %v]", i, g, lo, hi)
			}
			interval = interval * 3 / 2
		}
	})
}

func TestBackoffStopEndsRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		made := 0
		up := script(status(503))
		rt := newTransport(t, up, newLimiter(t, steady), httpadapter.WithBackoff(func() backoff.BackOff {
			made++
			return backoff.WithMaxRetries(backoff.NewConstantBackOff(700*time.Millisecond), 1)
		}))
		resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
		closeBody(resp)
		var e *httpadapter.Error
		if !errors.As(err, &e) || !errors.Is(err, httpadapter.ErrRetriesExhausted) || e.Attempts != 2 || e.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("err = %v, want retries exhausted after 2 attempts", err)
		}
		if diff := cmp.Diff([]time.Duration{700 * time.Millisecond}, up.gaps()); diff != "" {
			t.Errorf("gaps (-want +got):\n%s", diff)
		}
		for i, b := range up.responseBodies() {
			if _, closed := b.state(); !closed {
				t.Errorf("response %d not closed", i)
			}
		}

		// A fresh backoff for each request, none for a Retry-After.
		resp, err = rt.RoundTrip(get(t, context.Background(), apiURL))
		closeBody(resp)
		if !errors.Is(err, httpadapter.ErrRetriesExhausted) {
			t.Fatalf("second request: err = %v, want retries exhausted", err)
		}
		up2 := script(status(429, "Retry-After", "1"), status(200))
		rt2 := newTransport(t, up2, newLimiter(t, steady), httpadapter.WithBackoff(func() backoff.BackOff {
			made++
			return &backoff.StopBackOff{}
		}))
		resp, err = rt2.RoundTrip(get(t, context.Background(), apiURL))
		if err != nil {
			t.Fatalf("request with Retry-After: %v", err)
		}
		closeBody(resp)
		if made != 2 {
			t.Errorf("%d backoffs made, want one per request that needed one (2)", made)
		}
	})
}

func TestDiscardedBodiesAreDrainedUpToTheLimit(t *testing.T) {
	big := strings.Repeat("x", 100_000)
	tests := []struct {
		name string
		opts []httpadapter.Option
		want int64
	}{
		{"default limit", nil, httpadapter.DefaultDrainLimit},
		{"limit above the body", []httpadapter.Option{httpadapter.WithDrainLimit(1 << 20)}, int64(len(big))},
		{"small limit", []httpadapter.Option{httpadapter.WithDrainLimit(100)}, 100},
		{"no draining", []httpadapter.Option{httpadapter.WithDrainLimit(0)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				up := script(reply{status: 503, body: big}, reply{status: 200, body: "ok"})
				rt := newTransport(t, up, newLimiter(t, steady), append(tt.opts, constant(time.Second))...)
				resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
				if err != nil {
					t.Fatalf("RoundTrip: %v", err)
				}
				bodies := up.responseBodies()
				if read, closed := bodies[0].state(); read != tt.want || !closed {
					t.Errorf("discarded body: read %d bytes, closed %v; want %d, closed", read, closed, tt.want)
				}
				if _, closed := bodies[1].state(); closed {
					t.Error("the body returned was closed")
				}
				if b := readBody(t, resp); b != "ok" {
					t.Errorf("body = %q", b)
				}
			})
		})
	}
}

func TestReplay(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		body      string
		noGetBody bool
		noBody    bool // http.NoBody
		header    []string
		opts      []httpadapter.Option
		retried   bool
	}{
		{name: "GET", method: http.MethodGet, retried: true},
		{name: "HEAD", method: http.MethodHead, retried: true},
		{name: "DELETE", method: http.MethodDelete, retried: true},
		{name: "PUT with a body", method: http.MethodPut, body: "payload", retried: true},
		{name: "POST", method: http.MethodPost, body: "payload"},
		{name: "POST without a body", method: http.MethodPost, noBody: true},
		{name: "PATCH", method: http.MethodPatch, body: "payload"},
		{name: "POST with an Idempotency-Key", method: http.MethodPost, body: "payload", header: []string{"Idempotency-Key", "k-1"}, retried: true},
		{name: "PATCH with an Idempotency-Key", method: http.MethodPatch, body: "payload", header: []string{"Idempotency-Key", "k-2"}, retried: true},
		{name: "POST, non-idempotent retries allowed", method: http.MethodPost, body: "payload", opts: []httpadapter.Option{httpadapter.WithRetryNonIdempotent(true)}, retried: true},
		{name: "POST, non-idempotent retries allowed, no GetBody", method: http.MethodPost, body: "payload", noGetBody: true, opts: []httpadapter.Option{httpadapter.WithRetryNonIdempotent(true)}},
		{name: "PUT without GetBody", method: http.MethodPut, body: "payload", noGetBody: true},
		{name: "POST with an Idempotency-Key, no GetBody", method: http.MethodPost, body: "payload", noGetBody: true, header: []string{"Idempotency-Key", "k-3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				up := script(reply{status: 429, body: "throttled"}, reply{status: 200, body: "ok"})
				rt := newTransport(t, up, newLimiter(t, steady), append(tt.opts, constant(time.Second))...)
				req := newRequest(t, context.Background(), tt.method, apiURL, tt.body)
				if tt.noGetBody {
					req.GetBody = nil
				}
				if tt.noBody {
					req.Body, req.GetBody = http.NoBody, nil
				}
				for i := 0; i < len(tt.header); i += 2 {
					req.Header.Set(tt.header[i], tt.header[i+1])
				}
				reqBody := req.Body

				resp, err := rt.RoundTrip(req)
				if err != nil {
					t.Fatalf("RoundTrip: %v", err)
				}
				wantStatus, wantBody, wantAttempts := 429, "throttled", 1
				if tt.retried {
					wantStatus, wantBody, wantAttempts = 200, "ok", 2
				}
				if resp.StatusCode != wantStatus {
					t.Errorf("status = %d, want %d", resp.StatusCode, wantStatus)
				}
				// A response that is not retried is returned as is, unread.
				if b := readBody(t, resp); b != wantBody {
					t.Errorf("body = %q, want %q", b, wantBody)
				}
				got := up.sent()
				if len(got) != wantAttempts {
					t.Fatalf("upstream saw %d attempts, want %d", len(got), wantAttempts)
				}
				for i, s := range got {
					if s.body != tt.body {
						t.Errorf("attempt %d sent body %q, want %q", i+1, s.body, tt.body)
					}
					if s.req.Method != tt.method || s.req.URL.String() != apiURL {
						t.Errorf("attempt %d: %s %s, want %s %s", i+1, s.req.Method, s.req.URL, tt.method, apiURL)
					}
					if diff := cmp.Diff(req.Header, s.req.Header); diff != "" {
						t.Errorf("attempt %d headers (-caller +sent):\n%s", i+1, diff)
					}
				}
				if tt.retried && got[1].req == req {
					t.Error("the retry sent the caller's request rather than a clone")
				}
				if req.Body != reqBody {
					t.Error("the caller's request body was replaced")
				}
			})
		})
	}
}

func TestGetBodyErrorIsReturned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errReopen := errors.New("cannot reopen the body")
		up := script(status(429, "Retry-After", "1"), status(200))
		lim := newLimiter(t, steady)
		rt := newTransport(t, up, lim)
		req := newRequest(t, context.Background(), http.MethodPut, apiURL, "payload")
		req.GetBody = func() (io.ReadCloser, error) { return nil, errReopen }

		resp, err := rt.RoundTrip(req)
		closeBody(resp)
		if resp != nil || !errors.Is(err, errReopen) {
			t.Fatalf("RoundTrip = %v, %v; want nil and the GetBody error", resp, err)
		}
		if n := up.attempts(); n != 1 {
			t.Errorf("upstream saw %d attempts, want 1", n)
		}
		if _, closed := up.responseBodies()[0].state(); !closed {
			t.Error("the throttled response was not closed")
		}
		// The permit taken for the attempt that never went is given back as
		// canceled: it says nothing about the upstream.
		want := dynlimit.Counters{Granted: 2, Throttled: 1, Canceled: 1}
		if diff := cmp.Diff(want, lim.Snapshot().Counters); diff != "" {
			t.Errorf("counters (-want +got):\n%s", diff)
		}
	})
}

func TestWaitPastTheBoundFailsAtOnce(t *testing.T) {
	tests := []struct {
		name    string
		opts    []httpadapter.Option
		timeout time.Duration // 0: no deadline
		reply   reply
		// relative to the start
		wantRetryAt    time.Duration
		wantRetryAfter time.Duration
	}{
		{
			name:        "Retry-After past the deadline",
			timeout:     time.Second,
			reply:       reply{status: 429, body: "later", header: []string{"Retry-After", "5"}},
			wantRetryAt: 5 * time.Second, wantRetryAfter: 5 * time.Second,
		},
		{
			name:  "Retry-After past the max wait",
			opts:  []httpadapter.Option{httpadapter.WithMaxWait(time.Hour)},
			reply: reply{status: 429, body: "tomorrow", header: []string{"Retry-After", "86400"}},
			// The limiter acts on at most its max pause, an hour: the next
			// attempt can go then, and the error says so.
			wantRetryAt: time.Hour, wantRetryAfter: time.Hour,
		},
		{
			name:        "Retry-After past the default max wait",
			reply:       reply{status: 503, header: []string{"Retry-After", "61"}},
			wantRetryAt: 61 * time.Second, wantRetryAfter: 61 * time.Second,
		},
		{
			name:        "HTTP-date past the max wait",
			opts:        []httpadapter.Option{httpadapter.WithMaxWait(time.Hour)},
			reply:       reply{status: 429, header: []string{"Retry-After", synctestEpoch.Add(2 * time.Hour).Format(http.TimeFormat)}},
			wantRetryAt: time.Hour, wantRetryAfter: time.Hour,
		},
		{
			name:        "exhausted quota resetting past the deadline",
			timeout:     10 * time.Second,
			reply:       reply{status: 429, header: []string{"RateLimit", `"default";r=0;t=30`}},
			wantRetryAt: 30 * time.Second, wantRetryAfter: 30 * time.Second,
		},
		{
			name:        "backoff past the deadline",
			opts:        []httpadapter.Option{constant(2 * time.Second)},
			timeout:     time.Second,
			reply:       reply{status: 503, body: "busy"},
			wantRetryAt: 2 * time.Second,
		},
		{
			name:        "backoff past the max wait",
			opts:        []httpadapter.Option{constant(2 * time.Second), httpadapter.WithMaxWait(time.Second)},
			reply:       reply{status: 503, body: "busy"},
			wantRetryAt: 2 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				if tt.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.timeout)
					defer cancel()
				}
				up := script(tt.reply, status(200))
				lim := newLimiter(t, steady)
				rt := newTransport(t, up, lim, tt.opts...)

				start := time.Now()
				resp, err := rt.RoundTrip(get(t, ctx, apiURL))
				closeBody(resp)
				if d := time.Since(start); d != 0 {
					t.Errorf("gave up after %v, want at once", d)
				}
				var e *httpadapter.Error
				if !errors.As(err, &e) {
					t.Fatalf("err = %v, want an *httpadapter.Error", err)
				}
				if !errors.Is(err, httpadapter.ErrWaitTooLong) || !errors.Is(err, dynlimit.ErrWaitTooLong) {
					t.Errorf("err = %v, want it to match both ErrWaitTooLongs", err)
				}
				if errors.Is(err, httpadapter.ErrRetriesExhausted) {
					t.Error("err matches ErrRetriesExhausted")
				}
				if resp != nil {
					t.Error("a response came with the error")
				}
				if e.Attempts != 1 || e.StatusCode != tt.reply.status || e.RetryAfter != tt.wantRetryAfter ||
					!e.RetryAt.Equal(start.Add(tt.wantRetryAt)) || e.Err == nil {
					t.Errorf("Error = %+v; want 1 attempt, status %d, RetryAfter %v, RetryAt start+%v and a cause",
						*e, tt.reply.status, tt.wantRetryAfter, tt.wantRetryAt)
				}
				if !strings.Contains(err.Error(), "gave up waiting") {
					t.Errorf("message %q does not say it gave up waiting", err)
				}
				if n := up.attempts(); n != 1 {
					t.Errorf("upstream saw %d attempts, want 1", n)
				}
				if read, closed := up.responseBodies()[0].state(); !closed || read != int64(len(tt.reply.body)) {
					t.Errorf("response read %d bytes, closed %v; want drained and closed", read, closed)
				}
			})
		})
	}
}

func TestPermitWaitPastTheBound(t *testing.T) {
	t.Run("first attempt", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			lim := newLimiter(t, policy.Fixed{Rate: 1, Burst: 1})
			p, ok := lim.Allow()
			if !ok {
				t.Fatal("no token to drain")
			}
			p.Done(signal.Signal{})
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			up := script(status(200))
			rt := newTransport(t, up, lim)
			body := &requestBody{Reader: strings.NewReader("payload")}
			req, err := http.NewRequestWithContext(ctx, http.MethodPut, apiURL, body)
			if err != nil {
				t.Fatal(err)
			}

			start := time.Now()
			resp, err := rt.RoundTrip(req)
			closeBody(resp)
			if d := time.Since(start); d != 0 {
				t.Errorf("gave up after %v, want at once", d)
			}
			var (
				e  *httpadapter.Error
				we *dynlimit.WaitError
			)
			if !errors.As(err, &e) || !errors.As(err, &we) {
				t.Fatalf("err = %v, want an *httpadapter.Error wrapping a *dynlimit.WaitError", err)
			}
			if !errors.Is(err, httpadapter.ErrWaitTooLong) || !errors.Is(err, dynlimit.ErrWaitTooLong) {
				t.Errorf("err = %v, want it to match both ErrWaitTooLongs", err)
			}
			if e.Attempts != 0 || e.StatusCode != 0 || !e.RetryAt.Equal(start.Add(time.Second)) || !e.RetryAt.Equal(we.RetryAt) || !we.Deadline {
				t.Errorf("Error = %+v, WaitError = %+v; want no attempt, RetryAt start+1s, bound by the deadline", *e, *we)
			}
			if n := up.attempts(); n != 0 {
				t.Errorf("upstream saw %d attempts, want none", n)
			}
			// A RoundTripper closes the request body even on errors; the
			// base transport never got this one to close.
			if !body.isClosed() {
				t.Error("request body not closed")
			}
		})
	})
	t.Run("retry", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			lim := newLimiter(t, policy.Fixed{Rate: 0.5, Burst: 1})
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer cancel()
			up := script(status(503, "Retry-After", "1"), status(200))
			rt := newTransport(t, up, lim)

			start := time.Now()
			resp, err := rt.RoundTrip(get(t, ctx, apiURL))
			closeBody(resp)
			// The Retry-After fits before the deadline; the token after it
			// (due 2 s after the first) does not.
			if d := time.Since(start); d != time.Second {
				t.Errorf("gave up after %v, want 1s", d)
			}
			var (
				e  *httpadapter.Error
				we *dynlimit.WaitError
			)
			if !errors.As(err, &e) || !errors.As(err, &we) || !errors.Is(err, httpadapter.ErrWaitTooLong) {
				t.Fatalf("err = %v, want an *httpadapter.Error wrapping a *dynlimit.WaitError", err)
			}
			if e.Attempts != 1 || e.StatusCode != http.StatusServiceUnavailable || e.RetryAfter != time.Second || !e.RetryAt.Equal(start.Add(2*time.Second)) {
				t.Errorf("Error = %+v; want 1 attempt, the 503 and its Retry-After, RetryAt start+2s", *e)
			}
		})
	})
	t.Run("limiter's max wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			lim := newLimiter(t, policy.Fixed{Rate: 1, Burst: 1}, dynlimit.WithMaxWait(100*time.Millisecond))
			p, _ := lim.Allow()
			p.Done(signal.Signal{})
			rt := newTransport(t, script(status(200)), lim)
			start := time.Now()
			resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
			closeBody(resp)
			var (
				e  *httpadapter.Error
				we *dynlimit.WaitError
			)
			if !errors.As(err, &e) || !errors.As(err, &we) || we.Deadline || !e.RetryAt.Equal(start.Add(time.Second)) {
				t.Fatalf("err = %v, want an *httpadapter.Error wrapping the max wait's *dynlimit.WaitError", err)
			}
		})
	})
}

func TestCanceledDuringTheRetryWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		up := script(status(429, "Retry-After", "10"), status(200))
		lim := newLimiter(t, steady)
		rt := newTransport(t, up, lim)

		type result struct {
			gotResp bool
			err     error
		}
		done := make(chan result, 1)
		req := get(t, ctx, apiURL)
		go func() {
			resp, err := rt.RoundTrip(req)
			closeBody(resp)
			done <- result{resp != nil, err}
		}()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		cancel()
		canceled := time.Now()
		r := <-done
		if r.err != context.Canceled { //nolint:errorlint // ctx.Err() must come back unchanged
			t.Errorf("err = %v, want context.Canceled itself", r.err)
		}
		if r.gotResp {
			t.Error("a response came with the error")
		}
		if d := time.Since(canceled); d != 0 {
			t.Errorf("returned %v after the cancel, want at once", d)
		}
		if n := up.attempts(); n != 1 {
			t.Errorf("upstream saw %d attempts, want 1", n)
		}
		if _, closed := up.responseBodies()[0].state(); !closed {
			t.Error("the throttled response was not closed")
		}
	})
}

func TestCanceledDuringTheRoundTrip(t *testing.T) {
	errReset := errors.New("connection reset by peer")
	tests := []struct {
		name    string
		base    func(*http.Request) error // run once the request's context ends
		timeout time.Duration             // 0: canceled by the test
		want    error
	}{
		{
			name: "base returns the context's error",
			base: func(r *http.Request) error { return r.Context().Err() },
			want: context.Canceled,
		},
		{
			name: "base returns another error",
			base: func(*http.Request) error { return errReset },
			want: errReset,
		},
		{
			name:    "deadline passes during the attempt",
			base:    func(r *http.Request) error { return r.Context().Err() },
			timeout: time.Second,
			want:    context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if tt.timeout > 0 {
					ctx, cancel = context.WithTimeout(ctx, tt.timeout)
					defer cancel()
				}
				attempts := 0
				base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
					attempts++
					<-r.Context().Done()
					return nil, tt.base(r)
				})
				lim := newLimiter(t, steady)
				rt := newTransport(t, base, lim)
				if tt.timeout == 0 {
					go func() {
						time.Sleep(time.Second)
						cancel()
					}()
				}
				resp, err := rt.RoundTrip(get(t, ctx, apiURL))
				closeBody(resp)
				if resp != nil || err != tt.want { //nolint:errorlint // the base's error comes back as it is
					t.Errorf("RoundTrip = %v, %v; want nil, %v", resp, err, tt.want)
				}
				if attempts != 1 {
					t.Errorf("%d attempts, want 1: the caller gave up", attempts)
				}
				want := dynlimit.Counters{Granted: 1, Canceled: 1}
				if diff := cmp.Diff(want, lim.Snapshot().Counters); diff != "" {
					t.Errorf("counters (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := script(reply{hang: true}, reply{status: 200, body: "ok"})
		lim := newLimiter(t, steady)
		rt := newTransport(t, up, lim, httpadapter.WithAttemptTimeout(time.Second), constant(100*time.Millisecond))

		resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
		if err != nil {
			t.Fatalf("RoundTrip: %v", err)
		}
		defer resp.Body.Close()
		if diff := cmp.Diff([]time.Duration{1100 * time.Millisecond}, up.gaps()); diff != "" {
			t.Errorf("gaps (-want +got):\n%s", diff)
		}
		want := dynlimit.Counters{Granted: 2, Overloaded: 1, Succeeded: 1}
		if diff := cmp.Diff(want, lim.Snapshot().Counters); diff != "" {
			t.Errorf("counters (-want +got):\n%s", diff)
		}

		got := up.sent()
		if err := got[0].req.Context().Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("first attempt's context: %v, want deadline exceeded", err)
		}
		// The body is read under the attempt's context: it must outlive
		// RoundTrip, and end with Close.
		attempt := got[1].req.Context()
		time.Sleep(500 * time.Millisecond)
		if err := attempt.Err(); err != nil {
			t.Fatalf("attempt's context ended before the body was closed: %v", err)
		}
		if b := readBody(t, resp); b != "ok" {
			t.Errorf("body = %q, want %q", b, "ok")
		}
		if err := attempt.Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("attempt's context after Close: %v, want canceled", err)
		}
	})
}

func TestAttemptTimeoutBoundsTheBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := script(reply{status: 200, body: "late"})
		rt := newTransport(t, up, newLimiter(t, steady), httpadapter.WithAttemptTimeout(time.Second))
		resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
		if err != nil {
			t.Fatalf("RoundTrip: %v", err)
		}
		defer resp.Body.Close()
		time.Sleep(2 * time.Second)
		if _, err := io.ReadAll(resp.Body); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("reading the body after the attempt timeout: %v, want deadline exceeded", err)
		}
	})
}

func TestAttemptTimeoutEndsWithDiscardedResponses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := script(status(503), status(200))
		rt := newTransport(t, up, newLimiter(t, steady), httpadapter.WithAttemptTimeout(time.Minute), constant(time.Second))
		resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
		if err != nil {
			t.Fatalf("RoundTrip: %v", err)
		}
		closeBody(resp)
		// Draining and closing a discarded response releases its attempt's
		// context (and its timer) at once, not a minute later.
		for i, s := range up.sent() {
			if err := s.req.Context().Err(); !errors.Is(err, context.Canceled) {
				t.Errorf("attempt %d's context: %v, want canceled", i+1, err)
			}
		}
	})
}

// A transport error other than an unreachable upstream (see
// TestUnreachableUpstream) is an overload: retried when the request can be.
func TestTransportErrors(t *testing.T) {
	errReset := errors.New("connection reset by peer")
	t.Run("retried", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			up := script(reply{err: errReset}, reply{status: 200, body: "ok"})
			lim := newLimiter(t, steady)
			rt := newTransport(t, up, lim, constant(time.Second))
			resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
			if err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			if b := readBody(t, resp); b != "ok" {
				t.Errorf("body = %q", b)
			}
			want := dynlimit.Counters{Granted: 2, Overloaded: 1, Succeeded: 1}
			if diff := cmp.Diff(want, lim.Snapshot().Counters); diff != "" {
				t.Errorf("counters (-want +got):\n%s", diff)
			}
		})
	})
	t.Run("exhausted", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			up := script(reply{err: errReset})
			rt := newTransport(t, up, newLimiter(t, steady), httpadapter.WithMaxRetries(2), constant(time.Second))
			resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
			closeBody(resp)
			var e *httpadapter.Error
			if !errors.As(err, &e) || !errors.Is(err, httpadapter.ErrRetriesExhausted) || !errors.Is(err, errReset) {
				t.Fatalf("err = %v, want an *Error of exhausted retries wrapping the transport error", err)
			}
			if e.Attempts != 3 || e.StatusCode != 0 || e.Err != errReset { //nolint:errorlint // the cause itself
				t.Errorf("Error = %+v, want 3 attempts, no status, the last transport error", *e)
			}
			if !strings.HasSuffix(err.Error(), ": connection reset by peer") {
				t.Errorf("message %q does not end with the cause", err)
			}
		})
	})
	t.Run("not retried", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			up := script(reply{err: errReset}, status(200))
			rt := newTransport(t, up, newLimiter(t, steady))
			resp, err := rt.RoundTrip(newRequest(t, context.Background(), http.MethodPost, apiURL, "payload"))
			closeBody(resp)
			if err != errReset { //nolint:errorlint // returned as it is
				t.Errorf("err = %v, want the transport error itself", err)
			}
			if n := up.attempts(); n != 1 {
				t.Errorf("upstream saw %d attempts, want 1", n)
			}
		})
	})
}

func TestClassifierOption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Notion's 529 and a teapot that means "slow down".
		c := signal.HTTP{Throttled: []int{418, 529}}
		up := script(status(418), status(529), status(429), status(200))
		lim := newLimiter(t, steady)
		rt := newTransport(t, up, lim, httpadapter.WithClassifier(c), constant(time.Second))
		resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
		if err != nil {
			t.Fatalf("RoundTrip: %v", err)
		}
		closeBody(resp)
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("status = %d, want the 429 that the classifier does not throttle on", resp.StatusCode)
		}
		want := dynlimit.Counters{Granted: 3, Throttled: 2, Failed: 1}
		if diff := cmp.Diff(want, lim.Snapshot().Counters); diff != "" {
			t.Errorf("counters (-want +got):\n%s", diff)
		}
	})
}

// Fifty permits out at once that all come back throttled are one congestion
// event: the Transport reports each with its permit's epoch, so the rate is
// halved once, not fifty times.
func TestConcurrentThrottlesDecreaseOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 50
		var (
			mu      sync.Mutex
			seen    = make(map[string]bool)
			allSent = make(chan struct{})
		)
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			first := !seen[r.URL.Path]
			seen[r.URL.Path] = true
			if first && len(seen) == n {
				close(allSent)
			}
			mu.Unlock()
			if first {
				// Every first attempt holds its permit until all are out.
				<-allSent
				return response(r, 429, "", "Retry-After", "1"), nil
			}
			return response(r, 200, "ok"), nil
		})
		lim := newLimiter(t, adaptive())
		rt := newTransport(t, base, lim)
		statuses := make(chan int, n)
		for i := range n {
			req := get(t, context.Background(), apiURL+"/"+strconv.Itoa(i))
			go func() {
				resp, err := rt.RoundTrip(req)
				if err != nil {
					statuses <- 0
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				statuses <- resp.StatusCode
			}()
		}
		for range n {
			if code := <-statuses; code != http.StatusOK {
				t.Errorf("a request ended with status %d, want 200", code)
			}
		}
		s := lim.Snapshot()
		if s.Counters.Throttled != n || s.Counters.Succeeded != n || s.Counters.Decreases != 1 {
			t.Errorf("counters = %+v; want %d throttled, %d succeeded, one decrease", s.Counters, n, n)
		}
	})
}

func TestSuccessPathDoesNotAllocate(t *testing.T) {
	resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody}
	base := roundTripFunc(func(*http.Request) (*http.Response, error) { return resp, nil })
	a := policy.DefaultAIMD()
	a.Rate, a.MaxRate, a.Burst = 1e9, 2e9, 1e9
	rt := newTransport(t, base, newLimiter(t, a))
	req := get(t, context.Background(), apiURL)
	allocs := testing.AllocsPerRun(1000, func() {
		r, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		closeBody(r)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per successful RoundTrip, want 0", allocs)
	}
}

// A throttle the classifier marks Unprocessed (the upstream guarantees it
// did nothing) is retried whatever the method, when the body can be sent
// again; an unmarked one on a POST is returned as it is, as before.
func TestUnprocessedThrottleRetriesAPost(t *testing.T) {
	unprocessed := signal.ClassifierFunc(func(resp *http.Response, err error) signal.Signal {
		s := signal.HTTP{}.Classify(resp, err)
		s.Unprocessed = s.Kind == signal.Throttled
		return s
	})
	for _, tc := range []struct {
		name       string
		classifier signal.Classifier
		replayable bool
		attempts   int
		status     int
	}{
		{"marked", unprocessed, true, 2, 200},
		{"not marked", signal.HTTP{}, true, 1, 429},
		{"marked, body that cannot be sent again", unprocessed, false, 1, 429},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				up := script(status(429, "Retry-After", "1"), reply{status: 200, body: "ok"})
				rt := newTransport(t, up, newLimiter(t, steady), httpadapter.WithClassifier(tc.classifier))
				req := newRequest(t, context.Background(), http.MethodPost, apiURL, `{"text":"hi"}`)
				if !tc.replayable {
					req.GetBody = nil
				}
				resp, err := rt.RoundTrip(req)
				closeBody(resp)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tc.status || up.attempts() != tc.attempts {
					t.Errorf("status %d after %d attempts, want %d after %d", resp.StatusCode, up.attempts(), tc.status, tc.attempts)
				}
				if tc.attempts == 2 && up.sent()[1].body != `{"text":"hi"}` {
					t.Errorf("the retry sent %q, want the body again", up.sent()[1].body)
				}
			})
		})
	}
}
