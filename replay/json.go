package replay

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/t1567001/harness/event"
)

// The JSON reader parses each top-level object into a small reused tree of
// ranges over the buffer (no reflection, no map), then maps the tree's
// shape to an event: evtx_dump's {"Event":{"System":...}}, Winlogbeat's
// {"winlog":{"event_data":...}}, or a flat object (this package's JSON
// lines, OTRF). Objects may be one per line, pretty-printed and
// concatenated, or the elements of an array.

type jkind uint8

const (
	jString jkind = iota
	jNumber
	jBool
	jNull
	jObject
	jArray
)

// jnode is one value; an object's members are its children, linked by
// next, each with its key.
type jnode struct {
	kind        jkind
	key, val    xtext // val: a string's content, or a scalar's or array's JSON text
	first, next int32 // -1: none
}

// maxJSONDepth bounds nesting, so that a hostile object cannot exhaust the
// stack.
const maxJSONDepth = 256

type jsonDecoder struct {
	file    string
	w       *window
	objects int
	inArray bool
	audit   bool // the file is a GitHub audit log
	nodes   []jnode
	arena   []byte // decoded strings of the current record
	head    bool
	// The flat-line scanner's interned names and scratch (jsonflat.go);
	// treeOnly turns it off, for the tests that hold it to the tree.
	names      map[string]int32 // index in flatNames
	flatNames  []flatName
	flatVals   []flatValues // by the same index
	firstNames followers    // the names seen first in a line
	fieldsHint int          // the most fields a line has had: the room to ask for
	items      []string     // a list's items
	lastSet    []int32      // the names whose last value the line being read set
	slab       slab         // where the flat lines' strings and fields are carved from
	treeOnly   bool
	// par, once running, reads the rest of the file on every core; until
	// the first object is read, parOpts says whether it may (jsonpar.go).
	par     *jsonPipeline
	parOpts *parOptions
	// multiLine is true when the first object spans lines (pretty-printed
	// JSON, which stays with one decoder).
	multiLine bool
}

func newJSONDecoder(file string, r io.Reader) *jsonDecoder {
	return &jsonDecoder{file: file, w: newWindow(r)}
}

type jparser struct {
	d     *jsonDecoder
	b     []byte
	i     int
	eof   bool
	start int // where the current top-level value begins
	// inObject is true while a top-level object is being read.
	inObject bool
}

// jsonError is malformed JSON at a buffer index.
type jsonError struct {
	at  int
	err error
}

func (e *jsonError) Error() string { return e.err.Error() }

func jerr(at int, format string, args ...any) error {
	return &jsonError{at: at, err: fmt.Errorf(format, args...)}
}

func (d *jsonDecoder) next() (ev event.Event, err error) {
	if d.par != nil {
		return d.par.next()
	}
	err = d.record(&ev) // into the result itself, not copied to it
	if d.parOpts != nil {
		var re *RecordError
		if err == nil || errors.As(err, &re) {
			d.goParallel()
		}
	}
	return ev, err
}

// record reads the next record in this goroutine into ev, a zero event,
// which an error leaves zero.
func (d *jsonDecoder) record(ev *event.Event) error {
	for {
		if !d.head {
			if len(d.w.b)-d.w.off < 3 && d.w.more() {
				continue
			}
			if bytes.HasPrefix(d.w.b[d.w.off:], []byte("\xef\xbb\xbf")) {
				d.w.off += 3
			}
			d.head = true
		}
		p := jparser{d: d, b: d.w.b, i: d.w.off, eof: d.w.eof}
		objects := d.objects
		ok, err := p.top(ev)
		if errors.Is(err, errShort) {
			d.objects = objects
			if !p.eof {
				d.w.more() // at the end, parse once more knowing it
				continue
			}
			// A read error ends the input after the records read whole
			// before it, however the reads fell.
			if d.w.err != nil {
				return fmt.Errorf("%s: %w", d.file, d.w.err)
			}
			if !ok && p.i >= len(p.b) {
				return io.EOF
			}
			err = jerr(len(p.b), "unexpected end of input")
		}
		if err != nil {
			// re is declared here only: errors.As moves it to the heap,
			// which per record would cost an allocation.
			var re *RecordError
			if errors.As(err, &re) {
				return re // a value error: the object was consumed
			}
			return d.skipRecord(&p, err)
		}
		if ok {
			return nil
		}
	}
}

