package integrations

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/dynlimit/dynlimit/internal/suggest"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/internal/textcut"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// Ways a Config splits requests into limiters (Config.Key).
const (
	// KeyNone paces every request of the integration with one limiter.
	KeyNone = ""
	// KeyMethod keys by Slack's Web API method ([SlackMethodKey]):
	// /api/chat.postMessage is "chat.postMessage", each method having its
	// own tier. Only a method name becomes a key: webhooks share the key
	// "webhook", other paths "other", so that no secret of a path names a
	// limiter.
	KeyMethod = "method"
	// KeyBase keys by Airtable base id ([AirtableBaseKey]): Airtable's
	// limit is per base, /v0/{baseId}/... Requests without a base id share
	// one limiter.
	KeyBase = "base"
	// KeyEndpoint keys by method, host and path template
	// (httpadapter.RouteTemplate), where every path segment that does not
	// read as a name (an ID, an issue key, a token; versions such as v1
	// excepted) stands for any value:
	// GET example.atlassian.net/rest/api/{}/issue/{}. Jira limits per
	// tenant, endpoint and method.
	KeyEndpoint = "endpoint"
	// KeyHost keys by the URL's host: one limiter per Shopify store or Jira
	// site when one client serves many, per Google API.
	KeyHost = "host"
)

// Policies a Config selects (Config.PolicyName).
const (
	// PolicyAIMD runs [policy.AIMD] with the AIMD parameters: the default,
	// which "" stands for.
	PolicyAIMD = "aimd"
	// PolicyCUBIC runs [policy.CUBIC], the AWS SDK for Go v2's adaptive
	// rate: its starting rate, burst and bounds are the AIMD parameters'
	// (rate_limit_per_sec, burst_size, min_rate, max_rate), its own are in
	// Config.CUBIC.
	PolicyCUBIC = "cubic"
)

// CUBICParams are the parameters of [policy.CUBIC] that a Config does not
// share with AIMD; the defaults are [policy.DefaultCUBIC]'s, the SDK's.
type CUBICParams struct {
	// Beta is what a throttle multiplies the rate it happened at by
	// (beta), in (0, 1).
	Beta float64
	// ScaleConstant is the cubic's scale in requests per second per second
	// cubed (scale_constant), > 0: larger climbs back faster.
	ScaleConstant float64
	// Smooth is the weight of the last half second's outcomes in the
	// measured rate (smooth), in (0, 1).
	Smooth float64
}

// DefaultCUBICParams returns [policy.DefaultCUBIC]'s beta, scale constant
// and smooth: 0.7, 0.4 and 0.8.
func DefaultCUBICParams() CUBICParams {
	d := policy.DefaultCUBIC()
	return CUBICParams{Beta: d.Beta, ScaleConstant: d.ScaleConstant, Smooth: d.Smooth}
}

// Defaults of a Config's fields beyond the policy parameters, which default
// to [policy.DefaultAIMD] and [DefaultCUBICParams].
const (
	// DefaultMaxRetries is max_retries_on_backoff's default.
	DefaultMaxRetries = httpadapter.DefaultMaxRetries
	// DefaultMaxWaitSec is max_wait_sec's default, in seconds.
	DefaultMaxWaitSec = 60
	// DefaultMaxPauseSec is max_pause_sec's default, in seconds: an hour,
	// dynlimit.DefaultMaxPause.
	DefaultMaxPauseSec = 3600
)

// Bounds beyond which a value is a typo rather than a setting: a rate of a
// million requests a second is no third-party API's, and a wait of more than
// a day parks a worker rather than pacing it.
const (
	maxRateBound         = 1e6
	maxTokenBound        = 1e9
	maxCooldownBound     = 1000
	maxRetriesBound      = 100
	maxSecondsBound      = 86400
	maxInFlightBound     = 100000
	maxStatusListLen     = 100
	maxBaseURLLen        = 2048
	minStatus, maxStatus = 400, 599
)

