package integrations

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynlimit/dynlimit/httpadapter"
)

// "policy": "cubic" reaches the limiter: a 429 without Retry-After, the
// first outcome, takes HubSpot's 10/s to beta × 10/s, where AIMD's
// decrease_factor (0.7) would give 7/s. The retry's success, under a second
// later, measures a rate of outcomes whose double is below 5/s: the rate
// stays.
func TestCUBICReachesTheLimiter(t *testing.T) {
	o, err := LoadOverrides(strings.NewReader(`{"hubspot": {"policy": "cubic", "beta": 0.5}}`))
	if err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		up := &inMemoryUpstream{h: throttleFirst(http.StatusTooManyRequests)}
		rt, err := NewTransport("hubspot", up, WithOverrides(o))
		if err != nil {
			t.Fatal(err)
		}
		c, err := httpadapter.NewClientFor("https://api.hubapi.com", rt)
		if err != nil {
			t.Fatal(err)
		}
		mustGet(t, c, "/crm/v3/objects/contacts")
		if n := len(up.times("/crm/v3/objects/contacts")); n != 2 {
			t.Fatalf("%d attempts, want the 429 and its retry", n)
		}
		if s := rt.(*httpadapter.Transport).Limiter().Snapshot(); s.Rate != 5 || s.Epoch != 1 {
			t.Errorf("after the 429: %v/s in epoch %d, want CUBIC's 0.5 × 10/s in epoch 1", s.Rate, s.Epoch)
		}
	})
}

// With a key, each key's limiter runs CUBIC from the rates KeyPolicy gives
// it: Slack's chat.postMessage tier, 1/s, goes to beta × 1/s on a 429
// (AIMD's decrease_factor would give 0.7/s). The retry goes 3 s later, the
// 1 s Retry-After and then an interval at 0.5/s; its success measures a
// rate of about 1/3 per second, and the rate grows to twice that, which the
// cubic, a second and more into its growth, allows.
func TestCUBICReachesTheKeysLimiters(t *testing.T) {
	o, err := LoadOverrides(strings.NewReader(`{"slack": {"policy": "cubic", "beta": 0.5}}`))
	if err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		up := &inMemoryUpstream{h: throttleFirst(http.StatusTooManyRequests, "Retry-After", "1")}
		rt, err := NewTransport("slack", up, WithOverrides(o))
		if err != nil {
			t.Fatal(err)
		}
		c, err := httpadapter.NewClientFor("https://slack.com/api", rt)
		if err != nil {
			t.Fatal(err)
		}
		mustGet(t, c, "/chat.postMessage")
		if got := up.times("/api/chat.postMessage"); !near(got, 0, 3*time.Second) {
			t.Fatalf("attempts at %v, want [0s 3s]", got)
		}
		lim, ok := rt.(*httpadapter.KeyedTransport).Limiter("chat.postMessage")
		if !ok {
			t.Fatal("no limiter for chat.postMessage")
		}
		// Measured: the weight of a sample 3 s (six half seconds) after the
		// last outcome, 1 − 0.2⁶, times its 1/3 per second.
		want := 2 * (1 - math.Pow(0.2, 6)) / 3
		if s := lim.Snapshot(); math.Abs(s.Rate-want) > 1e-9 || s.Epoch != 1 {
			t.Errorf("chat.postMessage after the 429 and the retry: %v/s in epoch %d, want %v in epoch 1", s.Rate, s.Epoch, want)
		}
	})
}
