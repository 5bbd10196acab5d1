package otelbridge

import (
	"context"

	"go.opentelemetry.io/otel/metric"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/breaker"
)

// RegisterLimiter adds l to the limiters whose rate, tokens and permits in
// flight the gauges report, under l's name, each time metrics are
// collected. Register a limiter once.
func (b *Bridge) RegisterLimiter(l *dynlimit.Limiter) {
	if l == nil {
		return
	}
	b.mu.Lock()
	b.limiters[l] = struct{}{}
	b.mu.Unlock()
}

// RegisterGroup adds every limiter a group keeps, at collection time, to
// the gauges, each under its key. A group keyed by tenant or by endpoint
// makes one time series per key: register groups whose keys are few (Slack
// methods), not those keyed by tenant.
func (b *Bridge) RegisterGroup(g *dynlimit.Group) {
	if g == nil {
		return
	}
	b.mu.Lock()
	b.groups[g] = struct{}{}
	b.mu.Unlock()
}

// RegisterBreaker adds br to the breakers whose state the breaker gauge
// reports, under br's name.
func (b *Bridge) RegisterBreaker(br *breaker.Breaker) {
	if br == nil {
		return
	}
	b.mu.Lock()
	b.breakers[br] = struct{}{}
	b.mu.Unlock()
}

// Unregister removes a limiter, group or breaker from the gauges.
func (b *Bridge) Unregister(x any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch v := x.(type) {
	case *dynlimit.Limiter:
		delete(b.limiters, v)
	case *dynlimit.Group:
		delete(b.groups, v)
	case *breaker.Breaker:
		delete(b.breakers, v)
	}
}

// observe reports the gauges.
func (b *Bridge) observe(_ context.Context, o metric.Observer) error {
	// The lists are copied under the lock and read outside it: a snapshot
	// of a shared bucket is a call to Redis.
	b.mu.Lock()
	lims := make([]*dynlimit.Limiter, 0, len(b.limiters))
	for l := range b.limiters {
		lims = append(lims, l)
	}
	groups := make([]*dynlimit.Group, 0, len(b.groups))
	for g := range b.groups {
		groups = append(groups, g)
	}
	brs := make([]*breaker.Breaker, 0, len(b.breakers))
	for br := range b.breakers {
		brs = append(brs, br)
	}
	b.mu.Unlock()
	snaps := make([]dynlimit.Snapshot, 0, len(lims))
	for _, l := range lims {
		snaps = append(snaps, l.Snapshot())
	}
	for _, g := range groups {
		snaps = append(snaps, g.Snapshots()...)
	}
	for _, s := range snaps {
		if s.Err != nil {
			continue
		}
		attrs := b.limiterSeries(s.Name, "")
		o.ObserveFloat64(b.rate, effectiveRate(s), attrs)
		o.ObserveFloat64(b.tokens, s.Tokens, attrs)
		o.ObserveInt64(b.inFlight, s.InFlight, attrs)
	}
	for _, br := range brs {
		o.ObserveInt64(b.brkState, stateValue(br.State()), metric.WithAttributes(BreakerKey.String(br.Name())))
	}
	return nil
}

// effectiveRate is the rate in force: the upstream quota's while it is
// lower than the policy's and its window has not passed.
func effectiveRate(s dynlimit.Snapshot) float64 {
	if s.QuotaRate > 0 && s.QuotaRate < s.Rate && s.Time.Before(s.QuotaUntil) {
		return s.QuotaRate
	}
	return s.Rate
}

// stateValue orders the states by severity: 0 closed, 1 half-open, 2 open.
func stateValue(s breaker.State) int64 {
	switch s {
	case breaker.HalfOpen:
		return 1
	case breaker.Open:
		return 2
	}
	return 0
}
