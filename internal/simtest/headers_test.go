package simtest

import (
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// One http.Response is reused for every reply of a run, so what a reply
// does not carry must not linger from the one before.
func TestHdrsSetSequence(t *testing.T) {
	resp := &http.Response{Header: http.Header{"Content-Type": {"application/json"}}}
	h := newHdrs()
	steps := []struct {
		name string
		r    reply
		want http.Header
	}{
		{
			name: "plain success",
			r:    reply{status: 200},
			want: http.Header{"Content-Type": {"application/json"}},
		},
		{
			name: "refusal with Retry-After and quota",
			r:    reply{status: 429, retryAfter: 1500 * time.Millisecond, headers: true, limit: 10, remaining: 0, reset: 2 * time.Second},
			want: http.Header{
				"Content-Type":          {"application/json"},
				"Retry-After":           {"2"},
				"X-Ratelimit-Limit":     {"10"},
				"X-Ratelimit-Remaining": {"0"},
				"X-Ratelimit-Reset":     {"2"},
			},
		},
		{
			name: "success without either",
			r:    reply{status: 200},
			want: http.Header{"Content-Type": {"application/json"}},
		},
		{
			name: "success with quota only",
			r:    reply{status: 200, headers: true, limit: 600, remaining: 599, reset: 59*time.Second + 1},
			want: http.Header{
				"Content-Type":          {"application/json"},
				"X-Ratelimit-Limit":     {"600"},
				"X-Ratelimit-Remaining": {"599"},
				"X-Ratelimit-Reset":     {"60"},
			},
		},
		{
			name: "refusal with Retry-After only",
			r:    reply{status: 429, retryAfter: time.Second},
			want: http.Header{"Content-Type": {"application/json"}, "Retry-After": {"1"}},
		},
		{
			name: "refusal with both again, numbers past the table",
			r:    reply{status: 429, retryAfter: time.Hour, headers: true, limit: 100000, remaining: 4096, reset: 5000 * time.Second},
			want: http.Header{
				"Content-Type":          {"application/json"},
				"Retry-After":           {"3600"},
				"X-Ratelimit-Limit":     {"100000"},
				"X-Ratelimit-Remaining": {"4096"},
				"X-Ratelimit-Reset":     {"5000"},
			},
		},
		{
			name: "outage",
			r:    reply{status: 503},
			want: http.Header{"Content-Type": {"application/json"}},
		},
	}
	for i, st := range steps {
		h.set(resp, st.r)
		if resp.StatusCode != st.r.status {
			t.Errorf("step %d (%s): status %d, want %d", i, st.name, resp.StatusCode, st.r.status)
		}
		if diff := cmp.Diff(st.want, resp.Header); diff != "" {
			t.Errorf("step %d (%s): headers (-want +got):\n%s", i, st.name, diff)
		}
	}
}

// The classifier reads the headers through the canonical keys; a key
// written in another case would be invisible to it.
func TestHdrsCanonicalKeys(t *testing.T) {
	resp := &http.Response{Header: http.Header{}}
	h := newHdrs()
	h.set(resp, reply{status: 429, retryAfter: time.Second, headers: true, limit: 1, remaining: 0, reset: time.Second})
	for k := range resp.Header {
		if c := http.CanonicalHeaderKey(k); c != k {
			t.Errorf("header key %q is not canonical (%q)", k, c)
		}
	}
	for _, k := range []string{"Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
		if resp.Header.Get(k) == "" {
			t.Errorf("Get(%q) is empty", k)
		}
	}
}

func TestCeilSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{0, 0},
		{1, 1},
		{time.Millisecond, 1},
		{time.Second - 1, 1},
		{time.Second, 1},
		{time.Second + 1, 2},
		{1500 * time.Millisecond, 2},
		{2 * time.Second, 2},
		{time.Hour, 3600},
		{1000 * time.Hour, 3600000},
	}
	for _, tt := range tests {
		if got := ceilSeconds(tt.d); got != tt.want {
			t.Errorf("ceilSeconds(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

func TestItoa(t *testing.T) {
	for _, n := range []int{0, 1, 9, 10, 99, 4095, 4096, 4097, 65536, 1 << 40, math.MaxInt, -1, -4096, math.MinInt} {
		if got, want := itoa(n), strconv.Itoa(n); got != want {
			t.Errorf("itoa(%d) = %q, want %q", n, got, want)
		}
	}
	// The table must not allocate for the numbers it holds.
	if a := testing.AllocsPerRun(100, func() { _ = itoa(4095) }); a != 0 {
		t.Errorf("itoa(4095) allocates %v times", a)
	}
}

// hdrs exists so that the simulator's hot loop does not allocate: the
// usual alternation of plain and refused replies must stay at zero.
func TestHdrsSetAllocs(t *testing.T) {
	resp := &http.Response{Header: make(http.Header, 8)}
	h := newHdrs()
	replies := []reply{
		{status: 200},
		{status: 429, retryAfter: time.Second, headers: true, limit: 600, remaining: 0, reset: 30 * time.Second},
		{status: 200, headers: true, limit: 600, remaining: 599, reset: 59 * time.Second},
		{status: 503},
	}
	i := 0
	if a := testing.AllocsPerRun(200, func() {
		h.set(resp, replies[i%len(replies)])
		i++
	}); a != 0 {
		t.Errorf("set allocates %v times per reply", a)
	}
}
