package integrations

import (
	"time"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

// zapierCooldown is the pause Zapier imposes after a 429 (APIS.md).
const zapierCooldown = 60 * time.Second

// ZapierClassifier returns the Classifier for Zapier's workflow API: a 429
// is Throttled with a RetryAfter of at least 60 s, HasRetryAfter set,
// because Zapier answers a 429 with a 60 s cooldown and no header to say so
// (APIS.md). Everything else is what [signal.HTTP] says.
//
// A nil clk means clock.Real.
func ZapierClassifier(clk clock.Clock) signal.Classifier {
	return throttleWait(signal.HTTP{Clock: clk}, zapierCooldown)
}
