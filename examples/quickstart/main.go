// Command quickstart paces calls to a local test server that allows 20
// requests in each second and answers 429 with a Retry-After of 1 s beyond
// that. It prints, every second, the limiter's rate and how many requests
// the server let through and refused.
//
// The limiter runs policy.DefaultAIMD, one request at a time (a burst of
// 1), and knows nothing of the server's limit. Slow start doubles its rate
// from 5 req/s about every half second, so it passes 20 req/s in the
// second second and the first 429 comes. That 429 pauses the limiter for
// the Retry-After, sets the limit it found (the ceiling) at the rate, and
// multiplies the rate by 0.8; the rate climbs back to the ceiling in 3 s,
// and each later 429 lowers the ceiling toward the 20 req/s the server let
// through (the successes the limiter measured). Within about 20 s the rate
// holds just under 20 req/s with no 429. Past the limit it found it
// probes, slowly at first and then faster, so a run of a minute (-duration
// 1m) shows a 429 now and then, when the probe passes 20 req/s.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

func main() {
	limit := flag.Float64("limit", 20, "the test server's limit, requests per second")
	duration := flag.Duration("duration", 20*time.Second, "how long to run")
	workers := flag.Int("workers", 8, "concurrent workers")
	flag.Parse()
	if err := run(os.Stdout, *limit, *duration, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// run plays the quickstart for duration and writes its table to out.
func run(out io.Writer, limit float64, duration time.Duration, workers int) error {
	// The upstream: a limit the client knows nothing about.
	upstream := &window{limit: int(limit), size: time.Second}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !upstream.allow(time.Now()) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()

	// The default policy, one request at a time: slow start from 5 req/s
	// finds the limit, and the curve climbs back to it after each 429.
	a := policy.DefaultAIMD()
	a.Burst = 1
	lim, err := dynlimit.New(dynlimit.WithName("quickstart"), dynlimit.WithPolicy(a))
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var ok, throttled atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				p, err := lim.Wait(ctx)
				if err != nil {
					return // the run is over
				}
				p.Done(call(ctx, srv.URL, &ok, &throttled))
			}
		}()
	}

	fmt.Fprintf(out, "server limit %.0f req/s; %d workers\n", limit, workers)
	fmt.Fprintln(out, "second  limiter rate  ok/s  429/s")
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for sec := 1; ; sec++ {
		select {
		case <-ctx.Done():
			wg.Wait()
			s := lim.Snapshot()
			fmt.Fprintf(out, "granted %d, throttled %d, decreases %d\n",
				s.Counters.Granted, s.Counters.Throttled, s.Counters.Decreases)
			return nil
		case <-tick.C:
			s := lim.Snapshot()
			fmt.Fprintf(out, "%6d  %10.1f/s  %4d  %5d\n", sec, s.Rate, ok.Swap(0), throttled.Swap(0))
		}
	}
}

// call makes one request and turns its outcome into a Signal.
func call(ctx context.Context, url string, ok, throttled *atomic.Int64) signal.Signal {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return signal.Signal{Kind: signal.Failed}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return signal.Signal{Kind: signal.Canceled}
		}
		return signal.Signal{Kind: signal.Overloaded}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		throttled.Add(1)
		sig := signal.Signal{Kind: signal.Throttled, Status: resp.StatusCode}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			sig.RetryAfter = time.Duration(s) * time.Second
		}
		return sig
	case resp.StatusCode >= 500:
		return signal.Signal{Kind: signal.Overloaded, Status: resp.StatusCode}
	case resp.StatusCode >= 400:
		return signal.Signal{Kind: signal.Failed, Status: resp.StatusCode}
	}
	ok.Add(1)
	return signal.Signal{Status: resp.StatusCode}
}

// window is the test server's limit: at most limit requests in each window
// of the given size, as many APIs count.
type window struct {
	mu    sync.Mutex
	limit int
	size  time.Duration
	start time.Time
	n     int
}

func (w *window) allow(now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if now.Sub(w.start) >= w.size {
		w.start, w.n = now, 0
	}
	if w.n >= w.limit {
		return false
	}
	w.n++
	return true
}
