// Package otelbridge records what dynlimit does as OpenTelemetry metrics and
// traces.
//
// A [Bridge] is made once, from a MeterProvider and a TracerProvider (the
// global ones by default), and plugged in at three places:
//
//   - [Bridge.Observer], a dynlimit.Observer for limiters: permit outcomes
//     and rate decreases;
//   - [Bridge.TransportOption], an httpadapter option: requests by result,
//     permit waits, retries, and a span per logical request with a child
//     span per permit wait and a client span per attempt (with
//     http.request.resend_count on resends); optionally the standard
//     http.client.request.duration;
//   - [Bridge.RegisterLimiter], [Bridge.RegisterGroup] and
//     [Bridge.RegisterBreaker]: gauges of the current rate, tokens, permits
//     in flight and circuit state, read when the metrics are collected.
//
// Every attribute has few values: the limiter's and the integration's names,
// the HTTP method, the server's host, the route template, the result. No URL
// with its query, no header and no tenant (unless [WithTenantAttribute]) is
// recorded. docs/metrics.md lists every instrument.
package otelbridge
