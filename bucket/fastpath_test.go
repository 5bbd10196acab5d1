package bucket_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

var fastAIMD = policy.AIMD{
	Rate:               4,
	Burst:              4,
	IncreaseFactor:     0.5,
	DecreaseFactor:     0.5,
	MinRate:            0.5,
	MaxRate:            50,
	CooldownMultiplier: 1.5,
}

// The lock-free take must be indistinguishable from Take: two buckets fed
// the same operations, one taking single tokens with TryTakeOne first,
// must give the same reservations and report the same state and tokens,
// bit for bit, whatever the instants (including ones before the bucket's
// last use), cooldowns, quota pacing, cancels and rate changes.
func TestLocalTryTakeOneMatchesTake(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 7))
		fast, plain := bucket.NewLocal(), bucket.NewLocal()
		for _, b := range []*bucket.Local{fast, plain} {
			if err := b.Init(ctx, t0, fastAIMD.Initial()); err != nil {
				t.Fatal(err)
			}
		}
		now, fastTakes := t0, 0
		var pending []bucket.Reservation
		for step := range 3000 {
			switch r := rng.IntN(20); {
			case r < 8:
				now = now.Add(time.Duration(rng.Int64N(int64(400 * time.Millisecond))))
			case r == 8:
				now = now.Add(-time.Duration(rng.Int64N(int64(50 * time.Millisecond))))
			case r == 9:
				now = now.Add(time.Duration(rng.Int64N(int64(5 * time.Second))))
			}
			switch r := rng.IntN(20); {
			case r < 10: // one token, immediate or queued
				maxWait := time.Duration(0)
				if rng.IntN(3) == 0 {
					maxWait = bucket.Forever
				}
				var got bucket.Reservation
				if e, ok := fast.TryTakeOne(now); ok {
					fastTakes++
					got = bucket.Reservation{OK: true, At: now, Tokens: 1, Epoch: e}
				} else {
					got = take(t, fast, now, 1, maxWait)
				}
				want := take(t, plain, now, 1, maxWait)
				if got != want {
					t.Fatalf("seed %d step %d: take at %v = %+v, Take alone %+v", seed, step, now, got, want)
				}
				if want.OK && want.At.After(now) {
					pending = append(pending, want)
				}
			case r < 12:
				n := 1 + float64(rng.IntN(3))
				if got, want := take(t, fast, now, n, bucket.Forever), take(t, plain, now, n, bucket.Forever); got != want {
					t.Fatalf("seed %d step %d: Take(%v) = %+v and %+v", seed, step, n, got, want)
				}
			case r < 15:
				st, _ := plain.Peek(ctx, now)
				o := policy.Outcome{Epoch: st.State.Epoch, Tokens: 1, Count: uint64(1 + rng.IntN(3))}
				switch rng.IntN(6) {
				case 0:
					o.Signal = signal.Signal{Kind: signal.Throttled}
				case 1:
					o.Signal.Quota = signal.Quota{HasRemaining: true, Remaining: float64(rng.IntN(20)), Reset: time.Duration(1+rng.IntN(10)) * time.Second}
				}
				_, gotS, err1 := fast.Apply(ctx, fastAIMD, o, now)
				_, wantS, err2 := plain.Apply(ctx, fastAIMD, o, now)
				if err1 != nil || err2 != nil || gotS != wantS {
					t.Fatalf("seed %d step %d: Apply = %+v, %v and %+v, %v", seed, step, gotS, err1, wantS, err2)
				}
			case r < 16 && len(pending) > 0:
				i := rng.IntN(len(pending))
				r := pending[i]
				pending = append(pending[:i], pending[i+1:]...)
				if err1, err2 := fast.Cancel(ctx, now, r), plain.Cancel(ctx, now, r); err1 != nil || err2 != nil {
					t.Fatal(err1, err2)
				}
			}
			got, err1 := fast.Peek(ctx, now)
			want, err2 := plain.Peek(ctx, now)
			if err1 != nil || err2 != nil || got != want {
				t.Fatalf("seed %d step %d: Peek(%v) = %+v, %v; Take alone %+v, %v", seed, step, now, got, err1, want, err2)
			}
		}
		if fastTakes == 0 {
			t.Fatalf("seed %d: no take went through the lock-free path", seed)
		}
	}
}

