// Package fmath holds the float helpers the policy and the simulator share.
package fmath
