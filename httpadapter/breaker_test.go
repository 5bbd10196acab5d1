package httpadapter_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynlimit/dynlimit/breaker"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/policy"
)

func newBreaker(t *testing.T, threshold int, open time.Duration) *breaker.Breaker {
	t.Helper()
	cfg := breaker.DefaultConfig()
	cfg.FailureThreshold, cfg.OpenInterval = threshold, open
	b, err := breaker.New(cfg, breaker.WithName("api"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Once the breaker opens, requests fail at once, before any permit or HTTP
// call, with an error that says when it will probe; after the interval a
// probe goes, and its success closes the circuit.
func TestBreakerFailsFastBeforeAnyCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := script(status(503), status(503), status(503), reply{status: 200, body: "ok"})
		b := newBreaker(t, 3, 30*time.Second)
		var events []httpadapter.RequestEvent
		lim := newLimiter(t, steady)
		rt := newTransport(t, up, lim, httpadapter.WithBreaker(b), httpadapter.WithMaxRetries(0),
			httpadapter.WithOnRequest(func(ev httpadapter.RequestEvent) { events = append(events, ev) }))
		for range 3 {
			resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
			if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("got %v, %v; want the 503", resp, err)
			}
			closeBody(resp)
		}
		granted := lim.Snapshot().Counters.Granted
		resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
		closeBody(resp)
		var he *httpadapter.Error
		var ce *breaker.CircuitOpenError
		if !errors.Is(err, breaker.ErrOpen) || !errors.As(err, &he) || !errors.As(err, &ce) {
			t.Fatalf("err = %v, want an *httpadapter.Error wrapping a *breaker.CircuitOpenError", err)
		}
		if want := time.Now().Add(30 * time.Second); !he.RetryAt.Equal(want) || !ce.RetryAt.Equal(want) || he.Attempts != 0 {
			t.Errorf("RetryAt %v / %v, attempts %d; want %v and 0", he.RetryAt, ce.RetryAt, he.Attempts, want)
		}
		if up.attempts() != 3 || lim.Snapshot().Counters.Granted != granted {
			t.Errorf("the refused request reached the upstream or took a permit")
		}
		if ev := events[len(events)-1]; ev.ErrKind != httpadapter.ErrKindCircuitOpen || ev.Attempts != 0 {
			t.Errorf("event %+v, want circuit_open with no attempt", ev)
		}

		time.Sleep(30 * time.Second)
		resp, err = rt.RoundTrip(get(t, context.Background(), apiURL))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("probe got %v, %v; want the 200", resp, err)
		}
		closeBody(resp)
		if s := b.State(); s != breaker.Closed {
			t.Errorf("state after a good probe = %v, want closed", s)
		}
	})
}

// A breaker that opens between two attempts stops the retries at once.
func TestBreakerStopsRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := script(status(503))
		b := newBreaker(t, 2, time.Minute)
		rt := newTransport(t, up, newLimiter(t, steady), httpadapter.WithBreaker(b), constant(time.Second))
		resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
		closeBody(resp)
		if !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("err = %v, want circuit open", err)
		}
		var he *httpadapter.Error
		if errors.As(err, &he); he.Attempts != 2 || he.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("attempts %d, last status %d; want 2 and 503", he.Attempts, he.StatusCode)
		}
		if up.attempts() != 2 {
			t.Errorf("upstream saw %d attempts, want 2", up.attempts())
		}
	})
}

func TestWithBreakerNil(t *testing.T) {
	var oe *httpadapter.OptionError
	if _, err := httpadapter.NewTransport(nil, newLimiter(t, steady), httpadapter.WithBreaker(nil)); !errors.As(err, &oe) || oe.Name != "WithBreaker" {
		t.Errorf("err = %v, want an OptionError naming WithBreaker", err)
	}
}

