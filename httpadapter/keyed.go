package httpadapter

import (
	"container/list"
	"net/http"
	"sync"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/breaker"
)

// MaxKeyLen bounds a key of a [KeyedTransport]: a longer one is cut to this
// many bytes. Keys often come from request paths, which the caller may not
// control, and each one holds memory.
const MaxKeyLen = 256

// KeyFunc returns the key of a request: the limiter it is paced by. It must
// not consume the request's body.
type KeyFunc func(req *http.Request) string

// KeyedTransport is an http.RoundTripper that paces each request by the
// limiter of its key: one per Slack method, per Airtable base, per Jira
// endpoint, per tenant. The key comes from the request (a [KeyFunc]); the
// limiters come from a [dynlimit.Group], made on demand from one
// configuration and dropped when idle or when the group is full. Each key has
// its own [Transport], made with the same options, so that retries and a
// stateful classifier (see [WithClassifierFunc]) are per key too. Its memory
// is bounded: it keeps at most the group's max keys Transports, the least
// recently used dropped first. Each request holds its key's limiter in the
// group ([dynlimit.Group.Hold]) until it returns, retries included; a
// request for a new key while every limiter of the group is busy fails with
// the group's [*dynlimit.GroupFullError], without being sent. Safe for
// concurrent use.
type KeyedTransport struct {
	base  http.RoundTripper
	group *dynlimit.Group
	key   KeyFunc
	opts  []Option
	cost  *costBudget
	route func(*http.Request) string // the options' WithRoute, else RouteTemplate
	brk   *breaker.Breaker           // the options' WithBreaker, shared by every key

	mu    sync.Mutex
	byKey map[string]*list.Element // of *keyedEntry
	lru   list.List                // front: most recently used
}

type keyedEntry struct {
	key string
	lim *dynlimit.Limiter
	tr  *Transport
}

var _ http.RoundTripper = (*KeyedTransport)(nil)

// NewKeyedTransport returns a KeyedTransport that sends through base (nil
// means http.DefaultTransport), pacing each request by the limiter of
// key(req) in group. The options are those of [NewTransport], applied to
// the Transport of every key; they are checked here, so that an invalid one
// is an [*OptionError] now and not on some request.
func NewKeyedTransport(base http.RoundTripper, group *dynlimit.Group, key KeyFunc, opts ...Option) (*KeyedTransport, error) {
	if group == nil {
		return nil, &OptionError{Name: "group", Value: "nil", Reason: "must be a *dynlimit.Group"}
	}
	if key == nil {
		return nil, &OptionError{Name: "key", Value: "nil", Reason: "must be a KeyFunc"}
	}
	if base == nil {
		base = http.DefaultTransport
	}
	var cfg config
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&cfg); err != nil {
			return nil, err
		}
	}
	return &KeyedTransport{
		base: base, group: group, key: key, cost: cfg.cost, route: cfg.route, brk: cfg.breaker,
		opts:  append([]Option(nil), opts...),
		byKey: make(map[string]*list.Element),
	}, nil
}

// Group returns the group of the Transport's limiters.
func (t *KeyedTransport) Group() *dynlimit.Group { return t.group }

// Breaker returns the circuit breaker of [WithBreaker], shared by the
// Transports of every key; nil without one.
func (t *KeyedTransport) Breaker() *breaker.Breaker { return t.brk }

// Limiter returns the limiter of key if one is in use, without making it.
func (t *KeyedTransport) Limiter(key string) (*dynlimit.Limiter, bool) {
	if len(key) > MaxKeyLen {
		key = key[:MaxKeyLen]
	}
	return t.group.Lookup(key)
}

// Snapshots returns the snapshot of every limiter in use, the most recently
// used key first, then that of the cost budget if there is one
// ([WithCost]).
func (t *KeyedTransport) Snapshots() []dynlimit.Snapshot {
	s := t.group.Snapshots()
	if t.cost != nil {
		s = append(s, t.cost.lim.Snapshot())
	}
	return s
}

// RoundTrip sends req through the Transport of its key; see [Transport].
func (t *KeyedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	key := t.key(req)
	if len(key) > MaxKeyLen {
		key = key[:MaxKeyLen]
	}
	// The hold keeps the key's limiter in the group across the backoffs
	// between attempts, when no permit of this request is out: otherwise
	// the group could make another limiter for the key, and a retry and a
	// new request would run beside each other past the in-flight cap.
	lim, release, err := t.group.Hold(key)
	var tr *Transport
	if err == nil {
		defer release()
		tr, err = t.transportFor(key, lim)
	}
	if err != nil {
		// A RoundTripper closes the body even when it fails.
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	return tr.RoundTrip(req)
}

func (t *KeyedTransport) routeOf(req *http.Request) string { return t.route(req) }

// transportFor returns the Transport of key around lim, the limiter the
// group holds for it.
func (t *KeyedTransport) transportFor(key string, lim *dynlimit.Limiter) (*Transport, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.byKey[key]; ok {
		e := el.Value.(*keyedEntry)
		t.lru.MoveToFront(el)
		if e.lim != lim {
			// The group dropped the key's limiter and made a new one: the
			// old Transport would pace by a limiter nobody else uses.
			tr, err := NewTransport(t.base, lim, t.opts...)
			if err != nil {
				return nil, err
			}
			e.lim, e.tr = lim, tr
		}
		return e.tr, nil
	}
	tr, err := NewTransport(t.base, lim, t.opts...)
	if err != nil {
		return nil, err
	}
	t.byKey[key] = t.lru.PushFront(&keyedEntry{key: key, lim: lim, tr: tr})
	for len(t.byKey) > t.group.MaxKeys() {
		back := t.lru.Back()
		delete(t.byKey, back.Value.(*keyedEntry).key)
		t.lru.Remove(back)
	}
	return tr, nil
}
