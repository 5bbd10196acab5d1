package redisbucket_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/bucket/redisbucket"
	"github.com/dynlimit/dynlimit/internal/redistest"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// The fleet test runs this test binary again as its worker processes; these
// variables tell a worker what to do.
const (
	workerEnv     = "DYNLIMIT_FLEET_WORKER" // the Redis address
	workerNameEnv = "DYNLIMIT_FLEET_NAME"
	workerForEnv  = "DYNLIMIT_FLEET_FOR"
)

const (
	fleetRate  = 40.0
	fleetBurst = 4.0
)

// TestMain lets the test binary be a fleet worker: with workerEnv set it
// takes permits from the shared limiter as fast as it gives them for the
// time it is told, prints the Unix nanoseconds of each grant, and exits.
func TestMain(m *testing.M) {
	// go-redis logs every failed dial; the tests that point at a dead
	// server fail dials on purpose.
	redis.SetLogger(quietLogger{})
	if addr := os.Getenv(workerEnv); addr != "" {
		os.Exit(worker(addr, os.Getenv(workerNameEnv), os.Getenv(workerForEnv)))
	}
	os.Exit(m.Run())
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func worker(addr, name, dur string) int {
	d, err := time.ParseDuration(dur)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	b, err := redisbucket.New(c, name, redisbucket.WithFailureMode(redisbucket.FailClosed), redisbucket.WithTimeout(time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	lim, err := dynlimit.New(dynlimit.WithBucket(b), dynlimit.WithPolicy(policy.Fixed{Rate: fleetRate, Burst: fleetBurst}))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for {
		p, err := lim.Wait(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, dynlimit.ErrWaitTooLong) {
				return 0
			}
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintln(out, time.Now().UnixNano())
		p.Done(signal.Signal{Kind: signal.Success})
	}
}

// Four OS processes pace against one limiter in Redis: together they never
// go faster than its rate allows, plus its burst.
func TestFleetOfProcessesSharesOneRate(t *testing.T) {
	srv := redistest.Start(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const procs = 4
	const run = 2 * time.Second
	name := fmt.Sprintf("fleet-%d", names.Add(1))
	var (
		mu     sync.Mutex
		grants []int64
		wg     sync.WaitGroup
	)
	for i := range procs {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), workerEnv+"="+srv.Addr(), workerNameEnv+"="+name, workerForEnv+"="+run.String())
		var stderr strings.Builder
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			sc := bufio.NewScanner(stdout)
			var mine []int64
			for sc.Scan() {
				n, err := strconv.ParseInt(sc.Text(), 10, 64)
				if err == nil {
					mine = append(mine, n)
				}
			}
			if err := cmd.Wait(); err != nil {
				t.Errorf("worker %d: %v\n%s", i, err, stderr.String())
			}
			mu.Lock()
			grants = append(grants, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(grants) == 0 {
		t.Fatal("no permit granted")
	}
	slices.Sort(grants)
	// Every window of w holds at most rate × w + burst grants. The grants are
	// stamped by the workers after the script answered, so a window may
	// catch one stamped a little late: one grant of slack per process.
	const w = 500 * time.Millisecond
	limit := int(fleetRate*w.Seconds()+fleetBurst) + procs
	for i := range grants {
		j := i
		for j < len(grants) && grants[j]-grants[i] < int64(w) {
			j++
		}
		if n := j - i; n > limit {
			t.Fatalf("%d grants within %v from grant %d, want at most %d (rate %v/s, burst %v)", n, w, i, limit, fleetRate, fleetBurst)
		}
	}
	span := time.Duration(grants[len(grants)-1] - grants[0])
	if max := int(fleetRate*span.Seconds()+fleetBurst) + procs; len(grants) > max {
		t.Errorf("%d grants over %v, want at most %d", len(grants), span, max)
	}
	// And the fleet did use its budget: at least half of it.
	if min := int(fleetRate * span.Seconds() / 2); len(grants) < min {
		t.Errorf("%d grants over %v, want at least %d: the fleet starved", len(grants), span, min)
	}
	t.Logf("%d processes: %d grants over %v (%.1f/s for a rate of %v/s)", procs, len(grants), span, float64(len(grants))/span.Seconds(), fleetRate)
}

// sharedLimiters returns n limiters of policy p on the bucket name in
// srv, each with its own client: "processes" that share nothing but Redis.
func sharedLimiters(t *testing.T, srv *redistest.Server, name string, p policy.Policy, n int, opts ...dynlimit.Option) []*dynlimit.Limiter {
	t.Helper()
	lims := make([]*dynlimit.Limiter, 0, n)
	for range n {
		lim, err := dynlimit.New(append([]dynlimit.Option{dynlimit.WithBucket(mustNew(t, newClient(t, srv), name)), dynlimit.WithPolicy(p)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		lims = append(lims, lim)
	}
	return lims
}

// A 429 seen by every process of a fleet lowers the shared rate once: the
// first report moves the epoch, and the others are about permits of the
// epoch before. Each "process" here has its own client and limiter; they
// share nothing but Redis.
func TestSharedThrottleLowersTheRateOnce(t *testing.T) {
	srv := redistest.Start(t)
	name := fmt.Sprintf("throttle-%d", names.Add(1))
	a := policy.DefaultAIMD()
	a.Rate, a.Burst = 10, 10
	lims := sharedLimiters(t, srv, name, a, 4)
	var permits []dynlimit.Permit
	for _, l := range lims {
		p, ok := l.Allow()
		if !ok {
			t.Fatal("no permit from a full bucket")
		}
		permits = append(permits, p)
	}
	var wg sync.WaitGroup
	for _, p := range permits {
		wg.Go(func() { p.Done(signal.Signal{Kind: signal.Throttled, Status: 429}) })
	}
	wg.Wait()
	var decreases uint64
	for i, l := range lims {
		s := l.Snapshot()
		decreases += s.Counters.Decreases
		if s.Rate != 10*a.DecreaseFactor || s.Epoch != 1 {
			t.Errorf("process %d sees rate %v in epoch %d, want %v in epoch 1", i, s.Rate, s.Epoch, 10*a.DecreaseFactor)
		}
	}
	if decreases != 1 {
		t.Errorf("%d decreases over the fleet, want 1", decreases)
	}
}

// kill -9 of the server: the bucket falls back to a local one at a share
// of the last known rate, and goes back to Redis once a new server answers.
func TestFallbackAndRecovery(t *testing.T) {
	srv := redistest.Start(t)
	var events []string
	var mu sync.Mutex
	b, err := redisbucket.New(newClient(t, srv), fmt.Sprintf("fallback-%d", names.Add(1)),
		redisbucket.WithRetryInterval(time.Second), redisbucket.WithTimeout(200*time.Millisecond),
		redisbucket.WithOnFailure(func(key string, err error) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, fmt.Sprint(err == nil))
		}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	if err := b.Init(ctx, now, policy.State{Rate: 100, Burst: 8}); err != nil {
		t.Fatal(err)
	}
	if r, err := b.Take(ctx, now, 1, 0); err != nil || !r.OK {
		t.Fatalf("take with Redis up: %+v, %v", r, err)
	}

	srv.Kill()
	r, err := b.Take(ctx, now, 1, 0)
	if err != nil || !r.OK {
		t.Fatalf("take with Redis dead: %+v, %v; want a permit from the fallback", r, err)
	}
	if !b.Down() {
		t.Error("the bucket does not know Redis is down")
	}
	st, err := b.Peek(ctx, now)
	if err != nil || st.State.Rate != 25 || st.State.Burst != 2 {
		t.Errorf("fallback state %+v, %v; want a quarter of the rate (25/s) and burst (2)", st.State, err)
	}
	// The fallback paces: its burst of 2 is spent by one more take.
	if r, _ := b.Take(ctx, now, 1, 0); !r.OK {
		t.Error("the fallback refused its second token")
	}
	if r, _ := b.Take(ctx, now, 1, 0); r.OK {
		t.Error("the fallback gave a third token at once: it does not pace")
	}

	srv.Restart(t)
	later := now.Add(2 * time.Second) // past the retry interval
	if r, err := b.Take(ctx, later, 1, 0); err != nil || !r.OK {
		t.Fatalf("take after the restart: %+v, %v", r, err)
	}
	if b.Down() {
		t.Error("the bucket is still on its fallback after Redis came back")
	}
	// The new server lost the hash (no persistence): it was made again
	// from the starting state.
	if st, err := b.Peek(ctx, later); err != nil || st.State.Rate != 100 {
		t.Errorf("state after the restart %+v, %v; want the starting state again", st.State, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(events, []string{"false", "true"}) {
		t.Errorf("failure events %v, want one down (false) then one up (true)", events)
	}
}

// The failure modes against a Redis that is not there.
func TestFailureModes(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	t.Cleanup(func() { _ = dead.Close() })
	ctx := context.Background()
	now := time.Now()
	s := policy.State{Rate: 10, Burst: 4}

	open, err := redisbucket.New(dead, "open", redisbucket.WithFailureMode(redisbucket.FailOpen))
	if err != nil {
		t.Fatal(err)
	}
	if err := open.Init(ctx, now, s); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if r, err := open.Take(ctx, now, 1, 0); err != nil || !r.OK || !r.At.Equal(now) {
			t.Fatalf("fail-open take %d: %+v, %v; want a permit at once", i, r, err)
		}
	}

	closed, err := redisbucket.New(dead, "closed", redisbucket.WithFailureMode(redisbucket.FailClosed))
	if err != nil {
		t.Fatal(err)
	}
	if err := closed.Init(ctx, now, s); err != nil {
		t.Fatal(err)
	}
	_, err = closed.Take(ctx, now, 1, 0)
	var ue *redisbucket.UnavailableError
	if !errors.Is(err, redisbucket.ErrUnavailable) || !errors.As(err, &ue) || ue.Op != "take" {
		t.Fatalf("fail-closed take: %v, want an *UnavailableError", err)
	}
	// Within the retry interval it answers at once, without asking Redis.
	var asked atomic.Int32
	counted := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	t.Cleanup(func() { _ = counted.Close() })
	counted.AddHook(countingHook{&asked})
	quiet := mustNew(t, counted, "quiet", redisbucket.WithFailureMode(redisbucket.FailClosed))
	// Init asks Redis, finds it down, and starts the retry interval.
	if err := quiet.Init(ctx, now, s); err != nil {
		t.Fatal(err)
	}
	first := asked.Load()
	if first == 0 {
		t.Fatal("Init did not ask Redis")
	}
	for i := range 5 {
		if _, err := quiet.Take(ctx, now, 1, 0); !errors.Is(err, redisbucket.ErrUnavailable) {
			t.Errorf("fail-closed take %d within the retry interval: %v", i, err)
		}
	}
	if n := asked.Load(); n != first {
		t.Errorf("takes within the retry interval sent %d commands to Redis, want none", n-first)
	}
	// Once the interval has passed, one take asks again.
	if _, err := quiet.Take(ctx, now.Add(redisbucket.DefaultRetryInterval), 1, 0); !errors.Is(err, redisbucket.ErrUnavailable) {
		t.Errorf("fail-closed take after the retry interval: %v", err)
	}
	if n := asked.Load(); n == first {
		t.Error("a take after the retry interval did not ask Redis again")
	}

	// A limiter on a fail-closed bucket reports the error to its caller.
	lim, err := dynlimit.New(dynlimit.WithBucket(mustNew(t, dead, "closed-lim", redisbucket.WithFailureMode(redisbucket.FailClosed))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lim.Wait(ctx); !errors.Is(err, redisbucket.ErrUnavailable) {
		t.Errorf("Wait on a fail-closed bucket: %v, want ErrUnavailable", err)
	}

	// The caller's canceled context is its own error, not Redis's.
	fb := mustNew(t, dead, "canceled")
	if err := fb.Init(ctx, now, s); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := fb.Take(cctx, now.Add(time.Hour), 1, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("take with a canceled context: %v, want context.Canceled", err)
	}
}

func mustNew(t *testing.T, c redis.UniversalClient, name string, opts ...redisbucket.Option) *redisbucket.Bucket {
	t.Helper()
	b, err := redisbucket.New(c, name, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBadInput(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	tests := []struct {
		name   string
		client redis.UniversalClient
		key    string
		opts   []redisbucket.Option
		field  string
	}{
		{"nil client", nil, "ok", nil, "client"},
		{"empty name", c, "", nil, "name"},
		{"space", c, "my limiter", nil, "name"},
		{"brace", c, "a{b}", nil, "name"},
		{"newline", c, "a\nb", nil, "name"},
		{"too long", c, strings.Repeat("k", 201), nil, "name"},
		{"prefix", c, "ok", []redisbucket.Option{redisbucket.WithPrefix("x{")}, "WithPrefix"},
		{"ttl", c, "ok", []redisbucket.Option{redisbucket.WithTTL(-time.Second)}, "WithTTL"},
		{"timeout", c, "ok", []redisbucket.Option{redisbucket.WithTimeout(0)}, "WithTimeout"},
		{"share", c, "ok", []redisbucket.Option{redisbucket.WithFallbackShare(1.5)}, "WithFallbackShare"},
		{"mode", c, "ok", []redisbucket.Option{redisbucket.WithFailureMode(7)}, "WithFailureMode"},
		{"retry", c, "ok", []redisbucket.Option{redisbucket.WithRetryInterval(0)}, "WithRetryInterval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := redisbucket.New(tt.client, tt.key, tt.opts...)
			var oe *redisbucket.OptionError
			if !errors.As(err, &oe) || oe.Name != tt.field {
				t.Errorf("err = %v, want an OptionError naming %s", err, tt.field)
			}
		})
	}
	b := mustNew(t, c, "before-init")
	if _, err := b.Take(context.Background(), time.Now(), 1, 0); !errors.Is(err, bucket.ErrUninitialized) {
		t.Errorf("take before Init: %v", err)
	}
	if got := mustNew(t, c, "svc:notion/tenant-1").Key(); got != "dynlimit:{svc:notion/tenant-1}" {
		t.Errorf("key = %q", got)
	}
}

// Successes ride on the next take: a permit cycle is one call to Redis,
// and the fleet's rate grows by one increase per success, whichever
// process reported it: increases neither multiply nor get lost.
func TestSuccessesRideOnTakes(t *testing.T) {
	srv := redistest.Start(t)
	name := fmt.Sprintf("successes-%d", names.Add(1))
	a := policy.DefaultAIMD()
	a.Rate, a.Burst, a.MaxRate, a.IncreaseFactor = 10, 1000, 1000, 0.5
	a.SlowStart, a.Recovery = 0, 0 // a plain additive increase, whatever the ceiling
	lims := sharedLimiters(t, srv, name, a, 3)
	srv.ResetStats(t)
	const rounds = 40
	for i := range rounds {
		for _, l := range lims {
			p, ok := l.Allow()
			if !ok {
				t.Fatalf("round %d: refused", i)
			}
			p.Done(signal.Signal{Kind: signal.Success})
		}
	}
	stats := srv.CommandStats(t)
	calls := stats["evalsha"] + stats["eval"]
	cycles := int64(rounds * len(lims))
	// Each cycle is a take; a success batch that another instant's batch
	// finds still pending (no take in between) is written on its own.
	if calls > cycles+cycles/10 {
		t.Errorf("%d calls to Redis for %d permit cycles, want about one each", calls, cycles)
	}
	// A snapshot hands each process's last successes to its bucket, which
	// writes them with the read: then every success is in the shared rate,
	// once.
	for _, l := range lims {
		l.Snapshot()
	}
	s := lims[0].Snapshot()
	want := a.Rate + float64(cycles)*a.IncreaseFactor
	if math.Abs(s.Rate-want) > 1e-9 {
		t.Errorf("shared rate %v after %d successes from %d processes, want %v", s.Rate, cycles, len(lims), want)
	}
	t.Logf("%d calls for %d cycles; rate %v (want about %v)", calls, cycles, s.Rate, want)
}

// A hash that expired or was deleted is made again from the starting state;
// the call that found it gone is not misread for the step it carried, and
// the successes of that step still count, from the new state.
func TestHashGoneWithAPendingStep(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv)
	b := mustNew(t, c, fmt.Sprintf("gone-%d", names.Add(1)))
	ctx := context.Background()
	now := time.Now()
	a := policy.DefaultAIMD()
	a.Rate, a.Burst = 10, 5
	// A plain additive increase: +0.1 per success, whatever the time.
	a.IncreaseFactor, a.SlowStart, a.Recovery, a.Probe, a.Restart = 0.1, 0, 0, 0, 0
	if err := b.Init(ctx, now, a.Initial()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Apply(ctx, a, policy.Outcome{Signal: signal.Signal{Kind: signal.Success}, Tokens: 1, Count: 3}, now); err != nil {
		t.Fatal(err)
	}
	if err := c.Del(ctx, b.Key()).Err(); err != nil {
		t.Fatal(err)
	}
	r, err := b.Take(ctx, now, 2, 0)
	if err != nil || !r.OK {
		t.Fatalf("take after the hash was deleted: %+v, %v", r, err)
	}
	st, err := b.Peek(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(st.State.Rate-10.3) > 1e-9 || st.Tokens < 2.9 || st.Tokens > 3.1 {
		t.Errorf("after the hash was made again: rate %v, tokens %v; want the starting 10/s with the 3 successes' +0.3, and 5 - 2 tokens", st.State.Rate, st.Tokens)
	}
}

// Successes reported once are added once, however many calls are in flight
// when they are carried. The calls get seconds, not the default 100 ms: 64
// at once under -race on a busy machine took longer, and the check read the
// fallback's share of the rate.
func TestConcurrentCallsAddSuccessesOnce(t *testing.T) {
	srv := redistest.Start(t)
	b := mustNew(t, newClient(t, srv), fmt.Sprintf("once-%d", names.Add(1)), redisbucket.WithTimeout(5*time.Second))
	ctx := context.Background()
	now := time.Now()
	a := policy.DefaultAIMD()
	a.Rate, a.Burst, a.MaxRate, a.IncreaseFactor, a.SlowStart, a.Recovery = 10, 1000, 1000, 1, 0, 0
	if err := b.Init(ctx, now, a.Initial()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Apply(ctx, a, policy.Outcome{Signal: signal.Signal{Kind: signal.Success}, Tokens: 1, Count: 10}, now); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			if _, err := b.Take(ctx, now, 1, 0); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if st, err := b.Peek(ctx, now); err != nil || st.State.Rate != 20 {
		t.Errorf("rate after 10 successes of +1 and 64 concurrent takes: %v, %v; want 20", st.State.Rate, err)
	}
}

// A throttle reported while Redis is unreachable reaches the fallback.
func TestApplyFallsBackWhenRedisIsDown(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	t.Cleanup(func() { _ = dead.Close() })
	b := mustNew(t, dead, "apply-down")
	ctx := context.Background()
	now := time.Now()
	a := policy.DefaultAIMD()
	if err := b.Init(ctx, now, a.Initial()); err != nil {
		t.Fatal(err)
	}
	// Past the retry interval, so that Apply asks Redis, finds it down,
	// and must fall back rather than loop.
	later := now.Add(2 * redisbucket.DefaultRetryInterval)
	prev, next, err := b.Apply(ctx, a, policy.Outcome{Signal: signal.Signal{Kind: signal.Throttled}, Tokens: 1}, later)
	if err != nil {
		t.Fatalf("Apply with Redis down: %v", err)
	}
	if next.Epoch != prev.Epoch+1 || next.Rate >= prev.Rate {
		t.Errorf("fallback step %+v → %+v, want a decrease in a new epoch", prev, next)
	}
}

// The hash carries a TTL, so that a name nobody uses any more disappears;
// calls keep it alive.
func TestHashHasATTL(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv)
	b := mustNew(t, c, fmt.Sprintf("ttl-%d", names.Add(1)), redisbucket.WithTTL(time.Minute))
	ctx := context.Background()
	if err := b.Init(ctx, time.Now(), policy.State{Rate: 10, Burst: 5}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := b.Take(ctx, time.Now(), 1, 0); err != nil {
			t.Fatal(err)
		}
	}
	ttl, err := c.PTTL(ctx, b.Key()).Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Errorf("PTTL = %v, %v; want within (0, 1m]", ttl, err)
	}
	none := mustNew(t, c, fmt.Sprintf("nottl-%d", names.Add(1)), redisbucket.WithTTL(0))
	if err := none.Init(ctx, time.Now(), policy.State{Rate: 10, Burst: 5}); err != nil {
		t.Fatal(err)
	}
	if ttl, err := c.PTTL(ctx, none.Key()).Result(); err != nil || ttl != -1 {
		t.Errorf("PTTL with WithTTL(0) = %v, %v; want -1 (no expiry)", ttl, err)
	}
}

// countingHook counts the commands a client sends, pipelined or not.
type countingHook struct{ n *atomic.Int32 }

func (h countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int32(len(cmds)))
		return next(ctx, cmds)
	}
}
