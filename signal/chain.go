package signal

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
)

// Rule is one provider-specific case of a classification: it decides the
// responses it recognizes and reports ok false for the rest. Rules are
// combined with [Chain]; like a Classifier, a Rule must be safe for
// concurrent use and must leave the body readable (see [PeekBody]).
type Rule interface {
	Decide(resp *http.Response, err error) (s Signal, ok bool)
}

// RuleFunc adapts a function to the Rule interface.
type RuleFunc func(resp *http.Response, err error) (Signal, bool)

// Decide calls f(resp, err).
func (f RuleFunc) Decide(resp *http.Response, err error) (Signal, bool) {
	return f(resp, err)
}

// Chain returns a Classifier that asks each rule in order and returns the
// signal of the first that decides, or else what fallback says. A nil
// fallback means HTTP{}. Rules are usually exceptions to the fallback (a
// 403 that is really a rate limit), so the fallback is written first.
func Chain(fallback Classifier, rules ...Rule) Classifier {
	if fallback == nil {
		fallback = HTTP{}
	}
	return chain{fallback: fallback, rules: slices.Clone(rules)}
}

type chain struct {
	fallback Classifier
	rules    []Rule
}

func (c chain) Classify(resp *http.Response, err error) Signal {
	for _, r := range c.rules {
		if s, ok := r.Decide(resp, err); ok {
			return s
		}
	}
	return c.fallback.Classify(resp, err)
}

// PeekBody returns up to the first n bytes of resp's body without consuming
// them: resp.Body is replaced by a reader that yields those bytes and then
// the rest of the original body, and whose Close closes the original. A rule
// can so look for an error code in the body while the caller still reads
// the whole of it.
//
// A nil body, http.NoBody or an n of 0 or less gives nil and a nil error,
// leaving resp untouched. A read error is returned with the bytes read
// before it; those bytes are put back all the same, and reading the body
// carries on from the original after them.
func PeekBody(resp *http.Response, n int) ([]byte, error) {
	if resp == nil || resp.Body == nil || resp.Body == http.NoBody || n <= 0 {
		return nil, nil
	}
	orig := resp.Body
	var buf bytes.Buffer
	// CopyN grows the buffer as data arrives, so a large n costs nothing on
	// a short body.
	_, err := io.CopyN(&buf, orig, int64(n))
	if errors.Is(err, io.EOF) {
		err = nil
	}
	peeked := buf.Bytes()
	resp.Body = &peekedBody{
		// A copy, so that a rule scribbling on what it peeked cannot change
		// what the caller reads.
		Reader: io.MultiReader(bytes.NewReader(bytes.Clone(peeked)), orig),
		orig:   orig,
	}
	return peeked, err
}

type peekedBody struct {
	io.Reader
	orig io.ReadCloser
}

func (b *peekedBody) Close() error { return b.orig.Close() }