// Config is how one API is paced and retried. The JSON names of its fields
// are those of the original configuration format, flattened into one
// object, and [Config.MarshalJSON] writes what [LoadOverrides] reads back.
//
// The zero Config is not valid: start from [Default] or a built-in ([Get])
// and change what you need. Nil status lists mean their defaults; an empty
// non-nil list means none.
type Config struct {
	// Name is the integration's name, the key of its entry in an override
	// file. It is not part of the JSON object.
	Name string
	// BaseURL is the API's root (base_url), for [NewClient]: scheme, host
	// and an optional path prefix. It may be empty for an API without a
	// single root (Shopify's and Jira's are per store or site); then
	// [NewClient] needs [WithBaseURL], and a Transport works on requests
	// that carry absolute URLs.
	BaseURL string
	// PolicyName selects the limiter's policy (policy): [PolicyAIMD], the
	// default, which "" stands for, or [PolicyCUBIC]. [Config.NewPolicy]
	// makes it.
	PolicyName string
	// AIMD holds the limiter's policy parameters, inline in JSON under
	// their original names (rate_limit_per_sec, burst_size,
	// increase_factor, decrease_factor, min_rate, max_rate,
	// cooldown_multiplier) and those of the time-based growth
	// (slow_start_sec, recovery_sec, probe_sec, restart_above). Rates are in
	// requests per second. With PolicyCUBIC, its rate, burst and bounds
	// are CUBIC's too, and the rest still makes the token budget's policy
	// ([Config.TokenPolicy]).
	AIMD policy.AIMD
	// CUBIC holds the parameters of PolicyCUBIC of its own, inline in JSON
	// (beta, scale_constant, smooth). An override entry may name them only
	// when its policy is "cubic", and they are written out only then.
	CUBIC CUBICParams
	// BackoffStatusCodes are the statuses that mean a rate limit refused
	// the call (backoff_status_codes): the limiter slows down and the call
	// is retried. nil means [429].
	BackoffStatusCodes []int
	// OverloadStatusCodes are the statuses that mean the upstream could
	// not serve the call (overload_status_codes): retried, and five of them
	// within 10 s slow the limiter down. nil means [500, 502, 503, 504].
	OverloadStatusCodes []int
	// MaxRetriesOnBackoff is how many times a throttled or overloaded call
	// is retried (max_retries_on_backoff); 0 turns retries off.
	MaxRetriesOnBackoff int
	// MaxWaitSec is the longest wait before one retry, in seconds
	// (max_wait_sec). A Retry-After beyond it is not waited for: the call
	// fails at once with an *httpadapter.Error that says when to retry.
	MaxWaitSec float64
	// MaxPauseSec caps, in seconds, any pause the upstream can impose on
	// the limiter (max_pause_sec): a Retry-After, or a quota's reset, is
	// acted on as at most this long (dynlimit.WithMaxPause). The default,
	// [DefaultMaxPauseSec], is an hour, so that GitHub's hourly reset still
	// fits; 0 stands for it.
	MaxPauseSec float64
	// MaxInFlight caps the calls out at once (max_in_flight), per limiter:
	// per key when Key splits requests. 0 means no cap.
	MaxInFlight int
	// Key says how requests split into limiters (key): [KeyNone],
	// [KeyMethod], [KeyBase], [KeyEndpoint] or [KeyHost]. KeyFunc, when
	// set, replaces it.
	Key string
	// MinRetryAfterSec is the least a throttle that came without a
	// Retry-After pauses the limiter and the retry, in seconds
	// (min_retry_after_sec): Airtable's 30 s of silence, Zapier's 60 s. It
	// applies to throttle statuses, not to a burst of overloads.
	MinRetryAfterSec float64
	// TokensPerSec, when > 0, paces requests by a second budget as well,
	// in tokens per second (tokens_per_sec): an LLM API's tokens per
	// minute / 60. Each request is priced by Cost; the budget's policy is
	// the AIMD parameters scaled from requests to tokens (see
	// [Config.TokenPolicy]), whatever PolicyName says, and the response's
	// token quota headers pace it. 0 means no token budget.
	TokensPerSec float64
	// TokenBurst is the token budget's capacity (token_burst): the most
	// tokens spent at once, and the most one request is priced at. Needed
	// when TokensPerSec is set.
	TokenBurst float64

	// Source says where the numbers come from, marking the unverified
	// ones. It is not part of the JSON object.
	Source string
	// Classifier, when set, makes the classifier of each Transport in place
	// of signal.HTTP with the status lists above (an API-specific one, say)
	// on the limiter's clock. Not part of the JSON object; overrides keep
	// it.
	Classifier func(clock.Clock) signal.Classifier
	// KeyFunc, when set, returns the key of a request in place of Key: the
	// limiter of each distinct key is made on demand. Not part of the JSON
	// object; overrides keep it.
	KeyFunc func(*http.Request) string
	// KeyPolicy, when set, returns the policy of the limiter of one key,
	// given the integration's: Slack's per-method tiers. Not part of the
	// JSON object; overrides keep it, and an override's policy fields reach
	// it as base. With PolicyCUBIC, the rate, burst and bounds it returns
	// are those of the key's CUBIC.
	KeyPolicy func(key string, base policy.AIMD) policy.AIMD
	// Cost, when TokensPerSec is set, prices a request in tokens; nil
	// means [LLMTokenCost]. Not part of the JSON object; overrides keep
	// it.
	Cost httpadapter.CostFunc
	// Route, when set, names the route of a request in events, logs,
	// metrics, spans and errors (httpadapter.WithRoute) in place of
	// httpadapter.RouteTemplate: an API whose URLs hold a secret at a
	// known place templates it away whatever its shape ([SlackRoute],
	// [ZapierRoute]). Not part of the JSON object; overrides keep it.
	Route func(*http.Request) string
	// SecretPath, when set, reports whether a request's URL path holds a
	// secret (httpadapter.WithSecretPath): instruments then record the
	// route in place of the path, as the OpenTelemetry bridge's url.full
	// does ([SlackSecretPath], [ZapierSecretPath]). Not part of the JSON
	// object; overrides keep it.
	SecretPath func(*url.URL) bool
}

