// Package jsonstream reads one JSON document from a stream without holding
// its string values: each string is decoded (escapes, UTF-8) into a writer
// the caller picks as it arrives, so a request body of any size is read in
// constant memory. It accepts what encoding/json accepts and decodes strings
// as it does (invalid UTF-8 and lone surrogates become U+FFFD).
package jsonstream

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the kind of a JSON value.
type Kind uint8

// The kinds of JSON value.
const (
	Object Kind = iota + 1
	Array
	String
	Number
	Bool
	Null
)

func (k Kind) String() string {
	switch k {
	case Object:
		return "object"
	case Array:
		return "array"
	case String:
		return "string"
	case Number:
		return "number"
	case Bool:
		return "boolean"
	case Null:
		return "null"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Visit is told of each value in document order, with its path from the
// root (object keys, and array indexes in decimal; the slice is reused, so
// copy what must be kept) and its kind. For a number, true, false or null,
// literal is its text; objects and arrays are announced before their
// members. For a string, the writer returned receives its decoded bytes in
// pieces as they arrive (nil discards them). An error from Visit or from
// the writer ends the walk and is returned, wrapped.
type Visit func(path []string, kind Kind, literal []byte) (io.Writer, error)

// Limits on what Walk holds in memory.
const (
	// MaxDepth is the deepest nesting of objects and arrays.
	MaxDepth = 128
	// MaxKey is the longest object key, in decoded bytes.
	MaxKey = 4096
	// maxLiteral is the longest number.
	maxLiteral = 1024
	// bufferSize is the read buffer, and so the largest piece of a string
	// handed to a writer at once.
	bufferSize = 16 << 10
)

// SyntaxError says where a document stops being JSON (or passes a limit).
type SyntaxError struct {
	Offset int64 // bytes read before the error
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("jsonstream: %s at offset %d", e.Msg, e.Offset)
}

// Walk reads one JSON value from r, then nothing but whitespace to the end
// of r. An error of r (other than an early io.EOF, which is a SyntaxError)
// is returned wrapped.
func Walk(r io.Reader, visit Visit) error {
	w := &walker{br: bufio.NewReaderSize(r, bufferSize), visit: visit}
	if err := w.value(0); err != nil {
		return err
	}
	c, err := w.nonSpace()
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return err
	}
	return w.syntax("invalid character %q after top-level value", c)
}

type walker struct {
	br    *bufio.Reader
	off   int64
	visit Visit
	path  []string
	key   strings.Builder
	lit   []byte
	utf   [utf8.UTFMax]byte
}

func (w *walker) syntax(format string, args ...any) error {
	return &SyntaxError{Offset: w.off, Msg: fmt.Sprintf(format, args...)}
}

// readByte reads one byte; the end of input is returned as io.EOF.
func (w *walker) readByte() (byte, error) {
	c, err := w.br.ReadByte()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return 0, io.EOF
		}
		return 0, fmt.Errorf("jsonstream: reading: %w", err)
	}
	w.off++
	return c, nil
}

// must reads one byte where the document cannot end.
func (w *walker) must() (byte, error) {
	c, err := w.readByte()
	if errors.Is(err, io.EOF) {
		return 0, w.syntax("unexpected end of JSON input")
	}
	return c, err
}

func (w *walker) discard(n int) {
	_, _ = w.br.Discard(n) // n bytes are buffered
	w.off += int64(n)
}

// nonSpace reads the next byte that is not whitespace.
func (w *walker) nonSpace() (byte, error) {
	for {
		c, err := w.readByte()
		if err != nil {
			return 0, err
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c, nil
		}
	}
}

func (w *walker) mustNonSpace() (byte, error) {
	c, err := w.nonSpace()
	if errors.Is(err, io.EOF) {
		return 0, w.syntax("unexpected end of JSON input")
	}
	return c, err
}

