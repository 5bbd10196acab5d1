package monotime

import "time"

// Epoch carries a monotonic reading; time.Since on it reads only the
// monotonic clock.
var Epoch = time.Now()

// Since returns the time elapsed since Epoch, from one monotonic read.
func Since() time.Duration { return time.Since(Epoch) }

// At returns the instant d after Epoch: the real clock's reading when
// Since returned d.
func At(d time.Duration) time.Time { return Epoch.Add(d) }
