package redisbucket

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/internal/monotime"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

//go:embed script.lua
var source string

// script runs by EVALSHA, falling back to EVAL (which loads it) when the
// server answers NOSCRIPT: after a restart, a failover, on a new node.
var script = redis.NewScript(source)

// Defaults of a Bucket's options.
const (
	// DefaultPrefix starts every key.
	DefaultPrefix = "dynlimit:"
	// DefaultTTL is how long a limiter's hash outlives its last use.
	DefaultTTL = time.Hour
	// DefaultTimeout bounds each call to Redis.
	DefaultTimeout = 100 * time.Millisecond
	// DefaultFallbackShare is the share of the fleet's last known rate
	// and burst a process paces by on its own while Redis is unreachable
	// (FailFallback).
	DefaultFallbackShare = 0.25
	// DefaultRetryInterval is how long a process on its fallback (or
	// failing open or closed) waits before it asks Redis again.
	DefaultRetryInterval = time.Second
	// maxApplyRounds bounds the read-compute-write rounds of one Apply
	// when other processes keep changing the state in between.
	maxApplyRounds = 16
	maxNameLen     = 200
)

// FailureMode is what a Bucket does while Redis cannot be reached or its
// script fails.
type FailureMode uint8

const (
	// FailFallback paces by a local bucket at a share of the fleet's last
	// known rate (see WithFallbackShare) until Redis answers again: the
	// policy's steps on it lower its rate but never raise it past that
	// share. The default: the upstream is protected, and so is the worker.
	FailFallback FailureMode = iota
	// FailOpen lets every request through unpaced: the worker goes on at
	// full speed, and the fleet may overrun the upstream (and cost every
	// other user of the same API key).
	FailOpen
	// FailClosed fails every call with an [*UnavailableError]: nothing
	// reaches the upstream unpaced, and the callers must back off.
	FailClosed
)

var modeNames = [...]string{"fallback", "open", "closed"}

// String returns "fallback", "open" or "closed".
func (m FailureMode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// ErrUnavailable matches, with errors.Is, the error of a FailClosed bucket
// that cannot reach Redis.
var ErrUnavailable = errors.New("redisbucket: redis unavailable")

// UnavailableError is the error of a FailClosed bucket while Redis cannot
// be reached or its script fails.
type UnavailableError struct {
	// Key is the limiter's key.
	Key string
	// Op is the bucket operation that failed (take, apply...).
	Op string
	// Err is Redis's error.
	Err error
}

func (e *UnavailableError) Error() string {
	return "redisbucket: " + e.Op + " " + e.Key + ": redis unavailable: " + e.Err.Error()
}

// Unwrap returns Redis's error.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Is matches ErrUnavailable.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable } //nolint:errorlint // a sentinel

// DegradedError is the [bucket.Status.Degraded] of a Bucket that answers
// without Redis: from its local fallback (FailFallback) or by letting
// everything through (FailOpen), since Redis failed.
type DegradedError struct {
	// Key is the limiter's key.
	Key string
	// Mode is the failure mode the bucket is in.
	Mode FailureMode
	// Since is the instant Redis was first found failing.
	Since time.Time
	// Err is Redis's error then.
	Err error
}

func (e *DegradedError) Error() string {
	what := "on its local fallback"
	if e.Mode == FailOpen {
		what = "failing open"
	}
	return "redisbucket: " + e.Key + ": " + what + " since " + e.Since.UTC().Format(time.RFC3339) + ": redis unavailable: " + e.Err.Error()
}

// Unwrap returns Redis's error.
func (e *DegradedError) Unwrap() error { return e.Err }

// Option configures a Bucket.
type Option interface {
	apply(*Bucket) error
}

type optionFunc func(*Bucket) error

func (f optionFunc) apply(b *Bucket) error { return f(b) }

// WithPrefix sets the prefix of the key. Default: [DefaultPrefix].
func WithPrefix(p string) Option {
	return optionFunc(func(b *Bucket) error {
		if strings.ContainsAny(p, "{} \t\r\n") {
			return &OptionError{Name: "WithPrefix", Value: strconv.Quote(p), Reason: "must not hold braces or white space"}
		}
		b.prefix = p
		return nil
	})
}

// WithTTL sets how long the limiter's hash outlives its last use, so that
// abandoned limiters disappear; 0 keeps it forever. Default: [DefaultTTL].
func WithTTL(d time.Duration) Option {
	return optionFunc(func(b *Bucket) error {
		if d < 0 || d > 0 && d < time.Millisecond {
			return &OptionError{Name: "WithTTL", Value: d.String(), Reason: "must be 0 (none) or at least 1ms"}
		}
		b.ttl = d
		return nil
	})
}

// WithTimeout bounds each call to Redis; one that takes longer counts as
// Redis failing. Calls whose context is never canceled share a timeout per
// eighth of d, so one of them may run up to d/8 longer. go-redis bounds a
// call's network reads and writes by its context only when the client's
// options set ContextTimeoutEnabled; without it, a server that accepts and
// does not answer holds a call for the client's ReadTimeout (3 s by
// default). Default: [DefaultTimeout].
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(b *Bucket) error {
		if d <= 0 {
			return &OptionError{Name: "WithTimeout", Value: d.String(), Reason: "must be > 0"}
		}
		b.timeout = d
		return nil
	})
}

// WithFailureMode sets what the bucket does while Redis fails. Default:
// [FailFallback].
func WithFailureMode(m FailureMode) Option {
	return optionFunc(func(b *Bucket) error {
		if m > FailClosed {
			return &OptionError{Name: "WithFailureMode", Value: m.String(), Reason: "must be FailFallback, FailOpen or FailClosed"}
		}
		b.mode = m
		return nil
	})
}

// WithFallbackShare sets the share, in (0, 1], of the fleet's last known
// rate and burst that a process paces by on its own with FailFallback: the
// rate last read from Redis, or the policy's starting rate if Redis never
// answered. Successes on the fallback never raise its rate past that
// share; throttles lower it. So with N processes, at most N × share of the
// fleet's rate reaches the upstream while Redis is down. Default:
// [DefaultFallbackShare].
func WithFallbackShare(share float64) Option {
	return optionFunc(func(b *Bucket) error {
		if !(share > 0 && share <= 1) {
			return &OptionError{Name: "WithFallbackShare", Value: strconv.FormatFloat(share, 'g', -1, 64), Reason: "must be in (0, 1]"}
		}
		b.share = share
		return nil
	})
}

// WithRetryInterval sets how long a bucket that found Redis failing waits
// before asking it again. Only a call made then can end the failure mode:
// one that was on its way when another found Redis failing proves nothing
// by succeeding. A bucket that finds Redis failing again less than this
// long after it answered resumes the fallback it left, tokens and all,
// rather than start a new one with a full burst: a Redis that answers
// some calls and fails others (out of memory, it answers reads and fails
// writes) gets one fallback burst, not one per failure. Default:
// [DefaultRetryInterval].
func WithRetryInterval(d time.Duration) Option {
	return optionFunc(func(b *Bucket) error {
		if d <= 0 {
			return &OptionError{Name: "WithRetryInterval", Value: d.String(), Reason: "must be > 0"}
		}
		b.retry = d
		return nil
	})
}