// Default returns the configuration every field of a new integration in an
// override file starts from: [PolicyAIMD] with [policy.DefaultAIMD] (and
// [DefaultCUBICParams] for PolicyCUBIC), 429 as the throttle status, 500,
// 502, 503 and 504 as overloads, [DefaultMaxRetries] retries, at most
// [DefaultMaxWaitSec] seconds before one, no in-flight cap, one limiter, no
// minimum pause and no base URL.
func Default() Config {
	return Config{
		PolicyName:          PolicyAIMD,
		AIMD:                policy.DefaultAIMD(),
		CUBIC:               DefaultCUBICParams(),
		BackoffStatusCodes:  signal.DefaultThrottled(),
		OverloadStatusCodes: signal.DefaultOverloaded(),
		MaxRetriesOnBackoff: DefaultMaxRetries,
		MaxWaitSec:          DefaultMaxWaitSec,
		MaxPauseSec:         DefaultMaxPauseSec,
	}
}

// Policy returns the AIMD parameters, whatever PolicyName selects: what
// KeyPolicy is given as its base, and what the token budget's policy is
// scaled from. [Config.NewPolicy] returns the policy the limiter runs.
func (c Config) Policy() policy.AIMD { return c.AIMD }

// NewPolicy returns the limiter's policy, as PolicyName selects it: the
// AIMD parameters as a [policy.AIMD], or, with [PolicyCUBIC], a
// [policy.CUBIC] that starts at rate_limit_per_sec, with burst_size,
// min_rate and max_rate, and the parameters of Config.CUBIC.
func (c Config) NewPolicy() policy.Policy { return c.policyFrom(c.AIMD) }

// policyFrom returns the policy PolicyName selects, with the rates and the
// burst of a: KeyPolicy's per-key AIMD parameters become a per-key CUBIC.
func (c Config) policyFrom(a policy.AIMD) policy.Policy {
	if c.PolicyName != PolicyCUBIC {
		return a
	}
	return policy.CUBIC{
		Rate: a.Rate, Burst: a.Burst, MinRate: a.MinRate, MaxRate: a.MaxRate,
		Beta: c.CUBIC.Beta, ScaleConstant: c.CUBIC.ScaleConstant, Smooth: c.CUBIC.Smooth,
	}
}

