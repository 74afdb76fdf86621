package replay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/t1567001/harness/event"
)

// The parallel JSON-lines reader. Once the first object shows plain JSON
// lines (not an audit log, not an array, not pretty-printed), one
// goroutine reads large blocks and cuts them after their last newline into
// batches, one worker per core reads each batch with a decoder of its own
// (the flat-line fast path, the tree decoder where it falls back, each
// with its own interned names and remembered System values), and Next
// takes the batches' records in file order. A fixed number of batches is
// in flight, so memory stays bounded whatever the file's size, and their
// buffers are recycled. Decompression stays in the reading goroutine.
//
// A worker reads its batch as if the file ended there. Where that could
// change what it reads (an object running past the batch's last line, or
// a bad record whose skip might run into the next batch), it stops at
// that record, and Next reads on from there with one decoder fed whole
// batches, as the sequential reader would, until a record ends where a
// batch begins. So the output is the sequential reader's: the same events
// and skipped records, with the same lines, in the same order.

// parOptions say whether and how the rest of a JSON file may be read in
// parallel once its first object is read.
type parOptions struct {
	ctx     context.Context
	workers int
	batch   int        // bytes per batch, give or take a line
	closer  *io.Closer // the Reader's gzip reader, handed to the reading goroutine
}

// batchesPerWorker bounds the batches in flight: each worker may have one
// to read and one waiting, while Next empties one and the reading
// goroutine fills another.
const batchesPerWorker = 2

// jbatch is a run of whole lines and what a worker read of it.
type jbatch struct {
	buf  []byte
	line int // the line number of buf[0]
	// final marks the last batch; err is then the read error that ended
	// the input (nil at its end).
	final bool
	err   error
	items []jitem
	// cut is the index in buf of the first record the worker could not be
	// sure of, and cutLine its line; cut is -1 when it read the batch whole.
	cut, cutLine int
	done         chan struct{} // a worker is done with the batch
}

// jitem is one record read: an event, or the error it gave.
type jitem struct {
	ev  event.Event
	err error
}

// jsonPipeline is the reading goroutine, the workers and, in Next's
// goroutine, the merge of their batches in order.
type jsonPipeline struct {
	ctx      context.Context
	cancel   context.CancelFunc
	file     string
	treeOnly bool
	order    chan *jbatch // every batch, in file order
	// free holds the batches not in flight with their buffers, a fixed
	// set: unlike a sync.Pool's, which the collector empties, its buffers
	// stay paged in, and the kernel's copy into them costs no page faults.
	free chan *jbatch
	cur  *jbatch
	pos  int // the next item of cur
	// seq reads from a worker's cut on, while inSeq; seqBatch is the last
	// batch fed to it, whose bytes begin at seqStart in its window.
	seq      *jsonDecoder
	inSeq    bool
	seqBatch *jbatch
	seqStart int
}

func newFlatDecoder(file string, treeOnly bool) *jsonDecoder {
	// objects 1: the first object (and with it the audit-log question) is
	// behind; the flat-line path is open.
	return &jsonDecoder{file: file, objects: 1, head: true, treeOnly: treeOnly, w: &window{}}
}

// goParallel starts the pipeline after the first object if the file is
// JSON lines with more to read than the window holds; else the file stays
// with this decoder.
func (d *jsonDecoder) goParallel() {
	if d.objects == 0 {
		return // the first object decides
	}
	o := d.parOpts
	d.parOpts = nil
	if o.workers < 2 || d.audit || d.inArray || d.multiLine || d.w.eof || d.w.err != nil {
		return
	}
	ctx, cancel := context.WithCancel(o.ctx)
	n := o.workers*batchesPerWorker + 2
	p := &jsonPipeline{
		ctx: ctx, cancel: cancel, file: d.file, treeOnly: d.treeOnly,
		order: make(chan *jbatch, n), free: make(chan *jbatch, n),
		seq: newFlatDecoder(d.file, d.treeOnly),
	}
	for range n {
		p.free <- &jbatch{done: make(chan struct{}, 1)}
	}
	work := make(chan *jbatch, n)
	closer := *o.closer
	*o.closer = nil
	// The window's unread bytes are read first.
	head := append([]byte(nil), d.w.b[d.w.off:]...)
	go p.read(d.w.r, head, d.w.line, o.batch, closer, work)
	for range o.workers {
		go p.work(work)
	}
	d.par = p
	d.w.b = nil
}

