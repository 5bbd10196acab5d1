package dynlimit_test

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
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

// The scenario: with room for 8 keys, /hot gets a 429 with
// Retry-After: 30, then 8 other paths are asked for. /hot's limiter is
// busy (its cooldown runs), so another goes in its place, and /hot is not
// granted anything before t0+30s.
func TestGroupKeepsALimiterInCooldown(t *testing.T) {
	fake := clock.NewFake(t0)
	g := newGroup(t, dynlimit.WithGroupClock(fake), dynlimit.WithMaxKeys(8),
		dynlimit.WithLimiterOptions(dynlimit.WithPolicy(classic()), dynlimit.WithMaxInFlight(1)))
	hot := get(t, g, "/hot")
	allow(t, hot, t0, 1).DoneAt(t0, throttle(30*time.Second))
	for i := range 8 {
		get(t, g, "/other/"+strconv.Itoa(i))
	}
	if n := g.Len(); n > 8 {
		t.Fatalf("Len = %d, want at most 8", n)
	}
	t1 := t0.Add(time.Second)
	fake.Set(t1)
	again := get(t, g, "/hot")
	if again != hot {
		t.Error("/hot's limiter was dropped during its cooldown")
	}
	for _, at := range []time.Time{t1, t0.Add(29 * time.Second), t0.Add(30*time.Second - time.Nanosecond)} {
		if p, ok := again.AllowN(at, 1); ok {
			p.DoneAt(at, signal.Signal{})
			t.Errorf("/hot granted at t0+%v, before its Retry-After of 30s", at.Sub(t0))
		}
	}
	if s := again.SnapshotAt(t1); !s.CooldownUntil.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("/hot's cooldown ends at t0+%v, want t0+30s", s.CooldownUntil.Sub(t0))
	}
	// The bucket refills from the cooldown's end, at the halved rate.
	if _, ok := again.AllowN(t0.Add(31*time.Second), 1); !ok {
		t.Error("/hot refused at t0+31s, after its cooldown")
	}
}

// A limiter with a permit out is not dropped, so its in-flight cap holds:
// two permits of one key are never out at once.
func TestGroupKeepsALimiterWithPermitsOut(t *testing.T) {
	fake := clock.NewFake(t0)
	g := newGroup(t, dynlimit.WithGroupClock(fake), dynlimit.WithMaxKeys(8),
		dynlimit.WithLimiterOptions(dynlimit.WithPolicy(policy.Fixed{Rate: 1000, Burst: 1000}), dynlimit.WithMaxInFlight(1)))
	first := allow(t, get(t, g, "/hot"), t0, 1)
	for round := range 10 {
		// 8 other paths, /hot the least recently used of all.
		for i := range 8 {
			fake.Advance(10 * time.Millisecond)
			get(t, g, "/other/"+strconv.Itoa(round*8+i))
		}
		if p, ok := get(t, g, "/hot").AllowN(fake.Now(), 1); ok {
			p.DoneAt(fake.Now(), signal.Signal{})
			t.Fatalf("a second /hot permit out at t0+%v, with a cap of 1", fake.Now().Sub(t0))
		}
	}
	first.DoneAt(fake.Now(), signal.Signal{})
	if _, ok := get(t, g, "/hot").AllowN(fake.Now(), 1); !ok {
		t.Error("/hot refused once its permit was done")
	}
}

// A waiter holds an in-flight slot and a reservation while it sleeps: its
// limiter is busy, though no permit is out.
func TestGroupKeepsALimiterWithAWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGroup(t, dynlimit.WithMaxKeys(2),
			dynlimit.WithLimiterOptions(dynlimit.WithPolicy(policy.Fixed{Rate: 1, Burst: 1}), dynlimit.WithMaxInFlight(1)))
		hot := get(t, g, "/hot")
		p, err := hot.Wait(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		p.Done(signal.Signal{}) // the bucket is empty: the next permit is 1 s away
		done := make(chan struct{})
		go func() {
			defer close(done)
			p, err := hot.Wait(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			p.Done(signal.Signal{})
		}()
		synctest.Wait()                   // the waiter sleeps, its slot held
		pa, ok := get(t, g, "/a").Allow() // and /a has a permit out
		if !ok {
			t.Fatal("no permit for /a")
		}
		defer pa.Done(signal.Signal{})
		if _, err := g.Get("/b"); !errors.Is(err, dynlimit.ErrGroupFull) {
			t.Errorf("Get(/b) with /hot waiting and /a in use: %v, want ErrGroupFull", err)
		}
		if l, ok := g.Lookup("/hot"); !ok || l != hot {
			t.Error("/hot's limiter was dropped while a caller waited on it")
		}
		<-done
		get(t, g, "/b") // /hot is idle now: it goes
		if _, ok := g.Lookup("/hot"); ok {
			t.Error("/hot kept once idle, over /a, busy, and /b")
		}
	})
}

