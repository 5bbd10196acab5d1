package sdktest

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// refillingQuota is one of OpenAI's limits as its rate-limits guide
// (https://platform.openai.com/docs/guides/rate-limits) describes it: a
// bucket of limit units that refills continuously at limit per minute, not a
// window that frees all at once. Its x-ratelimit-reset-* value is the time
// until the bucket is full again.
type refillingQuota struct {
	limit float64
	level float64
	at    time.Time
}

func (q *refillingQuota) perSec() float64 { return q.limit / 60 }

func (q *refillingQuota) refill(now time.Time) {
	q.level = math.Min(q.limit, q.level+q.perSec()*now.Sub(q.at).Seconds())
	q.at = now
}

// untilFull is the reset header's value, as OpenAI writes it ("1s", "6m0s",
// "12ms").
func (q *refillingQuota) untilFull() string {
	d := time.Duration((q.limit - q.level) / q.perSec() * float64(time.Second))
	return d.Round(time.Millisecond).String()
}

// untilOne is how long until the bucket holds one unit again.
func (q *refillingQuota) untilOne() time.Duration {
	return time.Duration(math.Max(0, 1-q.level) / q.perSec() * float64(time.Second))
}

// refillingOpenAI is an OpenAI upstream whose request and token limits
// refill as OpenAI's do: each completion spends a request and tokens
// tokens; an empty request bucket answers 429 rate_limit_exceeded with
// retry-after-ms until the next unit. Every answer carries the
// x-ratelimit-* headers. With static set, it sends those headers as they
// are instead, and never refuses: the example of OpenAI's guide.
type refillingOpenAI struct {
	mu       sync.Mutex
	requests refillingQuota
	tokens   refillingQuota
	cost     float64 // tokens a completion spends
	static   http.Header
	sent     []time.Duration // when each success was sent, from start
	start    time.Time
}

