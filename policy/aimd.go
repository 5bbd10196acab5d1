package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/dynlimit/dynlimit/internal/fmath"
	"github.com/dynlimit/dynlimit/internal/suggest"
	"github.com/dynlimit/dynlimit/internal/textcut"
	"github.com/dynlimit/dynlimit/signal"
)

// AIMD is additive increase, multiplicative decrease, with the growth of
// TCP: each throttle multiplies the rate by DecreaseFactor; between
// throttles the rate rises with the time the limiter spends in use, within
// [MinRate, MaxRate]:
//
//   - Slow start. Until the first throttle that is about the rate, and
//     again once the rate is well past the limit it remembers (Restart),
//     each success adds ln 2 / SlowStart per token of its permit, as TCP's
//     window grows by one segment per acknowledgement: a limiter whose
//     successes come back at its rate doubles it every SlowStart seconds,
//     so one at 5 requests/s and one at 500 find a doubled limit in the
//     same few seconds, and one used at half its rate grows half as fast.
//     Slow start never takes the rate above four times the successes of
//     the last SlowStart seconds or so (State.Measured, smoothed over
//     SlowStart while no ceiling is known): a limiter that uses 50
//     requests/s of an upstream that allows 50 stops near 200 instead of
//     climbing to MaxRate, so a surge of demand does not go out at
//     MaxRate before the first throttle.
//   - The climb back. A throttle sets the ceiling (State.Ceiling) at the
//     limit it found, and the rate, lowered to DecreaseFactor × ceiling,
//     climbs back to it along a concave curve in Recovery seconds: fast
//     at first, careful near the old limit. This is CUBIC's curve (RFC 9438).
//   - The probe. Past Recovery the curve turns convex: ceiling × (1 +
//     ((t − Recovery) / Probe)³), t being the time in use since the
//     throttle's pause ended. Right above the old limit the rate creeps;
//     the longer no throttle comes, the faster it rises, so a limit that
//     moved is found while one that did not costs a throttle every few tens
//     of seconds. The probe never takes the rate above twice the successes
//     of the last seconds (State.Measured), as the AWS SDK's adaptive mode
//     bounds its rate by twice its measured send rate: a limiter that uses a
//     fraction of its rate does not probe on toward MaxRate. Once the rate
//     is Restart × ceiling above it, the ceiling is forgotten and slow
//     start resumes.
//
// IncreaseFactor adds a fixed step per success on top of all that (plain
// AIMD when SlowStart and Recovery are 0).
//
// Time in use: a wait between outcomes longer than the bucket takes to fill
// (Burst / Rate) is idle time, which the curve does not count. An idle
// limiter does not grow.
//
// Where the ceiling lies: the rate at a throttle overestimates the limit
// when the upstream has a burst of its own, which lets a rate above its
// limit through until the burst is spent. After the first congestion
// event, the ceiling is the rate of successes the limiter actually
// achieved (State.Measured, smoothed over 10 s) when that lies between the
// decreased rate and the rate. A throttle that is not about the rate
// teaches no ceiling: one that stands for a burst of overloads
// (Signal.FromOverloads), and one before any success grew the rate — every
// request the limiter ever sent was refused, whatever the rate.
//
// On a throttle the limiter also pauses: for the signal's Retry-After when
// the upstream sent one, otherwise for CooldownMultiplier intervals at the
// reduced rate (CooldownMultiplier / rate seconds). The bucket is drained at
// the same time, so the limiter resumes at the new rate rather than with a
// burst. The climb back starts when the pause ends.
//
// It reacts once per congestion event: a throttle on a permit issued before
// the last decrease (see the package doc on epochs) does not decrease again,
// though a longer Retry-After it carries still extends the cooldown. A
// success increases the rate only if its permit was issued in the current
// epoch and the cooldown is over, so the echoes of the old rate do not undo
// a decrease and an idle limiter never grows. Overloaded outcomes do not move
// the rate (a burst of them is turned into a throttle by a classifier), but a
// Retry-After on one is honoured; Failed and Canceled outcomes change nothing.
//
// The zero AIMD is not valid: start from [DefaultAIMD] and change what you
// need. Field names in JSON are those of the original configuration format,
// and the fields it did not have.
type AIMD struct {
	// Rate is the initial rate in requests (tokens) per second.
	Rate float64 `json:"rate_limit_per_sec"`
	// Burst is the bucket's capacity: how many requests may go at once after
	// a quiet spell. At least 1.
	Burst float64 `json:"burst_size"`
	// IncreaseFactor is added to the rate, in requests per second, on each
	// success, on top of the growth of SlowStart, Recovery and Probe. Zero
	// leaves the growth to them.
	IncreaseFactor float64 `json:"increase_factor"`
	// DecreaseFactor multiplies the rate on a throttle; in (0, 1).
	DecreaseFactor float64 `json:"decrease_factor"`
	// MinRate is the floor of the rate, > 0.
	MinRate float64 `json:"min_rate"`
	// MaxRate is the ceiling of the rate, >= MinRate.
	MaxRate float64 `json:"max_rate"`
	// CooldownMultiplier sets the pause after a throttle that came without a
	// Retry-After: CooldownMultiplier / rate seconds, rate being the reduced
	// one. Zero means no pause.
	CooldownMultiplier float64 `json:"cooldown_multiplier"`

	// SlowStart is the time, in seconds of use, in which the rate doubles
	// while no ceiling is known; 0 turns slow start off.
	SlowStart float64 `json:"slow_start_sec"`
	// Recovery is the time, in seconds of use after a throttle's pause, in
	// which the rate climbs back from DecreaseFactor × ceiling to the
	// ceiling; 0 turns the curve (and the probe) off.
	Recovery float64 `json:"recovery_sec"`
	// Probe is the time, in seconds of use past Recovery, after which the
	// convex probe has doubled the ceiling; 0 holds the rate at the
	// ceiling, leaving any probe to IncreaseFactor.
	Probe float64 `json:"probe_sec"`
	// Restart is how far above the ceiling, as a fraction of it, the rate
	// must get without a throttle for the ceiling to be forgotten and slow
	// start to resume; 0 never forgets it.
	Restart float64 `json:"restart_above"`
}

