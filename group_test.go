package dynlimit_test

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

func newGroup(t *testing.T, opts ...dynlimit.GroupOption) *dynlimit.Group {
	t.Helper()
	g, err := dynlimit.NewGroup(opts...)
	if err != nil {
		t.Fatalf("NewGroup: %v", err)
	}
	return g
}

func get(t *testing.T, g *dynlimit.Group, key string) *dynlimit.Limiter {
	t.Helper()
	l, err := g.Get(key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return l
}

func TestGroupOneLimiterPerKey(t *testing.T) {
	fake := clock.NewFake(t0)
	g := newGroup(t, dynlimit.WithGroupClock(fake),
		dynlimit.WithLimiterOptions(dynlimit.WithPolicy(classic())),
		dynlimit.WithPerKeyOptions(func(key string) []dynlimit.Option {
			if key == "chat.postMessage" { // tier 4: more
				a := classic()
				a.Rate, a.MaxRate = 20, 50
				return []dynlimit.Option{dynlimit.WithPolicy(a)}
			}
			return nil
		}))
	a, b := get(t, g, "conversations.history"), get(t, g, "chat.postMessage")
	if a == b {
		t.Fatal("two keys share one limiter")
	}
	if again := get(t, g, "conversations.history"); again != a {
		t.Error("the same key gave a new limiter")
	}
	if a.Name() != "conversations.history" {
		t.Errorf("name = %q, want the key", a.Name())
	}
	if ra, rb := a.SnapshotAt(t0).Rate, b.SnapshotAt(t0).Rate; ra != 5 || rb != 20 {
		t.Errorf("rates %v and %v, want 5 and the per-key 20", ra, rb)
	}
	// Keys are independent: a throttle on one leaves the other alone.
	p, _ := a.AllowN(t0, 1)
	p.DoneAt(t0, signal.Signal{Kind: signal.Throttled})
	if got := b.SnapshotAt(t0).Rate; got != 20 {
		t.Errorf("a throttle on another key moved the rate to %v", got)
	}
	if g.Len() != 2 {
		t.Errorf("Len = %d, want 2", g.Len())
	}
}

func TestGroupEvictsIdleLimiters(t *testing.T) {
	fake := clock.NewFake(t0)
	g := newGroup(t, dynlimit.WithGroupClock(fake), dynlimit.WithIdleTimeout(time.Minute))
	busy, idle := get(t, g, "busy"), get(t, g, "idle")
	p, ok := busy.AllowN(t0, 1) // a permit out: busy must stay
	if !ok {
		t.Fatal("no permit")
	}
	_ = idle

	fake.Advance(time.Minute)
	get(t, g, "new") // a new key sweeps
	if g.Len() != 2 {
		t.Fatalf("Len = %d after the idle timeout, want 2 (busy and new)", g.Len())
	}
	if again := get(t, g, "busy"); again != busy {
		t.Error("a limiter with a permit out was dropped")
	}
	if again := get(t, g, "idle"); again == idle {
		t.Error("an idle limiter was kept past the timeout")
	}
	if g.Evicted() != 1 {
		t.Errorf("Evicted = %d, want 1", g.Evicted())
	}
	p.DoneAt(fake.Now(), signal.Signal{})
	// Used just now: within the timeout, nothing goes.
	fake.Advance(30 * time.Second)
	get(t, g, "another")
	if g.Len() != 4 {
		t.Errorf("Len = %d, want 4", g.Len())
	}
}

func TestGroupMaxKeysDropsTheLeastRecentlyUsed(t *testing.T) {
	fake := clock.NewFake(t0)
	g := newGroup(t, dynlimit.WithGroupClock(fake), dynlimit.WithMaxKeys(3))
	a := get(t, g, "a")
	get(t, g, "b")
	get(t, g, "c")
	fake.Advance(time.Second)
	get(t, g, "a") // a is now the most recently used; b the least
	get(t, g, "d")
	if g.Len() != 3 {
		t.Fatalf("Len = %d, want 3", g.Len())
	}
	if get(t, g, "a") != a {
		t.Error("the most recently used key was dropped")
	}
	var names []string
	for _, s := range g.Snapshots() {
		names = append(names, s.Name)
	}
	if want := []string{"a", "d", "c"}; !equal(names, want) {
		t.Errorf("kept %v, want %v (b, the least recently used, dropped)", names, want)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestGroupBadOptions(t *testing.T) {
	bad := policy.DefaultAIMD()
	bad.DecreaseFactor = 1.5
	for _, tc := range []struct {
		name string
		opt  dynlimit.GroupOption
		want string
	}{
		{"max keys", dynlimit.WithMaxKeys(0), "WithMaxKeys"},
		{"idle timeout", dynlimit.WithIdleTimeout(-time.Second), "WithIdleTimeout"},
		{"clock", dynlimit.WithGroupClock(nil), "WithGroupClock"},
		{"per key", dynlimit.WithPerKeyOptions(nil), "WithPerKeyOptions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dynlimit.NewGroup(tc.opt)
			var ae *dynlimit.ArgError
			if !errors.As(err, &ae) || ae.Name != tc.want {
				t.Errorf("NewGroup: %v, want an ArgError naming %s", err, tc.want)
			}
		})
	}
	// Bad limiter options fail at NewGroup, not at the first request.
	_, err := dynlimit.NewGroup(dynlimit.WithLimiterOptions(dynlimit.WithPolicy(bad)))
	var pe *policy.Error
	if !errors.As(err, &pe) || pe.Field != "decrease_factor" {
		t.Errorf("NewGroup with a bad policy: %v, want a policy.Error naming decrease_factor", err)
	}
	// Bad per-key options fail on that key only.
	g := newGroup(t, dynlimit.WithPerKeyOptions(func(key string) []dynlimit.Option {
		if key == "broken" {
			return []dynlimit.Option{dynlimit.WithMaxInFlight(-1)}
		}
		return nil
	}))
	if _, err := g.Get("broken"); err == nil {
		t.Error("Get of a key with bad options: no error")
	}
	if _, err := g.Get("fine"); err != nil {
		t.Errorf("Get(fine): %v", err)
	}
}

// Many goroutines asking for many keys under -race: every key maps to one
// limiter at a time, the bound holds, nothing deadlocks.
func TestGroupConcurrentKeys(t *testing.T) {
	const maxKeys = 64
	g := newGroup(t, dynlimit.WithMaxKeys(maxKeys))
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				key := "tenant-" + strconv.Itoa((w*7+i)%200)
				l, err := g.Get(key)
				if err != nil {
					t.Error(err)
					return
				}
				if l.Name() != key {
					t.Errorf("Get(%q) gave %q's limiter", key, l.Name())
					return
				}
				if p, ok := l.Allow(); ok {
					p.Done(signal.Signal{})
				}
				if n := g.Len(); n > maxKeys {
					t.Errorf("Len = %d, above the max of %d", n, maxKeys)
					return
				}
			}
		}()
	}
	wg.Wait()
	if g.Evicted() == 0 {
		t.Error("200 keys with room for 64 evicted nothing")
	}
}

// Lookup finds a kept limiter without making one or marking it used.
func TestGroupLookup(t *testing.T) {
	fake := clock.NewFake(t0)
	g := newGroup(t, dynlimit.WithGroupClock(fake), dynlimit.WithMaxKeys(2))
	if g.MaxKeys() != 2 {
		t.Errorf("MaxKeys = %d, want 2", g.MaxKeys())
	}
	if _, ok := g.Lookup("a"); ok {
		t.Fatal("Lookup found a key never asked for")
	}
	if g.Len() != 0 {
		t.Fatalf("Lookup made a limiter: Len = %d", g.Len())
	}
	a := get(t, g, "a")
	get(t, g, "b")
	if l, ok := g.Lookup("a"); !ok || l != a {
		t.Fatalf("Lookup(a) = %p, %v; want %p", l, ok, a)
	}
	// Had Lookup marked a used, b would be the one dropped for c.
	get(t, g, "c")
	if _, ok := g.Lookup("a"); ok {
		t.Error("a, looked up but not used, was kept over b")
	}
	if _, ok := g.Lookup("b"); !ok {
		t.Error("b was dropped, though a was the least recently used")
	}
}
