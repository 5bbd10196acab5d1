package integrations

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// The tests here that wait run in synctest bubbles against an upstream
// served in memory: clock.Real reads the bubble's fake time, so a 30 s
// silence takes no wall time and the instants the upstream records are
// exact. One test at the end goes through a real socket.

// inMemoryUpstream serves requests with a handler, without a network, so
// that it can live in a synctest bubble; it records when each request came.
type inMemoryUpstream struct {
	h http.HandlerFunc

	mu   sync.Mutex
	hits []upstreamHit
}

type upstreamHit struct {
	path string
	at   time.Time
}

func (u *inMemoryUpstream) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	if req.Body != nil {
		_ = req.Body.Close()
	}
	u.mu.Lock()
	u.hits = append(u.hits, upstreamHit{req.URL.Path, time.Now()})
	u.mu.Unlock()
	rec := httptest.NewRecorder()
	u.h(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

func (u *inMemoryUpstream) times(path string) []time.Duration {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []time.Duration
	for _, h := range u.hits {
		if h.path == path {
			out = append(out, h.at.Sub(bubbleStart))
		}
	}
	return out
}

// bubbleStart is where every synctest bubble's clock starts.
var bubbleStart = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// throttleFirst answers the first request to each path with status and
// the given headers, and every later one with 200.
func throttleFirst(status int, header ...string) http.HandlerFunc {
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := !seen[r.URL.Path]
		seen[r.URL.Path] = true
		mu.Unlock()
		if first {
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			w.WriteHeader(status)
			return
		}
		fmt.Fprint(w, "ok")
	}
}

func mustGet(t *testing.T, c *httpadapter.Client, path string) {
	t.Helper()
	resp, err := c.Request(context.Background(), http.MethodGet, path)
	if err != nil {
		t.Errorf("GET %s: %v", path, err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Errorf("GET %s = %d %q, want 200 ok", path, resp.StatusCode, body)
	}
}

// resumed returns when a limiter of the given rate, throttled at at with a
// pause of pause, lets the next request go: the pause drains its bucket, so
// the request waits one interval at the decreased rate (× the default
// DecreaseFactor) after it.
func resumed(at, pause time.Duration, rate float64) time.Duration {
	return at + pause + time.Duration(float64(time.Second)/(rate*policy.DefaultAIMD().DecreaseFactor))
}

// near reports whether got and want are the same instants
// within a microsecond.
func near(got []time.Duration, want ...time.Duration) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if d := got[i] - want[i]; d < -time.Microsecond || d > time.Microsecond {
			return false
		}
	}
	return true
}

func TestNewClientRetriesAThrottle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &inMemoryUpstream{h: throttleFirst(http.StatusTooManyRequests, "Retry-After", "2")}
		c, err := NewClient("notion", WithBaseTransport(up), WithDefaultHeader("Notion-Version", "2022-06-28"))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.BaseURL().String(); got != "https://api.notion.com/" {
			t.Errorf("base URL = %s", got)
		}
		mustGet(t, c, "/v1/databases")
		if got := up.times("/v1/databases"); !near(got, 0, resumed(0, 2*time.Second, 3)) {
			t.Errorf("attempts at %v, want the second after the 2 s Retry-After", got)
		}
	})
}

// Every Slack Web API call is a POST, and Slack runs none it refuses with
// 429: the client retries it after the Retry-After, as it does for OpenAI
// and GitHub, where a POST to an API that promises nothing of the kind
// (Airtable) is returned as it is.
func TestThrottledPostIsRetriedWhereTheAPISaysItWasNotRun(t *testing.T) {
	for _, tc := range []struct {
		name     string
		attempts int
	}{{"slack", 2}, {"openai", 2}, {"github", 2}, {"airtable", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				up := &inMemoryUpstream{h: throttleFirst(http.StatusTooManyRequests, "Retry-After", "3")}
				c, err := NewClient(tc.name, WithBaseTransport(up))
				if err != nil {
					t.Fatal(err)
				}
				resp, err := c.Request(context.Background(), http.MethodPost, "/api/chat.postMessage",
					httpadapter.Body("application/json", []byte(`{"channel":"C1","text":"hi"}`)))
				if err != nil {
					t.Fatal(err)
				}
				_ = resp.Body.Close()
				up.mu.Lock()
				got := len(up.hits)
				up.mu.Unlock()
				if got != tc.attempts {
					t.Errorf("%d attempts, want %d", got, tc.attempts)
				}
			})
		})
	}
}