// DefaultAIMD returns the default parameters: start at 5 requests/s with a
// burst of 5, double every 0.5 s of use until the first throttle, multiply
// by 0.8 on a throttle, climb back to the limit in 3 s, probe past it on a
// curve that doubles it after 45 s more, search again from 50 % above it,
// stay within [0.1, 1000] requests/s, and pause 1.5 intervals of the new rate
// after a throttle that came without a Retry-After.
//
// These values come from the simulator's scenario suite (docs/design.md and
// docs/benchmarks.md, which shows the trade-off Probe sets: a shorter probe
// finds a raised limit sooner and costs more throttles on a steady one).
func DefaultAIMD() AIMD {
	return AIMD{
		Rate:               5,
		Burst:              5,
		IncreaseFactor:     0,
		DecreaseFactor:     0.8,
		MinRate:            0.1,
		MaxRate:            1000,
		CooldownMultiplier: 1.5,
		SlowStart:          0.5,
		Recovery:           3,
		Probe:              45,
		Restart:            0.5,
	}
}

var _ Policy = AIMD{}

// Validate reports the first invalid parameter: non-finite or negative
// values, zero where it matters, MinRate > MaxRate, an initial rate outside
// [MinRate, MaxRate], a DecreaseFactor outside (0, 1), a Burst below 1, or
// a time above a day.
func (a AIMD) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"rate_limit_per_sec", a.Rate},
		{"burst_size", a.Burst},
		{"min_rate", a.MinRate},
		{"max_rate", a.MaxRate},
	} {
		if err := positive(f.name, f.v); err != nil {
			return err
		}
	}
	if a.Burst < 1 {
		return &Error{Field: "burst_size", Value: a.Burst, Reason: "must be >= 1"}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"increase_factor", a.IncreaseFactor},
		{"cooldown_multiplier", a.CooldownMultiplier},
		{"restart_above", a.Restart},
	} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			return &Error{Field: f.name, Value: f.v, Reason: "must be a finite number >= 0"}
		}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"slow_start_sec", a.SlowStart},
		{"recovery_sec", a.Recovery},
		{"probe_sec", a.Probe},
	} {
		if math.IsNaN(f.v) || f.v < 0 || f.v > maxPhase {
			return &Error{Field: f.name, Value: f.v, Reason: fmt.Sprintf("must be within [0, %v] seconds", maxPhase)}
		}
	}
	if math.IsNaN(a.DecreaseFactor) || a.DecreaseFactor <= 0 || a.DecreaseFactor >= 1 {
		return &Error{Field: "decrease_factor", Value: a.DecreaseFactor, Reason: "must be in (0, 1)"}
	}
	if a.MinRate > a.MaxRate {
		return &Error{Field: "min_rate", Value: a.MinRate, Reason: fmt.Sprintf("must be <= max_rate (%v)", a.MaxRate)}
	}
	if a.Rate < a.MinRate || a.Rate > a.MaxRate {
		return &Error{Field: "rate_limit_per_sec", Value: a.Rate,
			Reason: fmt.Sprintf("must be within [min_rate, max_rate] = [%v, %v]", a.MinRate, a.MaxRate)}
	}
	return nil
}

