package atomics

import (
	"strconv"
	"strings"

	"github.com/t1567001/harness/internal/yamlerr"
)

// ParseError is a problem in an ART file, located precisely enough for an
// author to jump to it: FILE:LINE:COL: FIELD: MSG.
type ParseError struct {
	File   string
	Line   int // 1-based; 0 when unknown
	Column int // 1-based; 0 when unknown
	Field  string
	Msg    string
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		if b.Len() > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Column))
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// syntaxError converts a yaml.v3 parse error of data into a ParseError
// on the line of the mistake.
func syntaxError(file string, data []byte, err error) *ParseError {
	line, msg := yamlerr.Locate(data, err)
	return &ParseError{File: file, Line: line, Msg: msg}
}
