// Package evtxwrite writes Windows event log files (EVTX) from the
// harness's event model, laid out as Windows lays them out, so that the
// replay's EVTX reader can be tested, and benchmarked on files of any
// size, without a Windows host.
//
// The layout follows libyal's description of the format (libevtx) and
// what Windows writes: a 4096-byte file header; 64 KiB chunks, each with
// its record number and identifier ranges, its tables of interned names
// and templates, and the CRC32 of its header and of its records; and
// event records (signature 0x2a2a, size, record identifier, FILETIME)
// carrying Binary XML. As in Windows' own logs, each record is a template
// instance: the System block is one template, with the computer name as
// literal text, whose last substitution is a Binary XML value holding a
// second template instance, the EventData. A template is defined by the
// first record of a chunk that uses it and referenced by the records after
// it; names are written once a chunk and referenced after. Substitution
// values are typed as Windows types them: UInt16 for the EventID, FILETIME
// for TimeCreated, HexInt64 for Keywords, UInt64 for the EventRecordID,
// SID for the UserID, and for EventData fields the type their provider's
// manifest declares (types.txt), where the value's text is that type's
// rendering.
//
// The writer takes the event model; Event XML, or any format the replay
// reads, becomes EVTX by reading it with the replay and writing the
// events it gives (see the example).
package evtxwrite

import (
	_ "embed" // the field type table
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/t1567001/harness/event"
)

const (
	fileHeaderBlock  = 0x1000
	fileHeaderSize   = 0x80
	chunkSize        = 0x10000
	chunkHeaderSize  = 0x200
	recordHeaderSize = 24
	// filetimeUnix is 1970-01-01 in FILETIME units (100 ns since 1601).
	filetimeUnix = 116444736000000000
	eventNS      = "http://schemas.microsoft.com/win/2004/08/events/event"
	// noDependency is an element that does not depend on a substitution.
	noDependency = 0xffff
)

// Binary XML tokens.
const (
	tokEOF          = 0x00
	tokOpenStart    = 0x01
	tokCloseStart   = 0x02
	tokCloseEmpty   = 0x03
	tokEndElement   = 0x04
	tokValue        = 0x05
	tokAttribute    = 0x06
	tokTemplate     = 0x0c
	tokNormalSubst  = 0x0d
	tokOptionalSubs = 0x0e
	tokFragment     = 0x0f
	flagMore        = 0x40 // attributes follow (on open start), another attribute follows
)

// Substitution value types.
const (
	typeNull     byte = 0x00
	typeString   byte = 0x01
	typeUInt8    byte = 0x04
	typeUInt16   byte = 0x06
	typeUInt32   byte = 0x08
	typeUInt64   byte = 0x0a
	typeBool     byte = 0x0d
	typeGUID     byte = 0x0f
	typeFileTime byte = 0x11
	typeSID      byte = 0x13
	typeHex32    byte = 0x14
	typeHex64    byte = 0x15
	typeBinXML   byte = 0x21
)

// The System template's substitutions, numbered as Windows numbers them.
const (
	subLevel = iota
	subOpcode
	subTask
	subEventID
	subQualifiers
	subKeywords
	subTime
	subActivityID
	subProcessID
	subThreadID
	subRecordID
	subVersion
	subUserID
	subRelatedActivityID
	subProvider
	subProviderGUID
	subChannel
	subEventData
	systemSubs
	// subNoComputer is an extra, NULL substitution standing for an
	// empty computer name.
	subNoComputer = systemSubs
)

//go:embed types.txt
var typesText string

var typeNames = map[string]byte{
	"UInt16": typeUInt16, "UInt32": typeUInt32, "UInt64": typeUInt64, "Boolean": typeBool,
	"GUID": typeGUID, "SID": typeSID, "HexInt32": typeHex32, "HexInt64": typeHex64,
}

// fieldTypes reads types.txt: provider (or "*") and field to value type.
func fieldTypes() (map[[2]string]byte, error) {
	m := map[[2]string]byte{}
	for i, line := range strings.Split(typesText, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("types.txt:%d: want provider, field and type", i+1)
		}
		t, ok := typeNames[f[2]]
		if !ok {
			return nil, fmt.Errorf("types.txt:%d: unknown type %q", i+1, f[2])
		}
		m[[2]string{f[0], f[1]}] = t
	}
	return m, nil
}

