package signal_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

func TestNewBurstErrors(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		window  time.Duration
		wantErr string // substring; "" for no error
	}{
		{"valid", 3, time.Second, ""},
		{"smallest", 1, time.Nanosecond, ""},
		{"largest n", 1 << 16, time.Minute, ""},
		{"n zero", 0, time.Second, "n = 0"},
		{"n negative", -2, time.Second, "n = -2"},
		{"n too large", 1<<16 + 1, time.Second, "n = 65537"},
		{"window zero", 3, 0, "window = 0s"},
		{"window negative", 3, -time.Second, "window = -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := signal.NewBurst(nil, tt.n, tt.window, nil)
			if tt.wantErr == "" {
				if err != nil || b == nil {
					t.Fatalf("NewBurst(%d, %v) = %v, %v; want a Burst", tt.n, tt.window, b, err)
				}
				return
			}
			if err == nil || b != nil {
				t.Fatalf("NewBurst(%d, %v) = %v, %v; want an error", tt.n, tt.window, b, err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "signal: ") || !strings.Contains(msg, tt.wantErr) {
				t.Errorf("error %q should start with \"signal: \" and name %q", msg, tt.wantErr)
			}
		})
	}
}

// script is a base classifier that returns the Kinds it is given, in turn,
// with a Status and a RetryAfter that Burst must keep.
type script struct {
	mu    sync.Mutex
	kinds []signal.Kind
}

func (s *script) Classify(*http.Response, error) signal.Signal {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.kinds[0]
	s.kinds = s.kinds[1:]
	return signal.Signal{Kind: k, Status: 503, RetryAfter: time.Second, Quota: rem(7)}
}

func TestBurst(t *testing.T) {
	const (
		S = signal.Success
		T = signal.Throttled
		O = signal.Overloaded
		F = signal.Failed
	)
	type step struct {
		at   time.Duration // since t0
		base signal.Kind
		want signal.Kind
	}
	tests := []struct {
		name  string
		n     int
		steps []step
	}{
		{"n-1 overloads do not throttle", 3, []step{{0, O, O}, {time.Second, O, O}}},
		{"n within the window throttle", 3, []step{{0, O, O}, {time.Second, O, O}, {2 * time.Second, O, T}}},
		{"all at one instant", 3, []step{{0, O, O}, {0, O, O}, {0, O, T}}},
		{"history cleared after a trigger", 3, []step{
			{0, O, O}, {1, O, O}, {2, O, T},
			{3, O, O}, {4, O, O}, {5, O, T},
			{6, O, O},
		}},
		{"spread beyond the window", 3, []step{{0, O, O}, {6 * time.Second, O, O}, {12 * time.Second, O, O}}},
		{"the window slides", 3, []step{
			{0, O, O}, {6 * time.Second, O, O}, {12 * time.Second, O, O}, // 0..12: too spread
			{13 * time.Second, O, T}, // 6, 12, 13: within 10s
		}},
		{"exactly a window apart is outside", 2, []step{{0, O, O}, {10 * time.Second, O, O}}},
		{"just inside the window", 2, []step{{0, O, O}, {10*time.Second - 1, O, T}}},
		{"other kinds pass through and do not count", 3, []step{
			{0, O, O}, {1, S, S}, {2, F, F}, {3, T, T}, {4, signal.Canceled, signal.Canceled}, {5, O, O}, {6, O, T},
		}},
		{"successes in between do not reset the count", 2, []step{{0, O, O}, {1, S, S}, {2, S, S}, {3, O, T}}},
		{"n of one: every overload throttles", 1, []step{{0, O, T}, {time.Hour, O, T}, {time.Hour, S, S}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(t0)
			base := &script{}
			for _, s := range tt.steps {
				base.kinds = append(base.kinds, s.base)
			}
			b, err := signal.NewBurst(base, tt.n, 10*time.Second, clk)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tt.steps {
				clk.Set(t0.Add(s.at))
				got := classify(b, http.StatusServiceUnavailable, nil)
				want := signal.Signal{Kind: s.want, Status: 503, RetryAfter: time.Second, Quota: rem(7)}
				// A throttle made of an overload says so; the rest pass
				// through as they came.
				want.FromOverloads = s.base == O && s.want == T
				if got != want {
					t.Errorf("step %d (t0+%v, base %v) = %+v, want %+v", i, s.at, s.base, got, want)
				}
			}
		})
	}
}

