package otelbridge

import (
	"context"

	"github.com/dynlimit/dynlimit"
)

// observer records a limiter's events.
type observer struct{ b *Bridge }

func (o observer) Observe(e dynlimit.Event) {
	ctx := context.Background()
	switch e.Kind {
	case dynlimit.EventOutcome:
		o.b.permits.Add(ctx, 1, o.b.limiterSeries(e.Limiter, e.Signal.Kind.String()))
	case dynlimit.EventRejected:
		o.b.permits.Add(ctx, 1, o.b.limiterSeries(e.Limiter, ResultRejected))
	case dynlimit.EventRateChange:
		if e.State.Rate < e.Prev.Rate {
			o.b.decreases.Add(ctx, 1, o.b.limiterSeries(e.Limiter, ""))
		}
	}
}
