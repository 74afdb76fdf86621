package core

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// TokKind is the kind of a [Token].
type TokKind uint8

// Token kinds of the C-like expression languages (EQL, ES|QL).
const (
	TEOF    TokKind = iota
	TIdent          // a field name or keyword: letters, digits, _ . @; or `quoted`
	TString         // a quoted string, escapes processed
	TNumber         // a decimal number
	TOp             // punctuation and operators
)

// Token is one lexeme: Text is the source slice, Val the value after
// escapes.
type Token struct {
	Kind     TokKind
	Pos, End int
	Text     string
	Val      string
}

// Describe names the token in an error message.
func (t Token) Describe() string {
	if t.Kind == TEOF {
		return "end of query"
	}
	return "\"" + t.Text + "\""
}

// Is reports whether t is the operator or (case-insensitive) keyword s.
func (t Token) Is(s string) bool {
	switch t.Kind {
	case TOp:
		return t.Text == s
	case TIdent:
		return strings.EqualFold(t.Text, s) && !strings.HasPrefix(t.Text, "`")
	}
	return false
}

var ops = []string{"==", "!=", "<=", ">=", "<", ">", ":", "(", ")", "[", "]", ",", "|", "=", "~", "*", "?", "+", "-", "/", "%"}

// Lex splits src into tokens, ending with a TEOF token. Comments (// to the
// end of the line, /* ... */) are skipped. Strings are "..." with the
// escapes \\ \" \n \r \t \u{hex}, or raw: """...""" and ?"...".
func Lex(lang, src string) ([]Token, error) {
	var toks []Token
	i := 0
	for {
		for i < len(src) {
			r, n := utf8.DecodeRuneInString(src[i:])
			switch {
			case unicode.IsSpace(r):
				i += n
				continue
			case strings.HasPrefix(src[i:], "//"):
				j := strings.IndexByte(src[i:], '\n')
				if j < 0 {
					i = len(src)
				} else {
					i += j
				}
				continue
			case strings.HasPrefix(src[i:], "/*"):
				j := strings.Index(src[i+2:], "*/")
				if j < 0 {
					return nil, ErrorAt(lang, src, i, "unterminated comment")
				}
				i += j + 4
				continue
			}
			break
		}
		if i >= len(src) {
			return append(toks, Token{Kind: TEOF, Pos: len(src), End: len(src)}), nil
		}
		start := i
		c := src[i]
		switch {
		case strings.HasPrefix(src[i:], `"""`):
			j := strings.Index(src[i+3:], `"""`)
			if j < 0 {
				return nil, ErrorAt(lang, src, i, "unterminated string")
			}
			i += j + 6
			toks = append(toks, Token{Kind: TString, Pos: start, End: i, Text: src[start:i], Val: src[start+3 : i-3]})
		case c == '?' && i+1 < len(src) && src[i+1] == '"':
			j := strings.IndexByte(src[i+2:], '"')
			if j < 0 {
				return nil, ErrorAt(lang, src, i, "unterminated string")
			}
			i += j + 3
			toks = append(toks, Token{Kind: TString, Pos: start, End: i, Text: src[start:i], Val: src[start+2 : i-1]})
		case c == '"':
			val, end, err := unquote(lang, src, i)
			if err != nil {
				return nil, err
			}
			i = end
			toks = append(toks, Token{Kind: TString, Pos: start, End: i, Text: src[start:i], Val: val})
		case c == '`':
			j := strings.IndexByte(src[i+1:], '`')
			if j < 0 {
				return nil, ErrorAt(lang, src, i, "unterminated quoted identifier")
			}
			i += j + 2
			toks = append(toks, Token{Kind: TIdent, Pos: start, End: i, Text: src[start:i], Val: src[start+1 : i-1]})
		case c >= '0' && c <= '9':
			for i < len(src) && (src[i] >= '0' && src[i] <= '9' || src[i] == '.') {
				i++
			}
			toks = append(toks, Token{Kind: TNumber, Pos: start, End: i, Text: src[start:i], Val: src[start:i]})
		case isIdentStart(c):
			for i < len(src) && isIdentPart(src[i]) {
				i++
			}
			toks = append(toks, Token{Kind: TIdent, Pos: start, End: i, Text: src[start:i], Val: src[start:i]})
		default:
			op := ""
			for _, o := range ops {
				if strings.HasPrefix(src[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return nil, ErrorAt(lang, src, i, "unexpected %q", src[i:i+utf8RuneLen(src[i:])])
			}
			i += len(op)
			toks = append(toks, Token{Kind: TOp, Pos: start, End: i, Text: op, Val: op})
		}
	}
}

func utf8RuneLen(s string) int {
	_, n := utf8.DecodeRuneInString(s)
	return n
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '@' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf
}

func isIdentPart(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9' || c == '.'
}

func unquote(lang, src string, i int) (string, int, error) {
	var b strings.Builder
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '"':
			return b.String(), j + 1, nil
		case '\n':
			return "", 0, ErrorAt(lang, src, i, "unterminated string")
		case '\\':
			if j+1 >= len(src) {
				return "", 0, ErrorAt(lang, src, i, "unterminated string")
			}
			j++
			switch src[j] {
			case '\\', '"', '\'':
				b.WriteByte(src[j])
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			default:
				return "", 0, ErrorAt(lang, src, j-1, "unknown escape \\%c", src[j])
			}
		default:
			b.WriteByte(src[j])
		}
	}
	return "", 0, ErrorAt(lang, src, i, "unterminated string")
}
