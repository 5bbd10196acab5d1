package dynlimit

import (
	"context"
	"log/slog"

	"github.com/dynlimit/dynlimit/signal"
)

// NewLogObserver returns an [Observer] that logs a limiter's decisions with
// l: rate and cooldown changes at Info, throttles at Warn, refused waits
// at Info, bucket errors at Error. Successes are not logged (an HTTP
// Transport's logger logs every request at Debug). Only numbers, states and
// the limiter's name are logged, never a request.
//
// A limiter with an observer reports every outcome to the policy on its
// own instead of batching successes: it costs a policy step per success.
func NewLogObserver(l *slog.Logger) Observer {
	if l == nil {
		l = slog.Default()
	}
	return logObserver{l}
}

type logObserver struct{ l *slog.Logger }

func (o logObserver) Observe(e Event) {
	ctx := context.Background()
	switch e.Kind {
	case EventRateChange:
		attrs := []slog.Attr{
			slog.String("limiter", e.Limiter),
			slog.Float64("from", e.Prev.Rate),
			slog.Float64("to", e.State.Rate),
			slog.Uint64("epoch", e.State.Epoch),
		}
		if e.State.CooldownUntil.After(e.Time) {
			attrs = append(attrs, slog.Time("cooldown_until", e.State.CooldownUntil))
		}
		o.l.LogAttrs(ctx, slog.LevelInfo, "rate changed", attrs...)
	case EventOutcome:
		if e.Signal.Kind != signal.Throttled {
			return
		}
		attrs := []slog.Attr{
			slog.String("limiter", e.Limiter),
			slog.Int("status", e.Signal.Status),
			slog.Uint64("epoch", e.Epoch),
			slog.Float64("rate", e.State.Rate),
		}
		if e.Signal.RetryAfter > 0 {
			attrs = append(attrs, slog.Duration("retry_after", e.Signal.RetryAfter))
		}
		if e.Signal.PauseCapped {
			attrs = append(attrs, slog.Bool("pause_capped", true))
		}
		o.l.LogAttrs(ctx, slog.LevelWarn, "throttled", attrs...)
	case EventRejected:
		o.l.LogAttrs(ctx, slog.LevelInfo, "wait refused",
			slog.String("limiter", e.Limiter), slog.Float64("tokens", e.Tokens), slog.String("error", errString(e.Err)))
	case EventError:
		o.l.LogAttrs(ctx, slog.LevelError, "bucket error",
			slog.String("limiter", e.Limiter), slog.String("error", errString(e.Err)))
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
