package replay

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/t1567001/harness/event"
)

// The XML reader is a scanner built for the shape of <Event> documents: it
// finds each element with byte searches, decodes only the values it keeps,
// and turns one event's bytes into one string whose substrings become the
// field values. It checks well-formedness as encoding/xml does (matching
// tags, entities, characters), and its tests hold it to encoding/xml's
// reading of the same input.

type tokKind uint8

const (
	tokText tokKind = iota
	tokStart
	tokEmpty // <x/>
	tokEnd
	tokCDATA
	tokOther // comment, processing instruction, directive
)

type xattr struct {
	name []byte
	val  xtext
}

// xtok is one XML token at b[off:end].
type xtok struct {
	kind     tokKind
	off, end int
	name     []byte // raw element name
	attrs    []xattr
	text     xtext // tokText, tokCDATA
}

func (t *xtok) attr(local string) (xtext, bool) {
	for _, a := range t.attrs {
		if string(localName(a.name)) == local {
			return a.val, true
		}
	}
	return xtext{}, false
}

type xmlDecoder struct {
	file   string
	w      *window
	depth  int    // open <Events> elements
	root   string // the <Events> element's name as written
	events int    // <Event> elements begun
	head   bool
	lax    bool // after a skipped malformed record, a stray </Events> is accepted
	// scratch reused across records
	tmp   []byte
	attrs []xattr
	data  []dataRef
}

type dataRef struct{ name, val xtext }

func newXMLDecoder(file string, r io.Reader) *xmlDecoder {
	return &xmlDecoder{file: file, w: newWindow(r)}
}

// tokenizer state over the window's bytes for one record.
type xparser struct {
	d   *xmlDecoder
	b   []byte
	i   int
	eof bool
	// inEvent is true while an <Event> element is being read.
	inEvent bool
}

func (d *xmlDecoder) fail(at int, err error) *RecordError {
	return &RecordError{File: d.file, Line: d.w.lineAt(at), Column: d.w.colAt(at), Err: err}
}

func (d *xmlDecoder) next() (event.Event, error) {
	for {
		if d.w.err != nil {
			return event.Event{}, fmt.Errorf("%s: %w", d.file, d.w.err)
		}
		if !d.head {
			if len(d.w.b)-d.w.off < 512 && d.w.more() {
				continue
			}
			d.prologue()
			d.head = true
		}
		p := xparser{d: d, b: d.w.b, i: d.w.off, eof: d.w.eof}
		events := d.events
		ev, ok, err := p.top()
		if errors.Is(err, errShort) {
			if !p.eof {
				d.events = events
				d.w.more() // at the end, parse once more knowing it
				continue
			}
			if !p.inEvent && p.i >= len(p.b) {
				// Nothing but the end of input.
				if d.depth > 0 && !d.lax {
					return event.Event{}, d.fatal(len(p.b), errors.New("unexpected EOF: <Events> not closed"))
				}
				return event.Event{}, io.EOF
			}
			err = synErr(len(p.b), "unexpected EOF")
		}
		if err != nil {
			return event.Event{}, d.recover(&p, err)
		}
		if ok {
			return ev, nil
		}
	}
}

// fatal is an error that ends the read: the input cannot be resumed.
func (d *xmlDecoder) fatal(at int, err error) error {
	re := d.fail(at, err)
	if d.events > 0 && strings.Contains(err.Error(), "EOF") {
		re.Record = d.events
	}
	return &fatalError{re}
}

// fatalError wraps a RecordError the reader cannot skip past.
type fatalError struct{ *RecordError }

func (e *fatalError) Unwrap() error { return e.RecordError }

// recover turns a failure inside a record into a skippable RecordError and
// moves past it: to the end of the event when its structure was sound,
// else to the next "<Event" start tag.
func (d *xmlDecoder) recover(p *xparser, err error) error {
	var se *xmlSyntaxError
	at := p.i
	if errors.As(err, &se) {
		at = se.at
	}
	var ve *valueError
	if errors.As(err, &ve) {
		re := d.fail(ve.at, ve.err)
		re.Record = d.events
		d.w.advance(p.i)
		return re
	}
	re := d.fail(at, err)
	if p.inEvent {
		re.Record = d.events
	}
	// Resume at the next <Event start tag after the error.
	from := max(at, d.w.off) + 1
	for {
		if from < len(d.w.b) {
			if k := bytes.Index(d.w.b[from:], []byte("<Event")); k >= 0 {
				from += k
				if from+6 < len(d.w.b) {
					if c := d.w.b[from+6]; c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\r' || c == '\n' {
						d.w.advance(from)
						d.lax = true
						return re
					}
					from++
					continue
				}
			} else {
				from = max(len(d.w.b)-6, d.w.off)
			}
		}
		// Need more input: keep what is left of the window.
		rel := from - d.w.off
		if d.w.eof || !d.w.more() {
			d.w.advance(len(d.w.b))
			return &fatalError{re}
		}
		from = d.w.off + rel
	}
}

