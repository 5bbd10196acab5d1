package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/breaker"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/otelbridge"
	"github.com/dynlimit/dynlimit/policy"
)

// The canaries: secrets of every shape a caller may hand the library, each
// of which must reach the upstream and nothing else.
var canaries = []struct{ where, value string }{
	{"header", "hdrCanary-7Qp2Lx9Vw4"},
	{"query", "qryCanary-5Rt8Mz3Kd1"},
	{"body", "bodyCanary-2Wv6Nh8Jc4"},
	{"user", "usrCanary-4Hn1Pd6Rs3"},
	{"password", "pwdCanary-9Gs3Bf7Ty2"},
	// Path segments, in the shapes the old route template kept: letters
	// of one case, a short random id, mixed case, mixed with digits. The
	// first three are secrets (a Slack webhook's, a Zapier catch hook's);
	// the others are IDs (see idPath).
	{"path: 24 X", "XXXXXXXXXXXXXXXXXXXXXXXX"},
	{"path: a catch-hook id", "qzwxrtp"},
	{"path: mixed-case letters", "XyZabcDEFghiJKLmnoPQRstu"},
	{"path: id, 24 lower-case letters", "zqxkvbwhpmtjrdlgfnscwyqz"},
	{"path: id, mixed token", "T3stCanaryMix9Vq2Wz8Lk1P"},
	{"path: id, short", "wqzxkrt"},
}

// idPath reports whether the canary of where is a path segment that is an
// ID, not a secret: it may be in url.full, which holds the real URL as the
// HTTP semantic conventions ask, and nowhere else (not in a span name,
// url.template, a log line, a metric or an error).
func idPath(where string) bool { return strings.HasPrefix(where, "path: id") }

func canary(where string) string {
	for _, c := range canaries {
		if c.where == where {
			return c.value
		}
	}
	panic("no canary " + where)
}

// canaryPaths put the path canaries where the key and route functions
// look: a Slack method's place, a Slack webhook, a Zapier catch hook, an
// Airtable base, a plain ID. The first is a real Slack method, the
// control that keys and routes still name what they should.
func canaryPaths() []string {
	return []string{
		"/api/chat.postMessage",
		"/api/" + canary("path: id, 24 lower-case letters"),
		"/services/T0/B0/" + canary("path: 24 X"),
		"/services/TABCDEFGH/BABCDEFGH/" + canary("path: mixed-case letters"),
		"/hooks/catch/123456/" + canary("path: a catch-hook id") + "/",
		"/v0/" + canary("path: id, mixed token") + "/Tasks",
		"/v1/users/" + canary("path: id, 24 lower-case letters") + "/" + canary("path: id, short"),
	}
}

// The upstreams, one per host of the fake network.
const (
	modeOK       = "ok"       // 200
	modeThrottle = "throttle" // 429 with Retry-After: 1 every other request, else 200
	modeFail     = "fail"     // 503 always: retries exhausted, then the circuit opens
	modeGiveUp   = "giveup"   // 429 with Retry-After: 1 always: retries exhausted
	modeSlow     = "slow"     // 429 with Retry-After: 3600: a wait too long
	modeDown     = "down"     // no connection: a transport error
	modeHang     = "hang"     // no answer before the deadline: a timeout
)

var modes = []string{modeOK, modeThrottle, modeFail, modeGiveUp, modeSlow, modeDown, modeHang}

func host(mode string) string { return mode + ".upstream.test" }