// TokenPolicy returns the policy of the token budget and true, or false
// when TokensPerSec is 0. It is the request policy scaled by TokensPerSec /
// rate_limit_per_sec: the same factors, cooldown and probing, with the rate,
// its bounds and the additive increase in tokens; the burst is TokenBurst.
// It is an AIMD whatever PolicyName says: CUBIC caps its rate at twice the
// rate of outcomes it measures, a number of requests a second, which a rate
// of tokens a second is not.
func (c Config) TokenPolicy() (policy.AIMD, bool) {
	if !(c.TokensPerSec > 0) || !(c.AIMD.Rate > 0) {
		return policy.AIMD{}, false
	}
	k := c.TokensPerSec / c.AIMD.Rate
	a := c.AIMD
	a.Rate, a.Burst = c.TokensPerSec, c.TokenBurst
	a.IncreaseFactor *= k
	a.MinRate *= k
	a.MaxRate *= k
	return a, true
}

// MaxWait returns MaxWaitSec as a duration.
func (c Config) MaxWait() time.Duration { return durationOfSeconds(c.MaxWaitSec) }

// MaxPause returns MaxPauseSec as a duration; 0 stands for
// [DefaultMaxPauseSec].
func (c Config) MaxPause() time.Duration {
	if d := durationOfSeconds(c.MaxPauseSec); d > 0 {
		return d
	}
	return DefaultMaxPauseSec * time.Second
}

// MinRetryAfter returns MinRetryAfterSec as a duration.
func (c Config) MinRetryAfter() time.Duration { return durationOfSeconds(c.MinRetryAfterSec) }

// durationOfSeconds converts a validated number of seconds; Validate bounds
// it far below time.Duration's range.
func durationOfSeconds(s float64) time.Duration {
	if math.IsNaN(s) || s <= 0 {
		return 0
	}
	return time.Duration(math.Min(s, maxSecondsBound) * float64(time.Second))
}

// clone returns c with its own status lists, so that whoever changes a
// returned Config does not change the registry or an Overrides.
func (c Config) clone() Config {
	c.BackoffStatusCodes = slices.Clone(c.BackoffStatusCodes)
	c.OverloadStatusCodes = slices.Clone(c.OverloadStatusCodes)
	return c
}

// NewClassifier returns the classifier a Transport of this configuration
// uses, on clk (nil means clock.Real): Config.Classifier's when set,
// otherwise signal.HTTP with the status lists inside a signal.Burst that
// reads the fifth overload within 10 s as a throttle, as
// httpadapter.NewTransport's default does. With MinRetryAfterSec, a throttle
// status that came without a Retry-After is given that one. Each call makes
// a new classifier: a Burst keeps state, which must not be shared between
// limiters.
func (c Config) NewClassifier(clk clock.Clock) signal.Classifier {
	var cl signal.Classifier
	if c.Classifier != nil {
		cl = c.Classifier(clk)
	}
	if cl == nil {
		cl = signal.HTTP{
			Throttled:  slices.Clone(c.BackoffStatusCodes),
			Overloaded: slices.Clone(c.OverloadStatusCodes),
			Clock:      clk,
		}
	}
	// An API's own rules and the status lists alike: a burst of overloads
	// slows the limiter down, a lone one does not.
	if b, err := signal.NewBurst(cl, httpadapter.DefaultBurstOverloads, httpadapter.DefaultBurstWindow, clk); err == nil {
		cl = b
	}
	if d := c.MinRetryAfter(); d > 0 {
		overloads := c.OverloadStatusCodes
		if overloads == nil {
			overloads = signal.DefaultOverloaded()
		}
		cl = minPauseClassifier{base: cl, d: d, overloads: slices.Clone(overloads)}
	}
	return cl
}

// minPauseClassifier gives a throttle that came without a Retry-After the
// pause the API is known to impose: Airtable answers a retry within 30 s of
// a 429 with another 429, so the backoff's half-second first retry would
// only prolong the penalty. A throttle promoted from a burst of overloads is
// left alone: the upstream was sick, it imposed no penalty.
type minPauseClassifier struct {
	base      signal.Classifier
	d         time.Duration
	overloads []int
}

