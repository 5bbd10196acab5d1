// Package redistest starts a real redis-server for tests.
//
// [Start] runs a private redis-server on a free loopback port, without
// persistence and with its data directory under the test's temporary
// directory, waits until it answers PING, and stops it when the test and
// its subtests end, whether they pass or fail. Every call starts its own
// server, so parallel tests, and tests in other packages running at the
// same time, never share one.
//
//	srv := redistest.Start(t)
//	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
//
// [Server.Kill] and [Server.Restart] play an outage: the server dies at
// once and comes back, empty, on the same address, so a client configured
// once sees Redis go away and return. [Server.CommandStats] counts the
// commands the server has executed (INFO commandstats), which is how a test
// checks how many round trips an operation costs; [Server.ResetStats]
// clears the counts.
//
// # When redis-server is missing
//
// Start looks for redis-server on PATH (Debian and Ubuntu: apt-get install
// redis-server; Redis 6 or later). When it is not there, the test is
// skipped, so that `go test ./...` passes on a machine without Redis. When
// the environment variable DYNLIMIT_REDIS_REQUIRED is set to any non-empty
// value, the test fails instead: CI sets it, so that a missing server
// cannot silently turn the Redis tests into skips.
//
// The package talks to the server over its own minimal RESP connection and
// depends on nothing outside the standard library.
package redistest