// Notion's 529 is a throttle: retried after its Retry-After, and the rate
// comes down: the retry goes at the decreased rate. (The success of the
// retry then grows it again: a throttle before any success teaches no
// ceiling, so slow start goes on.)
func TestNotion529Throttles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rt http.RoundTripper
		var rates []float64
		throttle := throttleFirst(529, "Retry-After", "1")
		up := &inMemoryUpstream{h: func(w http.ResponseWriter, r *http.Request) {
			rates = append(rates, rt.(*httpadapter.Transport).Limiter().Snapshot().Rate)
			throttle(w, r)
		}}
		rt, err := NewTransport("notion", up)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, "https://api.notion.com/v1/users", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if got := up.times("/v1/users"); !near(got, 0, resumed(0, time.Second, 3)) {
			t.Errorf("attempts at %v, want the second after the 1 s Retry-After", got)
		}
		if len(rates) != 2 || rates[0] != 3 || rates[1] >= 3 {
			t.Errorf("rates at the attempts %v, want [3 below-3]", rates)
		}
		snap := rt.(*httpadapter.Transport).Limiter().Snapshot()
		if snap.Counters.Throttled != 1 || snap.Counters.Decreases != 1 {
			t.Errorf("after a 529: throttled %d, decreases %d; want 1 and 1", snap.Counters.Throttled, snap.Counters.Decreases)
		}
	})
}

// Airtable: a 429 without Retry-After silences its base for 30 s, and only
// its base.
func TestAirtableBaseSilence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &inMemoryUpstream{h: throttleFirst(http.StatusTooManyRequests)}
		c, err := NewClient("airtable", WithBaseTransport(up), WithHTTPClientTimeout(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() { mustGet(t, c, "/v0/appAAAAAAAAAAAAAA/Tasks") })
		time.Sleep(time.Second)
		wg.Go(func() { mustGet(t, c, "/v0/appBBBBBBBBBBBBBB/Tasks") })
		wg.Wait()
		if got := up.times("/v0/appAAAAAAAAAAAAAA/Tasks"); !near(got, 0, resumed(0, 30*time.Second, 5)) {
			t.Errorf("base A attempts at %v, want the second after 30 s", got)
		}
		if got := up.times("/v0/appBBBBBBBBBBBBBB/Tasks"); !near(got, time.Second, resumed(time.Second, 30*time.Second, 5)) {
			t.Errorf("base B attempts at %v, want [1s 31.3s]: its own limiter, its own silence", got)
		}
	})
}

// Slack: each method has its own limiter; a throttled method does not hold
// up another.
func TestSlackMethodsHaveTheirOwnLimiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		up := &inMemoryUpstream{h: func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "chat.postMessage") && calls.Add(1) == 1 {
				w.Header().Set("Retry-After", "10")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			fmt.Fprint(w, "ok")
		}}
		rt, err := NewTransport("slack", up)
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewClient("slack", WithBaseTransport(up))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() { mustGet(t, c, "/chat.postMessage") })
		time.Sleep(time.Second)
		wg.Go(func() { mustGet(t, c, "/conversations.list") })
		wg.Wait()
		if got := up.times("/api/chat.postMessage"); !near(got, 0, resumed(0, 10*time.Second, 60.0/60)) { // chat.postMessage's tier: 60/min
			t.Errorf("chat.postMessage at %v, want the second after the 10 s Retry-After", got)
		}
		if got := up.times("/api/conversations.list"); !near(got, time.Second) {
			t.Errorf("conversations.list at %v, want [1s]", got)
		}
		if _, ok := rt.(*httpadapter.KeyedTransport); !ok {
			t.Errorf("slack's transport is a %T, want one limiter per method", rt)
		}
	})
}

