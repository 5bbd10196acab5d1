// Package fmath holds the float helpers the hot paths of the bucket, the
// policy and the simulator share.
package fmath