// WithCallerClock makes the bucket measure time by the instants its caller
// passes, as the in-memory bucket does, instead of by the Redis server's
// clock. Every process of a fleet must then have a synchronized clock; it
// is for tests on a fake clock.
func WithCallerClock() Option {
	return optionFunc(func(b *Bucket) error { b.callerClock = true; return nil })
}

// WithOnFailure sets a function called, outside any lock, when the bucket
// finds Redis failing (err is why) and when it finds it answering again
// (err is nil): for logs and alerts.
func WithOnFailure(f func(key string, err error)) Option {
	return optionFunc(func(b *Bucket) error { b.onFailure = f; return nil })
}

// OptionError reports an invalid option or argument.
type OptionError struct {
	// Name is the option or argument.
	Name string
	// Value is the rejected value.
	Value string
	// Reason says what a valid value is.
	Reason string
}

func (e *OptionError) Error() string {
	return "redisbucket: " + e.Name + " = " + e.Value + ": " + e.Reason
}

// Bucket is a token bucket and an adaptive state shared through Redis by
// every process that uses the same name: a fleet paces against one budget
// that adapts as one. It implements bucket.Bucket; give it to a limiter with
// dynlimit.WithBucket. Safe for concurrent use.
//
// The limiter's state lives in one Redis hash per name, under a key with a
// hash tag ({name}) so that a Cluster keeps it in one slot. Every call runs
// one Lua script, atomically, in one round trip (EVALSHA, with EVAL when the
// server does not have it); taking a permit is one call. A policy step reads
// the state, runs the policy in the process and writes the result back if no
// other process changed it in between (else reads again), so that a
// congestion event seen by many processes lowers the rate once: the first
// write moves the epoch, and the others' throttles then belong to an older
// one.
//
// Time is the Redis server's (TIME), so the hosts' clocks need not agree;
// the instants callers pass only place the answers in their own time (see
// [WithCallerClock]).
type Bucket struct {
	c           redis.UniversalClient
	name, key   string
	prefix      string
	ttl         time.Duration
	timeout     time.Duration
	mode        FailureMode
	share       float64
	retry       time.Duration
	callerClock bool
	onFailure   func(string, error)
	ttlArg      any      // ttl in milliseconds as the script takes it, boxed once: every call passes it
	keys        []string // []string{key}, made once: every call passes it
	// slot is the context that bounds the calls of callers whose context
	// is never canceled; see boundContext.
	slot atomic.Pointer[callSlot]

	mu      sync.Mutex
	inited  bool
	initial policy.State // what Init was given: to make the hash again if it expired
	origin  time.Time    // of the hash, caller clock
	last    policy.State // the last state seen in Redis
	// version is the version of last, when known (haveVersion): a policy
	// step computed from last is written if the hash is still at it.
	version     string
	versionN    uint64
	haveVersion bool
	// pending are the successes reported since the last write, not yet in
	// Redis: their step is computed from last and written with the next
	// take, in the same call. view is last with that step applied: what
	// Apply reports.
	pending pendingStep
	// inflight are the successes that calls on their way to Redis carry:
	// view counts them until their call's reply says what became of them.
	inflight pendingStep
	view     policy.State
	down     bool
	retryAt  time.Time // while down: when to ask Redis again
	// downs counts the times the bucket went down: a call that began
	// before the last of them proves nothing by succeeding (see up).
	downs uint64
	// downErr and downAt are Redis's error and the instant it was found
	// failing, while down.
	downErr error
	downAt  time.Time
	// fallback is the local bucket of FailFallback, made when the bucket
	// goes down and kept when it comes back up, at upAt: going down again
	// within the retry interval resumes it rather than make a new one
	// with a full burst. Its steps never take its rate above fallbackCap,
	// the share of the last state seen in Redis.
	fallback    *bucket.Local
	fallbackCap float64
	upAt        time.Time
}

var _ bucket.Bucket = (*Bucket)(nil)

// New returns the Bucket of name on c. A name is what the fleet shares: up
// to 200 bytes of printable characters without braces or white space. It
// checks the options, not Redis: a Redis that does not answer yet is
// handled by the failure mode.
func New(c redis.UniversalClient, name string, opts ...Option) (*Bucket, error) {
	if c == nil {
		return nil, &OptionError{Name: "client", Value: "nil", Reason: "must be a redis.UniversalClient"}
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	b := &Bucket{
		c: c, name: name, prefix: DefaultPrefix, ttl: DefaultTTL, timeout: DefaultTimeout,
		share: DefaultFallbackShare, retry: DefaultRetryInterval,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(b); err != nil {
			return nil, err
		}
	}
	b.key = b.prefix + "{" + name + "}"
	b.keys = []string{b.key}
	b.ttlArg = strconv.FormatInt(b.ttl.Milliseconds(), 10)
	return b, nil
}

func checkName(name string) error {
	bad := func(reason string) error {
		return &OptionError{Name: "name", Value: strconv.Quote(name), Reason: reason}
	}
	if name == "" {
		return bad("must not be empty")
	}
	if len(name) > maxNameLen {
		return bad("must be at most 200 bytes")
	}
	for _, r := range name {
		switch {
		case r == '{' || r == '}':
			return bad("must not hold braces: the key's hash tag is made of it")
		case r <= ' ' || r == 0x7f:
			return bad("must not hold white space or control characters")
		}
	}
	return nil
}

// Key returns the Redis key of the bucket's hash.
func (b *Bucket) Key() string { return b.key }

// Mode returns the failure mode.
func (b *Bucket) Mode() FailureMode { return b.mode }

// Down reports whether the bucket found Redis failing and has not found it
// answering since.
func (b *Bucket) Down() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.down
}

// pendingStep is a batch of successes waiting for the next call to Redis,
// reported at at.
type pendingStep struct {
	p  policy.Policy
	o  policy.Outcome // Count is the number of successes
	at time.Time
}

func (ps pendingStep) ok() bool { return ps.p != nil && ps.o.Count > 0 }

// step is a policy step to write with a call: next, computed from the
// state at version, taken at at.
type step struct {
	version string // "" for none
	at      time.Time
	next    policy.State
	// delta, when set, writes the step as what it adds to the rate and the
	// ceiling of whatever state the hash holds in epoch next.Epoch, within
	// [minRate, maxRate]: successes from several processes add up. Its
	// Updated and Measured replace the hash's unless the hash's Updated is
	// later, and its Since replaces the hash's if the step moved it
	// (setSince).
	delta            bool
	dRate, dCeiling  float64
	minRate, maxRate float64
	setSince         bool
	// base is the state the step was computed from.
	base policy.State
	// from is the pending batch the step was made of (none for a step
	// that carries no successes), to put back if the step is not applied.
	from pendingStep
}