func (u *refillingOpenAI) upstream() *upstream {
	return &upstream{h: func(w http.ResponseWriter, _ *http.Request, _ int) {
		u.mu.Lock()
		defer u.mu.Unlock()
		now := time.Now()
		h := w.Header()
		h.Set("Content-Type", "application/json")
		if u.static != nil {
			for k, v := range u.static {
				h[k] = v
			}
			u.sent = append(u.sent, now.Sub(u.start))
			fmt.Fprint(w, openAICompletion)
			return
		}
		u.requests.refill(now)
		u.tokens.refill(now)
		ok := u.requests.level >= 1 && u.tokens.level >= u.cost
		if ok {
			u.requests.level--
			u.tokens.level -= u.cost
		}
		for _, q := range []struct {
			name string
			q    *refillingQuota
		}{{"requests", &u.requests}, {"tokens", &u.tokens}} {
			h.Set("X-Ratelimit-Limit-"+q.name, strconv.FormatFloat(q.q.limit, 'f', 0, 64))
			h.Set("X-Ratelimit-Remaining-"+q.name, strconv.FormatFloat(math.Floor(q.q.level), 'f', 0, 64))
			h.Set("X-Ratelimit-Reset-"+q.name, q.q.untilFull())
		}
		if !ok {
			h.Set("Retry-After-Ms", strconv.FormatInt(u.requests.untilOne().Milliseconds(), 10))
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"error":{"message":"Rate limit reached for requests","type":"requests","code":"rate_limit_exceeded"}}`)
			return
		}
		u.sent = append(u.sent, now.Sub(u.start))
		fmt.Fprint(w, openAICompletion)
	}}
}

// callsFor makes completions one after the other for d, and returns the
// instants the upstream served them at and its throttles.
func (u *refillingOpenAI) callsFor(t *testing.T, d time.Duration) (sent []time.Duration, attempts, throttled int) {
	t.Helper()
	up := u.upstream()
	c := openAIClient(t, up, 0)
	u.mu.Lock()
	u.start = time.Now()
	u.requests.at, u.tokens.at = u.start, u.start
	u.mu.Unlock()
	deadline := u.start.Add(d)
	for time.Now().Before(deadline) {
		_ = complete(c)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	attempts, throttled = up.counts()
	var in []time.Duration
	for _, s := range u.sent {
		if s < d {
			in = append(in, s)
		}
	}
	return in, attempts, throttled
}

// allowed is how many completions a refilling limit of limit a minute,
// level units full at the start, serves in d to a caller that sends as soon
// as a unit is there.
func allowed(limit, level float64, d time.Duration) int {
	return int(math.Floor(level + limit/60*d.Seconds()))
}

// openai-go through the "openai" integration against quotas that refill
// as OpenAI's do. Read as fixed windows, as they were, the same headers let
// 1 completion through in 12 s where the upstream allowed 9, held a retry
// 61 s after a 429 that said retry-after-ms 2000, and cut OpenAI's own
// example headers to 7 completions in 16 s.
func TestOpenAIRefillingQuota(t *testing.T) {
	t.Run("3 of 30 left", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			u := &refillingOpenAI{requests: refillingQuota{limit: 30, level: 3}, tokens: refillingQuota{limit: 1e6, level: 1e6}, cost: 6}
			sent, attempts, throttled := u.callsFor(t, 12*time.Second)
			allow := allowed(30, 3, 12*time.Second)
			t.Logf("3 of 30 a minute left: %d completions in 12 s (the upstream allows %d), %d attempts, %d throttled",
				len(sent), allow, attempts, throttled)
			// The units left are spent evenly with those that refill, not
			// in a burst: 2 of the 9 are given up for that.
			if len(sent) < allow-2 || throttled != 0 {
				t.Errorf("%d completions, %d throttled; want at least %d and none", len(sent), throttled, allow-2)
			}
		})
	})
	t.Run("after a 429 with retry-after-ms", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			u := &refillingOpenAI{requests: refillingQuota{limit: 30, level: 0}, tokens: refillingQuota{limit: 1e6, level: 1e6}, cost: 6}
			sent, attempts, throttled := u.callsFor(t, 70*time.Second)
			allow := allowed(30, 0, 70*time.Second)
			if len(sent) == 0 {
				t.Fatalf("no completion in 70 s, %d attempts, %d throttled", attempts, throttled)
			}
			t.Logf("empty, 30 a minute: first completion at %v (retry-after-ms 2000), %d in 70 s (allowed %d), %d attempts, %d throttled",
				sent[0], len(sent), allow, attempts, throttled)
			if sent[0] != 2*time.Second {
				t.Errorf("the retry was served at %v, want 2s, as retry-after-ms said", sent[0])
			}
			if len(sent) < allow-1 || throttled != 1 {
				t.Errorf("%d completions, %d throttled; want at least %d and only the first", len(sent), throttled, allow-1)
			}
		})
	})
	t.Run("the guide's example headers", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// https://platform.openai.com/docs/guides/rate-limits: 59 of 60
			// requests and 149,984 of 150,000 tokens left. Its 6m0s does not
			// fit 16 tokens used; plenty is left whatever the reset says.
			static := http.Header{}
			for k, v := range map[string]string{
				"X-Ratelimit-Limit-Requests": "60", "X-Ratelimit-Limit-Tokens": "150000",
				"X-Ratelimit-Remaining-Requests": "59", "X-Ratelimit-Remaining-Tokens": "149984",
				"X-Ratelimit-Reset-Requests": "1s", "X-Ratelimit-Reset-Tokens": "6m0s",
			} {
				static.Set(k, v)
			}
			with, _, _ := (&refillingOpenAI{static: static}).callsFor(t, 16*time.Second)
			without, _, _ := (&refillingOpenAI{static: http.Header{}}).callsFor(t, 16*time.Second)
			t.Logf("the guide's example headers: %d completions in 16 s; no headers: %d", len(with), len(without))
			if len(with) != len(without) {
				t.Errorf("%d completions with headers that show plenty, %d without: they slowed the policy", len(with), len(without))
			}
		})
	})
}
