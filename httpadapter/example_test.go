package httpadapter_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/policy"
)

// Wrap a client's transport: its requests are paced by the limiter, and a
// 429 is retried once the upstream's Retry-After has passed (here at once)
// and the limiter, slowed down by the throttle, has a token again.
func ExampleNewTransport() {
	var calls atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		fmt.Fprintln(w, "hello")
	}))
	defer upstream.Close()

	// The default policy, starting at 100 requests/s so that the example
	// waits milliseconds, not a fraction of a second, for its token.
	p := policy.DefaultAIMD()
	p.Rate, p.Burst = 100, 1
	lim, err := dynlimit.New(dynlimit.WithName("example"), dynlimit.WithPolicy(p))
	if err != nil {
		panic(err)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	client.Transport, err = httpadapter.NewTransport(client.Transport, lim)
	if err != nil {
		panic(err)
	}

	resp, err := client.Get(upstream.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(resp.StatusCode, " ", string(body))
	fmt.Println("attempts:", calls.Load(), "throttled:", lim.Snapshot().Counters.Throttled)
	// Output:
	// 200 hello
	// attempts: 2 throttled: 1
}

// The base-URL style: paths are resolved below the base URL, default
// headers go with every request, and the whole request, waits included, is
// bounded by the Client's timeout.
func ExampleClient_Request() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, r.Method, r.URL.RequestURI(), "version", r.Header.Get("Notion-Version"))
	}))
	defer upstream.Close()

	lim, err := dynlimit.New(dynlimit.WithName("notion"))
	if err != nil {
		panic(err)
	}
	c, err := httpadapter.NewClient(upstream.URL+"/v1", lim,
		httpadapter.WithTimeout(10*time.Second),
		httpadapter.WithDefaultHeader("Notion-Version", "2022-06-28"),
	)
	if err != nil {
		panic(err)
	}

	resp, err := c.Request(context.Background(), http.MethodGet, "/databases",
		httpadapter.Header("Authorization", "Bearer secret-token"),
		httpadapter.Query(url.Values{"page_size": {"10"}}),
	)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(string(body))
	// Output: GET /v1/databases?page_size=10 version 2022-06-28
}

// A Retry-After longer than the caller will wait fails at once, with an
// *httpadapter.Error that says what the upstream said and when to come
// back: a worker can requeue the job for RetryAt instead of sleeping.
func ExampleError() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "3600")
		http.Error(w, "quota exhausted", http.StatusTooManyRequests)
	}))
	defer upstream.Close()

	lim, err := dynlimit.New()
	if err != nil {
		panic(err)
	}
	rt, err := httpadapter.NewTransport(nil, lim, httpadapter.WithMaxWait(time.Minute))
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: rt}

	resp, err := client.Get(upstream.URL + "/v1/items?api_key=secret")
	if err == nil {
		resp.Body.Close()
	}
	var e *httpadapter.Error
	if errors.As(err, &e) {
		fmt.Println("wait too long:", errors.Is(err, httpadapter.ErrWaitTooLong))
		fmt.Println("status:", e.StatusCode, "after", e.Attempts, "attempt")
		fmt.Println("retry after:", e.RetryAfter)
		fmt.Println("url:", strings.TrimPrefix(e.URL, upstream.URL))
		fmt.Println("retry at set:", !e.RetryAt.IsZero())
	}
	// Output:
	// wait too long: true
	// status: 429 after 1 attempt
	// retry after: 1h0m0s
	// url: /v1/items
	// retry at set: true
}

// One limiter per tenant: each request is paced by the limiter of the key
// its KeyFunc returns, made on demand by the group.
func ExampleNewKeyedTransport() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "ok")
	}))
	defer upstream.Close()

	group, err := dynlimit.NewGroup()
	if err != nil {
		panic(err)
	}
	rt, err := httpadapter.NewKeyedTransport(nil, group, func(r *http.Request) string {
		return r.Header.Get("X-Tenant")
	})
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: rt, Timeout: 30 * time.Second}
	for _, tenant := range []string{"acme", "globex", "acme"} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, upstream.URL, nil)
		req.Header.Set("X-Tenant", tenant)
		resp, err := client.Do(req)
		if err != nil {
			panic(err)
		}
		_ = resp.Body.Close()
	}
	for _, s := range rt.Snapshots() {
		fmt.Println(s.Name, "granted", s.Counters.Granted)
	}
	// Output:
	// acme granted 2
	// globex granted 1
}
