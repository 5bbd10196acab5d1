// Package signal describes what one call to an upstream taught the limiter:
// whether it went through, was throttled, found the upstream overloaded or
// failed for a reason that says nothing about capacity; how long the upstream
// asked to be left alone; and what it said about its quota.
//
// A [Signal] is transport-neutral: the limiter and its policies never see an
// HTTP response. A [Classifier] turns a response (or a transport error) into
// a Signal; callers that do not use net/http build Signals themselves.
package signal
