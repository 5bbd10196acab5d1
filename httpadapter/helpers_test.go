package httpadapter_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/policy"
)

// Most tests here run inside a synctest bubble with the limiter's default
// real clock: in a bubble clock.Real reads the bubble's fake time, so the
// Transport's timers (permit waits, Retry-After, backoff) take no wall time,
// the instants an upstream records are exact, and a goroutine left behind
// fails the test.

// synctestEpoch is the instant every synctest bubble starts at.
var synctestEpoch = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// toPresent moves a bubble's fake time, which starts in 2000, to 2026.
// Reset headers carry Unix times, which the signal package tells from
// seconds-from-now by size: anything below 1e9 (September 2001) is the
// latter, as a Unix time from the bubble's start would be.
func toPresent() { time.Sleep(time.Until(present)) }

var present = time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)

// steady leaves the timing to the Transport: a fixed rate high enough that no
// test here waits for a token, and no pause on throttles. With it, the gap
// between two attempts is exactly the Transport's own wait.
var steady = policy.Fixed{Rate: 1000, Burst: 100}

// adaptive is a fast AIMD: its rate is far above every quota the tests'
// upstreams report, so that whatever paces the requests is the upstream's
// hints, not the policy.
func adaptive() policy.AIMD {
	a := policy.DefaultAIMD()
	a.Rate, a.Burst = 50, 50
	return a
}

func newLimiter(tb testing.TB, p policy.Policy, opts ...dynlimit.Option) *dynlimit.Limiter {
	tb.Helper()
	l, err := dynlimit.New(append([]dynlimit.Option{dynlimit.WithPolicy(p)}, opts...)...)
	if err != nil {
		tb.Fatalf("dynlimit.New: %v", err)
	}
	return l
}

func newTransport(tb testing.TB, base http.RoundTripper, lim *dynlimit.Limiter, opts ...httpadapter.Option) *httpadapter.Transport {
	tb.Helper()
	rt, err := httpadapter.NewTransport(base, lim, opts...)
	if err != nil {
		tb.Fatalf("NewTransport: %v", err)
	}
	return rt
}

// constant returns a backoff option that always waits d, so that the tests
// can assert the gap between attempts.
func constant(d time.Duration) httpadapter.Option {
	return httpadapter.WithBackoff(func() backoff.BackOff { return backoff.NewConstantBackOff(d) })
}

func get(tb testing.TB, ctx context.Context, url string) *http.Request {
	tb.Helper()
	return newRequest(tb, ctx, http.MethodGet, url, "")
}

// newRequest makes a request the way callers do; a non-empty body is in
// memory, so http.NewRequest gives it a GetBody.
func newRequest(tb testing.TB, ctx context.Context, method, url, body string) *http.Request {
	tb.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		tb.Fatal(err)
	}
	return req
}

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// reply is what the scripted upstream answers to one attempt.
type reply struct {
	status int
	header []string // name, value, name, value...
	body   string
	err    error
	// hang blocks the attempt until its context ends and then fails with
	// the context's error, as net/http does.
	hang bool
}

func status(code int, header ...string) reply { return reply{status: code, header: header} }

// sent is what the scripted upstream received in one attempt.
type sent struct {
	at   time.Time
	req  *http.Request
	body string // read to the end, as a real transport does
}

// upstream is a scripted base RoundTripper. Attempt i gets replies[i]; the
// last reply repeats. It records what each attempt sent and the response
// bodies it handed out.
type upstream struct {
	mu      sync.Mutex
	replies []reply
	got     []sent
	bodies  []*body
}

func script(replies ...reply) *upstream { return &upstream{replies: replies} }

