package httpadapter_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// These tests run against httptest servers on loopback with the real clock:
// real sockets, real waits. A bubble cannot host them (time would stand
// still while the server waits on the network), so they wait a second or
// two at most, all in parallel; the exact timings are checked in fake time
// in pacing_test.go.

// clockSkew allows for the difference between the wall clock and the
// limiter's clock (the wall time at start plus monotonic time since), which
// only matters when the upstream names an instant rather than a delay.
const clockSkew = 20 * time.Millisecond

// serve starts h and returns its URL and an http.Client whose transport,
// built by wrap from a fresh http.Transport, reaches it; both are shut
// down when the test ends.
func serve(t *testing.T, h http.Handler, wrap func(http.RoundTripper) http.RoundTripper) (string, *http.Client) {
	t.Helper()
	srv := httptest.NewServer(h)
	base := &http.Transport{}
	t.Cleanup(func() {
		base.CloseIdleConnections()
		srv.Close()
	})
	return srv.URL, &http.Client{Transport: wrap(base), Timeout: 10 * time.Second}
}

func TestEndToEndHeaderForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// header returns the headers of a 429 sent at now, and the
		// instant before which the retry must not arrive.
		header func(now time.Time) ([]string, time.Time)
		// wall is set when that instant is a calendar time the client
		// reads on its own clock.
		wall bool
	}{
		{
			name: "Retry-After seconds",
			header: func(now time.Time) ([]string, time.Time) {
				return []string{"Retry-After", "1"}, now.Add(time.Second)
			},
		},
		{
			name: "Retry-After HTTP-date",
			header: func(now time.Time) ([]string, time.Time) {
				at := now.Truncate(time.Second).Add(2 * time.Second)
				return []string{"Retry-After", at.UTC().Format(http.TimeFormat)}, at
			},
			wall: true,
		},
		{
			name: "retry-after-ms",
			header: func(now time.Time) ([]string, time.Time) {
				return []string{"Retry-After-Ms", "300"}, now.Add(300 * time.Millisecond)
			},
		},
		{
			name: "X-RateLimit-Remaining 0 with a Unix-time reset",
			header: func(now time.Time) ([]string, time.Time) {
				reset := now.Unix() + 2
				return []string{"X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(reset, 10)},
					time.Unix(reset, 0)
			},
			wall: true,
		},
		{
			name: "IETF RateLimit",
			header: func(now time.Time) ([]string, time.Time) {
				return []string{"RateLimit", `"default";r=0;t=1`, "RateLimit-Policy", `"default";q=100;w=60`}, now.Add(time.Second)
			},
		},
	}
	// The cases wait concurrently, whatever -parallel allows: their time
	// is spent asleep.
	var wg sync.WaitGroup
	errs := make([]error, len(tests))
	for i, tt := range tests {
		var (
			seen    arrivals
			mu      sync.Mutex
			allowed time.Time
		)
		h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			now := time.Now()
			if seen.add(now) == 1 {
				hdr, at := tt.header(now)
				mu.Lock()
				allowed = at
				mu.Unlock()
				for i := 0; i < len(hdr); i += 2 {
					w.Header().Set(hdr[i], hdr[i+1])
				}
				http.Error(w, "slow down", http.StatusTooManyRequests)
				return
			}
			_, _ = io.WriteString(w, "ok")
		})
		lim := newLimiter(t, adaptive())
		url, client := serve(t, h, func(base http.RoundTripper) http.RoundTripper { return newTransport(t, base, lim) })
		wg.Go(func() {
			errs[i] = func() error {
				resp, err := client.Get(url + "/v1/items")
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					return err
				}
				if resp.StatusCode != http.StatusOK || string(b) != "ok" {
					return fmt.Errorf("got %d %q, want 200 ok", resp.StatusCode, b)
				}
				at := seen.all()
				if len(at) != 2 {
					return fmt.Errorf("server saw %d requests, want 2", len(at))
				}
				mu.Lock()
				defer mu.Unlock()
				retry := at[1]
				if tt.wall {
					retry = retry.Round(0).Add(clockSkew)
				}
				if retry.Before(allowed) {
					return fmt.Errorf("retry arrived %v before the allowed instant", allowed.Sub(at[1].Round(0)))
				}
				return nil
			}()
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("%s: %v", tests[i].name, err)
		}
	}
}

// Acceptance check (b) on the real stack: 4 requests left for the next 2 s
// are spread 0.5 s apart.
func TestEndToEndRemainingQuotaIsSpread(t *testing.T) {
	t.Parallel()
	var seen arrivals
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		seen.add(time.Now())
		w.Header().Set("X-RateLimit-Remaining", "4")
		w.Header().Set("X-RateLimit-Reset", "2")
		_, _ = io.WriteString(w, "ok")
	})
	lim := newLimiter(t, adaptive())
	url, client := serve(t, h, func(base http.RoundTripper) http.RoundTripper { return newTransport(t, base, lim) })
	start := time.Now()
	for range 5 {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		_ = readBody(t, resp)
	}
	at := seen.all()
	// The first request learns the hint and the second goes on the one
	// token saved; the rest wait their turn, 500ms apart from when the
	// hint came. Each is held against the start rather than the request
	// before it, so that a busy machine, which only delays requests,
	// cannot make one look early: a previous request late on its way
	// shortened the gap after it. The upper bound allows for that
	// machine.
	for i := 2; i < len(at); i++ {
		if e := at[i].Sub(start); e < time.Duration(i-1)*500*time.Millisecond-clockSkew {
			t.Errorf("request %d arrived %v after the start, want at least %v", i+1, e, time.Duration(i-1)*500*time.Millisecond)
		}
		if g := at[i].Sub(at[i-1]); g > 1200*time.Millisecond {
			t.Errorf("gap before request %d = %v, want about 500ms", i+1, g)
		}
	}
}
