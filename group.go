package dynlimit

import (
	"container/list"
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/clock"
)

// Defaults of a [Group].
const (
	// DefaultMaxKeys bounds the number of limiters a Group keeps.
	DefaultMaxKeys = 10000
	// DefaultIdleTimeout is how long a Group keeps a limiter nobody asked
	// for, once it is not busy.
	DefaultIdleTimeout = 10 * time.Minute
)

// ErrGroupFull matches every [*GroupFullError] with errors.Is.
var ErrGroupFull = errors.New("dynlimit: group full")

// GroupFullError is returned by [Group.Get] and [Group.Hold] for a key the
// group has no limiter for when it already keeps its max number of
// limiters and every one of them is busy (see [Group]). Nothing was made or
// dropped; asking again once a limiter is done may succeed. A group that
// refuses keys in normal use needs a larger [WithMaxKeys].
type GroupFullError struct {
	// Key is the key refused.
	Key string
	// MaxKeys is the group's bound, every limiter of which is busy.
	MaxKeys int
}

func (e *GroupFullError) Error() string {
	return "dynlimit: group full: no limiter for key " + strconv.Quote(e.Key) +
		": all " + strconv.Itoa(e.MaxKeys) + " limiters kept are busy"
}

// Is reports whether target is [ErrGroupFull].
func (e *GroupFullError) Is(target error) bool { return target == ErrGroupFull }

// Group keeps one Limiter per key, made on demand from one configuration:
// one per Slack method, per Airtable base, per Jira endpoint, per tenant.
// A Group is safe for concurrent use and starts no goroutine: it cleans up
// as it is used.
//
// Its memory is bounded: it never keeps more than its max number of
// limiters ([WithMaxKeys]). A limiter is dropped when it has been idle for
// the idle timeout, or when room is needed for a new key and it is the least
// recently used, but only when it is not busy, since a limiter made again
// for its key would not know what the busy one holds back. A limiter is
// busy while
//
//   - a permit it granted is not Done, or a waiter holds one of its
//     in-flight slots: a new limiter would let a second call run beside
//     them, past [WithMaxInFlight] (a permit never Done keeps its limiter
//     for good);
//   - a waiter holds a reservation of its tokens: a new limiter would start
//     with a full bucket and hand out again what the waiter waits for;
//   - a cooldown runs (a Retry-After, an exhausted quota): a new limiter
//     would let the next call through at once;
//   - a caller holds it with [Group.Hold].
//
// What else a limiter learned is forgotten when it is dropped: a rate it
// lowered and the upstream's quota pacing, which the next responses teach
// the new limiter again. Pinning those too would keep limiters for good:
// an idle limiter never recovers its rate, and an upstream that reports
// its quota on every response (GitHub) paces every key all the time. A
// cooldown and a permit end by themselves.
//
// When a new key needs room and every limiter is busy, Get refuses it with
// a [*GroupFullError] rather than drop a busy one. Keys often come from
// request paths the caller does not control: many distinct keys cost at
// most the max number of limiters, and can neither push a key out of its
// cooldown nor past its in-flight cap. Finding room looks at the limiters
// from the least recently used on, past the busy ones: a refusal with every
// one of DefaultMaxKeys busy costs about a tenth of a millisecond.
//
// The cooldown and the reservations are read from a [bucket.Local]. A
// limiter on another bucket (a shared one) is busy only by its permits,
// slots and holds: the group does not call a bucket that may be remote
// while it holds its lock, and a shared bucket keeps the cooldown in its
// store, where a limiter made again for the key finds it.
type Group struct {
	mu      sync.Mutex
	make    func(key string) (*Limiter, error)
	clock   clock.Clock
	maxKeys int
	idle    time.Duration
	entries map[string]*list.Element // of *groupEntry
	lru     list.List                // front: most recently used
	evicted uint64
}

type groupEntry struct {
	key   string
	lim   *Limiter
	used  time.Time
	holds int // callers holding the limiter (Hold)
	// coolUntil is the end of the last cooldown the group saw running,
	// which saves asking the bucket again before then. A policy could end
	// a cooldown early; the group then keeps the limiter until the end it
	// saw, which errs on the upstream's side.
	coolUntil time.Time
}