// fakeNet is an in-memory network: a listener whose connections are
// net.Pipe ends, which a synctest bubble sees as durably blocked, and a
// dialer that reaches it for every host but the down one.
type fakeNet struct {
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func newFakeNet() *fakeNet {
	return &fakeNet{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (n *fakeNet) Accept() (net.Conn, error) {
	select {
	case c := <-n.conns:
		return c, nil
	case <-n.done:
		return nil, net.ErrClosed
	}
}

func (n *fakeNet) Close() error { n.closeOnce.Do(func() { close(n.done) }); return nil }

func (n *fakeNet) Addr() net.Addr { return fakeAddr("upstream.test:80") }

func (n *fakeNet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if h, _, _ := net.SplitHostPort(addr); h == host(modeDown) {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: fakeAddr(addr), Err: errors.New("connection refused")}
	}
	client, server := net.Pipe()
	select {
	case n.conns <- server:
		return client, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-n.done:
		return nil, net.ErrClosed
	}
}

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

// upstream serves every mode's host and records which canaries it got,
// so that a test that finds no leak knows the secrets were sent.
type upstream struct {
	hits     map[string]int // by host
	received map[string]bool
	mu       sync.Mutex
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	seen := r.Header.Get("Authorization") + " " + r.URL.RawQuery + " " + r.URL.Path + " " + string(body)
	u.mu.Lock()
	for _, c := range canaries {
		if strings.Contains(seen, c.value) {
			u.received[c.where] = true
		}
	}
	u.hits[r.Host]++
	n := u.hits[r.Host]
	u.mu.Unlock()

	// Error bodies quote the secrets too, as some APIs echo the request:
	// the classifiers that peek at a body must not keep any of it.
	echo := `{"error":"rate limited","token":"` + canary("header") + `","path":"` + r.URL.Path + `"}`
	switch strings.TrimSuffix(r.Host, ".upstream.test") {
	case modeOK:
		_, _ = io.WriteString(w, `{"ok":true}`)
	case modeThrottle:
		if n%2 == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, echo)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	case modeFail:
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, echo)
	case modeGiveUp:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, echo)
	case modeSlow:
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, echo)
	case modeHang:
		<-r.Context().Done()
	}
}

// capture is everything one scenario's clients report: the channels a
// secret must not reach.
type capture struct {
	logs   bytes.Buffer
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	bridge *otelbridge.Bridge
	logger *slog.Logger

	mu        sync.Mutex
	events    []httpadapter.RequestEvent
	errs      []string
	snapshots []string
}

func newCapture(t *testing.T) *capture {
	t.Helper()
	c := &capture{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	b, err := otelbridge.New(
		otelbridge.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(c.reader))),
		otelbridge.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(c.spans))),
		otelbridge.WithHTTPClientMetrics(true), otelbridge.WithTenantAttribute(true))
	if err != nil {
		t.Fatal(err)
	}
	c.bridge = b
	c.logger = slog.New(slog.NewJSONHandler(&c.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return c
}

func (c *capture) onRequest(ev httpadapter.RequestEvent) {
	c.mu.Lock()
	c.events = append(c.events, ev)
	c.mu.Unlock()
}

func (c *capture) err(err error) {
	if err != nil {
		c.mu.Lock()
		c.errs = append(c.errs, err.Error())
		c.mu.Unlock()
	}
}

// snapshot records the names of what rt's Snapshots method returns.
func (c *capture) snapshot(rt any) {
	s, ok := rt.(interface{ Snapshots() []dynlimit.Snapshot })
	if !ok {
		return
	}
	for _, sn := range s.Snapshots() {
		c.snapshots = append(c.snapshots, sn.Name)
	}
}

// register adds the limiters of rt to the bridge's gauges.
func (c *capture) register(rt http.RoundTripper) {
	switch rt := rt.(type) {
	case *httpadapter.Transport:
		c.bridge.RegisterLimiter(rt.Limiter())
	case *httpadapter.KeyedTransport:
		c.bridge.RegisterGroup(rt.Group())
	}
}

// channels returns the text of every channel, by name.
func (c *capture) channels(t *testing.T) map[string]string {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := c.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var metrics strings.Builder
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			fmt.Fprintf(&metrics, "%s %+v\n", m.Name, m.Data)
		}
	}
	var spans, urls strings.Builder
	for _, s := range c.spans.Ended() {
		var attrs []attribute.KeyValue
		for _, kv := range s.Attributes() {
			if kv.Key == semconv.URLFullKey {
				fmt.Fprintln(&urls, kv.Value.AsString())
				continue
			}
			attrs = append(attrs, kv)
		}
		fmt.Fprintf(&spans, "name=%s attrs=%v status=%+v links=%+v\n", s.Name(), attrs, s.Status(), s.Links())
		for _, e := range s.Events() {
			fmt.Fprintf(&spans, "  event %s %v\n", e.Name, e.Attributes)
		}
	}
	var events strings.Builder
	for _, ev := range c.events {
		fmt.Fprintf(&events, "%+v\n%v\n%s\n", ev, ev, ev.Error())
	}
	return map[string]string{
		"logs":      c.logs.String(),
		"events":    events.String(),
		"metrics":   metrics.String(),
		"spans":     spans.String(),
		"url.full":  urls.String(),
		"errors":    strings.Join(c.errs, "\n"),
		"snapshots": strings.Join(c.snapshots, "\n"),
	}
}