// skipRecord reports a record that cannot be read and moves to the next
// line that starts an object (the next JSON line, or the next top-level
// object of a pretty-printed stream).
func (d *jsonDecoder) skipRecord(p *jparser, err error) error {
	at := p.i
	var je *jsonError
	if errors.As(err, &je) {
		at = je.at
		err = je.err
	}
	start := p.start
	re := &RecordError{File: d.file, Line: d.w.lineAt(at), Err: err}
	if p.inObject {
		re.Line = d.w.lineAt(start)
	}
	from := start
	again := false // from begins a line to look at again, with more input
	for {
		if !again {
			k := bytes.IndexByte(d.w.b[from:], '\n')
			if k < 0 {
				rel := from - d.w.off
				if !d.w.more() {
					break
				}
				from = d.w.off + rel
				continue
			}
			from += k + 1
		}
		again = false
		// A line that starts in its first column with anything but the
		// end of an object or array, a blank or a "Record N" line begins
		// the next record: the next JSON line, or the next top-level
		// object of a pretty-printed stream (whose inner lines are
		// indented).
		j := from
		for j < len(d.w.b) && (d.w.b[j] == ' ' || d.w.b[j] == '\t' || d.w.b[j] == '\r') {
			j++
		}
		if j == from && j < len(d.w.b) && !strings.ContainsRune("}]R\n", rune(d.w.b[j])) {
			d.w.advance(from)
			return re
		}
		if j >= len(d.w.b) && !d.w.eof {
			// Decide once more input is here.
			rel := from - d.w.off
			if !d.w.more() {
				break
			}
			from = d.w.off + rel
			again = true
		}
	}
	d.w.advance(len(d.w.b))
	return re
}

func (p *jparser) ws() {
	// Compact JSON has none: one test, inlined, says so.
	if p.i < len(p.b) && p.b[p.i] > ' ' {
		return
	}
	p.space()
}

func (p *jparser) space() {
	b, i := p.b, p.i
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	p.i = i
}