func (m minPauseClassifier) Classify(resp *http.Response, err error) signal.Signal {
	s := m.base.Classify(resp, err)
	if s.Kind == signal.Throttled && !s.HasRetryAfter && s.RetryAfter <= 0 &&
		s.Status >= minStatus && !slices.Contains(m.overloads, s.Status) {
		s.RetryAfter, s.HasRetryAfter = m.d, true
	}
	return s
}

// Problem is one thing wrong with a configuration or an override file.
type Problem struct {
	// Integration is the name of the entry; "" for a problem with the
	// file as a whole.
	Integration string
	// Field is the JSON name of the field; "" for a problem with the
	// entry as a whole.
	Field string
	// Value is the rejected value, as JSON text when it came from a file.
	Value string
	// Reason says what a valid value looks like.
	Reason string
}

// String returns "integration: field = value: reason", leaving out the
// parts that are empty.
func (p Problem) String() string {
	var b strings.Builder
	if p.Integration != "" {
		b.WriteString(p.Integration)
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		if p.Value != "" {
			b.WriteString(" = ")
			b.WriteString(p.Value)
		}
		b.WriteString(": ")
	} else if p.Value != "" {
		b.WriteString(p.Value)
		b.WriteString(": ")
	}
	b.WriteString(p.Reason)
	return b.String()
}

// Error reports every problem found in a configuration or an override file,
// not only the first.
type Error struct {
	// File is the override file's path; "" when the problems were not read
	// from a file.
	File string
	// Problems are in the order of the file, or of the integrations' names
	// and the fields' order in a Config.
	Problems []Problem
}

// Error lists the problems, one per line after the first.
func (e *Error) Error() string {
	prefix := "integrations: "
	if e.File != "" {
		prefix += e.File + ": "
	}
	switch len(e.Problems) {
	case 0:
		return prefix + "invalid configuration"
	case 1:
		return prefix + e.Problems[0].String()
	}
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteString(strconv.Itoa(len(e.Problems)))
	b.WriteString(" problems:")
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.String())
	}
	return b.String()
}

// Validate reports every invalid field in an [*Error]: what
// [policy.AIMD.Validate] rejects (non-finite, negative, zero where it
// matters, min_rate > max_rate, a rate outside [min_rate, max_rate], a
// decrease factor outside (0, 1), a burst below 1), values beyond sane
// bounds (rates and bursts above 1e6, cooldown_multiplier above 1000, more
// than 100 retries, waits above a day, max_in_flight above 100000), statuses
// outside 400 to 599, an unknown key kind or policy, CUBIC's parameters out
// of range when it is the policy, and a base URL that is not an absolute
// http or https URL without credentials, query or fragment.
func (c Config) Validate() error {
	if ps := c.validate(nil); len(ps) > 0 {
		return &Error{Problems: ps}
	}
	return nil
}

