// Package sfv parses the Structured Field Values of RFC 9651 (which
// obsoletes RFC 8941) that the IETF RateLimit and RateLimit-Policy fields
// use: Lists and Dictionaries of items with parameters.
//
// It is written here, not taken from a library, to keep the root module's
// requirements to two modules (cenkalti/backoff and go-cmp): a user who
// imports the core gets no more than that in their module graph
// (.ci/modgraph checks it). It follows the parsing algorithms of RFC 9651
// section 4.2 step by step, fails on what they reject, and is fuzzed
// against github.com/dunglas/httpsfv, the library it replaces, in the
// bench module (bench/sfv_test.go).
package sfv
