package simtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// Scenario is one simulated situation: an upstream, the clients that call
// it, for how long, with which seed. It loads from JSON.
type Scenario struct {
	// Name identifies the scenario in results.
	Name string `json:"name"`
	// Description says what the scenario shows.
	Description string `json:"description,omitempty"`
	// Seed drives every random draw; the same seed gives the same result.
	Seed uint64 `json:"seed"`
	// Duration is the simulated time to run.
	Duration Duration `json:"duration"`
	// Upstream is the API being called.
	Upstream Upstream `json:"upstream"`
	// Clients are who call it.
	Clients Clients `json:"clients"`
}

// Upstream models an API's hidden limit.
type Upstream struct {
	// Model is "token_bucket" (the default) or "fixed_window".
	Model string `json:"model,omitempty"`
	// Rate is the token bucket's hidden rate in requests per second.
	Rate float64 `json:"rate,omitempty"`
	// Burst is the token bucket's hidden capacity (default: Rate).
	Burst float64 `json:"burst,omitempty"`
	// Limit is the fixed window's number of requests per window.
	Limit int `json:"limit,omitempty"`
	// Window is the fixed window's length (default 1 min).
	Window Duration `json:"window,omitempty"`
	// Headers makes the upstream report its quota on every response:
	// X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset
	// (seconds until the window or the bucket frees).
	Headers bool `json:"headers,omitempty"`
	// RetryAfter is sent as Retry-After (whole seconds, rounded up) on a
	// 429; 0 sends none.
	RetryAfter Duration `json:"retry_after,omitempty"`
	// Profile changes the hidden limit over time.
	Profile []Step `json:"profile,omitempty"`
	// Outages are spans during which every request gets a 503.
	Outages []Span `json:"outages,omitempty"`
	// Throttles are spans during which every request gets a 429 (with
	// RetryAfter), whatever the limit says.
	Throttles []Span `json:"throttles,omitempty"`
	// Latency is how long the upstream takes to answer.
	Latency Latency `json:"latency,omitempty"`
	// Penalty, when set, is a penalty box: after a 429 the caller is
	// blocked for Penalty, and each request during the block is refused
	// and lengthens it by Penalty.
	Penalty Duration `json:"penalty,omitempty"`
}

// Step sets the hidden limit from At on: Rate for a token bucket, Limit
// for a fixed window.
type Step struct {
	At    Duration `json:"at"`
	Rate  float64  `json:"rate,omitempty"`
	Limit int      `json:"limit,omitempty"`
}

// Span is an interval of simulated time, [From, To).
type Span struct {
	From Duration `json:"from"`
	To   Duration `json:"to"`
}

// Latency is Min plus an exponentially distributed part of mean Mean-Min.
type Latency struct {
	Min  Duration `json:"min,omitempty"`
	Mean Duration `json:"mean,omitempty"`
}

// Clients describes the callers: Count independent clients, each with its
// own limiter, either closed-loop (Workers each sending as soon as allowed)
// or open-loop (Poisson Arrivals per second, queued up to Queue, served by
// Workers).
type Clients struct {
	// Count is the number of independent clients sharing the upstream
	// (default 1).
	Count int `json:"count,omitempty"`
	// Workers is the number of concurrent workers per client (default 8).
	Workers int `json:"workers,omitempty"`
	// Arrivals, when > 0, makes the clients open-loop: requests arrive at
	// this mean rate per second per client.
	Arrivals float64 `json:"arrivals,omitempty"`
	// Queue bounds an open-loop client's queue of waiting requests (default
	// 1000); an arrival that finds it full fails.
	Queue int `json:"queue,omitempty"`
	// MaxRetries is how many times a throttled or overloaded request is
	// retried before it fails for the caller: 0 means the default, 3; -1
	// means never.
	MaxRetries int `json:"max_retries,omitempty"`
}

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("1m30s") and also reads a number of seconds.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	if string(b) == "null" {
		return nil // as encoding/json does: null leaves the value alone
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) >= float64(math.MaxInt64)/float64(time.Second) {
		return fmt.Errorf("duration %s: want a string like \"1m30s\" or a number of seconds", b)
	}
	*d = Duration(f * float64(time.Second))
	return nil
}

// ParseScenario reads a scenario from JSON, strictly: unknown fields and
// trailing data are errors. The result is validated and has its defaults
// filled in.
func ParseScenario(data []byte) (Scenario, error) {
	var s Scenario
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Scenario{}, fmt.Errorf("simtest: scenario: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF { //nolint:errorlint // Token returns io.EOF itself at the end
		// Any token, or a syntax error, after the object is trailing data.
		return Scenario{}, fmt.Errorf("simtest: scenario: data after the JSON object")
	}
	s = s.withDefaults()
	if err := s.Validate(); err != nil {
		return Scenario{}, err
	}
	return s, nil
}