// stop ends the pipeline's goroutines (each as soon as it waits or its
// read returns); Next must not be called after.
func (d *jsonDecoder) stop() {
	if d.par != nil {
		d.par.cancel()
	}
}

// read cuts the input into batches, waiting for a free one before each.
// head is what the first decoder read but did not use.
func (p *jsonPipeline) read(r io.Reader, head []byte, line, size int, closer io.Closer, work chan<- *jbatch) {
	defer close(p.order)
	defer close(work)
	if closer != nil {
		defer closer.Close()
	}
	r = io.MultiReader(bytes.NewReader(head), r)
	var carry []byte // a line begun in the last batch
	for {
		var b *jbatch
		select {
		case b = <-p.free:
		case <-p.ctx.Done():
			return
		}
		b.buf = append(b.buf[:0], carry...)
		b.line, b.final, b.err = line, false, nil
		end, err := fillBatch(r, b, size)
		if err != nil {
			b.final = true
			if !errors.Is(err, io.EOF) {
				b.err = err
			}
		} else {
			carry = append(carry[:0], b.buf[end:]...)
			b.buf = b.buf[:end]
			line += bytes.Count(b.buf, nl)
		}
		work <- b
		p.order <- b
		if b.final {
			return
		}
	}
}

// fillBatch reads into b.buf up to size bytes (more for a line longer
// than that) and returns where its whole lines end. At the end of the
// input or a read error it returns the error (io.EOF at the end), and the
// batch is the last, with every byte read.
func fillBatch(r io.Reader, b *jbatch, size int) (int, error) {
	buf := b.buf
	if cap(buf) < size {
		buf = append(make([]byte, 0, size), buf...)
	}
	defer func() { b.buf = buf }()
	last := bytes.LastIndexByte(buf, '\n')
	for {
		if len(buf) >= size && last >= 0 {
			return last + 1, nil
		}
		limit := size
		if len(buf) >= size { // a line longer than a batch
			if len(buf) == cap(buf) {
				if len(buf) >= maxRecord {
					return len(buf), fmt.Errorf("a record is larger than %d MiB", maxRecord>>20)
				}
				buf = append(buf, 0)[:len(buf)]
			}
			limit = cap(buf)
		}
		n, err := r.Read(buf[len(buf):limit])
		if k := bytes.LastIndexByte(buf[len(buf):len(buf)+n], '\n'); k >= 0 {
			last = len(buf) + k
		}
		buf = buf[:len(buf)+n]
		if err != nil {
			return len(buf), err
		}
	}
}

// work reads batches with a decoder of its own until the input ends.
func (p *jsonPipeline) work(work <-chan *jbatch) {
	d := newFlatDecoder(p.file, p.treeOnly)
	for b := range work {
		if p.ctx.Err() == nil {
			d.readBatch(b)
		}
		b.done <- struct{}{}
	}
}

// readBatch reads b's records up to its end or up to the first record
// whose reading could depend on what follows the batch.
func (d *jsonDecoder) readBatch(b *jbatch) {
	b.items, b.cut = b.items[:0], -1
	*d.w = window{b: b.buf, line: b.line, fill: b.end}
	defer func() { d.w.b = nil }()
	for {
		// Each record is read straight into its item, zero as release
		// left it.
		n := len(b.items)
		if n < cap(b.items) {
			b.items = b.items[:n+1]
		} else {
			b.items = append(b.items, jitem{})
		}
		it := &b.items[n]
		it.err = d.record(&it.ev)
		if b.cut >= 0 || errors.Is(it.err, io.EOF) {
			b.items[n] = jitem{}
			b.items = b.items[:n]
			if b.cut == len(b.buf) {
				b.cut = -1 // the batch ended between records
			}
			return
		}
		if it.err != nil && !isRecordError(it.err) {
			return // the read error that ends the input
		}
	}
}

