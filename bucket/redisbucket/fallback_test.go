package redisbucket_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/bucket/redisbucket"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/internal/redistest"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

var ft0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// The fallback runs at its share of the last shared rate and does not
// grow past it: a limiter at 136/s when Redis dies gets 0.25 × 136 = 34/s
// of successes, not an AIMD climb back to 136/s and on to max_rate. Five
// seconds of outage on a fake clock, as many permits as the limiter gives.
func TestFallbackHoldsItsShareOfTheLastRate(t *testing.T) {
	srv := redistest.Start(t)
	b := mustNew(t, newClient(t, srv), fmt.Sprintf("share-%d", names.Add(1)))
	a := policy.DefaultAIMD()
	a.Rate, a.Burst, a.MaxRate = 136, 20, 400
	fake := clock.NewFake(ft0)
	lim, err := dynlimit.New(dynlimit.WithBucket(b), dynlimit.WithPolicy(a), dynlimit.WithClock(fake))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := lim.Allow(); !ok {
		t.Fatal("no permit with Redis up")
	} else {
		p.Done(signal.Signal{Kind: signal.Success})
	}
	shared := lim.Snapshot().Rate
	srv.Kill()

	const outage = 5 * time.Second
	limit := redisbucket.DefaultFallbackShare * shared
	burst := redisbucket.DefaultFallbackShare * a.Burst
	granted, maxRate := 0, 0.0
	for range outage / time.Millisecond {
		fake.Advance(time.Millisecond)
		for range 100 {
			p, ok := lim.Allow()
			if !ok {
				break
			}
			granted++
			p.Done(signal.Signal{Kind: signal.Success})
		}
		if s := lim.Snapshot(); s.Rate > maxRate {
			maxRate = s.Rate
		}
	}
	if maxRate > limit {
		t.Errorf("the fallback ran at up to %v/s, above its share %v × %v = %v/s", maxRate, redisbucket.DefaultFallbackShare, shared, limit)
	}
	if !b.Down() {
		t.Fatal("the bucket is not on its fallback")
	}
	// Its burst, then its rate: no more.
	if want := burst + limit*outage.Seconds(); float64(granted) > want+1 {
		t.Errorf("%d permits in %v of outage, want at most %v (burst %v + %v/s)", granted, outage, want, burst, limit)
	}
	t.Logf("shared rate %v/s; outage of %v: %d permits (%.1f/s), fallback rate at most %v/s", shared, outage, granted, float64(granted)/outage.Seconds(), maxRate)
}

// With Redis down from the start, the last known rate is the policy's
// starting one: the fallback stays at its share of it, however many
// successes it sees, and a throttle still lowers it.
func TestFallbackFromTheStartHoldsItsShare(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	t.Cleanup(func() { _ = dead.Close() })
	b := mustNew(t, dead, "share-from-start", redisbucket.WithTimeout(10*time.Millisecond)) // each probe of the dead address takes the whole timeout
	ctx := t.Context()
	a := policy.DefaultAIMD()
	if err := b.Init(ctx, ft0, a.Initial()); err != nil {
		t.Fatal(err)
	}
	limit := redisbucket.DefaultFallbackShare * a.Rate
	now := ft0
	var rate, maxRate float64
	for range 1200 { // 12 s of successes, asking Redis every second
		now = now.Add(10 * time.Millisecond)
		_, next, err := b.Apply(ctx, a, policy.Outcome{Signal: signal.Signal{Kind: signal.Success}, Tokens: 1, Count: 3}, now)
		if err != nil {
			t.Fatal(err)
		}
		rate = next.Rate
		maxRate = max(maxRate, rate)
	}
	if maxRate > limit {
		t.Errorf("with Redis down from the start, 3600 successes took the fallback to %v/s, above %v × %v = %v/s",
			maxRate, redisbucket.DefaultFallbackShare, a.Rate, limit)
	}
	if rate != limit {
		t.Errorf("rate %v/s after the successes, want its share %v/s", rate, limit)
	}
	st, err := b.Peek(ctx, now)
	if err != nil || st.State.Rate != limit {
		t.Errorf("Peek = %+v, %v; want the fallback at %v/s", st.State, err, limit)
	}
	_, next, err := b.Apply(ctx, a, policy.Outcome{Signal: signal.Signal{Kind: signal.Throttled, Status: 429}, Epoch: st.State.Epoch, Tokens: 1}, now)
	if err != nil || next.Rate >= limit {
		t.Errorf("a throttle on the fallback: %+v, %v; want a rate below %v", next, err, limit)
	}
}

