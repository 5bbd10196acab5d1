package redisbucket_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dynlimit/dynlimit/bucket/redisbucket"
	"github.com/dynlimit/dynlimit/internal/redistest"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// ctxSpy records what the client sees of the context of each command.
type ctxSpy struct {
	mu    sync.Mutex
	calls []seenCtx
}

type seenCtx struct {
	before   time.Time // the caller's clock before it called
	at       time.Time // the spy's clock when the client had the command
	deadline time.Time
	hasDone  bool
	value    any
}

type spyKey struct{}

func (s *ctxSpy) DialHook(next redis.DialHook) redis.DialHook { return next }

func (s *ctxSpy) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		d, _ := ctx.Deadline()
		s.mu.Lock()
		s.calls = append(s.calls, seenCtx{at: time.Now(), deadline: d, hasDone: ctx.Done() != nil, value: ctx.Value(spyKey{})})
		s.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (s *ctxSpy) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// take makes one take with ctx and returns what the client saw of it.
func (s *ctxSpy) take(t *testing.T, b *redisbucket.Bucket, ctx context.Context) seenCtx {
	t.Helper()
	s.mu.Lock()
	n := len(s.calls)
	s.mu.Unlock()
	before := time.Now()
	if _, err := b.Take(ctx, before, 1, 0); err != nil {
		t.Fatalf("Take: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.calls) == n {
		t.Fatal("Take sent no command")
	}
	seen := s.calls[len(s.calls)-1]
	seen.before = before
	return seen
}

// Every call to Redis is bounded by the per-call timeout, whatever the
// caller's context: the client sees a deadline within it (give or take the
// eighth a call of a context that is never canceled may share) and a Done
// channel, and the caller's values.
func TestEachCallIsBoundedByTheTimeout(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv)
	spy := &ctxSpy{}
	c.AddHook(spy)
	const timeout = 400 * time.Millisecond
	b := mustNew(t, c, "bounded", redisbucket.WithTimeout(timeout))
	if err := b.Init(context.Background(), time.Now(), policy.State{Rate: 1e6, Burst: 1e6}); err != nil {
		t.Fatal(err)
	}
	within := func(name string, s seenCtx, lo, hi time.Duration) {
		t.Helper()
		if !s.hasDone {
			t.Errorf("%s: the client's context has no Done channel: its waits are unbounded", name)
		}
		if s.deadline.IsZero() {
			t.Fatalf("%s: the client's context has no deadline", name)
		}
		// The bucket made the deadline between the two readings: at
		// least lo after the first, at most hi after the second.
		if d := s.deadline.Sub(s.before); d < lo {
			t.Errorf("%s: deadline %v after the call began, want at least %v", name, d, lo)
		}
		if d := s.deadline.Sub(s.at); d > hi {
			t.Errorf("%s: deadline %v after the client had the command, want at most %v", name, d, hi)
		}
	}

	bg := spy.take(t, b, context.Background())
	within("Background", bg, timeout, timeout+timeout/8)

	valued := spy.take(t, b, context.WithValue(context.Background(), spyKey{}, "mine"))
	within("a context with a value", valued, timeout, timeout+timeout/8)
	if valued.value != "mine" {
		t.Errorf("the client's context carries %v, want the caller's value", valued.value)
	}

	cctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	within("a context that can be canceled", spy.take(t, b, cctx), timeout, timeout)

	long, cancelLong := context.WithTimeout(context.Background(), time.Hour)
	defer cancelLong()
	within("a context with a later deadline", spy.take(t, b, long), timeout, timeout)

	short, cancelShort := context.WithTimeout(context.Background(), timeout/4)
	defer cancelShort()
	s := spy.take(t, b, short)
	if want, _ := short.Deadline(); !s.deadline.Equal(want) {
		t.Errorf("a context with an earlier deadline: the client saw %v, want the caller's %v", s.deadline, want)
	}

	// Calls of a context that is never canceled share the context of their
	// slot (one timer for all of them) rather than each start a timer:
	// twenty in a row, a few milliseconds in all, see fewer deadlines.
	deadlines := map[time.Time]bool{}
	for range 20 {
		deadlines[spy.take(t, b, context.Background()).deadline] = true
	}
	if len(deadlines) == 20 {
		t.Errorf("20 calls in a row saw 20 deadlines: each made a context of its own")
	}
}

