package dynlimit_test

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// t0 is where every fake clock starts. Later instants are named t1, t2...
// in the tests, relative to it.
var t0 = time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)

// classic is the original design's AIMD: ×0.5 on a throttle and no memory
// of the ceiling. The mechanics tested here do not depend on the defaults;
// their expected numbers are easiest to follow with these.
func classic() policy.AIMD {
	a := policy.DefaultAIMD()
	a.IncreaseFactor, a.DecreaseFactor = 0.1, 0.5
	a.SlowStart, a.Recovery, a.Probe, a.Restart = 0, 0, 0, 0
	return a
}

func newLimiter(tb testing.TB, opts ...dynlimit.Option) *dynlimit.Limiter {
	tb.Helper()
	l, err := dynlimit.New(append([]dynlimit.Option{dynlimit.WithPolicy(classic())}, opts...)...)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return l
}

// allow takes n tokens at now and fails the test if the limiter refuses.
func allow(tb testing.TB, l *dynlimit.Limiter, now time.Time, n int) dynlimit.Permit {
	tb.Helper()
	p, ok := l.AllowN(now, n)
	if !ok {
		tb.Fatalf("AllowN(%v, %d) = false, want a permit", now, n)
	}
	return p
}

// drain takes k one-token permits at now, emptying a bucket of burst k.
func drain(tb testing.TB, l *dynlimit.Limiter, now time.Time, k int) []dynlimit.Permit {
	tb.Helper()
	ps := make([]dynlimit.Permit, k)
	for i := range ps {
		ps[i] = allow(tb, l, now, 1)
	}
	return ps
}

func throttle(retryAfter time.Duration) signal.Signal {
	return signal.Signal{Kind: signal.Throttled, Status: 429, RetryAfter: retryAfter}
}

// near compares rates that went through different sequences of
// floating-point additions: 5+0.1+0.1 and 5+2*0.1 differ in the last bit.
func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// spyBucket is a Local bucket that records the outcomes the limiter hands
// to the policy and can be told to fail, like an unreachable shared bucket.
type spyBucket struct {
	*bucket.Local

	mu      sync.Mutex
	applied []policy.Outcome
	fail    error
}

func newSpyBucket() *spyBucket { return &spyBucket{Local: bucket.NewLocal()} }

func (b *spyBucket) setFail(err error) {
	b.mu.Lock()
	b.fail = err
	b.mu.Unlock()
}

func (b *spyBucket) err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fail
}

// outcomes returns what Apply received so far and forgets it.
func (b *spyBucket) outcomes() []policy.Outcome {
	b.mu.Lock()
	defer b.mu.Unlock()
	o := b.applied
	b.applied = nil
	return o
}

func (b *spyBucket) Take(ctx context.Context, now time.Time, n float64, maxWait time.Duration) (bucket.Reservation, error) {
	if err := b.err(); err != nil {
		return bucket.Reservation{}, err
	}
	return b.Local.Take(ctx, now, n, maxWait)
}

func (b *spyBucket) Confirm(ctx context.Context, now time.Time, r bucket.Reservation) (bool, error) {
	if err := b.err(); err != nil {
		return false, err
	}
	return b.Local.Confirm(ctx, now, r)
}

func (b *spyBucket) Cancel(ctx context.Context, now time.Time, r bucket.Reservation) error {
	if err := b.err(); err != nil {
		return err
	}
	return b.Local.Cancel(ctx, now, r)
}

func (b *spyBucket) Apply(ctx context.Context, p policy.Policy, o policy.Outcome, now time.Time) (prev, next policy.State, err error) {
	if err := b.err(); err != nil {
		return prev, next, err
	}
	b.mu.Lock()
	b.applied = append(b.applied, o)
	b.mu.Unlock()
	return b.Local.Apply(ctx, p, o, now)
}

func (b *spyBucket) Peek(ctx context.Context, now time.Time) (bucket.Status, error) {
	if err := b.err(); err != nil {
		return bucket.Status{}, err
	}
	return b.Local.Peek(ctx, now)
}

// countingClock is a Fake that counts how often it is read, to show which
// paths stay off the clock.
type countingClock struct {
	*clock.Fake
	reads atomic.Int64
}

func (c *countingClock) Now() time.Time {
	c.reads.Add(1)
	return c.Fake.Now()
}

// recorder is an Observer that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []dynlimit.Event
}

func (r *recorder) Observe(e dynlimit.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// take returns the events recorded so far and forgets them.
func (r *recorder) take() []dynlimit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.events
	r.events = nil
	return e
}
