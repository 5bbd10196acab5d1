// Package monotime is the time base of [clock.Real]: a process-wide epoch
// with a monotonic reading, and the time elapsed since it as a plain
// duration, which the Redis bucket compares with the ends of its call
// slots.
//
// [clock.Real]: https://pkg.go.dev/github.com/dynlimit/dynlimit/clock#Real
package monotime
