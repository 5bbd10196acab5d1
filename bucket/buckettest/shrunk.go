package buckettest

import (
	"context"
	"time"

	"github.com/dynlimit/dynlimit/bucket"
)

// Shrunk returns b with a capacity of burst whatever its state says: a Take
// of more than burst tokens fails with a *bucket.BurstError naming burst.
// It stands for a bucket whose capacity changed under its limiter, as a
// shared bucket's does when it falls back to a local one at a share of the
// rate, so that code which sizes its requests by a limiter's burst can be
// tested against it.
func Shrunk(b bucket.Bucket, burst float64) bucket.Bucket {
	return shrunk{Bucket: b, burst: burst}
}

type shrunk struct {
	bucket.Bucket
	burst float64
}

func (s shrunk) Take(ctx context.Context, now time.Time, n float64, maxWait time.Duration) (bucket.Reservation, error) {
	if n > s.burst {
		return bucket.Reservation{}, &bucket.BurstError{N: n, Burst: s.burst}
	}
	return s.Bucket.Take(ctx, now, n, maxWait)
}