// maxPhase bounds SlowStart, Recovery and Probe, in seconds: a day.
const maxPhase = 86400

// RateBounds returns MinRate and MaxRate: a bucket shared by several
// processes, which adds up the increases each one computed, keeps the sum
// within them.
func (a AIMD) RateBounds() (minRate, maxRate float64) { return a.MinRate, a.MaxRate }

// Initial returns the starting state: Rate and Burst, no cooldown, epoch 0,
// no ceiling (slow start).
func (a AIMD) Initial() State {
	return State{Rate: a.Rate, Burst: a.Burst}
}

// Next applies one outcome; see the type's documentation.
func (a AIMD) Next(s State, o Outcome, now time.Time) State {
	switch o.Signal.Kind {
	case signal.Success:
		n := o.N()
		per := o.Tokens
		if !(per > 0) {
			per = 1 // an outcome that does not say stands for one token
		}
		measure(&s, float64(n)*per, now, a.window(s))
		if !o.Stale(s) && !now.Before(s.CooldownUntil) {
			a.grow(&s, n, per, now)
		}
	case signal.Throttled:
		measure(&s, 0, now, a.window(s))
		a.throttle(&s, &o, now)
	case signal.Overloaded:
		measure(&s, 0, now, a.window(s))
		extendCooldownOf(&s, now, o.Signal.RetryAfter)
	}
	return s
}

// measureWindow is the time constant, in seconds, over which
// State.Measured smooths the successes once a ceiling is known: long enough
// to average over the cycles of probe and throttle, short enough to follow
// a limit that moves.
const measureWindow = 10

// window returns the time constant of State.Measured in s: measureWindow,
// or SlowStart during slow start, where the rate changes too fast for a
// 10 s average to say what the limiter uses. The value carries over when
// the phase changes; only how fast it follows the successes does.
func (a AIMD) window(s State) float64 {
	if s.Ceiling <= 0 && a.SlowStart > 0 {
		return a.slowWindow()
	}
	return measureWindow
}

// slowWindow is the time constant of State.Measured during slow start:
// SlowStart, or a millisecond if it is shorter, which keeps Measured (a
// count divided by it) finite.
func (a AIMD) slowWindow() float64 { return max(a.SlowStart, 1e-3) }

// slowStartUse is how far above the successes of the last moments
// (State.Measured over slowWindow) slow start may take the rate. A limiter
// in full use sits at about 2.4 times its Measured while it doubles every
// SlowStart (the average lags the growth), and up to 3.4 times when a
// round trip of 1 s delays its successes; 4 leaves that growth alone and
// stops a limiter that uses a fraction of its rate. The simulator's
// scenarios play the same with 4 as with no bound, except S6's peak rate
// (228 req/s against 1000, with 50 used).
const slowStartUse = 4

// measure counts the tokens of successes reported at now in s.Measured,
// and moves s.Since later by the idle part of the time since the last
// outcome, so that the curve counts only time in use. The time since the
// last outcome is idle beyond the time the bucket takes to fill (burst /
// rate): waits shorter than that are those of a limiter in use.
//
// Several outcomes at one instant change s as one outcome of their sum
// does: the decay and the idle time depend on the instant alone.
func measure(s *State, tokens float64, now time.Time, window float64) {
	if !s.Updated.IsZero() && now.After(s.Updated) {
		gap := now.Sub(s.Updated).Seconds()
		s.Measured *= math.Exp(-gap / window)
		if !s.Since.IsZero() {
			// The time before Since (a pause) is not in the phase.
			from := later(s.Updated, s.Since)
			if idle := now.Sub(from).Seconds() - s.Burst/s.Rate; idle > 0 && now.After(from) {
				s.Since = s.Since.Add(Seconds(idle))
			}
		}
	}
	s.Measured += tokens / window
	if now.After(s.Updated) {
		s.Updated = now
	}
}