// value is one substitution value.
type value struct {
	typ  byte
	size int
	s    string   // typeString
	n    uint64   // integers, booleans, FILETIME
	b    [68]byte // GUID and SID bytes (a SID has at most 15 sub-authorities)
}

// A Writer writes events to an EVTX file. Events are written in the order
// given; the file header, which counts the chunks and holds the next
// record identifier, is written by Close.
type Writer struct {
	w     io.WriteSeeker
	types map[[2]string]byte

	// The chunk being filled.
	chunk     []byte
	used      int // end of its records
	last      int // offset of its last record
	count     int // records in it
	firstNum  uint64
	firstID   uint64
	lastID    uint64
	names     map[string]uint32   // name -> offset of its definition
	templates map[string]template // template key -> definition
	ids       map[uint32]bool     // template identifiers in use
	strHeads  [64]uint32          // the name table's buckets, as chained so far
	tplHeads  [32]uint32          // the template table's buckets
	defined   []definition        // names and templates, in order

	chunks  int
	records uint64 // records written to earlier chunks and this one
	nextID  uint64

	// Scratch reused for every record.
	rec  []byte
	base int // chunk offset of rec[0]
	sys  [systemSubs + 1]value
	data []value
	// The templates' keys: the EventData's field names and types, and
	// the System's computer name (its literal text).
	dataKey, sysKey []byte
	err             error
}

type template struct{ off, id uint32 }

type definition struct {
	off      uint32
	slot     int
	template bool
}

var errClosed = errors.New("evtx writer closed")

// NewWriter starts an EVTX file at w's current position, which must be
// its start (the header is written there on Close).
func NewWriter(w io.WriteSeeker) (*Writer, error) {
	types, err := fieldTypes()
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(make([]byte, fileHeaderBlock)); err != nil {
		return nil, fmt.Errorf("evtx header: %w", err)
	}
	wr := &Writer{
		w: w, types: types, chunk: make([]byte, chunkSize), nextID: 1,
		names: map[string]uint32{}, templates: map[string]template{}, ids: map[uint32]bool{},
	}
	wr.resetChunk()
	return wr, nil
}

// Write appends one event as a record. Its identifier is ev.RecordID, or
// the previous record's plus one where that is 0. An event whose record
// would not fit in a chunk (about 64 KB of Binary XML) is an error that
// leaves the writer usable; an error writing to the file is final.
func (w *Writer) Write(ev *event.Event) error {
	if w.err != nil {
		return w.err
	}
	id := ev.RecordID
	if id == 0 {
		id = w.nextID
	}
	w.prepare(ev, id)
	fits := w.encode(ev, id)
	if !fits && w.count > 0 {
		// A new chunk, where the record defines its templates again.
		if err := w.flushChunk(); err != nil {
			return err
		}
		fits = w.encode(ev, id)
	}
	if !fits {
		// Drop what the record defined: the chunk is empty.
		w.resetChunk()
		return fmt.Errorf("event record %d: %d bytes do not fit in a chunk", id, len(w.rec))
	}
	copy(w.chunk[w.used:], w.rec)
	if w.count == 0 {
		w.firstNum, w.firstID = w.records+1, id
	}
	w.last, w.used = w.used, w.used+len(w.rec)
	w.count++
	w.records++
	w.lastID, w.nextID = id, id+1
	return nil
}