// failHook fails the script calls of the operations it is told to, and
// holds those it is told to hold until released: a Redis that answers
// some calls and fails others, as one out of memory does.
type failHook struct {
	fail    sync.Map // op → true
	hold    sync.Map // op → chan struct{}, closed to release
	holding chan string
}

func (h *failHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *failHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		if len(args) > 4 {
			op := fmt.Sprint(args[4])
			if _, ok := h.fail.Load(op); ok {
				err := errors.New("OOM command not allowed when used memory > 'maxmemory'")
				cmd.SetErr(err)
				return err
			}
			if ch, ok := h.hold.LoadAndDelete(op); ok {
				h.holding <- op
				<-ch.(chan struct{})
			}
		}
		return next(ctx, cmd)
	}
}

func (h *failHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// events records the bucket's failure callbacks: "down" and "up".
type events struct {
	mu  sync.Mutex
	got []string
}

func (e *events) record(_ string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		e.got = append(e.got, "down")
	} else {
		e.got = append(e.got, "up")
	}
}

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.got)
}

// A call that was on its way to Redis before the bucket found it failing
// and succeeds after proves nothing about Redis now: the bucket stays on
// its fallback until the retry interval has passed, and does not make it
// again with a fresh burst when the next call fails.
func TestStaleSuccessDoesNotEndTheFallback(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv)
	h := &failHook{holding: make(chan string, 1)}
	c.AddHook(h)
	var ev events
	b := mustNew(t, c, fmt.Sprintf("stale-%d", names.Add(1)), redisbucket.WithTimeout(time.Minute), redisbucket.WithOnFailure(ev.record))
	ctx := t.Context()
	s := policy.State{Rate: 40, Burst: 40} // a fallback of 10/s, burst 10
	if err := b.Init(ctx, ft0, s); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	h.hold.Store("peek", release)
	peeked := make(chan error, 1)
	go func() {
		_, err := b.Peek(ctx, ft0)
		peeked <- err
	}()
	<-h.holding // the peek is on its way

	h.fail.Store("take", true)
	granted := 0
	if r, err := b.Take(ctx, ft0, 1, 0); err != nil || !r.OK {
		t.Fatalf("take with Redis failing: %+v, %v; want a permit from the fallback", r, err)
	}
	granted++
	if !b.Down() {
		t.Fatal("the bucket did not fall back")
	}
	close(release)
	if err := <-peeked; err != nil {
		t.Fatalf("the held peek: %v", err)
	}
	if !b.Down() {
		t.Error("a success of a call made before the failure ended the fallback")
	}
	for range 100 {
		if r, err := b.Take(ctx, ft0, 1, 0); err != nil {
			t.Fatal(err)
		} else if r.OK {
			granted++
		}
	}
	if want := int(redisbucket.DefaultFallbackShare * s.Burst); granted > want {
		t.Errorf("%d permits at one instant with Redis failing, want at most the fallback's burst %d", granted, want)
	}
	if got := ev.list(); !slices.Equal(got, []string{"down"}) {
		t.Errorf("failure events %v, want one down", got)
	}
}

