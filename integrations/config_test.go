package integrations_test

import (
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/signal"
)

var allNames = []string{
	"airtable", "anthropic", "fieldguide", "github", "google", "hubspot", "jira", "notion",
	"openai", "shopify", "slack", "stripe", "twilio", "vanta", "zapier",
}

func TestBuiltinsAreValidAndSourced(t *testing.T) {
	b := integrations.Builtin()
	if got := integrations.Names(b); !cmp.Equal(got, allNames) {
		t.Fatalf("Names(Builtin()) = %v, want %v", got, allNames)
	}
	for name, c := range b {
		if c.Name != name {
			t.Errorf("%s: Name = %q", name, c.Name)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if err := c.AIMD.Validate(); err != nil {
			t.Errorf("%s: policy: %v", name, err)
		}
		if !strings.Contains(c.Source, "https://") && !strings.Contains(c.Source, "no published limit") {
			t.Errorf("%s: Source does not say where its numbers come from: %q", name, c.Source)
		}
		if c.BaseURL == "" && !strings.Contains(c.Source, "base_url") {
			t.Errorf("%s: no base URL, and Source does not say to set one", name)
		}
		got, ok := integrations.Get(name)
		if !ok || !cmp.Equal(got, c, sameFuncs) {
			t.Errorf("Get(%q) = %+v, %v; want Builtin's", name, got, ok)
		}
	}
	if _, ok := integrations.Get("nope"); ok {
		t.Error(`Get("nope") found something`)
	}
}

// Each call hands out its own copies.
func TestBuiltinIsFresh(t *testing.T) {
	a := integrations.Builtin()
	a["notion"].BackoffStatusCodes[0] = 400
	delete(a, "slack")
	b := integrations.Builtin()
	if b["notion"].BackoffStatusCodes[0] != 429 || len(b) != 15 {
		t.Error("a change to one Builtin() shows in the next")
	}
	n, _ := integrations.Get("notion")
	n.BackoffStatusCodes[1] = 400
	if n2, _ := integrations.Get("notion"); n2.BackoffStatusCodes[1] != 529 {
		t.Error("a change to Get's result shows in the next")
	}
}

// The numbers the vendors document, as the configs carry them.
func TestBuiltinNumbers(t *testing.T) {
	tests := []struct {
		name          string
		rate, burst   float64
		key           string
		throttle      []int
		inFlight      int
		minRetryAfter float64
		baseURL       string
	}{
		{"notion", 3, 3, "", []int{429, 529}, 0, 0, "https://api.notion.com"},
		{"airtable", 5, 5, "base", []int{429}, 0, 30, "https://api.airtable.com"},
		{"zapier", 1, 1, "", []int{429}, 0, 60, ""},
		{"slack", 20.0 / 60, 1, "method", []int{429}, 0, 0, "https://slack.com/api"},
		{"github", 5000.0 / 3600, 10, "", []int{429}, 10, 60, "https://api.github.com"},
		{"stripe", 25, 10, "", []int{429}, 20, 0, "https://api.stripe.com"},
		{"hubspot", 10, 10, "", []int{429}, 0, 0, "https://api.hubapi.com"},
		{"shopify", 2, 40, "host", []int{429}, 0, 0, ""},
		{"jira", 2, 2, "endpoint", []int{429, 503}, 0, 0, ""},
		{"fieldguide", 2, 2, "", []int{429, 503}, 0, 0, "https://api.fieldguide.io"},
		{"anthropic", 1, 1, "", []int{429, 529}, 0, 0, "https://api.anthropic.com"},
		{"twilio", 5, 5, "", []int{429}, 10, 0, "https://api.twilio.com"},
		{"google", 1, 1, "host", []int{429}, 0, 30, ""},
	}
	for _, tt := range tests {
		c, _ := integrations.Get(tt.name)
		got := []any{c.AIMD.Rate, c.AIMD.Burst, c.Key, c.BackoffStatusCodes, c.MaxInFlight, c.MinRetryAfterSec, c.BaseURL}
		want := []any{tt.rate, tt.burst, tt.key, tt.throttle, tt.inFlight, tt.minRetryAfter, tt.baseURL}
		if diff := cmp.Diff(want, got, sameFuncs); diff != "" {
			t.Errorf("%s: rate, burst, key, throttle statuses, in-flight, min retry-after, base URL (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestValidateReportsEveryField(t *testing.T) {
	c := integrations.Default()
	c.Name = "bad"
	c.BaseURL = "api.example.com"
	c.AIMD.Rate = math.NaN()
	c.AIMD.Burst = 0.5
	c.AIMD.IncreaseFactor = -1
	c.AIMD.DecreaseFactor = 0
	c.AIMD.MinRate = math.Inf(1)
	c.AIMD.MaxRate = -3
	c.AIMD.CooldownMultiplier = -1
	c.AIMD.Probe = -1
	c.AIMD.Restart = math.NaN()
	c.BackoffStatusCodes = []int{200}
	c.OverloadStatusCodes = []int{600}
	c.MaxRetriesOnBackoff = 101
	c.MaxWaitSec = 0
	c.MaxPauseSec = -1
	c.MaxInFlight = -1
	c.Key = "tenant"
	c.MinRetryAfterSec = 1e6
	err := c.Validate()
	var e *integrations.Error
	if !errors.As(err, &e) {
		t.Fatalf("Validate = %v, want *integrations.Error", err)
	}
	var fields []string
	for _, p := range e.Problems {
		if p.Integration != "bad" {
			t.Errorf("problem %q does not name the integration", p)
		}
		fields = append(fields, p.Field)
	}
	want := []string{
		"rate_limit_per_sec", "burst_size", "increase_factor", "decrease_factor", "min_rate", "max_rate",
		"cooldown_multiplier", "probe_sec", "restart_above", "backoff_status_codes", "overload_status_codes",
		"max_retries_on_backoff", "max_wait_sec", "max_pause_sec", "max_in_flight", "key", "min_retry_after_sec", "base_url",
	}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("fields named (-want +got):\n%s", diff)
	}
}

// Config.Validate never accepts what the policy rejects.
func TestValidateAgreesWithPolicy(t *testing.T) {
	values := []float64{-1, 0, 0.05, 0.5, 1, 3, 1e7, math.NaN(), math.Inf(1)}
	c := integrations.Default()
	for _, v := range values {
		for i := range 11 {
			c := c
			p := []*float64{&c.AIMD.Rate, &c.AIMD.Burst, &c.AIMD.IncreaseFactor, &c.AIMD.DecreaseFactor,
				&c.AIMD.MinRate, &c.AIMD.MaxRate, &c.AIMD.CooldownMultiplier,
				&c.AIMD.SlowStart, &c.AIMD.Recovery, &c.AIMD.Probe, &c.AIMD.Restart}
			*p[i] = v
			if c.AIMD.Validate() != nil && c.Validate() == nil {
				t.Errorf("field %d = %v: the policy rejects it, Config.Validate does not", i, v)
			}
		}
	}
}

func TestBaseURLRules(t *testing.T) {
	for u, ok := range map[string]bool{
		"":                                     true,
		"https://api.example.com":              true,
		"http://127.0.0.1:8080/prefix":         true,
		"api.example.com":                      false,
		"/v1":                                  false,
		"mailto:x@example.com":                 false,
		"https://tok@api.example.com":          false,
		"https://api.example.com/?k=v":         false,
		"https://api.example.com/#top":         false,
		"https://" + strings.Repeat("a", 3000): false,
	} {
		c := integrations.Default()
		c.BaseURL = u
		if got := c.Validate() == nil; got != ok {
			t.Errorf("base_url %.40q: valid = %v, want %v", u, got, ok)
		}
	}
}

func TestProblemString(t *testing.T) {
	for _, tt := range []struct {
		p    integrations.Problem
		want string
	}{
		{integrations.Problem{"a", "f", "1", "bad"}, "a: f = 1: bad"},
		{integrations.Problem{"a", "f", "", "bad"}, "a: f: bad"},
		{integrations.Problem{"a", "", "[1]", "bad"}, "a: [1]: bad"},
		{integrations.Problem{"", "", "", "bad"}, "bad"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
	one := &integrations.Error{File: "f.json", Problems: []integrations.Problem{{"a", "f", "1", "bad"}}}
	if got := one.Error(); got != "integrations: f.json: a: f = 1: bad" {
		t.Errorf("one problem: %q", got)
	}
}

// The classifier follows the status lists, and the minimum pause applies
// to a throttle without Retry-After, not to one that has it, nor to a burst
// of overloads.
func TestNewClassifier(t *testing.T) {
	c, _ := integrations.Get("airtable")
	// A file that changes the status lists replaces the API's own rules
	// by them, as here.
	c.BackoffStatusCodes, c.Classifier = []int{429, 418}, nil
	fake := clock.NewFake(time.Unix(1_700_000_000, 0))
	cl := c.NewClassifier(fake)
	classify := func(cl signal.Classifier, status int, header ...string) signal.Signal {
		rec := httptest.NewRecorder()
		for i := 0; i+1 < len(header); i += 2 {
			rec.Header().Set(header[i], header[i+1])
		}
		rec.WriteHeader(status)
		resp := rec.Result()
		defer resp.Body.Close()
		return cl.Classify(resp, nil)
	}
	if s := classify(cl, 429); s.Kind != signal.Throttled || s.RetryAfter != 30*time.Second || !s.HasRetryAfter {
		t.Errorf("429 without Retry-After = %+v, want throttled for 30 s", s)
	}
	if s := classify(cl, 418); s.Kind != signal.Throttled || s.RetryAfter != 30*time.Second {
		t.Errorf("418 = %+v, want throttled for 30 s", s)
	}
	if s := classify(cl, 429, "Retry-After", "3"); s.RetryAfter != 3*time.Second {
		t.Errorf("429 with Retry-After 3 = %+v, want the upstream's 3 s", s)
	}
	if s := classify(cl, 429, "Retry-After", "0"); s.RetryAfter != 0 || !s.HasRetryAfter {
		t.Errorf("429 with Retry-After 0 = %+v, want at once", s)
	}
	for i := range 5 {
		s := classify(cl, 503)
		if i == 4 && (s.Kind != signal.Throttled || s.RetryAfter != 0) {
			t.Errorf("fifth 503 = %+v, want a throttle with no imposed pause", s)
		}
	}
	custom := c
	custom.Classifier = func(clock.Clock) signal.Classifier {
		return signal.ClassifierFunc(func(*http.Response, error) signal.Signal { return signal.Signal{Kind: signal.Throttled, Status: 403} })
	}
	if s := classify(custom.NewClassifier(fake), 403); s.RetryAfter != 30*time.Second {
		t.Errorf("custom classifier's throttle = %+v, want min_retry_after_sec applied", s)
	}
}
