package integrations

import (
	"maps"
	"slices"

	"github.com/dynlimit/dynlimit/policy"
)

// How the built-ins' numbers were chosen where an API publishes none, so
// that they are comparable across APIs:
//
//   - the growth is policy.DefaultAIMD's, which depends on time in use
//     and on the rate, not on a step per success: the same curve serves an
//     API at one request a minute and one at a hundred a second.
//   - max_rate leaves room above a documented limit to find a raised one,
//     except where a throttle costs a long penalty (Airtable, Zapier) or the
//     limit is a hard bucket (Shopify): there it is the limit itself.
//   - min_rate is 0.1 requests/s, or one a minute for APIs whose documented
//     limits go that low.
//   - burst is the documented one, else the rate rounded, at least 1.
//   - max_in_flight is set only where the vendor says the API caps
//     concurrency.
//
// The rest keep policy.DefaultAIMD's values: ×0.8 on a throttle, a pause of
// 1.5 intervals after a throttle without Retry-After, slow start, the climb
// back to the limit found and the probe past it.
func builtinAIMD(rate, burst, minRate, maxRate float64) policy.AIMD {
	a := policy.DefaultAIMD()
	a.Rate, a.Burst, a.MinRate, a.MaxRate = rate, burst, minRate, maxRate
	return a
}

const oneAMinute = 1.0 / 60

