package integrations

import (
	"context"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// Against a fake of OpenAI: a client made by name prices each completion
// by its max_tokens and paces by tokens: with 16,384 tokens of burst, two
// 10,000-token completions cannot go together; the second waits for its
// tokens at the rate the token headers leave, about 10 s, though the
// request budget would let it go at once.
func TestOpenAIClientPacesByTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &inMemoryUpstream{h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("x-ratelimit-remaining-requests", "499")
			w.Header().Set("x-ratelimit-reset-requests", "120ms")
			w.Header().Set("x-ratelimit-remaining-tokens", "20000")
			w.Header().Set("x-ratelimit-reset-tokens", "20s")
			_, _ = io.WriteString(w, `{"choices":[]}`)
		}}
		c, err := NewClient("openai", WithBaseTransport(up),
			WithOverrides(mustLoad(t, `{"openai": {"burst_size": 5, "rate_limit_per_sec": 5, "max_rate": 50}}`)))
		if err != nil {
			t.Fatal(err)
		}
		body := []byte(`{"model":"gpt-4o","max_tokens":10000,"messages":[]}`)
		for range 2 {
			resp, err := c.Request(context.Background(), http.MethodPost, "/v1/chat/completions",
				httpadapter.Body("application/json", body))
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
		}
		got := up.times("/v1/chat/completions")
		cost := math.Ceil(10000 + float64(len(body))/BytesPerToken)
		// After the first answer the policy's token rate is its max_rate
		// (50 requests/s × 100 tokens a request): slow start adds ln 2 /
		// slow_start_sec per token of success, and the completion's
		// 10,000 take it there from 500 a second at once. The headers'
		// 20,000 tokens left over 20 s, 1,000 a second, are below it: that
		// is in force, and a bucket paced by the upstream's quota keeps at
		// most one token of its burst, so the second completion waits for
		// all of its tokens but one.
		cfg, _ := Get("openai")
		cfg.AIMD.Rate, cfg.AIMD.Burst, cfg.AIMD.MaxRate = 5, 5, 50
		tp, ok := cfg.TokenPolicy()
		if !ok {
			t.Fatal("openai has no token policy")
		}
		after := tp.Next(tp.Initial(), policy.Outcome{Signal: signal.Signal{Kind: signal.Success}, Tokens: cost}, time.Now())
		if grown := tp.Rate + cost*math.Ln2/tp.SlowStart; tp.Rate != 500 || tp.MaxRate != 5000 || grown < tp.MaxRate || after.Rate != tp.MaxRate {
			t.Fatalf("token rate %v → %v after one success (%v uncapped), want max_rate 5000", tp.Rate, after.Rate, grown)
		}
		wait := time.Duration((cost - 1) / 1000 * float64(time.Second))
		if len(got) != 2 || got[0] != 0 || got[1] < wait-time.Millisecond || got[1] > wait+time.Millisecond {
			t.Errorf("sent at %v, want [0 %v]", got, wait)
		}
		snaps := c.Snapshots()
		if len(snaps) != 2 || snaps[0].Name != "openai" || snaps[1].Name != "openai tokens" {
			t.Fatalf("snapshots %+v, want openai and openai tokens", snaps)
		}
		if s := snaps[1]; s.QuotaRate != 1000 {
			t.Errorf("token budget's quota rate = %v, want 1000 (20,000 left over 20 s)", s.QuotaRate)
		}
	})
}

func mustLoad(tb testing.TB, s string) Overrides {
	tb.Helper()
	o, err := LoadOverrides(strings.NewReader(s))
	if err != nil {
		tb.Fatal(err)
	}
	return o
}
