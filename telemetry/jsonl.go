package telemetry

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/t1567001/harness/event"
	"io"
	"strconv"
	"strings"
)

// JSONL System keys, in the order WriteJSONL writes them. EventData names
// in the schemas this package renders (Sysmon 1/3/11/22, Security 4688,
// PowerShell 4104) never collide with these: e.g. 4688's ProcessId and
// Sysmon's ProcessId are distinct from ExecutionProcessID. A colliding
// EventData name would be read back as the System value.
const (
	jsonRunID        = "harness_run_id"
	jsonProvenance   = "harness_provenance"
	jsonObservations = "harness_observations"
	jsonModelled     = "harness_modelled_fields"
	jsonContext      = "harness_context"
	// jsonSimulated is the older mark of a simulated event, still read.
	jsonSimulated    = "harness_simulated"
	jsonEventID      = "EventID"
	jsonProvider     = "Provider"
	jsonProviderGUID = "ProviderGuid"
	jsonVersion      = "Version"
	jsonLevel        = "Level"
	jsonTask         = "Task"
	jsonOpcode       = "Opcode"
	jsonKeywords     = "Keywords"
	jsonTimeCreated  = "TimeCreated"
	jsonRecordID     = "EventRecordID"
	jsonExecPID      = "ExecutionProcessID"
	jsonExecTID      = "ExecutionThreadID"
	jsonChannel      = "Channel"
	jsonComputer     = "Computer"
	jsonUserID       = "UserID"
)

// WriteJSONL writes one JSON object per event per line. Keys come in a
// fixed order (System keys, then EventData in schema order), which map
// marshalling would lose, so the object is written by hand and
// encoding/json only encodes each string.
func WriteJSONL(w io.Writer, events []event.Event) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var line bytes.Buffer
	enc := json.NewEncoder(&line)
	// Command lines are full of & < >; \u0026 would only hurt grep.
	enc.SetEscapeHTML(false)
	str := func(s string) {
		if jsonPlainASCII(s) { // byte-identical to encoding/json, without its allocations
			line.WriteByte('"')
			line.WriteString(s)
			line.WriteByte('"')
			return
		}
		_ = enc.Encode(s) // a string always encodes (bad UTF-8 becomes U+FFFD)
		line.Truncate(line.Len() - 1)
	}
	key := func(k string) {
		if line.Len() > 1 {
			line.WriteByte(',')
		}
		str(k)
		line.WriteByte(':')
	}
	num := func(k string, n int64) {
		key(k)
		line.Write(strconv.AppendInt(line.AvailableBuffer(), n, 10))
	}
	for i := range events {
		e := &events[i]
		line.Reset()
		line.WriteByte('{')
		if e.RunID != "" {
			key(jsonRunID)
			str(e.RunID)
		}
		if e.Provenance != "" {
			key(jsonProvenance)
			str(string(e.Provenance))
		}
		list := func(k string, vs []string) {
			if len(vs) == 0 {
				return
			}
			key(k)
			line.WriteByte('[')
			for i, v := range vs {
				if i > 0 {
					line.WriteByte(',')
				}
				str(v)
			}
			line.WriteByte(']')
		}
		list(jsonObservations, e.Observations)
		list(jsonModelled, e.ModelledFields)
		if e.Context != "" {
			key(jsonContext)
			str(e.Context)
		}
		num(jsonEventID, int64(e.EventID))
		key(jsonProvider)
		str(e.Provider.Name)
		key(jsonProviderGUID)
		str(e.Provider.GUID)
		num(jsonVersion, int64(e.Version))
		num(jsonLevel, int64(e.Level))
		num(jsonTask, int64(e.Task))
		num(jsonOpcode, int64(e.Opcode))
		key(jsonKeywords)
		str(e.Keywords)
		key(jsonTimeCreated)
		line.WriteByte('"')
		line.Write(appendXMLSystemTime(line.AvailableBuffer(), e.TimeCreated))
		line.WriteByte('"')
		key(jsonRecordID)
		line.Write(strconv.AppendUint(line.AvailableBuffer(), e.RecordID, 10))
		num(jsonExecPID, int64(e.ExecutionPID))
		num(jsonExecTID, int64(e.ExecutionTID))
		key(jsonChannel)
		str(e.Channel)
		key(jsonComputer)
		str(e.Computer)
		if e.UserID != "" {
			key(jsonUserID)
			str(e.UserID)
		}
		for _, f := range e.Data {
			key(f.Name)
			str(f.Value)
		}
		line.WriteString("}\n")
		if _, err := bw.Write(line.Bytes()); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// jsonPlainASCII reports whether s is printable ASCII that encoding/json
// (HTML escaping off) would write unchanged between quotes.
func jsonPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// jsonlError locates a ReadJSONL failure by its 1-based line number.
type jsonlError struct {
	line int
	err  error
}

func (e *jsonlError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }
func (e *jsonlError) Unwrap() error { return e.err }

// ReadJSONL reads WriteJSONL's form back. It also takes hand-written
// objects with only some System keys (e.g. EventID, Computer, Channel plus
// EventData names): absent keys leave zero values. Numeric System keys may
// be JSON numbers or strings (OTRF's datasets write "Level":"4"). Every key
// that is not a System key becomes an EventData field, in line order;
// non-string values keep their JSON text (null becomes ""). Blank lines
// are skipped.
func ReadJSONL(r io.Reader) ([]event.Event, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var events []event.Event
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, &jsonlError{line: n, err: err}
		}
		if n == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		if len(bytes.TrimSpace(line)) > 0 {
			e, perr := parseJSONLine(line)
			if perr != nil {
				return nil, &jsonlError{line: n, err: perr}
			}
			events = append(events, e)
		}
		if err != nil { // io.EOF
			return events, nil
		}
	}
}

