// Package replay reads recorded Windows telemetry as a stream of events:
// Windows Event XML (an <Events> document or bare <Event> elements), EVTX,
// JSON lines in the flat Sysmon shape, the Winlogbeat/ECS shape and the
// OTRF Security-Datasets shape, evtx_dump's concatenated JSON objects, and
// gzip of any of them. The format is detected from the content.
//
// A Reader holds one record at a time, so a file of any size is read in
// constant memory. A record it cannot read is reported with the file and
// line and skipped, or ends the read in strict mode; the whole file is never
// dropped silently. Merge reads several Readers as one stream in time
// order, holding one event per Reader. The package imports only the event
// model, so the detection engines and the CLI can replay files without the
// emulator.
package replay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"runtime"

	"github.com/t1567001/harness/event"
)

// Format is a recorded-telemetry format the Reader recognises.
type Format string

// The formats Open detects.
const (
	// FormatXML is Windows Event XML.
	FormatXML Format = "xml"
	// FormatJSON is JSON objects: one per line (flat Sysmon, Winlogbeat,
	// OTRF) or concatenated and pretty-printed (evtx_dump), or an array.
	FormatJSON Format = "json"
	// FormatEVTX is a Windows event log file.
	FormatEVTX Format = "evtx"
	// FormatEmpty is input with nothing but whitespace.
	FormatEmpty Format = "empty"
)

// maxRecord bounds one record (an <Event> element or a JSON object): a
// file without record boundaries must not grow the buffer without limit.
const maxRecord = 64 << 20

// RecordError is one record the reader could not read.
type RecordError struct {
	File string
	// Line and Column locate the error (Column 0 where unknown).
	Line, Column int
	// Record is the 1-based number of the record being read, 0 if none.
	Record int
	Err    error
}