// GitHub caps the calls in flight at 10 whatever the rate allows.
func TestGitHubInFlightCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var in, peak atomic.Int32
		up := &inMemoryUpstream{h: func(w http.ResponseWriter, _ *http.Request) {
			n := in.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			<-release
			in.Add(-1)
			fmt.Fprint(w, "ok")
		}}
		o, err := LoadOverrides(strings.NewReader(`{"github": {"rate_limit_per_sec": 100, "burst_size": 100, "max_rate": 100}}`))
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewClient("github", WithBaseTransport(up), WithOverrides(o))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 30 {
			wg.Go(func() { mustGet(t, c, "/user") })
		}
		synctest.Wait()
		if got := in.Load(); got != 10 {
			t.Errorf("%d calls in flight, want 10", got)
		}
		close(release)
		wg.Wait()
		if got := peak.Load(); got != 10 {
			t.Errorf("peak in flight %d, want 10", got)
		}
	})
}

// The overrides' numbers are the limiter's, and the hooks replace the
// classifier and the key.
func TestOverridesAndHooksReachTheLimiter(t *testing.T) {
	o, err := LoadOverrides(strings.NewReader(`{"hubspot": {"rate_limit_per_sec": 7, "burst_size": 3}}`))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := NewTransport("hubspot", nil, WithOverrides(o))
	if err != nil {
		t.Fatal(err)
	}
	if s := rt.(*httpadapter.Transport).Limiter().Snapshot(); s.Rate != 7 || s.Burst != 3 || s.Name != "hubspot" {
		t.Errorf("limiter = %s at %v/s burst %v, want hubspot at 7/s burst 3", s.Name, s.Rate, s.Burst)
	}
	if d := rt.(*httpadapter.Transport).Limiter().MaxPause(); d != DefaultMaxPauseSec*time.Second {
		t.Errorf("max pause = %v, want the default, %vs", d, DefaultMaxPauseSec)
	}
	o, err = LoadOverrides(strings.NewReader(`{"hubspot": {"max_pause_sec": 120}}`))
	if err != nil {
		t.Fatal(err)
	}
	if rt, err = NewTransport("hubspot", nil, WithOverrides(o)); err != nil {
		t.Fatal(err)
	}
	if d := rt.(*httpadapter.Transport).Limiter().MaxPause(); d != 2*time.Minute {
		t.Errorf("max pause = %v, want max_pause_sec's 2m0s", d)
	}

	synctest.Test(t, func(t *testing.T) {
		var keys []string
		var mu sync.Mutex
		cfgs := Builtin()
		g := cfgs["google"]
		g.Classifier = func(c clock.Clock) signal.Classifier {
			return signal.HTTP{Throttled: []int{403}, Clock: c}
		}
		g.KeyFunc = func(r *http.Request) string {
			mu.Lock()
			defer mu.Unlock()
			keys = append(keys, r.URL.Query().Get("project"))
			return r.URL.Query().Get("project")
		}
		cfgs["google"] = g
		up := &inMemoryUpstream{h: throttleFirst(http.StatusForbidden)}
		c, err := NewClient("google", WithConfigs(cfgs), WithBaseURL("https://sheets.googleapis.com"),
			WithBaseTransport(up), WithHTTPClientTimeout(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		mustGet(t, c, "/v4/spreadsheets/x?project=p1")
		if got := up.times("/v4/spreadsheets/x"); !near(got, 0, resumed(0, 30*time.Second, 1)) {
			t.Errorf("attempts at %v, want a 403 throttle with google's 30 s", got)
		}
		if len(keys) == 0 || keys[0] != "p1" {
			t.Errorf("KeyFunc saw %v", keys)
		}
	})
}

// A keyed transport keeps at most WithMaxKeys limiters and Transports,
// however many keys and goroutines come: a new key is refused
// (dynlimit.ErrGroupFull) while all 4 limiters pace requests.
func TestKeyedTransportIsBounded(t *testing.T) {
	cfgs := map[string]Config{"fast": func() Config {
		c := Default()
		c.AIMD.Rate, c.AIMD.Burst, c.AIMD.MaxRate = 1e5, 1e5, 1e5
		c.KeyFunc = func(r *http.Request) string { return r.URL.Path }
		return c
	}()}
	up := &inMemoryUpstream{h: func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }}
	rt, err := NewTransport("fast", up, WithConfigs(cfgs), WithMaxKeys(4))
	if err != nil {
		t.Fatal(err)
	}
	kt := rt.(*httpadapter.KeyedTransport)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("https://x.example/m%d", (g*7+i)%40), nil)
				resp, err := rt.RoundTrip(req)
				if errors.Is(err, dynlimit.ErrGroupFull) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				_ = resp.Body.Close()
				if n := kt.Group().Len(); n > 4 {
					t.Errorf("group holds %d limiters, want at most 4", n)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := len(kt.Snapshots()); n > 4 {
		t.Errorf("%d limiters in use, want at most 4", n)
	}
	if kt.Group().Evicted() == 0 {
		t.Error("no limiter was evicted")
	}
}

func TestKeyFuncs(t *testing.T) {
	tests := []struct {
		key, method, url, want string
	}{
		{KeyMethod, "POST", "https://slack.com/api/chat.postMessage", "chat.postMessage"},
		{KeyMethod, "GET", "https://slack.com/api/conversations.list/", "conversations.list"},
		{KeyMethod, "GET", "https://slack.com/", SlackOtherKey},
		// A path segment that is not a method never names a limiter.
		{KeyMethod, "POST", "https://hooks.slack.com/services/T0/B0/XXXXXXXXXXXXXXXXXXXXXXXX", SlackWebhookKey},
		{KeyMethod, "POST", "https://slack.com/api/zqxkvbwhpmtjrdlgfnscwyqz", SlackOtherKey},
		{KeyMethod, "GET", "https://x.example/m1", SlackOtherKey},
		{KeyBase, "GET", "https://api.airtable.com/v0/appXYZ01234567890/Tasks?view=x", "appXYZ01234567890"},
		{KeyBase, "GET", "https://api.airtable.com/v0/appXYZ01234567890", "appXYZ01234567890"},
		{KeyBase, "GET", "https://api.airtable.com/v0/meta/bases/appXYZ01234567890/tables", "appXYZ01234567890"},
		{KeyBase, "GET", "https://api.airtable.com/v0/XXXXXXXXXXXXXXXXXXXXXXXX/Tasks", ""},
		{KeyBase, "GET", "https://api.airtable.com/v1/x", ""},
		{KeyEndpoint, "GET", "https://acme.atlassian.net/rest/api/3/issue/PROJ-123", "GET acme.atlassian.net/rest/api/{}/issue/{}"},
		{KeyEndpoint, "PUT", "https://Acme.atlassian.net/rest/api/3/issue/PROJ-9/", "PUT acme.atlassian.net/rest/api/{}/issue/{}"},
		{KeyEndpoint, "", "https://acme.atlassian.net/rest/api/3/search", "GET acme.atlassian.net/rest/api/{}/search"},
		{KeyHost, "GET", "https://Shop-1.myshopify.com/admin/api/2024-10/orders.json", "shop-1.myshopify.com"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, tt.url, nil)
		if tt.method == "" {
			req.Method = ""
		}
		c := Config{Key: tt.key}
		if got := c.keyFunc()(req); got != tt.want {
			t.Errorf("%s key of %s %s = %q, want %q", tt.key, tt.method, tt.url, got, tt.want)
		}
	}
	if (Config{}).keyFunc() != nil {
		t.Error("KeyNone has a key func")
	}
}

func TestNewClientErrors(t *testing.T) {
	for name, want := range map[string]string{
		"notoin": `"notoin"; did you mean "notion"? available: airtable, anthropic,`,
		"Notion": `"Notion"; did you mean "notion"? available: airtable, anthropic,`,
		"nope":   `"nope"; available: airtable, anthropic,`,
	} {
		_, err := NewClient(name)
		if !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), want) {
			t.Errorf("NewClient(%q): %v, want it to say %s", name, err, want)
		}
	}
	if _, err := NewTransport("notoin", nil); !errors.Is(err, ErrUnknown) {
		t.Errorf("unknown name, transport: %v", err)
	}
	if _, err := NewClient("shopify"); err == nil || !strings.Contains(err.Error(), "no base_url") {
		t.Errorf("shopify without a base URL: %v", err)
	}
	if _, err := NewClient("shopify", WithBaseURL("https://acme.myshopify.com/admin/api/2024-10")); err != nil {
		t.Errorf("shopify with a base URL: %v", err)
	}
	for name, opt := range map[string]Option{
		"WithBaseURL":           WithBaseURL("acme.myshopify.com"),
		"WithConfigs":           WithConfigs(nil),
		"WithClock":             WithClock(nil),
		"WithMaxKeys":           WithMaxKeys(0),
		"WithHTTPClientTimeout": WithHTTPClientTimeout(0),
	} {
		if _, err := NewClient("notion", opt); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want it named", name, err)
		}
	}
	// Only the configuration asked for must be valid.
	cfgs := Builtin()
	bad := cfgs["vanta"]
	bad.AIMD.Rate = -1
	cfgs["vanta"] = bad
	if _, err := NewClient("notion", WithConfigs(cfgs)); err != nil {
		t.Errorf("notion with a broken vanta: %v", err)
	}
	var e *Error
	if _, err := NewClient("vanta", WithConfigs(cfgs)); !errors.As(err, &e) || e.Problems[0].Field != "rate_limit_per_sec" {
		t.Errorf("broken vanta: %v", err)
	}
}

