package dynlimit

import (
	"container/list"
	"strconv"
	"sync"
	"time"

	"github.com/dynlimit/dynlimit/clock"
)

// Defaults of a [Group].
const (
	// DefaultMaxKeys bounds the number of limiters a Group keeps.
	DefaultMaxKeys = 10000
	// DefaultIdleTimeout is how long a Group keeps a limiter nobody asked
	// for and that has no permit out.
	DefaultIdleTimeout = 10 * time.Minute
)

// Group keeps one Limiter per key, made on demand from one configuration:
// one per Slack method, per Airtable base, per Jira endpoint, per tenant.
// Its memory is bounded: a limiter idle for the idle timeout with no permit
// out is dropped, and beyond the max number of keys the least recently used
// one is. A dropped limiter forgets what it learned; the next request for its
// key starts a new one from the configuration. A Group is safe for
// concurrent use and starts no goroutine: it cleans up as it is used.
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
	key  string
	lim  *Limiter
	used time.Time
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

// WithMaxKeys bounds the number of limiters kept. Default: [DefaultMaxKeys].
func WithMaxKeys(n int) GroupOption {
	return groupOptionFunc(func(c *groupConfig) error {
		if n < 1 {
			return &ArgError{Name: "WithMaxKeys", Value: strconv.Itoa(n), Reason: "must be >= 1"}
		}
		c.maxKeys = n
		return nil
	})
}

// WithIdleTimeout sets how long a limiter that nobody asked for and that has
// no permit out is kept. Default: [DefaultIdleTimeout].
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

// Get returns the limiter of key, making it if needed. It fails only when
// the options given for key are invalid.
func (g *Group) Get(key string) (*Limiter, error) {
	now := g.clock.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if el, ok := g.entries[key]; ok {
		e := el.Value.(*groupEntry)
		e.used = now
		g.lru.MoveToFront(el)
		return e.lim, nil
	}
	g.sweep(now)
	lim, err := g.make(key)
	if err != nil {
		return nil, err
	}
	g.entries[key] = g.lru.PushFront(&groupEntry{key: key, lim: lim, used: now})
	return lim, nil
}

// sweep drops the idle limiters from the back of the list, then the least
// recently used ones while the group is full. g.mu is held.
func (g *Group) sweep(now time.Time) {
	for el := g.lru.Back(); el != nil; {
		e := el.Value.(*groupEntry)
		prev := el.Prev()
		switch {
		case len(g.entries) >= g.maxKeys:
			g.drop(el) // full: the least recently used goes, busy or not
		case now.Sub(e.used) >= g.idle && e.lim.inFlight() == 0:
			g.drop(el)
		case now.Sub(e.used) < g.idle:
			return // the rest were used more recently
		}
		el = prev
	}
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
