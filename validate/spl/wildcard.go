package spl

import (
	"strings"
	"unicode/utf8"
)

// wildcard is a compiled search-command pattern: '*' matches any run of
// characters and the rest matches case-insensitively. Patterns are split once
// at parse time so that matching needs no allocation for ASCII patterns, which
// is what detection content uses.
type wildcard struct {
	pattern string   // as written, after unescaping
	segs    []string // the literal parts between stars
	lead    bool     // pattern starts with '*'
	trail   bool     // pattern ends with '*'
	ascii   bool     // pattern is ASCII: byte-wise case folding is exact
	caseSen bool     // match case-sensitively (field names in table/fields)
}

func compileWildcard(p string, caseSensitive bool) wildcard {
	w := wildcard{pattern: p, caseSen: caseSensitive, ascii: true}
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

func (w *wildcard) hasStar() bool { return w.lead || w.trail || strings.Contains(w.pattern, "*") }

// match reports whether s matches the whole pattern.
func (w *wildcard) match(s string) bool {
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
		if !hasPrefix(s, segs[0], fold) {
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
		i := index(s, seg, fold)
		if i < 0 {
			return false
		}
		s = s[i+len(seg):]
	}
	return w.trail || hasSuffix(s, last, fold)
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i] != b[i] && lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func hasPrefix(s, p string, fold bool) bool {
	if len(s) < len(p) {
		return false
	}
	if fold {
		return equalFoldASCII(s[:len(p)], p)
	}
	return s[:len(p)] == p
}

func hasSuffix(s, p string, fold bool) bool {
	if len(s) < len(p) {
		return false
	}
	if fold {
		return equalFoldASCII(s[len(s)-len(p):], p)
	}
	return s[len(s)-len(p):] == p
}

func index(s, sub string, fold bool) int {
	if !fold {
		return strings.Index(s, sub)
	}
	if sub == "" {
		return 0
	}
	c0 := lowerASCII(sub[0])
	c1 := c0
	if c0 >= 'a' && c0 <= 'z' {
		c1 = c0 - ('a' - 'A')
	}
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		if c := s[i]; c != c0 && c != c1 {
			continue
		}
		if equalFoldASCII(s[i:i+n], sub) {
			return i
		}
	}
	return -1
}
