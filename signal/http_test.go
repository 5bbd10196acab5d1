package signal_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

// classify has c classify a response with a status and headers.
func classify(c signal.Classifier, status int, h http.Header) signal.Signal {
	return c.Classify(&http.Response{StatusCode: status, Header: h, Body: http.NoBody}, nil)
}

func TestHTTPStatus(t *testing.T) {
	custom := signal.HTTP{Throttled: []int{429, 529}, Overloaded: []int{503}}
	none := signal.HTTP{Throttled: []int{}, Overloaded: []int{}}
	overlap := signal.HTTP{Throttled: []int{503}}
	defaults := signal.HTTP{Throttled: signal.DefaultThrottled(), Overloaded: signal.DefaultOverloaded()}
	tests := []struct {
		c      signal.HTTP
		name   string
		status int
		want   signal.Kind
	}{
		{signal.HTTP{}, "default", 100, signal.Success},
		{signal.HTTP{}, "default", 200, signal.Success},
		{signal.HTTP{}, "default", 201, signal.Success},
		{signal.HTTP{}, "default", 204, signal.Success},
		{signal.HTTP{}, "default", 301, signal.Success},
		{signal.HTTP{}, "default", 304, signal.Success},
		{signal.HTTP{}, "default", 400, signal.Failed},
		{signal.HTTP{}, "default", 401, signal.Failed},
		{signal.HTTP{}, "default", 403, signal.Failed},
		{signal.HTTP{}, "default", 404, signal.Failed},
		{signal.HTTP{}, "default", 408, signal.Failed},
		{signal.HTTP{}, "default", 429, signal.Throttled},
		{signal.HTTP{}, "default", 499, signal.Failed},
		{signal.HTTP{}, "default", 500, signal.Overloaded},
		{signal.HTTP{}, "default", 501, signal.Failed},
		{signal.HTTP{}, "default", 502, signal.Overloaded},
		{signal.HTTP{}, "default", 503, signal.Overloaded},
		{signal.HTTP{}, "default", 504, signal.Overloaded},
		{signal.HTTP{}, "default", 505, signal.Failed},
		{signal.HTTP{}, "default", 529, signal.Failed},
		{signal.HTTP{}, "default", 600, signal.Failed},
		{defaults, "explicit defaults", 429, signal.Throttled},
		{defaults, "explicit defaults", 504, signal.Overloaded},
		{defaults, "explicit defaults", 501, signal.Failed},
		{custom, "custom", 429, signal.Throttled},
		{custom, "custom", 529, signal.Throttled},
		{custom, "custom", 503, signal.Overloaded},
		{custom, "custom", 500, signal.Failed},
		{custom, "custom", 502, signal.Failed},
		{custom, "custom", 200, signal.Success},
		{none, "empty lists", 429, signal.Failed},
		{none, "empty lists", 503, signal.Failed},
		{overlap, "throttled wins over overloaded", 503, signal.Throttled},
		{overlap, "throttled list replaces the default", 429, signal.Failed},
		{overlap, "overloaded keeps its default", 500, signal.Overloaded},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.name, tt.status), func(t *testing.T) {
			s := classify(tt.c, tt.status, nil)
			if s.Kind != tt.want || s.Status != tt.status {
				t.Errorf("Classify(%d) = %v (status %d), want %v", tt.status, s.Kind, s.Status, tt.want)
			}
		})
	}
}

// timeoutError is a net.Error that timed out, as a dial or read deadline
// produces.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

var _ net.Error = timeoutError{}

func TestHTTPTransportErrors(t *testing.T) {
	urlErr := func(err error) error { return &url.Error{Op: "Get", URL: "https://api.example.com", Err: err} }
	tests := []struct {
		name string
		err  error
		want signal.Kind
	}{
		{"context.Canceled", context.Canceled, signal.Canceled},
		{"wrapped Canceled", urlErr(context.Canceled), signal.Canceled},
		{"fmt-wrapped Canceled", fmt.Errorf("read body: %w", context.Canceled), signal.Canceled},
		{"context.DeadlineExceeded", context.DeadlineExceeded, signal.Overloaded},
		{"wrapped DeadlineExceeded", urlErr(context.DeadlineExceeded), signal.Overloaded},
		{"net.Error timeout", urlErr(timeoutError{}), signal.Overloaded},
		{"os.ErrDeadlineExceeded", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, signal.Overloaded},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, signal.Overloaded},
		{"unexpected EOF", urlErr(io.ErrUnexpectedEOF), signal.Overloaded},
		{"generic", errors.New("boom"), signal.Overloaded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := signal.Signal{Kind: tt.want}
			if got := (signal.HTTP{}).Classify(nil, tt.err); got != want {
				t.Errorf("Classify(nil, %v) = %+v, want %+v", tt.err, got, want)
			}
			// http.Client returns a response with the error when a redirect
			// is refused: the error decides.
			if got := (signal.HTTP{}).Classify(&http.Response{StatusCode: http.StatusOK}, tt.err); got != want {
				t.Errorf("Classify(200, %v) = %+v, want %+v", tt.err, got, want)
			}
		})
	}
}

