package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/bucket/redisbucket"
	"github.com/dynlimit/dynlimit/internal/redistest"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

var redisKeys atomic.Int64

// BenchmarkRedisAcquire compares one permit from a limiter shared through
// Redis, dynlimit's (Allow and the Done that reports a success, the whole
// cycle) against github.com/go-redis/redis_rate's Allow, against the same
// local redis-server in the same run, serial and parallel. The limit is so
// high that every acquire is granted. Besides time per acquire it reports
// the 99th percentile of one acquire's latency (p99-µs) and the Redis
// commands the client sent per acquire, read from INFO commandstats
// (cmds/op: EVALSHA and EVAL, the only commands either sends).
func BenchmarkRedisAcquire(b *testing.B) {
	srv := redistest.Start(b)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 32, ContextTimeoutEnabled: true})
	b.Cleanup(func() { _ = client.Close() })
	impls := redisImpls(client)
	for _, mode := range []string{"serial", "parallel"} {
		for _, im := range impls {
			b.Run("mode="+mode+"/impl="+im.name, func(b *testing.B) {
				acquire := im.acquire(b)
				if err := acquire(); err != nil { // load the script, make the key
					b.Fatal(err)
				}
				srv.ResetStats(b)
				var (
					mu    sync.Mutex
					lats  []time.Duration
					count atomic.Int64
				)
				run := func(next func() bool) {
					mine := make([]time.Duration, 0, 1024)
					for next() {
						t0 := time.Now()
						if err := acquire(); err != nil {
							b.Error(err)
							return
						}
						mine = append(mine, time.Since(t0))
					}
					count.Add(int64(len(mine)))
					mu.Lock()
					lats = append(lats, mine...)
					mu.Unlock()
				}
				b.ReportAllocs()
				b.ResetTimer()
				if mode == "serial" {
					run(b.Loop)
				} else {
					b.RunParallel(func(pb *testing.PB) { run(pb.Next) })
				}
				b.StopTimer()
				stats := srv.CommandStats(b)
				cmds := stats["evalsha"] + stats["eval"] + stats["evalsha_ro"] + stats["eval_ro"]
				if n := count.Load(); n > 0 {
					b.ReportMetric(float64(cmds)/float64(n), "cmds/op")
					us := srv.CommandMicros(b)
					b.ReportMetric(float64(us["evalsha"]+us["eval"])/float64(n), "redis-µs/op")
				}
				if len(lats) > 0 {
					slices.Sort(lats)
					b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds()), "p99-µs")
				}
			})
		}
	}
}

// redisImpl is one way to acquire a permit from a limit shared in Redis.
type redisImpl struct {
	name string
	// acquire returns a func that acquires one permit of a new key,
	// reporting it back (dynlimit) where the implementation takes reports.
	acquire func(b *testing.B) func() error
}

// redisImpls returns dynlimit's and redis_rate's acquire on client, with a
// limit so high that every acquire is granted.
func redisImpls(client *redis.Client) []redisImpl {
	ctx := context.Background()
	return []redisImpl{
		{"dynlimit", func(b *testing.B) func() error {
			rb, err := redisbucket.New(client, fmt.Sprintf("bench-%d", redisKeys.Add(1)))
			if err != nil {
				b.Fatal(err)
			}
			lim, err := dynlimit.New(dynlimit.WithBucket(rb), dynlimit.WithPolicy(policy.Fixed{Rate: 1e9, Burst: 1e9}))
			if err != nil {
				b.Fatal(err)
			}
			return func() error {
				p, ok := lim.Allow()
				if !ok {
					return fmt.Errorf("refused: %+v", lim.Snapshot())
				}
				p.Done(signal.Signal{Kind: signal.Success})
				return nil
			}
		}},
		{"redis_rate", func(b *testing.B) func() error {
			rl := redis_rate.NewLimiter(client)
			key := fmt.Sprintf("bench-rr-%d", redisKeys.Add(1))
			limit := redis_rate.Limit{Rate: 1_000_000_000, Burst: 1_000_000_000, Period: time.Second}
			return func() error {
				res, err := rl.Allow(ctx, key, limit)
				if err != nil {
					return err
				}
				if res.Allowed != 1 {
					return fmt.Errorf("refused: %+v", res)
				}
				return nil
			}
		}},
	}
}

// BenchmarkRedisAcquirePaired runs the two acquires of BenchmarkRedisAcquire
// in one loop: each iteration makes one of each, the order alternating, and
// times both. Whatever else the machine is doing slows both alike, so their
// ratio holds steadier than that of two benchmarks run one after the other.
// It reports the mean time of one acquire of each (dynlimit-µs,
// redis_rate-µs) and throughput-ratio, redis_rate's time over dynlimit's:
// above 1, dynlimit acquires faster. One op is one pair.
func BenchmarkRedisAcquirePaired(b *testing.B) {
	srv := redistest.Start(b)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 32, ContextTimeoutEnabled: true})
	b.Cleanup(func() { _ = client.Close() })
	impls := redisImpls(client)
	for _, mode := range []string{"serial", "parallel"} {
		b.Run("mode="+mode, func(b *testing.B) {
			var spent [2]atomic.Int64 // ns, by impl
			var pairs atomic.Int64
			run := func(next func() bool) {
				var acq [2]func() error
				for i, im := range impls {
					acq[i] = im.acquire(b)
					if err := acq[i](); err != nil { // load the script, make the key
						b.Error(err)
						return
					}
				}
				var mine [2]time.Duration
				n := int64(0)
				for next() {
					for k := range 2 {
						i := (k + int(n)) % 2 // who goes first alternates
						t0 := time.Now()
						if err := acq[i](); err != nil {
							b.Error(err)
							return
						}
						mine[i] += time.Since(t0)
					}
					n++
				}
				spent[0].Add(int64(mine[0]))
				spent[1].Add(int64(mine[1]))
				pairs.Add(n)
			}
			b.ReportAllocs()
			if mode == "serial" {
				run(b.Loop)
			} else {
				b.RunParallel(func(pb *testing.PB) { run(pb.Next) })
			}
			b.StopTimer()
			if n := pairs.Load(); n > 0 && spent[0].Load() > 0 {
				for i, im := range impls {
					b.ReportMetric(float64(spent[i].Load())/float64(n)/1e3, im.name+"-µs")
				}
				b.ReportMetric(float64(spent[1].Load())/float64(spent[0].Load()), "throughput-ratio")
			}
		})
	}
}