// Init makes the shared hash with state s, unless a process already made
// it; see [bucket.Bucket.Init].
func (b *Bucket) Init(ctx context.Context, now time.Time, s policy.State) error {
	if err := bucket.CheckState(s); err != nil {
		return err
	}
	b.mu.Lock()
	if b.inited {
		b.mu.Unlock()
		return nil
	}
	b.inited, b.initial, b.last, b.view = true, s, s, s
	b.mu.Unlock()
	err := b.remoteInit(ctx, now)
	if err == nil {
		return nil
	}
	// Redis is down at start: the failure mode applies from the first
	// take, and the hash is made when Redis answers (see call).
	if err = b.failed(ctx, now, "init", err, func(*bucket.Local) error { return nil }); ctx.Err() != nil {
		return err
	}
	return nil
}

// remoteInit makes the hash from b.initial if it does not exist, and learns
// its origin.
func (b *Bucket) remoteInit(ctx context.Context, now time.Time) error {
	b.mu.Lock()
	s := b.initial
	b.mu.Unlock()
	clk := "srv"
	if b.callerClock {
		clk = "caller"
	}
	v, err := b.run(ctx, []any{"init", clk, b.ttlArg, now.Unix(), now.Nanosecond(),
		ftoa(s.Rate), ftoa(s.Burst), spanArg(s.CooldownUntil, now), strconv.FormatUint(s.Epoch, 10),
		ftoa(s.QuotaRate), spanArg(s.QuotaUntil, now), ftoa(s.Ceiling),
		spanArg(s.Since, now), spanArg(s.Updated, now), ftoa(s.Measured)})
	if err != nil {
		return err
	}
	if len(v) < 4 {
		return errReply("init", v)
	}
	sec, ok1 := v.int(1)
	nsec, ok2 := v.int(2)
	if !ok1 || !ok2 {
		return errReply("init", v)
	}
	b.mu.Lock()
	b.origin = time.Unix(sec, nsec)
	if v.str(3) == "new" {
		b.last, b.version, b.versionN, b.haveVersion = s, "0", 0, true // a new hash: versions start again
	} else {
		b.haveVersion, b.versionN = false, 0 // another process's hash: learn its state first
	}
	b.refreshView()
	b.mu.Unlock()
	return nil
}

// Take reserves n tokens; see [bucket.Bucket.Take]. It is one call to
// Redis, which also writes the step of the successes reported since the
// last one.
func (b *Bucket) Take(ctx context.Context, now time.Time, n float64, maxWait time.Duration) (bucket.Reservation, error) {
	if err := b.checkInit(); err != nil {
		return bucket.Reservation{}, err
	}
	if !(n > 0) || math.IsInf(n, 0) {
		return bucket.Reservation{}, &bucket.BurstError{N: n, Burst: b.lastState().Burst}
	}
	return viaRedis(ctx, b, now, "take", func() (bucket.Reservation, error, error) {
		// The commonest arguments, a token and no wait, boxed once.
		nArg, waitArg := argOne, argZero
		if n != 1 {
			nArg = ftoa(n)
		}
		switch {
		case maxWait == bucket.Forever:
			waitArg = "inf"
		case maxWait > 0:
			waitArg = strconv.FormatInt(int64(maxWait), 10)
		}
		nowOff, v, err := b.call(ctx, now, "take", b.pendingStep(), nArg, waitArg)
		if err != nil {
			return bucket.Reservation{}, err, nil
		}
		if len(v) >= 2 && v.str(0) == "burst" {
			burst, _ := v.num(1)
			return bucket.Reservation{}, nil, &bucket.BurstError{N: n, Burst: burst}
		}
		if len(v) < 3 {
			return bucket.Reservation{}, nil, errReply("take", v)
		}
		ok, ok0 := v.int(0)
		at, ok1 := v.num(1)
		epoch, ok2 := v.uint(2)
		if !ok0 || !ok1 || !ok2 {
			return bucket.Reservation{}, nil, errReply("take", v)
		}
		return bucket.Reservation{OK: ok == 1, At: b.toCaller(now, nowOff, at), Tokens: n, Epoch: epoch}, nil, nil
	}, func(l *bucket.Local) (bucket.Reservation, error) {
		return l.Take(ctx, now, n, maxWait)
	}, func() bucket.Reservation {
		return bucket.Reservation{OK: true, At: now, Tokens: n, Epoch: b.lastState().Epoch}
	})
}

// Confirm reports whether r was made in the current epoch.
func (b *Bucket) Confirm(ctx context.Context, now time.Time, r bucket.Reservation) (bool, error) {
	if err := b.checkInit(); err != nil {
		return false, err
	}
	if !r.OK {
		return false, nil
	}
	return viaRedis(ctx, b, now, "confirm", func() (bool, error, error) {
		_, v, err := b.call(ctx, now, "epoch", b.pendingStep())
		if err != nil {
			return false, err, nil
		}
		if len(v) < 1 {
			return false, nil, errReply("epoch", v)
		}
		epoch, ok := v.uint(0)
		if !ok {
			return false, nil, errReply("epoch", v)
		}
		return epoch == r.Epoch, nil, nil
	}, func(l *bucket.Local) (bool, error) {
		return l.Confirm(ctx, now, r)
	}, func() bool { return true })
}

// Cancel gives back r's tokens; see [bucket.Bucket.Cancel].
func (b *Bucket) Cancel(ctx context.Context, now time.Time, r bucket.Reservation) error {
	if err := b.checkInit(); err != nil {
		return err
	}
	if !r.OK || !r.At.After(now) {
		return nil
	}
	_, err := viaRedis(ctx, b, now, "cancel", func() (struct{}, error, error) {
		_, _, err := b.call(ctx, now, "cancel", b.pendingStep(), strconv.FormatUint(r.Epoch, 10), b.instArg(r.At, now), ftoa(r.Tokens))
		return struct{}{}, err, nil
	}, func(l *bucket.Local) (struct{}, error) {
		return struct{}{}, l.Cancel(ctx, now, r)
	}, func() struct{} { return struct{}{} })
	return err
}

// viaRedis runs an operation of the bucket with call, or, while Redis is
// down (or when call finds it failing), as the failure mode says: on the
// fallback bucket with local, with open's answer when failing open, with
// an *UnavailableError when failing closed. Of call's two errors, the
// first is Redis failing; the second, a reply it could not use, is
// returned as it is.
func viaRedis[T any](ctx context.Context, b *Bucket, now time.Time, op string,
	call func() (T, error, error), local func(*bucket.Local) (T, error), open func() T,
) (T, error) {
	var zero T
	if l, err, ok := b.whileDown(now, op); ok {
		switch {
		case l != nil:
			return local(l)
		case errors.Is(err, errOpen):
			return open(), nil
		}
		return zero, err
	}
	v, redisErr, err := call()
	if redisErr == nil {
		return v, err
	}
	out := zero
	redisErr = b.failed(ctx, now, op, redisErr, func(l *bucket.Local) (e error) {
		out, e = local(l)
		return e
	})
	if errors.Is(redisErr, errOpen) {
		return open(), nil
	}
	return out, redisErr
}

