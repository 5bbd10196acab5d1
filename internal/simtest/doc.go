// Package simtest is a deterministic discrete-event simulator that drives
// the real dynlimit Limiter, policies and classifiers against models of
// upstream APIs, on simulated time.
//
// A [Scenario] describes an upstream (a hidden token bucket or a fixed
// window, a limit that changes over time, outages, latency, Retry-After or
// not, a penalty box) and the clients that call it (closed-loop workers or
// Poisson arrivals), each with its own limiter. [Run] plays it and returns a
// [Result]: goodput against the upstream's capacity, the throttled share,
// failed requests, caller latency, rate decreases, how fast the limiter
// reacts to a drop and to a raise, fairness across clients, the requests
// sent inside a Retry-After, and the rate trace.
//
// Nothing in the hot loop starts a goroutine or reads the wall clock, and
// all randomness comes from the scenario's seed: the same scenario and seed
// give byte-identical results.
package simtest
