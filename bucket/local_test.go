package bucket_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/bucket/buckettest"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestLocal(t *testing.T) {
	buckettest.Run(t, func(t *testing.T) bucket.Bucket { return bucket.NewLocal() })
}

// Against itself the differential property holds whatever the calls: it
// checks the property's own determinism.
func TestLocalDifferential(t *testing.T) {
	buckettest.RunDifferential(t, func(t *testing.T) bucket.Bucket { return bucket.NewLocal() })
}

func TestLocalZeroValue(t *testing.T) {
	ctx := context.Background()
	var b bucket.Local
	if _, err := b.Peek(ctx, t0); !errors.Is(err, bucket.ErrUninitialized) {
		t.Fatalf("Peek on the zero Local: err = %v, want ErrUninitialized", err)
	}
	if err := b.Init(ctx, t0, policy.State{Rate: 4, Burst: 2}); err != nil {
		t.Fatalf("Init: %v", err)
	}
	for _, want := range []time.Time{t0, t0, t0.Add(250 * time.Millisecond)} {
		r, err := b.Take(ctx, t0, 1, bucket.Forever)
		if err != nil || !r.OK || !r.At.Equal(want) {
			t.Fatalf("Take(t0) = %+v, %v; want OK at %v", r, err, want)
		}
	}
}

// Local starts a bucket initialized during a cooldown empty, refilling from
// the cooldown's end, as if the congestion event had just drained it.
func TestLocalInitDuringCooldownStartsEmpty(t *testing.T) {
	ctx := context.Background()
	cooldownEnd := t0.Add(time.Second)
	b := bucket.NewLocal()
	if err := b.Init(ctx, t0, policy.State{Rate: 4, Burst: 4, CooldownUntil: cooldownEnd, Epoch: 1}); err != nil {
		t.Fatalf("Init: %v", err)
	}
	if st, err := b.Peek(ctx, cooldownEnd); err != nil || st.Tokens != 0 {
		t.Fatalf("Peek(cooldown end) = %+v, %v; want 0 tokens", st, err)
	}
	r, err := b.Take(ctx, t0, 1, bucket.Forever)
	if want := cooldownEnd.Add(250 * time.Millisecond); err != nil || !r.At.Equal(want) {
		t.Fatalf("Take(t0) = %+v, %v; want At %v", r, err, want)
	}
}

// Callers read the clock before they take the lock, so a Take may carry an
// instant older than the bucket's last use. Local must not refill backwards
// from it: the tokens it accounted for up to the later instant are gone.
func TestLocalInstantBeforeLastUse(t *testing.T) {
	ctx := context.Background()
	t1 := t0.Add(time.Second)
	b := bucket.NewLocal()
	if err := b.Init(ctx, t0, policy.State{Rate: 4, Burst: 4}); err != nil {
		t.Fatalf("Init: %v", err)
	}
	if _, err := b.Take(ctx, t0, 4, 0); err != nil {
		t.Fatalf("Take(t0): %v", err)
	}
	if _, err := b.Take(ctx, t1, 4, 0); err != nil { // refilled by t1, drained again
		t.Fatalf("Take(t1): %v", err)
	}
	if st, err := b.Peek(ctx, t0); err != nil || st.Tokens != 0 || st.Reserved != 0 {
		t.Fatalf("Peek(t0) = %+v, %v; want 0 tokens, 0 reserved", st, err)
	}
	if r, err := b.Take(ctx, t0, 1, 0); err != nil || r.OK {
		t.Fatalf("Take(t0, maxWait 0) = %+v, %v; want not OK", r, err)
	}
}

// panicking is a policy whose Next panics.
type panicking struct{ policy.Fixed }

func (panicking) Next(policy.State, policy.Outcome, time.Time) policy.State { panic("policy bug") }