func TestHTTPNilResponse(t *testing.T) {
	if got, want := (signal.HTTP{}).Classify(nil, nil), (signal.Signal{Kind: signal.Failed}); got != want {
		t.Errorf("Classify(nil, nil) = %+v, want %+v", got, want)
	}
}

func TestHTTPHints(t *testing.T) {
	clk := clock.NewFake(t0)
	c := signal.HTTP{Clock: clk}
	tests := []struct {
		name   string
		status int
		h      http.Header
		want   signal.Signal
	}{
		{
			name:   "quota on a success",
			status: 200,
			h:      hdr("X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "12", "X-RateLimit-Reset", unix(t0.Add(time.Minute))),
			want:   signal.Signal{Status: 200, Quota: quota(5000, 12, time.Minute)},
		},
		{
			name:   "retry-after on a success",
			status: 200,
			h:      hdr("Retry-After", "2"),
			want:   signal.Signal{Status: 200, RetryAfter: 2 * time.Second, HasRetryAfter: true},
		},
		{
			name:   "HTTP-date measured on the classifier's clock",
			status: 503,
			h:      hdr("Retry-After", t1.Format(http.TimeFormat)),
			want:   signal.Signal{Kind: signal.Overloaded, Status: 503, RetryAfter: 90 * time.Second, HasRetryAfter: true},
		},
		{
			name:   "tokens",
			status: 200,
			h:      hdr("X-RateLimit-Remaining-Tokens", "10", "X-RateLimit-Reset-Tokens", "1s"),
			want:   signal.Signal{Status: 200, TokenQuota: refills(quota(0, 10, time.Second))},
		},
		{
			name:   "throttled without retry-after: an exhausted quota's reset",
			status: 429,
			h:      hdr("RateLimit", `"default";r=0;t=30`),
			want:   signal.Signal{Kind: signal.Throttled, Status: 429, RetryAfter: 30 * time.Second, HasRetryAfter: true, Quota: quota(0, 0, 30*time.Second)},
		},
		{
			name:   "throttled: the longer of two exhausted resets",
			status: 429,
			h: hdr("X-RateLimit-Remaining-Requests", "0", "X-RateLimit-Reset-Requests", "2s",
				"X-RateLimit-Remaining-Tokens", "0", "X-RateLimit-Reset-Tokens", "6m0s"),
			want: signal.Signal{Kind: signal.Throttled, Status: 429, RetryAfter: 6 * time.Minute, HasRetryAfter: true,
				Quota: refills(quota(0, 0, 2*time.Second)), TokenQuota: refills(quota(0, 0, 6*time.Minute))},
		},
		{
			// With their limits the quotas say how fast they refill: the
			// retry waits for one unit, 2 s / 30 and 6 min / 60,000.
			name:   "throttled: the longer wait for a unit of two refilling quotas",
			status: 429,
			h: hdr("X-RateLimit-Limit-Requests", "30", "X-RateLimit-Remaining-Requests", "0", "X-RateLimit-Reset-Requests", "2s",
				"X-RateLimit-Limit-Tokens", "60000", "X-RateLimit-Remaining-Tokens", "0", "X-RateLimit-Reset-Tokens", "6m0s"),
			want: signal.Signal{Kind: signal.Throttled, Status: 429, RetryAfter: 2 * time.Second / 30, HasRetryAfter: true,
				Quota: refills(quota(30, 0, 2*time.Second)), TokenQuota: refills(quota(60000, 0, 6*time.Minute))},
		},
		{
			name:   "throttled: a quota not exhausted says nothing about when to retry",
			status: 429,
			h:      hdr("X-RateLimit-Remaining", "3", "X-RateLimit-Reset", "30"),
			want:   signal.Signal{Kind: signal.Throttled, Status: 429, Quota: quota(0, 3, 30*time.Second)},
		},
		{
			name:   "throttled: retry-after wins over the reset",
			status: 429,
			h:      hdr("Retry-After", "5", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "30"),
			want:   signal.Signal{Kind: signal.Throttled, Status: 429, RetryAfter: 5 * time.Second, HasRetryAfter: true, Quota: quota(0, 0, 30*time.Second)},
		},
		{
			name:   "throttled: an explicit retry-after of zero wins too",
			status: 429,
			h:      hdr("Retry-After", "0", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "30"),
			want:   signal.Signal{Kind: signal.Throttled, Status: 429, HasRetryAfter: true, Quota: quota(0, 0, 30*time.Second)},
		},
		{
			name:   "success with an exhausted quota: pacing is the limiter's job",
			status: 200,
			h:      hdr("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "30"),
			want:   signal.Signal{Status: 200, Quota: quota(0, 0, 30*time.Second)},
		},
		{
			name:   "malformed hints ignored",
			status: 429,
			h:      hdr("Retry-After", "soon", "X-RateLimit-Remaining", "NaN", "RateLimit", "%%%"),
			want:   signal.Signal{Kind: signal.Throttled, Status: 429},
		},
		{
			name:   "nil header",
			status: 200,
			want:   signal.Signal{Status: 200},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.status, Header: tt.h}
			if diff := cmp.Diff(tt.want, c.Classify(resp, nil)); diff != "" {
				t.Errorf("Classify (-want +got):\n%s", diff)
			}
		})
	}
}