// A client under test: it sends one request per canary path to the
// upstream of a mode, with every canary on board, and reports to c.
type subject struct {
	name string
	run  func(t *testing.T, c *capture, tr *http.Transport, mode string)
}

// fill sets the header and body canaries on a request.
func fill(req *http.Request) {
	req.Header.Set("Authorization", "Bearer "+canary("header"))
	req.Header.Set("X-Api-Key", canary("header"))
	req.Header.Set("Cookie", "sid="+canary("header"))
	req.Header.Set("Proxy-Authorization", "Basic "+canary("header"))
	body := []byte(`{"text":"` + canary("body") + `"}`)
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	req.ContentLength = int64(len(body))
}

func query() string {
	return "?api_key=" + canary("query") + "&access_token=" + canary("query")
}

func userInfo() string { return canary("user") + ":" + canary("password") + "@" }

// testBreaker opens after three overloads in a row.
func testBreaker() breaker.Config {
	cfg := breaker.DefaultConfig()
	cfg.FailureThreshold, cfg.OpenInterval = 3, time.Minute
	return cfg
}

// The deadlines: the clients' timeout, and the shorter one of a request
// to the upstream that never answers. No Retry-After, pause or backoff of
// the scenarios ends at one of them, so that no two timers of a scenario
// fire at the same instant and every run takes the same path.
const (
	clientTimeout = 45 * time.Second
	hangTimeout   = 10 * time.Second
)

// requestContext returns the context of one request to mode's upstream:
// for the hanging one, a deadline before the client's timeout, which
// net/http enforces with two timers of its own.
func requestContext(mode string) (context.Context, context.CancelFunc) {
	if mode == modeHang {
		return context.WithTimeout(context.Background(), hangTimeout)
	}
	return context.WithTimeout(context.Background(), clientTimeout)
}

// roundTrips sends each canary path to mode's upstream with rt, the
// URL carrying user info and the query canary, bounded by a deadline.
func roundTrips(c *capture, rt http.RoundTripper, mode string) {
	for _, p := range canaryPaths() {
		ctx, cancel := requestContext(mode)
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+userInfo()+host(mode)+p+query(), nil)
		if err != nil {
			panic(err)
		}
		fill(req)
		resp, err := rt.RoundTrip(req)
		c.err(err)
		if resp != nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		cancel()
	}
}

// requests sends each canary path to mode's upstream with
// client.Request.
func requests(c *capture, client *httpadapter.Client, mode string) {
	for _, p := range canaryPaths() {
		ctx, cancel := requestContext(mode)
		resp, err := client.Request(ctx, http.MethodPut, p+query(),
			httpadapter.Header("Authorization", "Bearer "+canary("header")),
			httpadapter.Header("X-Api-Key", canary("header")),
			httpadapter.Header("Cookie", "sid="+canary("header")),
			httpadapter.Header("Proxy-Authorization", "Basic "+canary("header")),
			httpadapter.Body("application/json", []byte(`{"text":"`+canary("body")+`"}`)))
		c.err(err)
		if resp != nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		cancel()
	}
}

