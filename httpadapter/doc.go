// Package httpadapter puts a dynlimit.Limiter in front of an http.Client.
//
// [Transport] is an http.RoundTripper: for each attempt it waits for a
// permit (with the request's context), sends the request through the base
// transport, classifies the outcome into a signal.Signal, reports it to the
// limiter, and retries throttled or overloaded attempts when that is safe —
// the body can be replayed and the method is idempotent, or the request
// carries an Idempotency-Key. Waits before a retry honour the upstream's
// Retry-After, else back off exponentially with jitter; no wait ever passes
// the request's deadline: the Transport fails at once with an [*Error] that
// says when to retry instead. A network error is not a throttle: an attempt
// that never reached the upstream (its name did not resolve, its connection
// was refused) fails at once with an error that matches [ErrUnreachable],
// neither retried nor slowing the limiter.
//
// Wrap an existing client's transport:
//
//	client.Transport, err = httpadapter.NewTransport(client.Transport, lim)
//
// or use [Client] for the base-URL style of the original API
// (client.Request(ctx, "GET", "/v1/databases", ...)).
package httpadapter
