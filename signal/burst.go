package signal

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/dynlimit/dynlimit/clock"
)

// maxBurstN bounds the history a Burst keeps: n comes from configuration,
// and a typo there should be an error, not a multi-gigabyte allocation.
const maxBurstN = 1 << 16

// Burst is a Classifier that reads a burst of Overloaded outcomes as a rate
// limit. Many upstreams shed load with 503s (or time out) rather than 429s;
// one 500 is a glitch that should leave the rate alone, but n of them in
// quick succession mean the caller is pushing too hard.
//
// When its base classifier says Overloaded and that is the n-th Overloaded
// outcome within the window, Burst returns the signal as Throttled (every
// other field kept) and forgets the outcomes it counted, so the next
// trigger needs n fresh ones. Any other signal passes through unchanged;
// successes in between do not reset the count, since a mix of 503s and 200s
// is still an upstream shedding load.
//
// A Burst is safe for concurrent use and does not allocate per call.
type Burst struct {
	base Classifier
	// http is a copy of base when base is an HTTP value, the usual case:
	// Classify calls it directly, without the interface call's copies of
	// the HTTP and of the Signal it returns.
	http   *HTTP
	window time.Duration
	clk    clock.Clock

	mu    sync.Mutex
	times []time.Time // ring of the last overloads, len n
	next  int         // slot the next overload goes in; the oldest when full
	count int         // overloads recorded since the last trigger, at most n
}

var _ Classifier = (*Burst)(nil)

// NewBurst returns a Burst that turns the n-th Overloaded signal from base
// within window into Throttled. n must be between 1 and 65536 and window
// positive. A nil base means HTTP{}, a nil clk clock.Real.
//
// The n overloads count as within the window when the first of them came
// less than window before the last.
func NewBurst(base Classifier, n int, window time.Duration, clk clock.Clock) (*Burst, error) {
	if n < 1 || n > maxBurstN {
		return nil, fmt.Errorf("signal: burst n = %d, want 1 to %d", n, maxBurstN)
	}
	if window <= 0 {
		return nil, fmt.Errorf("signal: burst window = %v, want > 0", window)
	}
	if base == nil {
		base = HTTP{}
	}
	if clk == nil {
		clk = clock.Real
	}
	b := &Burst{base: base, window: window, clk: clk, times: make([]time.Time, n)}
	if h, ok := base.(HTTP); ok {
		b.http = &h
	}
	return b, nil
}

// Classify asks the base classifier and promotes the signal to Throttled when
// it completes a burst.
func (b *Burst) Classify(resp *http.Response, err error) Signal {
	// The base runs outside the lock: it may be a Chain that reads a body.
	var s Signal
	if b.http != nil {
		b.http.classify(resp, err, &s)
	} else {
		s = b.base.Classify(resp, err)
	}
	if s.Kind != Overloaded {
		return s
	}
	now := b.clk.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.times)
	b.times[b.next] = now
	b.next = (b.next + 1) % n
	if b.count < n {
		b.count++
	}
	if b.count == n && now.Sub(b.times[b.next]) < b.window {
		b.count, b.next = 0, 0
		s.Kind, s.FromOverloads = Throttled, true
	}
	return s
}