func (s Scenario) withDefaults() Scenario {
	u := &s.Upstream
	// An empty list is no list: written back, it is left out, and must
	// read back the same.
	if len(u.Profile) == 0 {
		u.Profile = nil
	}
	if len(u.Outages) == 0 {
		u.Outages = nil
	}
	if len(u.Throttles) == 0 {
		u.Throttles = nil
	}
	if u.Model == "" {
		u.Model = ModelTokenBucket
	}
	if u.Model == ModelTokenBucket && u.Burst == 0 {
		u.Burst = max(u.Rate, 1)
	}
	if u.Model == ModelFixedWindow && u.Window == 0 {
		u.Window = Duration(time.Minute)
	}
	c := &s.Clients
	if c.Count == 0 {
		c.Count = 1
	}
	if c.Workers == 0 {
		c.Workers = 8
	}
	if c.Queue == 0 {
		c.Queue = 1000
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 3
	}
	return s
}

// The upstream models.
const (
	ModelTokenBucket = "token_bucket"
	ModelFixedWindow = "fixed_window"
)

// Validate reports the first invalid field of s, naming it and its value.
func (s Scenario) Validate() error {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("simtest: scenario %q: %s = %v: %s", s.Name, field, v, why)
	}
	// The bounds below keep every simulated instant and count far from the
	// limits of int64 nanoseconds, whatever the file says.
	finitePos := func(f float64) bool { return f >= 1e-3 && f <= 1e6 }
	const day = Duration(24 * time.Hour)
	if s.Duration <= 0 || s.Duration.D() > 1000*time.Hour {
		return bad("duration", s.Duration.D(), "must be > 0 and at most 1000h")
	}
	u := s.Upstream
	switch u.Model {
	case ModelTokenBucket:
		if !finitePos(u.Rate) {
			return bad("upstream.rate", u.Rate, "must be within [0.001, 1e6]")
		}
		if !finitePos(u.Burst) || u.Burst < 1 {
			return bad("upstream.burst", u.Burst, "must be within [1, 1e6]")
		}
	case ModelFixedWindow:
		if u.Limit <= 0 || u.Limit > 1e9 {
			return bad("upstream.limit", u.Limit, "must be within [1, 1e9]")
		}
		if u.Window < Duration(time.Millisecond) || u.Window > day {
			return bad("upstream.window", u.Window.D(), "must be within [1ms, 24h]")
		}
	default:
		return bad("upstream.model", strconv.Quote(u.Model), `must be "token_bucket" or "fixed_window"`)
	}
	if u.RetryAfter < 0 || u.RetryAfter > day {
		return bad("upstream.retry_after", u.RetryAfter.D(), "must be within [0, 24h]")
	}
	if u.Penalty < 0 || u.Penalty > day {
		return bad("upstream.penalty", u.Penalty.D(), "must be within [0, 24h]")
	}
	if u.Latency.Min < 0 || u.Latency.Mean < u.Latency.Min || u.Latency.Mean > Duration(time.Hour) {
		return bad("upstream.latency", fmt.Sprintf("{min %v, mean %v}", u.Latency.Min.D(), u.Latency.Mean.D()), "want 0 <= min <= mean <= 1h")
	}
	for i, st := range u.Profile {
		f := fmt.Sprintf("upstream.profile[%d]", i)
		if st.At < 0 || (i > 0 && st.At <= u.Profile[i-1].At) {
			return bad(f+".at", st.At.D(), "steps must be at increasing instants >= 0")
		}
		if u.Model == ModelTokenBucket && !finitePos(st.Rate) {
			return bad(f+".rate", st.Rate, "must be within [0.001, 1e6]")
		}
		if u.Model == ModelFixedWindow && (st.Limit <= 0 || st.Limit > 1e9) {
			return bad(f+".limit", st.Limit, "must be within [1, 1e9]")
		}
	}
	for i, o := range u.Outages {
		if o.From < 0 || o.To <= o.From {
			return bad(fmt.Sprintf("upstream.outages[%d]", i), fmt.Sprintf("[%v, %v)", o.From.D(), o.To.D()), "want 0 <= from < to")
		}
		// The capacity lost to outages is added up span by span.
		if i > 0 && o.From < u.Outages[i-1].To {
			return bad(fmt.Sprintf("upstream.outages[%d]", i), fmt.Sprintf("[%v, %v)", o.From.D(), o.To.D()),
				"outages must be in order and must not overlap")
		}
	}
	for i, o := range u.Throttles {
		if o.From < 0 || o.To <= o.From {
			return bad(fmt.Sprintf("upstream.throttles[%d]", i), fmt.Sprintf("[%v, %v)", o.From.D(), o.To.D()), "want 0 <= from < to")
		}
	}
	c := s.Clients
	switch {
	case c.Count < 1 || c.Count > 1000:
		return bad("clients.count", c.Count, "must be within [1, 1000]")
	case c.Workers < 1 || c.Workers > 10000:
		return bad("clients.workers", c.Workers, "must be within [1, 10000]")
	case c.Arrivals != 0 && !finitePos(c.Arrivals):
		return bad("clients.arrivals", c.Arrivals, "must be 0 (closed loop) or within [0.001, 1e6]")
	case c.Queue < 1:
		return bad("clients.queue", c.Queue, "must be >= 1")
	case c.MaxRetries < -1 || c.MaxRetries > 100:
		return bad("clients.max_retries", c.MaxRetries, "must be within [-1, 100] (-1: never retry)")
	}
	return nil
}
