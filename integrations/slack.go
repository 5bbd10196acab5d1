package integrations

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// slackDefaultWait is what slack-go waits on a 429 without Retry-After
// (https://api.slack.com/apis/rate-limits).
const slackDefaultWait = 60 * time.Second

// SlackClassifier returns the Classifier for the Slack Web API
// (https://slack.com/api/{method}): a 429 is Throttled, waiting what
// Retry-After (seconds) says or, when it is missing or malformed, 60 s as
// slack-go does, with HasRetryAfter set either way. Everything else is what
// [signal.HTTP] says.
//
// Slack's limits are per method (see [SlackTier]), so the limiter it feeds
// should be keyed by [SlackMethodKey].
//
// A nil clk means clock.Real.
func SlackClassifier(clk clock.Clock) signal.Classifier {
	base := signal.HTTP{Clock: clk}
	return signal.Chain(base, signal.RuleFunc(func(resp *http.Response, err error) (signal.Signal, bool) {
		if err != nil || resp == nil {
			return signal.Signal{}, false
		}
		s := base.Classify(resp, nil)
		if s.Kind == signal.Throttled && !s.HasRetryAfter && s.RetryAfter == 0 {
			s.RetryAfter, s.HasRetryAfter = slackDefaultWait, true
		}
		// A Web API call refused with 429 was not run
		// (https://api.slack.com/apis/rate-limits): every Web API call is
		// a POST, and it is safe to send again.
		return unprocessed(s, http.StatusTooManyRequests), true
	}))
}

// Keys of the Slack limiters that are not a Web API method's
// ([SlackMethodKey]).
const (
	// SlackWebhookKey is the key of every request to an incoming
	// webhook (https://hooks.slack.com/services/{team}/{bot}/{secret}),
	// or another hooks.slack.com URL: their paths hold their secret, so
	// they share one limiter, at Slack's one message per second.
	SlackWebhookKey = "webhook"
	// SlackOtherKey is the key of every other request: a path that names
	// no Web API method.
	SlackOtherKey = "other"
)

// SlackMethodKey returns the key of a Slack request's limiter: the Web API
// method of /api/{method} ("chat.postMessage"), as Slack counts each method
// against its own tier. Only a real method name becomes a key: a dotted
// name of words and versions, starting with a lower-case letter
// (chat.postMessage, conversations.history, oauth.v2.access), right after
// an "api" segment. A request to an incoming webhook, or any other URL on
// hooks.slack.com, gets [SlackWebhookKey]; anything else [SlackOtherKey].
// So no part of a path that may hold a secret, a webhook's above all,
// becomes a limiter's name, which logs, metrics and snapshots carry.
func SlackMethodKey(req *http.Request) string {
	if req == nil || req.URL == nil {
		return SlackOtherKey
	}
	if m, ok := slackMethod(req.URL.Path); ok {
		return m
	}
	if slackWebhook(req.URL) {
		return SlackWebhookKey
	}
	return SlackOtherKey
}

// slackMethod returns the method of a Web API path, /api/{method} with
// an optional trailing slash after any prefix.
func slackMethod(path string) (string, bool) {
	path = strings.TrimSuffix(path, "/")
	i := strings.LastIndexByte(path, '/')
	if i < 0 || !strings.HasSuffix(path[:i], "/api") && path[:i] != "api" {
		return "", false
	}
	m := path[i+1:]
	if !isSlackMethod(m) {
		return "", false
	}
	return m, true
}

// isSlackMethod reports whether m has the shape of a Web API method name:
// dotted parts, the first a lower-case word, each a name that
// httpadapter.RouteTemplate keeps.
func isSlackMethod(m string) bool {
	if !strings.Contains(m, ".") || m[0] < 'a' || m[0] > 'z' || httpadapter.VariableSegment(m) {
		return false
	}
	for i := 0; i < len(m); i++ {
		if c := m[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.') {
			return false
		}
	}
	return true
}

// slackWebhooks are the first path segments of Slack's URLs whose paths
// end in a secret: incoming webhooks, interactive response URLs, workflow
// triggers.
var slackWebhooks = []string{"/services/", "/actions/", "/triggers/", "/workflows/"}

