package signal

import (
	"net/http"
	"time"

	"github.com/dynlimit/dynlimit/internal/sfv"
)

// policy is one item of a RateLimit-Policy field.
type policy struct {
	name     string
	quota    float64
	requests bool // the quota counts requests, not bytes or concurrency
}

// parseRateLimitList reads the RateLimit field as a Structured Field List of
// service limits (draft -08 and later, -11 being the reference).
func parseRateLimitList(h http.Header, now time.Time) (Quota, bool) {
	vs := h[hdrRateLimit]
	if len(vs) == 0 {
		return Quota{}, false
	}
	list, err := sfv.ParseList(vs)
	if err != nil || len(list) == 0 {
		return Quota{}, false
	}
	var (
		policies       []policy
		policiesParsed bool
		best           Quota
		found          bool
	)
	for _, m := range list {
		it, ok := m.(sfv.Item)
		if !ok {
			continue
		}
		name, ok := sfName(it.Value)
		if !ok {
			continue
		}
		r, ok := sfParam(it.Params, "r")
		if !ok {
			continue
		}
		var q Quota
		q.setRemaining(r)
		if t, ok := sfParam(it.Params, "t"); ok {
			q.Reset = resetFromNumber(t, now, ResetAuto)
		}
		if !policiesParsed {
			policies, policiesParsed = parsePolicies(h), true
		}
		if p, ok := findPolicy(policies, name); ok {
			if !p.requests {
				continue
			}
			q.Limit = p.quota
		}
		if !found || moreConstraining(q, best) {
			best, found = q, true
		}
	}
	return best, found
}

// moreConstraining reports whether a leaves less room than b: fewer units
// left, or as few but for longer.
func moreConstraining(a, b Quota) bool {
	if a.Remaining != b.Remaining {
		return a.Remaining < b.Remaining
	}
	return a.Reset > b.Reset
}

// parsePolicies reads the RateLimit-Policy field. A malformed field yields
// no policy: the limits in RateLimit are still worth having without their
// Limit.
func parsePolicies(h http.Header) []policy {
	vs := h[hdrRateLimitPolicy]
	if len(vs) == 0 {
		return nil
	}
	list, err := sfv.ParseList(vs)
	if err != nil {
		return nil
	}
	var ps []policy
	for _, m := range list {
		it, ok := m.(sfv.Item)
		if !ok {
			continue
		}
		name, ok := sfName(it.Value)
		if !ok {
			continue
		}
		q, ok := sfParam(it.Params, "q")
		if !ok || q < 0 {
			continue
		}
		p := policy{name: name, quota: q, requests: true}
		if u, ok := it.Params.Get("qu"); ok {
			unit, ok := sfName(u)
			p.requests = ok && (unit == "requests" || unit == "request")
		}
		ps = append(ps, p)
	}
	return ps
}

// findPolicy returns the first policy called name: a server that repeats a
// name has made a mistake, and the first is as good a guess as any.
func findPolicy(ps []policy, name string) (policy, bool) {
	for _, p := range ps {
		if p.name == name {
			return p, true
		}
	}
	return policy{}, false
}

// policyOnly reads a RateLimit-Policy sent on its own. Without a RateLimit
// field to say which policy is the binding one, only a lone request policy
// is unambiguous.
func policyOnly(h http.Header) Quota {
	var (
		only Quota
		n    int
	)
	for _, p := range parsePolicies(h) {
		if p.requests {
			only.Limit = p.quota
			n++
		}
	}
	if n != 1 {
		return Quota{}
	}
	return only
}

// parseRateLimitDict reads the RateLimit field as the Structured Field
// Dictionary of draft -07: limit=100, remaining=50, reset=30.
func parseRateLimitDict(h http.Header, now time.Time) (Quota, bool) {
	vs := h[hdrRateLimit]
	if len(vs) == 0 {
		return Quota{}, false
	}
	d, err := sfv.ParseDictionary(vs)
	if err != nil {
		return Quota{}, false
	}
	var q Quota
	if l, ok := sfMember(d, "limit"); ok && l >= 0 {
		q.Limit = l
	}
	if r, ok := sfMember(d, "remaining"); ok {
		q.setRemaining(r)
	}
	if t, ok := sfMember(d, "reset"); ok {
		q.Reset = resetFromNumber(t, now, ResetAuto)
	}
	return q, q.Known()
}

// sfName returns an item's value when it is a String or a Token, the two
// forms a policy name (and a unit) may take.
func sfName(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case sfv.Token:
		return string(v), true
	}
	return "", false
}

// sfNumber returns a bare item's value when it is an Integer or a Decimal.
func sfNumber(v any) (float64, bool) {
	switch v := v.(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, finite(v)
	}
	return 0, false
}

func sfParam(p sfv.Params, key string) (float64, bool) {
	v, ok := p.Get(key)
	if !ok {
		return 0, false
	}
	return sfNumber(v)
}

func sfMember(d sfv.Dictionary, key string) (float64, bool) {
	m, ok := d.Get(key)
	if !ok {
		return 0, false
	}
	it, ok := m.(sfv.Item)
	if !ok {
		return 0, false
	}
	return sfNumber(it.Value)
}