// validate returns c's problems. named reports whether an override named a
// field; nil means none did. A problem that involves two fields is blamed on
// the one the override named, so that the message points at what the user
// wrote rather than at a built-in value they never saw.
func (c Config) validate(named func(field string) bool) []Problem {
	v := configValidator{c: c}
	a := c.AIMD
	v.policy(named)
	v.number(fRate, a.Rate, 0, maxRateBound, true, "must be a number > 0 and at most 1e6")
	v.number(fBurst, a.Burst, 1, maxRateBound, false, "must be a number from 1 to 1e6")
	v.number(fIncrease, a.IncreaseFactor, 0, maxRateBound, false, "must be a number from 0 to 1e6")
	if !(a.DecreaseFactor > 0 && a.DecreaseFactor < 1) {
		v.add(fDecrease, fmtFloat(a.DecreaseFactor), "must be in (0, 1)")
	}
	v.number(fMinRate, a.MinRate, 0, maxRateBound, true, "must be a number > 0 and at most 1e6")
	v.number(fMaxRate, a.MaxRate, 0, maxRateBound, true, "must be a number > 0 and at most 1e6")
	v.number(fCooldown, a.CooldownMultiplier, 0, maxCooldownBound, false, "must be a number from 0 to 1000")
	v.number(fSlowStart, a.SlowStart, 0, maxSecondsBound, false, "must be a number of seconds from 0 to 86400")
	v.number(fRecovery, a.Recovery, 0, maxSecondsBound, false, "must be a number of seconds from 0 to 86400")
	v.number(fProbe, a.Probe, 0, maxSecondsBound, false, "must be a number of seconds from 0 to 86400")
	v.number(fRestart, a.Restart, 0, maxRateBound, false, "must be a number from 0 to 1e6")

	blame := func(def, other string) string {
		if named != nil && !named(def) && named(other) {
			return other
		}
		return def
	}
	if v.ok(fMinRate, fMaxRate) && a.MinRate > a.MaxRate {
		if blame(fMinRate, fMaxRate) == fMinRate {
			v.add(fMinRate, fmtFloat(a.MinRate), "must be <= max_rate ("+fmtFloat(a.MaxRate)+")")
		} else {
			v.add(fMaxRate, fmtFloat(a.MaxRate), "must be >= min_rate ("+fmtFloat(a.MinRate)+")")
		}
	}
	if v.ok(fRate, fMinRate) && a.Rate < a.MinRate {
		if blame(fRate, fMinRate) == fRate {
			v.add(fRate, fmtFloat(a.Rate), "must be >= min_rate ("+fmtFloat(a.MinRate)+")")
		} else {
			v.add(fMinRate, fmtFloat(a.MinRate), "must be <= rate_limit_per_sec ("+fmtFloat(a.Rate)+")")
		}
	}
	if v.ok(fRate, fMaxRate) && a.Rate > a.MaxRate {
		if blame(fRate, fMaxRate) == fRate {
			v.add(fRate, fmtFloat(a.Rate), "must be <= max_rate ("+fmtFloat(a.MaxRate)+")")
		} else {
			v.add(fMaxRate, fmtFloat(a.MaxRate), "must be >= rate_limit_per_sec ("+fmtFloat(a.Rate)+")")
		}
	}
	v.statuses(fBackoff, c.BackoffStatusCodes)
	v.statuses(fOverload, c.OverloadStatusCodes)
	if c.MaxRetriesOnBackoff < 0 || c.MaxRetriesOnBackoff > maxRetriesBound {
		v.add(fRetries, strconv.Itoa(c.MaxRetriesOnBackoff), "must be a whole number from 0 to 100")
	}
	v.number(fMaxWait, c.MaxWaitSec, 0, maxSecondsBound, true, "must be a number of seconds > 0 and at most 86400")
	v.number(fMaxPause, c.MaxPauseSec, 0, maxSecondsBound, false, "must be a number of seconds from 0 (the default, 3600) to 86400")
	if c.MaxInFlight < 0 || c.MaxInFlight > maxInFlightBound {
		v.add(fMaxInFlight, strconv.Itoa(c.MaxInFlight), "must be a whole number from 0 (no cap) to 100000")
	}
	switch c.Key {
	case KeyNone, KeyMethod, KeyBase, KeyEndpoint, KeyHost:
	default:
		v.add(fKey, strconv.Quote(c.Key), `must be "", "method", "base", "endpoint" or "host"`)
	}
	v.number(fMinRetryAfter, c.MinRetryAfterSec, 0, maxSecondsBound, false, "must be a number of seconds from 0 to 86400")
	v.number(fTokensPerSec, c.TokensPerSec, 0, maxTokenBound, false, "must be a number of tokens per second from 0 (no token budget) to 1e9")
	v.number(fTokenBurst, c.TokenBurst, 0, maxTokenBound, false, "must be a number of tokens from 0 to 1e9")
	if v.ok(fTokensPerSec, fTokenBurst) && c.TokensPerSec > 0 && c.TokenBurst < 1 {
		v.add(fTokenBurst, fmtFloat(c.TokenBurst), "must be >= 1 when tokens_per_sec is set")
	}
	if reason := checkBaseURL(c.BaseURL); reason != "" {
		v.add(fBaseURL, quoteShort(redactBaseURL(c.BaseURL)), reason)
	}

	// The policy has the last word on its own parameters: should it gain a
	// rule, a Config it rejects must not pass here.
	if len(v.ps) == 0 {
		if tp, ok := c.TokenPolicy(); ok {
			if err := tp.Validate(); err != nil {
				v.add(fTokensPerSec, fmtFloat(c.TokensPerSec), "gives a token policy that is not valid: "+err.Error())
			}
		}
		v.policyError(c.AIMD.Validate())
		if c.PolicyName == PolicyCUBIC {
			v.policyError(c.NewPolicy().Validate())
		}
	}
	return v.ps
}

