package simtest

import (
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/breaker"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

// Epoch is the instant simulated time starts at.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// epochUnix is Epoch.Unix().
var epochUnix = Epoch.Unix()

// instant returns Epoch.Add(d): the same Time, field for field (UTC, no
// monotonic reading), built from its Unix seconds and nanoseconds, which
// costs a fraction of Add.
func instant(d time.Duration) time.Time {
	return time.Unix(epochUnix+int64(d/time.Second), int64(d%time.Second)).UTC()
}

// maxFastSpan bounds, in seconds, the spans within which between computes
// a difference from Unix seconds and nanoseconds: well inside a Duration.
const maxFastSpan = 100 * 365 * 24 * 3600

// between returns t.Sub(u) for instants without monotonic readings, as
// the simulation's are: from their Unix seconds and nanoseconds when they
// are within maxFastSpan of each other, which is what Sub computes then,
// without its check for an overflow that cannot happen.
func between(t, u time.Time) time.Duration {
	ds := t.Unix() - u.Unix()
	if ds <= -maxFastSpan || ds >= maxFastSpan {
		return t.Sub(u)
	}
	return time.Duration(ds)*time.Second + time.Duration(t.Nanosecond()-u.Nanosecond())
}

// simClock is the clock of a run: its instant is that of the last answer
// the clients received, which is when a classifier or a breaker that reads
// the clock looks at it. Setting it costs a store; a timer, which nothing
// in a run asks for, is served by a clock.Fake kept at the same instant
// from the first one on.
type simClock struct {
	now  time.Time
	fake *clock.Fake // nil until a timer is asked for
}

func (c *simClock) Now() time.Time { return c.now }

func (c *simClock) NewTimer(d time.Duration) clock.Timer {
	if c.fake == nil {
		c.fake = clock.NewFake(c.now)
	}
	return c.fake.NewTimer(d)
}

func (c *simClock) set(t time.Time) {
	c.now = t
	if c.fake != nil {
		c.fake.Set(t)
	}
}

// Run plays scenario sc with strategy st and returns what happened. The
// same scenario, seed and strategy always give the same Result.
func Run(sc Scenario, st Strategy) (*Result, error) {
	sc = sc.withDefaults()
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	e, err := newEngine(sc, st)
	if err != nil {
		return nil, err
	}
	e.run()
	return e.result(), nil
}

// Event kinds.
const (
	evReady    uint8 = iota // a worker asks for a permit
	evPermit                // a worker's reservation is due
	evResponse              // a worker's request is answered
	evArrival               // an open-loop request arrives
	evSample                // the per-second trace is sampled
	evRestart               // a worker refused by its breaker starts its next request
	evPace                  // a worker asks its client's pacer again
)

// probePending is how long a caller whose request the breaker refused
// while its probes were out waits before its next one.
const probePending = time.Second

type event struct {
	at time.Duration
	// key is the event's sequence number, shifted left by 8, with its kind
	// in the low byte: sequence numbers are unique, so ordering by key is
	// ordering by sequence number, and the event is 24 bytes, not 32.
	key  uint64
	c, w int32
}

func (ev *event) kind() uint8 { return uint8(ev.key) }

// before orders events by (at, sequence number).
func (ev *event) before(o *event) bool {
	return ev.at < o.at || ev.at == o.at && ev.key < o.key
}

// queue holds the pending events in order of (at, seq): ties go in the
// order they were scheduled, which keeps runs deterministic. A run never
// has more pending events than one per worker, one arrival per client and
// the sample, so its size is known up front. Up to sortedMax of them, it is
// a sorted slice: a pop takes the head, and a push, usually of an event
// later than most, moves the few later ones up. Beyond that, it is a 4-ary
// min-heap, whose sifts move a hole instead of swapping. Either way only
// lengths change on a pop or a push, never the slice itself.
type queue struct {
	h      []event
	head   int // sorted: the first pending event is h[head]
	n      int // the pending events are h[head:n]
	sorted bool
}

// sortedMax is the largest queue kept sorted rather than as a heap.
const sortedMax = 64

func newQueue(size int) queue {
	if size <= sortedMax {
		// Room for the pending events to move forward a few times their
		// number before they are moved back to the front.
		return queue{h: make([]event, 4*size+16), sorted: true}
	}
	return queue{h: make([]event, 0, size)}
}

func (q *queue) len() int { return q.n - q.head }

func (q *queue) push(ev event) {
	if q.sorted {
		q.pushSorted(ev)
		return
	}
	q.pushHeap(ev)
}

func (q *queue) pop() event {
	if q.sorted {
		ev := q.h[q.head]
		if q.head++; q.head == q.n {
			q.head, q.n = 0, 0
		}
		return ev
	}
	return q.popHeap()
}

func (q *queue) pushSorted(ev event) {
	if q.n == len(q.h) {
		if q.head > 0 { // room at the front: move the pending events there
			q.n = copy(q.h, q.h[q.head:q.n])
			q.head = 0
		} else {
			q.h = append(q.h, ev)
		}
	}
	h := q.h
	i := q.n
	q.n++
	for i > q.head && ev.before(&h[i-1]) {
		h[i] = h[i-1]
		i--
	}
	h[i] = ev
}

func (q *queue) pushHeap(ev event) {
	if q.n == len(q.h) {
		q.h = append(q.h, ev)
	}
	h := q.h
	i := q.n
	q.n++
	for i > 0 {
		p := (i - 1) / 4
		if !ev.before(&h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = ev
}

func (q *queue) popHeap() event {
	h := q.h
	top := h[0]
	q.n--
	n := q.n
	if n == 0 {
		return top
	}
	last := &h[n]
	i := 0
	for {
		c := 4*i + 1
		m := c
		switch {
		case c+3 < n: // four children
			if h[c+1].before(&h[m]) {
				m = c + 1
			}
			if h[c+2].before(&h[m]) {
				m = c + 2
			}
			if h[c+3].before(&h[m]) {
				m = c + 3
			}
		case c < n: // the last node with children, which has fewer
			for j := c + 1; j < n; j++ {
				if h[j].before(&h[m]) {
					m = j
				}
			}
		default:
			h[i] = *last
			return top
		}
		if !h[m].before(last) {
			break
		}
		h[i] = h[m]
		i = m
	}
	h[i] = *last
	return top
}

type worker struct {
	ticket breaker.Ticket
	res    dynlimit.Reservation
	// due is the instant of the evPermit the worker waits for, or -1:
	// one scheduled for another instant is stale, left in the queue by a
	// retime that moved the worker earlier.
	due     time.Duration
	permit  dynlimit.Permit
	reply   reply
	attempt int
	start   time.Duration // when the caller's request began
}

type client struct {
	lim *dynlimit.Limiter
	// changed is lim.RateChanged() as last read: closed, the waiting
	// workers' reservations may be due sooner, or forfeited.
	changed <-chan struct{}
	pacer   Pacer
	br      *breaker.Breaker
	workers []worker
	parked  []int32         // waiting for an in-flight slot
	idle    []int32         // open loop: free workers
	waiting []time.Duration // open loop: arrival times of queued requests
	// retryAfter is the latest instant until which the Retry-After of a
	// throttled response, from its arrival, forbids this client to send.
	retryAfter time.Duration
	stats      clientStats
}

type clientStats struct {
	sent, succeeded, throttled, overloaded, failed uint64
	outageHits, breakerRejected, insideRetryAfter  uint64
}

type engine struct {
	sc  Scenario
	st  Strategy
	rng *rand.Rand
	up  *upstream
	clk *simClock
	cls signal.Classifier

	q       queue
	seq     uint64
	now     time.Duration
	t       time.Time // Epoch + now, computed once per event
	clients []client

	// check, when set (by tests), runs after every event.
	check func(*engine)

	resp  http.Response
	hdr   hdrs
	lat   []time.Duration
	trace []Sample
	// per-second counters for the trace
	secSucceeded, secThrottled uint64
}

func newEngine(sc Scenario, st Strategy) (*engine, error) {
	rng := rand.New(rand.NewPCG(sc.Seed, sc.Seed^0x9e3779b97f4a7c15))
	e := &engine{
		sc: sc, st: st, rng: rng,
		up:  newUpstream(sc.Upstream, rand.New(rand.NewPCG(sc.Seed+1, sc.Seed^0x5851f42d4c957f2d))),
		clk: &simClock{now: Epoch},
	}
	e.cls = signal.HTTP{Clock: e.clk}
	if st.Classifier != nil {
		e.cls = st.Classifier(e.clk)
	}
	e.resp = http.Response{Header: make(http.Header, 8), Body: http.NoBody}
	e.hdr = newHdrs()
	// Room for what a run will hold, so that growing it does not show in
	// the speed of the simulation.
	secs := int(sc.Duration.D()/time.Second) + 1
	e.trace = make([]Sample, 0, secs)
	e.lat = make([]time.Duration, 0, min(int(1.2*capacity(sc.Upstream, sc.Duration.D()))+16, 1<<20))
	// One pending event per worker, one arrival per client, the sample.
	e.q = newQueue(sc.Clients.Count*(sc.Clients.Workers+1) + 1)
	e.t = Epoch
	e.clients = make([]client, sc.Clients.Count)
	for i := range e.clients {
		c := &e.clients[i]
		if st.Pacer != nil {
			c.pacer = st.Pacer(e.clk)
		} else if st.Policy != nil {
			lim, err := dynlimit.New(
				dynlimit.WithPolicy(st.Policy),
				dynlimit.WithClock(e.clk),
				dynlimit.WithMaxInFlight(st.MaxInFlight),
			)
			if err != nil {
				return nil, err
			}
			c.lim = lim
			c.changed = lim.RateChanged()
		}
		if st.Breaker != nil {
			b, err := breaker.New(*st.Breaker, breaker.WithClock(e.clk))
			if err != nil {
				return nil, err
			}
			c.br = b
		}
		c.workers = make([]worker, sc.Clients.Workers)
		for w := range c.workers {
			c.workers[w].due = -1
			if sc.Clients.Arrivals > 0 {
				c.idle = append(c.idle, int32(w))
			} else {
				e.schedule(0, evReady, i, w)
			}
		}
		if sc.Clients.Arrivals > 0 {
			e.schedule(e.interarrival(), evArrival, i, 0)
		}
	}
	e.schedule(time.Second, evSample, 0, 0)
	return e, nil
}

func (e *engine) schedule(at time.Duration, kind uint8, c, w int) {
	e.seq++
	ev := event{at: at, key: e.seq<<8 | uint64(kind), c: int32(c), w: int32(w)}
	if e.q.sorted {
		e.q.pushSorted(ev)
		return
	}
	e.q.pushHeap(ev)
}

func (e *engine) interarrival() time.Duration {
	return time.Duration(e.rng.ExpFloat64() / e.sc.Clients.Arrivals * float64(time.Second))
}

func (e *engine) run() {
	end := e.sc.Duration.D()
	for e.q.len() > 0 {
		ev := e.q.pop()
		// The run covers [0, end): nothing happens at end but the sample
		// that closes the last second.
		kind := ev.kind()
		if ev.at > end {
			break
		}
		if ev.at == end && kind != evSample {
			// Skipped, not the end of the loop: the sample that closes
			// the last second may come after it at the same instant.
			continue
		}
		e.now, e.t = ev.at, instant(ev.at)
		switch kind {
		case evReady:
			e.ready(int(ev.c), int(ev.w))
		case evPermit:
			if e.clients[ev.c].workers[ev.w].due == ev.at {
				e.permit(int(ev.c), int(ev.w))
			}
		case evResponse:
			e.response(int(ev.c), int(ev.w))
		case evArrival:
			e.arrival(int(ev.c))
		case evSample:
			e.sample()
		case evRestart:
			e.clients[ev.c].workers[ev.w].start = e.now
			e.ready(int(ev.c), int(ev.w))
		case evPace:
			e.pace(int(ev.c), int(ev.w))
		}
		if e.check != nil {
			e.check(e)
		}
	}
	e.now, e.t = end, instant(end)
}

func (e *engine) at() time.Time { return e.t }

// ready: worker w of client c wants to send its request.
func (e *engine) ready(c, w int) {
	cl := &e.clients[c]
	if cl.br != nil {
		tk, err := cl.br.AllowAt(e.at())
		if err != nil {
			e.refused(c, w, err)
			return
		}
		cl.workers[w].ticket = tk
	}
	if cl.pacer != nil {
		e.pace(c, w)
		return
	}
	if cl.lim == nil {
		e.send(c, w)
		return
	}
	r, err := cl.lim.ReserveN(e.at(), 1)
	if err != nil { // no max wait is set: only a broken bucket gets here
		e.finish(c, w, false)
		return
	}
	cl.workers[w].res = r
	// The take may have flushed successes that raised the rate.
	e.checkChanged(c)
	if d := between(r.At(), e.t); d > 0 { // r.DelayFrom(e.t), just taken
		cl.workers[w].due = e.now + d
		e.schedule(e.now+d, evPermit, c, w)
		return
	}
	e.permit(c, w)
}

// checkChanged moves the waiting workers of client c earlier if its
// limiter's rate has changed enough for them to look again, as
// Limiter.WaitN's sleepers do: due sooner on a rise, at once when a
// congestion event forfeited their reservations.
func (e *engine) checkChanged(c int) {
	cl := &e.clients[c]
	select {
	case <-cl.changed:
	default:
		return
	}
	cl.changed = cl.lim.RateChanged()
	for w := range cl.workers {
		wk := &cl.workers[w]
		if wk.due <= e.now {
			continue // not waiting, or due at this instant already
		}
		if at := e.now + wk.res.DelayFrom(e.t); at < wk.due {
			wk.due = at
			e.schedule(at, evPermit, c, w)
		}
	}
}

// pace: worker w asks its client's pacer for leave to send, and asks again
// after the wait it names when it refuses, as the AWS SDK's
// GetAttemptToken sleeps and asks again. A wait too short to be a
// nanosecond is one: simulated time must move for the pacer to refill.
func (e *engine) pace(c, w int) {
	ok, wait := e.clients[c].pacer.Acquire(e.at())
	if !ok {
		e.schedule(e.now+max(wait, 1), evPace, c, w)
		return
	}
	e.send(c, w)
}

// permit: worker w's reservation is due.
func (e *engine) permit(c, w int) {
	cl := &e.clients[c]
	wk := &cl.workers[w]
	wk.due = -1
	p, err := wk.res.PermitAt(e.at())
	switch {
	case err == nil:
		wk.permit = p
		e.send(c, w)
	case errors.Is(err, dynlimit.ErrInFlight):
		cl.parked = append(cl.parked, int32(w))
	default: // forfeited by a congestion event: reserve again
		e.ready(c, w)
	}
}

func (e *engine) send(c, w int) {
	cl := &e.clients[c]
	wk := &cl.workers[w]
	e.up.serveInto(e.now, &wk.reply)
	cl.stats.sent++
	if e.now < cl.retryAfter {
		cl.stats.insideRetryAfter++
	}
	if wk.reply.status == http.StatusServiceUnavailable {
		cl.stats.outageHits++
	}
	e.schedule(e.now+wk.reply.latency, evResponse, c, w)
}

func (e *engine) response(c, w int) {
	cl := &e.clients[c]
	wk := &cl.workers[w]
	e.clk.set(e.t)
	e.hdr.set(&e.resp, wk.reply)
	sig := e.cls.Classify(&e.resp, nil)
	if sig.Kind == signal.Throttled && sig.RetryAfter > 0 {
		cl.retryAfter = max(cl.retryAfter, e.now+sig.RetryAfter)
	}
	if cl.br != nil {
		wk.ticket.DoneAt(e.at(), sig.Kind)
		wk.ticket = breaker.Ticket{}
	}
	if cl.pacer != nil {
		cl.pacer.Update(e.at(), sig.Kind == signal.Throttled)
	}
	if cl.lim != nil {
		wk.permit.DoneAt(e.at(), sig)
		wk.permit = dynlimit.Permit{}
		if n := len(cl.parked); n > 0 {
			p := cl.parked[0]
			cl.parked = cl.parked[1:]
			cl.workers[p].due = e.now
			e.schedule(e.now, evPermit, c, int(p))
		}
		e.checkChanged(c)
	}
	switch sig.Kind {
	case signal.Success:
		cl.stats.succeeded++
		e.secSucceeded++
		e.lat = append(e.lat, e.now-wk.start)
		e.finish(c, w, true)
		return
	case signal.Throttled:
		cl.stats.throttled++
		e.secThrottled++
	case signal.Overloaded:
		cl.stats.overloaded++
	default:
		e.finish(c, w, false)
		return
	}
	if wk.attempt >= max(e.sc.Clients.MaxRetries, 0) {
		e.finish(c, w, false)
		return
	}
	wk.attempt++
	wait := sig.RetryAfter
	if wait <= 0 && !sig.HasRetryAfter {
		wait = e.backoff(wk.attempt)
	}
	e.schedule(e.now+wait, evReady, c, w)
}

func (e *engine) backoff(retry int) time.Duration {
	st := e.st
	if st.Backoff != nil {
		return st.Backoff(retry, e.rng.Float64())
	}
	d := float64(st.BackoffInitial) * math.Pow(max(st.BackoffMultiplier, 1), float64(retry-1))
	d = min(d, float64(st.BackoffMax))
	if st.BackoffJitter > 0 {
		d *= 1 + st.BackoffJitter*(2*e.rng.Float64()-1)
	}
	return time.Duration(d)
}

// refused: the breaker refused worker w's attempt. Its request fails for
// the caller; in a closed loop the worker starts its next one when the
// breaker will probe, in an open loop it takes the next arrival, which
// fails as fast while the circuit is open.
func (e *engine) refused(c, w int, err error) {
	cl := &e.clients[c]
	cl.stats.breakerRejected++
	if e.sc.Clients.Arrivals > 0 {
		e.finish(c, w, false)
		return
	}
	cl.stats.failed++
	cl.workers[w].attempt = 0
	at := e.now + probePending
	var ce *breaker.CircuitOpenError
	if errors.As(err, &ce) && !ce.RetryAt.IsZero() {
		at = max(e.now, ce.RetryAt.Sub(Epoch))
	}
	e.schedule(at, evRestart, c, w)
}

// finish ends worker w's request and starts its next one.
func (e *engine) finish(c, w int, ok bool) {
	cl := &e.clients[c]
	wk := &cl.workers[w]
	if !ok {
		cl.stats.failed++
	}
	wk.attempt = 0
	// The next request starts at once: called, not scheduled, which saves
	// the event heap a push and a pop per request.
	if e.sc.Clients.Arrivals == 0 {
		wk.start = e.now
		e.ready(c, w)
		return
	}
	if len(cl.waiting) > 0 {
		wk.start = cl.waiting[0]
		cl.waiting = cl.waiting[1:]
		e.ready(c, w)
		return
	}
	cl.idle = append(cl.idle, int32(w))
}

func (e *engine) arrival(c int) {
	cl := &e.clients[c]
	e.schedule(e.now+e.interarrival(), evArrival, c, 0)
	if n := len(cl.idle); n > 0 {
		w := int(cl.idle[n-1])
		cl.idle = cl.idle[:n-1]
		cl.workers[w].start = e.now
		e.schedule(e.now, evReady, c, w)
		return
	}
	if len(cl.waiting) >= e.sc.Clients.Queue {
		cl.stats.failed++
		return
	}
	cl.waiting = append(cl.waiting, e.now)
}

func (e *engine) sample() {
	s := Sample{T: e.now, Limit: rateAt(e.sc.Upstream, e.now-time.Nanosecond),
		Succeeded: e.secSucceeded, Throttled: e.secThrottled}
	n := 0
	for i := range e.clients {
		if l := e.clients[i].lim; l != nil {
			snap := l.SnapshotAt(e.at())
			r := snap.Rate
			if snap.QuotaRate > 0 && snap.QuotaRate < r && e.at().Before(snap.QuotaUntil) {
				r = snap.QuotaRate
			}
			s.Rate += r
			n++
		} else if p := e.clients[i].pacer; p != nil {
			s.Rate += p.Rate(e.at())
			n++
		}
	}
	if n > 0 {
		s.Rate /= float64(n)
	}
	e.trace = append(e.trace, s)
	e.secSucceeded, e.secThrottled = 0, 0
	e.schedule(e.now+time.Second, evSample, 0, 0)
}

// percentile returns the p-th percentile of ds (nearest rank), reordering
// ds. It selects rather than sorts: a run's latencies are many, and only
// two ranks are wanted.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	k := min(max(int(math.Ceil(p*float64(len(ds))))-1, 0), len(ds)-1)
	lo, hi := 0, len(ds)-1
	for lo < hi {
		// Median of three, deterministic: the same input, the same answer.
		mid := lo + (hi-lo)/2
		if ds[mid] < ds[lo] {
			ds[mid], ds[lo] = ds[lo], ds[mid]
		}
		if ds[hi] < ds[lo] {
			ds[hi], ds[lo] = ds[lo], ds[hi]
		}
		if ds[hi] < ds[mid] {
			ds[hi], ds[mid] = ds[mid], ds[hi]
		}
		pivot := ds[mid]
		i, j := lo, hi
		for i <= j {
			for ds[i] < pivot {
				i++
			}
			for ds[j] > pivot {
				j--
			}
			if i <= j {
				ds[i], ds[j] = ds[j], ds[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return ds[k]
		}
	}
	return ds[k]
}

func (e *engine) result() *Result {
	r := &Result{
		Scenario: e.sc.Name, Strategy: e.st.Name, Seed: e.sc.Seed,
		Duration: e.sc.Duration.D(),
		Capacity: capacity(e.sc.Upstream, e.sc.Duration.D()),
		Trace:    e.trace,
	}
	per := make([]float64, len(e.clients))
	for i := range e.clients {
		cl := &e.clients[i]
		s := cl.stats
		r.Sent += s.sent
		r.Succeeded += s.succeeded
		r.Throttled += s.throttled
		r.Overloaded += s.overloaded
		r.Failed += s.failed
		r.OutageHits += s.outageHits
		r.BreakerRejected += s.breakerRejected
		r.InsideRetryAfter += s.insideRetryAfter
		per[i] = float64(s.succeeded)
		if cl.lim != nil {
			r.Decreases += cl.lim.SnapshotAt(e.at()).Counters.Decreases
		}
		if d, ok := cl.pacer.(interface{ Decreases() uint64 }); ok {
			r.Decreases += d.Decreases()
		}
	}
	if r.Capacity > 0 {
		r.Goodput = float64(r.Succeeded) / r.Capacity
	}
	if r.Sent > 0 {
		r.ThrottledShare = float64(r.Throttled) / float64(r.Sent)
	}
	r.LatencyP50, r.LatencyP99 = percentile(e.lat, 0.5), percentile(e.lat, 0.99)
	r.Fairness = jain(per)
	r.analyse(e.sc)
	return r
}

// jain is Jain's fairness index of xs: 1 when all are equal, 1/n when one
// takes everything.
func jain(xs []float64) float64 {
	var sum, sq float64
	for _, x := range xs {
		sum += x
		sq += x * x
	}
	if sq == 0 {
		return 1
	}
	return sum * sum / (float64(len(xs)) * sq)
}
