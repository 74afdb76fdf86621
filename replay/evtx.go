package replay

import (
	"bytes"
	_ "embed" // the hex field table
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/Velocidex/ordereddict"
	"www.velocidex.com/golang/evtx"

	"github.com/t1567001/harness/event"
)

// EVTX is read chunk by chunk (64 KiB each, as the format lays them out),
// so a log of any size is read in constant memory and from a stream (a
// gzip, say) as well as from a file. Parsing each chunk is the
// velocidex evtx library's.

const (
	evtxChunkSize   = 0x10000
	evtxChunkMagic  = "ElfChnk\x00"
	evtxHeaderBytes = 128
)

//go:embed hexfields.txt
var hexFieldsText string

// hexFields maps provider (or "*") and field to true for the fields Windows
// renders in hexadecimal.
func hexFields() map[[2]string]bool {
	m := map[[2]string]bool{}
	for _, line := range strings.Split(hexFieldsText, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if p, f, ok := strings.Cut(line, " "); ok {
			m[[2]string{p, strings.TrimSpace(f)}] = true
		}
	}
	return m
}

type evtxDecoder struct {
	file    string
	r       io.Reader
	started bool
	chunk   int
	records []*evtx.EventRecord
	buf     []byte
	hex     map[[2]string]bool
}

func newEVTXDecoder(file string, r io.Reader) *evtxDecoder {
	return &evtxDecoder{file: file, r: r, buf: make([]byte, evtxChunkSize), hex: hexFields()}
}

func (d *evtxDecoder) next() (event.Event, error) {
	if !d.started {
		d.started = true
		if err := d.header(); err != nil {
			return event.Event{}, err
		}
	}
	for len(d.records) == 0 {
		n, err := io.ReadFull(d.r, d.buf)
		if errors.Is(err, io.EOF) {
			return event.Event{}, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return event.Event{}, &fatalError{&RecordError{File: d.file, Err: fmt.Errorf("chunk %d is truncated (%d of %d bytes)", d.chunk+1, n, evtxChunkSize)}}
		}
		if err != nil {
			return event.Event{}, fmt.Errorf("%s: %w", d.file, err)
		}
		d.chunk++
		if string(d.buf[:8]) != evtxChunkMagic {
			continue // an unused chunk
		}
		recs, err := parseChunk(d.buf)
		if err != nil {
			return event.Event{}, &RecordError{File: d.file, Err: fmt.Errorf("chunk %d: %w", d.chunk, err)}
		}
		d.records = recs
	}
	rec := d.records[0]
	d.records = d.records[1:]
	ev, err := d.toEvent(rec)
	if err != nil {
		return ev, &RecordError{File: d.file, Err: fmt.Errorf("chunk %d, record %d: %w", d.chunk, rec.Header.RecordID, err)}
	}
	return ev, nil
}

// header checks the file header and skips to the first chunk.
func (d *evtxDecoder) header() error {
	h := make([]byte, evtxHeaderBytes)
	if _, err := io.ReadFull(d.r, h); err != nil {
		return fmt.Errorf("%s: EVTX header: %w", d.file, err)
	}
	minor, major := binary.LittleEndian.Uint16(h[36:]), binary.LittleEndian.Uint16(h[38:])
	if major != 3 || minor > 2 {
		return fmt.Errorf("%s: EVTX version %d.%d is not supported (want 3.0-3.2)", d.file, major, minor)
	}
	size := int64(binary.LittleEndian.Uint16(h[40:]))
	if size < evtxHeaderBytes {
		return fmt.Errorf("%s: EVTX header block of %d bytes", d.file, size)
	}
	if _, err := io.CopyN(io.Discard, d.r, size-evtxHeaderBytes); err != nil {
		return fmt.Errorf("%s: EVTX header: %w", d.file, err)
	}
	return nil
}

// parseChunk runs the library on one chunk; a malformed chunk must not
// take the process down, so a panic in it is an error for that chunk.
func parseChunk(buf []byte) (recs []*evtx.EventRecord, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed chunk: %v", p)
		}
	}()
	chunk, err := evtx.NewChunk(bytes.NewReader(buf), 0)
	if err != nil {
		return nil, err
	}
	return chunk.Parse(0)
}

func (d *evtxDecoder) toEvent(rec *evtx.EventRecord) (event.Event, error) {
	var e event.Event
	root, ok := rec.Event.(*ordereddict.Dict)
	if !ok {
		return e, fmt.Errorf("unexpected record %T", rec.Event)
	}
	ev := dictAt(root, "Event")
	sys := dictAt(ev, "System")
	if sys == nil {
		return e, errors.New("record has no System block")
	}
	e.Provider = event.Provider{Name: dictString(sys, "Provider", "Name"), GUID: braced(dictString(sys, "Provider", "Guid"))}
	if e.Provider.Name == "" {
		e.Provider.Name = dictString(sys, "Provider", "EventSourceName")
	}
	e.EventID = dictInt(sys, "EventID", "Value")
	if e.EventID == 0 {
		e.EventID = dictInt(sys, "EventID")
	}
	e.Version, e.Level, e.Task, e.Opcode = dictInt(sys, "Version"), dictInt(sys, "Level"), dictInt(sys, "Task"), dictInt(sys, "Opcode")
	if kw, ok := dictValue(sys, "Keywords"); ok {
		if n, ok := asUint(kw); ok {
			e.Keywords = "0x" + strconv.FormatUint(n, 16)
		} else {
			e.Keywords = valueText(kw)
		}
	}
	if t, ok := dictValue(sys, "TimeCreated", "SystemTime"); ok {
		if f, ok := t.(float64); ok {
			e.TimeCreated = evtxTime(f, rec.Header.FileTime)
		}
	}
	if id, ok := dictValue(sys, "EventRecordID"); ok {
		if n, ok := asUint(id); ok {
			e.RecordID = n
		}
	}
	if e.RecordID == 0 {
		e.RecordID = rec.Header.RecordID
	}
	e.ExecutionPID, e.ExecutionTID = dictInt(sys, "Execution", "ProcessID"), dictInt(sys, "Execution", "ThreadID")
	e.Channel, e.Computer = dictString(sys, "Channel"), dictString(sys, "Computer")
	e.UserID = dictString(sys, "Security", "UserID")
	if data := dictAt(ev, "EventData"); data != nil {
		d.fields(&e, data, false)
	}
	if data := dictAt(ev, "UserData"); data != nil {
		d.fields(&e, data, true)
	}
	return e, nil
}

