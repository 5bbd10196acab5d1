module github.com/dynlimit/dynlimit/bench

go 1.26.0

require github.com/dynlimit/dynlimit v0.0.0-00010101000000-000000000000

replace github.com/dynlimit/dynlimit => ..

require (
	github.com/dunglas/httpsfv v1.1.2
	github.com/dynlimit/dynlimit/bucket/redisbucket v0.0.0-00010101000000-000000000000
	github.com/dynlimit/dynlimit/otelbridge v0.0.0-00010101000000-000000000000
	github.com/go-redis/redis_rate/v10 v10.0.1
	github.com/google/go-cmp v0.7.0
	github.com/redis/go-redis/v9 v9.23.0
	go.opentelemetry.io/otel/sdk v1.47.0
	go.opentelemetry.io/otel/sdk/metric v1.47.0
	go.opentelemetry.io/otel/trace v1.47.0
	golang.org/x/time v0.15.0
)

require (
	github.com/cenkalti/backoff/v4 v4.3.0 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-logr/logr v1.4.4 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/google/uuid v1.6.0 // indirect
	go.opentelemetry.io/auto/sdk v1.2.1 // indirect
	go.opentelemetry.io/otel v1.47.0 // indirect
	go.opentelemetry.io/otel/log v1.47.0 // indirect
	go.opentelemetry.io/otel/metric v1.47.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

replace (
	github.com/dynlimit/dynlimit/bucket/redisbucket => ../bucket/redisbucket
	github.com/dynlimit/dynlimit/otelbridge => ../otelbridge
)
