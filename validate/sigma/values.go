package sigma

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/t1567001/harness/validate/core"
)

// A Sigma string value is a sequence of literal text and wildcards. The
// value modifiers transform it; the comparison compiles it once into a
// matcher.

type tokKind uint8

const (
	tokLit  tokKind = iota
	tokStar         // '*': any run of characters
	tokOne          // '?': one character
	tokDash         // windash: one of - / – — ―
)

type token struct {
	kind tokKind
	lit  string
}

type sstring []token

// windashChars are what Windows command lines accept for an option's dash.
const windashChars = "-/\u2013\u2014\u2015"

// parseSString reads a Sigma value: '*' and '?' are wildcards, '\' escapes
// '*', '?' and '\'; any other backslash is literal.
func parseSString(s string) sstring {
	var out sstring
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, token{kind: tokLit, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\') {
				lit.WriteByte(s[i+1])
				i++
			} else {
				lit.WriteByte(c)
			}
		case '*':
			flush()
			out = append(out, token{kind: tokStar})
		case '?':
			flush()
			out = append(out, token{kind: tokOne})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return out
}

func (s sstring) plain() (string, bool) {
	var b strings.Builder
	for _, t := range s {
		if t.kind != tokLit {
			return "", false
		}
		b.WriteString(t.lit)
	}
	return b.String(), true
}

// mapLit applies fn to every literal part.
func (s sstring) mapLit(fn func(string) string) sstring {
	out := make(sstring, len(s))
	for i, t := range s {
		if t.kind == tokLit {
			t.lit = fn(t.lit)
		}
		out[i] = t
	}
	return out
}

func utf16Bytes(s string, big bool) string {
	var b strings.Builder
	for _, u := range utf16.Encode([]rune(s)) {
		lo, hi := byte(u), byte(u>>8)
		if big {
			lo, hi = hi, lo
		}
		b.WriteByte(lo)
		b.WriteByte(hi)
	}
	return b.String()
}

// base64Offsets are the three encodings of s at each offset in a base64
// stream, trimmed to the characters that do not depend on the
// neighbouring bytes (as pySigma's base64offset).
func base64Offsets(s string) []string {
	start := [3]int{0, 2, 3}
	end := [3]int{0, 3, 2}
	var out []string
	for i := 0; i < 3; i++ {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat(" ", i) + s))
		e := len(enc) - end[(len(s)+i)%3]
		if start[i] > e {
			continue
		}
		out = append(out, enc[start[i]:e])
	}
	return out
}

func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// windash turns every '-' or '/' that starts an option (not preceded by a
// word character, followed by one) into any of the dash characters.
func windash(s sstring) sstring {
	var out sstring
	for ti, t := range s {
		if t.kind != tokLit {
			out = append(out, t)
			continue
		}
		var lit strings.Builder
		// A wildcard before the dash counts as a boundary, as in pySigma.
		prevWord := false
		for i, r := range t.lit {
			nextWord := false
			if j := i + utf8.RuneLen(r); j < len(t.lit) {
				n, _ := utf8.DecodeRuneInString(t.lit[j:])
				nextWord = isWordRune(n)
			} else if ti+1 < len(s) {
				nextWord = true
			}
			if (r == '-' || r == '/') && !prevWord && nextWord {
				if lit.Len() > 0 {
					out = append(out, token{kind: tokLit, lit: lit.String()})
					lit.Reset()
				}
				out = append(out, token{kind: tokDash})
			} else {
				lit.WriteRune(r)
			}
			prevWord = isWordRune(r)
		}
		if lit.Len() > 0 {
			out = append(out, token{kind: tokLit, lit: lit.String()})
		}
	}
	return out
}

// expand replaces %name% placeholders by each of their values; '\%' is
// a plain percent sign.
func expand(s sstring, placeholders map[string][]string) ([]sstring, error) {
	out := []sstring{nil}
	add := func(vs ...sstring) {
		var grown []sstring
		for _, o := range out {
			for _, v := range vs {
				grown = append(grown, append(append(sstring{}, o...), v...))
			}
		}
		out = grown
	}
	for _, t := range s {
		if t.kind != tokLit {
			add(sstring{t})
			continue
		}
		lit := t.lit
		var plain strings.Builder
		for len(lit) > 0 {
			switch {
			case strings.HasPrefix(lit, `\%`):
				plain.WriteByte('%')
				lit = lit[2:]
			case lit[0] == '%':
				end := strings.IndexByte(lit[1:], '%')
				if end < 0 {
					plain.WriteString(lit)
					lit = ""
					break
				}
				name := lit[1 : end+1]
				vals, ok := placeholders[name]
				if !ok || len(vals) == 0 {
					return nil, fmt.Errorf("placeholder %%%s%% has no values in the configuration", name)
				}
				add(sstring{{kind: tokLit, lit: plain.String()}})
				plain.Reset()
				// A placeholder's value is a Sigma value: it may hold wildcards.
				alts := make([]sstring, len(vals))
				for i, v := range vals {
					alts[i] = parseSString(v)
				}
				add(alts...)
				if len(out) > maxExpansions {
					return nil, fmt.Errorf("placeholder expansion gives more than %d values", maxExpansions)
				}
				lit = lit[end+2:]
			default:
				plain.WriteByte(lit[0])
				lit = lit[1:]
			}
		}
		add(sstring{{kind: tokLit, lit: plain.String()}})
	}
	return out, nil
}

