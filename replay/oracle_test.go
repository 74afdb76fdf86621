package replay

// The reference reader: Windows Event XML decoded with encoding/xml, as
// the harness read it before the scanner. The scanner must agree with it
// on every sample and under fuzzing.

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/t1567001/harness/event"
)

// xmlError locates a ReadXML failure; ReadEvents turns it into
// "name:line:col: ...".
type xmlError struct {
	line, col int
	offset    int64
	event     int // 1-based number of the <Event> being read; 0 if none
	err       error
}

func (e *xmlError) Error() string {
	return fmt.Sprintf("line %d, column %d (byte %d): %s", e.line, e.col, e.offset, e.detail())
}

func (e *xmlError) detail() string {
	if e.event > 0 {
		return fmt.Sprintf("event %d: %v", e.event, e.err)
	}
	return e.err.Error()
}

func (e *xmlError) Unwrap() error { return e.err }

// ReadXML reads Windows Event XML: an <Events> document, or a stream of bare
// <Event> elements (Splunk's export, one per line), in EvtRender's compact
// single-quoted form or python-evtx's double-quoted, indented form with an
// XML 1.1 declaration. Unknown elements inside an event (RenderingInfo,
// UserData, Binary) are skipped.
func oracleReadXML(r io.Reader) ([]event.Event, error) {
	r, skipped, err := xmlPrologue(r)
	if err != nil {
		return nil, err
	}
	p := &xmlReader{d: xml.NewDecoder(r), base: skipped}
	p.d.CharsetReader = func(charset string, _ io.Reader) (io.Reader, error) {
		return nil, fmt.Errorf("unsupported encoding %q (want UTF-8)", charset)
	}
	return p.read()
}

// xmlPrologue drops a UTF-8 BOM and rewrites an XML 1.1 declaration (as
// python-evtx writes) to 1.0, which encoding/xml refuses; Windows event
// XML uses nothing 1.1 adds. The rewrite keeps every byte offset.
func xmlPrologue(r io.Reader) (io.Reader, int64, error) {
	head := make([]byte, 256)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, 0, err
	}
	head = head[:n]
	var skipped int64
	if bom := []byte("\xef\xbb\xbf"); bytes.HasPrefix(head, bom) {
		head = head[len(bom):]
		skipped = int64(len(bom))
	}
	if bytes.HasPrefix(head, []byte("<?xml")) {
		end := bytes.Index(head, []byte("?>"))
		if end < 0 {
			end = len(head)
		}
		decl := head[:end]
		if i := bytes.Index(decl, []byte("version")); i >= 0 {
			v := bytes.TrimLeft(decl[i+len("version"):], " \t\r\n")
			if len(v) > 0 && v[0] == '=' {
				v = bytes.TrimLeft(v[1:], " \t\r\n")
				if len(v) >= 4 && (v[0] == '"' || v[0] == '\'') && string(v[1:4]) == "1.1" {
					v[3] = '0' // v aliases head
				}
			}
		}
	}
	return io.MultiReader(bytes.NewReader(head), r), skipped, nil
}

type xmlReader struct {
	d      *xml.Decoder
	base   int64 // bytes dropped before the decoder's input (a BOM)
	nEvent int
}

func (p *xmlReader) fail(err error) error {
	var pe *xmlError
	if errors.As(err, &pe) {
		return err
	}
	line, col := p.d.InputPos()
	return &xmlError{line: line, col: col, offset: p.base + p.d.InputOffset(), event: p.nEvent, err: err}
}

func (p *xmlReader) token() (xml.Token, error) {
	t, err := p.d.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, p.fail(io.ErrUnexpectedEOF)
		}
		return nil, p.fail(err)
	}
	return t, nil
}

func (p *xmlReader) read() ([]event.Event, error) {
	var events []event.Event
	depth := 0 // 1 inside <Events>
	for {
		t, err := p.d.Token()
		if errors.Is(err, io.EOF) {
			if depth > 0 {
				return nil, p.fail(errors.New("unexpected EOF: <Events> not closed"))
			}
			return events, nil
		}
		if err != nil {
			return nil, p.fail(err)
		}
		switch t := t.(type) {
		case xml.StartElement:
			switch {
			case t.Name.Local == "Event":
				p.nEvent++
				e, err := p.event()
				if err != nil {
					return nil, err
				}
				events = append(events, e)
			case t.Name.Local == "Events" && depth == 0:
				depth++
			default:
				return nil, p.fail(fmt.Errorf("unexpected element <%s>, want <Event>", t.Name.Local))
			}
		case xml.EndElement:
			depth-- // the decoder guarantees it matches <Events>
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, p.fail(fmt.Errorf("unexpected text %q outside <Event>", xmlTruncate(string(t), 20)))
			}
		}
	}
}

// event reads the children of an <Event> whose start tag was just read.
func (p *xmlReader) event() (event.Event, error) {
	var e event.Event
	for {
		t, err := p.token()
		if err != nil {
			return e, err
		}
		switch t := t.(type) {
		case xml.EndElement:
			return e, nil
		case xml.StartElement:
			switch t.Name.Local {
			case "System":
				err = p.system(&e)
			case "EventData":
				err = p.eventData(&e)
			case "UserData":
				err = p.userData(&e)
			default:
				err = p.skip()
			}
			if err != nil {
				return e, err
			}
		}
	}
}

