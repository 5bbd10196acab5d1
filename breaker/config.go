package breaker

import (
	"math"
	"strconv"
	"time"
)

// DefaultMaxOpenInterval caps the grown open interval when
// Config.MaxOpenInterval is 0: an upstream down for hours is still probed
// once an hour.
const DefaultMaxOpenInterval = time.Hour

// maxInterval bounds OpenInterval and MaxOpenInterval. A circuit that stays
// open for more than a day is a unit mistake more likely than a wish, and
// the bound keeps the arithmetic on instants far from overflow.
const maxInterval = 24 * time.Hour

// maxProbes bounds HalfOpenProbes: the breaker keeps a slot per probe.
const maxProbes = 1000

// Config holds a breaker's parameters.
//
// The zero Config is not valid: start from [DefaultConfig] and change what
// you need. [New] validates the Config as given and fills in nothing.
//
// The name of each field in an override file is given in its documentation.
// There, durations are numbers of seconds, which is why Config carries no
// JSON tags: the file's loader converts.
type Config struct {
	// FailureThreshold is the number of consecutive failures that opens a
	// closed circuit, at least 1 [failure_threshold].
	FailureThreshold int
	// OpenInterval is how long the circuit stays open after its first trip
	// before it lets a probe through; > 0 and at most 24h
	// [open_interval, seconds].
	OpenInterval time.Duration
	// HalfOpenProbes is the number of calls let through at once while
	// half-open; from 1 to 1000 [half_open_probes].
	HalfOpenProbes int
	// Multiplier grows the open interval on each reopening from HalfOpen:
	// the n-th consecutive trip stays open OpenInterval × Multiplier^(n-1).
	// A finite number >= 1; 1 means no growth [open_interval_multiplier].
	Multiplier float64
	// MaxOpenInterval caps the grown interval; 0 means
	// [DefaultMaxOpenInterval]. Otherwise from OpenInterval to 24h. The
	// interval is never shorter than OpenInterval, whatever the cap
	// [max_open_interval, seconds].
	MaxOpenInterval time.Duration
	// CountThrottles makes Throttled outcomes count as failures
	// [count_throttles].
	CountThrottles bool
}

// DefaultConfig returns the default parameters: open after 5 consecutive
// failures, for 30 seconds, then let 1 probe through; no growth of the
// interval; throttles do not count.
func DefaultConfig() Config {
	return Config{
		FailureThreshold: 5,
		OpenInterval:     30 * time.Second,
		HalfOpenProbes:   1,
		Multiplier:       1,
	}
}

// Validate reports the first invalid field as a [*ConfigError].
func (c Config) Validate() error {
	if c.FailureThreshold < 1 {
		return &ConfigError{Field: "failure_threshold", Value: strconv.Itoa(c.FailureThreshold), Reason: "must be >= 1"}
	}
	if c.OpenInterval <= 0 || c.OpenInterval > maxInterval {
		return &ConfigError{Field: "open_interval", Value: c.OpenInterval.String(), Reason: "must be > 0 and at most 24h"}
	}
	if c.HalfOpenProbes < 1 || c.HalfOpenProbes > maxProbes {
		return &ConfigError{Field: "half_open_probes", Value: strconv.Itoa(c.HalfOpenProbes), Reason: "must be from 1 to 1000"}
	}
	if math.IsNaN(c.Multiplier) || math.IsInf(c.Multiplier, 0) || c.Multiplier < 1 {
		return &ConfigError{Field: "open_interval_multiplier", Value: strconv.FormatFloat(c.Multiplier, 'g', -1, 64),
			Reason: "must be a finite number >= 1"}
	}
	if c.MaxOpenInterval != 0 && (c.MaxOpenInterval < c.OpenInterval || c.MaxOpenInterval > maxInterval) {
		return &ConfigError{Field: "max_open_interval", Value: c.MaxOpenInterval.String(),
			Reason: "must be 0 (default " + DefaultMaxOpenInterval.String() + "), or from open_interval (" +
				c.OpenInterval.String() + ") to 24h"}
	}
	return nil
}

// openCap returns the longest open interval, for a valid c.
func (c Config) openCap() time.Duration {
	limit := c.MaxOpenInterval
	if limit == 0 {
		limit = DefaultMaxOpenInterval
	}
	return max(limit, c.OpenInterval)
}

// grow returns d × m, at most limit. The product is taken in floating point
// and compared before it is converted, so that it cannot overflow.
func grow(d time.Duration, m float64, limit time.Duration) time.Duration {
	f := float64(d) * m
	if !(f < float64(limit)) {
		return limit
	}
	return time.Duration(f)
}
