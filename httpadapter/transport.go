package httpadapter

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/breaker"
	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

// Transport is an http.RoundTripper that paces requests with a
// dynlimit.Limiter and retries throttled or overloaded attempts when that is
// safe. Make one with [NewTransport]; it is safe for concurrent use.
//
// For each attempt it waits for a permit with the request's context, sends
// the request through the base transport, classifies the result and reports
// it to the limiter. An attempt that comes back Throttled or Overloaded is
// retried, up to the max retries, when:
//
//   - the body can be sent again: there is none, or the request has GetBody
//     (http.NewRequest sets it for in-memory bodies); and
//   - the method is idempotent (GET, HEAD, OPTIONS, TRACE, PUT, DELETE), or
//     the request carries an Idempotency-Key header, or
//     [WithRetryNonIdempotent] is set, or the classifier marked the attempt
//     [signal.Signal.Unprocessed]: the upstream guarantees it did nothing
//     (the built-in classifiers of OpenAI, Slack, Stripe, Twilio, GitHub
//     and Notion do, for their rate-limit refusals).
//
// Otherwise the response is returned as it is. Before a retry the Transport
// waits for the upstream's Retry-After when it sent one, else for the
// backoff; if that wait is longer than the max wait or would pass the
// request's deadline, it gives up at once with an [*Error] that says when
// the next attempt could go. Discarded responses are drained (up to the
// drain limit) and closed so that their connections are reused. The caller's
// request is never changed: retries send a clone.
//
// An attempt that never reached the upstream is neither retried nor
// classified: when its host name did not resolve or its connection was
// refused (or found no route, or the network was unreachable), the
// Transport returns at once an error that matches [ErrUnreachable] and
// wraps the base transport's, and reports the attempt to the limiter as
// Failed, which leaves the rate alone; a circuit breaker counts it as a
// failure. A retry a moment later would meet the same wrong name or the
// same stopped server, and a network failure is not a rate limit. A dial
// timeout, a reset or a TLS failure is still an overload, retried as above.
type Transport struct {
	base http.RoundTripper
	lim  *dynlimit.Limiter
	cfg  config
}

var _ http.RoundTripper = (*Transport)(nil)

// NewTransport returns a Transport that sends through base (nil means
// http.DefaultTransport), paced by lim. Options are validated: an invalid
// one is an [*OptionError] naming it.
func NewTransport(base http.RoundTripper, lim *dynlimit.Limiter, opts ...Option) (*Transport, error) {
	if lim == nil {
		return nil, &OptionError{Name: "lim", Value: "nil", Reason: "must be a *dynlimit.Limiter"}
	}
	if base == nil {
		base = http.DefaultTransport
	}
	cfg := config{maxRetries: DefaultMaxRetries, maxWait: DefaultMaxWait, drainLimit: DefaultDrainLimit}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.classifier == nil && cfg.newClassifier != nil {
		if cfg.classifier = cfg.newClassifier(lim.Clock()); cfg.classifier == nil {
			return nil, &OptionError{Name: "WithClassifierFunc", Value: "a func that returned nil", Reason: "must return a classifier"}
		}
	}
	if cfg.classifier == nil {
		c, err := signal.NewBurst(signal.HTTP{Clock: lim.Clock()}, DefaultBurstOverloads, DefaultBurstWindow, lim.Clock())
		if err != nil {
			return nil, err
		}
		cfg.classifier = c
	}
	if cfg.newBackoff == nil {
		clk := backoffClock{lim.Clock()}
		cfg.newBackoff = func() backoff.BackOff {
			b := backoff.NewExponentialBackOff()
			b.MaxElapsedTime = 0
			b.Clock = clk
			b.Reset()
			return b
		}
	}
	return &Transport{base: base, lim: lim, cfg: cfg}, nil
}

// Limiter returns the limiter that paces the Transport.
func (t *Transport) Limiter() *dynlimit.Limiter { return t.lim }

// Breaker returns the circuit breaker of [WithBreaker], nil without one:
// what a state gauge reads (otelbridge's RegisterBreaker, or your own).
func (t *Transport) Breaker() *breaker.Breaker { return t.cfg.breaker }

