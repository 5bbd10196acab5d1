// Package bucket holds a limiter's tokens and its adaptive state.
//
// A [Bucket] keeps the two together so that one atomic step can take tokens
// at the current rate, or apply a policy's decision and refill at the new
// one. [Local] is the in-memory bucket of a single process; a shared bucket
// (Redis) implements the same interface, which is why every method takes a
// context and returns an error. The package buckettest holds the
// conformance suite every implementation runs.
//
// Buckets never read a clock: the caller passes the instant, which is what
// lets the simulator run them on fake time.
package bucket
