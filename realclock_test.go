package dynlimit_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// With clock.Real and the default bucket, a permit's instant is the real
// clock's reading, and the permits are paced and counted as on any clock.
func TestRealClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := dynlimit.New(dynlimit.WithPolicy(policy.Fixed{Rate: 10, Burst: 2}))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		time.Sleep(time.Second) // the bucket is full
		before := clock.Real.Now()
		p, ok := l.Allow()
		if !ok {
			t.Fatal("Allow refused from a full bucket")
		}
		if got := p.Issued(); !got.Equal(before) {
			t.Errorf("Issued() = %v, want the clock's reading %v", got, before)
		}
		if p.Epoch() != 0 || p.Tokens() != 1 {
			t.Errorf("permit: epoch %d, tokens %v; want 0, 1", p.Epoch(), p.Tokens())
		}
		p.Done(signal.Signal{})
		// One token left; then the bucket is empty.
		q, ok := l.Allow()
		if !ok {
			t.Fatal("Allow refused the second token")
		}
		q.Done(signal.Signal{})
		if _, ok := l.Allow(); ok {
			t.Fatal("Allow granted a third token at the same instant")
		}
		start := clock.Real.Now()
		w, err := l.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := w.Issued().Sub(start), 100*time.Millisecond; got != want {
			t.Errorf("Wait granted %v after the bucket ran dry, want %v", got, want)
		}
		w.Done(signal.Signal{})
		time.Sleep(time.Second)
		w, err = l.Wait(ctx)
		if err != nil || !w.Issued().Equal(clock.Real.Now()) {
			t.Fatalf("Wait from a full bucket = %v at %v, %v; want now", w, w.Issued(), err)
		}
		w.Done(signal.Signal{})
		s := l.Snapshot()
		if s.Counters.Granted != 4 || s.Counters.Succeeded != 4 || s.InFlight != 0 {
			t.Errorf("snapshot: %+v; want 4 granted, 4 succeeded, none in flight", s)
		}
	})
}