// Snapshots returns the snapshot of the Transport's limiter, then that of
// its cost budget if it has one ([WithCost]).
func (t *Transport) Snapshots() []dynlimit.Snapshot {
	s := []dynlimit.Snapshot{t.lim.Snapshot()}
	if t.cfg.cost != nil {
		s = append(s, t.cfg.cost.lim.Snapshot())
	}
	return s
}

// RoundTrip sends req, paced and retried as described on [Transport].
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.cfg.observed() {
		return t.roundTrip(req, nil)
	}
	return t.roundTripObserved(req)
}

// observation is what an observed request gathers for its [RequestEvent]
// and its instruments.
type observation struct {
	ev  RequestEvent
	ins []Instrument
	clk clock.Clock
}

func (o *observation) since(t0 time.Time) time.Duration { return o.clk.Now().Sub(t0) }

// roundTripObserved sends req as roundTrip does, measuring it for the
// request callback, the logger and the instruments.
func (t *Transport) roundTripObserved(req *http.Request) (*http.Response, error) {
	o := observation{ins: t.cfg.instruments, clk: t.lim.Clock()}
	o.ev = RequestEvent{
		Integration: t.cfg.integration,
		Tenant:      t.cfg.tenant,
		Method:      req.Method,
		Start:       o.clk.Now(),
	}
	if o.ev.Integration == "" {
		o.ev.Integration = t.lim.Name()
	}
	if tenant, ok := TenantFromContext(req.Context()); ok {
		o.ev.Tenant = tenant
	}
	if o.ev.Method == "" {
		o.ev.Method = http.MethodGet
	}
	if req.URL != nil {
		o.ev.Host = req.URL.Host
	}
	o.ev.Route = t.cfg.route(req)
	o.ev.SecretPath = t.cfg.secretPath != nil && req.URL != nil && t.cfg.secretPath(req.URL)

	ctx := req.Context()
	for _, in := range o.ins {
		ctx = in.StartRequest(ctx, req, &o.ev)
	}
	if ctx != req.Context() {
		req = req.WithContext(ctx)
	}
	resp, err := t.roundTrip(req, &o)
	end := o.clk.Now()
	o.ev.Elapsed = end.Sub(o.ev.Start)
	o.ev.Err, o.ev.ErrKind = err, ErrorKind(err)
	logs := t.logs(ctx, err)
	if t.cfg.onRequest != nil || logs {
		// A snapshot of a shared bucket is a call to it: taken only for
		// those who read it, not for instruments alone, nor for a logger
		// whose level drops the event.
		o.ev.Snapshot = t.lim.SnapshotAt(end)
	}
	for i := len(o.ins) - 1; i >= 0; i-- {
		o.ins[i].EndRequest(ctx, &o.ev)
	}
	if logs {
		t.logRequest(ctx, &o.ev)
	}
	if t.cfg.onRequest != nil {
		t.cfg.onRequest(o.ev)
	}
	return resp, err
}