// top reads top-level input up to and including one object, into ev.
func (p *jparser) top(ev *event.Event) (bool, error) {
	d := p.d
	for {
		p.ws()
		d.w.advance(p.i)
		p.start = p.i
		if p.i >= len(p.b) {
			return false, errShort
		}
		switch c := p.b[p.i]; c {
		case '[':
			if d.inArray || d.objects > 0 {
				return false, jerr(p.i, "want a JSON object, got an array")
			}
			d.inArray = true
			p.i++
			continue
		case ',':
			if d.inArray {
				p.i++
				continue
			}
		case ']':
			if d.inArray {
				d.inArray = false
				p.i++
				continue
			}
		case 'R':
			// evtx_dump's "Record N" line before each object.
			k := bytes.IndexByte(p.b[p.i:], '\n')
			if k < 0 && !p.eof {
				return false, errShort
			}
			if k < 0 {
				k = len(p.b) - p.i
			}
			line := bytes.TrimSpace(p.b[p.i : p.i+k])
			if n, ok := bytes.CutPrefix(line, []byte("Record ")); ok && len(n) > 0 && isDigits(n) {
				p.i += k
				continue
			}
		case '{':
			// After the first object (which says whether the file is an
			// audit log), a flat line outside an array is read in one pass.
			if d.objects > 0 && !d.audit && !d.inArray && !d.treeOnly {
				if end, ok := d.flatLine(p.b, p.i, p.eof, ev); ok {
					d.objects++
					d.w.off = end // within the line: no newline to count
					return true, nil
				}
			}
			d.objects++
			p.inObject = true
			d.nodes = d.nodes[:0]
			d.arena = d.arena[:0]
			root, err := p.value(0)
			if err != nil {
				return false, err
			}
			// Nothing but space may follow the object on its line.
			for j := p.i; j < len(p.b); j++ {
				c := p.b[j]
				if c == '\n' {
					break
				}
				if c == ' ' || c == '\t' || c == '\r' || (d.inArray && (c == ',' || c == ']')) {
					continue
				}
				return false, jerr(j, "unexpected data after the JSON object")
			}
			if d.objects == 1 && bytes.IndexByte(p.b[p.start:p.i], '\n') >= 0 {
				d.multiLine = true
			}
			s := string(p.b[p.start:p.i])
			e, err := d.toEvent(s, string(d.arena), p.start, root)
			line := d.w.line
			d.w.advance(p.i)
			if err != nil {
				return false, &RecordError{File: d.file, Line: line, Err: err}
			}
			*ev = e
			return true, nil
		}
		at := p.i
		if _, err := p.value(0); err != nil {
			return false, err
		}
		return false, jerr(at, "want a JSON object, got %s", jsonKindAt(p.b[at]))
	}
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func jsonKindAt(c byte) string {
	switch {
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 'n':
		return "null"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == '-' || c >= '0' && c <= '9':
		return "a number"
	}
	return fmt.Sprintf("invalid character %q", c)
}

// value parses the value at p.i into a new node and returns its index.
func (p *jparser) value(depth int) (int32, error) {
	if depth > maxJSONDepth {
		return 0, jerr(p.i, "JSON nested deeper than %d levels", maxJSONDepth)
	}
	p.ws()
	if p.i >= len(p.b) {
		return 0, errShort
	}
	d := p.d
	idx := int32(len(d.nodes))
	d.nodes = append(d.nodes, jnode{first: -1, next: -1})
	start := p.i
	switch c := p.b[p.i]; {
	case c == '{':
		p.i++
		d.nodes[idx].kind = jObject
		last := int32(-1)
		p.ws()
		if p.i >= len(p.b) {
			return 0, errShort
		}
		if p.b[p.i] == '}' {
			p.i++
			return idx, nil
		}
		for {
			p.ws()
			if p.i >= len(p.b) {
				return 0, errShort
			}
			if p.b[p.i] != '"' {
				return 0, jerr(p.i, "invalid character %q looking for beginning of object key string", p.b[p.i])
			}
			key, err := p.str()
			if err != nil {
				return 0, err
			}
			p.ws()
			if p.i >= len(p.b) {
				return 0, errShort
			}
			if p.b[p.i] != ':' {
				return 0, jerr(p.i, "invalid character %q after object key", p.b[p.i])
			}
			p.i++
			child, err := p.value(depth + 1)
			if err != nil {
				return 0, err
			}
			d.nodes[child].key = key
			if last < 0 {
				d.nodes[idx].first = child
			} else {
				d.nodes[last].next = child
			}
			last = child
			p.ws()
			if p.i >= len(p.b) {
				return 0, errShort
			}
			switch p.b[p.i] {
			case ',':
				p.i++
			case '}':
				p.i++
				return idx, nil
			default:
				return 0, jerr(p.i, "invalid character %q after object key:value pair", p.b[p.i])
			}
		}
	case c == '[':
		p.i++
		d.nodes[idx].kind = jArray
		p.ws()
		if p.i >= len(p.b) {
			return 0, errShort
		}
		if p.b[p.i] != ']' {
			for {
				if _, err := p.value(depth + 1); err != nil {
					return 0, err
				}
				p.ws()
				if p.i >= len(p.b) {
					return 0, errShort
				}
				if p.b[p.i] == ',' {
					p.i++
					continue
				}
				if p.b[p.i] != ']' {
					return 0, jerr(p.i, "invalid character %q after array element", p.b[p.i])
				}
				break
			}
		}
		p.i++
		// An array is kept as its JSON text; its elements are not nodes.
		d.nodes = d.nodes[:idx+1]
		d.nodes[idx].val = xtext{off: start, end: p.i}
		return idx, nil
	case c == '"':
		s, err := p.str()
		if err != nil {
			return 0, err
		}
		d.nodes[idx].kind, d.nodes[idx].val = jString, s
		return idx, nil
	case c == 't' || c == 'f' || c == 'n':
		lit := "null"
		kind := jNull
		if c == 't' {
			lit, kind = "true", jBool
		} else if c == 'f' {
			lit, kind = "false", jBool
		}
		for k := 1; k < len(lit); k++ {
			// The same error wherever the buffer ends.
			if p.i+k >= len(p.b) {
				if !p.eof {
					return 0, errShort
				}
				return 0, jerr(p.i, "invalid literal")
			}
			if p.b[p.i+k] != lit[k] {
				return 0, jerr(p.i+k, "invalid character %q in literal %s (expecting %q)", p.b[p.i+k], lit, lit[k])
			}
		}
		p.i += len(lit)
		d.nodes[idx].kind, d.nodes[idx].val = kind, xtext{off: start, end: p.i}
		return idx, nil
	case c == '-' || c >= '0' && c <= '9':
		j := p.i + 1
		for j < len(p.b) && (p.b[j] >= '0' && p.b[j] <= '9' || p.b[j] == '.' || p.b[j] == 'e' || p.b[j] == 'E' || p.b[j] == '+' || p.b[j] == '-') {
			j++
		}
		if j >= len(p.b) && !p.eof {
			return 0, errShort
		}
		if !validNumber(p.b[p.i:j]) {
			return 0, jerr(p.i, "invalid number %s", p.b[p.i:j])
		}
		p.i = j
		d.nodes[idx].kind, d.nodes[idx].val = jNumber, xtext{off: start, end: j}
		return idx, nil
	default:
		return 0, jerr(p.i, "invalid character %q looking for beginning of value", c)
	}
}

// validNumber checks JSON's number grammar.
func validNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return false
	}
	if b[i] == '0' {
		i++
	} else if b[i] >= '1' && b[i] <= '9' {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i == len(b)
}