func (w *walker) value(depth int) error {
	c, err := w.mustNonSpace()
	if err != nil {
		return err
	}
	switch {
	case c == '{' || c == '[':
		if depth >= MaxDepth {
			return w.syntax("nesting deeper than %d", MaxDepth)
		}
		if c == '{' {
			return w.object(depth)
		}
		return w.array(depth)
	case c == '"':
		dst, err := w.visit(w.path, String, nil)
		if err != nil {
			return fmt.Errorf("jsonstream: %w", err)
		}
		return w.str(dst)
	case c == 't':
		return w.word("true", Bool)
	case c == 'f':
		return w.word("false", Bool)
	case c == 'n':
		return w.word("null", Null)
	case c == '-' || c >= '0' && c <= '9':
		return w.number(c)
	}
	return w.syntax("invalid character %q looking for beginning of value", c)
}

func (w *walker) object(depth int) error {
	if _, err := w.visit(w.path, Object, nil); err != nil {
		return fmt.Errorf("jsonstream: %w", err)
	}
	c, err := w.mustNonSpace()
	if err != nil || c == '}' {
		return err
	}
	for {
		if c != '"' {
			return w.syntax("invalid character %q looking for beginning of object key string", c)
		}
		w.key.Reset()
		if err := w.str(&keyWriter{b: &w.key}); errors.Is(err, errKeyTooLong) {
			return w.syntax("object key longer than %d bytes", MaxKey)
		} else if err != nil {
			return err
		}
		if c, err = w.mustNonSpace(); err != nil {
			return err
		}
		if c != ':' {
			return w.syntax("invalid character %q after object key", c)
		}
		w.path = append(w.path, w.key.String())
		if err := w.value(depth + 1); err != nil {
			return err
		}
		w.path = w.path[:len(w.path)-1]
		if c, err = w.mustNonSpace(); err != nil {
			return err
		}
		switch c {
		case '}':
			return nil
		case ',':
			if c, err = w.mustNonSpace(); err != nil {
				return err
			}
		default:
			return w.syntax("invalid character %q after object key:value pair", c)
		}
	}
}

func (w *walker) array(depth int) error {
	if _, err := w.visit(w.path, Array, nil); err != nil {
		return fmt.Errorf("jsonstream: %w", err)
	}
	if c, err := w.mustNonSpace(); err != nil || c == ']' {
		return err
	}
	_ = w.br.UnreadByte() // the first byte of the first element
	w.off--
	for i := 0; ; i++ {
		w.path = append(w.path, strconv.Itoa(i))
		if err := w.value(depth + 1); err != nil {
			return err
		}
		w.path = w.path[:len(w.path)-1]
		c, err := w.mustNonSpace()
		if err != nil {
			return err
		}
		switch c {
		case ']':
			return nil
		case ',':
		default:
			return w.syntax("invalid character %q after array element", c)
		}
	}
}

// word reads the rest of true, false or null (its first byte is read).
func (w *walker) word(lit string, kind Kind) error {
	for i := 1; i < len(lit); i++ {
		c, err := w.must()
		if err != nil {
			return err
		}
		if c != lit[i] {
			return w.syntax("invalid character %q in literal %s", c, lit)
		}
	}
	if _, err := w.visit(w.path, kind, []byte(lit)); err != nil {
		return fmt.Errorf("jsonstream: %w", err)
	}
	return nil
}

// number reads a number whose first byte is first.
func (w *walker) number(first byte) error {
	w.lit = append(w.lit[:0], first)
	for {
		b, err := w.br.Peek(1)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return fmt.Errorf("jsonstream: reading: %w", err)
		}
		c := b[0]
		if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			break
		}
		if len(w.lit) == maxLiteral {
			return w.syntax("number longer than %d bytes", maxLiteral)
		}
		w.lit = append(w.lit, c)
		w.discard(1)
	}
	if !validNumber(w.lit) {
		return w.syntax("invalid number %q", w.lit)
	}
	if _, err := w.visit(w.path, Number, w.lit); err != nil {
		return fmt.Errorf("jsonstream: %w", err)
	}
	return nil
}