// A Redis out of memory (maxmemory 1 byte, noeviction) answers reads and
// fails every write: the bucket's peeks succeed and its takes fail. Many
// callers at once over ten retry intervals: the bucket enters its fallback
// at most once per retry interval, and every entry after the first goes
// on with the same fallback bucket, so the callers get its burst once and
// its rate after, not a fresh burst per entry.
func TestRedisOutOfMemoryHoldsTheFallback(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv)
	var ev events
	const retry = time.Second
	b := mustNew(t, c, fmt.Sprintf("oom-%d", names.Add(1)), redisbucket.WithRetryInterval(retry), redisbucket.WithOnFailure(ev.record))
	ctx := t.Context()
	s := policy.State{Rate: 40, Burst: 40} // a fallback of 10/s, burst 10
	if err := b.Init(ctx, ft0, s); err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][2]string{{"maxmemory-policy", "noeviction"}, {"maxmemory", "1"}} {
		if _, err := srv.Do("CONFIG", "SET", kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Set(ctx, "probe", "x", 0).Result(); err == nil {
		t.Fatal("a write succeeded with maxmemory 1")
	}

	const (
		run     = 10 * retry
		step    = retry / 8
		callers = 4
	)
	var granted atomic.Int64
	for now := ft0.Add(step); !now.After(ft0.Add(run)); now = now.Add(step) {
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				if i%2 == 0 {
					if _, err := b.Peek(ctx, now); err != nil {
						t.Errorf("Peek: %v", err)
					}
				}
				for range 50 {
					r, err := b.Take(ctx, now, 1, 0)
					if err != nil {
						t.Errorf("Take: %v", err)
						return
					}
					if !r.OK {
						return
					}
					granted.Add(1)
				}
			})
		}
		wg.Wait()
	}
	downs := 0
	for _, e := range ev.list() {
		if e == "down" {
			downs++
		}
	}
	share := redisbucket.DefaultFallbackShare
	if want := int(run/retry) + 1; downs > want {
		t.Errorf("%d fallback entries in %v, want at most one per retry interval of %v: %d", downs, run, retry, want)
	}
	if want := share*s.Burst + share*s.Rate*run.Seconds(); float64(granted.Load()) > want+1 {
		t.Errorf("%d permits in %v with Redis out of memory, want at most %v: the fallback's burst %v once and %v/s",
			granted.Load(), run, want, share*s.Burst, share*s.Rate)
	}
	t.Logf("%v out of memory: %d fallback entries, %d permits (at most %v)", run, downs, granted.Load(), share*s.Burst+share*s.Rate*run.Seconds())
}