// str reads a string at p.i ('"'): a range of the buffer when it has no
// escapes, else its decoded text in the record's arena. Invalid UTF-8
// becomes U+FFFD, as encoding/json does.
func (p *jparser) str() (xtext, error) {
	start := p.i + 1
	// One pass to the closing quote or the first escape: field values are
	// short, and a byte loop beats two searches and a UTF-8 check on them.
	b := p.b
	j := start
	ascii := true
	for j < len(b) {
		c := b[j]
		if c == '"' || c == '\\' {
			break
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
		j++
	}
	if j >= len(b) {
		return xtext{}, p.short("string")
	}
	if b[j] == '"' {
		p.i = j + 1
		raw := b[start:j]
		if !ascii && !utf8.Valid(raw) {
			return xtext{s: string(bytes.ToValidUTF8(raw, []byte("\uFFFD"))), dec: true}, nil
		}
		return xtext{off: start, end: j}, nil
	}
	d := p.d
	a0 := len(d.arena)
	out := append(d.arena, b[start:j]...) // up to the first backslash
	for {
		// Copy the run up to the next backslash or quote.
		run := p.b[j:]
		q := bytes.IndexByte(run, '"')
		if q < 0 {
			return xtext{}, p.short("string")
		}
		bs := bytes.IndexByte(run[:q], '\\')
		if bs < 0 {
			out = append(out, run[:q]...)
			p.i = j + q + 1
			if !utf8.Valid(out[a0:]) {
				fixed := bytes.ToValidUTF8(out[a0:], []byte("\uFFFD"))
				out = append(out[:a0], fixed...)
			}
			d.arena = out
			return xtext{off: a0, end: len(out), arena: true}, nil
		}
		out = append(out, run[:bs]...)
		j += bs
		if j+1 >= len(p.b) {
			return xtext{}, p.short("string")
		}
		e := p.b[j+1]
		j += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n, err := p.u4(j)
			if err != nil {
				return xtext{}, err
			}
			j += n
			if utf16.IsSurrogate(r) {
				if j+6 <= len(p.b) && p.b[j] == '\\' && p.b[j+1] == 'u' {
					r2, n2, err := p.u4(j + 2)
					if err == nil {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							r = dec
							j += 2 + n2
						} else {
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				} else if j+6 > len(p.b) && !p.eof {
					return xtext{}, errShort
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return xtext{}, jerr(j-1, "invalid escape \\%c in string", e)
		}
	}
}

func (p *jparser) u4(j int) (rune, int, error) {
	if j+4 > len(p.b) {
		return 0, 0, p.short("string")
	}
	n, err := strconv.ParseUint(string(p.b[j:j+4]), 16, 32)
	if err != nil {
		return 0, 0, jerr(j, "invalid \\u escape %q", p.b[j:j+4])
	}
	return rune(n), 4, nil
}

func (p *jparser) short(what string) error {
	if p.eof {
		return jerr(len(p.b), "unexpected end of input in %s", what)
	}
	return errShort
}