// policyError adds the problem a policy's Validate reported, if any.
func (v *configValidator) policyError(err error) {
	if err == nil {
		return
	}
	var pe *policy.Error
	if errors.As(err, &pe) {
		v.add(pe.Field, fmtFloat(pe.Value), pe.Reason)
	} else {
		v.add("", "", err.Error())
	}
}

// policies are the values of the policy field, "" standing for the first.
var policies = []string{PolicyAIMD, PolicyCUBIC}

// policy checks the policy field and the parameters of CUBIC: their ranges
// when it is the policy; otherwise, that the override (named) names none of
// them, since they would change nothing.
func (v *configValidator) policy(named func(field string) bool) {
	c := v.c
	if c.PolicyName != "" && !slices.Contains(policies, c.PolicyName) {
		reason := `must be "aimd" (the default) or "cubic"`
		if p := suggest.Closest(c.PolicyName, policies, 2); p != "" {
			reason += fmt.Sprintf("; did you mean %q?", p)
		}
		v.add(fPolicy, quoteShort(c.PolicyName), reason)
		return
	}
	p := c.CUBIC
	if c.PolicyName == PolicyCUBIC {
		if !(p.Beta > 0 && p.Beta < 1) {
			v.add(fBeta, fmtFloat(p.Beta), "must be in (0, 1)")
		}
		v.number(fScaleConstant, p.ScaleConstant, 0, maxRateBound, true, "must be a number > 0 and at most 1e6")
		if !(p.Smooth > 0 && p.Smooth < 1) {
			v.add(fSmooth, fmtFloat(p.Smooth), "must be in (0, 1)")
		}
		return
	}
	if named == nil {
		return
	}
	for _, f := range []struct {
		name string
		x    float64
	}{{fBeta, p.Beta}, {fScaleConstant, p.ScaleConstant}, {fSmooth, p.Smooth}} {
		if named(f.name) {
			v.add(f.name, fmtFloat(f.x), `is a parameter of "policy": "cubic", and this entry's policy is "aimd"`)
		}
	}
}

// configValidator collects the problems of one Config.
type configValidator struct {
	c   Config
	ps  []Problem
	bad []string // fields with a problem
}

func (v *configValidator) add(field, value, reason string) {
	v.ps = append(v.ps, Problem{Integration: v.c.Name, Field: field, Value: value, Reason: reason})
	v.bad = append(v.bad, field)
}

// ok reports whether none of fields has a problem yet: a cross-field rule
// says nothing useful about a value already rejected.
func (v *configValidator) ok(fields ...string) bool {
	for _, f := range fields {
		if slices.Contains(v.bad, f) {
			return false
		}
	}
	return true
}

// number checks lo <= x <= hi (lo < x when openLo) and that x is finite.
func (v *configValidator) number(field string, x, lo, hi float64, openLo bool, reason string) {
	if math.IsNaN(x) || math.IsInf(x, 0) || x < lo || openLo && x == lo || x > hi {
		v.add(field, fmtFloat(x), reason)
	}
}

func (v *configValidator) statuses(field string, codes []int) {
	if len(codes) > maxStatusListLen {
		v.add(field, "["+strconv.Itoa(len(codes))+" statuses]", "must hold at most 100 statuses")
		return
	}
	for _, s := range codes {
		if s < minStatus || s > maxStatus {
			v.add(field, strconv.Itoa(s), "must hold HTTP error statuses, 400 to 599")
		}
	}
}