// Apply runs one policy step on the shared state; see [bucket.Bucket.Apply].
//
// A batch of plain successes (no quota hints, no Retry-After) costs no
// call of its own: its step is computed here from the last state seen and
// written by the next call, a take most often, as of the instant it was
// reported. Any other outcome is written at once, computed from the last
// state seen and written if the hash is still at that version; if another
// process changed it meanwhile, the reply carries the state as it is and
// the step is computed again from it. So a congestion event that every
// process of a fleet reports lowers the rate once: the first write moves
// the epoch, and the others' outcomes are then about an older one.
func (b *Bucket) Apply(ctx context.Context, p policy.Policy, o policy.Outcome, now time.Time) (prev, next policy.State, err error) {
	if err := b.checkInit(); err != nil {
		return prev, next, err
	}
	if l, err, ok := b.whileDown(now, "apply"); ok {
		if l != nil {
			return l.Apply(ctx, b.fallbackPolicy(p), o, now)
		}
		s := b.lastState()
		return s, s, ignoreOpen(err)
	}
	var done bool
	if prev, next, done, err = b.deferSuccesses(ctx, p, o, now); done || err != nil {
		if err != nil {
			return b.applyFailed(ctx, p, o, now, err)
		}
		return prev, next, nil
	}
	// The pending successes were reported before: written first.
	if err = b.flush(ctx, now); err != nil {
		return b.applyFailed(ctx, p, o, now, err)
	}
	for range maxApplyRounds {
		b.mu.Lock()
		have, base, version := b.haveVersion, b.last, b.version
		b.mu.Unlock()
		if !have {
			if err = b.refresh(ctx, now); err != nil {
				return b.applyFailed(ctx, p, o, now, err)
			}
			continue
		}
		next = p.Next(base, o, now)
		if o.Signal.Quota.HasRemaining {
			next = policy.Pace(next, o.Signal, now)
		}
		next = policy.Sanitize(base, next)
		var written bool
		if written, err = b.write(ctx, now, step{version: version, at: now, next: next}); err != nil {
			return b.applyFailed(ctx, p, o, now, err)
		}
		if written {
			return base, next, nil
		}
	}
	return prev, next, fmt.Errorf("redisbucket: apply %s: the state changed under %d attempts in a row", b.key, maxApplyRounds)
}

// refresh learns the state and its version from Redis, with Redis's error
// as it is: Peek's failure mode is the caller's to apply.
func (b *Bucket) refresh(ctx context.Context, now time.Time) error {
	nowOff, v, err := b.call(ctx, now, "peek", b.pendingStep())
	if err != nil {
		return err
	}
	if len(v) < stateLen {
		return errReply("peek", v)
	}
	s, version, err := b.parseState(now, nowOff, v[:stateLen])
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.adopt(s, version, false)
	b.refreshView()
	b.mu.Unlock()
	return nil
}

// applyFailed is Apply when Redis failed.
func (b *Bucket) applyFailed(ctx context.Context, p policy.Policy, o policy.Outcome, now time.Time, err error) (prev, next policy.State, _ error) {
	err = b.failed(ctx, now, "apply", err, func(l *bucket.Local) (e error) {
		prev, next, e = l.Apply(ctx, b.fallbackPolicy(p), o, now)
		return e
	})
	if errors.Is(err, errOpen) {
		s := b.lastState()
		return s, s, nil
	}
	return prev, next, err
}

// deferSuccesses takes in a batch of plain successes without a call of its
// own when it can (done): the last state and its version are known and the
// batch belongs to their epoch. A batch reported at another instant than
// the pending one first writes that one, as its step must take effect at
// its own instant.
func (b *Bucket) deferSuccesses(ctx context.Context, p policy.Policy, o policy.Outcome, now time.Time) (prev, next policy.State, done bool, err error) {
	sig := &o.Signal
	if sig.Kind != signal.Success || sig.HasRetryAfter || sig.RetryAfter != 0 || sig.Quota.Known() || sig.TokenQuota.Known() {
		return prev, next, false, nil
	}
	for range 2 {
		b.mu.Lock()
		if !b.haveVersion || o.Epoch != b.last.Epoch {
			b.mu.Unlock()
			return prev, next, false, nil
		}
		if b.pending.ok() && !b.pending.at.Equal(now) {
			b.mu.Unlock()
			if err := b.flush(ctx, now); err != nil {
				return prev, next, false, err
			}
			continue
		}
		o.Count = o.N()
		if b.pending.ok() {
			o.Count += b.pending.o.Count
		}
		prev = b.view
		b.pending = pendingStep{p: p, o: o, at: now}
		b.refreshView()
		next = b.view
		b.mu.Unlock()
		return prev, next, true, nil
	}
	return prev, next, false, nil
}

// flush writes the pending successes' step now, if there is one.
func (b *Bucket) flush(ctx context.Context, now time.Time) error {
	st := b.pendingStep()
	if st.version == "" {
		return nil
	}
	_, _, err := b.call(ctx, now, "write", st)
	return err
}

// write writes st alone and reports whether it was written; on a conflict
// the state as it is was taken in.
func (b *Bucket) write(ctx context.Context, now time.Time, st step) (bool, error) {
	_, v, err := b.call(ctx, now, "write", st)
	if err != nil {
		return false, err
	}
	return v == nil, nil // the header said written: call returns no body; see call
}

// pendingStep returns the step of the pending successes to carry with a
// call; a step without version when there is none.
func (b *Bucket) pendingStep() step {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.pending.ok() || !b.haveVersion {
		return step{}
	}
	if b.pending.o.Epoch != b.last.Epoch {
		b.pending = pendingStep{} // successes of an epoch a throttle ended
		b.view = b.last
		return step{}
	}
	next := policy.Sanitize(b.last, b.pending.p.Next(b.last, b.pending.o, b.pending.at))
	st := step{version: b.version, at: b.pending.at, next: next, from: b.pending}
	// In flight now: a call made before this one's reply must not carry the
	// same successes again. unsend puts them back if the call fails; until
	// then view counts them as in flight.
	b.inflight = addSuccesses(b.inflight, b.pending)
	b.pending.o.Count = 0
	// A step that moves only the rate and the ceiling, and the instants
	// and the measure of time-aware policies, as successes do, is written
	// as a change when the policy says its bounds.
	if rb, ok := b.pending.p.(interface{ RateBounds() (float64, float64) }); ok {
		same := b.last
		same.Rate, same.Ceiling = next.Rate, next.Ceiling
		same.Since, same.Updated, same.Measured = next.Since, next.Updated, next.Measured
		if same == next {
			st.delta, st.dRate, st.dCeiling = true, next.Rate-b.last.Rate, next.Ceiling-b.last.Ceiling
			st.minRate, st.maxRate = rb.RateBounds()
			st.setSince = !next.Since.Equal(b.last.Since)
			st.base = b.last
		}
	}
	return st
}

