package httpadapter

import (
	"context"
	"log/slog"

	"github.com/dynlimit/dynlimit/breaker"
)

// requestLevel is the level a request's event is logged at: Debug, or Warn
// when the request failed.
func requestLevel(err error) slog.Level {
	if err != nil {
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

// logs reports whether the Transport logs a request that ended with err.
func (t *Transport) logs(ctx context.Context, err error) bool {
	return t.cfg.logger != nil && t.cfg.logger.Enabled(ctx, requestLevel(err))
}

// logRequest logs ev at its requestLevel; the caller checked with logs that
// the logger takes it.
func (t *Transport) logRequest(ctx context.Context, ev *RequestEvent) {
	level, msg := requestLevel(ev.Err), "request"
	if ev.Err != nil {
		msg = "request failed"
	}
	attrs := make([]slog.Attr, 0, 16)
	attrs = append(attrs,
		slog.String("integration", ev.Integration),
		slog.String("method", ev.Method),
		slog.String("host", ev.Host),
		slog.String("route", ev.Route),
		slog.Int("status", ev.Status),
		slog.Int("attempts", ev.Attempts),
	)
	if ev.Attempts > 0 {
		// A request refused before any attempt (an open breaker, a wait
		// too long) has no outcome: the zero Signal would read "success".
		attrs = append(attrs, slog.String("outcome", ev.Signal.Kind.String()))
	}
	attrs = append(attrs,
		slog.Duration("elapsed", ev.Elapsed),
		slog.Duration("wait", ev.Wait),
		slog.Duration("backoff", ev.Backoff),
		slog.Duration("upstream", ev.Upstream),
		slog.Float64("rate", ev.Snapshot.Rate),
	)
	if ev.Tenant != "" {
		attrs = append(attrs, slog.String("tenant", ev.Tenant))
	}
	if ev.Signal.RetryAfter > 0 {
		attrs = append(attrs, slog.Duration("retry_after", ev.Signal.RetryAfter))
	}
	if ev.Signal.PauseCapped {
		attrs = append(attrs, slog.Bool("pause_capped", true))
	}
	if ev.Err != nil {
		attrs = append(attrs, slog.String("error_kind", ev.ErrKind), slog.String("error", ev.Error()))
	}
	t.cfg.logger.LogAttrs(ctx, level, msg, attrs...)
}

// LogBreakerChanges returns a function for breaker.WithOnStateChange that
// logs each change of a circuit breaker's state with l: opening at Warn,
// half-opening and closing at Info.
func LogBreakerChanges(l *slog.Logger) func(breaker.Change) {
	return func(c breaker.Change) {
		level := slog.LevelInfo
		if c.To == breaker.Open {
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{
			slog.String("breaker", c.Name),
			slog.String("from", c.From.String()),
			slog.String("to", c.To.String()),
		}
		if c.To == breaker.Open {
			attrs = append(attrs, slog.Time("open_until", c.OpenUntil), slog.Int("trips", c.Trips))
		}
		l.LogAttrs(context.Background(), level, "circuit breaker "+c.To.String(), attrs...)
	}
}
