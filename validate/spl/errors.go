package spl

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// SyntaxError is a problem in the query text. Line and Column are 1-based;
// Column counts characters, not bytes.
type SyntaxError struct {
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
	fmt.Fprintf(&b, "spl: %d:%d: %s\n  %s\n  ", e.Line, e.Column, e.Msg, e.Source)
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

// syntaxErrorAt builds a SyntaxError for a byte offset into src.
func syntaxErrorAt(src string, off int, format string, args ...any) *SyntaxError {
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
		Line:   line,
		Column: utf8.RuneCountInString(src[start:off]) + 1,
		Msg:    fmt.Sprintf(format, args...),
		Source: strings.TrimRight(src[start:end], "\r"),
	}
}

// position converts a byte offset into a 1-based line and column.
func position(src string, off int) (line, col int) {
	e := syntaxErrorAt(src, off, "")
	return e.Line, e.Column
}

// posTracker converts increasing byte offsets into line and column in time
// linear in the distance moved, so explaining a huge query stays linear.
type posTracker struct {
	src            string
	off, line, col int
}

func newPosTracker(src string) *posTracker { return &posTracker{src: src, line: 1, col: 1} }

func (t *posTracker) at(off int) (line, col int) {
	off = max(0, min(off, len(t.src)))
	if off < t.off {
		t.off, t.line, t.col = 0, 1, 1
	}
	for t.off < off {
		r, n := utf8.DecodeRuneInString(t.src[t.off:])
		if r == '\n' {
			t.line, t.col = t.line+1, 1
		} else {
			t.col++
		}
		t.off += n
	}
	return t.line, t.col
}