// checkBaseURL returns why s is not a usable base URL, or "".
func checkBaseURL(s string) string {
	if s == "" {
		return ""
	}
	if len(s) > maxBaseURLLen {
		return "must be at most 2048 bytes"
	}
	u, err := url.Parse(s)
	if err != nil {
		return "must be an absolute http or https URL"
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "":
		return "must be an absolute http or https URL"
	case u.User != nil:
		// A token in a URL ends up in every log line that prints it.
		return "must not carry credentials: send them in a header"
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "must not have a query or a fragment"
	}
	return ""
}

func fmtFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// quoteShort quotes s for a message, cut to a length a terminal line holds.
func quoteShort(s string) string {
	if h, cut := textcut.Head(s, 80); cut {
		return strconv.Quote(h) + "..."
	}
	return strconv.Quote(s)
}

// wireConfig is a Config's JSON object: the AIMD parameters embedded so that
// they sit at the top level, as in the original format.
type wireConfig struct {
	BaseURL    string `json:"base_url"`
	PolicyName string `json:"policy"`
	policy.AIMD
	// CUBIC's own parameters, written only when it is the policy.
	Beta                *float64 `json:"beta,omitempty"`
	ScaleConstant       *float64 `json:"scale_constant,omitempty"`
	Smooth              *float64 `json:"smooth,omitempty"`
	BackoffStatusCodes  []int    `json:"backoff_status_codes"`
	OverloadStatusCodes []int    `json:"overload_status_codes"`
	MaxRetriesOnBackoff int      `json:"max_retries_on_backoff"`
	MaxWaitSec          float64  `json:"max_wait_sec"`
	MaxPauseSec         float64  `json:"max_pause_sec"`
	MaxInFlight         int      `json:"max_in_flight"`
	Key                 string   `json:"key"`
	MinRetryAfterSec    float64  `json:"min_retry_after_sec"`
	TokensPerSec        float64  `json:"tokens_per_sec"`
	TokenBurst          float64  `json:"token_burst"`
}

// MarshalJSON writes every field of the JSON object, nil status lists as
// the defaults they stand for and "" as "aimd", so that the result, under
// the integration's name, is an override entry that sets c in full. CUBIC's
// own parameters (beta, scale_constant, smooth) are written only when it is
// the policy: an entry of another policy may not name them.
func (c Config) MarshalJSON() ([]byte, error) {
	w := wireConfig{
		BaseURL: c.BaseURL, PolicyName: c.PolicyName, AIMD: c.AIMD,
		BackoffStatusCodes: c.BackoffStatusCodes, OverloadStatusCodes: c.OverloadStatusCodes,
		MaxRetriesOnBackoff: c.MaxRetriesOnBackoff, MaxWaitSec: c.MaxWaitSec,
		MaxPauseSec: c.MaxPauseSec,
		MaxInFlight: c.MaxInFlight, Key: c.Key, MinRetryAfterSec: c.MinRetryAfterSec,
		TokensPerSec: c.TokensPerSec, TokenBurst: c.TokenBurst,
	}
	if w.BackoffStatusCodes == nil {
		w.BackoffStatusCodes = signal.DefaultThrottled()
	}
	if w.OverloadStatusCodes == nil {
		w.OverloadStatusCodes = signal.DefaultOverloaded()
	}
	if w.PolicyName == "" {
		w.PolicyName = PolicyAIMD
	}
	if c.PolicyName == PolicyCUBIC {
		w.Beta, w.ScaleConstant, w.Smooth = &c.CUBIC.Beta, &c.CUBIC.ScaleConstant, &c.CUBIC.Smooth
	}
	return json.Marshal(w)
}

// UnmarshalJSON sets the fields the object names and leaves the others as
// they are, so that decoding over [Default] or a built-in applies one
// override entry. Unknown fields, wrong types and nulls are errors; every
// problem is reported in an [*Error]. It does not check ranges: call
// [Config.Validate].
func (c *Config) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		return nil // encoding/json's convention: null leaves a value as it is
	}
	members, err := jsonObject(data)
	if err != nil {
		return &Error{Problems: []Problem{{Integration: c.Name, Value: rawText(data), Reason: "must be a JSON object of settings"}}}
	}
	next := *c
	if r := decodeEntry(c.Name, members, &next); len(r.problems) > 0 {
		return &Error{Problems: r.problems}
	}
	*c = next
	return nil
}