// Close writes the last chunk and the file header. It does not close the
// underlying file.
func (w *Writer) Close() error {
	if w.err != nil {
		if errors.Is(w.err, errClosed) {
			return nil
		}
		return w.err
	}
	if w.count > 0 {
		if err := w.flushChunk(); err != nil {
			return err
		}
	}
	h := make([]byte, fileHeaderBlock)
	copy(h, "ElfFile\x00")
	if w.chunks > 0 {
		binary.LittleEndian.PutUint64(h[16:], uint64(w.chunks-1)) // last chunk number
	}
	binary.LittleEndian.PutUint64(h[24:], w.nextID)
	binary.LittleEndian.PutUint32(h[32:], fileHeaderSize)
	binary.LittleEndian.PutUint16(h[36:], 1) // version 3.1, as Windows 7 to 10 write
	binary.LittleEndian.PutUint16(h[38:], 3)
	binary.LittleEndian.PutUint16(h[40:], fileHeaderBlock)
	// The count is 16 bits; readers go by the file's size, so a larger
	// file says 65535.
	binary.LittleEndian.PutUint16(h[42:], uint16(min(w.chunks, 0xffff)))
	binary.LittleEndian.PutUint32(h[124:], crc32.ChecksumIEEE(h[:120]))
	if _, err := w.w.Seek(0, io.SeekStart); err != nil {
		return w.fail(fmt.Errorf("evtx header: %w", err))
	}
	if _, err := w.w.Write(h); err != nil {
		return w.fail(fmt.Errorf("evtx header: %w", err))
	}
	if _, err := w.w.Seek(0, io.SeekEnd); err != nil {
		return w.fail(fmt.Errorf("evtx header: %w", err))
	}
	w.err = errClosed
	return nil
}

func (w *Writer) fail(err error) error {
	w.err = err
	return err
}

func (w *Writer) resetChunk() {
	clear(w.chunk)
	w.used, w.last, w.count = chunkHeaderSize, 0, 0
	clear(w.names)
	clear(w.templates)
	clear(w.ids)
	w.strHeads, w.tplHeads = [64]uint32{}, [32]uint32{}
	w.defined = w.defined[:0]
}

// flushChunk fills in the chunk header and writes the chunk. Names and
// templates defined by a record that did not fit are past the records'
// end and left out of the tables.
func (w *Writer) flushChunk() error {
	c := w.chunk
	copy(c, "ElfChnk\x00")
	le := binary.LittleEndian
	le.PutUint64(c[8:], w.firstNum)
	le.PutUint64(c[16:], w.firstNum+uint64(w.count)-1)
	le.PutUint64(c[24:], w.firstID)
	le.PutUint64(c[32:], w.lastID)
	le.PutUint32(c[40:], 0x80)
	le.PutUint32(c[44:], uint32(w.last))
	le.PutUint32(c[48:], uint32(w.used))
	for _, d := range w.defined {
		if int(d.off) >= w.used {
			continue
		}
		if d.template {
			le.PutUint32(c[0x180+4*d.slot:], d.off)
		} else {
			le.PutUint32(c[0x80+4*d.slot:], d.off)
		}
	}
	clear(c[w.used:])
	le.PutUint32(c[52:], crc32.ChecksumIEEE(c[chunkHeaderSize:w.used]))
	crc := crc32.Update(crc32.ChecksumIEEE(c[:120]), crc32.IEEETable, c[128:chunkHeaderSize])
	le.PutUint32(c[124:], crc)
	if _, err := w.w.Write(c); err != nil {
		return w.fail(fmt.Errorf("evtx chunk %d: %w", w.chunks+1, err))
	}
	w.chunks++
	w.resetChunk()
	return nil
}

// prepare types the event's substitution values and builds its EventData
// template's key, none of which depends on the chunk.
func (w *Writer) prepare(ev *event.Event, id uint64) {
	s := &w.sys
	s[subLevel] = uintValue(ev.Level, typeUInt8)
	s[subOpcode] = uintValue(ev.Opcode, typeUInt8)
	s[subTask] = uintValue(ev.Task, typeUInt16)
	s[subEventID] = uintValue(ev.EventID, typeUInt16)
	s[subQualifiers] = value{}
	s[subKeywords] = typed(ev.Keywords, typeHex64, true)
	s[subTime] = value{}
	if ft, ok := filetime(ev.TimeCreated); ok {
		s[subTime] = value{typ: typeFileTime, size: 8, n: ft}
	}
	s[subActivityID] = value{}
	s[subProcessID] = uintValue(ev.ExecutionPID, typeUInt32)
	s[subThreadID] = uintValue(ev.ExecutionTID, typeUInt32)
	s[subRecordID] = value{typ: typeUInt64, size: 8, n: id}
	s[subVersion] = uintValue(ev.Version, typeUInt8)
	s[subUserID] = typed(ev.UserID, typeSID, true)
	s[subRelatedActivityID] = value{}
	s[subProvider] = typed(ev.Provider.Name, typeString, true)
	s[subProviderGUID] = typed(ev.Provider.GUID, typeGUID, true)
	s[subChannel] = typed(ev.Channel, typeString, true)
	s[subEventData] = value{typ: typeBinXML}
	s[subNoComputer] = value{}

	w.data = w.data[:0]
	w.dataKey = append(w.dataKey[:0], 'D')
	for _, f := range ev.Data {
		t, ok := w.types[[2]string{ev.Provider.Name, f.Name}]
		if !ok {
			t, ok = w.types[[2]string{"*", f.Name}]
		}
		if !ok {
			t = typeString
		}
		v := typed(f.Value, t, false)
		w.data = append(w.data, v)
		w.dataKey = append(w.dataKey, f.Name...)
		w.dataKey = append(w.dataKey, 0, v.typ)
	}
}

