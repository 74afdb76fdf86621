package sigma

import (
	"strings"
	"unicode/utf8"

	"github.com/t1567001/harness/validate/core"
)

// Case-insensitive string tests without allocating for ASCII text, which
// is what rule values and most event values are: validate/core's, shared
// with the query languages.

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// foldOp applies a comparison case-insensitively to s and lower, the
// rule's value lower-cased: byte-wise where that value is ASCII, through
// Unicode lower-casing where it is not.
func foldOp(op strOp, s, lower string, ascii bool) bool {
	if !ascii {
		return caseOp(op, strings.ToLower(s), lower)
	}
	switch op {
	case opEqual:
		return core.EqualFoldASCII(s, lower)
	case opPrefix:
		return core.HasPrefix(s, lower, true)
	case opSuffix:
		return core.HasSuffix(s, lower, true)
	default:
		return core.Index(s, lower, true) >= 0
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
