module github.com/dynlimit/dynlimit

go 1.25.0

require (
	github.com/google/go-cmp v0.7.0
	golang.org/x/time v0.15.0
)
