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

// impls are the dynlimit configurations measured against x/time/rate:
// the default policy (AIMD, whose every success raises the rate) and Fixed
// (a constant rate, which is what x/time/rate does).
var impls = []struct {
	name string
	new  func(*testing.B) *dynlimit.Limiter
}{
	{"dynlimit-aimd", func(b *testing.B) *dynlimit.Limiter {
		a := policy.DefaultAIMD()
		a.Rate, a.MaxRate, a.Burst = hugeRate, 2*hugeRate, hugeBurst
		return newLimiter(b, a)
	}},
	{"dynlimit-fixed", func(b *testing.B) *dynlimit.Limiter {
		return newLimiter(b, policy.Fixed{Rate: hugeRate, Burst: hugeBurst})
	}},
}

func newLimiter(b *testing.B, p policy.Policy) *dynlimit.Limiter {
	b.Helper()
	l, err := dynlimit.New(dynlimit.WithPolicy(p))
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func newXRate() *rate.Limiter { return rate.NewLimiter(rate.Limit(hugeRate), int(hugeBurst)) }

// BenchmarkAllow compares one x/time/rate Allow with one dynlimit Allow
// plus the Done that reports its outcome: the whole cycle a caller pays.
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
	for _, c := range impls {
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
				if !l.Allow() {
					b.Error("denied")
					return
				}
			}
		})
	})
	for _, c := range impls {
		b.Run("impl="+c.name, func(b *testing.B) {
			l := c.new(b)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p, ok := l.Allow()
					if !ok {
						b.Error("denied")
						return
					}
					p.Done(signal.Signal{})
				}
			})
		})
	}
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
	for _, c := range impls {
		b.Run("impl="+c.name, func(b *testing.B) {
			l := c.new(b)
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
}

func BenchmarkWaitParallel(b *testing.B) {
	ctx := context.Background()
	b.Run("impl=x-time-rate", func(b *testing.B) {
		l := newXRate()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := l.Wait(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	for _, c := range impls {
		b.Run("impl="+c.name, func(b *testing.B) {
			l := c.new(b)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p, err := l.Wait(ctx)
					if err != nil {
						b.Error(err)
						return
					}
					p.Done(signal.Signal{})
				}
			})
		})
	}
}
