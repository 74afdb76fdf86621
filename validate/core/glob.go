package core

import (
	"strings"
	"unicode/utf8"
)

// Glob matches s against the whole pattern p, where many stands for any run
// of characters and one for exactly one character (SQL LIKE: '%' and '_';
// EQL: '*' and '?'). With fold, case is ignored. It is the iterative
// wildcard algorithm: linear backtracking to the last many, so no input can
// make it exponential.
func Glob(s, p string, many, one byte, fold bool) bool {
	// ASCII text folds byte by byte; other text is lower-cased first.
	asciiFold := fold && isASCII(s) && isASCII(p)
	if fold && !asciiFold {
		s, p = strings.ToLower(s), strings.ToLower(p)
	}
	si, pi := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch p[pi] {
			case many:
				star, mark = pi, si
				pi++
				continue
			case one:
				_, n := utf8.DecodeRuneInString(s[si:])
				si += n
				pi++
				continue
			default:
				if p[pi] == s[si] || asciiFold && LowerASCII(p[pi]) == LowerASCII(s[si]) {
					si++
					pi++
					continue
				}
			}
		}
		if star < 0 {
			return false
		}
		pi = star + 1
		_, n := utf8.DecodeRuneInString(s[mark:])
		mark += n
		si = mark
	}
	for pi < len(p) && p[pi] == many {
		pi++
	}
	return pi == len(p)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
