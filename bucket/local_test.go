package bucket_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/bucket/buckettest"
	"github.com/dynlimit/dynlimit/policy"
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
