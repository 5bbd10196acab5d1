package redisbucket

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/policy"
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
	// known rate (see WithFallbackShare) until Redis answers again. The
	// default: the upstream is protected, and so is the worker.
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
// Redis failing. Default: [DefaultTimeout].
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
// rate and burst that a process paces by on its own with FailFallback. With
// N processes, N × share of the fleet's rate reaches the upstream while
// Redis is down. Default: [DefaultFallbackShare].
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
// before asking it again. Default: [DefaultRetryInterval].
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

	mu       sync.Mutex
	inited   bool
	initial  policy.State // what Init was given: to make the hash again if it expired
	origin   time.Time    // of the hash, caller clock
	last     policy.State // the last state seen in Redis
	down     bool
	retryAt  time.Time // while down: when to ask Redis again
	fallback *bucket.Local
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

// Init makes the shared hash with state s, unless a process already made
// it; see [bucket.Bucket.Init].
func (b *Bucket) Init(ctx context.Context, now time.Time, s policy.State) error {
	if s.Rate <= 0 || math.IsNaN(s.Rate) || math.IsInf(s.Rate, 0) {
		return &policy.Error{Field: "rate_limit_per_sec", Value: s.Rate, Reason: "must be a finite number > 0"}
	}
	if s.Burst < 1 || math.IsNaN(s.Burst) || math.IsInf(s.Burst, 0) {
		return &policy.Error{Field: "burst_size", Value: s.Burst, Reason: "must be a finite number >= 1"}
	}
	b.mu.Lock()
	if b.inited {
		b.mu.Unlock()
		return nil
	}
	b.inited, b.initial, b.last = true, s, s
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
	args := []any{"init", b.nowArg(0), b.ttlArg(), now.Unix(), now.Nanosecond(),
		ftoa(s.Rate), ftoa(s.Burst), spanArg(s.CooldownUntil, now), strconv.FormatUint(s.Epoch, 10),
		ftoa(s.QuotaRate), spanArg(s.QuotaUntil, now), ftoa(s.Ceiling)}
	if b.callerClock {
		args[1] = "caller"
	}
	v, err := b.run(ctx, args)
	if err != nil {
		return err
	}
	if len(v) < 3 {
		return errReply("init", v)
	}
	sec, e1 := strconv.ParseInt(v[1], 10, 64)
	nsec, e2 := strconv.ParseInt(v[2], 10, 64)
	if e1 != nil || e2 != nil {
		return errReply("init", v)
	}
	b.mu.Lock()
	b.origin = time.Unix(sec, nsec)
	b.mu.Unlock()
	return nil
}

// Take reserves n tokens; see [bucket.Bucket.Take].
func (b *Bucket) Take(ctx context.Context, now time.Time, n float64, maxWait time.Duration) (bucket.Reservation, error) {
	if err := b.checkInit(); err != nil {
		return bucket.Reservation{}, err
	}
	if !(n > 0) || math.IsInf(n, 0) {
		return bucket.Reservation{}, &bucket.BurstError{N: n, Burst: b.lastState().Burst}
	}
	if l, err, ok := b.whileDown(now, "take"); ok {
		if l != nil {
			return l.Take(ctx, now, n, maxWait)
		}
		if errors.Is(err, errOpen) {
			return bucket.Reservation{OK: true, At: now, Tokens: n, Epoch: b.lastState().Epoch}, nil
		}
		return bucket.Reservation{}, err
	}
	wait := "inf"
	if maxWait != bucket.Forever {
		wait = strconv.FormatInt(int64(max(maxWait, 0)), 10)
	}
	v, err := b.call(ctx, now, "take", ftoa(n), wait)
	if err != nil {
		var r bucket.Reservation
		err = b.failed(ctx, now, "take", err, func(l *bucket.Local) (e error) {
			r, e = l.Take(ctx, now, n, maxWait)
			return e
		})
		if errors.Is(err, errOpen) {
			return bucket.Reservation{OK: true, At: now, Tokens: n, Epoch: b.lastState().Epoch}, nil
		}
		return r, err
	}
	if len(v) >= 3 && v[1] == "burst" {
		burst, _ := strconv.ParseFloat(v[2], 64)
		return bucket.Reservation{}, &bucket.BurstError{N: n, Burst: burst}
	}
	if len(v) < 4 {
		return bucket.Reservation{}, errReply("take", v)
	}
	nowOff, e0 := parseF(v[0])
	at, e1 := parseF(v[2])
	epoch, e2 := strconv.ParseUint(v[3], 10, 64)
	if e0 != nil || e1 != nil || e2 != nil {
		return bucket.Reservation{}, errReply("take", v)
	}
	return bucket.Reservation{OK: v[1] == "1", At: b.toCaller(now, nowOff, at), Tokens: n, Epoch: epoch}, nil
}

