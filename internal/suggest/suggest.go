// Package suggest finds the name a user probably meant (a flag, a config
// key, a strategy), for "did you mean" hints.
package suggest

import "strings"

// Name is the name s probably meant: the only name it begins (cap
// for capacity), else the nearest by spelling when close enough to be a
// typo; "" when there is none.
func Name(s string, names []string) string {
	low := strings.ToLower(s)
	var prefixed []string
	for _, n := range names {
		if low != "" && strings.HasPrefix(n, low) {
			prefixed = append(prefixed, n)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	return Nearest(s, names)
}

// Nearest is the name closest to s by edit distance, when it is close
// enough to be a typo (at most a third of the word, and 2, apart); "" when
// none is.
func Nearest(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(strings.ToLower(s), n); d < bestD && d <= max(1, len(n)/3) {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
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