// The default classifier turns the fifth overload in 10 s into a throttle;
// to the breaker it is still an overload, so five 503s in a row open it.
func TestBreakerCountsBurstThrottlesAsOverloads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := script(status(503))
		b := newBreaker(t, 5, time.Minute)
		rt := newTransport(t, up, newLimiter(t, steady), httpadapter.WithBreaker(b), httpadapter.WithMaxRetries(0))
		for range 5 {
			resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
			if err != nil {
				t.Fatal(err)
			}
			closeBody(resp)
		}
		if s := b.State(); s != breaker.Open {
			t.Errorf("after five 503s in a row the breaker is %v, want open", s)
		}
	})
}

// A half-open breaker hands out its probe only with the permits: a probe
// that waits for a permit does not turn the other requests away meanwhile.
func TestBreakerProbeAfterThePermit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := script(status(503), status(503), reply{status: 200})
		b := newBreaker(t, 2, time.Second)
		lim := newLimiter(t, policy.Fixed{Rate: 1, Burst: 1})
		rt := newTransport(t, up, lim, httpadapter.WithBreaker(b), httpadapter.WithMaxRetries(0))
		for range 2 {
			resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
			if err != nil {
				t.Fatal(err)
			}
			closeBody(resp)
		}
		if b.State() != breaker.Open {
			t.Fatal("breaker not open after two 503s")
		}
		time.Sleep(time.Second)        // half-open now
		if _, ok := lim.Allow(); !ok { // and the limiter empty: requests wait
			t.Fatal("no token to take")
		}
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() {
				resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
				if err != nil {
					t.Errorf("request %d: %v", i, err)
					return
				}
				closeBody(resp)
			})
		}
		wg.Wait()
		if b.State() != breaker.Closed {
			t.Errorf("breaker %v after a good probe, want closed", b.State())
		}
	})
}

// A request the open breaker refuses made no attempt: its log line says
// so and gives no outcome, where the zero Signal would have read "success".
func TestRefusedRequestLogsNoOutcome(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		rt := newTransport(t, script(status(503)), newLimiter(t, steady), httpadapter.WithMaxRetries(0),
			httpadapter.WithBreaker(newBreaker(t, 1, time.Minute)),
			httpadapter.WithLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))))
		resp, _ := rt.RoundTrip(get(t, context.Background(), apiURL)) // the 503, which opens the breaker
		closeBody(resp)
		resp, err := rt.RoundTrip(get(t, context.Background(), apiURL))
		closeBody(resp)
		if err == nil {
			t.Fatal("the open breaker let a request through")
		}
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		var refused string
		for _, l := range lines {
			if strings.Contains(l, `"attempts":0`) {
				refused = l
			}
		}
		if refused == "" || strings.Contains(refused, `"outcome"`) || !strings.Contains(refused, `"error_kind":"circuit_open"`) {
			t.Errorf("log of the refused request = %s, want circuit_open and no outcome (all: %s)", refused, buf.String())
		}
		if !strings.Contains(lines[0], `"outcome":"overloaded"`) {
			t.Errorf("log of the 503 = %s, want its outcome", lines[0])
		}
	})
}

// Breaker returns the WithBreaker breaker, of a Transport and of a
// KeyedTransport (shared by its keys), for a state gauge; nil without one.
func TestBreakerAccessor(t *testing.T) {
	brk := newBreaker(t, 3, time.Minute)
	if got := newTransport(t, nil, newLimiter(t, adaptive()), httpadapter.WithBreaker(brk)).Breaker(); got != brk {
		t.Errorf("Transport.Breaker() = %p, want %p", got, brk)
	}
	if got := newTransport(t, nil, newLimiter(t, adaptive())).Breaker(); got != nil {
		t.Errorf("Transport.Breaker() without one = %p", got)
	}
	kt, err := httpadapter.NewKeyedTransport(nil, newKeyedGroup(t, adaptive()), tenantKey, httpadapter.WithBreaker(brk))
	if err != nil {
		t.Fatal(err)
	}
	if got := kt.Breaker(); got != brk {
		t.Errorf("KeyedTransport.Breaker() = %p, want %p", got, brk)
	}
}
