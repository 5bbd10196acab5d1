package bench

import (
	"context"
	"testing"

	"golang.org/x/time/rate"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// A limit so high that the bucket never runs dry: the benchmarks measure
// the cost of one permit cycle, not the pacing.
const (
	hugeRate  = 1e12
	hugeBurst = 1e9
)

func newDynlimit(b *testing.B) *dynlimit.Limiter {
	b.Helper()
	// Fixed keeps the rate still, as x/time/rate does; AIMD's per-success
	// increase is measured separately.
	l, err := dynlimit.New(dynlimit.WithPolicy(policy.Fixed{Rate: hugeRate, Burst: hugeBurst}))
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func newAIMD(b *testing.B) *dynlimit.Limiter {
	b.Helper()
	a := policy.DefaultAIMD()
	a.Rate, a.MaxRate, a.Burst = hugeRate, 2*hugeRate, hugeBurst
	l, err := dynlimit.New(dynlimit.WithPolicy(a))
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func newXRate() *rate.Limiter { return rate.NewLimiter(rate.Limit(hugeRate), int(hugeBurst)) }

func BenchmarkAllow(b *testing.B) {
	b.Run("impl=x-time-rate", func(b *testing.B) {
		l := newXRate()
		b.ReportAllocs()
		for b.Loop() {
			if !l.Allow() {
				b.Fatal("denied")
			}
		}
	})
	for _, c := range []struct {
		name string
		new  func(*testing.B) *dynlimit.Limiter
	}{{"dynlimit-fixed", newDynlimit}, {"dynlimit-aimd", newAIMD}} {
		b.Run("impl="+c.name, func(b *testing.B) {
			l := c.new(b)
			b.ReportAllocs()
			for b.Loop() {
				p, ok := l.Allow()
				if !ok {
					b.Fatal("denied")
				}
				p.Done(signal.Signal{})
			}
		})
	}
}

func BenchmarkAllowParallel(b *testing.B) {
	b.Run("impl=x-time-rate", func(b *testing.B) {
		l := newXRate()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				l.Allow()
			}
		})
	})
	b.Run("impl=dynlimit-fixed", func(b *testing.B) {
		l := newDynlimit(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if p, ok := l.Allow(); ok {
					p.Done(signal.Signal{})
				}
			}
		})
	})
}

func BenchmarkWait(b *testing.B) {
	ctx := context.Background()
	b.Run("impl=x-time-rate", func(b *testing.B) {
		l := newXRate()
		b.ReportAllocs()
		for b.Loop() {
			if err := l.Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=dynlimit-fixed", func(b *testing.B) {
		l := newDynlimit(b)
		b.ReportAllocs()
		for b.Loop() {
			p, err := l.Wait(ctx)
			if err != nil {
				b.Fatal(err)
			}
			p.Done(signal.Signal{})
		}
	})
}
