package spl

import (
	"strings"
)

type tokKind uint8

const (
	tEOF    tokKind = iota
	tWord           // search and list mode: an unquoted term
	tString         // a double-quoted string
	tIdent          // expression mode: a bare field name or keyword
	tQField         // expression mode: a single-quoted field name
	tNumber         // expression mode: a numeric literal
	tOp             // = != == < <= > >= + - * / % .
	tLParen
	tRParen
	tComma
	tPipe
)

func (k tokKind) String() string {
	switch k {
	case tEOF:
		return "end of query"
	case tWord:
		return "word"
	case tString:
		return "string"
	case tIdent:
		return "identifier"
	case tQField:
		return "quoted field name"
	case tNumber:
		return "number"
	case tOp:
		return "operator"
	case tLParen:
		return `"("`
	case tRParen:
		return `")"`
	case tComma:
		return `","`
	case tPipe:
		return `"|"`
	}
	return "token"
}

// token is one lexeme. text is the source slice; val is the value after
// escapes are processed.
type token struct {
	kind     tokKind
	pos, end int
	text     string
	val      string
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of query"
	case tPipe:
		return `"|"`
	}
	return "\"" + t.text + "\""
}

// lexMode selects the lexical rules: SPL has no single token grammar, since a
// search term like C:\x-y.exe is one word while in eval x-y is a subtraction.
type lexMode uint8

const (
	modeSearch lexMode = iota // search terms: commas are part of words
	modeList                  // field lists and IN lists: commas separate
	modeExpr                  // where and eval expressions
)

// scan reads the token starting at or after off in src.
func scan(src string, off int, mode lexMode) (token, error) {
	i, err := skipSpace(src, off)
	if err != nil {
		return token{}, err
	}
	if i >= len(src) {
		return token{kind: tEOF, pos: len(src), end: len(src)}, nil
	}
	c := src[i]
	tok := func(k tokKind, n int) (token, error) {
		return token{kind: k, pos: i, end: i + n, text: src[i : i+n], val: src[i : i+n]}, nil
	}
	switch c {
	case '(':
		return tok(tLParen, 1)
	case ')':
		return tok(tRParen, 1)
	case '|':
		return tok(tPipe, 1)
	case '"':
		return scanQuoted(src, i, '"')
	case '`':
		end := strings.IndexByte(src[i+1:], '`')
		name := src[i+1:]
		if end >= 0 {
			name = src[i+1 : i+1+end]
		}
		return token{}, syntaxErrorAt(src, i, "macros are not supported; expand `%s` first", name)
	}
	if mode == modeExpr {
		return scanExpr(src, i)
	}
	switch c {
	case ',':
		if mode == modeList {
			return tok(tComma, 1)
		}
	case '=':
		if strings.HasPrefix(src[i:], "==") {
			return tok(tOp, 2)
		}
		return tok(tOp, 1)
	case '<', '>':
		if i+1 < len(src) && src[i+1] == '=' {
			return tok(tOp, 2)
		}
		return tok(tOp, 1)
	case '!':
		if i+1 < len(src) && src[i+1] == '=' {
			return tok(tOp, 2)
		}
	}
	return scanWord(src, i, mode)
}

// skipSpace skips white space and SPL comments (```...```).
func skipSpace(src string, i int) (int, error) {
	for i < len(src) {
		switch src[i] {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			i++
			continue
		}
		if strings.HasPrefix(src[i:], "```") {
			end := strings.Index(src[i+3:], "```")
			if end < 0 {
				return 0, syntaxErrorAt(src, i, "unterminated comment")
			}
			i += 3 + end + 3
			continue
		}
		break
	}
	return i, nil
}

func isWordBreak(c byte, mode lexMode) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v', '(', ')', '|', '"', '=', '<', '>', '`':
		return true
	case ',':
		return mode == modeList
	}
	return false
}

