package dynlimit

import (
	"context"
	"time"

	"github.com/dynlimit/dynlimit/signal"
)

// Snapshot is a point-in-time view of a Limiter, for dashboards, logs and
// tests. Reading one blocks no caller for longer than one bucket step.
type Snapshot struct {
	// Name is the limiter's name.
	Name string
	// Time is the instant of the snapshot.
	Time time.Time
	// Rate is the policy's current rate in tokens per second.
	Rate float64
	// QuotaRate is the rate at which the upstream's remaining quota is being
	// spent until QuotaUntil (see policy.Pace); it is in force instead of
	// Rate while it is lower and QuotaUntil has not passed. 0 when the
	// upstream sent no quota hints, or a refilling quota shows more than
	// half left.
	QuotaRate float64
	// QuotaUntil is when the upstream's quota window resets, or, for a
	// refilling quota, when it is full again.
	QuotaUntil time.Time
	// Burst is the bucket's capacity.
	Burst float64
	// Tokens is the number of tokens available now, within [0, Burst].
	Tokens float64
	// Reserved is the number of tokens held by waiters whose time has not
	// come.
	Reserved float64
	// CooldownUntil is the end of the current cooldown; zero or past when
	// none runs.
	CooldownUntil time.Time
	// Epoch is the number of congestion events so far.
	Epoch uint64
	// InFlight is the number of permits granted and not yet Done.
	InFlight int64
	// MaxInFlight is the in-flight cap; 0 when there is none.
	MaxInFlight int
	// Counters count what happened since the limiter was made.
	Counters Counters
	// Err is set when the bucket could not be read; the fields above that
	// come from it are then zero.
	Err error
	// Degraded is set while the bucket answers in a degraded mode: a shared
	// bucket on its local fallback, or failing open, because its store is
	// unreachable (see [bucket.Status.Degraded]). The fields above are then
	// the fallback's.
	Degraded error
}

// Counters count a limiter's permits and decisions.
type Counters struct {
	// Granted is the number of permits issued.
	Granted uint64
	// Rejected is the number of waits refused (deadline or max wait).
	Rejected uint64
	// Succeeded, Throttled, Overloaded, Failed and Canceled count the
	// outcomes reported through Done, by Kind.
	Succeeded, Throttled, Overloaded, Failed, Canceled uint64
	// Increases and Decreases count the policy steps that raised or lowered
	// the rate. A batch of successes handed to the policy at once (see
	// [Permit.Done]) is one step.
	Increases, Decreases uint64
}

// Snapshot is shorthand for SnapshotAt(time.Now()) on the limiter's clock.
func (l *Limiter) Snapshot() Snapshot { return l.SnapshotAt(l.clock.Now()) }

// SnapshotAt returns the limiter's state, tokens and counters at now.
// Successes still batched are handed to the policy first, so the snapshot
// reflects every outcome reported before it.
func (l *Limiter) SnapshotAt(now time.Time) Snapshot {
	l.flush(now)
	s := Snapshot{
		Name: l.name,
		Time: now,
		Counters: Counters{
			Granted:    l.counters.granted.Load(),
			Rejected:   l.counters.rejected.Load(),
			Succeeded:  l.counters.outcomes[signal.Success].Load(),
			Throttled:  l.counters.outcomes[signal.Throttled].Load(),
			Overloaded: l.counters.outcomes[signal.Overloaded].Load(),
			Failed:     l.counters.outcomes[signal.Failed].Load(),
			Canceled:   l.counters.outcomes[signal.Canceled].Load(),
			Increases:  l.counters.increases.Load(),
			Decreases:  l.counters.decreases.Load(),
		},
	}
	// Every outcome ends a permit, whether Counters names its Kind or not.
	// The counters are read one by one while permits come and go: clamp
	// the difference rather than report a negative in-flight count.
	var done uint64
	for i := range l.counters.outcomes {
		done += l.counters.outcomes[i].Load()
	}
	s.InFlight = max(int64(s.Counters.Granted)-int64(done), 0)
	if l.sem != nil {
		s.MaxInFlight = cap(l.sem)
	}
	st, err := l.bucket.Peek(context.Background(), now)
	if err != nil {
		s.Err = err
		return s
	}
	s.Rate, s.Burst, s.Tokens, s.Reserved = st.State.Rate, st.State.Burst, st.Tokens, st.Reserved
	s.Degraded = st.Degraded
	s.CooldownUntil, s.Epoch = st.State.CooldownUntil, st.State.Epoch
	s.QuotaRate, s.QuotaUntil = st.State.QuotaRate, st.State.QuotaUntil
	return s
}

// inFlight returns the number of permits out, without flushing anything.
func (l *Limiter) inFlight() int64 {
	var done uint64
	for i := range l.counters.outcomes {
		done += l.counters.outcomes[i].Load()
	}
	l.mu.Lock()
	done += l.batched
	l.mu.Unlock()
	return int64(l.counters.granted.Load()) - int64(done)
}