// roundTrip is RoundTrip; o, when not nil, gathers what the request's
// event reports.
func (t *Transport) roundTrip(req *http.Request, o *observation) (*http.Response, error) {
	ctx := req.Context()
	replayable := t.canReplay(req)
	retryable := replayable && t.safeToRepeat(req)
	var (
		bo         backoff.BackOff
		lastStatus int
		lastRA     time.Duration
		units      int
		t0         time.Time
		backoffFor time.Duration // before the next attempt
	)
	if t.cfg.cost != nil {
		units = t.cfg.cost.units(req)
	}
	for attempt := 1; ; attempt++ {
		wctx := ctx
		if o != nil {
			for _, in := range o.ins {
				wctx = in.StartWait(wctx, attempt)
			}
		}
		// The wait before an attempt: the backoff the last one called for,
		// the breaker's leave, then the permits.
		var err error
		if backoffFor > 0 {
			if o != nil {
				t0 = o.clk.Now()
			}
			err = sleep(ctx, t.lim.Clock(), backoffFor)
			if o != nil {
				// The backoff's end is the wait's start: one reading.
				now := o.clk.Now()
				o.ev.Backoff += now.Sub(t0)
				t0 = now
			}
		} else if o != nil {
			t0 = o.clk.Now()
		}
		var (
			tk    breaker.Ticket
			p, cp dynlimit.Permit
		)
		// An open circuit fails the attempt before it waits for anything;
		// a half-open one gives its probe slot only once the permits are
		// there, so that a probe waiting for a permit does not turn every
		// other request away meanwhile.
		if err == nil {
			err = t.openCircuit()
		}
		if err == nil {
			p, cp, err = t.wait(wctx, units)
		}
		if err == nil {
			if tk, err = t.admit(); err != nil {
				p.Done(signal.Signal{Kind: signal.Canceled})
				cp.Done(signal.Signal{Kind: signal.Canceled})
			}
		}
		if o != nil {
			waited := o.since(t0)
			o.ev.Wait += waited
			for i := len(o.ins) - 1; i >= 0; i-- {
				o.ins[i].EndWait(wctx, attempt, waited, err)
			}
		}
		if err != nil {
			if attempt == 1 && req.Body != nil {
				// A RoundTripper must close the body even when it fails,
				// and the base transport, which would have, never got it.
				_ = req.Body.Close()
			}
			var we *dynlimit.WaitError
			var ce *breaker.CircuitOpenError
			switch {
			case errors.As(err, &we):
				return nil, t.fail(req, ErrWaitTooLong, attempt-1, lastStatus, lastRA, we.RetryAt, err)
			case errors.As(err, &ce):
				return nil, t.fail(req, breaker.ErrOpen, attempt-1, lastStatus, lastRA, ce.RetryAt, err)
			}
			return nil, err
		}

		areq := req
		if attempt > 1 {
			areq = req.Clone(ctx)
			if req.Body != nil && req.Body != http.NoBody {
				if areq.Body, err = req.GetBody(); err != nil {
					p.Done(signal.Signal{Kind: signal.Canceled})
					cp.Done(signal.Signal{Kind: signal.Canceled})
					tk.Done(signal.Canceled)
					return nil, err
				}
			}
		}
		var cancel context.CancelFunc
		if t.cfg.attemptTimeout > 0 {
			var actx context.Context
			actx, cancel = context.WithTimeout(ctx, t.cfg.attemptTimeout)
			areq = areq.WithContext(actx)
		}
		if o != nil {
			actx := areq.Context()
			for _, in := range o.ins {
				actx = in.StartAttempt(actx, areq, attempt)
			}
			if actx != areq.Context() {
				areq = areq.WithContext(actx)
			}
			// A retry sends a clone, with headers of its own; the first
			// attempt sends the caller's request, or a shallow copy sharing
			// its headers, which an injector writes into a copy of.
			owned := attempt > 1 && areq.Header != nil
			for _, in := range o.ins {
				hi, ok := in.(HeaderInjector)
				if !ok {
					continue
				}
				if !owned {
					if areq == req {
						areq = areq.WithContext(areq.Context())
					}
					if areq.Header = req.Header.Clone(); areq.Header == nil {
						areq.Header = make(http.Header)
					}
					owned = true
				}
				hi.InjectHeaders(actx, areq.Header)
			}
			t0 = o.clk.Now()
		}

		resp, err := t.base.RoundTrip(areq)
		if ue, ok := err.(*url.Error); ok { //nolint:errorlint // only a base's own *url.Error quotes the URL
			// A base that wraps an http.Client quotes the full URL, query
			// and user info included: the caller, the event and the log
			// get it with the route instead, and the same cause.
			err = &url.Error{Op: ue.Op, URL: t.redactedURL(areq), Err: ue.Err}
		}
		var sig signal.Signal
		noRoute := err != nil && ctx.Err() == nil && unreachable(err)
		if noRoute {
			// Not the classifier's to count: no request went out, so
			// there is no news of the upstream's capacity.
			sig.Kind = signal.Failed
		} else {
			sig = t.cfg.classifier.Classify(resp, err)
		}
		// Capped here as the limiter caps it, so that the retry's wait
		// and the error's RetryAt agree with the limiter's cooldown; what
		// the upstream asked for still decides whether to wait at all.
		asked := sig.RetryAfter
		sig = sig.CapPauses(t.lim.MaxPause())
		if err != nil && ctx.Err() != nil {
			sig.Kind = signal.Canceled // the caller gave up: no news of the upstream
		}
		if o != nil {
			took := o.since(t0)
			o.ev.Upstream += took
			o.ev.Attempts, o.ev.Signal = attempt, sig
			if resp != nil {
				// Kept when a later attempt gets no response, or the
				// request ends in an error: the last status seen.
				o.ev.Status = resp.StatusCode
			}
			for i := len(o.ins) - 1; i >= 0; i-- {
				o.ins[i].EndAttempt(areq.Context(), attempt, resp, err, sig, took)
			}
		}
		if units > 0 {
			rs, cs := splitCost(sig)
			p.Done(rs)
			cp.Done(cs)
		} else {
			p.Done(sig)
		}
		if noRoute {
			tk.Done(signal.Overloaded) // but an upstream out of reach is down to a breaker
		} else {
			tk.Done(breakerKind(sig))
		}
		if cancel != nil {
			if resp != nil && resp.Body != nil {
				resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
			} else {
				cancel()
			}
		}

		if noRoute {
			return nil, &unreachableError{err: err}
		}
		if sig.Kind != signal.Throttled && sig.Kind != signal.Overloaded || !retryable && !(sig.Unprocessed && replayable) {
			return resp, err
		}
		lastStatus, lastRA = sig.Status, sig.RetryAfter
		if attempt > t.cfg.maxRetries {
			return t.exhausted(req, resp, err, attempt, sig)
		}
		wait := sig.RetryAfter
		if wait <= 0 && !sig.HasRetryAfter {
			if bo == nil {
				bo = t.cfg.newBackoff()
			}
			if wait = bo.NextBackOff(); wait == backoff.Stop {
				return t.exhausted(req, resp, err, attempt, sig)
			}
		}
		now := t.lim.Clock().Now()
		retryAt := now.Add(wait)
		if w := max(wait, asked); w > t.cfg.maxWait {
			t.discard(resp)
			return nil, t.fail(req, ErrWaitTooLong, attempt, lastStatus, lastRA, retryAt,
				errors.New("wait of "+w.String()+" exceeds the max wait of "+t.cfg.maxWait.String()))
		}
		if dl, ok := ctx.Deadline(); ok && retryAt.After(dl) {
			t.discard(resp)
			return nil, t.fail(req, ErrWaitTooLong, attempt, lastStatus, lastRA, retryAt,
				errors.New("wait of "+wait.String()+" would pass the request's deadline"))
		}
		t.discard(resp)
		backoffFor = wait
	}
}