// validNumber is JSON's number grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(s []byte) bool {
	digits := func() bool {
		n := 0
		for len(s) > 0 && s[0] >= '0' && s[0] <= '9' {
			s, n = s[1:], n+1
		}
		return n > 0
	}
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	switch {
	case len(s) > 0 && s[0] == '0':
		s = s[1:]
	case !digits():
		return false
	}
	if len(s) > 0 && s[0] == '.' {
		s = s[1:]
		if !digits() {
			return false
		}
	}
	if len(s) > 0 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
			s = s[1:]
		}
		if !digits() {
			return false
		}
	}
	return len(s) == 0
}

// str decodes a string whose opening quote is read into dst (nil
// discards), handing over runs of plain bytes straight from the buffer.
func (w *walker) str(dst io.Writer) error {
	write := func(p []byte) error {
		if dst == nil {
			return nil
		}
		if _, err := dst.Write(p); err != nil {
			return fmt.Errorf("jsonstream: %w", err)
		}
		return nil
	}
	for {
		if w.br.Buffered() == 0 {
			if _, err := w.br.Peek(1); err != nil {
				if errors.Is(err, io.EOF) {
					return w.syntax("unexpected end of JSON input")
				}
				return fmt.Errorf("jsonstream: reading: %w", err)
			}
		}
		buf, _ := w.br.Peek(w.br.Buffered())
		i := 0
		for i < len(buf) && plain[buf[i]] {
			i++
		}
		if i > 0 {
			if err := write(buf[:i]); err != nil {
				return err
			}
			w.discard(i)
			if i == len(buf) {
				continue
			}
		}
		switch c := buf[i]; {
		case c == '"':
			w.discard(1)
			return nil
		case c == '\\':
			w.discard(1)
			r, err := w.escape()
			if err != nil {
				return err
			}
			if err := write(w.utf[:utf8.EncodeRune(w.utf[:], r)]); err != nil {
				return err
			}
		case c < 0x20:
			return w.syntax("invalid character %q in string literal", c)
		default:
			b, _ := w.br.Peek(utf8.UTFMax) // fewer only at the end of input
			r, n := utf8.DecodeRune(b)
			if r == utf8.RuneError && n == 1 {
				w.discard(1)
				if err := write([]byte(string(utf8.RuneError))); err != nil {
					return err
				}
				continue
			}
			if err := write(b[:n]); err != nil {
				return err
			}
			w.discard(n)
		}
	}
}

// escape reads what follows a backslash and returns the rune it stands
// for, pairing UTF-16 surrogates as encoding/json does.
func (w *walker) escape() (rune, error) {
	c, err := w.must()
	if err != nil {
		return 0, err
	}
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
	default:
		return 0, w.syntax("invalid character %q in string escape code", c)
	}
	r, err := w.hex4()
	if err != nil || !utf16.IsSurrogate(r) {
		return r, err
	}
	// A second \uXXXX completes a high surrogate; anything else leaves
	// U+FFFD and is read on its own.
	if next, _ := w.br.Peek(6); len(next) == 6 && next[0] == '\\' && next[1] == 'u' {
		if r2, ok := parseHex4(next[2:]); ok {
			if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
				w.discard(6)
				return dec, nil
			}
		}
	}
	return utf8.RuneError, nil
}

func (w *walker) hex4() (rune, error) {
	var b [4]byte
	for i := range b {
		c, err := w.must()
		if err != nil {
			return 0, err
		}
		b[i] = c
	}
	r, ok := parseHex4(b[:])
	if !ok {
		return 0, w.syntax("invalid escape \\u%s in string", b[:])
	}
	return r, nil
}

func parseHex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	return r, true
}

// plain marks the bytes a string holds as they are: not the quote, the
// backslash, a control character or part of a multi-byte rune.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// keyWriter holds an object key up to MaxKey bytes.
type keyWriter struct{ b *strings.Builder }

var errKeyTooLong = errors.New("object key too long")

func (k *keyWriter) Write(p []byte) (int, error) {
	if k.b.Len()+len(p) > MaxKey {
		return 0, errKeyTooLong
	}
	return k.b.Write(p)
}