// GroupOption configures a Group made by [NewGroup].
type GroupOption interface {
	applyGroup(*groupConfig) error
}

type groupOptionFunc func(*groupConfig) error

func (f groupOptionFunc) applyGroup(c *groupConfig) error { return f(c) }

type groupConfig struct {
	opts    []Option
	perKey  func(key string) []Option
	clock   clock.Clock
	maxKeys int
	idle    time.Duration
}

// WithLimiterOptions sets the options every limiter of the group is made
// with. A [WithName] among them is replaced by the key.
func WithLimiterOptions(opts ...Option) GroupOption {
	return groupOptionFunc(func(c *groupConfig) error {
		c.opts = append(c.opts, opts...)
		return nil
	})
}

// WithPerKeyOptions adds options that depend on the key (a Slack method's
// tier, say); they are applied after those of [WithLimiterOptions].
func WithPerKeyOptions(f func(key string) []Option) GroupOption {
	return groupOptionFunc(func(c *groupConfig) error {
		if f == nil {
			return &ArgError{Name: "WithPerKeyOptions", Value: "nil", Reason: "must be a function"}
		}
		c.perKey = f
		return nil
	})
}

// WithMaxKeys bounds the number of limiters kept. Beyond it, a new key
// takes the place of the least recently used limiter that is not busy, or
// is refused with a [*GroupFullError] when every one is (see [Group]): set
// it above the number of keys busy at once. Default: [DefaultMaxKeys].
func WithMaxKeys(n int) GroupOption {
	return groupOptionFunc(func(c *groupConfig) error {
		if n < 1 {
			return &ArgError{Name: "WithMaxKeys", Value: strconv.Itoa(n), Reason: "must be >= 1"}
		}
		c.maxKeys = n
		return nil
	})
}

// WithIdleTimeout sets how long a limiter that nobody asked for is kept
// once it is not busy (see [Group]). Default: [DefaultIdleTimeout].
func WithIdleTimeout(d time.Duration) GroupOption {
	return groupOptionFunc(func(c *groupConfig) error {
		if d <= 0 {
			return &ArgError{Name: "WithIdleTimeout", Value: d.String(), Reason: "must be > 0"}
		}
		c.idle = d
		return nil
	})
}

// WithGroupClock sets the clock the group measures idleness with, and its
// limiters' clock unless their options set one. Default: [clock.Real].
func WithGroupClock(c clock.Clock) GroupOption {
	return groupOptionFunc(func(cfg *groupConfig) error {
		if c == nil {
			return &ArgError{Name: "WithGroupClock", Value: "nil", Reason: "must be a clock"}
		}
		cfg.clock = c
		return nil
	})
}

// NewGroup returns a Group. The limiter options are checked at once, by
// making a first limiter for the key "": an invalid policy is an error here,
// not on the first request.
func NewGroup(opts ...GroupOption) (*Group, error) {
	c := groupConfig{clock: clock.Real, maxKeys: DefaultMaxKeys, idle: DefaultIdleTimeout}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.applyGroup(&c); err != nil {
			return nil, err
		}
	}
	g := &Group{
		clock: c.clock, maxKeys: c.maxKeys, idle: c.idle,
		entries: make(map[string]*list.Element),
	}
	g.make = func(key string) (*Limiter, error) {
		all := make([]Option, 0, len(c.opts)+4)
		all = append(all, WithClock(c.clock))
		all = append(all, c.opts...)
		if c.perKey != nil {
			all = append(all, c.perKey(key)...)
		}
		all = append(all, WithName(key))
		return New(all...)
	}
	if _, err := g.make(""); err != nil {
		return nil, err
	}
	return g, nil
}

// Get returns the limiter of key, making it if needed. It fails when the
// options given for key are invalid, and with a [*GroupFullError] when key
// is new and every limiter the group keeps is busy.
//
// The limiter stays the key's while it is busy (see [Group]); a caller that
// keeps using it across gaps where it is not, such as the backoffs between
// the attempts of one request, uses [Group.Hold] instead.
func (g *Group) Get(key string) (*Limiter, error) {
	now := g.clock.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	e, err := g.get(key, now)
	if err != nil {
		return nil, err
	}
	return e.lim, nil
}