// end is a worker's window reaching the batch's end: the end of the input
// for the last batch; else the record being read is marked as cut.
func (b *jbatch) end(w *window) bool {
	w.eof = true
	if b.final {
		w.err = b.err
	} else if b.cut < 0 {
		b.cut, b.cutLine = w.off, w.line
	}
	return false
}

// next returns the next record in file order.
func (p *jsonPipeline) next() (event.Event, error) {
	for {
		if p.inSeq {
			var ev event.Event
			err := p.seq.record(&ev)
			if err == nil || isRecordError(err) {
				p.resync()
			}
			return ev, err
		}
		if b := p.cur; b != nil {
			if p.pos < len(b.items) {
				// The items are cleared once, when the batch is released.
				it := &b.items[p.pos]
				p.pos++
				return it.ev, it.err
			}
			p.cur = nil
			if b.cut >= 0 {
				p.fallBack(b)
				continue
			}
			p.release(b)
		}
		b, err := p.take()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				err = fmt.Errorf("%s: %w", p.file, err)
			}
			return event.Event{}, err
		}
		p.cur, p.pos = b, 0
	}
}

// take waits for the next batch in order and its worker; io.EOF after the
// last.
func (p *jsonPipeline) take() (*jbatch, error) {
	var b *jbatch
	select {
	case b = <-p.order:
	case <-p.ctx.Done():
	}
	if b != nil {
		select {
		case <-b.done:
		case <-p.ctx.Done():
		}
	}
	// A cancelled worker leaves its batch unread: never take it for read.
	if err := p.ctx.Err(); err != nil {
		return nil, err
	}
	if b == nil {
		return nil, io.EOF
	}
	return b, nil
}

func (p *jsonPipeline) release(b *jbatch) {
	clear(b.items)
	b.items = b.items[:0]
	p.free <- b
}

// fallBack reads on from b's cut with the sequential decoder.
func (p *jsonPipeline) fallBack(b *jbatch) {
	*p.seq.w = window{b: append(p.seq.w.b[:0], b.buf[b.cut:]...), line: b.cutLine, fill: p.feed}
	p.release(b)
	p.inSeq, p.seqBatch = true, nil
}

// feed gives the sequential decoder's window the next batch's bytes.
func (p *jsonPipeline) feed(w *window) bool {
	if b := p.seqBatch; b != nil {
		if b.final {
			w.eof, w.err = true, b.err
			return false
		}
		p.release(b)
		p.seqBatch = nil
	}
	n := copy(w.b, w.b[w.off:])
	w.b, w.off = w.b[:n], 0
	if n >= maxRecord {
		w.eof, w.err = true, fmt.Errorf("a record is larger than %d MiB", maxRecord>>20)
		return false
	}
	b, err := p.take()
	if err != nil {
		w.eof = true
		if !errors.Is(err, io.EOF) {
			w.err = err
		}
		return false
	}
	p.seqStart = len(w.b)
	w.b = append(w.b, b.buf...)
	p.seqBatch = b
	return true
}

// resync hands back to the workers' batches when the sequential decoder
// stands between records where a batch begins: at the start of the last
// batch fed to it, or with nothing but space left before the next.
func (p *jsonPipeline) resync() {
	w := p.seq.w
	if w.eof {
		return
	}
	switch b := p.seqBatch; {
	case b != nil && w.off == p.seqStart:
		p.cur, p.pos = b, 0
	case !allSpace(w.b[w.off:]) || b != nil && b.final:
		return
	case b != nil:
		p.release(b)
	}
	p.seqBatch, p.inSeq = nil, false
}

// isRecordError says whether err is a record's own error, after which
// reading goes on. It is called only for an error: errors.As moves its
// target to the heap, an allocation a record without one need not pay.
func isRecordError(err error) bool {
	var re *RecordError
	return errors.As(err, &re)
}

// allSpace says whether b holds only the space JSON skips between values.
func allSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}
