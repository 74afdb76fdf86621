package core

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// SyntaxError is a problem in the query text. Line and Column are 1-based;
// Column counts characters, not bytes.
type SyntaxError struct {
	// Lang is the query language (spl, eql, kql, esql), the message prefix.
	Lang   string
	Line   int
	Column int
	Msg    string
	// Source is the query line the error is on, shown under the message.
	Source string
}

// Error shows the message, the offending line and a caret under the column,
// so that a detection engineer can find the mistake in a long query.
func (e *SyntaxError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d:%d: %s\n  %s\n  ", e.Lang, e.Line, e.Column, e.Msg, e.Source)
	col := 1
	for _, r := range e.Source {
		if col >= e.Column {
			break
		}
		// Keep tabs so that the caret lines up however the terminal expands them.
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
		col++
	}
	for ; col < e.Column; col++ {
		b.WriteByte(' ')
	}
	b.WriteByte('^')
	return b.String()
}

// ErrorAt builds a SyntaxError in language lang for a byte offset into src.
func ErrorAt(lang, src string, off int, format string, args ...any) *SyntaxError {
	if off < 0 {
		off = 0
	}
	if off > len(src) {
		off = len(src)
	}
	line := 1 + strings.Count(src[:off], "\n")
	start := strings.LastIndexByte(src[:off], '\n') + 1
	end := strings.IndexByte(src[off:], '\n')
	if end < 0 {
		end = len(src)
	} else {
		end += off
	}
	return &SyntaxError{
		Lang:   lang,
		Line:   line,
		Column: utf8.RuneCountInString(src[start:off]) + 1,
		Msg:    fmt.Sprintf(format, args...),
		Source: strings.TrimRight(src[start:end], "\r"),
	}
}
