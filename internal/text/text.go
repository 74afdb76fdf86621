// Package text shortens free text (command lines, explanations) for
// reports and tables.
package text

import "strings"

// OneLine folds every run of white space, newlines included, to one space.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Clip is OneLine cut to at most n runes, ending in "…" when cut; n <= 0
// does not cut.
func Clip(s string, n int) string {
	s = OneLine(s)
	r := []rune(s)
	if n <= 0 || len(r) <= n {
		return s
	}
	return strings.TrimSpace(string(r[:n-1])) + "…"
}
