package breaker

import (
	"math"
	"testing"
	"time"
)

func TestGrow(t *testing.T) {
	const limit = 24 * time.Hour
	tests := []struct {
		d    time.Duration
		m    float64
		want time.Duration
	}{
		{10 * time.Second, 1, 10 * time.Second},
		{10 * time.Second, 1.5, 15 * time.Second},
		{10 * time.Hour, 3, limit},
		{limit, 2, limit},
		// Products beyond time.Duration's range are capped before they
		// are converted.
		{limit, 1e300, limit},
		{limit, math.MaxFloat64, limit},
		{math.MaxInt64, 2, limit},
	}
	for _, tt := range tests {
		if got := grow(tt.d, tt.m, limit); got != tt.want {
			t.Errorf("grow(%v, %g) = %v, want %v", tt.d, tt.m, got, tt.want)
		}
	}
}

func TestOpenCap(t *testing.T) {
	c := DefaultConfig()
	if got := c.openCap(); got != DefaultMaxOpenInterval {
		t.Errorf("default cap %v, want %v", got, DefaultMaxOpenInterval)
	}
	c.OpenInterval = 2 * time.Hour // longer than the default cap
	if got := c.openCap(); got != c.OpenInterval {
		t.Errorf("cap %v, want the open interval %v", got, c.OpenInterval)
	}
	c.MaxOpenInterval = 3 * time.Hour
	if got := c.openCap(); got != c.MaxOpenInterval {
		t.Errorf("cap %v, want %v", got, c.MaxOpenInterval)
	}
}