// merged returns the Since, Updated and Measured that the change st leaves
// in a hash at st's base, as the script merges them: the step's Since if it
// moved it, the step's Updated and Measured unless the base's Updated is
// later.
func (st *step) merged() (since, updated time.Time, measured float64) {
	since, updated, measured = st.base.Since, st.base.Updated, st.base.Measured
	if st.setSince {
		since = st.next.Since
	}
	if !st.next.Updated.Before(updated) {
		updated, measured = st.next.Updated, st.next.Measured
	}
	return since, updated, measured
}

// unsend puts back into the pending batch the successes of st, which a
// call carried but Redis did not apply (the call failed, or the version
// had moved on). b.mu is held.
func (b *Bucket) unsend(st step) {
	if !st.from.ok() {
		return
	}
	b.landed(st)
	b.pending = addSuccesses(b.pending, st.from)
}

// landed takes the successes of st out of those in flight: its call came
// back. b.mu is held.
func (b *Bucket) landed(st step) {
	if b.inflight.o.Count -= min(st.from.o.Count, b.inflight.o.Count); b.inflight.o.Count == 0 {
		b.inflight = pendingStep{}
	}
}

// addSuccesses returns batch a with the successes of b added, reported at
// b's instant if a has none.
func addSuccesses(a, b pendingStep) pendingStep {
	if !a.ok() {
		return b
	}
	a.o.Count += b.o.Count
	return a
}

// adopt takes s, at version, as the last state seen. A state this process
// derived from its own write (own) is ignored when a reply that came back
// first already showed a later version; a state Redis sent is taken as it
// is, even at a lower version: the hash may have been made again. b.mu is
// held.
func (b *Bucket) adopt(s policy.State, version string, own bool) {
	v, err := strconv.ParseUint(version, 10, 64)
	if err != nil {
		return
	}
	if own && b.haveVersion && v < b.versionN {
		return
	}
	b.last, b.version, b.versionN, b.haveVersion = s, version, v, true
}

// refreshView recomputes view from last and the successes not in it yet:
// those in flight and those pending. b.mu is held.
func (b *Bucket) refreshView() {
	b.view = b.last
	if b.pending.ok() && b.pending.o.Epoch != b.last.Epoch {
		b.pending = pendingStep{}
	}
	all := b.pending
	if b.inflight.ok() && b.inflight.o.Epoch == b.last.Epoch {
		all = addSuccesses(all, b.inflight)
	}
	if all.ok() {
		b.view = policy.Sanitize(b.last, all.p.Next(b.last, all.o, all.at))
	}
}

// Peek returns the shared state and tokens at now. The state is the one
// this process sees: with the successes it reported and not yet wrote.
func (b *Bucket) Peek(ctx context.Context, now time.Time) (bucket.Status, error) {
	if err := b.checkInit(); err != nil {
		return bucket.Status{}, err
	}
	return viaRedis(ctx, b, now, "peek", func() (bucket.Status, error, error) {
		nowOff, v, err := b.call(ctx, now, "peek", b.pendingStep())
		if err != nil {
			return bucket.Status{}, err, nil
		}
		if len(v) < stateLen+1 {
			return bucket.Status{}, nil, errReply("peek", v)
		}
		s, version, err := b.parseState(now, nowOff, v[:stateLen])
		if err != nil {
			return bucket.Status{}, nil, err
		}
		tokens, ok := v.num(stateLen)
		if !ok {
			return bucket.Status{}, nil, errReply("peek", v)
		}
		b.mu.Lock()
		b.adopt(s, version, false)
		b.refreshView()
		s = b.view
		b.mu.Unlock()
		st := bucket.Status{State: s}
		if tokens >= 0 {
			st.Tokens = tokens
		} else {
			st.Reserved = -tokens
		}
		return st, nil, nil
	}, func(l *bucket.Local) (bucket.Status, error) {
		st, err := l.Peek(ctx, now)
		st.Degraded = b.degraded()
		return st, err
	}, func() bucket.Status {
		s := b.lastState()
		return bucket.Status{State: s, Tokens: s.Burst, Degraded: b.degraded()}
	})
}

// degraded returns the Status.Degraded of a bucket answering without
// Redis, nil if Redis answers.
func (b *Bucket) degraded() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.down || b.downErr == nil {
		return nil
	}
	return &DegradedError{Key: b.key, Mode: b.mode, Since: b.downAt, Err: b.downErr}
}

// stateLen is the length of a state in a reply: see parseState.
const stateLen = 11

// parseState reads a state and its version: rate, burst, cooldown, epoch,
// quota rate, quota until, ceiling, since, updated, measured, version; "z"
// is the zero instant.
func (b *Bucket) parseState(now time.Time, nowOff float64, w reply) (policy.State, string, error) {
	if len(w) < stateLen {
		return policy.State{}, "", errReply("state", w)
	}
	var f [stateLen - 1]float64
	for i := range f {
		if (i == 2 || i == 5 || i == 7 || i == 8) && w.str(i) == "z" {
			f[i] = zeroInstant
			continue
		}
		x, ok := w.num(i)
		if !ok {
			return policy.State{}, "", errReply("state", w)
		}
		f[i] = x
	}
	return policy.State{
		Rate: f[0], Burst: f[1], CooldownUntil: b.instant(now, nowOff, f[2]), Epoch: uint64(f[3]),
		QuotaRate: f[4], QuotaUntil: b.instant(now, nowOff, f[5]), Ceiling: f[6],
		Since: b.instant(now, nowOff, f[7]), Updated: b.instant(now, nowOff, f[8]), Measured: f[9],
	}, w.str(stateLen - 1), nil
}

// zeroInstant is the script's zero instant (NEG in script.lua).
const zeroInstant = -1e300

// headerLen returns the length of v's header (see script.lua), which its
// kind, v[1], gives; 0 for a header it does not know.
func headerLen(v reply) int {
	if len(v) < 2 {
		return 0
	}
	n := 0
	switch v.str(1) {
	case "none", "stale":
		n = 2
	case "written":
		n = 3
	case "added1":
		n = 5
	case "added", "conflict":
		n = 2 + stateLen
	}
	if len(v) < n {
		return 0
	}
	return n
}

