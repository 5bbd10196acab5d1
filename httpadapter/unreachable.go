package httpadapter

import (
	"context"
	"errors"
	"net"
)

// ErrUnreachable matches, with errors.Is, the error the Transport returns
// when an attempt never reached the upstream: its host name did not
// resolve, or the connection to it was refused or found no route. Such an
// attempt is not retried and tells the limiter nothing about the
// upstream's capacity; see [Transport]. errors.As finds the cause, a
// *net.DNSError or a *net.OpError.
var ErrUnreachable = errors.New("httpadapter: network error, the request did not reach the upstream")

// unreachableError is the error of an attempt that did not reach the
// upstream: ErrUnreachable's message, then the base transport's.
type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return ErrUnreachable.Error() + ": " + e.err.Error() }

// Unwrap returns the base transport's error.
func (e *unreachableError) Unwrap() error { return e.err }

// Is reports whether target is ErrUnreachable.
func (e *unreachableError) Is(target error) bool {
	return target == ErrUnreachable //nolint:errorlint // a sentinel, compared by identity
}

// unreachable reports whether a base transport's error says the request
// never left this host: a name that did not resolve (a *net.DNSError, a
// resolver's timeout included: the resolver has retried already), or a
// dial that failed for a reason other than a timeout (connection refused,
// no route, network unreachable), also behind a proxy. A dial timeout is
// left out: an upstream too busy to accept connections looks like that.
// The end of a context is not a network failure either.
func unreachable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return true
	}
	var oe *net.OpError
	for errors.As(err, &oe) {
		if oe.Op == "dial" {
			return !oe.Timeout()
		}
		err = oe.Err // "proxyconnect" wraps the dial of the proxy
	}
	return false
}
