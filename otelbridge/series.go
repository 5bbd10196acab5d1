package otelbridge

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// seriesKey identifies the attributes of a metric point of a request.
type seriesKey struct {
	integration, method, host, tenant, result string
}

// maxSeries bounds the cache of attribute sets: beyond it (a host or an
// integration name per request, say) sets are made per point, as the SDK
// would, rather than held forever.
const maxSeries = 4096

// series returns the measurement option of the request series k with
// result (none when empty).
func (b *Bridge) series(k seriesKey, result string) metric.MeasurementOption {
	k.result = result
	return b.cached(k, func() []attribute.KeyValue {
		attrs := make([]attribute.KeyValue, 0, 5)
		attrs = append(attrs,
			IntegrationKey.String(k.integration),
			semconv.HTTPRequestMethodKey.String(k.method),
			semconv.ServerAddress(k.host),
		)
		if k.tenant != "" {
			attrs = append(attrs, TenantKey.String(k.tenant))
		}
		if result != "" {
			attrs = append(attrs, ResultKey.String(result))
		}
		return attrs
	})
}

// limiterKey identifies the attributes of a metric point of a limiter.
type limiterKey struct{ limiter, result string }

// limiterSeries is series for the observer's points.
func (b *Bridge) limiterSeries(limiter, result string) metric.MeasurementOption {
	return b.cached(limiterKey{limiter, result}, func() []attribute.KeyValue {
		attrs := []attribute.KeyValue{LimiterKey.String(limiter)}
		if result != "" {
			attrs = append(attrs, ResultKey.String(result))
		}
		return attrs
	})
}

// cached returns the measurement option of the attributes attrs makes for
// key k. Building an attribute set sorts and copies its attributes; the
// sets of a process are few, so each is built once and kept, up to
// maxSeries of them.
func (b *Bridge) cached(k any, attrs func() []attribute.KeyValue) metric.MeasurementOption {
	if o, ok := b.sets.Load(k); ok {
		return o.(metric.MeasurementOption)
	}
	o := metric.WithAttributeSet(attribute.NewSet(attrs()...))
	if b.nsets.Load() < maxSeries {
		if _, loaded := b.sets.LoadOrStore(k, o); !loaded {
			b.nsets.Add(1)
		}
	}
	return o
}