// call runs op on the hash with st, the step to write first, and returns
// the instant the script ran at (as an offset, see script.lua) and the
// operation's reply, after the header. It takes in what the header says of
// st. A hash that expired or was deleted is made again from Init's state.
// For "write", the reply is nil when st was written and the header
// otherwise.
func (b *Bucket) call(ctx context.Context, now time.Time, op string, st step, rest ...any) (float64, reply, error) {
	b.mu.Lock()
	downs := b.downs
	b.mu.Unlock()
	origin := b.originAt()
	if origin.IsZero() {
		// Init could not reach Redis: make the hash first, which also
		// gives the origin the caller's instants are measured from.
		if err := b.remoteInit(ctx, now); err != nil {
			b.mu.Lock()
			b.unsend(st)
			b.mu.Unlock()
			return 0, nil, err
		}
		origin = b.originAt()
	}
	n := 4 + len(rest)
	switch {
	case st.version != "" && st.delta:
		n += 10
	case st.version != "":
		n += 11
	}
	args := make([]any, 0, n)
	args = append(args, opArg(op), nil, b.ttlArg, st.version)
	switch {
	case st.version != "" && st.delta:
		args[3] = "d"
		// A policy that keeps no time, as most do, moves neither: their
		// arguments are boxed once.
		since, updated, measured := argKeep, argZ, argZero
		if st.setSince {
			since = b.instArg(st.next.Since, now)
		}
		if !st.next.Updated.IsZero() {
			updated = b.instArg(st.next.Updated, now)
		}
		if st.next.Measured != 0 {
			measured = ftoa(st.next.Measured)
		}
		args = append(args, b.instArg(st.at, now), ftoa(st.dRate), ftoa(st.dCeiling), ftoa(st.minRate), ftoa(st.maxRate),
			strconv.FormatUint(st.next.Epoch, 10), st.version, since, updated, measured)
	case st.version != "":
		args = append(args, b.instArg(st.at, now), ftoa(st.next.Rate), ftoa(st.next.Burst), b.instArg(st.next.CooldownUntil, now),
			strconv.FormatUint(st.next.Epoch, 10), ftoa(st.next.QuotaRate), b.instArg(st.next.QuotaUntil, now), ftoa(st.next.Ceiling),
			b.instArg(st.next.Since, now), b.instArg(st.next.Updated, now), ftoa(st.next.Measured))
	}
	args = append(args, rest...)
	args[1] = b.nowArg(now, origin)
	v, err := b.run(ctx, args)
	if err != nil && strings.Contains(err.Error(), "NOINIT") {
		b.mu.Lock()
		b.unsend(st)
		b.mu.Unlock()
		if err = b.remoteInit(ctx, now); err != nil {
			return 0, nil, err
		}
		// The step was computed from a hash that is gone.
		if st.version != "" {
			restAt := 4 + 11 // after a state
			if st.delta {
				restAt = 4 + 10 // after a change
			}
			args = append(args[:4:4], args[restAt:]...)
			args[3] = ""
		}
		st = step{}
		args[1] = b.nowArg(now, b.originAt())
		v, err = b.run(ctx, args)
	}
	var nowOff float64
	hdr := 0
	if err == nil {
		var ok bool
		if hdr = headerLen(v); hdr > 0 { // at least the instant and the kind
			nowOff, ok = v.num(0)
		}
		if !ok {
			err = errReply(op, v)
		}
	}
	if err != nil {
		b.mu.Lock()
		b.unsend(st)
		b.mu.Unlock()
		return 0, nil, err
	}
	b.up(now, downs)
	switch kind := v.str(1); kind {
	case "written":
		b.mu.Lock()
		b.landed(st)
		b.adopt(st.next, v.str(2), true)
		b.refreshView()
		b.mu.Unlock()
		if op == "write" {
			return nowOff, nil, nil
		}
	case "added1":
		// Only this process wrote since its version: its state with the
		// rate and ceiling the change left, and the since, updated and
		// measured it merged into the state at that version.
		r, ok1 := v.num(2)
		c, ok2 := v.num(3)
		if !ok1 || !ok2 {
			b.mu.Lock()
			b.unsend(st)
			b.mu.Unlock()
			return 0, nil, errReply(op, v)
		}
		b.mu.Lock()
		b.landed(st)
		s := b.last
		s.Rate, s.Ceiling = r, c
		s.Since, s.Updated, s.Measured = st.merged()
		b.adopt(s, v.str(4), true)
		b.refreshView()
		b.mu.Unlock()
		if op == "write" {
			return nowOff, nil, nil
		}
	case "added", "conflict":
		s, version, err := b.parseState(now, nowOff, v[2:hdr])
		if err != nil {
			b.mu.Lock()
			b.unsend(st)
			b.mu.Unlock()
			return 0, nil, err
		}
		b.mu.Lock()
		b.adopt(s, version, false)
		if kind == "conflict" {
			b.unsend(st)
		} else {
			b.landed(st)
		}
		b.refreshView()
		b.mu.Unlock()
		if op == "write" {
			if kind == "added" {
				return nowOff, nil, nil
			}
			return nowOff, v[:hdr], nil
		}
	case "stale":
		b.mu.Lock()
		b.landed(st)
		b.pending = pendingStep{} // the epoch they belong to has ended
		b.haveVersion, b.versionN = false, 0
		b.refreshView()
		b.mu.Unlock()
	}
	return nowOff, v[hdr:], nil
}

// run runs the script once, within the per-call timeout.
func (b *Bucket) run(ctx context.Context, args []any) (reply, error) {
	ctx, cancel := b.boundContext(ctx)
	if cancel != nil {
		defer cancel()
	}
	res, err := script.Run(ctx, b.c, b.keys, args...).Result()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			// The bucket's own bound ended the call: say so, since
			// "context deadline exceeded" alone reads as the caller's. A
			// dial to an address that does not answer ends this way too.
			return nil, fmt.Errorf("no answer from redis within the bucket's timeout of %v (WithTimeout): %w", b.timeout, err)
		}
		return nil, err
	}
	items, ok := res.([]any)
	if !ok {
		return nil, fmt.Errorf("redisbucket: unexpected reply %T", res)
	}
	for _, it := range items {
		switch it.(type) {
		case string, int64:
		default:
			return nil, fmt.Errorf("redisbucket: unexpected reply item %T", it)
		}
	}
	return items, nil
}

// callSlot is a context shared by the calls that start before end (on
// the monotime clock), expiring the bucket's timeout after end.
type callSlot struct {
	ctx    context.Context
	cancel context.CancelFunc // the timer's own expiry releases the context; kept for vet
	end    time.Duration
}