func take(t *testing.T, b *bucket.Local, now time.Time, n float64, maxWait time.Duration) bucket.Reservation {
	t.Helper()
	r, err := b.Take(context.Background(), now, n, maxWait)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TryTakeOneAt(d) is TryTakeOne(Origin().Add(d)).
func TestLocalTryTakeOneAt(t *testing.T) {
	ctx := context.Background()
	var zero bucket.Local
	if _, ok := zero.TryTakeOneAt(0); ok {
		t.Fatal("TryTakeOneAt on a Local before Init took")
	}
	if !zero.Origin().IsZero() {
		t.Fatalf("Origin before Init = %v, want the zero Time", zero.Origin())
	}
	b := bucket.NewLocal()
	if err := b.Init(ctx, t0, policy.State{Rate: 1, Burst: 2}); err != nil {
		t.Fatal(err)
	}
	at := t0.Sub(b.Origin())
	if _, ok := b.TryTakeOneAt(at); !ok {
		t.Fatal("no lock-free take from a full bucket")
	}
	// One token short: the lock-free path waits for a full bucket; the
	// lock takes the token that is there.
	if _, ok := b.TryTakeOneAt(at); ok {
		t.Fatal("lock-free take from a bucket that is not full")
	}
	if r := take(t, b, t0, 1, 0); !r.OK {
		t.Fatalf("Take of the second token = %+v, want OK", r)
	}
	if _, ok := b.TryTakeOneAt(at + time.Second); ok {
		t.Fatal("lock-free take from a bucket one token short")
	}
	if _, ok := b.TryTakeOneAt(at + 3*time.Second); !ok {
		t.Fatal("no lock-free take from a full bucket")
	}
	if st, _ := b.Peek(ctx, t0.Add(3*time.Second)); st.Tokens != 1 {
		t.Fatalf("tokens after the lock-free take = %v, want 1", st.Tokens)
	}
}

// Cooldowns and quota pacing keep every take on the lock.
func TestLocalTryTakeOneFallsBack(t *testing.T) {
	ctx := context.Background()
	b := bucket.NewLocal()
	if err := b.Init(ctx, t0, fastAIMD.Initial()); err != nil {
		t.Fatal(err)
	}
	_, s, err := b.Apply(ctx, fastAIMD, policy.Outcome{Signal: signal.Signal{Kind: signal.Throttled}, Tokens: 1}, t0)
	if err != nil || !s.CooldownUntil.After(t0) {
		t.Fatalf("throttle: %+v, %v; want a cooldown", s, err)
	}
	full := s.CooldownUntil.Add(time.Duration(s.Burst / s.Rate * float64(time.Second)))
	for _, at := range []time.Time{t0, s.CooldownUntil.Add(-time.Nanosecond), full.Add(-time.Millisecond)} {
		if _, ok := b.TryTakeOne(at); ok {
			t.Fatalf("lock-free take at %v, cooldown until %v, full at %v", at, s.CooldownUntil, full)
		}
	}
	if _, ok := b.TryTakeOne(full.Add(time.Millisecond)); !ok {
		t.Fatal("no lock-free take once full after the cooldown")
	}
	q := policy.Outcome{Signal: signal.Signal{Quota: signal.Quota{HasRemaining: true, Remaining: 1, Reset: time.Minute}}, Epoch: s.Epoch, Tokens: 1}
	now := full.Add(time.Second)
	if _, s, err = b.Apply(ctx, fastAIMD, q, now); err != nil || !s.Paced(now) {
		t.Fatalf("quota: %+v, %v; want paced", s, err)
	}
	if _, ok := b.TryTakeOne(now.Add(30 * time.Second)); ok {
		t.Fatal("lock-free take while paced by a quota")
	}
	if _, ok := b.TryTakeOne(now.Add(time.Hour)); ok {
		t.Fatal("lock-free take with the paced state still stored: the lock must see the window end first")
	}
	if r := take(t, b, now.Add(time.Hour), 1, 0); !r.OK {
		t.Fatalf("Take after the window = %+v", r)
	}
	if _, ok := b.TryTakeOne(now.Add(2 * time.Hour)); !ok {
		t.Fatal("no lock-free take once the quota window is over and the bucket full")
	}
}

// Lock-free takes racing with locked takes, throttles, successes and peeks,
// at instants read from a shared clock in whatever order the goroutines
// get there: no take is granted that the rate and burst do not allow, the
// tokens never go below zero (every take here is immediate), and a
// lock-free take never reports an epoch the bucket has not reached.
func TestLocalTryTakeOneRace(t *testing.T) {
	ctx := context.Background()
	p := policy.AIMD{Rate: 1000, Burst: 3, IncreaseFactor: 1, DecreaseFactor: 0.5, MinRate: 100, MaxRate: 2000, CooldownMultiplier: 1.5}
	b := bucket.NewLocal()
	if err := b.Init(ctx, t0, p.Initial()); err != nil {
		t.Fatal(err)
	}
	// Each reading moves the shared clock on by 10µs, or one in ten by
	// 50ms, after which the bucket is full even at the minimum rate: bursts
	// of calls faster than the rate, with pauses that open the lock-free
	// path.
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
	var granted, fastGranted, maxEpoch atomic.Uint64
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 5000 {
				at := now()
				if e, ok := b.TryTakeOne(at); ok {
					granted.Add(1)
					fastGranted.Add(1)
					if e > maxEpoch.Load() {
						t.Errorf("lock-free take in epoch %d, bucket at most at %d", e, maxEpoch.Load())
					}
					continue
				}
				if (g+i)%3 == 0 {
					continue
				}
				r, err := b.Take(ctx, at, 1, 0)
				if err != nil {
					t.Error(err)
					return
				}
				if r.OK {
					granted.Add(1)
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
	if fastGranted.Load() == 0 {
		t.Error("no take went through the lock-free path")
	}
	t.Logf("granted %d (%d lock-free) in %.3fs", granted.Load(), fastGranted.Load(), elapsed)
}
