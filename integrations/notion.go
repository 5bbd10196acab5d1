package integrations

import (
	"net/http"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

// NotionClassifier returns the Classifier for the Notion API
// (https://api.notion.com): 429 rate_limited and 529 service_overload are
// both Throttled, as Notion's page (https://developers.notion.com/reference/request-limits) lists them and notion-sdk-js retries both on
// every method. Retry-After, in whole seconds, is read by [signal.HTTP];
// 500, 502, 503 and 504 are Overloaded.
//
// A nil clk means clock.Real.
func NotionClassifier(clk clock.Clock) signal.Classifier {
	base := signal.HTTP{
		Clock:     clk,
		Throttled: append(signal.DefaultThrottled(), status529),
	}
	// A 429 rate_limited was not acted on; a 529 service_overload may
	// have been, and is not marked.
	return signal.ClassifierFunc(func(resp *http.Response, err error) signal.Signal {
		return unprocessed(base.Classify(resp, err), http.StatusTooManyRequests)
	})
}