// When every limiter is busy, a new key is refused with a typed error that
// names it and the bound, rather than dropping a busy limiter; once one is
// idle again the key gets its limiter.
func TestGroupFullOfBusyLimitersRefusesNewKeys(t *testing.T) {
	fake := clock.NewFake(t0)
	g := newGroup(t, dynlimit.WithGroupClock(fake), dynlimit.WithMaxKeys(3),
		dynlimit.WithLimiterOptions(dynlimit.WithPolicy(classic())))
	var permits []dynlimit.Permit
	for _, k := range []string{"a", "b"} {
		permits = append(permits, allow(t, get(t, g, k), t0, 1))
	}
	allow(t, get(t, g, "c"), t0, 1).DoneAt(t0, throttle(time.Minute))
	_, err := g.Get("d")
	var fe *dynlimit.GroupFullError
	if !errors.As(err, &fe) || !errors.Is(err, dynlimit.ErrGroupFull) || fe.Key != "d" || fe.MaxKeys != 3 {
		t.Fatalf("Get(d) = %v, want a *GroupFullError for d and 3", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "dynlimit: ") || !strings.Contains(msg, `"d"`) || !strings.Contains(msg, "3") {
		t.Errorf("message %q does not name the key and the max", msg)
	}
	if g.Len() != 3 || g.Evicted() != 0 {
		t.Errorf("Len %d, Evicted %d after a refusal; want 3 and 0", g.Len(), g.Evicted())
	}
	// c's cooldown ends: c is idle, and goes for d.
	fake.Set(t0.Add(time.Minute))
	get(t, g, "d")
	if _, ok := g.Lookup("c"); ok {
		t.Error("c, idle, was kept over d")
	}
	// b's permit done: b goes for e, and a, still busy, stays.
	permits[1].DoneAt(fake.Now(), signal.Signal{})
	get(t, g, "e")
	if _, ok := g.Lookup("a"); !ok {
		t.Error("a, with a permit out, was dropped")
	}
	if _, ok := g.Lookup("b"); ok {
		t.Error("b, idle, was kept")
	}
	permits[0].DoneAt(fake.Now(), signal.Signal{})
}

// The hostile case: 10,000 distinct keys, as a caller that puts whatever it
// likes in a path would send, some of them throttled. The group never
// holds more than MaxKeys limiters, and /hot's cooldown and in-flight cap
// hold throughout.
func TestGroupBoundedUnderManyKeys(t *testing.T) {
	const maxKeys = 64
	fake := clock.NewFake(t0)
	g := newGroup(t, dynlimit.WithGroupClock(fake), dynlimit.WithMaxKeys(maxKeys),
		dynlimit.WithLimiterOptions(dynlimit.WithPolicy(classic()), dynlimit.WithMaxInFlight(1)))
	hot := get(t, g, "/hot")
	allow(t, hot, t0, 1).DoneAt(t0, throttle(30*time.Second))
	refused := 0
	for i := range 10000 {
		fake.Advance(time.Millisecond) // 10 s in all: within /hot's cooldown
		l, err := g.Get("/x/" + strconv.Itoa(i))
		switch {
		case errors.Is(err, dynlimit.ErrGroupFull):
			refused++
		case err != nil:
			t.Fatal(err)
		case i%10 == 0:
			// Every tenth key is throttled for a minute: it stays.
			allow(t, l, fake.Now(), 1).DoneAt(fake.Now(), throttle(time.Minute))
		}
		if n := g.Len(); n > maxKeys {
			t.Fatalf("after %d keys the group holds %d limiters, want at most %d", i+1, n, maxKeys)
		}
		if l, ok := g.Lookup("/hot"); !ok || l != hot {
			t.Fatalf("after %d keys /hot's limiter was dropped during its cooldown", i+1)
		}
	}
	if _, ok := hot.AllowN(fake.Now(), 1); ok {
		t.Error("/hot granted before its cooldown ended")
	}
	if refused == 0 {
		t.Error("no key was refused, though the throttled ones fill the group")
	}
	t.Logf("%d of 10000 keys refused, %d limiters dropped, %d kept", refused, g.Evicted(), g.Len())
}

// The idle timeout follows the same rule: a limiter idle for longer than it
// is kept while its cooldown runs (GitHub's reset can be an hour away).
func TestGroupIdleSweepKeepsBusyLimiters(t *testing.T) {
	fake := clock.NewFake(t0)
	g := newGroup(t, dynlimit.WithGroupClock(fake), dynlimit.WithIdleTimeout(time.Minute),
		dynlimit.WithLimiterOptions(dynlimit.WithPolicy(classic())))
	cooling, idle := get(t, g, "cooling"), get(t, g, "idle")
	allow(t, cooling, t0, 1).DoneAt(t0, throttle(time.Hour))
	_ = idle
	fake.Set(t0.Add(10 * time.Minute))
	get(t, g, "new") // sweeps
	if _, ok := g.Lookup("idle"); ok {
		t.Error("an idle limiter was kept past the idle timeout")
	}
	if l, ok := g.Lookup("cooling"); !ok || l != cooling {
		t.Error("a limiter in an hour-long cooldown was dropped after the 1-minute idle timeout")
	}
	fake.Set(t0.Add(time.Hour))
	get(t, g, "newer")
	if _, ok := g.Lookup("cooling"); ok {
		t.Error("a limiter idle since its cooldown ended was kept")
	}
}

// Hold keeps a limiter across a span it cannot see (a Transport's backoff
// between attempts, with no permit out and no cooldown) until released.
func TestGroupHold(t *testing.T) {
	fake := clock.NewFake(t0)
	g := newGroup(t, dynlimit.WithGroupClock(fake), dynlimit.WithMaxKeys(2),
		dynlimit.WithLimiterOptions(dynlimit.WithPolicy(classic())))
	held, release, err := g.Hold("held")
	if err != nil {
		t.Fatal(err)
	}
	if again := get(t, g, "held"); again != held {
		t.Fatal("Hold and Get gave two limiters for one key")
	}
	get(t, g, "a")
	get(t, g, "b") // a goes: held is older but held
	if l, ok := g.Lookup("held"); !ok || l != held {
		t.Fatal("a held limiter was dropped")
	}
	if _, ok := g.Lookup("a"); ok {
		t.Error("a was kept over b, though not held")
	}
	_, release2, err := g.Hold("held") // holds add up
	if err != nil {
		t.Fatal(err)
	}
	release()
	release() // a second call does nothing
	get(t, g, "c")
	if _, ok := g.Lookup("held"); !ok {
		t.Fatal("a limiter still held once was dropped")
	}
	release2()
	get(t, g, "d")
	get(t, g, "e")
	if _, ok := g.Lookup("held"); ok {
		t.Error("a released limiter was kept over newer ones")
	}
	// Hold is refused as Get is.
	busyGroup := newGroup(t, dynlimit.WithGroupClock(fake), dynlimit.WithMaxKeys(1))
	if _, _, err := busyGroup.Hold("x"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := busyGroup.Hold("y"); !errors.Is(err, dynlimit.ErrGroupFull) {
		t.Errorf("Hold(y) with x held: %v, want ErrGroupFull", err)
	}
}

// Many goroutines over more keys than the group has room for, each key
// capped at one call in flight, under -race: however the group drops and
// makes limiters, no key ever has two calls running, and the bound holds.
func TestGroupConcurrentInFlightCapHolds(t *testing.T) {
	const maxKeys = 8
	g := newGroup(t, dynlimit.WithMaxKeys(maxKeys),
		dynlimit.WithLimiterOptions(dynlimit.WithPolicy(policy.Fixed{Rate: 1e9, Burst: 1e9}), dynlimit.WithMaxInFlight(1)))
	var running [40]atomic.Int32
	var refused atomic.Int64
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 400 {
				k := (w*7 + i) % len(running)
				l, release, err := g.Hold("k" + strconv.Itoa(k))
				if errors.Is(err, dynlimit.ErrGroupFull) {
					refused.Add(1)
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if p, ok := l.Allow(); ok {
					if n := running[k].Add(1); n > 1 {
						t.Errorf("key %d: %d calls running, with a cap of 1", k, n)
					}
					runtime.Gosched() // the call: let others ask for keys meanwhile
					running[k].Add(-1)
					p.Done(signal.Signal{})
				}
				release()
				if n := g.Len(); n > maxKeys {
					t.Errorf("Len = %d, above the max of %d", n, maxKeys)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d refused, %d dropped", refused.Load(), g.Evicted())
}