// Going down again less than a retry interval after Redis came back
// resumes the fallback as it was: no fresh burst, and a share of a shared
// rate that fell meanwhile lowers it. Going down after Redis answered for
// longer starts a new fallback from the state last seen, burst included.
func TestFallbackResumedWithinTheRetryInterval(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv)
	h := &failHook{holding: make(chan string, 1)}
	c.AddHook(h)
	name := fmt.Sprintf("resume-%d", names.Add(1))
	// On the caller's clock: the other process's throttle starts a
	// cooldown of 47ms, which must end on the test's instants.
	b := mustNew(t, c, name, redisbucket.WithCallerClock())
	other := mustNew(t, newClient(t, srv), name, redisbucket.WithCallerClock()) // another process
	ctx := t.Context()
	a := policy.DefaultAIMD()
	a.Rate, a.Burst = 40, 40 // a fallback of 10/s, burst 10
	if err := b.Init(ctx, ft0, a.Initial()); err != nil {
		t.Fatal(err)
	}
	if err := other.Init(ctx, ft0, a.Initial()); err != nil {
		t.Fatal(err)
	}
	takeAll := func(now time.Time) int {
		t.Helper()
		n := 0
		for range 100 {
			r, err := b.Take(ctx, now, 1, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !r.OK {
				break
			}
			n++
		}
		return n
	}

	h.fail.Store("take", true)
	if n := takeAll(ft0); n != 10 {
		t.Fatalf("%d permits from a new fallback, want its burst 10", n)
	}
	// Meanwhile another process sees a 429: the shared rate falls to 32/s.
	lowered := a.Rate * a.DecreaseFactor
	if _, next, err := other.Apply(ctx, a, policy.Outcome{Signal: signal.Signal{Kind: signal.Throttled, Status: 429}, Tokens: 1}, ft0); err != nil || next.Rate != lowered {
		t.Fatalf("the other process's throttle: %+v, %v", next, err)
	}
	// A retry interval later a peek finds Redis answering, and learns the
	// shared state; the next take fails again.
	t1 := ft0.Add(redisbucket.DefaultRetryInterval)
	if st, err := b.Peek(ctx, t1); err != nil || b.Down() || st.State.Rate != lowered {
		t.Fatalf("Peek after the retry interval: %+v, %v, down %v; want Redis's %v/s", st.State, err, b.Down(), lowered)
	}
	t2 := t1.Add(100 * time.Millisecond)
	if n := takeAll(t2); n != 0 {
		t.Errorf("%d permits on going down again 100ms after Redis came back, want none: the fallback resumed, lowered, is drained", n)
	}
	st, err := b.Peek(ctx, t2)
	if want := redisbucket.DefaultFallbackShare * lowered; err != nil || st.State.Rate != want {
		t.Errorf("the resumed fallback: %+v, %v; want its rate lowered to %v", st.State, err, want)
	}

	// Redis answers for longer than the retry interval: a later failure
	// starts a new fallback, at the share of the state last seen.
	h.fail.Delete("take")
	t3 := t2.Add(redisbucket.DefaultRetryInterval)
	if r, err := b.Take(ctx, t3, 1, 0); err != nil || b.Down() {
		t.Fatalf("take after the retry interval: %+v, %v, down %v", r, err, b.Down())
	}
	t4 := t3.Add(2 * redisbucket.DefaultRetryInterval)
	if _, err := b.Peek(ctx, t4); err != nil || b.Down() {
		t.Fatalf("Peek: %v, down %v", err, b.Down())
	}
	h.fail.Store("take", true)
	if n := takeAll(t4); n != 10 {
		t.Errorf("%d permits from the fallback made after Redis answered for %v, want its burst 10", n, t4.Sub(t3))
	}
}

// A bucket on its fallback says so in the limiter's Snapshot: Degraded is
// a *DegradedError with the key, the mode and Redis's error, and is nil
// again once Redis answers.
func TestSnapshotSaysTheBucketIsOnItsFallback(t *testing.T) {
	srv := redistest.Start(t)
	name := fmt.Sprintf("degraded-%d", names.Add(1))
	b := mustNew(t, newClient(t, srv), name)
	fake := clock.NewFake(ft0)
	lim, err := dynlimit.New(dynlimit.WithBucket(b), dynlimit.WithClock(fake))
	if err != nil {
		t.Fatal(err)
	}
	if s := lim.Snapshot(); s.Degraded != nil || s.Err != nil {
		t.Fatalf("with Redis up: Degraded %v, Err %v", s.Degraded, s.Err)
	}
	srv.Kill()
	if p, ok := lim.Allow(); ok {
		p.Done(signal.Signal{Kind: signal.Success})
	}
	s := lim.Snapshot()
	var de *redisbucket.DegradedError
	if !errors.As(s.Degraded, &de) || !strings.Contains(de.Key, name) || de.Mode != redisbucket.FailFallback || de.Err == nil || de.Since.IsZero() {
		t.Fatalf("on the fallback: Degraded = %#v, want a *DegradedError for %s", s.Degraded, name)
	}
	t.Logf("Degraded: %v", s.Degraded)
	if msg := s.Degraded.Error(); !strings.Contains(msg, "on its local fallback since") || !strings.Contains(msg, "redis unavailable") {
		t.Errorf("Degraded says %q", msg)
	}
	if s.Err != nil || s.Rate <= 0 {
		t.Errorf("on the fallback: Err %v, rate %v; want the fallback's state", s.Err, s.Rate)
	}
	srv.Restart(t)
	for range 50 {
		fake.Advance(100 * time.Millisecond)
		if p, ok := lim.Allow(); ok {
			p.Done(signal.Signal{Kind: signal.Success})
		}
		if lim.Snapshot().Degraded == nil {
			return
		}
	}
	t.Errorf("Redis back for 5 s: Degraded still %v", lim.Snapshot().Degraded)
}
