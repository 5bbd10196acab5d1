package httpadapter_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

func tenantKey(r *http.Request) string { return r.Header.Get("X-Tenant") }

func newKeyedGroup(tb testing.TB, p policy.Policy) *dynlimit.Group {
	tb.Helper()
	g, err := dynlimit.NewGroup(dynlimit.WithLimiterOptions(dynlimit.WithPolicy(p)))
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

// Each key has its own limiter: a tenant that is throttled waits out its
// Retry-After while another goes at once; each key's Transport has its own
// classifier.
func TestKeyedTransportPacesEachKeyByItsOwnLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if tenantKey(req) == "a" && req.Header.Get("X-Attempt") == "" {
				return response(req, 429, "", "Retry-After", "5"), nil
			}
			return response(req, 200, "ok"), nil
		})
		var made atomic.Int32
		kt, err := httpadapter.NewKeyedTransport(up, newKeyedGroup(t, adaptive()), tenantKey,
			httpadapter.WithClassifierFunc(func(clk clock.Clock) signal.Classifier {
				made.Add(1)
				return signal.HTTP{Clock: clk}
			}),
			httpadapter.WithMaxRetries(0))
		if err != nil {
			t.Fatal(err)
		}
		do := func(tenant string) (int, time.Duration) {
			start := time.Now()
			req := get(t, context.Background(), apiURL)
			req.Header.Set("X-Tenant", tenant)
			if tenant == "a" && made.Load() > 0 {
				req.Header.Set("X-Attempt", "2")
			}
			resp, err := kt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			closeBody(resp)
			return resp.StatusCode, time.Since(start)
		}
		if code, _ := do("a"); code != 429 {
			t.Fatalf("tenant a got %d, want the 429", code)
		}
		if code, waited := do("b"); code != 200 || waited != 0 {
			t.Errorf("tenant b got %d after %v, want 200 at once", code, waited)
		}
		if code, waited := do("a"); code != 200 || waited < 5*time.Second {
			t.Errorf("tenant a got %d after %v, want 200 after its 5 s cooldown", code, waited)
		}
		if n := made.Load(); n != 2 {
			t.Errorf("%d classifiers made, want one per key (2)", n)
		}
		a, ok := kt.Limiter("a")
		if !ok || a.Snapshot().Counters.Throttled != 1 {
			t.Errorf("Limiter(a) = %v, %v; want the limiter that saw the throttle", a, ok)
		}
		if _, ok := kt.Limiter("nobody"); ok {
			t.Error("Limiter made a limiter for a key never used")
		}
		if n := len(kt.Snapshots()); n != 2 {
			t.Errorf("%d snapshots, want 2", n)
		}
	})
}

func TestNewKeyedTransportBadInput(t *testing.T) {
	g := newKeyedGroup(t, steady)
	tests := []struct {
		name  string
		group *dynlimit.Group
		key   httpadapter.KeyFunc
		opts  []httpadapter.Option
		field string
	}{
		{"nil group", nil, tenantKey, nil, "group"},
		{"nil key", g, nil, nil, "key"},
		{"bad option", g, tenantKey, []httpadapter.Option{httpadapter.WithMaxRetries(-1)}, "WithMaxRetries"},
		{"nil classifier func", g, tenantKey, []httpadapter.Option{httpadapter.WithClassifierFunc(nil)}, "WithClassifierFunc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var oe *httpadapter.OptionError
			if _, err := httpadapter.NewKeyedTransport(nil, tt.group, tt.key, tt.opts...); !errors.As(err, &oe) || oe.Name != tt.field {
				t.Errorf("err = %v, want an OptionError naming %s", err, tt.field)
			}
		})
	}
}

// A key longer than MaxKeyLen is cut, so that one request cannot make the
// group hold a megabyte.
func TestKeyedTransportCutsLongKeys(t *testing.T) {
	g := newKeyedGroup(t, steady)
	long := strings.Repeat("k", 10*httpadapter.MaxKeyLen)
	kt, err := httpadapter.NewKeyedTransport(roundTripFunc(func(req *http.Request) (*http.Response, error) {
		return response(req, 200, ""), nil
	}), g, func(*http.Request) string { return long })
	if err != nil {
		t.Fatal(err)
	}
	resp, err := kt.RoundTrip(get(t, context.Background(), apiURL))
	if err != nil {
		t.Fatal(err)
	}
	closeBody(resp)
	if _, ok := g.Lookup(long[:httpadapter.MaxKeyLen]); !ok {
		t.Error("no limiter under the cut key")
	}
	if _, ok := kt.Limiter(long); !ok {
		t.Error("Limiter does not cut the key as RoundTrip does")
	}
}

// NewClientFor sends through the RoundTripper it is given, and its
// Snapshots are that RoundTripper's.
func TestNewClientFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := roundTripFunc(func(req *http.Request) (*http.Response, error) { return response(req, 200, req.URL.Path), nil })
		kt, err := httpadapter.NewKeyedTransport(up, newKeyedGroup(t, steady), tenantKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := httpadapter.NewClientFor("https://api.example/v1", kt)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Request(context.Background(), http.MethodGet, "items", httpadapter.Header("X-Tenant", "t1"))
		if err != nil {
			t.Fatal(err)
		}
		if b := readBody(t, resp); b != "/v1/items" {
			t.Errorf("body = %q, want /v1/items", b)
		}
		if s := c.Snapshots(); len(s) != 1 || s[0].Name != "t1" {
			t.Errorf("snapshots = %+v, want the one of t1", s)
		}
		if c.Transport() != kt {
			t.Error("Transport() is not the RoundTripper given")
		}
		for _, o := range []httpadapter.ClientOption{
			httpadapter.WithBaseTransport(up), httpadapter.WithTransportOptions(httpadapter.WithMaxRetries(1)),
		} {
			var oe *httpadapter.OptionError
			if _, err := httpadapter.NewClientFor("https://api.example", kt, o); !errors.As(err, &oe) {
				t.Errorf("err = %v, want an OptionError", err)
			}
		}
		var oe *httpadapter.OptionError
		if _, err := httpadapter.NewClientFor("https://api.example", nil); !errors.As(err, &oe) || oe.Name != "rt" {
			t.Errorf("err = %v, want an OptionError naming rt", err)
		}
	})
}
