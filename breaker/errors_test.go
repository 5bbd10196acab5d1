package breaker_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/breaker"
	"github.com/dynlimit/dynlimit/clock"
)

func TestCircuitOpenError(t *testing.T) {
	b, clk, _ := newBreaker(t, config(1, 90*s, 1, 1, 0, false))
	tk, _ := b.Allow()
	tk.Done(ovl)

	_, err := b.Allow()
	if !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("errors.Is(%v, ErrOpen) = false", err)
	}
	var oe *breaker.CircuitOpenError
	if !errors.As(fmt.Errorf("calling api: %w", err), &oe) {
		t.Fatalf("errors.As(%v) found no *CircuitOpenError", err)
	}
	retryAt := t0.Add(90 * s)
	if oe.Name != "api" || oe.State != open || !oe.RetryAt.Equal(retryAt) {
		t.Errorf("error = %+v, want api, open, RetryAt t0+90s", *oe)
	}
	if want := `breaker: circuit "api" open until 2026-03-02T09:01:30Z`; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}

	clk.Advance(90 * s)
	if _, err := b.Allow(); err != nil {
		t.Fatalf("probe refused: %v", err)
	}
	_, err = b.Allow()
	if !errors.As(err, &oe) || !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("half-open refusal %v is no *CircuitOpenError matching ErrOpen", err)
	}
	if oe.State != halfOpen || !oe.RetryAt.IsZero() {
		t.Errorf("error = %+v, want half_open with a zero RetryAt", *oe)
	}
	if want := `breaker: circuit "api" half_open with all its probes in flight`; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestCircuitOpenErrorUnnamed(t *testing.T) {
	err := &breaker.CircuitOpenError{State: open, RetryAt: t0.Add(1500 * time.Millisecond)}
	if want := "breaker: circuit open until 2026-03-02T09:00:01.5Z"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	if errors.Is(err, errors.New("breaker: circuit open")) {
		t.Error("matches an error other than ErrOpen")
	}
}

func TestValidate(t *testing.T) {
	if err := breaker.DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	with := func(f func(*breaker.Config)) breaker.Config {
		c := breaker.DefaultConfig()
		f(&c)
		return c
	}
	tests := []struct {
		name  string
		cfg   breaker.Config
		field string
		value string
	}{
		{"zero config", breaker.Config{}, "failure_threshold", "0"},
		{"zero threshold", with(func(c *breaker.Config) { c.FailureThreshold = 0 }), "failure_threshold", "0"},
		{"negative threshold", with(func(c *breaker.Config) { c.FailureThreshold = -3 }), "failure_threshold", "-3"},
		{"zero interval", with(func(c *breaker.Config) { c.OpenInterval = 0 }), "open_interval", "0s"},
		{"negative interval", with(func(c *breaker.Config) { c.OpenInterval = -time.Second }), "open_interval", "-1s"},
		{"interval over a day", with(func(c *breaker.Config) { c.OpenInterval = 25 * time.Hour }), "open_interval", "25h0m0s"},
		{"zero probes", with(func(c *breaker.Config) { c.HalfOpenProbes = 0 }), "half_open_probes", "0"},
		{"negative probes", with(func(c *breaker.Config) { c.HalfOpenProbes = -1 }), "half_open_probes", "-1"},
		{"too many probes", with(func(c *breaker.Config) { c.HalfOpenProbes = 1001 }), "half_open_probes", "1001"},
		{"multiplier below 1", with(func(c *breaker.Config) { c.Multiplier = 0.5 }), "open_interval_multiplier", "0.5"},
		{"zero multiplier", with(func(c *breaker.Config) { c.Multiplier = 0 }), "open_interval_multiplier", "0"},
		{"NaN multiplier", with(func(c *breaker.Config) { c.Multiplier = math.NaN() }), "open_interval_multiplier", "NaN"},
		{"infinite multiplier", with(func(c *breaker.Config) { c.Multiplier = math.Inf(1) }), "open_interval_multiplier", "+Inf"},
		{"negative cap", with(func(c *breaker.Config) { c.MaxOpenInterval = -time.Second }), "max_open_interval", "-1s"},
		{"cap below interval", with(func(c *breaker.Config) { c.MaxOpenInterval = 10 * time.Second }), "max_open_interval", "10s"},
		{"cap over a day", with(func(c *breaker.Config) { c.MaxOpenInterval = 48 * time.Hour }), "max_open_interval", "48h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, err := range []error{tt.cfg.Validate(), newErr(tt.cfg)} {
				var ce *breaker.ConfigError
				if !errors.As(err, &ce) {
					t.Fatalf("error = %v (%T), want a *ConfigError", err, err)
				}
				if ce.Field != tt.field || ce.Value != tt.value || ce.Reason == "" {
					t.Errorf("error = %+v, want field %s, value %s and a reason", *ce, tt.field, tt.value)
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, "breaker: ") || !strings.Contains(msg, tt.field+" = "+tt.value) {
					t.Errorf("Error() = %q, want it to name %s = %s", msg, tt.field, tt.value)
				}
			}
		})
	}
}

func newErr(cfg breaker.Config) error {
	b, err := breaker.New(cfg)
	if b != nil {
		return errors.New("New returned a breaker")
	}
	return err
}

func TestValidEdges(t *testing.T) {
	for _, cfg := range []breaker.Config{
		config(1, time.Nanosecond, 1, 1, 0, false),
		config(1, 24*time.Hour, 1000, 1e300, 24*time.Hour, true),
		config(1, 30*s, 1, 2, 30*s, false),
	} {
		if err := cfg.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", cfg, err)
		}
	}
}

func TestOptions(t *testing.T) {
	_, err := breaker.New(breaker.DefaultConfig(), breaker.WithClock(nil))
	var ce *breaker.ConfigError
	if !errors.As(err, &ce) || ce.Field != "WithClock" || ce.Value != "nil" {
		t.Errorf("WithClock(nil): error %v, want a *ConfigError naming WithClock", err)
	}
	b, err := breaker.New(breaker.DefaultConfig(), nil, breaker.WithOnStateChange(nil), breaker.WithClock(clock.NewFake(t0)))
	if err != nil {
		t.Fatalf("nil option: %v", err)
	}
	for range 5 {
		tk, _ := b.Allow()
		tk.Done(ovl) // opens with no callback to call
	}
	if b.State() != open {
		t.Errorf("State = %v, want open", b.State())
	}
	// The default clock is the real one.
	b, err = breaker.New(breaker.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Allow(); err != nil {
		t.Errorf("Allow on a new breaker: %v", err)
	}
}