// Apply calls the policy under the bucket's lock; a panic in it must not
// leave the lock held, or every later call would deadlock.
func TestLocalApplyPanicReleasesLock(t *testing.T) {
	ctx := context.Background()
	s := policy.State{Rate: 4, Burst: 4}
	b := bucket.NewLocal()
	if err := b.Init(ctx, t0, s); err != nil {
		t.Fatalf("Init: %v", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("Apply did not propagate the policy's panic")
			}
		}()
		_, _, _ = b.Apply(ctx, panicking{}, policy.Outcome{}, t0)
	}()
	st, err := b.Peek(ctx, t0)
	if err != nil || st.State != s || st.Tokens != 4 {
		t.Fatalf("Peek after the panic = %+v, %v; want the state unchanged and 4 tokens", st, err)
	}
}

// Takes racing with throttles, successes and peeks, at instants read from
// a shared clock in whatever order the goroutines get there: no take is
// granted that the rate and burst do not allow, the tokens never go below
// zero (every take here is immediate), and no take reports an epoch the
// bucket has not reached.
func TestLocalConcurrentTakesAndSteps(t *testing.T) {
	ctx := context.Background()
	p := policy.AIMD{Rate: 1000, Burst: 3, IncreaseFactor: 1, DecreaseFactor: 0.5, MinRate: 100, MaxRate: 2000, CooldownMultiplier: 1.5}
	b := bucket.NewLocal()
	if err := b.Init(ctx, t0, p.Initial()); err != nil {
		t.Fatal(err)
	}
	// Each reading moves the shared clock on by 10µs, or one in ten by
	// 50ms, after which the bucket is full even at the minimum rate: bursts
	// of calls faster than the rate, with pauses that fill the bucket.
	var clock, calls, pauses, small atomic.Int64 // nanoseconds after t0; readings; 50ms steps; ns in 10µs steps
	now := func() time.Time {
		step := 10 * time.Microsecond
		if calls.Add(1)%10 == 0 {
			step = 50 * time.Millisecond
			pauses.Add(1)
		} else {
			small.Add(int64(step))
		}
		return t0.Add(time.Duration(clock.Add(int64(step))))
	}
	var granted, maxEpoch atomic.Uint64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5000 {
				r, err := b.Take(ctx, now(), 1, 0)
				if err != nil {
					t.Error(err)
					return
				}
				if r.OK {
					granted.Add(1)
					if r.Epoch > maxEpoch.Load() {
						t.Errorf("take in epoch %d, bucket at most at %d", r.Epoch, maxEpoch.Load())
					}
				}
			}
		})
	}
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(1, 2))
		for range 2000 {
			at := now()
			st, err := b.Peek(ctx, at)
			if err != nil || st.Reserved != 0 || st.Tokens > st.State.Burst {
				t.Errorf("Peek = %+v, %v", st, err)
				return
			}
			o := policy.Outcome{Epoch: st.State.Epoch, Tokens: 1, Count: 1}
			if rng.IntN(100) == 0 {
				// Only this goroutine changes the epoch, by one at a
				// throttle: allow the next one before the bucket has it.
				o.Signal.Kind = signal.Throttled
				maxEpoch.Store(st.State.Epoch + 1)
			}
			_, next, err := b.Apply(ctx, p, o, at)
			if err != nil {
				t.Error(err)
				return
			}
			maxEpoch.Store(next.Epoch)
		}
	})
	wg.Wait()
	if st, _ := b.Peek(ctx, t0); st.State.Epoch == 0 {
		t.Error("no throttle changed the epoch")
	}
	// A refill adds at most the burst, however long it covers, and at most
	// the max rate × its span: over a span with a pause the burst, over
	// the 10µs steps the rate. So the bucket can have given no more than
	// the burst at the start, the burst per pause, and the max rate over
	// the time outside the pauses.
	elapsed := time.Duration(clock.Load()).Seconds()
	limit := p.Burst + p.Burst*float64(pauses.Load()) + p.MaxRate*time.Duration(small.Load()).Seconds()
	if float64(granted.Load()) > limit {
		t.Errorf("granted %d in %.3fs with %d pauses, more than the bucket can give, %.1f", granted.Load(), elapsed, pauses.Load(), limit)
	}
	t.Logf("granted %d in %.3fs", granted.Load(), elapsed)
}