// Hold is Get for a caller that uses the limiter over a span the limiter
// cannot see: until release is called, the group keeps the limiter as busy,
// so that a request retried after a backoff, with no permit out and no
// cooldown running in between, is paced by the same limiter as every other
// request for key. Holds add up. release must be called once the caller is
// done; calling it again does nothing.
func (g *Group) Hold(key string) (lim *Limiter, release func(), err error) {
	now := g.clock.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	e, err := g.get(key, now)
	if err != nil {
		return nil, nil, err
	}
	e.holds++
	var released atomic.Bool
	return e.lim, func() {
		if released.Swap(true) {
			return
		}
		g.mu.Lock()
		e.holds-- // a held entry is never dropped: e is still in the group
		g.mu.Unlock()
	}, nil
}

// get returns the entry of key, making it if needed. g.mu is held.
func (g *Group) get(key string, now time.Time) (*groupEntry, error) {
	if el, ok := g.entries[key]; ok {
		e := el.Value.(*groupEntry)
		e.used = now
		g.lru.MoveToFront(el)
		return e, nil
	}
	if !g.sweep(now) {
		return nil, &GroupFullError{Key: key, MaxKeys: g.maxKeys}
	}
	lim, err := g.make(key)
	if err != nil {
		return nil, err
	}
	e := &groupEntry{key: key, lim: lim, used: now}
	g.entries[key] = g.lru.PushFront(e)
	return e, nil
}

// sweep drops, from the least recently used end, the limiters that are not
// busy and either idle for the idle timeout or in the way of a new one
// while the group is full. It reports whether there is room for a new one.
// g.mu is held.
func (g *Group) sweep(now time.Time) bool {
	for el := g.lru.Back(); el != nil; {
		e := el.Value.(*groupEntry)
		prev := el.Prev()
		if len(g.entries) < g.maxKeys && now.Sub(e.used) < g.idle {
			break // there is room, and the rest were used more recently
		}
		if !g.busy(e, now) {
			g.drop(el)
		}
		el = prev
	}
	return len(g.entries) < g.maxKeys
}

// busy reports whether dropping e's limiter at now would lose what it holds
// back; see Group. g.mu is held.
func (g *Group) busy(e *groupEntry, now time.Time) bool {
	l := e.lim
	if e.holds > 0 || len(l.sem) > 0 || l.inFlight() > 0 || now.Before(e.coolUntil) {
		return true
	}
	// A shared bucket is not asked: that would be a round trip with g.mu
	// held.
	local, ok := l.bucket.(*bucket.Local)
	if !ok {
		return false
	}
	st, err := local.Peek(context.Background(), now)
	if err != nil {
		return false
	}
	if now.Before(st.State.CooldownUntil) {
		e.coolUntil = st.State.CooldownUntil
		return true
	}
	return st.Reserved > 0
}

func (g *Group) drop(el *list.Element) {
	delete(g.entries, el.Value.(*groupEntry).key)
	g.lru.Remove(el)
	g.evicted++
}

// Lookup returns the limiter of key if the group keeps one, without making
// it or marking it used.
func (g *Group) Lookup(key string) (*Limiter, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	el, ok := g.entries[key]
	if !ok {
		return nil, false
	}
	return el.Value.(*groupEntry).lim, true
}

// MaxKeys returns the most limiters the group keeps at once.
func (g *Group) MaxKeys() int { return g.maxKeys }

// Len returns the number of limiters the group keeps.
func (g *Group) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.entries)
}

// Evicted returns the number of limiters dropped so far.
func (g *Group) Evicted() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.evicted
}

// Snapshots returns the snapshot of every limiter the group keeps, most
// recently used first.
func (g *Group) Snapshots() []Snapshot {
	g.mu.Lock()
	lims := make([]*Limiter, 0, len(g.entries))
	for el := g.lru.Front(); el != nil; el = el.Next() {
		lims = append(lims, el.Value.(*groupEntry).lim)
	}
	g.mu.Unlock()
	out := make([]Snapshot, len(lims))
	for i, l := range lims {
		out[i] = l.Snapshot()
	}
	return out
}