// prologue drops a UTF-8 BOM; the XML declaration is checked as a
// processing instruction.
func (d *xmlDecoder) prologue() {
	if bytes.HasPrefix(d.w.b[d.w.off:], []byte("\xef\xbb\xbf")) {
		d.w.off += 3
	}
}

// valueError is a record whose structure is sound but a value is not (a
// non-numeric EventID): the record is skipped, the read goes on.
type valueError struct {
	at  int
	err error
}

func (e *valueError) Error() string { return e.err.Error() }
func (e *valueError) Unwrap() error { return e.err }

// top reads top-level tokens up to and including one <Event> element.
// ok is false when a token other than an event was consumed.
func (p *xparser) top() (event.Event, bool, error) {
	d := p.d
	for {
		start := p.i
		if start >= len(p.b) {
			return event.Event{}, false, errShort
		}
		var t xtok
		if err := p.token(&t); err != nil {
			return event.Event{}, false, err
		}
		switch t.kind {
		case tokText, tokCDATA:
			if len(bytes.TrimSpace(p.textBytes(t.text))) > 0 {
				s := string(p.textBytes(t.text))
				if len(s) > 20 {
					s = s[:20] + "..."
				}
				return event.Event{}, false, synErr(start, "unexpected text %q outside <Event>", s)
			}
		case tokStart, tokEmpty:
			switch string(localName(t.name)) {
			case "Event":
				d.events++
				p.inEvent = true
				ev, err := p.event(&t, start)
				if err != nil {
					return ev, false, err
				}
				p.inEvent = false
				d.w.advance(p.i)
				return ev, true, nil
			case "Events":
				if d.depth == 0 {
					if t.kind == tokStart {
						d.depth++
						d.root = string(t.name)
					}
					break
				}
				fallthrough
			default:
				return event.Event{}, false, synErr(start+1, "unexpected element <%s>, want <Event>", localName(t.name))
			}
		case tokEnd:
			if d.depth > 0 {
				if string(t.name) != d.root {
					return event.Event{}, false, synErr(start, "element <%s> closed by </%s>", d.root, t.name)
				}
				d.depth--
			} else if !(d.lax && string(localName(t.name)) == "Events") {
				return event.Event{}, false, synErr(start, "unexpected end element </%s>", t.name)
			}
		}
		d.w.advance(p.i)
	}
}

func (p *xparser) textBytes(t xtext) []byte {
	if t.dec {
		return []byte(t.s)
	}
	return p.b[t.off:t.end]
}