// A clock stepped back does not make a burst out of spread overloads, nor
// panic.
func TestBurstClockBack(t *testing.T) {
	clk := clock.NewFake(t0.Add(time.Hour))
	b, err := signal.NewBurst(signal.HTTP{}, 2, 10*time.Second, clk)
	if err != nil {
		t.Fatal(err)
	}
	if got := classify(b, http.StatusServiceUnavailable, nil).Kind; got != signal.Overloaded {
		t.Fatalf("first 503 = %v, want overloaded", got)
	}
	clk.Set(t0)
	// The second overload is "before" the first: an hour of spread, but
	// negative; it counts as within the window, which is the safe reading.
	if got := classify(b, http.StatusServiceUnavailable, nil).Kind; got != signal.Throttled {
		t.Errorf("second 503 after the clock stepped back = %v, want throttled", got)
	}
}

func TestBurstDefaults(t *testing.T) {
	b, err := signal.NewBurst(nil, 2, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	// nil base is HTTP{}: a 404 is Failed, a 429 Throttled, and two 503s
	// back to back (on the real clock, well within a minute) a burst.
	if got := classify(b, http.StatusNotFound, nil).Kind; got != signal.Failed {
		t.Errorf("404 = %v, want failed", got)
	}
	if got := classify(b, http.StatusTooManyRequests, nil).Kind; got != signal.Throttled {
		t.Errorf("429 = %v, want throttled", got)
	}
	if got := classify(b, http.StatusServiceUnavailable, nil).Kind; got != signal.Overloaded {
		t.Errorf("first 503 = %v, want overloaded", got)
	}
	if got := classify(b, http.StatusServiceUnavailable, nil); got.Kind != signal.Throttled || got.Status != 503 {
		t.Errorf("second 503 = %+v, want throttled with status 503", got)
	}
}

// Under concurrent use every n-th overload at one instant triggers, no more
// and no less: the history is updated atomically.
func TestBurstConcurrent(t *testing.T) {
	const (
		n          = 4
		goroutines = 8
		calls      = 1000
	)
	overloaded := signal.ClassifierFunc(func(*http.Response, error) signal.Signal {
		return signal.Signal{Kind: signal.Overloaded}
	})
	b, err := signal.NewBurst(overloaded, n, time.Second, clock.NewFake(t0))
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		throttled int
	)
	for range goroutines {
		wg.Go(func() {
			local := 0
			for range calls {
				if b.Classify(nil, nil).Kind == signal.Throttled {
					local++
				}
			}
			mu.Lock()
			throttled += local
			mu.Unlock()
		})
	}
	wg.Wait()
	if want := goroutines * calls / n; throttled != want {
		t.Errorf("%d throttled out of %d overloads with n = %d, want %d", throttled, goroutines*calls, n, want)
	}
}

func TestBurstAllocs(t *testing.T) {
	overloaded := signal.ClassifierFunc(func(*http.Response, error) signal.Signal {
		return signal.Signal{Kind: signal.Overloaded}
	})
	b, err := signal.NewBurst(overloaded, 3, time.Second, clock.NewFake(t0))
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { b.Classify(nil, nil) }); n != 0 {
		t.Errorf("%v allocations per Classify, want 0", n)
	}
}

func BenchmarkBurst(b *testing.B) {
	burst, err := signal.NewBurst(nil, 5, time.Second, nil)
	if err != nil {
		b.Fatal(err)
	}
	resp := &http.Response{StatusCode: http.StatusServiceUnavailable}
	b.Run("Serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = burst.Classify(resp, nil)
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var s signal.Signal
			for pb.Next() {
				s = burst.Classify(resp, nil)
			}
			_ = s
		})
	})
}
