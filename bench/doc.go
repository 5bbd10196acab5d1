// Package bench holds the comparative benchmarks of dynlimit against its
// peers, run side by side in one process so that their ratios mean
// something on a noisy machine. It has no non-test code; see
// docs/benchmarks.md for the results and the command that reproduces them.
package bench