func (p *xparser) need(k int) error {
	if k > len(p.b) {
		return errShort
	}
	return nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\r' || c == '\n' || c == '\t' }

// token reads one token at p.i.
func (p *xparser) token(t *xtok) error {
	b := p.b
	start := p.i
	t.off = start
	if b[start] != '<' {
		k := bytes.IndexByte(b[start:], '<')
		end := start + k
		if k < 0 {
			if !p.eof {
				return errShort
			}
			end = len(b)
		}
		txt, err := decodeText(b, start, end, modeText, &p.d.tmp)
		if err != nil {
			return err
		}
		t.kind, t.text, t.end = tokText, txt, end
		p.i = end
		return nil
	}
	if err := p.need(start + 2); err != nil {
		return err
	}
	switch b[start+1] {
	case '/':
		j := start + 2
		name, j, err := p.name(j)
		if err != nil {
			return err
		}
		for j < len(b) && isSpace(b[j]) {
			j++
		}
		if err := p.need(j + 1); err != nil {
			return err
		}
		if b[j] != '>' {
			return synErr(j, "invalid characters between </%s and >", name)
		}
		t.kind, t.name, t.end = tokEnd, name, j+1
		p.i = j + 1
		return nil
	case '?':
		return p.procInst(t)
	case '!':
		return p.bang(t)
	}
	name, j, err := p.name(start + 1)
	if err != nil {
		return err
	}
	t.name = name
	// The attributes live in the decoder's scratch slice (the caller
	// reads them before the next token), kept for the next tag.
	attrs := p.d.attrs[:0]
	for {
		for j < len(b) && isSpace(b[j]) {
			j++
		}
		if err := p.need(j + 1); err != nil {
			return err
		}
		switch b[j] {
		case '/':
			if err := p.need(j + 2); err != nil {
				return err
			}
			if b[j+1] != '>' {
				return synErr(j+1, "expected /> in element")
			}
			t.kind, t.end, t.attrs = tokEmpty, j+2, attrs
			p.i = j + 2
			p.d.attrs = attrs
			return nil
		case '>':
			t.kind, t.end, t.attrs = tokStart, j+1, attrs
			p.i = j + 1
			p.d.attrs = attrs
			return nil
		}
		aname, k, err := p.name(j)
		if err != nil {
			return err
		}
		for k < len(b) && isSpace(b[k]) {
			k++
		}
		if err := p.need(k + 1); err != nil {
			return err
		}
		if b[k] != '=' {
			return synErr(k, "attribute name without = in element")
		}
		k++
		for k < len(b) && isSpace(b[k]) {
			k++
		}
		if err := p.need(k + 1); err != nil {
			return err
		}
		q := b[k]
		if q != '\'' && q != '"' {
			return synErr(k, "unquoted or missing attribute value in element")
		}
		e := bytes.IndexByte(b[k+1:], q)
		if e < 0 {
			return errShort
		}
		e += k + 1
		if lt := bytes.IndexByte(b[k+1:e], '<'); lt >= 0 {
			return synErr(k+1+lt, "unescaped < inside quoted string")
		}
		v, err := decodeText(b, k+1, e, modeAttr, &p.d.tmp)
		if err != nil {
			return err
		}
		attrs = append(attrs, xattr{name: aname, val: v})
		j = e + 1
	}
}

// name reads an XML name at j.
func (p *xparser) name(j int) ([]byte, int, error) {
	b := p.b
	start := j
	ascii := true
	for j < len(b) {
		c := b[j]
		if c >= 0x80 {
			ascii = false
		} else if !isNameByte(c) {
			break
		}
		j++
	}
	if j >= len(b) && !p.eof {
		return nil, j, errShort
	}
	if j == start {
		return nil, j, synErr(j, "expected element name after <")
	}
	if c := b[start]; ascii && (c == '_' || c == ':' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
		return b[start:j], j, nil // every byte a name byte, the first a name start
	}
	if !isName(b[start:j]) {
		return nil, j, synErr(start, "invalid XML name: %s", b[start:j])
	}
	return b[start:j], j, nil
}

// procInst reads <?target ...?>; an XML declaration must say version 1.0
// (1.1, as python-evtx writes, is read as 1.0: Windows event XML uses
// nothing 1.1 adds) and UTF-8.
func (p *xparser) procInst(t *xtok) error {
	b := p.b
	start := p.i
	target, j, err := p.name(start + 2)
	if err != nil {
		return err
	}
	e := bytes.Index(b[j:], []byte("?>"))
	if e < 0 {
		return errShort
	}
	e += j
	if string(target) == "xml" {
		content := string(b[j:e])
		if v := procInstParam("version", content); v != "" && v != "1.0" && !(v == "1.1" && start <= 3) {
			return synErr(start, "unsupported version %q; only version 1.0 is supported", v)
		}
		if enc := procInstParam("encoding", content); enc != "" && !strings.EqualFold(enc, "utf-8") {
			return synErr(start, "unsupported encoding %q (want UTF-8)", enc)
		}
	}
	t.kind, t.end = tokOther, e+2
	p.i = e + 2
	return nil
}

// procInstParam is encoding/xml's reading of param="value" in a <?xml?>.
func procInstParam(param, s string) string {
	for {
		i := strings.Index(s, param)
		if i < 0 {
			return ""
		}
		s = s[i+len(param):]
		v := strings.TrimLeft(s, " \t\r\n")
		if v == "" || v[0] != '=' {
			continue
		}
		v = strings.TrimLeft(v[1:], " \t\r\n")
		if v == "" || v[0] != '\'' && v[0] != '"' {
			return ""
		}
		q := v[0]
		if k := strings.IndexByte(v[1:], q); k >= 0 {
			return v[1 : k+1]
		}
		return ""
	}
}

// bang reads a comment, a CDATA section or a directive.
func (p *xparser) bang(t *xtok) error {
	b := p.b
	start := p.i
	switch {
	case p.has(start, "<!--"):
		e := bytes.Index(b[start+4:], []byte("--"))
		if e < 0 {
			return errShort
		}
		e += start + 4
		if err := p.need(e + 3); err != nil {
			return err
		}
		if b[e+2] != '>' {
			return synErr(e, `invalid sequence "--" not allowed in comments`)
		}
		t.kind, t.end = tokOther, e+3
		p.i = e + 3
		return nil
	case p.has(start, "<![CDATA["):
		e := bytes.Index(b[start+9:], []byte("]]>"))
		if e < 0 {
			return errShort
		}
		e += start + 9
		txt, err := decodeText(b, start+9, e, modeCDATA, &p.d.tmp)
		if err != nil {
			return err
		}
		t.kind, t.text, t.end = tokCDATA, txt, e+3
		p.i = e + 3
		return nil
	case len(b)-start < 9 && !p.eof && (bytes.HasPrefix([]byte("<![CDATA["), b[start:]) || bytes.HasPrefix([]byte("<!--"), b[start:])):
		return errShort
	case p.has(start, "<!["):
		return synErr(start, "invalid <![ sequence")
	case p.has(start, "<!-"):
		return synErr(start, "invalid sequence <!- not part of <!--")
	}
	// A directive (<!DOCTYPE ...>): up to the matching '>', with quotes
	// and nested declarations.
	// As in encoding/xml, the byte after "<!" is the directive's first,
	// whatever it is.
	depth := 0
	var quote byte
	for j := start + 3; j < len(b); j++ {
		c := b[j]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '<':
			depth++
		case c == '>':
			if depth == 0 {
				t.kind, t.end = tokOther, j+1
				p.i = j + 1
				return nil
			}
			depth--
		}
	}
	return errShort
}