// SlackSecretPath reports whether u's path holds a secret: a Slack
// webhook's URL (see [SlackWebhookKey]: hooks.slack.com, or a path under
// /services/, /actions/, /triggers/ or /workflows/). The slack
// configuration's SecretPath: url.full then records [SlackRoute] in place
// of the path.
func SlackSecretPath(u *url.URL) bool { return u != nil && slackWebhook(u) }

// slackWebhook reports whether u is a Slack webhook's URL.
func slackWebhook(u *url.URL) bool {
	if strings.EqualFold(u.Hostname(), "hooks.slack.com") {
		return true
	}
	for _, p := range slackWebhooks {
		if strings.HasPrefix(u.Path, p) {
			return true
		}
	}
	return false
}

// SlackRoute names the route of a Slack request in events, logs, metrics,
// spans and errors: "/api/" and the method for a Web API call (the {}
// of [httpadapter.RouteTemplate] for a path that names none), and, for a
// webhook (see [SlackWebhookKey]), its first segment followed by {} for
// every other one: /services/{}/{}/{}, whatever the shape of the team, bot
// and secret. Anything else is what httpadapter.RouteTemplate says.
func SlackRoute(req *http.Request) string {
	if req == nil || req.URL == nil {
		return "/"
	}
	p := req.URL.Path
	if m, ok := slackMethod(p); ok {
		return "/api/" + m
	}
	if slackWebhook(req.URL) {
		first, rest, _ := strings.Cut(strings.TrimLeft(p, "/"), "/")
		if first == "" {
			return "/"
		}
		return keepFirst("", first, rest)
	}
	return httpadapter.RouteTemplate(req)
}

// Slack's documented minimum rates per tier, in calls per minute (https://api.slack.com/apis/rate-limits:
// "T1 1+/min, T2 20+/min, T3 50+/min, T4 100+/min"). No well-known method
// is in tier 1.
const (
	slackTier2 = 20
	slackTier3 = 50
	slackTier4 = 100
	// chat.postMessage is "special": about one message per second per
	// channel (https://api.slack.com/apis/rate-limits).
	slackSpecialPostMessage = 60
)

// slackWebhookRate is what Slack allows a webhook: about one message per
// second, with short bursts (https://api.slack.com/apis/rate-limits).
const slackWebhookRate = 60

// slackTiers holds the tiers of well-known methods. The tiers marked
// unverified are from Slack's method reference pages, not from the rate-limit page, and
// Slack moves methods between tiers.
var slackTiers = map[string]float64{
	SlackWebhookKey:    slackWebhookRate,
	"chat.postMessage": slackSpecialPostMessage,
	// Tier 3 (unverified). Slack's page: new non-Marketplace apps get 1/min on
	// these two; such apps should override the rate.
	"conversations.history": slackTier3,
	"conversations.replies": slackTier3,
	"conversations.list":    slackTier2, // unverified
	"users.list":            slackTier2, // unverified
	"files.upload":          slackTier2, // unverified
	"auth.test":             slackTier4, // unverified
}

// SlackKeyPolicy is the slack integration's per-key policy: the limiter of a
// method starts at that method's tier (SlackTier), within base's bounds
// widened to hold it.
func SlackKeyPolicy(method string, base policy.AIMD) policy.AIMD {
	a := base
	a.Rate = SlackTier(method) / 60
	a.MinRate = min(a.MinRate, a.Rate)
	a.MaxRate = max(a.MaxRate, a.Rate)
	return a
}

// SlackTier returns the documented minimum rate of a Slack Web API method,
// in calls per minute: 60 for chat.postMessage (about 1/s per channel) and
// for the webhooks' [SlackWebhookKey] (Slack's one message per second), 50
// for conversations.history and conversations.replies (tier 3), 20 for
// conversations.list, users.list and files.upload (tier 2), 100 for
// auth.test (tier 4), and the tier-2 rate of 20 for any other method, the
// tier most methods are in. The tiers' rates are from Slack's rate-limit page; which tier a
// method other than chat.postMessage is in is from Slack's method reference
// and unverified. Slack's tiers are minimums ("20+"), so these rates are
// safe starting points that the limiter may raise.
func SlackTier(method string) (perMinute float64) {
	if r, ok := slackTiers[method]; ok {
		return r
	}
	return slackTier2
}