// encode writes the event's record into w.rec for the chunk's state, and
// reports whether it fits in the chunk.
func (w *Writer) encode(ev *event.Event, id uint64) bool {
	w.base = w.used
	w.rec = append(w.rec[:0], "\x2a\x2a\x00\x00"...)
	w.rec = le32(w.rec, 0) // size, below
	w.rec = le64(w.rec, id)
	w.rec = le64(w.rec, w.sys[subTime].n)
	w.fragment()
	w.sysKey = append(append(w.sysKey[:0], 'S'), ev.Computer...)
	w.instance(w.sysKey, func() { w.systemTemplate(ev.Computer) })
	sys := w.sys[:systemSubs]
	if ev.Computer == "" {
		sys = w.sys[:]
	}
	w.values(sys, func() {
		w.fragment()
		w.instance(w.dataKey, w.eventDataTemplate(ev))
		w.values(w.data, nil)
		w.rec = append(w.rec, tokEOF)
	})
	w.rec = append(w.rec, tokEOF)
	size := len(w.rec) + 4
	w.rec = le32(w.rec, uint32(size))
	binary.LittleEndian.PutUint32(w.rec[4:], uint32(size))
	return w.used+size <= chunkSize
}

func (w *Writer) systemTemplate(computer string) {
	ev := w.open("Event", noDependency, true)
	attrs := w.attrList()
	w.attribute("xmlns", false)
	w.text(eventNS)
	w.endAttrList(attrs, tokCloseStart)
	sys := w.open("System", noDependency, false)
	w.rec = append(w.rec, tokCloseStart)
	w.emptyElement("Provider", attrSubst{"Name", subProvider, typeString}, attrSubst{"Guid", subProviderGUID, typeGUID})
	id := w.open("EventID", subEventID, true)
	attrs = w.attrList()
	w.attribute("Qualifiers", false)
	w.subst(tokOptionalSubs, subQualifiers, typeUInt16)
	w.endAttrList(attrs, tokCloseStart)
	w.subst(tokOptionalSubs, subEventID, typeUInt16)
	w.end(id, tokEndElement)
	w.valueElement("Version", subVersion, typeUInt8)
	w.valueElement("Level", subLevel, typeUInt8)
	w.valueElement("Task", subTask, typeUInt16)
	w.valueElement("Opcode", subOpcode, typeUInt8)
	w.valueElement("Keywords", subKeywords, typeHex64)
	w.emptyElement("TimeCreated", attrSubst{"SystemTime", subTime, typeFileTime})
	w.valueElement("EventRecordID", subRecordID, typeUInt64)
	w.emptyElement("Correlation", attrSubst{"ActivityID", subActivityID, typeGUID}, attrSubst{"RelatedActivityID", subRelatedActivityID, typeGUID})
	w.emptyElement("Execution", attrSubst{"ProcessID", subProcessID, typeUInt32}, attrSubst{"ThreadID", subThreadID, typeUInt32})
	w.valueElement("Channel", subChannel, typeString)
	// The name is text. With none, a NULL substitution: the evtx library
	// reads an element with no content as the first substitution, libevtx
	// refuses empty text.
	c := w.open("Computer", noDependency, false)
	w.rec = append(w.rec, tokCloseStart)
	if computer == "" {
		w.subst(tokOptionalSubs, subNoComputer, typeString)
	} else {
		w.text(computer)
	}
	w.end(c, tokEndElement)
	w.emptyElement("Security", attrSubst{"UserID", subUserID, typeSID})
	w.end(sys, tokEndElement)
	w.subst(tokOptionalSubs, subEventData, typeBinXML)
	w.end(ev, tokEndElement)
}