func (p *xparser) has(i int, s string) bool {
	return len(p.b)-i >= len(s) && string(p.b[i:i+len(s)]) == s
}

// endOf consumes the content of the element whose start tag t was just
// read, through its end tag.
func (p *xparser) endOf(t *xtok) error {
	return p.children(t, p.skipChild)
}

func (p *xparser) skipChild(c *xtok) error {
	if c.kind == tokStart {
		return p.endOf(c)
	}
	return nil
}

// children hands each child element of the element whose start tag t was
// just read to fn, which consumes it, and reads on through t's end tag.
func (p *xparser) children(t *xtok, fn func(c *xtok) error) error {
	if t.kind == tokEmpty {
		return nil
	}
	var c xtok
	for {
		if p.i >= len(p.b) {
			return errShort
		}
		if err := p.token(&c); err != nil {
			return err
		}
		switch c.kind {
		case tokStart, tokEmpty:
			if err := fn(&c); err != nil {
				return err
			}
		case tokEnd:
			if !bytes.Equal(c.name, t.name) {
				return synErr(c.off, "element <%s> closed by </%s>", t.name, c.name)
			}
			return nil
		}
	}
}

// textOf reads the character data of the element t (skipping child
// elements) through its end tag.
func (p *xparser) textOf(t *xtok) (xtext, error) {
	if t.kind == tokEmpty {
		return xtext{off: t.end, end: t.end}, nil
	}
	var out xtext
	n := 0
	var c xtok
	for {
		if p.i >= len(p.b) {
			return out, errShort
		}
		if err := p.token(&c); err != nil {
			return out, err
		}
		switch c.kind {
		case tokText, tokCDATA:
			if n == 0 {
				out = c.text
			} else {
				out = xtext{s: string(p.textBytes(out)) + string(p.textBytes(c.text)), dec: true}
			}
			n++
		case tokStart:
			if err := p.endOf(&c); err != nil {
				return out, err
			}
		case tokEnd:
			if !bytes.Equal(c.name, t.name) {
				return out, synErr(c.off, "element <%s> closed by </%s>", t.name, c.name)
			}
			if n == 0 {
				out = xtext{off: c.off, end: c.off}
			}
			return out, nil
		}
	}
}
