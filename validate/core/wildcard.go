package core

import (
	"strings"
	"unicode/utf8"
)

// Wildcard is a compiled search-command pattern: '*' matches any run of
// characters and the rest matches case-insensitively. Patterns are split once
// at parse time so that matching needs no allocation for ASCII patterns, which
// is what detection content uses.
type Wildcard struct {
	Pattern string   // as written, after unescaping
	segs    []string // the literal parts between stars
	lead    bool     // pattern starts with '*'
	trail   bool     // pattern ends with '*'
	ascii   bool     // pattern is ASCII: byte-wise case folding is exact
	caseSen bool     // match case-sensitively (field names in table/fields)
}

// CompileWildcard compiles p; caseSensitive keeps case (field names).
func CompileWildcard(p string, caseSensitive bool) Wildcard {
	w := Wildcard{Pattern: p, caseSen: caseSensitive, ascii: true}
	for i := 0; i < len(p); i++ {
		if p[i] >= utf8.RuneSelf {
			w.ascii = false
			break
		}
	}
	if !w.ascii && !caseSensitive {
		// Unicode case folding can change byte lengths, so non-ASCII patterns
		// compare lower-cased text (allocating) instead.
		p = strings.ToLower(p)
	}
	w.lead = strings.HasPrefix(p, "*")
	w.trail = strings.HasSuffix(p, "*") && len(p) > 0
	for _, s := range strings.Split(p, "*") {
		if s != "" {
			w.segs = append(w.segs, s)
		}
	}
	return w
}

// HasStar reports whether the pattern has a wildcard.
func (w *Wildcard) HasStar() bool { return w.lead || w.trail || strings.Contains(w.Pattern, "*") }

// Match reports whether s matches the whole pattern.
func (w *Wildcard) Match(s string) bool {
	fold := !w.caseSen
	if fold && !w.ascii {
		s = strings.ToLower(s)
		fold = false
	}
	segs := w.segs
	if len(segs) == 0 {
		// "" matches only the empty value; "*" (or "**") anything.
		return w.lead || s == ""
	}
	if !w.lead {
		if !HasPrefix(s, segs[0], fold) {
			return false
		}
		if len(segs) == 1 && !w.trail {
			return len(s) == len(segs[0])
		}
		s = s[len(segs[0]):]
		segs = segs[1:]
	}
	last := ""
	if !w.trail {
		last = segs[len(segs)-1]
		segs = segs[:len(segs)-1]
	}
	for _, seg := range segs {
		i := Index(s, seg, fold)
		if i < 0 {
			return false
		}
		s = s[i+len(seg):]
	}
	return w.trail || HasSuffix(s, last, fold)
}

// LowerASCII lower-cases an ASCII letter.
func LowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// EqualFoldASCII compares ASCII text case-insensitively.
func EqualFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i] != b[i] && LowerASCII(a[i]) != LowerASCII(b[i]) {
			return false
		}
	}
	return true
}

// HasPrefix reports whether s starts with p, folding ASCII case when fold.
func HasPrefix(s, p string, fold bool) bool {
	if len(s) < len(p) {
		return false
	}
	if fold {
		return EqualFoldASCII(s[:len(p)], p)
	}
	return s[:len(p)] == p
}

// HasSuffix reports whether s ends with p, folding ASCII case when fold.
func HasSuffix(s, p string, fold bool) bool {
	if len(s) < len(p) {
		return false
	}
	if fold {
		return EqualFoldASCII(s[len(s)-len(p):], p)
	}
	return s[len(s)-len(p):] == p
}

// Index is strings.Index, folding ASCII case when fold.
func Index(s, sub string, fold bool) int {
	if !fold {
		return strings.Index(s, sub)
	}
	if sub == "" {
		return 0
	}
	c0 := LowerASCII(sub[0])
	c1 := c0
	if c0 >= 'a' && c0 <= 'z' {
		c1 = c0 - ('a' - 'A')
	}
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		if c := s[i]; c != c0 && c != c1 {
			continue
		}
		if EqualFoldASCII(s[i:i+n], sub) {
			return i
		}
	}
	return -1
}
