package integrations_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/dynlimit/dynlimit/integrations"
)

func post(tb testing.TB, body string) *http.Request {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, "https://api.openai.com/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	return req
}

func TestLLMTokenCost(t *testing.T) {
	const out = integrations.DefaultOutputTokens
	size := func(s string) float64 { return float64(len(s)) / integrations.BytesPerToken }
	tests := []struct {
		name, body string
		want       func(body string) float64
	}{
		{"chat max_tokens", `{"model":"gpt-4o","max_tokens":500,"messages":[{"role":"user","content":"hi"}]}`,
			func(b string) float64 { return 500 + size(b) }},
		{"max_completion_tokens", `{"max_completion_tokens":2000}`, func(b string) float64 { return 2000 + size(b) }},
		{"responses max_output_tokens", `{"input":"hello","max_output_tokens":64}`, func(b string) float64 { return 64 + size(b) }},
		{"the largest of several", `{"max_tokens":10,"max_output_tokens":300}`, func(b string) float64 { return 300 + size(b) }},
		{"no limit: the default output", `{"input":"embed me"}`, func(b string) float64 { return out + size(b) }},
		{"null limit", `{"max_tokens":null}`, func(b string) float64 { return out + size(b) }},
		{"negative limit ignored", `{"max_tokens":-5}`, func(b string) float64 { return out + size(b) }},
		{"a string limit is not JSON we know", `{"max_tokens":"500"}`, func(b string) float64 { return out + size(b) }},
		{"not JSON", `max_tokens=500`, func(b string) float64 { return out + size(b) }},
		{"trailing data counts as input", `{"max_tokens":1} {"x":"yyyyyyyy"}`, func(b string) float64 { return 1 + size(b) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := post(t, tt.body)
			if got, want := integrations.LLMTokenCost(req), tt.want(tt.body); math.Abs(got-want) > 1e-9 {
				t.Errorf("cost = %v, want %v", got, want)
			}
			// The request is sent unchanged.
			if b, _ := io.ReadAll(req.Body); string(b) != tt.body {
				t.Errorf("body after pricing = %q, want it untouched", b)
			}
		})
	}
	get, _ := http.NewRequest(http.MethodGet, "https://api.openai.com/v1/models", nil)
	if c := integrations.LLMTokenCost(get); c != 0 {
		t.Errorf("a request without a body costs %v, want 0", c)
	}
	// No GetBody: priced by its length, body untouched.
	body := `{"max_tokens":500}`
	req := post(t, body)
	req.GetBody = nil
	req.Body = io.NopCloser(strings.NewReader(body))
	if got, want := integrations.LLMTokenCost(req), out+size(body); got != want {
		t.Errorf("cost without GetBody = %v, want %v (length and the default output)", got, want)
	}
}

// FuzzLLMTokenCost: whatever the body, the estimate is a finite number >=
// 0 and the body is left as it was.
func FuzzLLMTokenCost(f *testing.F) {
	for _, s := range []string{`{"max_tokens":500}`, `{"max_output_tokens":1e308}`, `{"max_completion_tokens":-1}`, `{`, ``, `null`, `[1,2]`, `{"max_tokens":1e999}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := http.NewRequest(http.MethodPost, "https://api.example/v1", bytes.NewReader(body))
		if err != nil {
			t.Skip()
		}
		c := integrations.LLMTokenCost(req)
		if math.IsNaN(c) || math.IsInf(c, 0) || c < 0 {
			t.Fatalf("cost of %q = %v", body, c)
		}
		if b, _ := io.ReadAll(req.Body); !bytes.Equal(b, body) {
			t.Fatal("the body changed")
		}
	})
}

func TestTokenPolicy(t *testing.T) {
	c, _ := integrations.Get("openai")
	tp, ok := c.TokenPolicy()
	if !ok {
		t.Fatal("openai has no token policy")
	}
	k := c.TokensPerSec / c.AIMD.Rate
	if tp.Rate != 500 || tp.Burst != 16384 || tp.MinRate != c.AIMD.MinRate*k || tp.MaxRate != c.AIMD.MaxRate*k ||
		tp.IncreaseFactor != c.AIMD.IncreaseFactor*k || tp.DecreaseFactor != c.AIMD.DecreaseFactor {
		t.Errorf("token policy = %+v, want the request policy scaled by %v", tp, k)
	}
	if err := tp.Validate(); err != nil {
		t.Error(err)
	}
	n, _ := integrations.Get("notion")
	if _, ok := n.TokenPolicy(); ok {
		t.Error("notion has a token policy")
	}
}

func TestTokenFieldsOverride(t *testing.T) {
	_, err := integrations.LoadOverrides(strings.NewReader(`{"openai": {"tokens_per_sec": 3000, "token_burst": 100000}, "gpt": {"tokens_per_sec": 10}}`))
	if err == nil {
		t.Fatal("want the gpt entry rejected: tokens_per_sec without token_burst")
	}
	var ie *integrations.Error
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "token_burst") || !strings.Contains(err.Error(), "gpt") {
		t.Errorf("err = %v, want one naming gpt and token_burst", err)
	}
	o, err := integrations.LoadOverrides(strings.NewReader(`{"openai": {"tokens_per_sec": 3000, "token_burst": 100000}, "anthropic": {"tokens_per_sec": 0}}`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := integrations.Merge(integrations.Builtin(), o)
	if err != nil {
		t.Fatal(err)
	}
	if c := m["openai"]; c.TokensPerSec != 3000 || c.TokenBurst != 100000 || c.AIMD.Rate != 1 {
		t.Errorf("openai after the override: %v tokens/s, burst %v, rate %v", c.TokensPerSec, c.TokenBurst, c.AIMD.Rate)
	}
	if _, ok := m["anthropic"].TokenPolicy(); ok {
		t.Error("tokens_per_sec 0 left anthropic a token budget")
	}
	for _, bad := range []string{`{"a": {"tokens_per_sec": -1, "token_burst": 5}}`, `{"a": {"tokens_per_sec": 1, "token_burst": 1e10}}`, `{"a": {"token_burst": "x"}}`} {
		if _, err := integrations.LoadOverrides(strings.NewReader(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