func (p *xmlReader) skip() error {
	if err := p.d.Skip(); err != nil {
		return p.fail(err)
	}
	return nil
}

// children calls each for every child element of the element whose start
// tag was just read, up to its end tag; each must consume the child.
func (p *xmlReader) children(each func(xml.StartElement) error) error {
	for {
		t, err := p.token()
		if err != nil {
			return err
		}
		switch t := t.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			if err := each(t); err != nil {
				return err
			}
		}
	}
}

func (p *xmlReader) system(e *event.Event) error {
	return p.children(func(t xml.StartElement) error { return p.systemChild(e, t) })
}

func (p *xmlReader) systemChild(e *event.Event, t xml.StartElement) error {
	var err error
	switch t.Name.Local {
	case "Provider":
		e.Provider = event.Provider{Name: xmlAttrValue(t, "Name"), GUID: xmlAttrValue(t, "Guid")}
	case "TimeCreated":
		e.TimeCreated, err = parseSystemTime(xmlAttrValue(t, "SystemTime"))
	case "Execution":
		if e.ExecutionPID, err = xmlAtoiAttr(t, "ProcessID"); err == nil {
			e.ExecutionTID, err = xmlAtoiAttr(t, "ThreadID")
		}
	case "Security":
		e.UserID = xmlAttrValue(t, "UserID")
	case "EventID", "Version", "Level", "Task", "Opcode", "Keywords",
		"EventRecordID", "Channel", "Computer":
		s, err := p.text()
		if err != nil {
			return err
		}
		if err := xmlSetSystemText(e, t.Name.Local, s); err != nil {
			return p.fail(err)
		}
		return nil // text consumed the end tag
	}
	if err != nil {
		return p.fail(err)
	}
	return p.skip()
}

func xmlSetSystemText(e *event.Event, name, s string) error {
	var err error
	switch name {
	case "EventID":
		e.EventID, err = xmlAtoi(name, s)
	case "Version":
		e.Version, err = xmlAtoi(name, s)
	case "Level":
		e.Level, err = xmlAtoi(name, s)
	case "Task":
		e.Task, err = xmlAtoi(name, s)
	case "Opcode":
		e.Opcode, err = xmlAtoi(name, s)
	case "Keywords":
		e.Keywords = s
	case "EventRecordID":
		if s = strings.TrimSpace(s); s != "" {
			if e.RecordID, err = strconv.ParseUint(s, 10, 64); err != nil {
				err = fmt.Errorf("EventRecordID: invalid number %q", s)
			}
		}
	case "Channel":
		e.Channel = s
	case "Computer":
		e.Computer = s
	}
	return err
}

func (p *xmlReader) eventData(e *event.Event) error {
	return p.children(func(t xml.StartElement) error {
		if t.Name.Local != "Data" && t.Name.Local != "Binary" {
			return p.skip()
		}
		v, err := p.text()
		if err != nil {
			return err
		}
		name := t.Name.Local
		for _, a := range t.Attr {
			if a.Name.Local == "Name" {
				name = a.Value
				break
			}
		}
		e.Data = append(e.Data, event.Field{Name: name, Value: v})
		return nil
	})
}

// text returns the character data of the element whose start tag was just
// read, through its end tag, verbatim (values keep their whitespace).
func (p *xmlReader) text() (string, error) {
	var sb strings.Builder
	for {
		t, err := p.token()
		if err != nil {
			return "", err
		}
		switch t := t.(type) {
		case xml.CharData:
			sb.Write(t)
		case xml.StartElement:
			if err := p.skip(); err != nil {
				return "", err
			}
		case xml.EndElement:
			return sb.String(), nil
		}
	}
}

func xmlAttrValue(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func xmlAtoiAttr(t xml.StartElement, name string) (int, error) {
	return xmlAtoi(t.Name.Local+"/@"+name, xmlAttrValue(t, name))
}

// atoiField parses a decimal System value; empty means 0 (python-evtx
// writes empty elements for absent values).
func xmlAtoi(name, s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s: invalid number %q", name, s)
	}
	return n, nil
}

func xmlTruncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// userData flattens <UserData>: each element without child elements is a
// field named by its element.
func (p *xmlReader) userData(e *event.Event) error {
	return p.children(func(t xml.StartElement) error { return p.userLeaf(e, t) })
}

func (p *xmlReader) userLeaf(e *event.Event, t xml.StartElement) error {
	var sb strings.Builder
	leaf := true
	for {
		tok, err := p.token()
		if err != nil {
			return err
		}
		switch tok := tok.(type) {
		case xml.CharData:
			sb.Write(tok)
		case xml.StartElement:
			leaf = false
			if err := p.userLeaf(e, tok); err != nil {
				return err
			}
		case xml.EndElement:
			if leaf {
				e.Data = append(e.Data, event.Field{Name: t.Name.Local, Value: sb.String()})
			}
			return nil
		}
	}
}
