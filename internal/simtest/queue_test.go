package simtest

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// Both forms of the queue pop events in (at, seq) order, whatever the
// interleaving of pushes and pops, including ties and sizes beyond the one
// the queue was made for.
func TestQueueOrder(t *testing.T) {
	for _, size := range []int{1, 10, sortedMax, sortedMax + 1, 300} {
		rng := rand.New(rand.NewPCG(uint64(size), 3))
		q := newQueue(size)
		var want []event
		var seq uint64
		now := time.Duration(0)
		for step := range 20000 {
			if q.len() != len(want) {
				t.Fatalf("size %d step %d: len %d, want %d", size, step, q.len(), len(want))
			}
			if len(want) == 0 || (len(want) < 2*size && rng.IntN(2) == 0) {
				seq++
				ev := event{at: now + time.Duration(rng.IntN(50)), key: seq<<8 | uint64(rng.IntN(6)), c: int32(step)}
				q.push(ev)
				want = append(want, ev)
				continue
			}
			first := slices.MinFunc(want, func(a, b event) int {
				if a.before(&b) {
					return -1
				}
				return 1
			})
			got := q.pop()
			if got != first {
				t.Fatalf("size %d step %d: popped %+v, want %+v", size, step, got, first)
			}
			want = slices.DeleteFunc(want, func(e event) bool { return e == first })
			now = got.at
		}
	}
}
