package core

import "strings"

// CompareValues orders two values as eval does: numerically when both are
// numbers (or event text that looks numeric), otherwise as case-sensitive
// text. ok is false when either side is null.
func CompareValues(a, b Value) (c int, ok bool) {
	if a.kind == KindNull || b.kind == KindNull {
		return 0, false
	}
	if a.kind == KindBool && b.kind == KindBool {
		return int(a.num - b.num), true
	}
	// Text is parsed as a number only when the other side may be one too
	// (a string literal never is): most comparisons are of event text
	// against a quoted value.
	if mayBeNumber(a) && mayBeNumber(b) {
		if x, okA := a.Numeric(); okA {
			if y, okB := b.Numeric(); okB {
				switch {
				case x < y:
					return -1, true
				case x > y:
					return 1, true
				}
				return 0, true
			}
		}
	}
	sa, _ := a.Text()
	sb, _ := b.Text()
	return strings.Compare(sa, sb), true
}

// Truthy reports whether v is the Boolean true.
func Truthy(v Value) bool { return v.kind == KindBool && v.num != 0 }

// mayBeNumber is false for a value whose Numeric is certainly false.
func mayBeNumber(v Value) bool {
	return v.kind == KindNumber || v.kind == KindMulti || v.kind == KindString && v.field
}
