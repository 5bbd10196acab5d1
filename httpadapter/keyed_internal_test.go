package httpadapter

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/policy"
)

type okTransport struct{}

func (okTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("ok")), Request: req, Header: http.Header{}}, nil
}

func newGroup(tb testing.TB, maxKeys int) *dynlimit.Group {
	tb.Helper()
	g, err := dynlimit.NewGroup(dynlimit.WithMaxKeys(maxKeys),
		dynlimit.WithLimiterOptions(dynlimit.WithPolicy(policy.Fixed{Rate: 1e6, Burst: 1e6})))
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

// Many goroutines over many keys: the Transports kept never outnumber the
// group's max keys, and the map and the list agree. With 16 requests on
// their way and room for 4 limiters, a new key is refused while the 4 are
// busy (dynlimit.ErrGroupFull) rather than dropping one that paces a
// request.
func TestKeyedTransportBoundedUnderRace(t *testing.T) {
	g := newGroup(t, 4)
	kt, err := NewKeyedTransport(okTransport{}, g, func(r *http.Request) string { return r.URL.Path })
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 300 {
				req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("https://x.example/k%d", (w*7+i)%50), nil)
				resp, err := kt.RoundTrip(req)
				if errors.Is(err, dynlimit.ErrGroupFull) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				_ = resp.Body.Close()
			}
		})
	}
	wg.Wait()
	kt.mu.Lock()
	n, l := len(kt.byKey), kt.lru.Len()
	kt.mu.Unlock()
	if n > 4 || n != l {
		t.Errorf("%d transports kept (%d in the list), want at most 4", n, l)
	}
	if g.Len() > 4 || g.Evicted() == 0 {
		t.Errorf("group keeps %d limiters and evicted %d, want at most 4 and some", g.Len(), g.Evicted())
	}
}

// A key whose limiter the group dropped gets a Transport around the new
// one.
func TestKeyedTransportFollowsTheGroup(t *testing.T) {
	g := newGroup(t, 1)
	kt, err := NewKeyedTransport(okTransport{}, g, func(r *http.Request) string { return r.URL.Host })
	if err != nil {
		t.Fatal(err)
	}
	lim, err := g.Get("a.example")
	if err != nil {
		t.Fatal(err)
	}
	first, _ := kt.transportFor("a.example", lim)
	if _, err := g.Get("b.example"); err != nil { // evicts a.example from the group only
		t.Fatal(err)
	}
	if lim, err = g.Get("a.example"); err != nil {
		t.Fatal(err)
	}
	again, _ := kt.transportFor("a.example", lim)
	if again == first {
		t.Error("the Transport of a dropped limiter is still in use")
	}
	if lim, _ := g.Get("a.example"); again.Limiter() != lim {
		t.Error("the new Transport does not use the group's limiter")
	}
}