// filetimeUnix is 1970-01-01 in FILETIME units (100 ns since 1601).
const filetimeUnix = 116444736000000000

// evtxTime is TimeCreated from the seconds the library hands over as a
// float64, which at today's dates keeps about 2 µs: the record header's
// FILETIME, which Windows writes with the same time, where the library's
// conversion of it gives the same float, else the float to 100 ns.
func evtxTime(f float64, header uint64) time.Time {
	// The library's own conversion, to compare floats computed alike.
	if header >= filetimeUnix && (float64(header)-filetimeUnix)/10000000 == f {
		ticks := header - filetimeUnix
		return time.Unix(int64(ticks/10_000_000), int64(ticks%10_000_000)*100).UTC()
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e7))*100).UTC()
}

// fields appends a data block's values; UserData's provider element is
// flattened to its leaves.
func (d *evtxDecoder) fields(e *event.Event, data *ordereddict.Dict, flatten bool) {
	for _, k := range data.Keys() {
		v, _ := data.Get(k)
		if k == "Data" && !flatten && d.dataItems(e, v) {
			continue
		}
		if sub, ok := v.(*ordereddict.Dict); ok && flatten {
			d.fields(e, sub, true)
			continue
		}
		d.field(e, k, v)
	}
}

// field appends one value as Windows renders it.
func (d *evtxDecoder) field(e *event.Event, name string, v any) {
	s := valueText(v)
	if n, ok := asUint(v); ok && (d.hex[[2]string{"*", name}] || d.hex[[2]string{e.Provider.Name, name}]) {
		s = "0x" + strconv.FormatUint(n, 16)
	} else if isGUID(s) {
		s = "{" + s + "}" // the library drops the braces Windows writes
	}
	e.Data = append(e.Data, event.Field{Name: name, Value: s})
}

// dataItems appends <Data Name="...">s the library left as they are: it
// turns them into name: value pairs only when there are two or more and
// every one has a value (an empty one, a NULL substitution, has none).
func (d *evtxDecoder) dataItems(e *event.Event, v any) bool {
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	for _, it := range items {
		if m, ok := it.(*ordereddict.Dict); !ok || dictString(m, "Name") == "" {
			return false
		}
	}
	for _, it := range items {
		m := it.(*ordereddict.Dict)
		name := dictString(m, "Name")
		val, _ := m.Get("Value")
		d.field(e, name, val)
	}
	return true
}

// isGUID reports whether s is a GUID as the library renders one:
// 8-4-4-4-12 upper-case hex digits, no braces.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func braced(g string) string {
	if g == "" || strings.HasPrefix(g, "{") {
		return g
	}
	return "{" + g + "}"
}

func dictValue(d *ordereddict.Dict, keys ...string) (any, bool) {
	var v any = d
	for _, k := range keys {
		dd, ok := v.(*ordereddict.Dict)
		if !ok || dd == nil {
			return nil, false
		}
		if v, ok = dd.Get(k); !ok {
			return nil, false
		}
	}
	return v, true
}

func dictAt(d *ordereddict.Dict, keys ...string) *ordereddict.Dict {
	v, _ := dictValue(d, keys...)
	dd, _ := v.(*ordereddict.Dict)
	return dd
}

func dictString(d *ordereddict.Dict, keys ...string) string {
	v, ok := dictValue(d, keys...)
	if !ok {
		return ""
	}
	return valueText(v)
}

func dictInt(d *ordereddict.Dict, keys ...string) int {
	v, _ := dictValue(d, keys...)
	if n, ok := asUint(v); ok {
		return int(n)
	}
	return 0
}

func asUint(v any) (uint64, bool) {
	switch n := v.(type) {
	case uint8:
		return uint64(n), true
	case uint16:
		return uint64(n), true
	case uint32:
		return uint64(n), true
	case uint64:
		return n, true
	case int:
		return uint64(n), n >= 0
	case int64:
		return uint64(n), n >= 0
	}
	return 0, false
}

// valueText renders a value as Windows' event XML carries it.
func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return "false"
	case []byte:
		return strings.ToUpper(fmt.Sprintf("%x", x))
	case []string:
		return strings.Join(x, "\n")
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case *ordereddict.Dict:
		b, err := x.MarshalJSON()
		if err != nil {
			return ""
		}
		return string(b)
	}
	if n, ok := asUint(v); ok {
		return strconv.FormatUint(n, 10)
	}
	return fmt.Sprint(v)
}