func (e *RecordError) Error() string {
	pos := fmt.Sprintf("%s:%d", e.File, e.Line)
	if e.Column > 0 {
		pos += fmt.Sprintf(":%d", e.Column)
	}
	if e.Record > 0 {
		return fmt.Sprintf("%s: event %d: %v", pos, e.Record, e.Err)
	}
	return fmt.Sprintf("%s: %v", pos, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// Stats summarises one file's read.
type Stats struct {
	File   string `json:"file"`
	Format Format `json:"format"`
	// Gzip is true when the file was gzip-compressed.
	Gzip bool `json:"gzip,omitempty"`
	// Events is how many events were read; Skipped how many records
	// could not be (each reported through OnSkip).
	Events  int `json:"events"`
	Skipped int `json:"skipped"`
}

func (s Stats) String() string {
	f := string(s.Format)
	if s.Gzip {
		f += ", gzip"
	}
	return fmt.Sprintf("%s: %d event(s) read, %d skipped (%s)", s.File, s.Events, s.Skipped, f)
}

// Option tunes a Reader.
type Option func(*Reader)

// Strict makes a record the reader cannot read end the read with its
// error, instead of being skipped.
func Strict(on bool) Option { return func(r *Reader) { r.strict = on } }

// OnSkip is called with each record skipped (not in strict mode); by
// default skips are only counted.
func OnSkip(f func(*RecordError)) Option { return func(r *Reader) { r.onSkip = f } }

// Context makes the read end with ctx's error once ctx is done.
func Context(ctx context.Context) Option { return func(r *Reader) { r.ctx = ctx } }

// Workers sets how many goroutines read JSON lines (GOMAXPROCS by
// default; 1 reads in the caller's goroutine). Other formats, and JSON
// that is not one object per line, are read in the caller's goroutine.
func Workers(n int) Option { return func(r *Reader) { r.workers = n } }

// defaultBatch is how many bytes of JSON lines a worker reads at a time:
// large enough that handing batches over costs little, small enough that
// the batches in flight (and the events read from them) stay a few MiB.
const defaultBatch = 256 << 10

// decoder reads records of one format. next returns a *RecordError for a
// record that can be skipped; any other error ends the read.
type decoder interface {
	next() (event.Event, error)
}

// stopper is a decoder with goroutines to end.
type stopper interface{ stop() }

// Reader reads events from one file. A Reader that is not read to its end
// (Next returning an error or io.EOF) must be closed.
type Reader struct {
	name    string
	strict  bool
	onSkip  func(*RecordError)
	ctx     context.Context
	workers int
	batch   int
	dec     decoder
	stats   Stats
	err     error
	closer  io.Closer
}

// Open detects r's format from its first bytes and returns a Reader of its
// events. name is used in errors and Stats. Unrecognised content is an
// error naming the file.
func Open(name string, r io.Reader, opts ...Option) (*Reader, error) {
	rd := &Reader{name: name, stats: Stats{File: name}, ctx: context.Background(), workers: runtime.GOMAXPROCS(0), batch: defaultBatch}
	for _, o := range opts {
		o(rd)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(2)
	if len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: gzip: %w", name, err)
		}
		rd.stats.Gzip = true
		rd.closer = zr
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	format, err := sniff(br)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	rd.stats.Format = format
	switch format {
	case FormatXML:
		rd.dec = newXMLDecoder(name, br)
	case FormatJSON:
		d := newJSONDecoder(name, br)
		d.parOpts = &parOptions{ctx: rd.ctx, workers: rd.workers, batch: rd.batch, closer: &rd.closer}
		rd.dec = d
	case FormatEVTX:
		rd.dec = newEVTXDecoder(name, br)
	case FormatEmpty:
		rd.err = io.EOF
	}
	return rd, nil
}

// sniff names the format from the first bytes without consuming them.
func sniff(br *bufio.Reader) (Format, error) {
	if head, _ := br.Peek(8); bytes.Equal(head, []byte("ElfFile\x00")) {
		return FormatEVTX, nil
	}
	for n := 1; ; n++ {
		buf, err := br.Peek(n)
		if len(buf) < n {
			if errors.Is(err, io.EOF) {
				return FormatEmpty, nil
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				return "", errors.New("no content in the first 64 KiB")
			}
			return "", err
		}
		c := buf[n-1]
		if n <= 3 && bytes.HasPrefix([]byte("\xef\xbb\xbf"), buf) {
			continue // (part of) a BOM
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '<':
			return FormatXML, nil
		case '{', '[', '"':
			return FormatJSON, nil
		case 'R':
			// evtx_dump writes "Record N" before each object.
			if rest, _ := br.Peek(n + 5); bytes.HasSuffix(rest, []byte("Record")) {
				return FormatJSON, nil
			}
		}
		return "", fmt.Errorf("unrecognised format: first byte %q is none of '<' (Event XML), '{' or '[' (JSON), an EVTX header or gzip", c)
	}
}

// Name is the file name given to Open.
func (r *Reader) Name() string { return r.name }

// Stats says how many events were read and skipped so far.
func (r *Reader) Stats() Stats { return r.stats }

// Next returns the next event, or io.EOF after the last. A record that
// cannot be read is skipped (and reported through OnSkip), or in strict
// mode returned as a *RecordError that ends the read.
func (r *Reader) Next() (ev event.Event, err error) {
	if r.err == nil && r.stats.Events%1024 == 0 {
		if err := r.ctx.Err(); err != nil {
			r.err = fmt.Errorf("%s: %w", r.name, err)
		}
	}
	for r.err == nil {
		// Into the result itself: an event is some 300 bytes to copy.
		if ev, err = r.dec.next(); err == nil {
			r.stats.Events++
			return ev, nil
		}
		// A record the decoder cannot resume after (a truncated tail)
		// ends the read: reported like a skipped record when lenient.
		var fe *fatalError
		fatal := errors.As(err, &fe)
		var re *RecordError
		if !r.strict && errors.As(err, &re) {
			r.stats.Skipped++
			if r.onSkip != nil {
				r.onSkip(re)
			}
			if fatal {
				r.err = io.EOF
			}
			continue
		}
		if fatal {
			err = fe.RecordError
		}
		r.err = err
	}
	r.release()
	return event.Event{}, r.err
}

// Close ends the read and releases what it holds; the Stats stay.
func (r *Reader) Close() error {
	if r.err == nil {
		r.err = fmt.Errorf("%s: %w", r.name, errClosed)
	}
	r.release()
	return nil
}

var errClosed = errors.New("reader closed")

func (r *Reader) release() {
	if s, ok := r.dec.(stopper); ok {
		s.stop()
	}
	if r.closer != nil {
		r.closer.Close()
		r.closer = nil
	}
}

// All iterates the events; an error other than the end of input is yielded
// once, last.
func (r *Reader) All() iter.Seq2[event.Event, error] {
	return func(yield func(event.Event, error) bool) {
		for {
			ev, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if !yield(ev, err) || err != nil {
				return
			}
		}
	}
}

// ReadAll reads every event of r in strict mode: the first record that
// cannot be read is the error.
func ReadAll(name string, r io.Reader) ([]event.Event, error) {
	rd, err := Open(name, r, Strict(true))
	if err != nil {
		return nil, err
	}
	var events []event.Event
	for ev, err := range rd.All() {
		if err != nil {
			return nil, err
		}
		events = append(events, ev)
	}
	return events, nil
}