// openCircuit returns the breaker's error while it is open, before any
// wait; nil when there is no breaker or it may let an attempt through.
func (t *Transport) openCircuit() error {
	if t.cfg.breaker == nil || t.cfg.breaker.State() != breaker.Open {
		return nil
	}
	_, err := t.cfg.breaker.Allow() // the error that says when it will probe
	return err
}

// breakerKind is what an attempt tells the breaker. A throttle that a
// burst of overloads turned into one is an overload to the breaker: the
// upstream is failing, not pacing.
func breakerKind(sig signal.Signal) signal.Kind {
	if sig.Kind == signal.Throttled && sig.FromOverloads {
		return signal.Overloaded
	}
	return sig.Kind
}

// admit asks the circuit breaker, if there is one, whether an attempt may
// go; the zero Ticket, whose Done does nothing, when there is none.
func (t *Transport) admit() (breaker.Ticket, error) {
	if t.cfg.breaker == nil {
		return breaker.Ticket{}, nil
	}
	return t.cfg.breaker.Allow()
}

// wait returns a permit of the Transport's limiter and, when the request
// costs units of a second budget, one of that budget's (else the zero
// Permit, whose Done does nothing). The budget's comes first: its wait can
// be long, and the limiter's permit holds an in-flight slot while it lasts.
func (t *Transport) wait(ctx context.Context, units int) (p, cp dynlimit.Permit, err error) {
	if units > 0 {
		cp, err = t.cfg.cost.lim.WaitN(ctx, units)
		var be *bucket.BurstError
		if errors.As(err, &be) && be.Burst >= 1 && float64(units) > be.Burst {
			// The budget's capacity shrank under its limiter (a shared
			// bucket on its fallback): the cost is capped at it, as
			// WithCost caps every cost at the burst.
			cp, err = t.cfg.cost.lim.WaitN(ctx, int(be.Burst))
		}
		if err != nil {
			return p, cp, err
		}
	}
	if p, err = t.lim.Wait(ctx); err != nil {
		cp.Done(signal.Signal{Kind: signal.Canceled})
		return p, dynlimit.Permit{}, err
	}
	return p, cp, nil
}

