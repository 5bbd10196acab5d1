package httpadapter

import (
	"math"
	"net/http"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/signal"
)

// CostFunc estimates how many units of a second budget a request will
// spend: an LLM API's tokens, a GraphQL API's query points. It runs once
// per request, before the first attempt, and must not consume req.Body: a
// body it needs is read through req.GetBody (see [LLMTokenCost]). A result
// that is not a positive number means the request spends nothing from the
// budget.
type CostFunc func(req *http.Request) float64

// costBudget is the second budget a Transport paces by: a limiter whose
// tokens are the upstream's units, and how to price a request in them.
type costBudget struct {
	lim  *dynlimit.Limiter
	cost CostFunc
}

// WithCost makes the Transport pace each request by a second budget as well
// as by its own limiter: before every attempt it also waits for the
// request's cost, as estimated by cost, in lim's tokens. This is how an
// upstream that limits requests and tokens together (OpenAI, Anthropic) is
// paced: lim's rate is in tokens per second.
//
// After each attempt, lim learns from the response's token quota
// (signal.Signal.TokenQuota, from the x-ratelimit-*-tokens or
// anthropic-ratelimit-*-tokens headers) as the Transport's limiter learns
// from the request quota: the remaining tokens, spent evenly until the
// reset, reconcile the estimate with what the upstream counted. A throttle
// the headers blame on one budget alone (its remaining is 0 and the other's
// is not) slows that budget only; the other sees it as [signal.Failed],
// which leaves a rate alone. Without such headers a throttle slows both.
//
// A cost above lim's burst is capped at the burst (a request that big would
// never get a permit otherwise); a cost of a fraction of a unit is rounded
// up. lim may be shared by several Transports, as the budget it stands for
// is; a Transport per key of a [KeyedTransport] shares one.
func WithCost(lim *dynlimit.Limiter, cost CostFunc) Option {
	return optionFunc(func(c *config) error {
		if lim == nil {
			return &OptionError{Name: "WithCost", Value: "nil limiter", Reason: "must be a *dynlimit.Limiter"}
		}
		if cost == nil {
			return &OptionError{Name: "WithCost", Value: "nil CostFunc", Reason: "must be a function"}
		}
		c.cost = &costBudget{lim: lim, cost: cost}
		return nil
	})
}

// units returns the number of lim's tokens req is priced at: 0 when it
// spends nothing, else at least 1 and at most the burst.
func (b *costBudget) units(req *http.Request) int {
	x := b.cost(req)
	if !(x > 0) { // NaN too
		return 0
	}
	x = math.Min(x, 1<<30) // within an int, whatever the burst
	burst := math.Floor(b.lim.Burst())
	if burst < 1 {
		burst = math.Ceil(x) // a policy that allows no burst: let WaitN judge
	}
	return int(math.Max(1, math.Min(math.Ceil(x), burst)))
}

// splitCost returns what the Transport's limiter and the cost budget learn
// from sig: each its own quota, and a throttle that the headers blame on the
// other budget alone as a failure that says nothing about its capacity.
func splitCost(sig signal.Signal) (req, cost signal.Signal) {
	req, cost = sig, sig
	req.TokenQuota = signal.Quota{}
	cost.Quota, cost.TokenQuota = sig.TokenQuota, signal.Quota{}
	if sig.Kind != signal.Throttled {
		return req, cost
	}
	tokens, requests := sig.TokenQuota.Exhausted(), sig.Quota.Exhausted()
	switch {
	case tokens && !requests && sig.Quota.HasRemaining:
		req = notThrottled(req)
	case requests && !tokens && sig.TokenQuota.HasRemaining:
		cost = notThrottled(cost)
	}
	return req, cost
}

// notThrottled turns a throttle that was about another budget into a
// failure with no pause.
func notThrottled(s signal.Signal) signal.Signal {
	s.Kind, s.RetryAfter, s.HasRetryAfter = signal.Failed, 0, false
	return s
}