func (w *Writer) eventDataTemplate(ev *event.Event) func() {
	return func() {
		ed := w.open("EventData", noDependency, false)
		w.rec = append(w.rec, tokCloseStart)
		for i, f := range ev.Data {
			d := w.open("Data", noDependency, true)
			attrs := w.attrList()
			w.attribute("Name", false)
			w.text(f.Name)
			w.endAttrList(attrs, tokCloseStart)
			w.subst(tokNormalSubst, i, w.data[i].typ)
			w.end(d, tokEndElement)
		}
		w.end(ed, tokEndElement)
	}
}

// valueElement is <name>%sub</name>, present when the value is.
func (w *Writer) valueElement(name string, sub int, typ byte) {
	el := w.open(name, uint16(sub), false)
	w.rec = append(w.rec, tokCloseStart)
	w.subst(tokOptionalSubs, sub, typ)
	w.end(el, tokEndElement)
}

// attrSubst is an attribute whose value is a substitution.
type attrSubst struct {
	name string
	sub  int
	typ  byte
}

// emptyElement is <name a1=%s1 .../>.
func (w *Writer) emptyElement(name string, attrs ...attrSubst) {
	el := w.open(name, noDependency, true)
	list := w.attrList()
	for i, a := range attrs {
		w.attribute(a.name, i < len(attrs)-1)
		w.subst(tokOptionalSubs, a.sub, a.typ)
	}
	w.endAttrList(list, tokCloseEmpty)
	w.end(el, 0)
}

func (w *Writer) fragment() { w.rec = append(w.rec, tokFragment, 1, 1, 0) }

// open starts an element and returns where its data size goes.
func (w *Writer) open(name string, dep uint16, attrs bool) int {
	tok := byte(tokOpenStart)
	if attrs {
		tok |= flagMore
	}
	w.rec = append(w.rec, tok)
	w.rec = le16(w.rec, dep)
	at := len(w.rec)
	w.rec = le32(w.rec, 0)
	w.name(name)
	return at
}

// end closes an element with tok (none when already closed) and fills in
// its data size: everything after the size field.
func (w *Writer) end(at int, tok byte) {
	if tok != 0 {
		w.rec = append(w.rec, tok)
	}
	binary.LittleEndian.PutUint32(w.rec[at:], uint32(len(w.rec)-at-4))
}

func (w *Writer) attrList() int {
	at := len(w.rec)
	w.rec = le32(w.rec, 0)
	return at
}

// endAttrList fills in the attribute list's size (the attributes, not the
// closing token) and closes the start tag with tok.
func (w *Writer) endAttrList(at int, tok byte) {
	binary.LittleEndian.PutUint32(w.rec[at:], uint32(len(w.rec)-at-4))
	w.rec = append(w.rec, tok)
}

func (w *Writer) attribute(name string, more bool) {
	tok := byte(tokAttribute)
	if more {
		tok |= flagMore
	}
	w.rec = append(w.rec, tok)
	w.name(name)
}

func (w *Writer) text(s string) {
	w.rec = append(w.rec, tokValue, typeString)
	w.rec = le16(w.rec, uint16(utf16Len(s)))
	w.rec = appendUTF16(w.rec, s)
}

func (w *Writer) subst(tok byte, id int, typ byte) {
	w.rec = append(w.rec, tok)
	w.rec = le16(w.rec, uint16(id))
	w.rec = append(w.rec, typ)
}

// name writes a name's offset, and the name itself the first time the
// chunk has it, chained into the chunk's name table.
func (w *Writer) name(s string) {
	if off, ok := w.names[s]; ok {
		w.rec = le32(w.rec, off)
		return
	}
	off := uint32(w.base + len(w.rec) + 4)
	w.rec = le32(w.rec, off)
	h := nameHash(s)
	slot := int(h % 64)
	w.rec = le32(w.rec, w.strHeads[slot])
	w.strHeads[slot] = off
	w.rec = le16(w.rec, h)
	w.rec = le16(w.rec, uint16(utf16Len(s)))
	w.rec = appendUTF16(w.rec, s)
	w.rec = le16(w.rec, 0)
	w.names[s] = off
	w.defined = append(w.defined, definition{off: off, slot: slot})
}