// builtin returns the built-in configurations, made afresh so that no
// caller can change another's.
func builtin() []Config {
	defaults := Default()
	cfg := func(c Config) Config {
		if c.PolicyName == "" {
			c.PolicyName = defaults.PolicyName
		}
		if c.CUBIC == (CUBICParams{}) {
			c.CUBIC = defaults.CUBIC
		}
		if c.BackoffStatusCodes == nil {
			c.BackoffStatusCodes = defaults.BackoffStatusCodes
		}
		if c.OverloadStatusCodes == nil {
			c.OverloadStatusCodes = defaults.OverloadStatusCodes
		}
		if c.MaxRetriesOnBackoff == 0 {
			c.MaxRetriesOnBackoff = defaults.MaxRetriesOnBackoff
		}
		if c.MaxWaitSec == 0 {
			c.MaxWaitSec = defaults.MaxWaitSec
		}
		if c.MaxPauseSec == 0 {
			c.MaxPauseSec = defaults.MaxPauseSec
		}
		return c.clone()
	}
	return []Config{
		cfg(Config{
			Name:               "notion",
			Classifier:         NotionClassifier,
			BaseURL:            "https://api.notion.com",
			AIMD:               builtinAIMD(3, 3, 0.1, 6),
			BackoffStatusCodes: []int{429, 529},
			Source: "https://developers.notion.com/reference/request-limits: about 3 requests/s on average, short bursts allowed (rate 3, burst 3); " +
				"429 rate_limited and 529 service_overload both throttle, as notion-sdk-js retries both; " +
				"Retry-After in whole seconds. Ours: max_rate 6 (twice the average). " +
				"The per-workspace limit shared by every connection is not published. A 429 was not acted on: a POST is retried (Unprocessed); a 529 is not marked.",
		}),
		cfg(Config{
			Name:    "vanta",
			BaseURL: "https://api.vanta.com",
			AIMD:    builtinAIMD(20*oneAMinute, 1, oneAMinute, 100*oneAMinute),
			Source: "https://developer.vanta.com/reference/overview: 100 requests/min per OAuth client in older docs (max_rate 1.67/s); per endpoint group " +
				"20/min for integrations, 50/min management, 250/min auditor, 10/min auditor writes (all unverified): " +
				"the rate starts at the lowest, 20/min, with one limiter since the groups' paths are not documented. " +
				"/oauth/token allows 5/min for all APIs together: cache tokens. A token refresh revokes in-flight " +
				"tokens; the 401s that follow are failures, not throttles. Gov cloud: https://api.vanta-gov.com.",
		}),
		cfg(Config{
			Name:                "fieldguide",
			BaseURL:             "https://api.fieldguide.io",
			AIMD:                builtinAIMD(2, 2, 0.1, 10),
			BackoffStatusCodes:  []int{429, 503},
			OverloadStatusCodes: []int{500, 502, 504},
			Source: "no published limit (Fieldguide's API documentation names none); 429 and 503 throttle; Retry-After if sent. " +
				"Ours (unverified): rate 2/s, burst 2, max_rate 10/s.",
		}),
		cfg(Config{
			Name:             "airtable",
			Classifier:       AirtableClassifier,
			BaseURL:          "https://api.airtable.com",
			AIMD:             builtinAIMD(5, 5, 0.1, 5),
			Key:              KeyBase,
			MinRetryAfterSec: 30,
			Source: "https://airtable.com/developers/web/api/rate-limits: 5 requests/s per base (rate, burst, and max_rate: a throttle costs 30 s, " +
				"so the limiter never probes above the limit), one limiter per base (paths /v0/{baseId}/...); " +
				"after a 429 the caller must wait 30 s (min_retry_after_sec); no rate-limit headers. " +
				"The 50 requests/s per user over all bases is not enforced here.",
		}),
		cfg(Config{
			Name:             "zapier",
			Classifier:       ZapierClassifier,
			Route:            ZapierRoute,
			SecretPath:       ZapierSecretPath,
			AIMD:             builtinAIMD(1, 1, oneAMinute, 1),
			MinRetryAfterSec: 60,
			Source: "https://docs.zapier.com/powered-by-zapier/api-reference/rate-limiting: 60 requests/min per IP (rate 1/s; max_rate 1/s: a throttle costs 60 s) and " +
				"150/min per partner; after a 429 a 60 s cooldown (min_retry_after_sec). " +
				"Zapier's page names no base URL for the workflow API: set base_url, or use absolute URLs.",
		}),
		cfg(Config{
			Name:       "slack",
			Classifier: SlackClassifier,
			KeyPolicy:  SlackKeyPolicy,
			Route:      SlackRoute,
			SecretPath: SlackSecretPath,
			BaseURL:    "https://slack.com/api",
			AIMD:       builtinAIMD(20*oneAMinute, 1, oneAMinute, 100*oneAMinute),
			Key:        KeyMethod,
			Source: "https://api.slack.com/apis/rate-limits: limits per method tier, T1 1+/min, T2 20+/min, T3 50+/min, T4 100+/min: one limiter " +
				"per method, starting at tier 2's 20/min (most methods), between tier 1's 1/min (min_rate) and " +
				"tier 4's 100/min (max_rate); Retry-After in seconds. chat.postMessage allows about 1/s per " +
				"channel; new non-Marketplace apps get 1/min on conversations.history and .replies. " +
				"Limits are per app and workspace: one client per workspace token. Only real method names key a limiter: " +
				"incoming webhooks (hooks.slack.com/services/{team}/{bot}/{secret}) share the key \"webhook\", at " +
				"Slack's one message per second (https://api.slack.com/apis/rate-limits), and their routes are " +
				"/services/{}/{}/{}; any other path shares \"other\". A call refused with 429 was not run: every Web API call is a POST, and it is retried (SlackClassifier marks it Unprocessed).",
		}),
		cfg(Config{
			Name:             "github",
			Classifier:       GitHubClassifier,
			BaseURL:          "https://api.github.com",
			AIMD:             builtinAIMD(5000.0/3600, 10, oneAMinute, 15000.0/3600),
			MaxInFlight:      10,
			MinRetryAfterSec: 60,
			Source: "https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api: primary limit 5,000 requests/h per user token (rate 1.39/s), 15,000/h on Enterprise " +
				"Cloud (max_rate 4.17/s), 60/h unauthenticated (min_rate 1/min); x-ratelimit-* headers with epoch " +
				"resets pace by the remaining quota. Secondary limits: at most 100 concurrent requests (burst and " +
				"max_in_flight 10, as octokit's throttling plugin), and without retry-after a 60 s wait " +
				"(min_retry_after_sec), as octokit. A 403 throttles only under GitHub's documented conditions (remaining 0, a retry-after, or a secondary-limit message), " +
				"which status lists cannot express: GitHubClassifier applies them. A request refused for a rate limit, primary or secondary, was not acted on: a POST is retried (Unprocessed).",
		}),
		cfg(Config{
			Name:                "openai",
			Classifier:          OpenAIClassifier,
			BaseURL:             "https://api.openai.com",
			AIMD:                builtinAIMD(1, 1, oneAMinute, 50),
			TokensPerSec:        500,
			TokenBurst:          16384,
			OverloadStatusCodes: []int{408, 409, 500, 502, 503, 504},
			Source: "https://platform.openai.com/docs/guides/rate-limits: requests and tokens per minute per project and model, set by the account's tier: " +
				"ours, a conservative 1 request/s start (max_rate 50/s) that the x-ratelimit-*-requests headers " +
				"pace; 429 throttles; 408, 409 and 5xx are retried (overload_status_codes), as openai-python does. " +
				"OpenAIClassifier: insufficient_quota is final, x-should-retry decides. Tokens: 30,000 per minute, the " +
				"lowest tier's figure for the large models (tokens_per_sec 500), a burst of 16,384 (one long completion), " +
				"each request priced up front by LLMTokenCost and paced by the x-ratelimit-*-tokens headers. Both quotas refill continuously: " +
				"x-ratelimit-reset-* is the time until the bucket is full, so a quota at least half full never slows the policy and an empty one frees a unit in reset/limit; " +
				"retry-after-ms decides a retry. A 429 for the rate limits was not processed: a POST (a completion) is retried (Unprocessed); insufficient_quota is not.",
		}),
		cfg(Config{
			Name:               "anthropic",
			Classifier:         AnthropicClassifier,
			BaseURL:            "https://api.anthropic.com",
			AIMD:               builtinAIMD(1, 1, oneAMinute, 50),
			TokensPerSec:       500,
			TokenBurst:         16384,
			BackoffStatusCodes: []int{429, 529},
			Source: "https://docs.anthropic.com/en/api/rate-limits: requests and tokens per minute per model, no figures: ours, a conservative " +
				"1 request/s start (max_rate 50/s); 429 and 529 throttle; retry-after honoured. The " +
				"anthropic-ratelimit-* headers (RFC 3339 resets, unverified) pace (AnthropicClassifier). Tokens: ours, " +
				"30,000 per minute (tokens_per_sec 500), a burst of 16,384; each request priced up front by " +
				"LLMTokenCost (max_tokens is required there) and paced by the anthropic-ratelimit-tokens-* headers. " +
				"Anthropic's limits are token buckets that refill continuously: a reset is when the bucket is full again, not a window's end.",
		}),
		cfg(Config{
			Name:        "stripe",
			Classifier:  StripeClassifier,
			BaseURL:     "https://api.stripe.com",
			AIMD:        builtinAIMD(25, 10, 1, 100),
			MaxInFlight: 20,
			Source: "https://docs.stripe.com/rate-limits: 100 operations/s in live mode (max_rate), 25/s in test mode and 25/s per endpoint " +
				"by default (rate 25: right for test keys and single endpoints; live traffic over many endpoints " +
				"climbs to its limit), plus a concurrency limiter with no published figure (max_in_flight 20, " +
				"ours; burst 10, ours). 429 throttles; Stripe-Should-Retry decides (StripeClassifier). Stripe-Should-Retry: true marks the retry safe, POST or not (Unprocessed).",
		}),
		cfg(Config{
			Name:       "hubspot",
			Classifier: HubSpotClassifier,
			BaseURL:    "https://api.hubapi.com",
			AIMD:       builtinAIMD(10, 10, 0.1, 20),
			Source: "https://developers.hubspot.com/docs/api/usage-details: 100 to 200 requests per 10 s by tier, 100 for OAuth apps (rate 10/s, burst 10, " +
				"max_rate 20/s), plus a daily cap: a 429 with policyName DAILY, final until the next day, " +
				"is final (HubSpotClassifier); X-HubSpot-RateLimit-* headers pace.",
		}),
		cfg(Config{
			Name:       "shopify",
			Classifier: ShopifyClassifier,
			AIMD:       builtinAIMD(2, 40, 0.1, 2),
			Key:        KeyHost,
			Source: "https://shopify.dev/docs/api/usage/rate-limits: REST Admin API leaky bucket of 40 requests leaking 2/s per app and store (burst 40, " +
				"rate and max_rate 2/s: raise both on plans with a larger bucket); Retry-After honoured; " +
				"X-Shopify-Shop-Api-Call-Limit (32/40) is a quota hint on a bucket that leaks continuously: a full bucket frees a call in 0.5 s (ShopifyClassifier). The base URL is per store, " +
				"https://{shop}.myshopify.com/admin/api/{version}: set base_url or use absolute URLs; " +
				"key \"host\" gives each store its own limiter.",
		}),
		cfg(Config{
			Name:                "jira",
			Classifier:          JiraClassifier,
			AIMD:                builtinAIMD(2, 2, 0.1, 10),
			BackoffStatusCodes:  []int{429, 503},
			OverloadStatusCodes: []int{500, 502, 504},
			Key:                 KeyEndpoint,
			Source: "https://developer.atlassian.com/cloud/jira/platform/rate-limiting/: adaptive, points-based limits with no fixed figure, per tenant, endpoint and method " +
				"(key \"endpoint\"): ours, a conservative 2 requests/s per endpoint, burst 2, max_rate 10/s; " +
				"429 and 503 throttle; Retry-After in seconds; X-RateLimit-Reset (ISO 8601) paces " +
				"(JiraClassifier). The base URL is per site, https://{site}.atlassian.net: set base_url or " +
				"use absolute URLs.",
		}),
		cfg(Config{
			Name:        "twilio",
			Classifier:  TwilioClassifier,
			BaseURL:     "https://api.twilio.com",
			AIMD:        builtinAIMD(5, 5, 0.1, 50),
			MaxInFlight: 10,
			Source: "https://www.twilio.com/docs/api/errors/20429: a concurrency cap per account, no published rate, no rate-limit headers: ours, " +
				"max_in_flight 10 (raise it to the account's cap), rate 5/s, burst 5, max_rate 50/s. " +
				"A 429 (error 20429) was never processed: TwilioClassifier marks it Unprocessed and a POST is retried after it.",
		}),
		cfg(Config{
			Name:             "google",
			Classifier:       GoogleClassifier,
			AIMD:             builtinAIMD(1, 1, oneAMinute, 10),
			Key:              KeyHost,
			MinRetryAfterSec: 30,
			Source: "https://cloud.google.com/service-usage/docs/troubleshooting: per-quota limits per project and API, no single figure: ours, a conservative " +
				"1 request/s per API host (max_rate 10/s); a 429 waits at least 30 s (min_retry_after_sec); " +
				"500 and 503 should wait at least 1 s, which the backoff's first retry may undercut. Base URLs " +
				"differ per API (https://sheets.googleapis.com, https://www.googleapis.com/drive/v3): set base_url " +
				"or use absolute URLs; key \"host\" gives each API host its own limiter.",
		}),
	}
}

// Builtin returns the built-in configurations keyed by name: notion, vanta,
// fieldguide, airtable, zapier, slack, github, openai, anthropic, stripe,
// hubspot, shopify, jira, twilio and google. Each call returns a new map of
// new Configs, which the caller may change. docs/integrations.md tabulates
// them with the source of every number.
func Builtin() map[string]Config {
	cs := builtin()
	m := make(map[string]Config, len(cs))
	for _, c := range cs {
		m[c.Name] = c
	}
	return m
}

// Get returns the built-in configuration of name.
func Get(name string) (Config, bool) {
	for _, c := range builtin() {
		if c.Name == name {
			return c, true
		}
	}
	return Config{}, false
}

// Names returns the names of configs, sorted: the integrations a client can
// be made for (the original list_available_integrations).
func Names(configs map[string]Config) []string {
	return slices.Sorted(maps.Keys(configs))
}