func subjects() []subject {
	s := []subject{
		{"httpadapter.Transport", func(t *testing.T, c *capture, tr *http.Transport, mode string) {
			lim, err := dynlimit.New(dynlimit.WithName("generic"), dynlimit.WithPolicy(policy.DefaultAIMD()),
				dynlimit.WithObserver(c.bridge.Observer()), dynlimit.WithObserver(dynlimit.NewLogObserver(c.logger)))
			if err != nil {
				t.Fatal(err)
			}
			brk, err := breaker.New(testBreaker(), breaker.WithName("generic"),
				breaker.WithOnStateChange(httpadapter.LogBreakerChanges(c.logger)))
			if err != nil {
				t.Fatal(err)
			}
			c.bridge.RegisterBreaker(brk)
			rt, err := httpadapter.NewTransport(tr, lim, httpadapter.WithLogger(c.logger), httpadapter.WithOnRequest(c.onRequest),
				httpadapter.WithBreaker(brk), c.bridge.TransportOption())
			if err != nil {
				t.Fatal(err)
			}
			c.register(rt)
			roundTrips(c, rt, mode)
			c.snapshot(rt)
		}},
		{"httpadapter.Client", func(t *testing.T, c *capture, tr *http.Transport, mode string) {
			lim, err := dynlimit.New(dynlimit.WithName("generic"), dynlimit.WithPolicy(policy.DefaultAIMD()),
				dynlimit.WithObserver(c.bridge.Observer()), dynlimit.WithObserver(dynlimit.NewLogObserver(c.logger)))
			if err != nil {
				t.Fatal(err)
			}
			client, err := httpadapter.NewClient("http://"+userInfo()+host(mode)+"/", lim,
				httpadapter.WithBaseTransport(tr), httpadapter.WithTimeout(clientTimeout),
				httpadapter.WithTransportOptions(httpadapter.WithLogger(c.logger), httpadapter.WithOnRequest(c.onRequest), c.bridge.TransportOption()))
			if err != nil {
				t.Fatal(err)
			}
			c.register(client.Transport())
			requests(c, client, mode)
			c.snapshot(client)
		}},
	}
	for _, name := range integrations.Names(integrations.Builtin()) {
		opts := func(c *capture, tr *http.Transport) []integrations.Option {
			return []integrations.Option{
				integrations.WithBaseTransport(tr),
				integrations.WithLogger(c.logger),
				integrations.WithTelemetry(c.bridge),
				integrations.WithOnRequest(c.onRequest),
				integrations.WithBreaker(testBreaker()),
				integrations.WithTenant("tenant-1"),
				integrations.WithHTTPClientTimeout(clientTimeout),
			}
		}
		s = append(s,
			subject{name + " NewClient", func(t *testing.T, c *capture, tr *http.Transport, mode string) {
				// A base URL with credentials is refused, and the refusal
				// must not quote them.
				_, err := integrations.NewClient(name, append(opts(c, tr), integrations.WithBaseURL("http://"+userInfo()+host(mode)))...)
				if err == nil {
					t.Error("a base URL with user info was accepted")
				}
				c.err(err)
				client, err := integrations.NewClient(name, append(opts(c, tr), integrations.WithBaseURL("http://"+host(mode)))...)
				if err != nil {
					t.Fatal(err)
				}
				c.register(client.Transport())
				requests(c, client, mode)
				c.snapshot(client)
			}},
			subject{name + " NewTransport", func(t *testing.T, c *capture, tr *http.Transport, mode string) {
				rt, err := integrations.NewTransport(name, tr, opts(c, tr)...)
				if err != nil {
					t.Fatal(err)
				}
				c.register(rt)
				roundTrips(c, rt, mode)
				c.snapshot(rt)
			}},
		)
	}
	return s
}

// No secret leaves through any channel: the generic Transport, the
// base-URL Client and every built-in integration send canaries in a header,
// the query, path segments, the body and the URL's user info to upstreams
// that succeed, throttle, fail and give up, and none of the canaries is in
// the logs (JSON, at Debug), the request events (every field, %+v), the
// metrics (every attribute of every point), the spans (names, attributes,
// events, status), the error messages or the snapshots' names. The one
// exception is an ID in a path, which url.full holds as the conventions
// ask (and a control checks that it does); a secret in a path (a webhook's)
// is not even there.
func TestNoSecretLeaves(t *testing.T) {
	var leaks, scenarios atomic.Int64
	for _, sub := range subjects() {
		for _, mode := range modes {
			t.Run(sub.name+"/"+mode, func(t *testing.T) {
				scenarios.Add(1)
				runScenario(t, sub, mode, &leaks)
			})
		}
	}
	if n := leaks.Load(); n > 0 {
		t.Errorf("%d leaks in %d scenarios (a leak: one canary in one channel of one scenario)", n, scenarios.Load())
	}
}