// nameHash is the hash Windows stores with a name: the low 16 bits of
// hash = hash*65599 + c over its UTF-16 code units.
func nameHash(s string) uint16 {
	var h uint32
	for _, r := range s {
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			h = h*65599 + uint32(r1)
			h = h*65599 + uint32(r2)
			continue
		}
		h = h*65599 + uint32(r)
	}
	return uint16(h)
}

// instance writes a template instance's header: a reference to the
// chunk's definition of key, or the definition itself the first time.
func (w *Writer) instance(key []byte, body func()) {
	w.rec = append(w.rec, tokTemplate, 1)
	if t, ok := w.templates[string(key)]; ok {
		w.rec = le32(w.rec, t.id)
		w.rec = le32(w.rec, t.off)
		return
	}
	// The template's GUID names its content; its first four bytes are the
	// identifier, which must be unique in the chunk.
	h := fnv.New128a()
	h.Write(key)
	guid := h.Sum(nil)
	id := binary.LittleEndian.Uint32(guid)
	for w.ids[id] {
		id++
	}
	binary.LittleEndian.PutUint32(guid, id)
	off := uint32(w.base + len(w.rec) + 8)
	w.rec = le32(w.rec, id)
	w.rec = le32(w.rec, off)
	slot := int(id % 32)
	w.rec = le32(w.rec, w.tplHeads[slot])
	w.tplHeads[slot] = off
	w.rec = append(w.rec, guid...)
	size := len(w.rec)
	w.rec = le32(w.rec, 0)
	w.fragment()
	body()
	w.rec = append(w.rec, tokEOF)
	binary.LittleEndian.PutUint32(w.rec[size:], uint32(len(w.rec)-size-4))
	w.templates[string(key)] = template{off: off, id: id}
	w.ids[id] = true
	w.defined = append(w.defined, definition{off: off, slot: slot, template: true})
}

// values writes a template instance's values: their count, descriptors
// and data; nested writes the Binary XML value.
func (w *Writer) values(vals []value, nested func()) {
	w.rec = le32(w.rec, uint32(len(vals)))
	desc := len(w.rec)
	for i := range vals {
		w.rec = le16(w.rec, uint16(vals[i].size))
		w.rec = append(w.rec, vals[i].typ, 0)
	}
	le := binary.LittleEndian
	for i := range vals {
		v := &vals[i]
		switch v.typ {
		case typeNull:
		case typeString:
			w.rec = appendUTF16(w.rec, v.s)
		case typeUInt8:
			w.rec = append(w.rec, byte(v.n))
		case typeUInt16:
			w.rec = le16(w.rec, uint16(v.n))
		case typeUInt32, typeHex32, typeBool:
			w.rec = le32(w.rec, uint32(v.n))
		case typeUInt64, typeHex64, typeFileTime:
			w.rec = le64(w.rec, v.n)
		case typeGUID, typeSID:
			w.rec = append(w.rec, v.b[:v.size]...)
		case typeBinXML:
			start := len(w.rec)
			nested()
			le.PutUint16(w.rec[desc+4*i:], uint16(len(w.rec)-start))
		}
	}
}

// uintValue types a System number as Windows does, wider where it does
// not fit; a negative number, which Windows cannot log, is left out.
func uintValue(n int, typ byte) value {
	if n < 0 {
		return value{}
	}
	u := uint64(n)
	for {
		switch {
		case typ == typeUInt8 && u <= 0xff:
			return value{typ: typ, size: 1, n: u}
		case typ == typeUInt8:
			typ = typeUInt16
		case typ == typeUInt16 && u <= 0xffff:
			return value{typ: typ, size: 2, n: u}
		case typ == typeUInt16:
			typ = typeUInt32
		case typ == typeUInt32 && u <= 0xffffffff:
			return value{typ: typ, size: 4, n: u}
		default:
			return value{typ: typeUInt64, size: 8, n: u}
		}
	}
}

