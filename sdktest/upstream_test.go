package sdktest

import (
	"net/http"
	"net/http/httptest"
	"sync"
)

// upstream serves requests with a handler in memory, so that a test runs
// in a synctest bubble (Retry-After waits take no wall time), and counts
// the attempts and throttles that reached it.
type upstream struct {
	h func(w http.ResponseWriter, r *http.Request, n int) // n: the attempt's number, from 1

	mu        sync.Mutex
	attempts  int
	throttled int
}

func (u *upstream) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	if req.Body != nil {
		_ = req.Body.Close()
	}
	u.mu.Lock()
	u.attempts++
	n := u.attempts
	u.mu.Unlock()
	rec := httptest.NewRecorder()
	u.h(rec, req, n)
	resp := rec.Result()
	resp.Request = req
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusForbidden {
		u.mu.Lock()
		u.throttled++
		u.mu.Unlock()
	}
	return resp, nil
}

// counts returns the attempts and throttles so far.
func (u *upstream) counts() (attempts, throttled int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.attempts, u.throttled
}