func parseJSONLine(line []byte) (event.Event, error) {
	var e event.Event
	d := json.NewDecoder(bytes.NewReader(line))
	t, err := d.Token()
	if err != nil {
		return e, err
	}
	if t != json.Delim('{') {
		return e, fmt.Errorf("want a JSON object, got %s", jsonTokenKind(t))
	}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return e, err
		}
		k, _ := t.(string) // object keys are always strings
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return e, fmt.Errorf("key %q: %w", k, err)
		}
		if err := setJSONKey(&e, k, raw); err != nil {
			return e, fmt.Errorf("key %q: %w", k, err)
		}
	}
	if _, err := d.Token(); err != nil { // the closing '}'
		return e, err
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return e, errors.New("unexpected data after the JSON object")
	}
	if e.Channel == "" && e.EventID == 0 {
		if err := recognizeNetworkLog(&e); err != nil {
			return e, err
		}
	}
	return e, nil
}

func setJSONKey(e *event.Event, k string, raw json.RawMessage) error {
	var err error
	switch k {
	case jsonRunID:
		e.RunID, err = jsonText(raw)
	case jsonProvenance:
		var s string
		if s, err = jsonText(raw); err == nil {
			e.Provenance, err = event.ParseProvenance(s)
		}
	case jsonSimulated:
		var sim bool
		if err = json.Unmarshal(raw, &sim); err == nil && sim {
			e.Provenance = event.Simulated
		}
	case jsonObservations:
		err = json.Unmarshal(raw, &e.Observations)
	case jsonModelled:
		err = json.Unmarshal(raw, &e.ModelledFields)
	case jsonContext:
		e.Context, err = jsonText(raw)
	case jsonEventID:
		e.EventID, err = jsonInt(raw)
	case jsonProvider:
		e.Provider.Name, err = jsonText(raw)
	case jsonProviderGUID:
		e.Provider.GUID, err = jsonText(raw)
	case jsonVersion:
		e.Version, err = jsonInt(raw)
	case jsonLevel:
		e.Level, err = jsonInt(raw)
	case jsonTask:
		e.Task, err = jsonInt(raw)
	case jsonOpcode:
		e.Opcode, err = jsonInt(raw)
	case jsonKeywords:
		e.Keywords, err = jsonText(raw)
	case jsonTimeCreated:
		var s string
		if s, err = jsonText(raw); err == nil {
			e.TimeCreated, err = parseXMLSystemTime(s)
		}
	case jsonRecordID:
		var s string
		if s, err = jsonText(raw); err == nil && s != "" {
			if e.RecordID, err = strconv.ParseUint(s, 10, 64); err != nil {
				err = fmt.Errorf("invalid record ID %q", s)
			}
		}
	case jsonExecPID:
		e.ExecutionPID, err = jsonInt(raw)
	case jsonExecTID:
		e.ExecutionTID, err = jsonInt(raw)
	case jsonChannel:
		e.Channel, err = jsonText(raw)
	case jsonComputer:
		e.Computer, err = jsonText(raw)
	case jsonUserID:
		e.UserID, err = jsonText(raw)
	default:
		var v string
		if v, err = jsonText(raw); err == nil {
			e.Data = append(e.Data, event.Field{Name: k, Value: v})
		}
	}
	return err
}

