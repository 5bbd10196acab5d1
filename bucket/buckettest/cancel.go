package buckettest

import (
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/policy"
)

// testCancelWholeQueue cancels a queue of reservations, the latest first:
// each is then the latest, and all of its tokens come back, even where the
// tail a cancel moved back lies a nanosecond off the reservation before.
// At 3 tokens/s, half a token takes 166666666.7ns: the reservations are
// due at 166666666, 333333333 and 500000000ns, and cancelling the last
// leaves the tail at 500000000 - 166666666 = 333333334, not 333333333.
func testCancelWholeQueue(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	h := start(t, newBucket, policy.State{Rate: 3, Burst: 3})
	h.mustTake(t0, 3, 0)
	var queue []bucket.Reservation
	for i := range 3 {
		r := h.mustTake(t0, 0.5, bucket.Forever)
		h.wantAt("reservation", r, t0.Add(time.Duration(i+1)*500*time.Millisecond/3))
		queue = append(queue, r)
	}
	h.wantStatus(t0, 0, 1.5)
	for i := len(queue) - 1; i >= 0; i-- {
		h.cancel(t0, queue[i])
		h.wantStatus(t0, 0, float64(i)*0.5)
	}
	// The queue is gone: the next take is due when its own tokens accrue.
	r := h.mustTake(t0, 1.5, bucket.Forever)
	h.wantAt("take after the queue was cancelled", r, t0.Add(500*time.Millisecond))
}
