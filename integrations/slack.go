package integrations

import (
	"net/http"
	"strings"
	"time"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// slackDefaultWait is what slack-go waits on a 429 without Retry-After
// (APIS.md).
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
		return s, true
	}))
}

// SlackMethodKey returns the Web API method a request calls, the {method}
// of /api/{method} ("chat.postMessage"), to key a limiter per method: Slack
// counts each method against its own tier. It returns "" for a path without
// one, so that such requests share one limiter.
func SlackMethodKey(req *http.Request) string {
	if req == nil || req.URL == nil {
		return ""
	}
	_, method, ok := strings.Cut(req.URL.Path, "/api/")
	if !ok {
		return ""
	}
	method, _, _ = strings.Cut(method, "/")
	return method
}

// Slack's documented minimum rates per tier, in calls per minute (APIS.md:
// "T1 1+/min, T2 20+/min, T3 50+/min, T4 100+/min"). No well-known method
// is in tier 1.
const (
	slackTier2 = 20
	slackTier3 = 50
	slackTier4 = 100
	// chat.postMessage is "special": about one message per second per
	// channel (APIS.md).
	slackSpecialPostMessage = 60
)

// slackTiers holds the tiers of well-known methods. The tiers marked
// unverified are from Slack's method reference pages, not from APIS.md, and
// Slack moves methods between tiers.
var slackTiers = map[string]float64{
	"chat.postMessage": slackSpecialPostMessage,
	// Tier 3 (unverified). APIS.md: new non-Marketplace apps get 1/min on
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
// in calls per minute: 60 for chat.postMessage (about 1/s per channel), 50
// for conversations.history and conversations.replies (tier 3), 20 for
// conversations.list, users.list and files.upload (tier 2), 100 for
// auth.test (tier 4), and the tier-2 rate of 20 for any other method, the
// tier most methods are in. The tiers' rates are from APIS.md; which tier a
// method other than chat.postMessage is in is from Slack's method reference
// and unverified. Slack's tiers are minimums ("20+"), so these rates are
// safe starting points that the limiter may raise.
func SlackTier(method string) (perMinute float64) {
	if r, ok := slackTiers[method]; ok {
		return r
	}
	return slackTier2
}