// spyBody records what is done to a body.
type spyBody struct {
	r      io.Reader
	reads  int
	closed bool
}

func (b *spyBody) Read(p []byte) (int, error) { b.reads++; return b.r.Read(p) }
func (b *spyBody) Close() error               { b.closed = true; return nil }

func TestHTTPLeavesBodyAlone(t *testing.T) {
	for _, status := range []int{200, 403, 429, 503} {
		body := &spyBody{r: strings.NewReader("payload")}
		resp := &http.Response{StatusCode: status, Header: hdr("Retry-After", "1"), Body: body}
		signal.HTTP{}.Classify(resp, nil)
		if body.reads != 0 || body.closed || resp.Body != body {
			t.Errorf("status %d: body read %d times, closed %v, replaced %v", status, body.reads, body.closed, resp.Body != body)
		}
	}
}

func TestDefaultSetsAreCopies(t *testing.T) {
	d := signal.DefaultThrottled()
	d[0] = 200
	_ = append(d, 503)
	if got := signal.DefaultThrottled(); !slices.Equal(got, []int{429}) {
		t.Errorf("DefaultThrottled() = %v after a caller changed an earlier result", got)
	}
	o := signal.DefaultOverloaded()
	o[0] = 200
	if got := signal.DefaultOverloaded(); !slices.Equal(got, []int{500, 502, 503, 504}) {
		t.Errorf("DefaultOverloaded() = %v after a caller changed an earlier result", got)
	}
	if got := classify(signal.HTTP{}, http.StatusOK, nil).Kind; got != signal.Success {
		t.Errorf("200 = %v after the defaults were changed by a caller", got)
	}
}

// A success without rate-limit headers, the common case, costs no
// allocation; neither do the numeric header forms.
func TestHTTPAllocs(t *testing.T) {
	cases := map[string]http.Header{
		"no headers": {},
		"ordinary headers": hdr("Content-Type", "application/json", "Content-Length", "1234",
			"Date", t0.Format(http.TimeFormat), "Server", "nginx", "Vary", "Accept-Encoding"),
		"GitHub": hdr("X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "4999",
			"X-RateLimit-Reset", unix(t0.Add(time.Hour)), "X-RateLimit-Used", "1"),
		"OpenAI": hdr("X-RateLimit-Limit-Requests", "500", "X-RateLimit-Remaining-Requests", "499",
			"X-RateLimit-Reset-Requests", "120ms", "X-RateLimit-Limit-Tokens", "30000",
			"X-RateLimit-Remaining-Tokens", "29000", "X-RateLimit-Reset-Tokens", "6m0s"),
		"Retry-After seconds": hdr("Retry-After", "3", "Retry-After-Ms", "2500"),
	}
	c := signal.HTTP{Clock: clock.NewFake(t0)}
	for name, h := range cases {
		resp := &http.Response{StatusCode: http.StatusOK, Header: h, Body: http.NoBody}
		if n := testing.AllocsPerRun(100, func() { c.Classify(resp, nil) }); n != 0 {
			t.Errorf("%s: %v allocations per Classify, want 0", name, n)
		}
	}
}

var sink signal.Signal

func BenchmarkHTTPClassify(b *testing.B) {
	cases := []struct {
		name string
		h    http.Header
	}{
		{"NoHeaders", http.Header{}},
		{"GitHub", hdr("X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "4999",
			"X-RateLimit-Reset", unix(t0.Add(time.Hour)), "X-RateLimit-Used", "1")},
		{"OpenAI", hdr("X-RateLimit-Limit-Requests", "500", "X-RateLimit-Remaining-Requests", "499",
			"X-RateLimit-Reset-Requests", "120ms", "X-RateLimit-Limit-Tokens", "30000",
			"X-RateLimit-Remaining-Tokens", "29000", "X-RateLimit-Reset-Tokens", "6m0s")},
		{"IETF", hdr("RateLimit", `"burst";r=50;t=30, "daily";r=900;t=3600`,
			"RateLimit-Policy", `"burst";q=100;w=60, "daily";q=1000;w=86400`)},
		{"RetryAfterDate", hdr("Retry-After", t1.Format(http.TimeFormat))},
	}
	for _, tc := range cases {
		resp := &http.Response{StatusCode: http.StatusOK, Header: tc.h, Body: http.NoBody}
		b.Run(tc.name, func(b *testing.B) {
			var c signal.HTTP
			b.ReportAllocs()
			for b.Loop() {
				sink = c.Classify(resp, nil)
			}
		})
		b.Run(tc.name+"Parallel", func(b *testing.B) {
			var c signal.HTTP
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var s signal.Signal
				for pb.Next() {
					s = c.Classify(resp, nil)
				}
				_ = s
			})
		})
	}
}
