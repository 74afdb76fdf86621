package emulator

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
)

// errBadBase64 is content that is not standard base64.
var errBadBase64 = errors.New("content is not valid base64")

// base64Writer decodes standard base64 written to it in pieces of any size
// into dst, accepting what the services accept: padded base64, possibly
// wrapped over lines (CR and LF are skipped anywhere). With trim, spaces
// and tabs around the text are skipped too (as strings.TrimSpace would).
// Invalid input is reported by close; what follows it is read and dropped,
// so that the body around it is still read to its end.
type base64Writer struct {
	dst  io.Writer
	trim bool

	in      []byte // filtered input not yet decoded, up to base64Chunk
	out     []byte // grown to what a chunk decodes to: small bodies stay small
	padded  bool   // a quantum with '=' was decoded: only the end may follow
	started bool   // a base64 character was seen (for trim)
	spaced  bool   // a space followed it (for trim)
	err     error
}

// base64Chunk is how much input is decoded at once (a multiple of 4).
const base64Chunk = 16 << 10

func newBase64Writer(dst io.Writer, trim bool) *base64Writer {
	return &base64Writer{dst: dst, trim: trim}
}

func (b *base64Writer) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && b.err == nil {
		// The run up to the next byte to skip is taken whole.
		i := b.runEnd(p)
		if i > 0 && (b.padded || b.spaced) {
			b.err = errBadBase64
			break
		}
		b.started = b.started || i > 0
		for run := p[:i]; len(run) > 0 && b.err == nil; {
			k := min(len(run), base64Chunk-len(b.in))
			b.in = append(b.in, run[:k]...)
			run = run[k:]
			if len(b.in) == base64Chunk {
				if err := b.flush(); err != nil && !errors.Is(err, errBadBase64) {
					return n - len(p), err
				}
			}
		}
		if i < len(p) && p[i] != '\r' && p[i] != '\n' {
			b.spaced = b.started // a space, with trim
		}
		p = p[min(i+1, len(p)):]
	}
	return n, nil
}

// runEnd is the length of p's leading run of bytes to decode: up to CR,
// LF and, with trim, a space or tab.
func (b *base64Writer) runEnd(p []byte) int {
	var i int
	if b.trim {
		i = bytes.IndexAny(p, "\r\n \t\v\f")
	} else {
		i = bytes.IndexByte(p, '\n')
	}
	if i < 0 {
		i = len(p)
	}
	if j := bytes.IndexByte(p[:i], '\r'); j >= 0 {
		i = j
	}
	return i
}

// flush decodes the buffered quanta; an error of dst is returned, one of
// the input kept in b.err.
func (b *base64Writer) flush() error {
	if len(b.in) == 0 {
		return nil
	}
	if need := base64.StdEncoding.DecodedLen(len(b.in)); cap(b.out) < need {
		b.out = make([]byte, need)
	}
	n, err := base64.StdEncoding.Decode(b.out[:cap(b.out)], b.in)
	if err != nil {
		b.err = errBadBase64
		return b.err
	}
	b.padded = b.in[len(b.in)-1] == '='
	b.in = b.in[:0]
	if _, err := b.dst.Write(b.out[:n]); err != nil {
		b.err = err
		return err
	}
	return nil
}

// close decodes the rest and says whether the whole was valid base64.
func (b *base64Writer) close() error {
	if b.err == nil && len(b.in)%4 != 0 {
		b.err = errBadBase64
	}
	if b.err == nil {
		_ = b.flush()
	}
	return b.err
}
