package signal

import "net/http"

// Classifier turns the result of one HTTP round trip into a Signal.
//
// Classify receives what http.RoundTripper.RoundTrip returned: a response
// and a nil error, or a nil response and the transport error. It must not
// consume or close the response body, which belongs to the caller, and must
// be safe for concurrent use.
type Classifier interface {
	Classify(resp *http.Response, err error) Signal
}

// ClassifierFunc adapts a function to the Classifier interface.
type ClassifierFunc func(resp *http.Response, err error) Signal

// Classify calls f(resp, err).
func (f ClassifierFunc) Classify(resp *http.Response, err error) Signal {
	return f(resp, err)
}
