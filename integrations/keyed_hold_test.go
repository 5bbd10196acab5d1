package integrations

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// A request to /hot gets a 503 without Retry-After and backs off, with no
// permit out and no cooldown running. Meanwhile other keys fill a group with
// room for 2. The key's limiter must stay the key's through the backoff (the
// keyed Transport holds it): a second /hot request then queues behind the
// retry under max_in_flight 1 instead of running beside it on a new limiter.
func TestKeyedTransportHoldsTheKeyAcrossBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfgs := map[string]Config{"keyed": func() Config {
			c := Default()
			c.AIMD.Rate, c.AIMD.Burst, c.AIMD.MaxRate = 100, 10, 100
			c.Key = KeyMethod
			c.MaxInFlight = 1
			return c
		}()}
		var (
			hotCalls, hotNow, hotMax atomic.Int64
		)
		up := &inMemoryUpstream{h: func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/hot" {
				fmt.Fprint(w, "ok")
				return
			}
			n := hotNow.Add(1)
			defer hotNow.Add(-1)
			for {
				m := hotMax.Load()
				if n <= m || hotMax.CompareAndSwap(m, n) {
					break
				}
			}
			if hotCalls.Add(1) == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			time.Sleep(2 * time.Second) // a slow success: long enough to overlap
			fmt.Fprint(w, "ok")
		}}
		rt, err := NewTransport("keyed", up, WithConfigs(cfgs), WithMaxKeys(2))
		if err != nil {
			t.Fatal(err)
		}
		do := func(path string) {
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "https://x.example"+path, nil)
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Errorf("%s: %v", path, err)
				return
			}
			_ = resp.Body.Close()
		}
		var wg sync.WaitGroup
		wg.Go(func() { do("/hot") }) // 503, then a backoff, then a retry
		synctest.Wait()              // backing off
		for _, p := range []string{"/a", "/b", "/c", "/d"} {
			do(p)
		}
		wg.Go(func() { do("/hot") }) // a second request for /hot
		wg.Wait()
		if m := hotMax.Load(); m > 1 {
			t.Errorf("%d /hot requests ran at once, with max_in_flight 1", m)
		}
		if n := hotCalls.Load(); n != 3 {
			t.Errorf("/hot got %d calls, want 3 (a 503, its retry, the second request)", n)
		}
	})
}
