package replay

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// xtext is character data: a raw range of the buffer that needs no
// decoding (the common case, turned into a substring of the record's
// string without a copy), or a decoded string.
type xtext struct {
	off, end int
	s        string
	dec      bool
	// arena: off and end index the record's arena of decoded text
	// (the JSON reader's), turned into one string with the record.
	arena bool
}

// xmlSyntaxError is malformed XML at a buffer index.
type xmlSyntaxError struct {
	at  int
	msg string
}

func (e *xmlSyntaxError) Error() string { return e.msg }

func synErr(at int, format string, args ...any) error {
	return &xmlSyntaxError{at: at, msg: fmt.Sprintf(format, args...)}
}

// isInCharacterRange is XML 1.0's Char production, as encoding/xml checks it.
func isInCharacterRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// textMode says where character data stands.
type textMode uint8

const (
	modeText  textMode = iota // element content: entities; "]]>" is an error
	modeCDATA                 // a CDATA section: taken as it is
	modeAttr                  // an attribute value: entities
)

// decodeText validates b[off:end] as character data and decodes it as
// encoding/xml does: the five predefined entities and character
// references, CR LF and lone CR as LF. Text that needs none of this comes
// back as a range, not a copy.
func decodeText(b []byte, off, end int, mode textMode, tmp *[]byte) (xtext, error) {
	for j := off; j < end; j++ {
		c := b[j]
		if c >= 0x20 && c < utf8.RuneSelf {
			if c == '&' || c == ']' {
				return slowText(b, off, end, mode, tmp)
			}
			continue
		}
		if c == '\n' || c == '\t' {
			continue
		}
		return slowText(b, off, end, mode, tmp)
	}
	return xtext{off: off, end: end}, nil
}

var xmlEntity = map[string]string{"lt": "<", "gt": ">", "amp": "&", "apos": "'", "quot": `"`}

func slowText(b []byte, off, end int, mode textMode, tmp *[]byte) (xtext, error) {
	out := (*tmp)[:0]
	changed := false
	for j := off; j < end; {
		c := b[j]
		switch {
		case c == ']' && mode == modeText && j+2 < end && b[j+1] == ']' && b[j+2] == '>':
			return xtext{}, synErr(j, "unescaped ]]> not in CDATA section")
		case c == '&' && mode != modeCDATA:
			s, n, err := entityAt(b, j, end)
			if err != nil {
				return xtext{}, err
			}
			out = append(out, s...)
			j += n
			changed = true
			continue
		case c == '\r':
			out = append(out, '\n')
			if j+1 < end && b[j+1] == '\n' {
				j++
			}
			j++
			changed = true
			continue
		}
		out = append(out, c)
		j++
	}
	data := out
	if !changed {
		data = b[off:end]
	}
	for k := 0; k < len(data); {
		c := data[k]
		if c >= 0x20 && c < utf8.RuneSelf || c == '\n' || c == '\t' || c == '\r' {
			k++
			continue
		}
		r, size := utf8.DecodeRune(data[k:])
		if r == utf8.RuneError && size == 1 {
			return xtext{}, synErr(off+k, "invalid UTF-8")
		}
		if !isInCharacterRange(r) {
			return xtext{}, synErr(off+k, "illegal character code %U", r)
		}
		k += size
	}
	*tmp = out
	if !changed {
		return xtext{off: off, end: end}, nil
	}
	return xtext{s: string(out), dec: true}, nil
}

// entityAt decodes the entity or character reference at b[j] ('&').
func entityAt(b []byte, j, end int) (string, int, error) {
	k := j + 1
	if k < end && b[k] == '#' {
		k++
		base := 10
		if k < end && b[k] == 'x' {
			base = 16
			k++
		}
		start := k
		for k < end && (b[k] >= '0' && b[k] <= '9' || base == 16 && (b[k] >= 'a' && b[k] <= 'f' || b[k] >= 'A' && b[k] <= 'F')) {
			k++
		}
		if k < end && b[k] == ';' {
			n, err := strconv.ParseUint(string(b[start:k]), base, 64)
			if err == nil && n <= unicode.MaxRune {
				return string(rune(n)), k + 1 - j, nil
			}
			return "", 0, synErr(j, "invalid character entity %s", b[j:k+1])
		}
		return "", 0, synErr(j, "invalid character entity %s (no semicolon)", b[j:k])
	}
	start := k
	for k < end && (b[k] >= utf8.RuneSelf || isNameByte(b[k])) {
		k++
	}
	if k < end && b[k] == ';' {
		if s, ok := xmlEntity[string(b[start:k])]; ok {
			return s, k + 1 - j, nil
		}
		return "", 0, synErr(j, "invalid character entity %s", b[j:k+1])
	}
	return "", 0, synErr(j, "invalid character entity %s (no semicolon)", b[j:k])
}

func isNameByte(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' ||
		'0' <= c && c <= '9' || c == '_' || c == ':' || c == '.' || c == '-'
}

// isName reports whether s is an XML name (encoding/xml's check, with
// Unicode letters standing in for its tables beyond ASCII).
func isName(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if i == 0 && !(c == '_' || c == ':' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
				return false
			}
			if !isNameByte(c) {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n == 1 {
			return false
		}
		if !unicode.IsLetter(r) && (i == 0 || !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r) && !unicode.Is(unicode.Mc, r) && r != 0xB7) {
			return false
		}
		i += n
	}
	return true
}

// localName is the part of a raw name encoding/xml keeps as Name.Local.
func localName(name []byte) []byte {
	for i, c := range name {
		if c == ':' {
			if i < 1 || i > len(name)-2 {
				return name
			}
			return name[i+1:]
		}
	}
	return name
}
