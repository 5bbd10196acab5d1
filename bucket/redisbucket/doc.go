// Package redisbucket is a bucket.Bucket in Redis: every process of a fleet
// that uses the same name paces against one token bucket and one adaptive
// state, which adapt as one.
//
// Give it to a limiter:
//
//	// ContextTimeoutEnabled lets each call's timeout bound its network I/O.
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379", ContextTimeoutEnabled: true}) // or a ClusterClient, any UniversalClient
//	b, err := redisbucket.New(rdb, "notion")
//	lim, err := dynlimit.New(dynlimit.WithBucket(b), dynlimit.WithPolicy(policy.DefaultAIMD()))
//
// Each name is one Redis hash (dynlimit:{name}, the braces a hash tag so that
// a Cluster keeps it in one slot) holding the tokens, the instant of their
// last refill and the latest reservation (field t), the adaptive state
// (rate, burst, cooldown, epoch, quota pacing, ceiling, since, updated,
// measured) and its version
// (field s), and the origin of its instants (field o), each packed as
// doubles. Every operation is one Lua script run with EVALSHA (EVAL when the
// server lacks it), atomically, in one round trip; the script reads the time
// from the server (TIME), so the hosts' clocks need not agree. A policy step
// reads the state, runs the policy in the process and writes back if the
// version has not moved, else computes again from the state the reply
// carries: the first process to report a congestion event moves the epoch,
// and the same event reported by the others then belongs to an older epoch
// and changes nothing. Successes cost no call: their step rides on the next
// one, as a change of the rate that adds up with other processes' when the
// policy bounds its rate (policy.AIMD, policy.Fixed; the measured rate and
// its instant go with it, the later measure winning), and as a versioned
// state otherwise (policy.CUBIC, whose step sets the rate rather than adds
// to it). The hash expires after a TTL of disuse (WithTTL).
//
// When Redis cannot be reached, times out (WithTimeout, 100 ms by default) or
// its script fails, the failure mode decides: FailFallback (the default)
// paces by a local bucket at a share of the last known rate
// (WithFallbackShare, 0.25), FailOpen lets everything through, FailClosed
// returns an *UnavailableError. The bucket asks Redis again after the retry
// interval (WithRetryInterval, 1 s) and goes back to it as soon as it
// answers, making the hash again from the starting state if Redis lost it.
// docs/deployment.md says how to choose.
package redisbucket