// canReplay reports whether req could be sent again: retries are on and
// its body, if any, can be had again.
func (t *Transport) canReplay(req *http.Request) bool {
	return t.cfg.maxRetries > 0 && (req.Body == nil || req.Body == http.NoBody || req.GetBody != nil)
}

// safeToRepeat reports whether sending req twice is safe whatever the
// upstream answers: its method is idempotent, it carries an
// Idempotency-Key, or the user opted in.
func (t *Transport) safeToRepeat(req *http.Request) bool {
	if t.cfg.retryAll || req.Header.Get("Idempotency-Key") != "" {
		return true
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// exhausted ends a request whose every attempt was throttled or overloaded.
func (t *Transport) exhausted(req *http.Request, resp *http.Response, err error, attempts int, sig signal.Signal) (*http.Response, error) {
	if t.cfg.returnLast {
		return resp, err
	}
	t.discard(resp)
	var retryAt time.Time
	if sig.RetryAfter > 0 {
		retryAt = t.lim.Clock().Now().Add(sig.RetryAfter)
	}
	return nil, t.fail(req, ErrRetriesExhausted, attempts, sig.Status, sig.RetryAfter, retryAt, err)
}

func (t *Transport) fail(req *http.Request, kind error, attempts, status int, ra time.Duration, retryAt time.Time, cause error) error {
	// A base transport's *url.Error quotes the full URL: keep its query
	// out of the message, as Error.URL keeps it out.
	var ue *url.Error
	if errors.As(cause, &ue) && ue == cause { //nolint:errorlint // only a cause that is itself the *url.Error is replaced
		cause = &url.Error{Op: ue.Op, URL: redactURLString(ue.URL), Err: ue.Err}
	}
	return &Error{
		Method: req.Method, URL: t.redactedURL(req), Attempts: attempts,
		StatusCode: status, RetryAfter: ra, RetryAt: retryAt, Err: cause, sentinel: kind,
	}
}

// discard drains and closes a response nobody will read, so that its
// connection goes back to the pool.
func (t *Transport) discard(resp *http.Response) {
	if resp == nil || resp.Body == nil {
		return
	}
	_, _ = io.CopyN(io.Discard, resp.Body, t.cfg.drainLimit)
	_ = resp.Body.Close()
}

// redactedURL returns req's URL as it may be logged: no user info, query
// or fragment, and the path as the request's route (WithRoute, else
// RouteTemplate), as any of them may hold a credential.
func (t *Transport) redactedURL(req *http.Request) string {
	if req.URL == nil {
		return ""
	}
	return withRoute(req.URL, t.cfg.route(req))
}

func (t *Transport) routeOf(req *http.Request) string { return t.cfg.route(req) }

func sleep(ctx context.Context, clk clock.Clock, d time.Duration) error {
	t := clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// cancelOnClose ends an attempt's context once the caller is done with the
// response body, not before: the body is read under that context.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// backoffClock lets backoff measure elapsed time on the limiter's clock.
type backoffClock struct{ c clock.Clock }

func (b backoffClock) Now() time.Time { return b.c.Now() }
