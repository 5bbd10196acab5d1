// Package textcut cuts the text an error message quotes from an input, which
// may hold megabytes, to a length a line holds, without splitting a UTF-8
// sequence. The policy's and the integrations' loaders share it.
package textcut