// jsonText returns a JSON string's value, or any other value's JSON text
// (null as ""), so hand-written numbers and booleans survive as EventData.
func jsonText(raw json.RawMessage) (string, error) {
	switch {
	case len(raw) > 0 && raw[0] == '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case string(raw) == "null":
		return "", nil
	default:
		return string(raw), nil
	}
}

func jsonInt(raw json.RawMessage) (int, error) {
	s, err := jsonText(raw)
	if err != nil {
		return 0, err
	}
	if s = strings.TrimSpace(s); s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("invalid integer %s", raw)
	}
	return n, nil
}

func jsonTokenKind(t json.Token) string {
	switch t := t.(type) {
	case json.Delim:
		if t == '[' {
			return "an array"
		}
		return string(t)
	case string:
		return "a string"
	case nil:
		return "null"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

// ReadEvents sniffs the format (first non-space byte '<' → XML, '{' →
// JSONL) and dispatches; name prefixes errors, compiler style:
// "events.jsonl:12: ..." or "events.xml:3:15: ...". Empty or blank input
// is zero events.
func ReadEvents(name string, r io.Reader) ([]event.Event, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := sniffFirstByte(br)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	switch first {
	case '<':
		events, err := ReadXML(br)
		if xe := (*xmlError)(nil); errors.As(err, &xe) {
			return nil, fmt.Errorf("%s:%d:%d: %s", name, xe.line, xe.col, xe.detail())
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return events, nil
	case '{':
		if line, _ := br.Peek(64 << 10); IsGitHubAudit(bytes.SplitN(bytes.TrimLeft(line, "\ufeff \t\r\n"), []byte("\n"), 2)[0]) {
			events, err := ReadGitHubAudit(br)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return events, nil
		}
		events, err := ReadJSONL(br)
		if je := (*jsonlError)(nil); errors.As(err, &je) {
			return nil, fmt.Errorf("%s:%d: %w", name, je.line, je.err)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return events, nil
	default:
		return nil, fmt.Errorf("%s: unrecognised format: first byte %q is neither '<' (XML) nor '{' (JSONL)", name, first)
	}
}

// sniffFirstByte returns the first byte after a UTF-8 BOM and whitespace
// without consuming anything, so the chosen reader still sees every byte
// and reports true positions.
func sniffFirstByte(br *bufio.Reader) (byte, error) {
	for n := 1; ; n++ {
		buf, err := br.Peek(n)
		if len(buf) < n {
			if errors.Is(err, bufio.ErrBufferFull) {
				return 0, errors.New("no content in the first 64 KiB")
			}
			return 0, err
		}
		c := buf[n-1]
		if n <= 3 && bytes.HasPrefix([]byte("\xef\xbb\xbf"), buf) {
			continue // (part of) a BOM
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c, nil
	}
}
