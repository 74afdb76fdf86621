package core

import (
	"slices"
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
	if len(segs) == 1 && !w.lead && !w.trail {
		// A value without a star, most of what rules compare: the length
		// decides most comparisons.
		return len(s) == len(segs[0]) && (s == segs[0] || fold && EqualFoldASCII(s, segs[0]))
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
	if a == b {
		return true // most text has the case the rule wrote
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

// WildcardSet matches text against any of several patterns (a field IN
// list, OR'ed field=value terms). Case-insensitive ASCII patterns of the
// shapes rules use, an exact value, "x*", "*x" and "*x*", are compared
// inline by shape, the length deciding most comparisons; the rest go
// through Wildcard.Match.
type WildcardSet struct {
	// Lower-cased, but exact values also as written: text in the rule's
	// case is one vector compare.
	exact, exactAsIs, prefix, suffix, contains []string
	other                                      []Wildcard
	// exactLens has bit n set when an exact value is n bytes long (bit
	// 63: 63 or more), so that text of no such length skips them all.
	exactLens uint64
	// starts marks the bytes, in either case, that begin a contains
	// pattern: the text is scanned once for all of them, trying patterns
	// only where one may begin.
	starts *[256]bool
	// sep, when not 0, begins every suffix pattern and occurs nowhere
	// else in them (a path's "\\git.exe"): text can end with one only
	// from its last sep on, so that tail alone is compared, with the
	// patterns of its length (suffixLens, as exactLens).
	sep        byte
	suffixLens uint64
}

// NewWildcardSet groups the patterns by shape; the order of a set's
// patterns does not change what it matches.
func NewWildcardSet(pats []Wildcard) WildcardSet {
	var s WildcardSet
	for _, w := range pats {
		if w.caseSen || !w.ascii || len(w.segs) != 1 {
			s.other = append(s.other, w)
			continue
		}
		seg := strings.ToLower(w.segs[0]) // ASCII: the bytes keep their places
		// A pattern given twice (a hoisted test gathers every branch's
		// value: EventCode 1, 3, 1) is compared once.
		switch {
		case !w.lead && !w.trail:
			if !slices.Contains(s.exact, seg) {
				s.exact = append(s.exact, seg)
				s.exactAsIs = append(s.exactAsIs, w.segs[0])
				s.exactLens |= lenBit(len(seg))
			}
		case !w.lead:
			s.prefix = appendNew(s.prefix, seg)
		case !w.trail:
			s.suffix = appendNew(s.suffix, seg)
		default:
			s.contains = appendNew(s.contains, seg)
		}
	}
	s.sep = commonSep(s.suffix)
	for _, p := range s.suffix {
		s.suffixLens |= lenBit(len(p))
	}
	if len(s.contains) > 1 {
		s.starts = new([256]bool)
		for _, p := range s.contains {
			c := p[0]
			s.starts[c] = true
			if c >= 'a' && c <= 'z' {
				s.starts[c-('a'-'A')] = true
			}
		}
	}
	return s
}

func lenBit(n int) uint64 { return 1 << min(n, 63) }

// commonSep returns the byte, not a letter, that begins each of several
// suffixes and occurs nowhere else in them, or 0.
func commonSep(suffixes []string) byte {
	if len(suffixes) < 2 {
		return 0
	}
	c := suffixes[0][0]
	if c == 0 || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		return 0
	}
	for _, p := range suffixes {
		if p[0] != c || strings.IndexByte(p[1:], c) >= 0 {
			return 0
		}
	}
	return c
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// Match reports whether s matches one of the patterns.
func (s *WildcardSet) Match(v string) bool {
	if s.exactLens&lenBit(len(v)) != 0 {
		for i, p := range s.exact {
			if len(p) == len(v) && (v == s.exactAsIs[i] || equalFoldLower(v, p)) {
				return true
			}
		}
	}
	if s.sep != 0 {
		if i := strings.LastIndexByte(v, s.sep); i >= 0 && s.suffixLens&lenBit(len(v)-i) != 0 {
			tail := v[i:]
			for _, p := range s.suffix {
				if len(p) == len(tail) && equalFoldLower(tail, p) {
					return true
				}
			}
		}
	} else {
		for _, p := range s.suffix {
			if len(p) <= len(v) && equalFoldLower(v[len(v)-len(p):], p) {
				return true
			}
		}
	}
	for _, p := range s.prefix {
		if len(p) <= len(v) && equalFoldLower(v[:len(p)], p) {
			return true
		}
	}
	if s.starts != nil {
		if s.containsAny(v) {
			return true
		}
	} else {
		for _, p := range s.contains {
			if Index(v, p, true) >= 0 {
				return true
			}
		}
	}
	for i := range s.other {
		if s.other[i].Match(v) {
			return true
		}
	}
	return false
}

// containsAny reports whether v contains one of the contains patterns, in
// one pass over v.
func (s *WildcardSet) containsAny(v string) bool {
	for i := 0; i < len(v); i++ {
		if !s.starts[v[i]] {
			continue
		}
		rest, c := v[i:], LowerASCII(v[i])
		for _, p := range s.contains {
			if p[0] == c && len(p) <= len(rest) && equalFoldLower(rest[:len(p)], p) {
				return true
			}
		}
	}
	return false
}

// equalFoldLower is EqualFoldASCII for a lower-cased p of s's length.
func equalFoldLower(s, p string) bool {
	for i := 0; i < len(p); i++ {
		if c := s[i]; c != p[i] && (c < 'A' || c > 'Z' || c+'a'-'A' != p[i]) {
			return false
		}
	}
	return true
}
