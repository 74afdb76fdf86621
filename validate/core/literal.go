package core

import (
	"bytes"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// LiteralMatcher is a fast path for the regular expressions detection
// content uses most: an alternation of literal strings, optionally
// case-insensitive, such as "(?i)(code\.exe|idea64\.exe|pycharm)". Such a
// regex, unanchored, matches exactly when the text contains one of the
// literals, and a substring search is many times faster than Go's
// backtracking matcher.
type LiteralMatcher struct {
	lits [][]byte // lower-cased when fold
	strs []string
	fold bool
}

// maxLiterals bounds the expansion of character classes and alternations.
const maxLiterals = 64

// CompileLiterals returns a LiteralMatcher equivalent to re, or nil when re
// uses anything but literals, alternation, groups and tiny character classes.
func CompileLiterals(re string) *LiteralMatcher {
	tree, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return nil
	}
	foldSeen, exactSeen := false, false
	lits, ok := expandLiterals(tree.Simplify(), &foldSeen, &exactSeen)
	if !ok || (foldSeen && exactSeen) {
		return nil
	}
	m := &LiteralMatcher{fold: foldSeen}
	for _, l := range lits {
		if m.fold {
			for i := 0; i < len(l); i++ {
				if l[i] >= utf8.RuneSelf {
					// Unicode case folding is not byte-wise; keep the regex.
					return nil
				}
			}
			l = strings.ToLower(l)
		}
		m.strs = append(m.strs, l)
		m.lits = append(m.lits, []byte(l))
	}
	return m
}

func expandLiterals(re *syntax.Regexp, foldSeen, exactSeen *bool) ([]string, bool) {
	switch re.Op {
	case syntax.OpEmptyMatch:
		return []string{""}, true
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			*foldSeen = true
		} else {
			for _, r := range re.Rune {
				if r != unicodeSimpleFold(r) {
					*exactSeen = true
					break
				}
			}
		}
		return []string{string(re.Rune)}, true
	case syntax.OpCapture:
		return expandLiterals(re.Sub[0], foldSeen, exactSeen)
	case syntax.OpCharClass:
		var out []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if len(out) >= 4 {
					return nil, false
				}
				if r != unicodeSimpleFold(r) {
					// A class with letters ([a-c], or [Kk] from (?i)) would
					// need case reasoning; leave it to the regex engine.
					return nil, false
				}
				out = append(out, string(r))
			}
		}
		return out, len(out) > 0
	case syntax.OpAlternate:
		var out []string
		for _, s := range re.Sub {
			l, ok := expandLiterals(s, foldSeen, exactSeen)
			if !ok || len(out)+len(l) > maxLiterals {
				return nil, false
			}
			out = append(out, l...)
		}
		return out, true
	case syntax.OpConcat:
		out := []string{""}
		for _, s := range re.Sub {
			l, ok := expandLiterals(s, foldSeen, exactSeen)
			if !ok || len(out)*len(l) > maxLiterals {
				return nil, false
			}
			next := make([]string, 0, len(out)*len(l))
			for _, a := range out {
				for _, b := range l {
					next = append(next, a+b)
				}
			}
			out = next
		}
		return out, true
	}
	return nil, false
}

// unicodeSimpleFold reports r's case partner for ASCII letters, r otherwise:
// enough to tell case-neutral characters (digits, punctuation) from letters.
func unicodeSimpleFold(r rune) rune {
	switch {
	case r >= 'a' && r <= 'z':
		return r - 'a' + 'A'
	case r >= 'A' && r <= 'Z':
		return r - 'A' + 'a'
	case r >= utf8.RuneSelf:
		return -1
	}
	return r
}

// Match reports whether s contains one of the literals.
func (m *LiteralMatcher) Match(s string) bool {
	if !m.fold {
		for _, l := range m.strs {
			if strings.Contains(s, l) {
				return true
			}
		}
		return false
	}
	var buf [512]byte
	if len(s) > len(buf) {
		for _, l := range m.strs {
			if Index(s, l, true) >= 0 {
				return true
			}
		}
		return false
	}
	b := buf[:len(s)]
	for i := 0; i < len(s); i++ {
		b[i] = LowerASCII(s[i])
	}
	for _, l := range m.lits {
		if bytes.Contains(b, l) {
			return true
		}
	}
	return false
}
