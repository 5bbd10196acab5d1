package integrations

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/signal"
)

// zapierCooldown is the pause Zapier imposes after a 429 (https://docs.zapier.com/powered-by-zapier/api-reference/rate-limiting).
const zapierCooldown = 60 * time.Second

// ZapierClassifier returns the Classifier for Zapier's workflow API: a 429
// is Throttled with a RetryAfter of at least 60 s, HasRetryAfter set,
// because Zapier answers a 429 with a 60 s cooldown and no header to say so
// (https://docs.zapier.com/powered-by-zapier/api-reference/rate-limiting). Everything else is what [signal.HTTP] says.
//
// A nil clk means clock.Real.
func ZapierClassifier(clk clock.Clock) signal.Classifier {
	return throttleWait(signal.HTTP{Clock: clk}, zapierCooldown)
}

// ZapierRoute names the route of a Zapier request in events, logs,
// metrics, spans and errors. A webhook's URL holds its secret in the path,
// https://hooks.zapier.com/hooks/catch/{account}/{hook}/, so every segment
// after /hooks/{kind} becomes {}, whatever its shape:
// /hooks/catch/{}/{}. Anything else is what httpadapter.RouteTemplate
// says.
func ZapierRoute(req *http.Request) string {
	if req == nil || req.URL == nil {
		return "/"
	}
	rest, ok := strings.CutPrefix(strings.TrimLeft(req.URL.Path, "/"), "hooks/")
	if !ok {
		return httpadapter.RouteTemplate(req)
	}
	kind, rest, _ := strings.Cut(strings.TrimLeft(rest, "/"), "/")
	if kind == "" {
		return "/hooks"
	}
	return keepFirst("/hooks", kind, rest)
}

// ZapierSecretPath reports whether u's path holds a secret: a Zapier
// webhook's, under /hooks/. The zapier configuration's SecretPath: url.full
// then records [ZapierRoute] in place of the path.
func ZapierSecretPath(u *url.URL) bool {
	return u != nil && strings.HasPrefix(strings.TrimLeft(u.Path, "/"), "hooks/")
}

// keepFirst is the route of a path under prefix whose first segment names
// a kind of resource and whose every later segment is an id or a secret:
// prefix, then first (or {} when it looks like an id itself), then {} for
// each non-empty segment of rest.
func keepFirst(prefix, first, rest string) string {
	route := prefix + "/" + first
	if httpadapter.VariableSegment(first) {
		route = prefix + "/{}"
	}
	for seg := range strings.SplitSeq(rest, "/") {
		if seg != "" {
			route += "/{}"
		}
	}
	return route
}