// scanWord reads an unquoted search term. A backslash protects the next
// character from ending the word; \\ and \" are unescaped as in quoted
// strings, other escapes are kept verbatim (Windows paths stay intact).
func scanWord(src string, i int, mode lexMode) (token, error) {
	start := i
	escaped := false
	for i < len(src) {
		c := src[i]
		if c == '\\' && i+1 < len(src) {
			escaped = true
			i += 2
			continue
		}
		if isWordBreak(c, mode) || (c == '!' && i+1 < len(src) && src[i+1] == '=') {
			break
		}
		i++
	}
	if i == start {
		return token{}, syntaxErrorAt(src, start, "unexpected %q", src[start:start+1])
	}
	t := token{kind: tWord, pos: start, end: i, text: src[start:i], val: src[start:i]}
	if escaped {
		t.val = unescape(t.text)
	}
	return t, nil
}

// scanQuoted reads a quoted string. SPL reads \\ as one backslash and \" (or
// \' in single quotes) as the quote; any other backslash is kept, which is why
// a regex such as "github\.com" reaches the regex engine unchanged.
func scanQuoted(src string, i int, q byte) (token, error) {
	start := i
	i++
	escaped := false
	for i < len(src) {
		c := src[i]
		if c == '\\' && i+1 < len(src) {
			escaped = true
			i += 2
			continue
		}
		if c == q {
			t := token{kind: tString, pos: start, end: i + 1, text: src[start : i+1], val: src[start+1 : i]}
			if q == '\'' {
				t.kind = tQField
			}
			if escaped {
				t.val = unescape(t.val)
			}
			return t, nil
		}
		i++
	}
	return token{}, syntaxErrorAt(src, start, "unterminated quoted string")
}

func unescape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			switch n := s[i+1]; n {
			case '\\', '"', '\'':
				b.WriteByte(n)
				i++
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

func scanExpr(src string, i int) (token, error) {
	c := src[i]
	tok := func(k tokKind, n int) (token, error) {
		return token{kind: k, pos: i, end: i + n, text: src[i : i+n], val: src[i : i+n]}, nil
	}
	switch {
	case c == '\'':
		return scanQuoted(src, i, '\'')
	case c == ',':
		return tok(tComma, 1)
	case isIdentStart(c):
		j := i + 1
		for j < len(src) && isIdentChar(src[j]) {
			j++
		}
		return tok(tIdent, j-i)
	case c >= '0' && c <= '9':
		j := i
		for j < len(src) && src[j] >= '0' && src[j] <= '9' {
			j++
		}
		if j+1 < len(src) && src[j] == '.' && src[j+1] >= '0' && src[j+1] <= '9' {
			j++
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
		}
		if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
			k := j + 1
			if k < len(src) && (src[k] == '+' || src[k] == '-') {
				k++
			}
			if k < len(src) && src[k] >= '0' && src[k] <= '9' {
				for k < len(src) && src[k] >= '0' && src[k] <= '9' {
					k++
				}
				j = k
			}
		}
		if j < len(src) && isIdentStart(src[j]) {
			return token{}, syntaxErrorAt(src, i, "malformed number %q", src[i:j+1])
		}
		return tok(tNumber, j-i)
	}
	two := ""
	if i+1 < len(src) {
		two = src[i : i+2]
	}
	switch two {
	case "==", "!=", "<=", ">=":
		return tok(tOp, 2)
	}
	switch c {
	case '=', '<', '>', '+', '-', '*', '/', '%', '.':
		return tok(tOp, 1)
	}
	n := 1
	for n < 4 && i+n < len(src) && src[i+n]&0xC0 == 0x80 {
		n++
	}
	return token{}, syntaxErrorAt(src, i, "unexpected character %q", src[i:i+n])
}

// lexAll tokenises src in one mode; the parser switches modes per command,
// this is for tests and fuzzing of the lexer on its own.
func lexAll(src string, mode lexMode) ([]token, error) {
	var toks []token
	off := 0
	for {
		t, err := scan(src, off, mode)
		if err != nil {
			return toks, err
		}
		toks = append(toks, t)
		if t.kind == tEOF {
			return toks, nil
		}
		if t.end <= off {
			return toks, syntaxErrorAt(src, off, "lexer made no progress")
		}
		off = t.end
	}
}