// grow applies n successes of per tokens each at now; measure has counted
// them in s.Measured already.
//
// A batch ends as n successes one by one would: the probe's bound grows
// with each success's share of Measured, and once one of them takes the
// rate past Restart, the ones after it are slow start's.
func (a AIMD) grow(s *State, n uint64, per float64, now time.Time) {
	rate := s.Rate
	k := float64(n)
	steps := k // the successes IncreaseFactor is added for below
	if s.Ceiling > 0 && a.Recovery > 0 {
		curve := a.curve(s.Ceiling, now.Sub(s.Since).Seconds())
		// Past the ceiling, the probe is bounded by what the limiter
		// uses: no more than twice the successes of the last seconds, as
		// the AWS SDK's adaptive mode bounds its rate by its measured
		// send rate. A limiter that uses a fraction of its rate does not
		// probe on, to meet a surge of demand far above the limit.
		before := s.Measured - k*per/measureWindow // Measured before the batch
		bound := func(j float64) float64 {
			return max(rate, min(curve, max(s.Ceiling, useBound*(before+j*per/measureWindow))))
		}
		j := k // the success that restarts slow start, if one does
		if line := s.Ceiling * (1 + a.Restart); a.Restart > 0 && curve >= line {
			// The j-th success's bound reaches the line.
			need := (line/useBound - before) * measureWindow / per
			j = min(max(math.Ceil(need), 1), k+1)
			for j > 1 && bound(j-1) >= line { // float rounding
				j--
			}
			for j <= k && bound(j) < line {
				j++
			}
		}
		if j <= k && a.Restart > 0 && bound(j) >= s.Ceiling*(1+a.Restart) {
			// Well past the old ceiling without a throttle: the limit
			// moved. Forget it and search again; the successes after
			// the j-th are slow start's.
			rate = bound(j)
			s.Ceiling = 0
			if a.SlowStart > 0 && j < k {
				// One by one, the successes after the j-th would be
				// measured over SlowStart, slow start's window.
				base := before + j*per/measureWindow
				s.Measured = base + (k-j)*per/a.slowWindow()
				rate = a.slowStart(rate+j*a.IncreaseFactor, base, k-j, per)
				steps = 0
			}
		} else {
			rate = bound(k)
		}
	} else if s.Ceiling <= 0 && a.SlowStart > 0 {
		rate = a.slowStart(rate, s.Measured-k*per/a.slowWindow(), k, per)
		steps = 0
	}
	if s.Since.IsZero() {
		// A success grew the rate: throttles from now on are about it.
		s.Since = now
	}
	rate += a.IncreaseFactor * steps
	s.Rate = fmath.Min(rate, a.MaxRate)
}

// slowStart returns rate after k slow-start successes of per tokens each,
// at one instant, IncreaseFactor included; base is State.Measured before
// them. Each token of success adds ln 2 / SlowStart, so that a limiter
// whose successes come back at its rate doubles it every SlowStart
// seconds, as TCP's window grows by one segment per acknowledgement and so
// doubles every round trip; but no success takes the rate past
// slowStartUse times Measured as it counts that success.
//
// It gives what k successes one by one give. The bound rises by
// slowStartUse × per / SlowStart with each success, more than a step adds
// (ln 2 × per / SlowStart) unless IncreaseFactor is large: once a success
// takes a full step under it, every later one does too, and the rest is
// one multiplication. Until then, which is a few successes, it goes one by
// one.
func (a AIMD) slowStart(rate, base, k, per float64) float64 {
	step := per * math.Ln2 / a.SlowStart
	w := a.slowWindow()
	rise := slowStartUse * per / w
	for j := 1.0; j <= k; j++ {
		room := slowStartUse*(base+j*per/w) - rate
		if room >= step && rise >= step+a.IncreaseFactor {
			return fmath.Min(rate+(k-j+1)*(step+a.IncreaseFactor), a.MaxRate)
		}
		rate = fmath.Min(rate+min(step, max(room, 0))+a.IncreaseFactor, a.MaxRate)
	}
	return rate
}

// useBound is how far above the successes of the last seconds
// (State.Measured) the curve may take the rate.
const useBound = 2

// curve returns the rate t seconds of use after the pause of a throttle
// at ceiling w: CUBIC's concave climb from DecreaseFactor × w back to w in
// Recovery seconds, then its convex probe past w, which doubles it after
// Probe seconds more.
func (a AIMD) curve(w, t float64) float64 {
	if t < a.Recovery {
		x := 1 - t/a.Recovery
		return w - w*(1-a.DecreaseFactor)*x*x*x
	}
	if a.Probe <= 0 {
		return w
	}
	x := (t - a.Recovery) / a.Probe
	return w * (1 + x*x*x)
}

