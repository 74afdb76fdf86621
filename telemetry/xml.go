package telemetry

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"github.com/t1567001/harness/event"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// eventNS is the namespace every Windows event element carries.
const eventNS = "http://schemas.microsoft.com/win/2004/08/events/event"

// systemTimeLayout is TimeCreated/@SystemTime as current Windows' EvtRender
// writes it and the Splunk samples carry it: UTC, nine fractional digits,
// Z. The clock is a FILETIME, so the last two digits are always 00
// (2020-10-08T11:03:46.617920300Z); older Windows wrote seven digits, which
// the readers accept too.
const systemTimeLayout = "2006-01-02T15:04:05.000000000Z"

// appendXMLSystemTime renders t the way Windows writes SystemTime,
// truncated to the FILETIME's 100 ns resolution. JSONL's TimeCreated is
// the same string, so the two forms compare textually.
func appendXMLSystemTime(b []byte, t time.Time) []byte {
	return t.UTC().Truncate(100*time.Nanosecond).AppendFormat(b, systemTimeLayout)
}

// parseXMLSystemTime accepts Windows' RFC 3339 form and python-evtx's
// "2019-05-02 14:48:53.950750" (UTC, no zone). Empty means the zero time.
func parseXMLSystemTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{
		time.RFC3339Nano,
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04:05.999999999",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid SystemTime %q", s)
}

// WriteXML writes events as one <Events> document: an XML declaration, then
// one event element per line in exactly the shape MarshalEventXML renders.
func WriteXML(w io.Writer, events []event.Event) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Events>\n")
	var buf []byte
	for i := range events {
		buf = appendEventXML(buf[:0], &events[i])
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	bw.WriteString("</Events>\n")
	return bw.Flush()
}

// MarshalEventXML renders one event element (no declaration, no <Events>),
// the unit WriteXML repeats. The shape is EvtRender's, byte for byte as
// Splunk's XmlWinEventLog stores it: single-quoted attributes, no
// whitespace, <System> children in Windows' order.
func MarshalEventXML(e event.Event) []byte {
	return appendEventXML(make([]byte, 0, 1024+64*len(e.Data)), &e)
}

func appendEventXML(b []byte, e *event.Event) []byte {
	b = append(b, "<Event xmlns='"+eventNS+"'><System><Provider Name='"...)
	b = appendXMLAttr(b, e.Provider.Name)
	b = append(b, '\'')
	// Classic (non-manifest) providers have no Guid; Windows then omits it.
	if e.Provider.GUID != "" {
		b = append(b, " Guid='"...)
		b = appendXMLAttr(b, e.Provider.GUID)
		b = append(b, '\'')
	}
	b = append(b, "/><EventID>"...)
	b = strconv.AppendInt(b, int64(e.EventID), 10)
	b = append(b, "</EventID><Version>"...)
	b = strconv.AppendInt(b, int64(e.Version), 10)
	b = append(b, "</Version><Level>"...)
	b = strconv.AppendInt(b, int64(e.Level), 10)
	b = append(b, "</Level><Task>"...)
	b = strconv.AppendInt(b, int64(e.Task), 10)
	b = append(b, "</Task><Opcode>"...)
	b = strconv.AppendInt(b, int64(e.Opcode), 10)
	b = append(b, "</Opcode><Keywords>"...)
	b = appendXMLText(b, e.Keywords)
	b = append(b, "</Keywords><TimeCreated SystemTime='"...)
	b = appendXMLSystemTime(b, e.TimeCreated)
	b = append(b, "'/><EventRecordID>"...)
	b = strconv.AppendUint(b, e.RecordID, 10)
	b = append(b, "</EventRecordID><Correlation/><Execution ProcessID='"...)
	b = strconv.AppendInt(b, int64(e.ExecutionPID), 10)
	b = append(b, "' ThreadID='"...)
	b = strconv.AppendInt(b, int64(e.ExecutionTID), 10)
	b = append(b, "'/><Channel>"...)
	b = appendXMLText(b, e.Channel)
	b = append(b, "</Channel><Computer>"...)
	b = appendXMLText(b, e.Computer)
	b = append(b, "</Computer>"...)
	if e.UserID == "" {
		b = append(b, "<Security/>"...)
	} else {
		b = append(b, "<Security UserID='"...)
		b = appendXMLAttr(b, e.UserID)
		b = append(b, "'/>"...)
	}
	b = append(b, "</System><EventData>"...)
	for _, f := range e.Data {
		b = append(b, "<Data Name='"...)
		b = appendXMLAttr(b, f.Name)
		b = append(b, "'>"...)
		// An empty value is written <Data Name='X'></Data>, not
		// <Data Name='X'/>: that is what EvtRender emits (e.g. 4688's
		// CommandLine when command-line auditing is off, as collected by
		// Windows Event Forwarding). The "/>" form is Event Viewer's
		// pretty-printing; ReadXML accepts both.
		b = appendXMLText(b, f.Value)
		b = append(b, "</Data>"...)
	}
	return append(b, "</EventData></Event>"...)
}

// appendXMLText escapes character data. Double and single quotes stay
// literal in text, as in the Splunk samples.
func appendXMLText(b []byte, s string) []byte { return appendXMLEscaped(b, s, false) }

// appendXMLAttr escapes a single-quoted attribute value.
func appendXMLAttr(b []byte, s string) []byte { return appendXMLEscaped(b, s, true) }

// appendXMLEscaped escapes & < > (and ' in attributes). CR and LF become
// character references: a parser would otherwise normalise CR LF to LF,
// and Windows' raw newlines (e.g. 4104 ScriptBlockText) would break the
// one-event-per-line layout. In attributes, tab is referenced too because
// attribute-value normalisation turns raw whitespace into spaces. Code
// points XML 1.0 cannot carry at all (most C0 controls, invalid UTF-8)
// become U+FFFD, as encoding/xml.EscapeText does, so the output always
// parses.
func appendXMLEscaped(b []byte, s string, attr bool) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		// Fast path: most bytes are printable ASCII needing nothing.
		if c >= 0x20 && c < utf8.RuneSelf && c != '&' && c != '<' && c != '>' && c != '\'' {
			i++
			continue
		}
		var esc string
		width := 1
		switch {
		case c == '&':
			esc = "&amp;"
		case c == '<':
			esc = "&lt;"
		case c == '>':
			esc = "&gt;"
		case c == '\'' && attr:
			esc = "&apos;"
		case c == '\n':
			esc = "&#xA;"
		case c == '\r':
			esc = "&#xD;"
		case c == '\t':
			if attr {
				esc = "&#x9;"
			}
		case c < 0x20:
			esc = "\uFFFD"
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(s[i:])
			width = n
			if (r == utf8.RuneError && n == 1) || r == 0xFFFE || r == 0xFFFF {
				esc = "\uFFFD"
			}
		}
		if esc != "" {
			b = append(b, s[last:i]...)
			b = append(b, esc...)
			last = i + width
		}
		i += width
	}
	return append(b, s[last:]...)
}

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
func ReadXML(r io.Reader) ([]event.Event, error) {
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
		e.TimeCreated, err = parseXMLSystemTime(xmlAttrValue(t, "SystemTime"))
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
		if t.Name.Local != "Data" {
			return p.skip()
		}
		v, err := p.text()
		if err != nil {
			return err
		}
		e.Data = append(e.Data, event.Field{Name: xmlAttrValue(t, "Name"), Value: v})
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