// boundContext returns ctx bounded by the bucket's per-call timeout, and
// the func that releases it, if any.
//
// A context.WithTimeout per call would start a timer per call, and adding a
// timer that is due before the ones the runtime sleeps on wakes a thread:
// measured, about 4 µs of CPU per acquire, a fifth of the client's cost.
// So a caller whose context is never canceled (Done is nil, as for
// context.Background, which the Limiter's Allow uses) shares one
// context with the calls that start within the same eighth of the timeout:
// each call is bounded by the timeout and at most an eighth more, and a
// timer starts per slot, not per call. go-redis bounds its waits (a free
// connection, the backoff between its retries) by Done, and the network
// I/O by the deadline when the client is made with ContextTimeoutEnabled
// (otherwise by its own ReadTimeout and WriteTimeout). A context that already ends within the
// timeout is used as it is; another one that can be canceled gets a
// timeout of its own.
func (b *Bucket) boundContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= b.timeout {
		return ctx, nil
	}
	if ctx.Done() != nil {
		return context.WithTimeout(ctx, b.timeout)
	}
	now := monotime.Since()
	s := b.slot.Load()
	if s == nil || now >= s.end {
		step := b.timeout / 8
		c, cancel := context.WithTimeout(context.Background(), b.timeout+step)
		s = &callSlot{ctx: c, cancel: cancel, end: now + step}
		b.slot.Store(s) // callers that race here each start a slot; the last one stays
	}
	if ctx == context.Background() {
		return s.ctx, nil
	}
	return valuesOf{Context: s.ctx, values: ctx}, nil
}

// valuesOf is a bounding context (deadline, Done, Err) that carries the
// values of the caller's context, for the client's hooks.
type valuesOf struct {
	context.Context
	values context.Context
}

// Value returns the bounding context's value for key, if it has one, else
// the caller's. The bounding context, made from context.Background, has
// only the context package's own: with it, a context derived from this one
// is canceled with it without a goroutine to watch it.
func (c valuesOf) Value(key any) any {
	if v := c.Context.Value(key); v != nil {
		return v
	}
	return c.values.Value(key)
}

// Arguments boxed once.
var argOne, argZero, argSrv, argTake, argWrite, argKeep, argZ any = "1", "0", "srv", "take", "write", "k", "z"

// errOpen is what failed returns to a FailOpen bucket's methods: let it be.
var errOpen = errors.New("redisbucket: failing open")

// failed handles an error of Redis for op: a canceled caller gets its
// context's error; otherwise the failure mode decides. With FailFallback,
// local runs op on the fallback bucket, made from the last known state, or
// the one left when Redis came back less than the retry interval ago.
func (b *Bucket) failed(ctx context.Context, now time.Time, op string, err error, local func(*bucket.Local) error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr // the caller gave up: no news of Redis
	}
	b.mu.Lock()
	wasDown := b.down
	if !wasDown {
		b.down, b.retryAt = true, now.Add(b.retry)
		b.downErr, b.downAt = err, now
		b.downs++
		if b.mode == FailFallback {
			b.enterFallback(now)
		}
	} else if at := now.Add(b.retry); at.After(b.retryAt) {
		// A call that began before an earlier one found Redis down may
		// carry an older instant: it never brings the next try closer.
		b.retryAt = at
	}
	l := b.fallback
	b.mu.Unlock()
	if !wasDown && b.onFailure != nil {
		b.onFailure(b.key, err)
	}
	switch b.mode {
	case FailOpen:
		return errOpen
	case FailClosed:
		return &UnavailableError{Key: b.key, Op: op, Err: err}
	}
	return local(l)
}

// enterFallback makes the fallback bucket at now, or resumes the last one
// if Redis came back less than the retry interval ago: a Redis that
// answers some calls and fails others (out of memory, it answers reads and
// fails writes) would otherwise hand the callers a fresh burst each time.
// A resumed fallback keeps its tokens and state; if the state seen in
// Redis meanwhile has a lower rate, its share becomes the cap and the
// fallback is lowered to it. b.mu is held.
func (b *Bucket) enterFallback(now time.Time) {
	if b.fallback == nil || !now.Before(b.upAt.Add(b.retry)) {
		b.fallback, b.fallbackCap = b.newFallback(now)
		return
	}
	c := b.share * b.last.Rate
	if !(c < b.fallbackCap) {
		return
	}
	b.fallbackCap = c
	// Lowering the rate is a decrease: the fallback is drained, as after
	// any congestion event, and its reservations forfeited.
	_, _, _ = b.fallback.Apply(context.Background(), lowerTo(c), policy.Outcome{}, now)
}

// newFallback returns a local bucket at the fallback share of the last
// known state, keeping its cooldown, and the cap of its rate. b.mu is held.
func (b *Bucket) newFallback(now time.Time) (*bucket.Local, float64) {
	s := b.last
	s.Rate *= b.share
	s.Burst = math.Max(1, s.Burst*b.share)
	s.Ceiling *= b.share
	s.QuotaRate *= b.share
	s.Measured *= b.share
	l := bucket.NewLocal()
	_ = l.Init(context.Background(), now, s) // s comes from a valid state: Init cannot fail
	return l, s.Rate
}

// fallbackPolicy is p for the steps of the fallback bucket: the rate they
// leave is at most the fallback's cap, so that successes on the fallback
// never take a process past its share of the fleet's rate. Decreases
// apply as they are.
func (b *Bucket) fallbackPolicy(p policy.Policy) policy.Policy {
	b.mu.Lock()
	defer b.mu.Unlock()
	return capped{p: p, max: b.fallbackCap}
}

// capped is a policy whose steps never raise the rate above max.
type capped struct {
	p   policy.Policy
	max float64
}

func (c capped) Initial() policy.State { return c.p.Initial() }
func (c capped) Validate() error       { return c.p.Validate() }

func (c capped) Next(s policy.State, o policy.Outcome, now time.Time) policy.State {
	next := c.p.Next(s, o, now)
	if next.Rate > c.max {
		next.Rate = c.max
	}
	return next
}

// lowerTo is a policy whose step sets the rate to r, if that is lower.
type lowerTo float64

func (r lowerTo) Initial() policy.State { return policy.State{Rate: float64(r), Burst: 1} }
func (r lowerTo) Validate() error       { return nil }

func (r lowerTo) Next(s policy.State, _ policy.Outcome, _ time.Time) policy.State {
	s.Rate = math.Min(s.Rate, float64(r))
	return s
}

// whileDown says what to do instead of calling Redis while it is down and
// not yet due for another try (ok true): use the fallback bucket l, or
// answer as the mode says, err being errOpen or an *UnavailableError. ok
// false: call Redis.
func (b *Bucket) whileDown(now time.Time, op string) (l *bucket.Local, err error, ok bool) { //nolint:revive // err is not the function's error
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.down {
		return nil, nil, false
	}
	if !now.Before(b.retryAt) {
		// This caller asks Redis; the others stay where they are for
		// another interval rather than all wait on a server that may still
		// be down.
		b.retryAt = now.Add(b.retry)
		return nil, nil, false
	}
	switch b.mode {
	case FailOpen:
		return nil, errOpen, true
	case FailClosed:
		return nil, &UnavailableError{Key: b.key, Op: op, Err: errors.New("failed less than the retry interval ago")}, true
	}
	return b.fallback, nil, true
}

// ignoreOpen is err, or nil for errOpen.
func ignoreOpen(err error) error {
	if errors.Is(err, errOpen) {
		return nil
	}
	return err
}