// runScenario runs sub against mode's upstream and counts the leaks it
// finds in leaks: inside the bubble, as synctest.Test does not return from
// a failed test.
func runScenario(t *testing.T, sub subject, mode string, leaks *atomic.Int64) {
	synctest.Test(t, func(t *testing.T) {
		up := &upstream{hits: map[string]int{}, received: map[string]bool{}}
		fn := newFakeNet()
		srv := httptest.NewUnstartedServer(up)
		_ = srv.Listener.Close()
		srv.Listener = fn
		srv.Start()
		tr := &http.Transport{DialContext: fn.dial}
		c := newCapture(t)

		sub.run(t, c, tr, mode)

		tr.CloseIdleConnections()
		srv.Close()

		ch := c.channels(t)
		// The controls: every channel saw the requests, and the upstream
		// got the secrets, so that finding none in the channels means
		// something.
		if len(c.events) == 0 || !strings.Contains(ch["logs"], `"msg":"request`) ||
			!strings.Contains(ch["spans"], "name=PUT") || !strings.Contains(ch["metrics"], "dynlimit.rate_limiting.requests") ||
			len(c.snapshots) == 0 {
			t.Errorf("a channel is empty: %d events, %d snapshots, logs:\n%s\nspans:\n%s\nmetrics:\n%s",
				len(c.events), len(c.snapshots), ch["logs"], ch["spans"], ch["metrics"])
		}
		if mode != modeOK && mode != modeThrottle && len(c.errs) == 0 {
			t.Errorf("mode %s returned no error", mode)
		}
		// A failing upstream pauses the limiter or opens the breaker, so
		// that the later paths may never be sent; the first one is.
		controls := []string{"header", "query", "body"}
		if mode == modeOK {
			for _, c := range canaries {
				if strings.HasPrefix(c.where, "path") {
					controls = append(controls, c.where)
				}
			}
		}
		for _, where := range controls {
			if mode != modeDown && !up.received[where] {
				t.Errorf("the upstream never got the %s canary", where)
			}
		}
		if mode == modeOK && !strings.Contains(ch["logs"], `"route":"/api/chat.postMessage"`) {
			t.Errorf("the route of a Slack method is no longer named: %s", ch["logs"])
		}

		if strings.HasPrefix(sub.name, "slack ") && mode == modeOK {
			// Literals, not integrations.SlackWebhookKey and SlackOtherKey:
			// the test builds on code from before them, where it fails.
			for _, key := range []string{"chat.postMessage", "webhook", "other"} {
				if !slices.Contains(c.snapshots, key) {
					t.Errorf("no Slack limiter %q among %q", key, c.snapshots)
				}
			}
		}

		// url.full is the real URL, redacted: the controls that it is
		// (the IDs are there) and that it is redacted (the markers are).
		if mode == modeOK {
			for _, want := range []string{canary("path: id, mixed token"), "api_key=REDACTED&access_token=REDACTED"} {
				if !strings.Contains(ch["url.full"], want) {
					t.Errorf("no url.full holds %q:\n%s", want, ch["url.full"])
				}
			}
			// A catch hook's path: FullURL's rule, or the route where the
			// integration marks the path secret (zapier).
			if !strings.Contains(ch["url.full"], "/hooks/REDACTED/") && !strings.Contains(ch["url.full"], "/hooks/catch/{}/{}?") {
				t.Errorf("no url.full holds a redacted catch hook:\n%s", ch["url.full"])
			}
			if strings.HasSuffix(sub.name, "Transport") && !strings.Contains(ch["url.full"], "REDACTED:REDACTED@") {
				t.Errorf("no url.full has its user info redacted:\n%s", ch["url.full"])
			}
		}

		for _, name := range slices.Sorted(maps.Keys(ch)) {
			for _, can := range canaries {
				if name == "url.full" && idPath(can.where) {
					continue
				}
				if strings.Contains(ch[name], can.value) {
					leaks.Add(1)
					t.Errorf("the %s canary %q leaks into the %s:\n%s", can.where, can.value, name, excerpt(ch[name], can.value))
				}
			}
		}
	})
}

// excerpt returns the lines of s that hold v, a few of them.
func excerpt(s, v string) string {
	var out []string
	for line := range strings.Lines(s) {
		if strings.Contains(line, v) {
			if len(line) > 400 {
				i := max(strings.Index(line, v)-150, 0)
				line = "..." + line[i:min(i+300, len(line))] + "...\n"
			}
			out = append(out, line)
			if len(out) == 2 {
				break
			}
		}
	}
	return strings.Join(out, "")
}
