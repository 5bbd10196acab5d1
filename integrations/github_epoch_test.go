package integrations

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// A bubble's clock reads 2000-01-01, Unix 946,684,800: below the 1e9 that
// tells a Unix time from seconds on a real clock. GitHub's
// x-ratelimit-reset, an hour ahead of the bubble's now, must still be read
// as the instant it is, not as a 30-year wait that paces 4,999 calls over
// three decades. 50 calls at the configured 5,000/h take about 35 s.
func TestGitHubEpochResetUnderSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		reset := strconv.FormatInt(start.Add(time.Hour).Unix(), 10)
		var calls atomic.Int64
		up := &inMemoryUpstream{h: func(w http.ResponseWriter, _ *http.Request) {
			n := calls.Add(1)
			w.Header().Set("X-RateLimit-Limit", "5000")
			w.Header().Set("X-RateLimit-Remaining", strconv.FormatInt(5000-n, 10))
			w.Header().Set("X-RateLimit-Used", strconv.FormatInt(n, 10))
			w.Header().Set("X-RateLimit-Reset", reset)
			w.Header().Set("X-RateLimit-Resource", "core")
		}}
		client, err := NewClient("github", WithBaseTransport(up), WithHTTPClientTimeout(1e6*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		const n = 50
		for range n {
			resp, err := client.Request(context.Background(), http.MethodGet, "/repos/o/r/issues")
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
		}
		took := time.Since(start)
		t.Logf("%d calls took %v of virtual time", n, took)
		if took >= 45*time.Second {
			t.Errorf("%d calls with 4,999 of 5,000 left took %v, want under 45 s (49 intervals at 5,000/h are 35 s)", n, took)
		}
		if s := client.Snapshots()[0]; s.QuotaUntil.Sub(start) != time.Hour {
			t.Errorf("quota window ends %v after the start, want the reset's 1h", s.QuotaUntil.Sub(start))
		}
	})
}
