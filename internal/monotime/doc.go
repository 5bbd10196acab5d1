// Package monotime is the time base of [clock.Real], shared with the
// limiter so that its hot path can read the real clock as a plain duration
// and build a [time.Time] only when it needs one.
//
// [clock.Real]: https://pkg.go.dev/github.com/dynlimit/dynlimit/clock#Real
package monotime