// typed is s as a value of type typ when s is how a reader renders that
// type, else as a string. Empty is left out (NULL) where omit is set: an
// empty System value is an absent one.
func typed(s string, typ byte, omit bool) value {
	if s == "" && omit {
		return value{}
	}
	v := value{typ: typ}
	switch typ {
	case typeUInt16, typeUInt32, typeUInt64:
		bits := 64
		switch typ {
		case typeUInt16:
			bits = 16
		case typeUInt32:
			bits = 32
		}
		if n, err := strconv.ParseUint(s, 10, bits); err == nil && strconv.FormatUint(n, 10) == s {
			v.n, v.size = n, bits/8
			return v
		}
	case typeHex32, typeHex64:
		bits := 32
		if typ == typeHex64 {
			bits = 64
		}
		if hex, ok := strings.CutPrefix(s, "0x"); ok {
			if n, err := strconv.ParseUint(hex, 16, bits); err == nil && strconv.FormatUint(n, 16) == hex {
				v.n, v.size = n, bits/8
				return v
			}
		}
	case typeBool:
		if s == "true" || s == "false" {
			v.size = 4
			if s == "true" {
				v.n = 1
			}
			return v
		}
	case typeGUID:
		if g, ok := parseGUID(s); ok {
			v.size = copy(v.b[:], g[:])
			return v
		}
	case typeSID:
		if n, ok := parseSID(s, v.b[:]); ok {
			v.size = n
			return v
		}
	}
	return value{typ: typeString, size: 2 * utf16Len(s), s: s}
}

// parseGUID reads a GUID as Windows renders one, {XXXXXXXX-XXXX-XXXX-XXXX-
// XXXXXXXXXXXX} in upper case, into its little-endian layout.
func parseGUID(s string) ([16]byte, bool) {
	var g [16]byte
	if len(s) != 38 || s[0] != '{' || s[37] != '}' {
		return g, false
	}
	var digits [32]byte
	n := 0
	for i := 1; i < 37; i++ {
		c := s[i]
		switch {
		case i == 9 || i == 14 || i == 19 || i == 24:
			if c != '-' {
				return g, false
			}
		case '0' <= c && c <= '9':
			digits[n], n = c-'0', n+1
		case 'A' <= c && c <= 'F':
			digits[n], n = c-'A'+10, n+1
		default:
			return g, false
		}
	}
	var raw [16]byte
	for i := range raw {
		raw[i] = digits[2*i]<<4 | digits[2*i+1]
	}
	// Data1, Data2 and Data3 are little-endian; Data4 is a byte string.
	g[0], g[1], g[2], g[3] = raw[3], raw[2], raw[1], raw[0]
	g[4], g[5] = raw[5], raw[4]
	g[6], g[7] = raw[7], raw[6]
	copy(g[8:], raw[8:])
	return g, true
}

// parseSID reads S-R-A-S1-...-Sn into its binary form in b and returns its
// length: revision, sub-authority count, the 48-bit authority big-endian,
// then the sub-authorities little-endian.
func parseSID(s string, b []byte) (int, bool) {
	parts := strings.Split(s, "-")
	if len(parts) < 3 || len(parts) > 18 || parts[0] != "S" {
		return 0, false
	}
	num := func(p string, bits int) (uint64, bool) {
		n, err := strconv.ParseUint(p, 10, bits)
		return n, err == nil && strconv.FormatUint(n, 10) == p
	}
	rev, ok := num(parts[1], 8)
	if !ok {
		return 0, false
	}
	auth, ok := num(parts[2], 48)
	if !ok {
		return 0, false
	}
	subs := parts[3:]
	b[0], b[1] = byte(rev), byte(len(subs))
	for i := range 6 {
		b[2+i] = byte(auth >> (8 * (5 - i)))
	}
	for i, p := range subs {
		n, ok := num(p, 32)
		if !ok {
			return 0, false
		}
		binary.LittleEndian.PutUint32(b[8+4*i:], uint32(n))
	}
	return 8 + 4*len(subs), true
}

// filetime is t in 100 ns units since 1601; the zero time has none.
func filetime(t time.Time) (uint64, bool) {
	if t.IsZero() {
		return 0, false
	}
	ft := t.Unix()*10_000_000 + int64(t.Nanosecond()/100) + filetimeUnix
	if ft < 0 {
		return 0, false
	}
	return uint64(ft), true
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

func appendUTF16(b []byte, s string) []byte {
	for _, r := range s {
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			b = le16(b, uint16(r1))
			b = le16(b, uint16(r2))
			continue
		}
		b = le16(b, uint16(r))
	}
	return b
}

func le16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }
func le32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
func le64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }
