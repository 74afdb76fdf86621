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
	sa, _ := a.Text()
	sb, _ := b.Text()
	return strings.Compare(sa, sb), true
}

// Truthy reports whether v is the Boolean true.
func Truthy(v Value) bool { return v.kind == KindBool && v.num != 0 }
