// Package suggest finds the name a mistyped one most likely meant, for the
// "did you mean" of an error message.
package suggest

import "strings"

// Closest returns the name of names nearest to got, compared without case,
// if it is within maxEdits edits (insertions, deletions, substitutions):
// "" otherwise. A got longer than every name by more than maxEdits is no
// typo of any, and is not compared (the distance to a value of megabytes
// would take seconds).
func Closest(got string, names []string, maxEdits int) string {
	longest := 0
	for _, n := range names {
		longest = max(longest, len(n))
	}
	if len(got) > longest+maxEdits {
		return ""
	}
	lower := strings.ToLower(got)
	best, bestD := "", maxEdits+1
	for _, n := range names {
		if d := Distance(lower, strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// Distance is the Levenshtein distance between a and b, in bytes: for
// suggestions, between short names.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
