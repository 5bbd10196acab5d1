package httpadapter_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynlimit/dynlimit/breaker"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/signal"
)

// refusedAddr returns the address of a listener that was closed: a dial to
// it is refused, with no network beyond the loopback.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// dialer is a real http.Transport whose dials are counted and, when fail is
// set, fail with it instead of reaching the network: a resolver's error
// without a resolver.
type dialer struct {
	dials atomic.Int32
	fail  error
}

func (d *dialer) transport() *http.Transport {
	var nd net.Dialer
	return &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		d.dials.Add(1)
		if d.fail != nil {
			return nil, d.fail
		}
		return nd.DialContext(ctx, network, addr)
	}}
}

// A request that never reached the upstream, its name unresolved or its
// connection refused, fails at once with a network error: one attempt, no
// retry, no decrease of the rate however many fail, and an error that says
// what happened, whose kind says it too.
func TestUnreachableUpstream(t *testing.T) {
	addr := refusedAddr(t)
	dnsErr := &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "api.example.com", IsNotFound: true}}
	for _, tt := range []struct {
		name  string
		fail  error
		cause string
		is    func(error) bool
	}{
		{"connection refused", nil, "connection refused", func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }},
		{"no such host", dnsErr, "lookup api.example.com: no such host", func(err error) bool {
			var de *net.DNSError
			return errors.As(err, &de) && de.IsNotFound
		}},
		{"behind a proxy", &net.OpError{Op: "proxyconnect", Net: "tcp", Err: dnsErr}, "no such host", func(err error) bool {
			var de *net.DNSError
			return errors.As(err, &de)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := &dialer{fail: tt.fail}
				base := d.transport()
				defer base.CloseIdleConnections()
				lim := newLimiter(t, adaptive())
				rate := lim.Snapshot().Rate
				var events []httpadapter.RequestEvent
				rt := newTransport(t, base, lim,
					httpadapter.WithOnRequest(func(ev httpadapter.RequestEvent) { events = append(events, ev) }))
				start := time.Now()
				const requests = 12 // beyond the fifth overload that the default classifier turns into a throttle
				for i := range requests {
					method := http.MethodGet
					if i%2 == 1 {
						method = http.MethodPost // the same for a request that could not be retried
					}
					resp, err := rt.RoundTrip(newRequest(t, context.Background(), method, "http://"+addr+"/v1/items?token=s3cr3t", "x"))
					closeBody(resp)
					if !errors.Is(err, httpadapter.ErrUnreachable) || !tt.is(err) {
						t.Fatalf("err = %v, want ErrUnreachable wrapping the cause", err)
					}
					var he *httpadapter.Error
					if errors.As(err, &he) || errors.Is(err, httpadapter.ErrRetriesExhausted) {
						t.Errorf("err = %v: a network error reported as exhausted retries", err)
					}
					if msg := err.Error(); !strings.HasPrefix(msg, "httpadapter: network error, the request did not reach the upstream: ") ||
						!strings.Contains(msg, tt.cause) {
						t.Errorf("message %q does not say what happened", msg)
					}
					if got := httpadapter.ErrorKind(err); got != httpadapter.ErrKindUnreachable {
						t.Errorf("ErrorKind = %q, want %q", got, httpadapter.ErrKindUnreachable)
					}
				}
				if n := d.dials.Load(); n != requests {
					t.Errorf("%d dials for %d requests, want one each", n, requests)
				}
				if waited := time.Since(start); waited != 0 {
					t.Errorf("the requests took %v, want no backoff", waited)
				}
				s := lim.Snapshot()
				if s.Rate != rate || s.Counters.Decreases != 0 || s.Counters.Throttled != 0 || s.Counters.Overloaded != 0 ||
					s.Counters.Failed != requests || !s.CooldownUntil.IsZero() {
					t.Errorf("after %d unreachable requests: rate %v (was %v), cooldown until %v, counters %+v; want the rate alone, every attempt failed",
						requests, s.Rate, rate, s.CooldownUntil, s.Counters)
				}
				ev := events[len(events)-1]
				if ev.ErrKind != httpadapter.ErrKindUnreachable || ev.Attempts != 1 || ev.Status != 0 || ev.Signal.Kind != signal.Failed {
					t.Errorf("event: kind %q, %d attempts, status %d, outcome %v; want unreachable, 1, 0, failed",
						ev.ErrKind, ev.Attempts, ev.Status, ev.Signal.Kind)
				}
				if strings.Contains(ev.Error(), "s3cr3t") {
					t.Errorf("event error leaks the query: %s", ev.Error())
				}
			})
		})
	}
}

// A breaker counts an unreachable upstream as down: after its threshold of
// refused connections it opens, and the requests after fail before a dial.
func TestUnreachableOpensTheBreaker(t *testing.T) {
	addr := refusedAddr(t)
	synctest.Test(t, func(t *testing.T) {
		d := &dialer{}
		base := d.transport()
		defer base.CloseIdleConnections()
		rt := newTransport(t, base, newLimiter(t, steady), httpadapter.WithBreaker(newBreaker(t, 3, 30*time.Second)))
		for i := range 5 {
			resp, err := rt.RoundTrip(get(t, context.Background(), "http://"+addr+"/"))
			closeBody(resp)
			want := httpadapter.ErrUnreachable
			if i >= 3 {
				want = breaker.ErrOpen
			}
			if !errors.Is(err, want) {
				t.Errorf("request %d: err = %v, want %v", i+1, err, want)
			}
		}
		if n := d.dials.Load(); n != 3 {
			t.Errorf("%d dials, want 3: the breaker's threshold", n)
		}
	})
}

// What is not an unreachable upstream keeps its old treatment: a dial
// timeout or a reset is an overload, retried; the caller's cancellation is
// returned as it is.
func TestNetworkErrorsThatStayOverloads(t *testing.T) {
	timeout := &net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	for _, tt := range []struct {
		name string
		err  error
		kind string
	}{
		{"dial timeout", timeout, httpadapter.ErrKindRetriesExhausted},
		{"connection reset", reset, httpadapter.ErrKindRetriesExhausted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				up := script(reply{err: tt.err})
				rt := newTransport(t, up, newLimiter(t, steady), httpadapter.WithMaxRetries(2), constant(time.Second))
				resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
				closeBody(resp)
				if errors.Is(err, httpadapter.ErrUnreachable) || httpadapter.ErrorKind(err) != tt.kind || up.attempts() != 3 {
					t.Errorf("err = %v (kind %q) after %d attempts; want %q after 3", err, httpadapter.ErrorKind(err), up.attempts(), tt.kind)
				}
			})
		})
	}
	t.Run("canceled", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			base := roundTripFunc(func(*http.Request) (*http.Response, error) {
				cancel()
				return nil, &net.OpError{Op: "dial", Net: "tcp", Err: context.Canceled}
			})
			lim := newLimiter(t, steady)
			rt := newTransport(t, base, lim)
			resp, err := rt.RoundTrip(get(t, ctx, apiURL))
			closeBody(resp)
			if errors.Is(err, httpadapter.ErrUnreachable) || !errors.Is(err, context.Canceled) || lim.Snapshot().Counters.Canceled != 1 {
				t.Errorf("err = %v, counters %+v; want the cancellation as it is", err, lim.Snapshot().Counters)
			}
		})
	})
}