// strOp is a string comparison a compiled value reduces to.
type strOp uint8

const (
	opEqual strOp = iota
	opPrefix
	opSuffix
	opContains
	opRegexp
	opGlob // '*' and '?' without escapes or windash: core.Glob
	opAny  // '*' alone: any value (present)
)

// strMatcher is one compiled string value.
type strMatcher struct {
	op    strOp
	lit   string // lower-cased unless cased
	ascii bool
	cased bool
	re    *regexp.Regexp
}

func (m *strMatcher) match(s string) bool {
	switch m.op {
	case opAny:
		return true
	case opRegexp:
		return m.re.MatchString(s)
	case opGlob:
		return core.Glob(s, m.lit, '*', '?', !m.cased)
	}
	if m.cased {
		return caseOp(m.op, s, m.lit)
	}
	return foldOp(m.op, s, m.lit, m.ascii)
}

// compileSString reduces a value to a string test: a plain comparison
// where the wildcards allow, else an anchored regular expression.
func compileSString(s sstring, cased bool) (strMatcher, error) {
	// Merge adjacent literals and runs of stars.
	var toks sstring
	for _, t := range s {
		if n := len(toks); n > 0 {
			if t.kind == tokLit && toks[n-1].kind == tokLit {
				toks[n-1].lit += t.lit
				continue
			}
			if t.kind == tokStar && toks[n-1].kind == tokStar {
				continue
			}
		}
		toks = append(toks, t)
	}
	m := strMatcher{cased: cased}
	simple := func(op strOp, lit string) (strMatcher, error) {
		m.op, m.lit = op, lit
		if !cased {
			m.lit = strings.ToLower(lit)
		}
		m.ascii = isASCII(m.lit)
		return m, nil
	}
	star := func(i int) bool { return i >= 0 && i < len(toks) && toks[i].kind == tokStar }
	lit := func(i int) bool { return i >= 0 && i < len(toks) && toks[i].kind == tokLit }
	switch n := len(toks); {
	case n == 0:
		return simple(opEqual, "")
	case n == 1 && star(0):
		m.op = opAny
		return m, nil
	case n == 1 && lit(0):
		return simple(opEqual, toks[0].lit)
	case n == 2 && lit(0) && star(1):
		return simple(opPrefix, toks[0].lit)
	case n == 2 && star(0) && lit(1):
		return simple(opSuffix, toks[1].lit)
	case n == 3 && star(0) && lit(1) && star(2):
		return simple(opContains, toks[1].lit)
	}
	// Wildcards alone, with no literal '*' or '?' to tell apart from them:
	// the shared glob matcher; otherwise a regular expression.
	glob := true
	var g strings.Builder
	for _, t := range toks {
		switch t.kind {
		case tokLit:
			if strings.ContainsAny(t.lit, "*?") {
				glob = false
			}
			g.WriteString(t.lit)
		case tokStar:
			g.WriteByte('*')
		case tokOne:
			g.WriteByte('?')
		default:
			glob = false
		}
	}
	if glob {
		m.op, m.lit = opGlob, g.String()
		return m, nil
	}
	var b strings.Builder
	b.WriteString("(?s")
	if !cased {
		b.WriteString("i")
	}
	b.WriteString(")^")
	for _, t := range toks {
		switch t.kind {
		case tokLit:
			b.WriteString(regexp.QuoteMeta(t.lit))
		case tokStar:
			b.WriteString(".*")
		case tokOne:
			b.WriteString(".")
		case tokDash:
			b.WriteString("[" + regexp.QuoteMeta(windashChars) + "]")
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return m, err
	}
	m.op, m.re = opRegexp, re
	return m, nil
}

// valueKind is what a field's values are compared as.
type valueKind uint8

const (
	vString valueKind = iota
	vNull
	vExists
	vNumber
	vCIDR
	vRegexp
	vFieldref
)

// valueMatcher is one value of a field, compiled: a string value may
// stand for several alternatives (windash, base64offset, expand).
type valueMatcher struct {
	kind   valueKind
	alts   []strMatcher
	exists bool
	numOp  string
	num    float64
	prefix netip.Prefix
	re     *regexp.Regexp
	ref    string // fieldref: the other field
	refOp  strOp
	cased  bool
}

func (v *valueMatcher) match(actual string, present bool, fs fields) bool {
	switch v.kind {
	case vNull:
		return !present || actual == ""
	case vExists:
		return present == v.exists
	}
	if !present {
		return false
	}
	switch v.kind {
	case vString:
		for i := range v.alts {
			if v.alts[i].match(actual) {
				return true
			}
		}
		return false
	case vNumber:
		n, err := strconv.ParseFloat(strings.TrimSpace(actual), 64)
		if err != nil {
			return false
		}
		switch v.numOp {
		case "gt":
			return n > v.num
		case "gte":
			return n >= v.num
		case "lt":
			return n < v.num
		default:
			return n <= v.num
		}
	case vCIDR:
		a, err := netip.ParseAddr(strings.Trim(actual, "[]"))
		return err == nil && v.prefix.Contains(a.Unmap())
	case vRegexp:
		return v.re.MatchString(actual)
	case vFieldref:
		other, ok := fs.get(v.ref)
		if !ok {
			return false
		}
		if v.cased {
			return caseOp(v.refOp, actual, other)
		}
		lower := strings.ToLower(other)
		return foldOp(v.refOp, actual, lower, isASCII(lower))
	}
	return false
}
