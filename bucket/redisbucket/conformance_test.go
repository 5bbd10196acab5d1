package redisbucket_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/bucket/buckettest"
	"github.com/dynlimit/dynlimit/bucket/redisbucket"
	"github.com/dynlimit/dynlimit/internal/redistest"
)

var names atomic.Int64

// newClient returns a client of srv, closed at the end of the test.
func newClient(t testing.TB, srv *redistest.Server) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// The conformance suite every bucket runs, on the caller's (fake) clock: the
// suite's instants are made up, and the server's clock would not follow them.
func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv)
	buckettest.Run(t, func(t *testing.T) bucket.Bucket {
		b, err := redisbucket.New(c, fmt.Sprintf("conformance-%d", names.Add(1)), redisbucket.WithCallerClock())
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

// The differential property: the same random calls, extreme hints among
// them, on bucket.Local and on this bucket, on the caller's clock so that
// both see the same instants, must get the same decisions.
func TestDifferential(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv)
	buckettest.RunDifferential(t, func(t *testing.T) bucket.Bucket {
		b, err := redisbucket.New(c, fmt.Sprintf("differential-%d", names.Add(1)), redisbucket.WithCallerClock())
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}