func (u *upstream) RoundTrip(req *http.Request) (*http.Response, error) {
	var b []byte
	if req.Body != nil {
		b, _ = io.ReadAll(req.Body)
		_ = req.Body.Close()
	}
	u.mu.Lock()
	i := min(len(u.got), len(u.replies)-1)
	r := u.replies[i]
	u.got = append(u.got, sent{at: time.Now(), req: req, body: string(b)})
	u.mu.Unlock()

	if r.hang {
		<-req.Context().Done()
		return nil, req.Context().Err()
	}
	if r.err != nil {
		return nil, r.err
	}
	resp := response(req, r.status, r.body, r.header...)
	u.mu.Lock()
	u.bodies = append(u.bodies, resp.Body.(*body))
	u.mu.Unlock()
	return resp, nil
}

func (u *upstream) sent() []sent {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]sent(nil), u.got...)
}

func (u *upstream) attempts() int { return len(u.sent()) }

// gaps returns the time between consecutive attempts.
func (u *upstream) gaps() []time.Duration {
	s := u.sent()
	var g []time.Duration
	for i := 1; i < len(s); i++ {
		g = append(g, s[i].at.Sub(s[i-1].at))
	}
	return g
}

// responseBodies returns the bodies of the responses handed out, in order.
func (u *upstream) responseBodies() []*body {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*body(nil), u.bodies...)
}

// response builds what a base transport returns for req.
func response(req *http.Request, code int, content string, header ...string) *http.Response {
	h := make(http.Header)
	for i := 0; i+1 < len(header); i += 2 {
		h.Add(header[i], header[i+1])
	}
	return &http.Response{
		StatusCode:    code,
		Status:        http.StatusText(code),
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          newBody(req.Context(), content),
		ContentLength: int64(len(content)),
		Request:       req,
	}
}

// body is a response body that records how much was read and whether it was
// closed. Like a real one, it cannot be read once its request's context has
// ended or after Close.
type body struct {
	ctx context.Context

	mu     sync.Mutex
	r      *strings.Reader
	read   int64
	closed bool
}

func newBody(ctx context.Context, s string) *body {
	return &body{ctx: ctx, r: strings.NewReader(s)}
}

var errReadAfterClose = errors.New("read after close")

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errReadAfterClose
	}
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, err
}

func (b *body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}

// state returns how many bytes were read and whether the body was closed.
func (b *body) state() (int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.read, b.closed
}

// readBody reads and closes resp's body.
func readBody(tb testing.TB, resp *http.Response) string {
	tb.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("reading the response body: %v", err)
	}
	return string(b)
}

// closeBody closes the response, if any, of a call whose response the test
// does not look at.
func closeBody(resp *http.Response) {
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
}

// requestBody is a request body that records Close.
type requestBody struct {
	io.Reader
	mu     sync.Mutex
	closed bool
}

func (b *requestBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}

func (b *requestBody) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// pipeNet is an in-memory network for a real http.Server inside a synctest
// bubble. A loopback socket is not something a bubble can wait on (time
// would stop while the server waits in Accept); net.Pipe blocks on
// channels, which it can.
type pipeNet struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (n *pipeNet) Accept() (net.Conn, error) {
	select {
	case c := <-n.conns:
		return c, nil
	case <-n.done:
		return nil, net.ErrClosed
	}
}

func (n *pipeNet) Close() error {
	n.once.Do(func() { close(n.done) })
	return nil
}

func (n *pipeNet) Addr() net.Addr { return pipeAddr{} }

func (n *pipeNet) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case n.conns <- server:
		return client, nil
	case <-n.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// serveInBubble runs h on a real http.Server over a pipeNet and returns the
// http.Transport that reaches it, at any host. Both are shut down when the
// test ends.
func serveInBubble(t *testing.T, h http.Handler) *http.Transport {
	t.Helper()
	n := &pipeNet{conns: make(chan net.Conn), done: make(chan struct{})}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: time.Minute}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(n)
	}()
	tr := &http.Transport{DialContext: n.dial}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		_ = srv.Close()
		<-served
	})
	return tr
}

// arrivals records when a server received each request.
type arrivals struct {
	mu sync.Mutex
	at []time.Time
}

func (a *arrivals) add(t time.Time) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.at = append(a.at, t)
	return len(a.at)
}

func (a *arrivals) all() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.at...)
}
