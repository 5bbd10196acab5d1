package signal_test

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/dynlimit/dynlimit/signal"
)

// A classifier for an API that answers 429 with a Retry-After in seconds and
// reports its remaining quota in a header.
func ExampleClassifierFunc() {
	c := signal.ClassifierFunc(func(resp *http.Response, err error) signal.Signal {
		if err != nil {
			return signal.Signal{Kind: signal.Overloaded}
		}
		s := signal.Signal{Status: resp.StatusCode}
		if n, err := strconv.Atoi(resp.Header.Get("X-Remaining")); err == nil {
			s.Quota.Remaining, s.Quota.HasRemaining = float64(n), true
		}
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			s.Kind = signal.Throttled
			if sec, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && sec > 0 {
				s.RetryAfter = time.Duration(sec) * time.Second
			}
		case resp.StatusCode >= 500:
			s.Kind = signal.Overloaded
		case resp.StatusCode >= 400:
			s.Kind = signal.Failed
		}
		return s
	})

	resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{}}
	resp.Header.Set("Retry-After", "3")
	resp.Header.Set("X-Remaining", "0")
	s := c.Classify(resp, nil)
	fmt.Println(s.Kind, s.RetryAfter, s.Quota.Exhausted())
	// Output: throttled 3s true
}