// throttle applies a throttle to *s.
func (a AIMD) throttle(s *State, o *Outcome, now time.Time) {
	// Only the first of a batch of throttles can be fresh: it opens a
	// new epoch, which makes the rest stale.
	if o.Stale(*s) {
		extendCooldownOf(s, now, o.Signal.RetryAfter)
		return
	}
	about := !o.Signal.FromOverloads && (s.Ceiling > 0 || !s.Since.IsZero())
	if about {
		w := s.Rate
		if s.Ceiling > 0 {
			w = min(s.Rate, max(s.Measured, s.Rate*a.DecreaseFactor))
		} else {
			// The end of a slow start: the smoothed successes lag far
			// behind a rate that doubled every few moments. They start
			// again from the rate that was throttled, from above.
			s.Measured = max(s.Measured, w)
		}
		s.Ceiling = w
	}
	s.Rate = math.Max(s.Rate*a.DecreaseFactor, a.MinRate)
	s.Epoch++
	pause := o.Signal.RetryAfter
	if pause <= 0 && !o.Signal.HasRetryAfter {
		pause = Seconds(a.CooldownMultiplier / s.Rate)
	}
	s.CooldownUntil = later(s.CooldownUntil, now.Add(pause))
	if s.Ceiling > 0 {
		// The climb back starts when the pause ends.
		s.Since = later(now, s.CooldownUntil)
	}
}

// ParseAIMD decodes a JSON object of AIMD parameters over the defaults of
// [DefaultAIMD] and validates the result. Unknown fields, wrong types and
// trailing data are errors that name the problem.
func ParseAIMD(data []byte) (AIMD, error) {
	a := DefaultAIMD()
	if err := decodeStrict(data, &a, "AIMD"); err != nil {
		return AIMD{}, err
	}
	if err := a.Validate(); err != nil {
		return AIMD{}, err
	}
	return a, nil
}

// decodeStrict decodes one JSON object of what's parameters into v, a
// pointer to a struct of float64 fields, over the values v holds, as the
// override loader of package integrations reads an entry: an empty input,
// null or anything but an object, an unknown field (with the name it most
// likely meant), a field named twice, a value that is not a number and
// data after the object are each a [*Error] naming the field and the value
// as written, all of them joined.
func decodeStrict(data []byte, v any, what string) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return &Error{Reason: what + " parameters: empty input; want a JSON object such as {\"decrease_factor\": 0.7}"}
	}
	fields := jsonFields(v)
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return &Error{Reason: what + " parameters: " + err.Error()}
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return &Error{Reason: fmt.Sprintf("%s parameters: want a JSON object, got %s", what, jsonKind(tok))}
	}
	var problems []error
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errors.Join(append(problems, &Error{Reason: what + " parameters: " + err.Error()})...)
		}
		key, _ := tok.(string) // an object's keys are strings
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil { // the input ends, or is not JSON, in the value
			return errors.Join(append(problems, &Error{Reason: fmt.Sprintf("%s parameters: the value of %q: %v", what, cutText64(key), err)})...)
		}
		text := cutText64(string(raw))
		switch {
		case seen[key]:
			problems = append(problems, &Error{Field: cutText64(key), Text: text, Reason: "named twice; a JSON decoder would silently keep only one"})
		case !slices.Contains(fields, key):
			reason := "unknown field; the fields are listed in docs/configuration.md"
			if best := suggest.Closest(key, fields, 3); best != "" {
				reason = fmt.Sprintf("unknown field; did you mean %q?", best)
			}
			problems = append(problems, &Error{Field: cutText64(key), Text: text, Reason: reason})
		default:
			var f float64
			if bytes.Equal(raw, []byte("null")) || json.Unmarshal(raw, &f) != nil {
				problems = append(problems, &Error{Field: key, Text: text, Reason: "must be a number"})
			}
		}
		seen[key] = true
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return errors.Join(append(problems, &Error{Reason: what + " parameters: " + err.Error()})...)
	}
	// Decoder.More stops at a stray '}' or ']' as if a container ended, so it
	// would accept `{...}}`; only io.EOF proves nothing follows the object.
	if _, err := dec.Token(); err != io.EOF {
		problems = append(problems, &Error{Reason: what + " parameters: data after the JSON object"})
	}
	if len(problems) > 0 {
		return errors.Join(problems...)
	}
	if err := json.Unmarshal(data, v); err != nil { // checked above: cannot fail
		return &Error{Reason: what + " parameters: " + err.Error()}
	}
	return nil
}

// jsonFields returns the JSON names of the fields of the struct v points to.
func jsonFields(v any) []string {
	t := reflect.TypeOf(v).Elem()
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// jsonKind names the kind of JSON value tok starts.
func jsonKind(tok json.Token) string {
	switch tok := tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		if tok == '[' {
			return "an array"
		}
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	}
	return fmt.Sprint(tok)
}

// cutText64 cuts a value or a name from the input to 64 bytes, and "..."
// after them, for an error message: an input may hold megabytes.
func cutText64(s string) string { return textcut.Cut(s, 64) }