// Through a real socket: the default header arrives and a 429 with
// Retry-After: 0 is retried at once.
func TestNewClientOverTheNetwork(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Notion-Version") != "2022-06-28" {
			http.Error(w, "no version", http.StatusBadRequest)
			return
		}
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	base := &http.Transport{}
	defer func() {
		base.CloseIdleConnections()
		srv.Close()
	}()
	// Started at 100 requests/s, the retry waits milliseconds, not the
	// half second of Notion's 3 requests/s.
	fast, err := LoadOverrides(strings.NewReader(`{"notion": {"rate_limit_per_sec": 100, "max_rate": 100}}`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient("notion", WithOverrides(fast), WithBaseURL(srv.URL), WithBaseTransport(base),
		WithDefaultHeader("Notion-Version", "2022-06-28"), WithHTTPClientTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, "/v1/users/me")
	if calls.Load() != 2 {
		t.Errorf("%d calls, want 2", calls.Load())
	}
}

// No built-in retries a request that never reached its API, or slows down
// for it: its classifier never sees the refused connection, and the caller
// gets the network error at once.
func TestBuiltinsDoNotRetryAnUnreachableAPI(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range Names(Builtin()) {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var dials atomic.Int32
				var d net.Dialer
				base := &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
					dials.Add(1)
					return d.DialContext(ctx, network, a)
				}}
				defer base.CloseIdleConnections()
				c, err := NewClient(name, WithBaseURL("http://"+addr), WithBaseTransport(base))
				if err != nil {
					t.Fatal(err)
				}
				const requests = 6 // beyond the five overloads that make a throttle
				for range requests {
					resp, err := c.Request(context.Background(), http.MethodGet, "/v1/app123/items")
					if err == nil {
						resp.Body.Close()
					}
					if !errors.Is(err, httpadapter.ErrUnreachable) || !errors.Is(err, syscall.ECONNREFUSED) {
						t.Fatalf("err = %v, want the refused connection as a network error", err)
					}
				}
				if n := dials.Load(); n != requests {
					t.Errorf("%d dials for %d requests, want no retry", n, requests)
				}
				snaps := c.Snapshots()
				if len(snaps) == 0 {
					t.Fatal("no limiter")
				}
				for _, s := range snaps {
					if s.Counters.Throttled != 0 || s.Counters.Overloaded != 0 || s.Counters.Decreases != 0 || !s.CooldownUntil.IsZero() {
						t.Errorf("limiter %s: counters %+v, cooldown until %v; want no throttle, no overload, no decrease, no pause",
							s.Name, s.Counters, s.CooldownUntil)
					}
				}
			})
		})
	}
}
