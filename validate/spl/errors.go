package spl

import (
	"unicode/utf8"

	"github.com/t1567001/harness/validate/core"
)

// SyntaxError is a problem in the query text (see [core.SyntaxError]).
type SyntaxError = core.SyntaxError

func syntaxErrorAt(src string, off int, format string, args ...any) *SyntaxError {
	return core.ErrorAt("spl", src, off, format, args...)
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