// A reply the bucket cannot read (here an empty one, as a proxy might send)
// is Redis failing: the failure mode answers, nothing panics.
func TestUnreadableReplyIsAFailure(t *testing.T) {
	srv := redistest.Start(t)
	for _, reply := range [][]any{{}, {"x"}, {int64(1)}, {int64(1), "none-such-kind"}, {"now", "none", int64(1), int64(2), int64(0)}} {
		c := newClient(t, srv)
		c.AddHook(replyHook{reply})
		now := time.Now()
		var failures int
		b := mustNew(t, c, "unreadable", redisbucket.WithFailureMode(redisbucket.FailClosed),
			redisbucket.WithOnFailure(func(string, error) { failures++ }))
		if err := b.Init(context.Background(), now, policy.State{Rate: 10, Burst: 10}); err != nil {
			t.Fatal(err)
		}
		if failures != 0 {
			t.Fatalf("Init failed: its reply was replaced too")
		}
		if _, err := b.Take(context.Background(), now, 1, 0); !errors.Is(err, redisbucket.ErrUnavailable) {
			t.Errorf("a take answered %v: %v, want ErrUnavailable", reply, err)
		}
		if failures != 1 {
			t.Errorf("the take answered %v reported %d failures, want 1", reply, failures)
		}
	}
}

// replyHook replaces the reply of every script call but Init's.
type replyHook struct{ reply []any }

func (h replyHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h replyHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		args := cmd.Args()
		if c, ok := cmd.(*redis.Cmd); ok && err == nil && len(args) > 4 && args[4] != "init" {
			c.SetVal(h.reply)
		}
		return err
	}
}

func (h replyHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// With the client's ContextTimeoutEnabled, a server that accepts and never
// answers holds a call no longer than the timeout (and the eighth a call
// of a context that is never canceled may share): the failure mode answers.
func TestASilentServerTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // read nothing, answer nothing
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	c := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	const timeout = 20 * time.Millisecond
	b := mustNew(t, c, "silent", redisbucket.WithTimeout(timeout), redisbucket.WithFailureMode(redisbucket.FailClosed))
	start := time.Now()
	if err := b.Init(context.Background(), start, policy.State{Rate: 10, Burst: 10}); err != nil {
		t.Fatal(err)
	}
	// Generous: the bound is 22.5 ms; the client's default ReadTimeout,
	// which holds the call without ContextTimeoutEnabled, is 3 s.
	if d := time.Since(start); d > time.Second {
		t.Errorf("Init against a silent server took %v, want about %v", d, timeout)
	}
	if _, err := b.Take(context.Background(), start.Add(time.Hour), 1, 0); !errors.Is(err, redisbucket.ErrUnavailable) {
		t.Errorf("a take against a silent server: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Init and a take against a silent server took %v, want about %v", d, 2*timeout)
	}
}

// applyDuringHook reports one success through the bucket while a take of
// the same bucket is on its way to Redis, once.
type applyDuringHook struct {
	once sync.Once
	do   func()
}

func (h *applyDuringHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *applyDuringHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if args := cmd.Args(); len(args) > 4 && args[4] == "take" {
			h.once.Do(h.do)
		}
		return next(ctx, cmd)
	}
}

func (h *applyDuringHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// Successes a call is carrying to Redis still count in the state this
// process reports: a success reported meanwhile raises the rate from
// there, never lowers it.
func TestSuccessDuringACallIsNotADecrease(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv)
	hook := &applyDuringHook{}
	c.AddHook(hook)
	b := mustNew(t, c, "in-flight-successes")
	p := policy.DefaultAIMD()
	ctx := context.Background()
	now := time.Now()
	if err := b.Init(ctx, now, p.Initial()); err != nil {
		t.Fatal(err)
	}
	success := policy.Outcome{Signal: signal.Signal{Kind: signal.Success}}
	var last policy.State
	for range 5 {
		_, next, err := b.Apply(ctx, p, success, now)
		if err != nil {
			t.Fatal(err)
		}
		last = next
	}
	var prev, next policy.State
	var err error
	hook.do = func() { prev, next, err = b.Apply(ctx, p, success, now) }
	if _, terr := b.Take(ctx, now, 1, 0); terr != nil {
		t.Fatal(terr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if prev.Rate != last.Rate || !(next.Rate > prev.Rate) {
		t.Errorf("a success reported while five were on their way: %v -> %v, after %v; want a rise from %v",
			prev.Rate, next.Rate, last.Rate, last.Rate)
	}
}