// up records that Redis answered a call made at now, which began when the
// bucket had gone down downs times. A call that began before the bucket
// last went down, and was on its way while another found Redis failing,
// proves nothing about Redis now: the bucket stays on its fallback until
// the retry interval has passed and a call made then finds Redis
// answering. The fallback bucket is kept: see enterFallback.
func (b *Bucket) up(now time.Time, downs uint64) {
	b.mu.Lock()
	was := b.down
	if was && downs != b.downs {
		b.mu.Unlock()
		return
	}
	b.down, b.downErr = false, nil
	if was {
		b.haveVersion, b.versionN = false, 0 // what happened meanwhile is unknown
		b.upAt = now
	}
	b.mu.Unlock()
	if was && b.onFailure != nil {
		b.onFailure(b.key, nil)
	}
}

func (b *Bucket) checkInit() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.inited {
		return bucket.ErrUninitialized
	}
	return nil
}

func (b *Bucket) lastState() policy.State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

func (b *Bucket) originAt() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.origin
}

// nowArg is the instant argument of a call: the offset of now from the
// origin with the caller's clock, "srv" with the server's.
func (b *Bucket) nowArg(now, origin time.Time) any {
	if b.callerClock {
		return nsArg(now, origin)
	}
	return argSrv
}

// opArg returns op as an argument, boxed once for the operations every
// call makes.
func opArg(op string) any {
	switch op {
	case "take":
		return argTake
	case "write":
		return argWrite
	}
	return op
}

// instArg is an instant argument: an offset from the origin with the
// caller's clock, a span from now with the server's; "z" for the zero
// instant.
func (b *Bucket) instArg(t, now time.Time) string {
	if t.IsZero() {
		return "z"
	}
	if b.callerClock {
		return nsArg(t, b.originAt())
	}
	return nsArg(t, now)
}

// spanArg is an instant as a span from now, for init; "z" for zero.
func spanArg(t, now time.Time) string {
	if t.IsZero() {
		return "z"
	}
	return nsArg(t, now)
}

// nsArg is t - from in nanoseconds, as the script reads a number: an
// integer, exact however large; the script keeps it, as every instant, in
// a double. t.Sub would saturate, and a cooldown that a Retry-After of 292
// years started an hour ago would end an hour early; more than 292 years
// before from, it may: such an instant is as past as any other.
func nsArg(t, from time.Time) string {
	if d := t.Sub(from); d < math.MaxInt64 {
		return strconv.FormatInt(int64(d), 10)
	}
	n := big.NewInt(t.Unix())
	n.Sub(n, big.NewInt(from.Unix()))
	n.Mul(n, big.NewInt(1e9))
	n.Add(n, big.NewInt(int64(t.Nanosecond()-from.Nanosecond())))
	return n.String()
}

// toCaller turns an instant of a reply, off, into the caller's time: the
// reply's now, nowOff, is the caller's now.
func (b *Bucket) toCaller(now time.Time, nowOff, off float64) time.Time {
	return addSpan(now, off, nowOff)
}

// instant is toCaller for state instants, which may be zero (very negative).
func (b *Bucket) instant(now time.Time, nowOff, off float64) time.Time {
	if off <= zeroInstant/2 {
		return time.Time{}
	}
	return b.toCaller(now, nowOff, off)
}

// durationEnd is 2^63, the first number of nanoseconds beyond a Duration.
const durationEnd = 1 << 63

// maxUnix is the Unix time of the latest instant a time.Time holds.
const maxUnix = math.MaxInt64 - 62135596800

// addSpan returns t + (off - base) nanoseconds, where off and base are
// offsets the script computed (integral doubles), exactly: an instant nsArg
// sent comes back as it went, however often it goes. It saturates instead
// of wrapping: a span beyond a Duration's range (a cooldown 292 years or
// more ahead) gives an instant as far, up to the latest a time.Time holds;
// one as far back gives t less the largest Duration, as past as any other
// instant. Converting such a float to a Duration would give the most
// negative one on amd64: a cooldown that ends in 1734, and every waiter let
// through. A NaN or an infinity ahead, which no reply should hold, gives
// the latest instant: a cooldown nobody gets through is the safe
// misreading. Offsets beyond an int64 are rare (only such far instants):
// they take the slow, exact way.
func addSpan(t time.Time, off, base float64) time.Time {
	if off > -durationEnd && off < durationEnd && base > -durationEnd && base < durationEnd {
		o, b := int64(off), int64(base)
		if d := o - b; (d < o) == (b > 0) { // no overflow
			return t.Add(time.Duration(d))
		}
	}
	if math.IsNaN(off) || math.IsNaN(base) || math.IsInf(off, 0) || math.IsInf(base, 0) {
		if off < 0 { // an infinity behind
			return t.Add(math.MinInt64)
		}
		return latest(t)
	}
	// The exact span, in whole seconds (which a time.Time keeps in an int64
	// of its own) and nanoseconds.
	n, _ := new(big.Float).SetFloat64(off).Int(nil)
	m, _ := new(big.Float).SetFloat64(base).Int(nil)
	if n.Sub(n, m); n.IsInt64() {
		return t.Add(time.Duration(n.Int64()))
	} else if n.Sign() < 0 {
		return t.Add(math.MinInt64)
	}
	sec, ns := new(big.Int).QuoRem(n, big.NewInt(1e9), new(big.Int))
	// The margin keeps the nanoseconds' carry within range.
	if sec.Add(sec, big.NewInt(t.Unix())); !sec.IsInt64() || sec.Int64() >= maxUnix-1 {
		return latest(t)
	}
	return time.Unix(sec.Int64(), int64(t.Nanosecond())+ns.Int64()).In(t.Location())
}

// latest is the latest instant a time.Time holds, in t's location.
func latest(t time.Time) time.Time {
	return time.Unix(maxUnix, 999_999_999).In(t.Location())
}

// reply is a script's reply: strings, and integers (Redis's conversion of
// Lua numbers) read as int64. Its methods read either kind.
type reply []any

// str returns item i as a string: an integer in decimal; "" when there is
// no item i.
func (r reply) str(i int) string {
	if i >= len(r) {
		return ""
	}
	switch x := r[i].(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return ""
}

// num returns item i as a number; false when there is none.
func (r reply) num(i int) (float64, bool) {
	if i >= len(r) {
		return 0, false
	}
	switch x := r[i].(type) {
	case int64:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

// int returns item i as an integer; false when there is none.
func (r reply) int(i int) (int64, bool) {
	if i >= len(r) {
		return 0, false
	}
	switch x := r[i].(type) {
	case int64:
		return x, true
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// uint returns item i as an integer >= 0.
func (r reply) uint(i int) (uint64, bool) {
	n, ok := r.int(i)
	return uint64(n), ok && n >= 0
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func errReply(op string, v reply) error {
	return fmt.Errorf("redisbucket: %s: unexpected reply %v", op, []any(v))
}
