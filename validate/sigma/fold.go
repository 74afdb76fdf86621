package sigma

import (
	"strings"
	"unicode/utf8"
)

// Case-insensitive string tests without allocating for ASCII text, which
// is what rule values and most event values are. The SPL engine has the
// same need (validate/spl/wildcard.go); a shared home for both is the
// planned validate/core package.

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFoldLower compares s to lower, which is already lower-case ASCII.
func equalFoldLower(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != lower[i] && lowerASCII(c) != lower[i] {
			return false
		}
	}
	return true
}

func hasPrefixFold(s, lower string) bool {
	return len(s) >= len(lower) && equalFoldLower(s[:len(lower)], lower)
}

func hasSuffixFold(s, lower string) bool {
	return len(s) >= len(lower) && equalFoldLower(s[len(s)-len(lower):], lower)
}

func containsFold(s, lower string) bool {
	n := len(lower)
	if n == 0 {
		return true
	}
	c0 := lower[0]
	c1 := c0
	if c0 >= 'a' && c0 <= 'z' {
		c1 = c0 - ('a' - 'A')
	}
	for i := 0; i+n <= len(s); i++ {
		if c := s[i]; c != c0 && c != c1 {
			continue
		}
		if equalFoldLower(s[i:i+n], lower) {
			return true
		}
	}
	return false
}

// foldOp applies a comparison case-insensitively: byte-wise where the
// rule's value is ASCII, through Unicode lower-casing where it is not.
func foldOp(op strOp, s, lower string, ascii bool) bool {
	if !ascii {
		s = strings.ToLower(s)
		switch op {
		case opEqual:
			return s == lower
		case opPrefix:
			return strings.HasPrefix(s, lower)
		case opSuffix:
			return strings.HasSuffix(s, lower)
		default:
			return strings.Contains(s, lower)
		}
	}
	switch op {
	case opEqual:
		return equalFoldLower(s, lower)
	case opPrefix:
		return hasPrefixFold(s, lower)
	case opSuffix:
		return hasSuffixFold(s, lower)
	default:
		return containsFold(s, lower)
	}
}

func caseOp(op strOp, s, v string) bool {
	switch op {
	case opEqual:
		return s == v
	case opPrefix:
		return strings.HasPrefix(s, v)
	case opSuffix:
		return strings.HasSuffix(s, v)
	default:
		return strings.Contains(s, v)
	}
}
