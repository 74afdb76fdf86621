package replay

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// errShort means the buffered input ends inside the record being read:
// the decoder reads more and starts the record again.
var errShort = errors.New("short buffer")

// window is a sliding buffer over the input. Decoders parse records in
// b[off:] by absolute index; more() keeps b[off:] and appends input.
type window struct {
	r io.Reader
	// fill, when set, stands in for reading r: the parallel JSON reader
	// feeds its windows whole batches of lines (jsonpar.go).
	fill func(*window) bool
	b    []byte
	off  int
	line int // line number of b[off], 1-based
	eof  bool
	err  error // a read error other than io.EOF
}

func newWindow(r io.Reader) *window {
	return &window{r: r, b: make([]byte, 0, 256<<10), line: 1}
}

// more reads more input, moving b[off:] to the front first; it returns
// false when nothing more can be read.
func (w *window) more() bool {
	if w.eof {
		return false
	}
	if w.fill != nil {
		return w.fill(w)
	}
	if w.off > 0 {
		n := copy(w.b, w.b[w.off:])
		w.b = w.b[:n]
		w.off = 0
	}
	if len(w.b) == cap(w.b) {
		if cap(w.b) >= maxRecord {
			w.err = fmt.Errorf("a record is larger than %d MiB", maxRecord>>20)
			w.eof = true
			return false
		}
		nb := make([]byte, len(w.b), 2*cap(w.b))
		copy(nb, w.b)
		w.b = nb
	}
	for {
		n, err := w.r.Read(w.b[len(w.b):cap(w.b)])
		w.b = w.b[:len(w.b)+n]
		if err != nil {
			if !errors.Is(err, io.EOF) {
				w.err = err
			}
			w.eof = true
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
}

// advance consumes up to absolute index i, counting lines.
func (w *window) advance(i int) {
	w.line += bytes.Count(w.b[w.off:i], nl)
	w.off = i
}

// lineAt is the line number of absolute index i (>= off).
func (w *window) lineAt(i int) int { return w.line + bytes.Count(w.b[w.off:i], nl) }

// colAt is the 1-based column (in bytes) of absolute index i.
func (w *window) colAt(i int) int { return i - (bytes.LastIndexByte(w.b[:i], '\n') + 1) + 1 }

var nl = []byte{'\n'}