// Confirm reports whether r was made in the current epoch.
func (b *Bucket) Confirm(ctx context.Context, now time.Time, r bucket.Reservation) (bool, error) {
	if err := b.checkInit(); err != nil {
		return false, err
	}
	if !r.OK {
		return false, nil
	}
	if l, err, ok := b.whileDown(now, "confirm"); ok {
		if l != nil {
			return l.Confirm(ctx, now, r)
		}
		return errors.Is(err, errOpen), ignoreOpen(err)
	}
	v, err := b.call(ctx, now, "epoch")
	if err != nil {
		ok := true
		err = b.failed(ctx, now, "confirm", err, func(l *bucket.Local) (e error) {
			ok, e = l.Confirm(ctx, now, r)
			return e
		})
		if errors.Is(err, errOpen) {
			return true, nil
		}
		return ok, err
	}
	if len(v) < 2 {
		return false, errReply("epoch", v)
	}
	epoch, perr := strconv.ParseUint(v[1], 10, 64)
	if perr != nil {
		return false, errReply("epoch", v)
	}
	return epoch == r.Epoch, nil
}

// Cancel gives back r's tokens; see [bucket.Bucket.Cancel].
func (b *Bucket) Cancel(ctx context.Context, now time.Time, r bucket.Reservation) error {
	if err := b.checkInit(); err != nil {
		return err
	}
	if !r.OK || !r.At.After(now) {
		return nil
	}
	if l, err, ok := b.whileDown(now, "cancel"); ok {
		if l != nil {
			return l.Cancel(ctx, now, r)
		}
		return ignoreOpen(err)
	}
	_, err := b.call(ctx, now, "cancel", strconv.FormatUint(r.Epoch, 10), b.instArg(r.At, now), ftoa(r.Tokens))
	if err != nil {
		err = b.failed(ctx, now, "cancel", err, func(l *bucket.Local) error { return l.Cancel(ctx, now, r) })
		if errors.Is(err, errOpen) {
			return nil
		}
	}
	return err
}

// Apply runs one policy step on the shared state; see [bucket.Bucket.Apply].
// It reads the state, runs p in this process, and writes the result back
// unless another process changed the state meanwhile, in which case it
// reads again.
func (b *Bucket) Apply(ctx context.Context, p policy.Policy, o policy.Outcome, now time.Time) (prev, next policy.State, err error) {
	if err := b.checkInit(); err != nil {
		return prev, next, err
	}
	if l, err, ok := b.whileDown(now, "apply"); ok {
		if l != nil {
			return l.Apply(ctx, p, o, now)
		}
		s := b.lastState()
		return s, s, ignoreOpen(err)
	}
	for range maxApplyRounds {
		var version string
		prev, version, err = b.read(ctx, now)
		if err != nil {
			break
		}
		next = p.Next(prev, o, now)
		if o.Signal.Quota.HasRemaining {
			next = policy.Pace(next, o.Signal.Quota, now)
		}
		next = policy.Sanitize(prev, next)
		var v []string
		v, err = b.call(ctx, now, "write", version,
			ftoa(next.Rate), ftoa(next.Burst), b.instArg(next.CooldownUntil, now), strconv.FormatUint(next.Epoch, 10),
			ftoa(next.QuotaRate), b.instArg(next.QuotaUntil, now), ftoa(next.Ceiling))
		if err != nil {
			break
		}
		if len(v) >= 2 && v[1] == "written" {
			b.remember(next)
			return prev, next, nil
		}
	}
	if err == nil {
		return prev, next, fmt.Errorf("redisbucket: apply %s: the state changed under %d attempts in a row", b.key, maxApplyRounds)
	}
	err = b.failed(ctx, now, "apply", err, func(l *bucket.Local) (e error) {
		prev, next, e = l.Apply(ctx, p, o, now)
		return e
	})
	if errors.Is(err, errOpen) {
		s := b.lastState()
		return s, s, nil
	}
	return prev, next, err
}

// read returns the shared state at now and its version.
func (b *Bucket) read(ctx context.Context, now time.Time) (policy.State, string, error) {
	v, err := b.call(ctx, now, "read")
	if err != nil {
		return policy.State{}, "", err
	}
	s, err := b.parseState("read", now, v)
	if err != nil {
		return s, "", err
	}
	b.remember(s)
	return s, v[8], nil
}

// Peek returns the shared state and tokens at now.
func (b *Bucket) Peek(ctx context.Context, now time.Time) (bucket.Status, error) {
	if err := b.checkInit(); err != nil {
		return bucket.Status{}, err
	}
	if l, err, ok := b.whileDown(now, "peek"); ok {
		if l != nil {
			return l.Peek(ctx, now)
		}
		s := b.lastState()
		return bucket.Status{State: s, Tokens: s.Burst}, ignoreOpen(err)
	}
	v, err := b.call(ctx, now, "peek")
	if err != nil {
		var st bucket.Status
		err = b.failed(ctx, now, "peek", err, func(l *bucket.Local) (e error) {
			st, e = l.Peek(ctx, now)
			return e
		})
		if errors.Is(err, errOpen) {
			s := b.lastState()
			return bucket.Status{State: s, Tokens: s.Burst}, nil
		}
		return st, err
	}
	s, err := b.parseState("peek", now, v)
	if err != nil || len(v) < 10 {
		return bucket.Status{}, errReply("peek", v)
	}
	b.remember(s)
	tokens, perr := parseF(v[9])
	if perr != nil {
		return bucket.Status{}, errReply("peek", v)
	}
	st := bucket.Status{State: s}
	if tokens >= 0 {
		st.Tokens = tokens
	} else {
		st.Reserved = -tokens
	}
	return st, nil
}

// parseState reads the state of a "read" or "peek" reply.
func (b *Bucket) parseState(op string, now time.Time, v []string) (policy.State, error) {
	if len(v) < 9 {
		return policy.State{}, errReply(op, v)
	}
	var f [8]float64
	for i := range f {
		x, err := parseF(v[i])
		if err != nil {
			return policy.State{}, errReply(op, v)
		}
		f[i] = x
	}
	nowOff := f[0]
	return policy.State{
		Rate: f[1], Burst: f[2], CooldownUntil: b.instant(now, nowOff, f[3]), Epoch: uint64(f[4]),
		QuotaRate: f[5], QuotaUntil: b.instant(now, nowOff, f[6]), Ceiling: f[7],
	}, nil
}

// call runs op on the hash, making it again from Init's state if it has
// expired or was deleted.
func (b *Bucket) call(ctx context.Context, now time.Time, op string, rest ...string) ([]string, error) {
	args := make([]any, 0, 3+len(rest))
	args = append(args, op, b.nowArg(now.Sub(b.originAt())), b.ttlArg())
	for _, r := range rest {
		args = append(args, r)
	}
	v, err := b.run(ctx, args)
	if err != nil && strings.Contains(err.Error(), "NOINIT") {
		if err = b.remoteInit(ctx, now); err != nil {
			return nil, err
		}
		args[1] = b.nowArg(now.Sub(b.originAt()))
		v, err = b.run(ctx, args)
	}
	if err == nil {
		b.up()
	}
	return v, err
}

// run runs the script once, within the per-call timeout.
func (b *Bucket) run(ctx context.Context, args []any) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	res, err := script.Run(ctx, b.c, []string{b.key}, args...).Result()
	if err != nil {
		return nil, err
	}
	items, ok := res.([]any)
	if !ok {
		return nil, fmt.Errorf("redisbucket: unexpected reply %T", res)
	}
	out := make([]string, len(items))
	for i, it := range items {
		switch x := it.(type) {
		case string:
			out[i] = x
		case int64:
			out[i] = strconv.FormatInt(x, 10)
		default:
			return nil, fmt.Errorf("redisbucket: unexpected reply item %T", it)
		}
	}
	return out, nil
}

// errOpen is what failed returns to a FailOpen bucket's methods: let it be.
var errOpen = errors.New("redisbucket: failing open")

// failed handles an error of Redis for op: a canceled caller gets its
// context's error; otherwise the failure mode decides. With FailFallback,
// local runs op on the fallback bucket, made from the last known state.
func (b *Bucket) failed(ctx context.Context, now time.Time, op string, err error, local func(*bucket.Local) error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr // the caller gave up: no news of Redis
	}
	b.mu.Lock()
	wasDown := b.down
	b.down, b.retryAt = true, now.Add(b.retry)
	if b.mode == FailFallback && b.fallback == nil {
		b.fallback = b.newFallback(now)
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

// newFallback returns a local bucket at the fallback share of the last
// known state, keeping its cooldown. b.mu is held.
func (b *Bucket) newFallback(now time.Time) *bucket.Local {
	s := b.last
	s.Rate *= b.share
	s.Burst = math.Max(1, s.Burst*b.share)
	s.Ceiling *= b.share
	s.QuotaRate *= b.share
	l := bucket.NewLocal()
	_ = l.Init(context.Background(), now, s) // s comes from a valid state: Init cannot fail
	return l
}

// whileDown says what to do instead of calling Redis while it is down and
// not yet due for another try (ok true): use the fallback bucket l, or
// answer as the mode says, err being errOpen or an *UnavailableError. ok
// false: call Redis.
func (b *Bucket) whileDown(now time.Time, op string) (l *bucket.Local, err error, ok bool) { //nolint:revive // err is not the function's error
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.down || !now.Before(b.retryAt) {
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

// up records that Redis answered.
func (b *Bucket) up() {
	b.mu.Lock()
	was := b.down
	b.down, b.fallback = false, nil
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

func (b *Bucket) remember(s policy.State) {
	b.mu.Lock()
	b.last = s
	b.mu.Unlock()
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
func (b *Bucket) nowArg(off time.Duration) string {
	if b.callerClock {
		return strconv.FormatInt(int64(off), 10)
	}
	return "srv"
}

func (b *Bucket) ttlArg() string { return strconv.FormatInt(b.ttl.Milliseconds(), 10) }

// instArg is an instant argument: an offset from the origin with the
// caller's clock, a span from now with the server's; "z" for the zero
// instant.
func (b *Bucket) instArg(t, now time.Time) string {
	if t.IsZero() {
		return "z"
	}
	if b.callerClock {
		return strconv.FormatInt(int64(t.Sub(b.originAt())), 10)
	}
	return strconv.FormatInt(int64(t.Sub(now)), 10)
}

// spanArg is an instant as a span from now, for init; "z" for zero.
func spanArg(t, now time.Time) string {
	if t.IsZero() {
		return "z"
	}
	return strconv.FormatInt(int64(t.Sub(now)), 10)
}

// toCaller turns an instant of a reply, off, into the caller's time: the
// reply's now, nowOff, is the caller's now.
func (b *Bucket) toCaller(now time.Time, nowOff, off float64) time.Time {
	return now.Add(time.Duration(off - nowOff))
}

// instant is toCaller for state instants, which may be zero (very negative).
func (b *Bucket) instant(now time.Time, nowOff, off float64) time.Time {
	if off < -1e299 {
		return time.Time{}
	}
	return b.toCaller(now, nowOff, off)
}

func parseF(s string) (float64, error) { return strconv.ParseFloat(s, 64) }

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func errReply(op string, v []string) error {
	return fmt.Errorf("redisbucket: %s: unexpected reply %q", op, v)
}
