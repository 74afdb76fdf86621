package telemetry

import (
	"bufio"
	"github.com/t1567001/harness/event"
	"io"
	"strconv"
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
